package gate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

const baseFeed = `
group: g1
feeds:
  - name: sponsors
    input: in
    output: out
    quarantine: quar
    key: email
    batch: {max_records: 10, max_wait: 300ms%s}
    detectors:
      - name: valid
        type: rules
        rules: [{field: email, required: true, regex: '^[^@\s]+@[^@\s]+$'}]
        max_violation_rate: 0.01
        on_fail: %s
`

func feedConfig(extraBatch, onFail string) string {
	return fmt.Sprintf(baseFeed, extraBatch, onFail)
}

// input builds n records per partition; bad(p, i) makes record i of
// partition p break the rules.
func input(parts int32, n int, bad func(p int32, i int) bool) []*kgo.Record {
	var recs []*kgo.Record
	for p := int32(0); p < parts; p++ {
		for i := 0; i < n; i++ {
			email := fmt.Sprintf("user%d.%d@example.com", p, i)
			if bad != nil && bad(p, i) {
				email = "not-an-email"
			}
			r := jsonRec("in", p, i, email)
			r.Headers = []kgo.RecordHeader{{Key: "trace", Value: []byte(fmt.Sprintf("t-%d-%d", p, i))}}
			recs = append(recs, r)
		}
	}
	return recs
}

// sameRecord checks a forwarded record against its input: key, value,
// headers and timestamp byte-identical, same partition.
func sameRecord(t *testing.T, got, want *kgo.Record) {
	t.Helper()
	if got.Partition != want.Partition || !bytes.Equal(got.Key, want.Key) || !bytes.Equal(got.Value, want.Value) ||
		!got.Timestamp.Equal(want.Timestamp) || len(got.Headers) < len(want.Headers) {
		t.Fatalf("forwarded record differs:\n got p%d %q %q %v %v\nwant p%d %q %q %v %v", got.Partition, got.Key, got.Value, got.Timestamp, got.Headers,
			want.Partition, want.Key, want.Value, want.Timestamp, want.Headers)
	}
	for i, h := range want.Headers {
		if got.Headers[i].Key != h.Key || !bytes.Equal(got.Headers[i].Value, h.Value) {
			t.Fatalf("header %d: got %s=%q want %s=%q", i, got.Headers[i].Key, got.Headers[i].Value, h.Key, h.Value)
		}
	}
}

// byPartition groups records by partition, keeping their order.
func byPartition(recs []*kgo.Record) map[int32][]*kgo.Record {
	m := map[int32][]*kgo.Record{}
	for _, r := range recs {
		m[r.Partition] = append(m[r.Partition], r)
	}
	return m
}

func TestCleanBatchesPassByteIdentical(t *testing.T) {
	brokers := cluster(t, 3, "in")
	in := input(3, 25, nil)
	produce(t, brokers, in...)
	g := startGate(t, parseConfig(t, brokers, feedConfig("", "quarantine")), Options{})
	out := consume(t, brokers, "out", len(in), 20*time.Second)
	if len(out) != len(in) {
		t.Fatalf("output has %d records, want %d", len(out), len(in))
	}
	want := byPartition(in)
	for p, recs := range byPartition(out) {
		for i, r := range recs {
			sameRecord(t, r, want[p][i])
		}
	}
	if q := consume(t, brokers, "quar", 1, time.Second); len(q) != 0 {
		t.Fatalf("quarantine has %d records, want none", len(q))
	}
	m := g.g.feeds["in"].m
	if got := testutil.ToFloat64(m.passed); got != float64(len(in)) {
		t.Errorf("sluice_records_total{result=passed} = %v, want %d", got, len(in))
	}
	g.stop(t)
}

