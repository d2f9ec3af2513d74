package detectors

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/config"
)

func fuzzVarianceConfigs() []config.Detector {
	return []config.Detector{
		{Name: "v", Type: "variance", MaxZ: 6, MaxChange: 0.5, Metrics: []string{"count", "null_rate(p)", "mean(x)"},
			Baseline: &config.Baseline{Window: 4, MinHistory: 2, Method: "robust"}},
		{Name: "e", Type: "variance", MaxZ: 6, Metrics: []string{"count", "null_rate(p)", "mean(x)"},
			Baseline: &config.Baseline{Window: 4, MinHistory: 2, Method: "ewma", Alpha: 0.2}},
	}
}

// FuzzVarianceState: UnmarshalState never panics; a state it rejects leaves
// fresh baselines that still judge; a state it accepts round-trips, and a
// detector restored from it judges as the original, with findings that
// encode as JSON (no NaN or infinity).
func FuzzVarianceState(f *testing.F) {
	for i, cfg := range fuzzVarianceConfigs() {
		p := newPipe(f, true, cfg)
		for n := range 6 {
			varBatch(p, &Batch{}, repeatRec(`k {"p":1,"x":2.5}`, 100+n)...)
		}
		st, _ := p.ds[0].AppendState(nil)
		f.Add(uint8(i), st)
		f.Add(uint8(i), st[:10])
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(1), []byte{varianceStateVersion})
	f.Fuzz(func(t *testing.T, which uint8, b []byte) {
		cfg := fuzzVarianceConfigs()[int(which)%2]
		p := newPipe(t, true, cfg)
		d := p.ds[0].(*Variance)
		batch := append(repeatRec(`k {"p":1,"x":1e300}`, 50), repeatRec(`k {"p":null,"x":-1e300}`, 50)...)
		if err := d.UnmarshalState(b); err != nil {
			for _, h := range d.hist[0] {
				if h.n != 0 {
					t.Fatalf("rejected state (%v) left a baseline", err)
				}
			}
			if fs, _ := varBatch(p, &Batch{}, batch...); fs[0].Mode != "warmup" {
				t.Fatalf("after a rejected state: %+v", fs)
			}
			return
		}
		again, err := d.AppendState(nil)
		if err != nil {
			t.Fatal(err)
		}
		q := newPipe(t, true, cfg)
		if err := q.ds[0].UnmarshalState(again); err != nil {
			t.Fatalf("cannot restore its own state: %v", err)
		}
		if twice, _ := q.ds[0].AppendState(nil); !bytes.Equal(again, twice) {
			t.Fatalf("state does not round-trip:\n%x\n%x", again, twice)
		}
		fp, _ := varBatch(p, &Batch{}, batch...)
		fq, _ := varBatch(q, &Batch{}, batch...)
		if !reflect.DeepEqual(fp, fq) {
			t.Fatalf("restored detectors judge differently:\n%+v\n%+v", fp, fq)
		}
		if _, err := json.Marshal(fp); err != nil {
			t.Fatalf("findings do not encode: %v: %+v", err, fp)
		}
	})
}
