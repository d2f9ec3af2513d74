package reference_test

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicehq/sluice/bench"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
)

const hospitalDir = "../testdata/accuracy"

// hospitalFeed turns the dirty hospital rows into JSON records under the
// clean file's column names (the two files name the same columns
// differently, in the same order).
func hospitalFeed(t *testing.T) (records [][]byte, columns []string) {
	t.Helper()
	read := func(name string) [][]string {
		f, err := os.Open(filepath.Join(hospitalDir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	clean, dirty := read("clean.csv"), read("dirty.csv")
	columns = clean[0]
	for _, row := range dirty[1:] {
		rec := map[string]string{}
		for i, v := range row {
			rec[columns[i]] = v
		}
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, b)
	}
	return records, columns
}

// TestHospital: the hospital benchmark's dirty rows against its clean
// ones. 407 of the 1,000 rows hold an error: the true accuracy is 59.3%.
// The interval contains it and the batch is quarantined at 95%.
func TestHospital(t *testing.T) {
	records, columns := hospitalFeed(t)
	const truth = 0.593
	for _, rate := range []float64{1, 0.3} {
		cfg := accuracy(config.Reference{File: "clean.csv", Key: "index", Compare: columns[1:]})
		cfg.OnFail = "quarantine"
		cfg.Sample = &config.Sample{Rate: rate, Min: 200, Seed: 1}
		h := newHarness(t, cfg, "index", opener(t, hospitalDir))
		for _, r := range records {
			h.observe(r)
		}
		fs := h.judge()
		f := fs[0]
		t.Logf("rate %v: %s", rate, f.Message)
		if len(fs) != 1 || f.Metric != "accuracy" || f.Verdict != detectors.Quarantine {
			t.Fatalf("rate %v: findings %+v", rate, fs)
		}
		if !(f.Interval[0] <= truth && truth <= f.Interval[1]) {
			t.Errorf("rate %v: interval %v does not contain %v", rate, f.Interval, truth)
		}
		if rate == 1 && (f.Samples != 1000 || f.Observed != truth) {
			t.Errorf("all rows: %d samples, estimate %v; want 1000 and %v", f.Samples, f.Observed, truth)
		}
	}
}

// TestSimulatedFeeds: the vendor simulator's feed with wrong profiles,
// checked against its ground truth in sequential mode with about 45
// usable samples a batch (min 50, of which the truth covers about 85%). 30% wrong is halted, 1% wrong passes; the test reports
// how many samples a decision needed.
func TestSimulatedFeeds(t *testing.T) {
	for _, c := range []struct {
		share float64
		want  detectors.Verdict
	}{{0.30, detectors.Halt}, {0.01, detectors.Pass}} {
		sim, err := bench.New(bench.Config{Seed: 42, Emails: 5000, MeanBatch: 400, Flat: true})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		f, err := os.Create(filepath.Join(dir, "truth.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if err := sim.WriteTruth(f); err != nil {
			t.Fatal(err)
		}
		f.Close()

		cfg := accuracy(config.Reference{File: "truth.jsonl", Key: "email", Compare: []string{"profile_id", "company"}, Missing: "skip"})
		cfg.Sample = &config.Sample{Rate: 0.02, Min: 50, Seed: 3}
		cfg.Sequential = true
		h := newHarness(t, cfg, "email", opener(t, dir))

		const batches = 120
		decisions, samples, undecided := 0, 0, 0
		for range batches {
			if err := sim.Inject(bench.Incident{Kind: bench.Wrong, Share: c.share}); err != nil {
				t.Fatal(err)
			}
			for _, r := range sim.Next().Records {
				h.observe(r.Value)
			}
			fs := h.judge()
			switch v := worst(fs); v {
			case detectors.Warn:
				undecided++
			case c.want:
				decisions++
				samples += fs[0].Samples
			default:
				t.Fatalf("share %v: %v: %s", c.share, v, fs[0].Message)
			}
		}
		if decisions == 0 {
			t.Fatalf("share %v: no decision in %d batches", c.share, batches)
		}
		t.Logf("%2.0f%% wrong: %d %v decisions in %d batches (%d undecided), %.1f samples a decision (%.1f batches)",
			c.share*100, decisions, c.want, batches, undecided, float64(samples)/float64(decisions), float64(batches)/float64(decisions))
	}
}
