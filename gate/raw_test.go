package gate

import (
	"testing"
	"time"
)

func TestRawFeedWithoutDetectorsPasses(t *testing.T) {
	brokers := cluster(t, 3, "in")
	in := input(3, 25, nil)
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, `
group: g1
feeds:
  - name: sponsors
    input: in
    output: out
    quarantine: quar
    format: raw
    batch: {max_records: 10, max_wait: 300ms}
`)
	g := startGate(t, cfg, Options{})
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
	g.stop(t)
}
