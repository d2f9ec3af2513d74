package sketch

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
)

func newTestCountMin(t testing.TB) *CountMin {
	t.Helper()
	c, err := NewCountMin(DefaultCountMinDepth, DefaultCountMinWidth)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkCounts verifies that c never under-counts a pair of s and that 99% of
// pairs are over-counted by at most 1% of the stream length.
func checkCounts(t *testing.T, c *CountMin, s *stream) {
	t.Helper()
	over := make([]float64, len(s.uniq))
	for i, p := range s.uniq {
		got := c.Count(pairHash(p))
		if got < s.mult[i] {
			t.Fatalf("pair %x: count %d < true %d", p, got, s.mult[i])
		}
		over[i] = float64(got - s.mult[i])
	}
	slices.Sort(over)
	n := float64(len(s.pairs))
	p99, worst := percentile(over, 0.99), over[len(over)-1]
	exact := slices.IndexFunc(over, func(x float64) bool { return x > 0 })
	if exact < 0 {
		exact = len(over)
	}
	t.Logf("%d pairs (%d distinct), %d×%d counters (%d KiB): %.2f%% exact, 99th percentile over-count %v (%.5f%% of N), max %v",
		len(s.pairs), len(s.uniq), c.Depth(), c.Width(), 4*c.Depth()*c.Width()>>10,
		100*float64(exact)/float64(len(over)), p99, 100*p99/n, worst)
	if p99 > 0.01*n {
		t.Errorf("99th percentile over-count %v > 1%% of %v", p99, n)
	}
}

func TestCountMinZipf(t *testing.T) {
	skipIfRace(t)
	s := zipfStream()
	c := newTestCountMin(t)
	for _, p := range s.pairs {
		c.Add(pairHash(p))
	}
	if c.Total() != uint64(len(s.pairs)) {
		t.Errorf("Total %d, want %d", c.Total(), len(s.pairs))
	}
	checkCounts(t, c, s)
}

func TestCountMinMerge(t *testing.T) {
	skipIfRace(t)
	s := zipfStream()
	half := len(s.pairs) / 2
	a, b := newTestCountMin(t), newTestCountMin(t)
	for _, p := range s.pairs[:half] {
		a.Add(pairHash(p))
	}
	for _, p := range s.pairs[half:] {
		b.Add(pairHash(p))
	}
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	t.Log("merged halves:")
	checkCounts(t, a, s)
}

func TestCountMinAddReturnsCount(t *testing.T) {
	c, _ := NewCountMin(2, 16) // tiny: collisions everywhere
	for i := range uint64(1000) {
		h := pairHash(i % 37)
		if got := c.Add(h); got != c.Count(h) {
			t.Fatalf("Add returned %d, Count %d", got, c.Count(h))
		}
	}
	s := exact(func() (p []uint64) {
		for i := range uint64(1000) {
			p = append(p, i%37)
		}
		return p
	}())
	for i, p := range s.uniq {
		if got := c.Count(pairHash(p)); got < s.mult[i] {
			t.Errorf("under-count %d < %d", got, s.mult[i])
		}
	}
}

func TestCountMinSaturates(t *testing.T) {
	c, _ := NewCountMin(1, 16)
	for i := range c.counts {
		c.counts[i] = math.MaxUint32 - 1
	}
	if got := c.Add(1); got != math.MaxUint32 {
		t.Errorf("Add at 2^32-2: %d", got)
	}
	if got := c.Add(1); got != math.MaxUint32 {
		t.Errorf("Add at 2^32-1: %d, want to stay", got)
	}
	d, _ := NewCountMin(1, 16)
	copy(d.counts, c.counts)
	if err := c.Merge(d); err != nil || c.Count(1) != math.MaxUint32 {
		t.Errorf("saturating merge: %v, %d", err, c.Count(1))
	}
}

func TestCountMinMarshal(t *testing.T) {
	c := newTestCountMin(t)
	for i := range uint64(10000) {
		c.Add(pairHash(i % 999))
	}
	data, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var d CountMin
	if err := d.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	for i := range uint64(999) {
		if c.Count(pairHash(i)) != d.Count(pairHash(i)) {
			t.Fatal("count changed in a round trip")
		}
	}
	again, _ := d.AppendBinary(nil)
	if !bytes.Equal(data, again) || d.Total() != c.Total() {
		t.Error("second round trip differs")
	}
}

func TestCountMinReset(t *testing.T) {
	c := newTestCountMin(t)
	c.Add(1)
	if allocs := testing.AllocsPerRun(10, c.Reset); allocs != 0 {
		t.Errorf("Reset allocates %v times", allocs)
	}
	if c.Count(1) != 0 || c.Total() != 0 {
		t.Error("Reset left counts")
	}
}

func TestCountMinAllocs(t *testing.T) {
	c := newTestCountMin(t)
	var h uint64
	if allocs := testing.AllocsPerRun(1000, func() { h++; c.Add(pairHash(h)) }); allocs != 0 {
		t.Errorf("Add allocates %v times", allocs)
	}
}

func TestCountMinErrors(t *testing.T) {
	for _, dw := range [][2]int{{0, 1024}, {17, 1024}, {4, 1000}, {4, 8}, {4, 1 << 29}} {
		if _, err := NewCountMin(dw[0], dw[1]); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewCountMin(%d, %d): %v, want ErrInvalid", dw[0], dw[1], err)
		}
	}
	a, _ := NewCountMin(4, 1024)
	b, _ := NewCountMin(4, 2048)
	if err := a.Merge(b); !errors.Is(err, ErrMismatch) {
		t.Errorf("Merge: %v, want ErrMismatch", err)
	}
}
