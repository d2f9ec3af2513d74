package gate

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/config"
)

// cluster starts an in-process kfake broker with the given input topics.
func cluster(t *testing.T, parts int32, topics ...string) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(parts, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func parseConfig(t *testing.T, brokers []string, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	cfg.Brokers = brokers
	return cfg
}

type running struct {
	g      *Gate
	cancel context.CancelFunc
	done   chan error
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("gate: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gate did not stop")
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

func startGate(t *testing.T, cfg *config.Config, opts Options) *running {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.TransactionTimeout == 0 {
		opts.TransactionTimeout = 5 * time.Second
	}
	g, err := New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{g: g, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- g.Run(ctx) }()
	t.Cleanup(cancel)
	return r
}

func produce(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// consume reads a topic read_committed from the start until it holds want
// records or the time is up, and returns what it read.
func consume(t *testing.T, brokers []string, topic string, want int, within time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// record makes an input record for partition p.
func record(topic string, p int32, key, value string, headers ...string) *kgo.Record {
	r := &kgo.Record{Topic: topic, Partition: p, Key: []byte(key), Value: []byte(value),
		Timestamp: time.UnixMilli(1_700_000_000_000 + int64(len(value)))}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: headers[i], Value: []byte(headers[i+1])})
	}
	return r
}

func jsonRec(topic string, p int32, i int, email string) *kgo.Record {
	return record(topic, p, fmt.Sprintf("k%d", i), fmt.Sprintf(`{"email":%q,"profile_id":"p%d","n":%d,"part":%d}`, email, i%7, i, p))
}

// waitIndexed waits until batch id is in the decisions index.
func waitIndexed(t *testing.T, ctx context.Context, cfg *config.Config, id string, within time.Duration) {
	t.Helper()
	waitFor(t, "the decision of "+id+" in the index", within, func() bool {
		ix, err := ReadIndex(ctx, cfg)
		return err == nil && ix.Batches[id] != nil
	})
}