func TestFailingBatchIsQuarantinedWhole(t *testing.T) {
	brokers := cluster(t, 2, "in")
	// Partition 1's second batch (records 10..19) holds 3 bad emails.
	in := input(2, 30, func(p int32, i int) bool { return p == 1 && i >= 12 && i < 15 })
	produce(t, brokers, in...)
	g := startGate(t, parseConfig(t, brokers, feedConfig("", "quarantine")), Options{})
	q := consume(t, brokers, "quar", 10, 20*time.Second)
	out := consume(t, brokers, "out", 50, 20*time.Second)
	if len(q) != 10 || len(out) != 50 {
		t.Fatalf("quarantine %d records (want 10), output %d (want 50)", len(q), len(out))
	}
	want := byPartition(in)
	for i, r := range q {
		sameRecord(t, r, want[1][10+i])
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		if h[HeaderBatch] != "sponsors:1:10" || h[HeaderVerdict] != "quarantine" || h[HeaderReasons] == "" {
			t.Fatalf("quarantine headers: %v", h)
		}
	}
	for _, r := range out {
		if r.Partition == 1 {
			if off := offsetOf(want[1], r); off >= 10 && off < 20 {
				t.Fatalf("record %d of the quarantined batch reached the output", off)
			}
		}
	}
	// The decision record is on the decisions topic.
	decs := consume(t, brokers, "g1.decisions", 6, 10*time.Second)
	found := false
	for _, r := range decs {
		d, err := ParseDecision(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if d.Batch == "sponsors:1:10" {
			found = true
			if d.State != StateQuarantined || d.Records != 10 || d.LastOffset != 19 || len(d.Findings) != 1 || d.Findings[0].Detector != "valid" {
				t.Fatalf("decision: %+v", d)
			}
		}
	}
	if !found {
		t.Fatal("no decision record for sponsors:1:10")
	}
	g.stop(t)
}

func offsetOf(in []*kgo.Record, r *kgo.Record) int {
	for i, x := range in {
		if bytes.Equal(x.Value, r.Value) {
			return i
		}
	}
	return -1
}

func TestHaltPausesOnePartitionUntilResumed(t *testing.T) {
	brokers := cluster(t, 3, "in")
	in := input(3, 40, func(p int32, i int) bool { return p == 0 && i == 15 })
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, feedConfig("", "halt"))
	g := startGate(t, cfg, Options{})
	// Partitions 1 and 2 flow (80), partition 0 stops after its first batch (10).
	out := consume(t, brokers, "out", 90, 20*time.Second)
	if len(out) != 90 {
		t.Fatalf("output has %d records before resume, want 90", len(out))
	}
	time.Sleep(time.Second) // nothing more may come while halted
	if out = consume(t, brokers, "out", 91, 2*time.Second); len(out) != 90 {
		t.Fatalf("output grew to %d while partition 0 was halted", len(out))
	}
	if q := consume(t, brokers, "quar", 10, 10*time.Second); len(q) != 10 {
		t.Fatalf("quarantine has %d records, want the halted batch's 10", len(q))
	}
	if v := testutil.ToFloat64(g.g.met.partitionHalted.WithLabelValues("sponsors", "0")); v != 1 {
		t.Fatalf("sluice_partition_halted{partition=0} = %v, want 1", v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	batch, err := Resume(ctx, cfg, "sponsors", 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	if batch != "sponsors:0:10" {
		t.Fatalf("resumed batch %s, want sponsors:0:10", batch)
	}
	out = consume(t, brokers, "out", 110, 20*time.Second)
	if len(out) != 110 {
		t.Fatalf("output has %d records after resume, want 110", len(out))
	}
	got := byPartition(out)[0]
	want := byPartition(in)[0]
	for i, r := range got {
		j := i
		if i >= 10 {
			j = i + 10
		}
		sameRecord(t, r, want[j])
	}
	if _, err := Resume(ctx, cfg, "sponsors", 0, "test"); err == nil {
		t.Fatal("a second resume of a running partition succeeded")
	}
	g.stop(t)
}

func TestCrashMidTransactionLosesNothing(t *testing.T) {
	brokers := cluster(t, 3, "in")
	in := input(3, 200, func(p int32, i int) bool { return i%50 == 7 })
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, feedConfig("", "quarantine"))
	var commits atomic.Int32
	crashing := startGate(t, cfg, Options{PollRecords: 25, beforeEnd: func() error {
		if commits.Add(1) == 4 {
			return errors.New("killed before commit")
		}
		return nil
	}})
	select {
	case err := <-crashing.done:
		if !errors.Is(err, errCrash) {
			t.Fatalf("crashing gate returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("gate did not crash")
	}
	g := startGate(t, cfg, Options{})
	out := consume(t, brokers, "out", 480, 40*time.Second)
	q := consume(t, brokers, "quar", 120, 20*time.Second)
	if len(out)+len(q) != len(in) {
		t.Fatalf("output %d + quarantine %d = %d, want %d", len(out), len(q), len(out)+len(q), len(in))
	}
	seen := map[string]int{}
	for _, r := range append(out, q...) {
		seen[string(r.Value)]++
	}
	for _, r := range in {
		if seen[string(r.Value)] != 1 {
			t.Fatalf("record %s seen %d times", r.Value, seen[string(r.Value)])
		}
	}
	for p, recs := range byPartition(out) {
		if !sort.SliceIsSorted(recs, func(i, j int) bool {
			return offsetOf(byPartition(in)[p], recs[i]) < offsetOf(byPartition(in)[p], recs[j])
		}) {
			t.Fatalf("partition %d output out of order", p)
		}
	}
	g.stop(t)
}

func TestMalformedRecordIsQuarantinedAndCounted(t *testing.T) {
	brokers := cluster(t, 1, "in")
	in := input(1, 20, nil)
	in[13].Value = []byte(`{"email":"x@y.z", "profile_id": `) // truncated
	produce(t, brokers, in...)
	g := startGate(t, parseConfig(t, brokers, feedConfig("", "quarantine")), Options{})
	q := consume(t, brokers, "quar", 10, 20*time.Second)
	out := consume(t, brokers, "out", 10, 20*time.Second)
	if len(q) != 10 || len(out) != 10 {
		t.Fatalf("quarantine %d (want 10), output %d (want 10)", len(q), len(out))
	}
	if !bytes.Equal(q[3].Value, in[13].Value) {
		t.Fatalf("the malformed record is not in quarantine byte-identical: %q", q[3].Value)
	}
	m := g.g.feeds["in"].m
	if v := testutil.ToFloat64(m.quarantined); v != 10 {
		t.Fatalf("quarantined records = %v, want 10", v)
	}
	if v := testutil.ToFloat64(g.g.met.findings.WithLabelValues("sponsors", "decode", "quarantine")); v != 1 {
		t.Fatalf("decode findings = %v, want 1", v)
	}
	g.stop(t)
}

func TestBatchLargerThanMemoryIsReread(t *testing.T) {
	brokers := cluster(t, 1, "in")
	in := input(1, 400, func(_ int32, i int) bool { return i >= 390 })
	produce(t, brokers, in...)
	// 2KiB holds about 25 records; each batch of 200 is mostly re-read.
	cfg := parseConfig(t, brokers, fmt.Sprintf(baseFeed, ", max_memory: 2KiB", "quarantine"))
	cfg.Feeds[0].Batch.MaxRecords = 200
	g := startGate(t, cfg, Options{})
	out := consume(t, brokers, "out", 200, 20*time.Second)
	q := consume(t, brokers, "quar", 200, 20*time.Second)
	if len(out) != 200 || len(q) != 200 {
		t.Fatalf("output %d, quarantine %d; want 200 each", len(out), len(q))
	}
	for i := range out {
		sameRecord(t, out[i], in[i])
		sameRecord(t, q[i], in[200+i])
	}
	if v := testutil.ToFloat64(g.g.met.rereads); v < 2 {
		t.Fatalf("re-reads = %v, want both batches re-read", v)
	}
	g.stop(t)
}

func TestBoundaryHeaderClosesBatch(t *testing.T) {
	brokers := cluster(t, 1, "in")
	in := input(1, 9, func(_ int32, i int) bool { return i == 4 })
	for i, r := range in {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: "vendor-batch-id", Value: []byte(fmt.Sprint("d", i/3))})
	}
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, fmt.Sprintf(baseFeed, ", boundary_header: vendor-batch-id", "quarantine"))
	g := startGate(t, cfg, Options{})
	q := consume(t, brokers, "quar", 3, 20*time.Second)
	out := consume(t, brokers, "out", 6, 20*time.Second)
	if len(q) != 3 || len(out) != 6 {
		t.Fatalf("quarantine %d (want the 3 of delivery d1), output %d (want 6)", len(q), len(out))
	}
	for i, r := range q {
		sameRecord(t, r, in[3+i])
	}
	g.stop(t)
}

func TestDecodeErrorDropIsCountedNotForwarded(t *testing.T) {
	brokers := cluster(t, 1, "in")
	in := input(1, 20, nil)
	in[4].Value = []byte("<html>502 Bad Gateway</html>")
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, feedConfig("", "quarantine"))
	cfg.Feeds[0].OnDecodeError = "drop"
	g := startGate(t, cfg, Options{})
	out := consume(t, brokers, "out", 19, 20*time.Second)
	if len(out) != 19 {
		t.Fatalf("output has %d records, want the 19 decodable ones", len(out))
	}
	for _, r := range out {
		if bytes.Equal(r.Value, in[4].Value) {
			t.Fatal("the undecodable record was forwarded")
		}
	}
	m := g.g.feeds["in"].m
	waitFor(t, "the drop count", 5*time.Second, func() bool { return testutil.ToFloat64(m.dropped) == 1 })
	if p := testutil.ToFloat64(m.passed); p != 19 {
		t.Fatalf("passed = %v, want 19", p)
	}
	g.stop(t)
}

