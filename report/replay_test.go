package report

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/bench"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/gate"
)

// replayConfig is the feed the round trip replays: the rules detector on
// two required fields (title is null in about 3% of clean records, so the
// clean batches have a spread of rates), and the accuracy detector against
// the simulator's ground truth.
const replayConfig = `
feeds:
  - name: sponsors
    input: vendor.sponsors
    output: sponsors.clean
    quarantine: sponsors.quarantine
    key: email
    batch: {max_records: 100000, boundary_header: vendor-batch-id}
    detectors:
      - name: valid
        type: rules
        rules:
          - {field: company, required: true}
          - {field: title, required: true}
        max_violation_rate: 0.12
      - name: accuracy
        type: accuracy
        sample: {rate: 1, min: 0}
        reference: {file: ./truth.jsonl, key: email, compare: [profile_id, company], missing: skip}
        min_accuracy: 0.8
`

// simulated is a recorded vendor feed: over 1000 deliveries of about 100
// records, with nulls in company and wrong profiles now and then.
type simulated struct {
	records []*kgo.Record
	dir     string // holds truth.jsonl
}

func simulate(t *testing.T) *simulated {
	t.Helper()
	var schedule []bench.Incident
	for i, share := range []float64{0.02, 0.05, 0.08, 0.12, 0.2, 0.3, 0.5} {
		schedule = append(schedule, bench.Incident{Kind: bench.Nulls, Batch: 40 + 150*i, Share: share, Field: "company"})
	}
	for i, share := range []float64{0.1, 0.2, 0.4} {
		schedule = append(schedule, bench.Incident{Kind: bench.Wrong, Batch: 100 + 300*i, Share: share})
	}
	sim, err := bench.New(bench.Config{Seed: 11, Emails: 4000, MeanBatch: 100, Flat: true, Schedule: schedule})
	if err != nil {
		t.Fatal(err)
	}
	s := &simulated{dir: t.TempDir()}
	for range 1100 {
		b := sim.Next()
		for _, r := range b.Records {
			s.records = append(s.records, &kgo.Record{Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp})
		}
	}
	f, err := os.Create(filepath.Join(s.dir, "truth.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.WriteTruth(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return s
}

// replay runs the feed through gate.Replay with cfg, giving each batch to
// fn.
func (s *simulated) replay(t *testing.T, cfg *config.Config, fn func(gate.Replayed)) {
	t.Helper()
	i := 0
	src := func() (*kgo.Record, error) {
		if i == len(s.records) {
			return nil, io.EOF
		}
		r := *s.records[i]
		r.Offset = int64(i)
		i++
		return &r, nil
	}
	err := gate.Replay(cfg, "sponsors", 0, src, nil, func(r gate.Replayed) error {
		fn(r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (s *simulated) config(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(s.dir, "sluice.yaml"), []byte(replayConfig))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// set puts a suggested value into a detector's config: the inverse of the
// settings table, for the keys this test's detectors have.
func set(t *testing.T, d *config.Detector, key string, v float64) {
	t.Helper()
	switch key {
	case "max_violation_rate":
		d.MaxViolationRate = v
	case "min_accuracy":
		d.MinAccuracy = v
	default:
		t.Fatalf("the test cannot set %s", key)
	}
}

// TestSuggestionsReplayed pastes each suggested threshold into the config,
// replays the feed again with that detector alone, and checks that it
// flags the batches the report said it would: WouldFlag clean ones and
// Caught of the flagged ones.
func TestSuggestionsReplayed(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a simulated feed")
	}
	sim := simulate(t)
	cfg := sim.config(t)
	rep := New(cfg, "sponsors")
	verdicts := map[string]detectors.Verdict{}
	sim.replay(t, cfg, func(r gate.Replayed) {
		rep.Add(r)
		verdicts[r.Decision.Batch] = r.Decision.Verdict
	})
	sum := rep.Summary()
	if sum.Batches < 1000 || sum.Flagged == 0 {
		t.Fatalf("replay: %+v; want over 1000 batches, some flagged", sum)
	}
	sugs := rep.Suggestions()
	keys := []string{}
	for _, s := range sugs {
		keys = append(keys, s.Key)
	}
	if !slices.Equal(keys, []string{"max_violation_rate", "min_accuracy"}) {
		t.Fatalf("suggestions for %v, want max_violation_rate and min_accuracy", keys)
	}
	for _, s := range sugs {
		t.Run(s.Key, func(t *testing.T) {
			t.Logf("%s %v (now %v): flags %d of %d clean, %d of %d flagged", s.Key, s.Value, s.Current, s.WouldFlag, s.Clean, s.Caught, s.Flagged)
			if s.Clean < 1000 {
				t.Fatalf("%d clean batches, want over 1000 so that 0.1%% of them is a batch", s.Clean)
			}
			if limit := int(float64(s.Clean) * TargetShare); s.WouldFlag > limit {
				t.Errorf("flags %d clean batches, more than %v of %d", s.WouldFlag, TargetShare, s.Clean)
			}
			if s.Caught == 0 {
				t.Error("catches no flagged batch: the simulated incidents should show")
			}
			again := sim.config(t)
			f := &again.Feeds[0]
			f.Detectors = slices.DeleteFunc(f.Detectors, func(d config.Detector) bool { return d.Name != s.Detector })
			set(t, &f.Detectors[0], s.Key, s.Value)
			var wouldFlag, caught int
			sim.replay(t, again, func(r gate.Replayed) {
				if r.Decision.Verdict == detectors.Pass {
					return
				}
				if verdicts[r.Decision.Batch] == detectors.Pass {
					wouldFlag++
				} else {
					caught++
				}
			})
			if wouldFlag+caught != s.WouldFlag+s.Caught {
				t.Errorf("with %s: %v the replay flags %d batches, the report said %d", s.Key, s.Value, wouldFlag+caught, s.WouldFlag+s.Caught)
			}
			if wouldFlag != s.WouldFlag || caught != s.Caught {
				t.Errorf("with %s: %v the replay flags %d clean and %d flagged batches, the report said %d and %d",
					s.Key, s.Value, wouldFlag, caught, s.WouldFlag, s.Caught)
			}
		})
	}
}
