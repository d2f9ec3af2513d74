package gate

import (
	"io"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/bench"
)

// TestReplayMatchesRun feeds the same simulated records through the gate on
// Kafka (one partition) and through Replay: the same batches, the same
// verdicts.
func TestReplayMatchesRun(t *testing.T) {
	sim, err := bench.New(bench.Config{Seed: 3, MeanBatch: 120, Schedule: []bench.Incident{
		{Kind: bench.Malformed, Batch: 2}, {Kind: bench.Nulls, Batch: 4, Field: "email", Share: 0.5},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := 0; i < 6; i++ {
		for _, r := range sim.Next().Records {
			recs = append(recs, &kgo.Record{Topic: "in", Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp})
		}
	}
	const cfgYAML = `
group: g1
feeds:
  - name: sponsors
    input: in
    output: out
    quarantine: quar
    key: email
    batch: {max_records: 100, max_wait: 10s}
    detectors:
      - name: valid
        type: rules
        rules: [{field: email, required: true}]
        max_violation_rate: 0.01
`
	brokers := cluster(t, 1, "in")
	produce(t, brokers, recs...)
	cfg := parseConfig(t, brokers, cfgYAML)
	g := startGate(t, cfg, Options{})
	// Whole batches of 100 are decided without waiting; the tail waits
	// for max_wait, so compare those.
	full := len(recs) / 100
	got := map[string]string{}
	waitFor(t, "the run's decisions", 30*time.Second, func() bool {
		for _, r := range consume(t, brokers, "g1.decisions", full, time.Second) {
			d, err := ParseDecision(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			got[d.Batch] = d.Verdict.String()
		}
		return len(got) >= full
	})
	g.stop(t)

	want := map[string]string{}
	i := 0
	src := func() (*kgo.Record, error) {
		if i >= len(recs) {
			return nil, io.EOF
		}
		r := &kgo.Record{Key: recs[i].Key, Value: recs[i].Value, Headers: recs[i].Headers, Timestamp: recs[i].Timestamp, Offset: int64(i)}
		i++
		return r, nil
	}
	err = Replay(parseConfig(t, nil, cfgYAML), "sponsors", 0, src, nil, func(r Replayed) error {
		if r.Decision.Records == 100 {
			want[r.Decision.Batch] = r.Decision.Verdict.String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != full {
		t.Fatalf("replay made %d full batches, want %d", len(want), full)
	}
	diverted := 0
	for id, v := range want {
		if got[id] != v {
			t.Errorf("batch %s: run says %q, replay says %q", id, got[id], v)
		}
		if v != "pass" {
			diverted++
		}
	}
	if diverted < 2 {
		t.Fatalf("only %d batches failed; the test needs the incidents to show", diverted)
	}
}
