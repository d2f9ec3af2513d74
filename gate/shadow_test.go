package gate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestShadowFeedRecordsButPasses: a feed in shadow mode judges and records
// its decisions, but every batch reaches the output.
func TestShadowFeedRecordsButPasses(t *testing.T) {
	brokers := cluster(t, 1, "in")
	in := input(1, 20, func(_ int32, i int) bool { return i >= 10 && i < 13 })
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, feedConfig("", "halt"))
	cfg.Feeds[0].Shadow = true
	g := startGate(t, cfg, Options{})
	if out := consume(t, brokers, "out", 20, 20*time.Second); len(out) != 20 {
		t.Fatalf("output has %d records, want all 20", len(out))
	}
	var shadowed bool
	for _, r := range consume(t, brokers, "g1.decisions", 2, 10*time.Second) {
		d, err := ParseDecision(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if d.Batch == "sponsors:0:10" {
			shadowed = d.Shadow && d.Verdict.String() == "halt" && d.State == StatePassed
		}
	}
	if !shadowed {
		t.Fatal("the failing batch's decision does not record a shadowed halt")
	}
	if v := testutil.ToFloat64(g.g.met.partitionHalted.WithLabelValues("sponsors", "0")); v != 0 {
		t.Fatal("a shadow feed halted its partition")
	}
	g.stop(t)
}

// TestAccuracyEstimateMetrics: the accuracy finding's estimate and interval
// reach sluice_accuracy_estimate and its bounds.
func TestAccuracyEstimateMetrics(t *testing.T) {
	brokers := cluster(t, 1, "in")
	dir := t.TempDir()
	ref := ""
	for i := 0; i < 10; i++ {
		ref += fmt.Sprintf(`{"email":"user0.%d@example.com","profile_id":"p%d"}`+"\n", i, i%7)
	}
	if err := os.WriteFile(filepath.Join(dir, "ref.jsonl"), []byte(ref), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := parseConfig(t, brokers, `
group: g1
feeds:
  - name: sponsors
    input: in
    output: out
    quarantine: quar
    key: email
    batch: {max_records: 10, max_wait: 300ms}
    detectors:
      - name: accuracy
        type: accuracy
        sample: {rate: 1, min: 10}
        reference: {file: ./ref.jsonl, key: email, compare: [profile_id]}
        min_accuracy: 0.5
`)
	cfg.File = filepath.Join(dir, "sluice.yaml")
	produce(t, brokers, input(1, 10, nil)...)
	g := startGate(t, cfg, Options{})
	if out := consume(t, brokers, "out", 10, 20*time.Second); len(out) != 10 {
		t.Fatalf("output has %d records", len(out))
	}
	waitFor(t, "the accuracy gauges", 10*time.Second, func() bool {
		return testutil.ToFloat64(g.g.met.accuracy[0].WithLabelValues("sponsors", "accuracy")) == 1
	})
	lo := testutil.ToFloat64(g.g.met.accuracy[1].WithLabelValues("sponsors", "accuracy"))
	hi := testutil.ToFloat64(g.g.met.accuracy[2].WithLabelValues("sponsors", "accuracy"))
	if !(lo > 0.5 && lo < 1 && hi == 1) {
		t.Fatalf("interval [%v, %v] for 10 of 10 correct", lo, hi)
	}
	g.stop(t)
}

// TestReleaseWhileTheGateRebalances: a second gate joins the group while a
// batch is released; the release stays exactly once.
func TestReleaseWhileTheGateRebalances(t *testing.T) {
	brokers := cluster(t, 4, "in")
	in := input(4, 20, func(p int32, i int) bool { return p == 0 && i < 3 })
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, feedConfig("", "quarantine"))
	a := startGate(t, cfg, Options{})
	if out := consume(t, brokers, "out", 70, 20*time.Second); len(out) != 70 {
		t.Fatalf("output has %d records before release, want 70", len(out))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitIndexed(t, ctx, cfg, "sponsors:0:0", 10*time.Second)
	b := startGate(t, parseConfig(t, brokers, feedConfig("", "quarantine")), Options{}) // the group rebalances
	if _, err := Release(ctx, cfg, "sponsors:0:0", "tester", "during a rebalance"); err != nil {
		t.Fatal(err)
	}
	// More traffic while the group settles.
	for p := int32(1); p < 4; p++ {
		produce(t, brokers, jsonRec("in", p, 100, fmt.Sprintf("late%d@example.com", p)))
	}
	out := consume(t, brokers, "out", 84, 5*time.Second)
	if len(out) != 83 {
		t.Fatalf("output has %d records, want 70 passed + 10 released + 3 late", len(out))
	}
	seen := map[string]int{}
	for _, r := range out {
		seen[string(r.Value)]++
	}
	for _, r := range in {
		if seen[string(r.Value)] != 1 {
			t.Fatalf("record %s in the output %d times", r.Value, seen[string(r.Value)])
		}
	}
	a.stop(t)
	b.stop(t)
}
