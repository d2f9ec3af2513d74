package gate

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const corruptFeed = `
group: g1
feeds:
  - name: sponsors
    input: in
    output: out
    quarantine: quar
    key: email
    batch: {max_records: 1000, max_wait: 300ms, boundary_header: vendor-batch-id}
    detectors:
      - name: volume
        type: variance
        metrics: [count]
        baseline: {window: 8, min_history: 3}
        max_z: 4
        on_fail: warn
`

// syncBuffer is a log sink the gate's goroutines may write to while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// deliveries makes one delivery of n records per size to partition p, each
// with its own vendor-batch-id, numbering records from *seq on.
func deliveries(p int32, seq *int, tag string, sizes ...int) []*kgo.Record {
	var recs []*kgo.Record
	for d, n := range sizes {
		for range n {
			recs = append(recs, record("in", p, fmt.Sprintf("k%d", *seq),
				fmt.Sprintf(`{"email":"user%d@example.com","n":%d}`, *seq, *seq),
				"vendor-batch-id", fmt.Sprintf("%s-%d-%d", tag, p, d)))
			*seq++
		}
	}
	return recs
}

// TestCorruptStateStartsPartitionInWarmup: a partition whose state record
// cannot be read starts its detectors afresh, says so in the log and in
// sluice_state_unreadable_total, and goes on passing records; a partition
// beside it restores its learned baseline as usual.
func TestCorruptStateStartsPartitionInWarmup(t *testing.T) {
	brokers := cluster(t, 2, "in")
	cfg := parseConfig(t, brokers, corruptFeed)

	// Both partitions learn the usual delivery size: about 10 records.
	seq := []int{0, 0}
	var first []*kgo.Record
	for p := range int32(2) {
		first = append(first, deliveries(p, &seq[p], "learn", 10, 9, 11, 10, 9, 10)...)
	}
	produce(t, brokers, first...)
	g := startGate(t, cfg, Options{})
	if out := consume(t, brokers, "out", len(first), 30*time.Second); len(out) != len(first) {
		t.Fatalf("output has %d records while learning, want %d", len(out), len(first))
	}
	g.stop(t)

	// Partition 0's state record becomes garbage; partition 1's stays.
	garbage := [][]byte{[]byte("not a state record"), {stateVersion, 0, 0, 0, 9, 'v'}}
	for _, v := range garbage {
		if _, err := parseState(v); err == nil {
			t.Fatalf("%q parses as a state record", v)
		}
	}
	key := stateKey("sponsors", 0)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tds, err := kadm.NewClient(cl).ListTopics(ctx, "g1.state")
	if err != nil || tds["g1.state"].Err != nil {
		t.Fatalf("the state topic: %v %v", err, tds["g1.state"].Err)
	}
	ti := &topicInfo{stateParts: int32(len(tds["g1.state"].Partitions))}
	for _, v := range garbage {
		r := &kgo.Record{Topic: "g1.state", Partition: ti.partitionFor(ti.stateParts, key), Key: []byte(key), Value: v}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// Then a delivery four times the usual size reaches each partition.
	var spike []*kgo.Record
	for p := range int32(2) {
		spike = append(spike, deliveries(p, &seq[p], "spike", 40)...)
	}
	produce(t, brokers, spike...)
	var logs syncBuffer
	g = startGate(t, cfg, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	out := consume(t, brokers, "out", len(first)+len(spike), 30*time.Second)
	if len(out) != len(first)+len(spike) {
		t.Fatalf("output has %d records, want %d: the gate stopped passing records", len(out), len(first)+len(spike))
	}

	// The log says which partition and why, once.
	var unreadable []string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "partition state unreadable; starting in warm-up") {
			unreadable = append(unreadable, l)
		}
	}
	if len(unreadable) != 1 || !strings.Contains(unreadable[0], `"feed":"sponsors"`) || !strings.Contains(unreadable[0], `"partition":0`) ||
		!strings.Contains(unreadable[0], "corrupt state record") || !strings.Contains(unreadable[0], `"level":"WARN"`) {
		t.Fatalf("want one warning naming feed sponsors, partition 0 and the cause; the log has:\n%s", strings.Join(unreadable, "\n"))
	}
	if n := testutil.ToFloat64(g.g.met.stateWarmups.WithLabelValues("sponsors")); n != 1 {
		t.Fatalf("sluice_state_unreadable_total{feed=\"sponsors\"} = %v, want 1", n)
	}

	// Partition 1 still knows that 40 records is unusual; partition 0
	// starts over, so it has no baseline to hold the spike against.
	verdicts := map[string]string{}
	for _, r := range consume(t, brokers, "g1.decisions", 14, 10*time.Second) {
		d, err := ParseDecision(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		verdicts[d.Batch] = d.Verdict.String()
	}
	if v := verdicts[BatchID("sponsors", 1, 59)]; v != "warn" {
		t.Errorf("partition 1's spike: verdict %q, want warn (its restored baseline holds ~10 records)", v)
	}
	if v := verdicts[BatchID("sponsors", 0, 59)]; v != "pass" {
		t.Errorf("partition 0's spike: verdict %q, want pass (it starts in warm-up, with no baseline)", v)
	}

	// And partition 0 has a readable state again.
	var last []byte
	for _, r := range consume(t, brokers, "g1.state", 1000, 2*time.Second) {
		if string(r.Key) == key {
			last = r.Value
		}
	}
	if s, err := parseState(last); err != nil || len(s.Detectors) != 1 || len(s.Detectors[0].State) == 0 {
		t.Fatalf("partition 0's state after the spike: %v %+v", err, s)
	}
	g.stop(t)
}
