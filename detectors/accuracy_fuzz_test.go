package detectors

import (
	"math/rand/v2"
	"testing"
)

// FuzzAccuracyState: UnmarshalState never panics; input it rejects leaves
// a fresh detector that still judges; input it accepts round-trips.
func FuzzAccuracyState(f *testing.F) {
	cfg := accuracyConfig()
	cfg.Sequential = true
	d, env := newTestAccuracy(f, cfg, &okRef{})
	fd := newFeeder(env)
	feed(d, fd, rand.New(rand.NewPCG(1, 1)), 0, 300, 0.04)
	judge(d, &Batch{Records: 300})
	st, _ := d.AppendState(nil)
	f.Add(st)
	f.Add([]byte{})
	f.Add([]byte{stateVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		d, env := newTestAccuracy(t, cfg, &okRef{})
		rejected := d.UnmarshalState(b) != nil
		if rejected {
			if d.run != (evidence{}) {
				t.Fatalf("rejected state left run %+v", d.run)
			}
		} else {
			again, _ := d.AppendState(nil)
			e, _ := newTestAccuracy(t, cfg, &okRef{})
			if err := e.UnmarshalState(again); err != nil || e.run != d.run {
				t.Fatalf("round trip: %v, %+v then %+v", err, d.run, e.run)
			}
		}
		feed(d, newFeeder(env), rand.New(rand.NewPCG(2, 2)), 0, 50, 0.5)
		fs := d.Judge(nil, &Batch{Records: 50})
		if len(fs) == 0 || rejected && fs[0].Verdict != Halt {
			t.Fatalf("after state %x (rejected %v): %+v", b, rejected, fs)
		}
	})
}
