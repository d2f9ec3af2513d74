package detectors

import "testing"

// BenchmarkAccuracyObserve: the hot path, at the default 2% sample rate.
func BenchmarkAccuracyObserve(b *testing.B) {
	d, env := newTestAccuracy(b, accuracyConfig(), &okRef{})
	d.s = newSampler(7, 0.02, 200, d.s.keyIdx, d.s.idx)
	f := newFeeder(env)
	const batch = 50000
	keys := make([][]byte, batch)
	for i := range keys {
		keys[i] = batchKey(nil, 0, i)
	}
	b.SetBytes(int64(len(keys[0]) + 2*len("ok"))) // the key and the compared fields

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i%batch == 0 {
			d.Reset()
		}
		d.Observe(f.record(keys[i%batch], "ok"))
	}
	if d.seen == 0 {
		b.Fatal("nothing observed")
	}
}
