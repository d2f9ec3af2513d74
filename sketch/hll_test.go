package sketch

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestHLLAccuracy(t *testing.T) {
	for _, p := range []uint8{MinHLLPrecision, 10, 14, MaxHLLPrecision} {
		h, err := NewHLL(p)
		if err != nil {
			t.Fatal(err)
		}
		sigma := 1.04 / math.Sqrt(float64(uint64(1)<<p))
		var n uint64
		for _, target := range []uint64{0, 1, 10, 100, 1000, 10_000, 100_000, 1_000_000} {
			for ; n < target; n++ {
				h.Insert(mix(n ^ uint64(p)<<56))
			}
			est := h.Estimate()
			rel := math.Abs(float64(est)-float64(n)) / max(float64(n), 1)
			if p == 14 && (n == 1000 || n == 1_000_000) {
				t.Logf("p=%d (%d bytes), %d distinct: estimate %d, error %.2f%% (sigma %.2f%%)",
					p, 1<<p, n, est, 100*rel, 100*sigma)
			}
			if rel > 4*sigma && math.Abs(float64(est)-float64(n)) > 1 {
				t.Errorf("p=%d n=%d: estimate %d, error %.2f%% > 4 sigma", p, n, est, 100*rel)
			}
		}
	}
}

// TestHLLDistinctKeys counts the distinct keys of the Zipf stream, with
// repeats, and checks that the merge of halves equals the whole exactly.
func TestHLLDistinctKeys(t *testing.T) {
	skipIfRace(t)
	s := zipfStream()
	whole, a, b := mustHLL(t, 14), mustHLL(t, 14), mustHLL(t, 14)
	half := len(s.pairs) / 2
	for i, p := range s.pairs {
		k := keyHash(p >> 32)
		whole.Insert(k)
		if i < half {
			a.Insert(k)
		} else {
			b.Insert(k)
		}
	}
	n := float64(len(s.degree))
	est := float64(whole.Estimate())
	t.Logf("%d distinct keys in %d pairs: estimate %.0f, error %.2f%%", len(s.degree), len(s.pairs), est, 100*math.Abs(est-n)/n)
	if math.Abs(est-n)/n > 4*1.04/128 {
		t.Errorf("error beyond 4 sigma")
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	x, _ := a.MarshalBinary()
	y, _ := whole.MarshalBinary()
	if !bytes.Equal(x, y) {
		t.Error("merge of halves differs from the whole")
	}
}

func mustHLL(t testing.TB, p uint8) *HLL {
	t.Helper()
	h, err := NewHLL(p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHLLMarshal(t *testing.T) {
	h := mustHLL(t, 12)
	for i := range uint64(5000) {
		h.Insert(mix(i))
	}
	data, err := h.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	g := mustHLL(t, 4)
	if err := g.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if g.Estimate() != h.Estimate() || g.Precision() != 12 {
		t.Errorf("round trip: %d, want %d", g.Estimate(), h.Estimate())
	}
}

func TestHLLResetAllocs(t *testing.T) {
	h := mustHLL(t, 14)
	var x uint64
	if allocs := testing.AllocsPerRun(1000, func() { x++; h.Insert(mix(x)) }); allocs != 0 {
		t.Errorf("Insert allocates %v times", allocs)
	}
	if allocs := testing.AllocsPerRun(10, func() { h.Estimate() }); allocs != 0 {
		t.Errorf("Estimate allocates %v times", allocs)
	}
	if allocs := testing.AllocsPerRun(10, h.Reset); allocs != 0 {
		t.Errorf("Reset allocates %v times", allocs)
	}
	if h.Estimate() != 0 {
		t.Errorf("Reset: estimate %d", h.Estimate())
	}
}

func TestHLLErrors(t *testing.T) {
	for _, p := range []uint8{0, 3, 19, 255} {
		if _, err := NewHLL(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewHLL(%d): %v, want ErrInvalid", p, err)
		}
	}
	a, b := mustHLL(t, 10), mustHLL(t, 11)
	if err := a.Merge(b); !errors.Is(err, ErrMismatch) {
		t.Errorf("Merge: %v, want ErrMismatch", err)
	}
}
