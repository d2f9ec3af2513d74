package detectors

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/sluicehq/sluice/config"
)

func fuzzDegreeConfig() config.Detector {
	return config.Detector{Name: "supernodes", Type: "degree", Neighbor: "profile_id", MaxRepeat: 3,
		OverBaseline: &config.OverBaseline{Quantile: 0.5, Factor: 2}}
}

// FuzzDegreeState: UnmarshalState never panics; a state it rejects leaves a
// fresh detector (nothing learned) that still judges; a state it accepts
// round-trips, and a detector restored from it judges as the original.
func FuzzDegreeState(f *testing.F) {
	p := newPipe(f, true, fuzzDegreeConfig())
	for i := range 12 {
		degreeBatch(p, ones(50, i, 2*i), nil)
	}
	st, _ := p.ds[0].AppendState(nil)
	f.Add(st)
	f.Add([]byte{})
	f.Add([]byte{degreeStateVersion})
	f.Add(st[:9])
	f.Fuzz(func(t *testing.T, b []byte) {
		p := newPipe(t, true, fuzzDegreeConfig())
		d := p.ds[0].(*Degree)
		if err := d.UnmarshalState(b); err != nil {
			if d.learned.batches() != 0 || d.learned.recent.Count() != 0 || d.learned.older.Count() != 0 {
				t.Fatalf("rejected state (%v) left %d batches learned", err, d.learned.batches())
			}
			if fs := degreeBatch(p, ones(20, 30), nil); len(fs) == 0 || fs[0].Mode != "exact" {
				t.Fatalf("after a rejected state: %+v", fs)
			}
			return
		}
		again, err := d.AppendState(nil)
		if err != nil {
			t.Fatal(err)
		}
		q := newPipe(t, true, fuzzDegreeConfig())
		if err := q.ds[0].UnmarshalState(again); err != nil {
			t.Fatalf("cannot restore its own state: %v", err)
		}
		if twice, _ := q.ds[0].AppendState(nil); !bytes.Equal(again, twice) {
			t.Fatalf("state does not round-trip:\n%x\n%x", again, twice)
		}
		fp, fq := degreeBatch(p, ones(20, 30), []int{5}), degreeBatch(q, ones(20, 30), []int{5})
		if !reflect.DeepEqual(fp, fq) {
			t.Fatalf("restored detectors judge differently:\n%+v\n%+v", fp, fq)
		}
	})
}