func TestDecodeErrorFailHalts(t *testing.T) {
	brokers := cluster(t, 1, "in")
	in := input(1, 20, nil)
	in[14].Value = []byte(`{"email":`)
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, feedConfig("", "quarantine"))
	cfg.Feeds[0].OnDecodeError = "fail"
	g := startGate(t, cfg, Options{})
	if q := consume(t, brokers, "quar", 10, 20*time.Second); len(q) != 10 {
		t.Fatalf("quarantine has %d records, want 10", len(q))
	}
	waitFor(t, "the halt", 5*time.Second, func() bool {
		return testutil.ToFloat64(g.g.met.partitionHalted.WithLabelValues("sponsors", "0")) == 1
	})
	g.stop(t)
}

// TestHaltAtABoundaryReadsNothingAfter: when the record that closes a
// batch by its boundary header finds the batch halting, it is not read
// (nor counted) until the partition is resumed, so the counters reconcile
// while the partition is halted.
func TestHaltAtABoundaryReadsNothingAfter(t *testing.T) {
	brokers := cluster(t, 1, "in")
	in := input(1, 9, func(_ int32, i int) bool { return i == 4 })
	for i, r := range in {
		r.Headers = append(r.Headers, kgo.RecordHeader{Key: "vendor-batch-id", Value: []byte(fmt.Sprint("d", i/3))})
	}
	produce(t, brokers, in...)
	g := startGate(t, parseConfig(t, brokers, fmt.Sprintf(baseFeed, ", boundary_header: vendor-batch-id", "halt")), Options{})
	m := g.g.feeds["in"].m
	waitFor(t, "the halt", 20*time.Second, func() bool {
		return testutil.ToFloat64(g.g.met.partitionHalted.WithLabelValues("sponsors", "0")) == 1
	})
	time.Sleep(500 * time.Millisecond)
	read, passed, quarantined := testutil.ToFloat64(m.in), testutil.ToFloat64(m.passed), testutil.ToFloat64(m.quarantined)
	if read != 6 || passed != 3 || quarantined != 3 || testutil.ToFloat64(m.held) != 0 {
		t.Fatalf("while halted: in %v = passed %v + quarantined %v + held %v; want 6 = 3 + 3 + 0", read, passed, quarantined, testutil.ToFloat64(m.held))
	}
	g.stop(t)
}
