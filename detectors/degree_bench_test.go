package detectors

import (
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/bench"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fields"
)

// simDegree and simVariance are the settings the simulator tests and the
// README's worked example use.
func simDegree() config.Detector {
	return config.Detector{
		Name: "supernodes", Type: "degree", Neighbor: "profile_id",
		OverBaseline: &config.OverBaseline{Quantile: 0.999, Factor: 4},
		MaxRepeat:    3, MaxShare: 0.01,
	}
}

func simVariance() config.Detector {
	return config.Detector{
		Name: "volume", Type: "variance",
		Metrics:  []string{"count", "distinct_keys", "mean_degree(profile_id)", "null_rate(company)", "mean(score)", "duplicate_rate"},
		Baseline: &config.Baseline{Window: 48, MinHistory: 12, Method: "robust"},
		MaxZ:     6, Seasonality: "hour",
	}
}

// simRecords is one simulated batch of about 1,000 ~300-byte records.
func simRecords(t testing.TB) []bench.Record {
	t.Helper()
	sim, err := bench.New(bench.Config{Seed: 1, Flat: true})
	if err != nil {
		t.Fatal(err)
	}
	return sim.Next().Records
}

// BenchmarkDegreeVarianceObserve is a feed's hot path with both detectors
// at the simulator settings: extracting the fields of a ~300-byte
// simulator record (fields.Plan.Extract), then degree and variance
// Observe. Batches are the simulator's (~1,000 records); Reset at each
// batch's end is part of the cost.
func BenchmarkDegreeVarianceObserve(b *testing.B) {
	benchObserve(b, true, simDegree(), simVariance())
}

// BenchmarkSimRecordExtract is the part of it that is not the detectors':
// extracting the same fields and hashing the key, as the gate does.
func BenchmarkSimRecordExtract(b *testing.B) {
	recs := simRecords(b)
	plan, err := fields.NewPlan([]string{"profile_id", "company", "score"})
	if err != nil {
		b.Fatal(err)
	}
	vals := make([]fields.Value, 3)
	var size int
	for _, r := range recs {
		size += len(r.Value)
	}
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	var sink uint64
	for i := 0; b.Loop(); i++ {
		r := &recs[i%len(recs)]
		if err := plan.Extract(r.Value, vals); err != nil {
			b.Fatal(err)
		}
		sink += xxhash.Sum64(r.Key)
	}
	if sink == 0 {
		b.Fatal("no keys hashed")
	}
}

// BenchmarkDegreeObserve and BenchmarkVarianceObserve split the cost.
func BenchmarkDegreeObserve(b *testing.B)   { benchObserve(b, false, simDegree()) }
func BenchmarkVarianceObserve(b *testing.B) { benchObserve(b, false, simVariance()) }

// BenchmarkDegreeObserveSketch is degree beyond max_keys: every record
// goes to the sketches.
func BenchmarkDegreeObserveSketch(b *testing.B) {
	cfg := simDegree()
	cfg.MaxKeys = 1
	benchObserve(b, false, cfg)
}

// benchObserve times Observe on a simulated batch, with the extraction
// when extract is set (else the values are extracted beforehand).
func benchObserve(b *testing.B, extract bool, cfgs ...config.Detector) {
	recs := simRecords(b)
	p := newPipe(b, true, cfgs...)
	vals := make([][]fields.Value, len(recs))
	var size int
	for i, r := range recs {
		size += len(r.Value)
		vals[i] = make([]fields.Value, len(p.vals))
		if err := p.plan.Extract(r.Value, vals[i]); err != nil {
			b.Fatal(err)
		}
	}
	run := func(i int) {
		r := &recs[i]
		if extract {
			if err := p.plan.Extract(r.Value, p.vals); err != nil {
				b.Fatal(err)
			}
		} else {
			copy(p.vals, vals[i])
		}
		// The gate hashes the key once per record, for every detector.
		p.rec.Key, p.rec.KeyHash = r.Key, xxhash.Sum64(r.Key)
		for _, d := range p.ds {
			d.Observe(&p.rec)
		}
	}
	for i := range recs { // grow the tables
		run(i)
	}
	p.close(&Batch{})
	b.SetBytes(int64(size / len(recs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		j := i % len(recs)
		if j == 0 && i > 0 {
			for _, d := range p.ds {
				d.Reset()
			}
		}
		run(j)
	}
	b.StopTimer()
	if fs, _ := p.close(&Batch{}); len(fs) == 0 {
		b.Fatal("no findings")
	}
}
