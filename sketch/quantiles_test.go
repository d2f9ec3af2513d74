package sketch

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func mustQuantiles(t testing.TB, alpha float64, bins int) *Quantiles {
	t.Helper()
	q, err := NewQuantiles(alpha, bins)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// checkQuantiles compares q with the exact quantiles of sorted values: every
// estimate must be within alpha of the value of rank floor(p·(n-1)).
func checkQuantiles(t *testing.T, q *Quantiles, sorted []float64) float64 {
	t.Helper()
	if q.Count() != uint64(len(sorted)) {
		t.Fatalf("Count %d, want %d", q.Count(), len(sorted))
	}
	worst := 0.0
	for i := 0; i <= 1000; i++ {
		p := float64(i) / 1000
		want := sorted[int(p*float64(len(sorted)-1))]
		got := q.Quantile(p)
		rel := math.Abs(got-want) / math.Abs(want)
		if want == 0 {
			rel = math.Abs(got)
		}
		worst = max(worst, rel)
		if rel > q.Alpha()*(1+1e-9) {
			t.Errorf("q%.3f: %v, want %v ± %.1f%%", p, got, want, 100*q.Alpha())
		}
	}
	return worst
}

// TestQuantilesDegrees feeds the exact degrees of the Zipf stream, the
// distribution the detector summarizes.
func TestQuantilesDegrees(t *testing.T) {
	skipIfRace(t)
	s := zipfStream()
	q := mustQuantiles(t, 0.01, 2048)
	var degs []float64
	for _, d := range s.degree {
		degs = append(degs, float64(d))
		q.Add(float64(d))
	}
	slices.Sort(degs)
	worst := checkQuantiles(t, q, degs)
	t.Logf("%d degrees (1 to %v), alpha 1%%, %d bytes: max relative error %.3f%%; p50 %v p99 %v p99.9 %v",
		len(degs), degs[len(degs)-1], 16*q.MaxBins(), 100*worst, q.Quantile(0.5), q.Quantile(0.99), q.Quantile(0.999))
}

func TestQuantilesMixed(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	q := mustQuantiles(t, 0.02, 1024)
	var vs []float64
	for range 100_000 {
		v := math.Exp(r.NormFloat64() * 2) // e^±10 at most: 830 bins a sign, no collapse
		switch r.IntN(10) {
		case 0:
			v = 0
		case 1, 2:
			v = -v
		}
		vs = append(vs, v)
		q.Add(v)
	}
	q.Add(math.NaN())
	q.Add(math.Inf(1))
	slices.Sort(vs)
	checkQuantiles(t, q, vs)
	if q.Min() != vs[0] || q.Max() != vs[len(vs)-1] {
		t.Errorf("Min/Max %v/%v, want %v/%v", q.Min(), q.Max(), vs[0], vs[len(vs)-1])
	}
}

// TestQuantilesCollapse uses too few bins for the range: the lowest values
// collapse, the top of the distribution keeps its accuracy. 256 bins at 1%
// cover 5 octaves, here the values above e^17.
func TestQuantilesCollapse(t *testing.T) {
	q := mustQuantiles(t, 0.01, 256)
	var vs []float64
	for i := range 100_000 {
		v := math.Exp(float64(i) / 5000) // 1 to e^20, log-uniform
		vs = append(vs, v)
		q.Add(v)
	}
	for _, p := range []float64{0.86, 0.9, 0.99, 0.999, 1} {
		want := vs[int(p*float64(len(vs)-1))]
		if got := q.Quantile(p); math.Abs(got-want)/want > 0.01 {
			t.Errorf("q%v after collapse: %v, want %v", p, got, want)
		}
	}
	if got := q.Quantile(0); got != vs[0] {
		t.Errorf("q0 %v, want the exact min %v", got, vs[0])
	}
}

func TestQuantilesMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	whole, a, b := mustQuantiles(t, 0.01, 2048), mustQuantiles(t, 0.01, 2048), mustQuantiles(t, 0.01, 2048)
	for i := range 50_000 {
		v := r.ExpFloat64() * 1000
		whole.Add(v)
		if i%2 == 0 {
			a.Add(v)
		} else {
			b.Add(v)
		}
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= 100; i++ {
		p := float64(i) / 100
		if a.Quantile(p) != whole.Quantile(p) {
			t.Fatalf("q%v: merged %v, whole %v", p, a.Quantile(p), whole.Quantile(p))
		}
	}
	if err := a.Merge(a); err != nil || a.Count() != 2*whole.Count() {
		t.Errorf("self merge: %v, count %d", err, a.Count())
	}
}

func TestQuantilesMarshal(t *testing.T) {
	q := mustQuantiles(t, 0.01, 256)
	empty, _ := q.MarshalBinary()
	var e Quantiles
	if err := e.UnmarshalBinary(empty); err != nil || e.Count() != 0 || !math.IsNaN(e.Quantile(0.5)) {
		t.Fatalf("empty round trip: %v", err)
	}
	r := rand.New(rand.NewPCG(13, 14))
	for range 10_000 {
		q.Add(r.NormFloat64() * 100)
	}
	data, err := q.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= 100; i++ {
		p := float64(i) / 100
		if q.Quantile(p) != e.Quantile(p) {
			t.Fatalf("q%v: %v before, %v after a round trip", p, q.Quantile(p), e.Quantile(p))
		}
	}
	again, _ := e.AppendBinary(nil)
	if !bytes.Equal(data, again) {
		t.Error("second round trip differs")
	}
}

func TestQuantilesResetAllocs(t *testing.T) {
	q := mustQuantiles(t, 0.01, 2048)
	x := 1.0
	if allocs := testing.AllocsPerRun(10_000, func() { x *= 1.001; q.Add(x) }); allocs != 0 {
		t.Errorf("Add allocates %v times", allocs)
	}
	if allocs := testing.AllocsPerRun(10, func() { q.Quantile(0.9) }); allocs != 0 {
		t.Errorf("Quantile allocates %v times", allocs)
	}
	if allocs := testing.AllocsPerRun(10, q.Reset); allocs != 0 {
		t.Errorf("Reset allocates %v times", allocs)
	}
	if q.Count() != 0 || !math.IsNaN(q.Quantile(0.5)) {
		t.Error("Reset left values")
	}
}

func TestQuantilesErrors(t *testing.T) {
	for _, c := range []struct {
		alpha float64
		bins  int
	}{{0, 2048}, {0.6, 2048}, {math.NaN(), 2048}, {0.01, 15}, {0.01, 1 << 17}} {
		if _, err := NewQuantiles(c.alpha, c.bins); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewQuantiles(%v, %d): %v, want ErrInvalid", c.alpha, c.bins, err)
		}
	}
	a, b := mustQuantiles(t, 0.01, 2048), mustQuantiles(t, 0.02, 2048)
	if err := a.Merge(b); !errors.Is(err, ErrMismatch) {
		t.Errorf("Merge: %v, want ErrMismatch", err)
	}
	for _, p := range []float64{-0.1, 1.1, math.NaN()} {
		if !math.IsNaN(a.Quantile(p)) {
			t.Errorf("Quantile(%v) not NaN", p)
		}
	}
}

func TestQuantilesExtremes(t *testing.T) {
	q := mustQuantiles(t, 0.01, 2048)
	for _, v := range []float64{math.MaxFloat64, -math.MaxFloat64, 1e-300, -1e-300, 1e-320, math.SmallestNonzeroFloat64} {
		q.Reset()
		q.Add(v)
		q.Add(v)
		q.Add(v)
		// Values below 1e-300 count as zero: absolute error up to 1e-300.
		if got := q.Quantile(0.5); math.IsNaN(got) || math.Abs(got-v) > 0.01*math.Abs(v)+minQuantileValue {
			t.Errorf("median of three %v: %v", v, got)
		}
	}
}
