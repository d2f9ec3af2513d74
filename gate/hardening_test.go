package gate

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Helpers shared by the fault, bad-input, soak and security tests.

// fakeCluster starts an in-process kfake broker with the given options and
// input topics, closed when the test ends.
func fakeCluster(t testing.TB, parts int32, topics []string, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(parts, topics...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// produceWith is produce with client options (TLS, SASL).
func produceWith(t testing.TB, opts []kgo.Opt, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// consumeWith is consume with client options: a topic read read_committed
// from the start until it holds want records or the time is up.
func consumeWith(t testing.TB, opts []kgo.Opt, topic string, want int, within time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(64<<20))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// recordID names an input record: its partition and its value, which the
// tests make unique.
func recordID(r *kgo.Record) string { return fmt.Sprintf("%d/%x", r.Partition, r.Value) }

// exactlyOnce waits until output and quarantine together hold as many
// records as the input, then checks that each input record is in exactly
// one of them, once, and that each partition of each keeps the input's
// order. It returns the output and quarantine records.
func exactlyOnce(t testing.TB, opts []kgo.Opt, in []*kgo.Record, within time.Duration) (out, quar []*kgo.Record) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		out = consumeWith(t, opts, "out", len(in), 2*time.Second)
		quar = consumeWith(t, opts, "quar", len(in)-len(out), 2*time.Second)
		if len(out)+len(quar) >= len(in) || time.Now().After(deadline) {
			break
		}
	}
	// One more look, after the gate had time to write anything twice:
	// read at least what was there (a slow connection may take a few
	// tries); anything beyond the input is a duplicate.
	time.Sleep(500 * time.Millisecond)
	reread := func(topic string, n int) []*kgo.Record {
		for try := 0; ; try++ {
			recs := consumeWith(t, opts, topic, n+1, 2*time.Second)
			if len(recs) >= n || try == 4 {
				return recs
			}
		}
	}
	out, quar = reread("out", len(out)), reread("quar", len(quar))
	pos := map[string]int{}
	for i, r := range in {
		pos[recordID(r)] = i
	}
	seen := map[string]int{}
	for _, recs := range [][]*kgo.Record{out, quar} {
		last := map[int32]int{}
		for _, r := range recs {
			id := recordID(r)
			i, ok := pos[id]
			if !ok {
				t.Fatalf("record %.80s on partition %d is not an input record", r.Value, r.Partition)
			}
			seen[id]++
			if l, ok := last[r.Partition]; ok && i < l {
				t.Fatalf("partition %d out of order: input record %d after %d", r.Partition, i, l)
			}
			last[r.Partition] = i
		}
	}
	lost, dup := 0, 0
	for _, r := range in {
		switch n := seen[recordID(r)]; {
		case n == 0:
			lost++
		case n > 1:
			dup += n - 1
		}
	}
	if lost > 0 || dup > 0 {
		t.Fatalf("%d input records: output %d + quarantine %d; %d lost, %d duplicated", len(in), len(out), len(quar), lost, dup)
	}
	return out, quar
}

// logBuffer is a bytes.Buffer for a logger that many goroutines write.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *logBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *logBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// captureLogs is a debug-level JSON logger into a buffer; with
// SLUICE_TEST_LOGS=1 the lines also go to stderr.
func captureLogs(t testing.TB) (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	var w interface{ Write([]byte) (int, error) } = buf
	if os.Getenv("SLUICE_TEST_LOGS") == "1" {
		w = teeWriter{buf, os.Stderr}
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

type teeWriter struct {
	a, b interface{ Write([]byte) (int, error) }
}

func (t teeWriter) Write(p []byte) (int, error) {
	_, _ = t.b.Write(p)
	return t.a.Write(p)
}
