package sketch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// accuracyMemory is the budget of the accuracy tests: half of the 8 MiB
// allowed, because a larger table gains no accuracy on these streams.
const accuracyMemory = 4 << 20

func newTestDegree(t testing.TB, memory int) *Degree {
	t.Helper()
	d, err := NewDegree(memory)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDegreeZipf(t *testing.T) {
	skipIfRace(t)
	s := zipfStream()
	d := newTestDegree(t, accuracyMemory)
	start := time.Now()
	s.insert(d, 0, len(s.pairs))
	t.Logf("Zipf(%v): %d pairs, %d keys, inserted in %v; memory %d bytes (%.2f MiB), %d candidates",
		zipfS, len(s.pairs), len(s.degree), time.Since(start), d.MemoryBytes(),
		float64(d.MemoryBytes())/(1<<20), d.Capacity())
	if d.MemoryBytes() > accuracyMemory {
		t.Errorf("memory %d > %d", d.MemoryBytes(), accuracyMemory)
	}
	measure(d, s).check(t)
}

func TestDegreeGraph(t *testing.T) {
	s := graphStream(t)
	d := newTestDegree(t, accuracyMemory)
	s.insert(d, 0, len(s.pairs))
	t.Logf("SNAP ego-Facebook, each edge as (a,b) and (b,a): %d pairs, %d keys", len(s.pairs), len(s.degree))
	measure(d, s).check(t)
}

// TestDegreeRepeats replays every graph pair 5 times in shuffled order (the
// "repeated connections on nearly every key" failure): degrees must not move.
func TestDegreeRepeats(t *testing.T) {
	s := graphStream(t)
	once := newTestDegree(t, accuracyMemory)
	s.insert(once, 0, len(s.pairs))
	var pairs []uint64
	for range 5 {
		pairs = append(pairs, s.pairs...)
	}
	r := rand.New(rand.NewPCG(7, 8))
	r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	rep := &stream{pairs: pairs, degree: s.degree}
	d := newTestDegree(t, accuracyMemory)
	rep.insert(d, 0, len(pairs))
	a := measure(d, rep)
	a.check(t)
	b := measure(once, s)
	if a.median > b.median*1.2+0.002 {
		t.Errorf("median error %.2f%% with repeats, %.2f%% without", 100*a.median, 100*b.median)
	}
}

// TestDegreeMerge checks that the merge of two halves of a stream estimates
// as well as one sketch of the whole, and close to it.
func TestDegreeMerge(t *testing.T) {
	skipIfRace(t)
	s := zipfStream()
	half := len(s.pairs) / 2
	whole, a, b := newTestDegree(t, accuracyMemory), newTestDegree(t, accuracyMemory), newTestDegree(t, accuracyMemory)
	s.insert(whole, 0, len(s.pairs))
	s.insert(a, 0, half)
	s.insert(b, half, len(s.pairs))
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	t.Log("merged halves:")
	measure(a, s).check(t)
	var diffs []float64
	for id, deg := range s.degree {
		if deg >= 100 {
			k := keyHash(uint64(id))
			w := whole.Estimate(k)
			diffs = append(diffs, math.Abs(a.Estimate(k)-w)/w)
		}
	}
	slices.Sort(diffs)
	t.Logf("merged vs whole, keys of degree >= 100: median difference %.2f%%, p95 %.2f%%",
		100*percentile(diffs, 0.5), 100*percentile(diffs, 0.95))
	if percentile(diffs, 0.5) > 0.05 || percentile(diffs, 0.95) > 0.15 {
		t.Error("merged estimates differ from whole-stream estimates beyond the stated error")
	}
}

// TestDegreeMergeGraph merges halves of the graph and replicas (a sketch
// merged with a copy of itself must not double count).
func TestDegreeMergeGraph(t *testing.T) {
	s := graphStream(t)
	half := len(s.pairs) / 2
	a, b := newTestDegree(t, accuracyMemory), newTestDegree(t, accuracyMemory)
	s.insert(a, 0, half)
	s.insert(b, half, len(s.pairs))
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	measure(a, s).check(t)

	replica := newTestDegree(t, accuracyMemory)
	data, _ := a.MarshalBinary()
	if err := replica.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	if err := a.Merge(replica); err != nil {
		t.Fatal(err)
	}
	again, _ := a.MarshalBinary()
	if !bytes.Equal(data, again) {
		t.Error("merging a replica changed the sketch")
	}
}

// TestDegreeLateSuperNode fills every candidate way with keys of degree 50,
// then starts a key that grows to 1,000: it must win a way (through the
// pending bitmap) and be reported.
func TestDegreeLateSuperNode(t *testing.T) {
	d := newTestDegree(t, 64<<10)
	for k := range uint64(4 * d.Capacity()) {
		for n := range uint64(50) {
			d.Insert(keyHash(k), neighborHash(n))
		}
	}
	late := keyHash(1 << 40)
	for n := range uint64(1000) {
		d.Insert(late, neighborHash(n+1<<32))
	}
	e := d.Estimate(late)
	t.Logf("late key: estimate %.0f of 1000", e)
	if math.Abs(e-1000) > 100 {
		t.Errorf("late key estimate %.0f, want 1000 ± 10%%", e)
	}
	if !slices.ContainsFunc(d.Over(900, nil), func(kd KeyDegree) bool { return kd.Key == late }) {
		t.Error("late key not reported by Over(900)")
	}
}

func TestDegreeSmallDegrees(t *testing.T) {
	d := newTestDegree(t, 64<<10)
	for n := range uint64(5) {
		for range 3 {
			d.Insert(keyHash(1), neighborHash(n))
		}
	}
	if e := d.Estimate(keyHash(1)); e != 5 {
		t.Errorf("estimate %v, want exactly 5", e)
	}
	if e := d.Estimate(keyHash(2)); e != 0 {
		t.Errorf("estimate of an unseen key %v, want 0", e)
	}
	d.Insert(0, neighborHash(1)) // key hash 0 is legal
	if e := d.Estimate(0); e != 1 {
		t.Errorf("estimate of key 0: %v, want 1", e)
	}
}

func TestDegreeOverAll(t *testing.T) {
	s := graphStream(t)
	d := newTestDegree(t, accuracyMemory)
	s.insert(d, 0, len(s.pairs))
	over := d.Over(100, nil)
	n := 0
	for k, e := range d.All() {
		if e != d.Estimate(k) {
			t.Fatalf("All: %x has %v, Estimate %v", k, e, d.Estimate(k))
		}
		if e >= 100 {
			n++
		}
	}
	if n != len(over) {
		t.Errorf("Over(100) listed %d keys, All has %d at least 100", len(over), n)
	}
	for _, kd := range over {
		if kd.Degree < 100 || kd.Degree != d.Estimate(kd.Key) {
			t.Errorf("Over: %+v, Estimate %v", kd, d.Estimate(kd.Key))
		}
	}
}

func TestDegreeMarshal(t *testing.T) {
	s := graphStream(t)
	d := newTestDegree(t, 256<<10) // small: exercises eviction and pending slots
	s.insert(d, 0, len(s.pairs))
	data, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	appended, _ := d.AppendBinary([]byte("prefix"))
	if !bytes.Equal(appended[6:], data) {
		t.Error("AppendBinary differs from MarshalBinary")
	}
	var e Degree
	if err := e.UnmarshalBinary(data); err != nil {
		t.Fatal(err)
	}
	for id := range s.degree {
		k := keyHash(uint64(id))
		if d.Estimate(k) != e.Estimate(k) {
			t.Fatalf("key %d: %v before, %v after a round trip", id, d.Estimate(k), e.Estimate(k))
		}
	}
	again, _ := e.MarshalBinary()
	if !bytes.Equal(data, again) {
		t.Error("second round trip differs")
	}
	// The restored sketch keeps working like the original.
	s.insert(d, 0, 1000)
	s.insert(&e, 0, 1000)
	a, _ := d.MarshalBinary()
	b, _ := e.MarshalBinary()
	if !bytes.Equal(a, b) {
		t.Error("restored sketch diverges from the original on the same inserts")
	}
}

// TestDegreePipeline checks that Insert's queue changes nothing: a sketch
// that applies every pair at once ends up byte for byte the same, and
// reads between inserts see every insert before them.
func TestDegreePipeline(t *testing.T) {
	s := graphStream(t)
	d, e := newTestDegree(t, 256<<10), newTestDegree(t, 256<<10)
	for i, p := range s.pairs {
		k, n := keyHash(p>>32), neighborHash(p&math.MaxUint32)
		d.Insert(k, n)
		e.Insert(k, n)
		e.flush()
		if i%9973 == 0 && d.Estimate(k) != e.Estimate(k) {
			t.Fatalf("pair %d: estimate %v queued, %v applied", i, d.Estimate(k), e.Estimate(k))
		}
	}
	a, _ := d.MarshalBinary()
	b, _ := e.MarshalBinary()
	if !bytes.Equal(a, b) {
		t.Error("queued inserts end in another state than inserts applied at once")
	}
}

func TestDegreeReset(t *testing.T) {
	s := graphStream(t)
	d := newTestDegree(t, 256<<10)
	empty, _ := d.MarshalBinary()
	s.insert(d, 0, len(s.pairs))
	if allocs := testing.AllocsPerRun(10, d.Reset); allocs != 0 {
		t.Errorf("Reset allocates %v times", allocs)
	}
	got, _ := d.MarshalBinary()
	if !bytes.Equal(got, empty) {
		t.Error("Reset sketch differs from a new one")
	}
}

func TestDegreeAllocs(t *testing.T) {
	s := graphStream(t)
	d := newTestDegree(t, 256<<10)
	i := 0
	allocs := testing.AllocsPerRun(len(s.pairs), func() {
		p := s.pairs[i%len(s.pairs)]
		d.Insert(keyHash(p>>32), neighborHash(p&math.MaxUint32))
		i++
	})
	if allocs != 0 {
		t.Errorf("Insert allocates %v times", allocs)
	}
	dst := make([]KeyDegree, 0, d.Capacity())
	if allocs := testing.AllocsPerRun(10, func() { dst = d.Over(10, dst[:0]) }); allocs != 0 {
		t.Errorf("Over with capacity allocates %v times", allocs)
	}
	if allocs := testing.AllocsPerRun(100, func() { d.Estimate(keyHash(1)) }); allocs != 0 {
		t.Errorf("Estimate allocates %v times", allocs)
	}
}

// TestDegreeUnmarshalLimits: the sparse encoding of an empty sketch is a few
// bytes whatever its size, so a decoder must bound the size it accepts.
func TestDegreeUnmarshalLimits(t *testing.T) {
	d := newTestDegree(t, 8<<20)
	data, _ := d.MarshalBinary()
	t.Logf("empty 8 MiB sketch: %d bytes encoded", len(data))
	if len(data) > 32 {
		t.Errorf("empty sketch encodes to %d bytes", len(data))
	}
	binary.LittleEndian.PutUint32(data[3:], 1<<22) // 4M candidate buckets: > 1 GiB
	var e Degree
	if err := e.UnmarshalBinary(data); !errors.Is(err, ErrCorrupt) {
		t.Errorf("UnmarshalBinary of a 13 GiB sketch: %v, want ErrCorrupt", err)
	}
	if _, err := NewDegree(maxDegreeMemory + 1); !errors.Is(err, ErrInvalid) {
		t.Errorf("NewDegree above the maximum: %v", err)
	}
}

func TestDegreeErrors(t *testing.T) {
	for _, m := range []int{-1, 0, 1000, minDegreeMemory - 1} {
		if _, err := NewDegree(m); !errors.Is(err, ErrInvalid) {
			t.Errorf("NewDegree(%d): %v, want ErrInvalid", m, err)
		}
	}
	if _, err := NewDegree(minDegreeMemory); err != nil {
		t.Errorf("NewDegree(%d): %v", minDegreeMemory, err)
	}
	a, b := newTestDegree(t, 64<<10), newTestDegree(t, 128<<10)
	if err := a.Merge(b); !errors.Is(err, ErrMismatch) {
		t.Errorf("Merge of different sizes: %v, want ErrMismatch", err)
	}
	h, _ := NewHLL(10)
	data, _ := h.MarshalBinary()
	if err := a.UnmarshalBinary(data); !errors.Is(err, ErrCorrupt) {
		t.Errorf("UnmarshalBinary of an HLL: %v, want ErrCorrupt", err)
	}
	data, _ = a.MarshalBinary()
	data[0] = 99
	if err := a.UnmarshalBinary(data); !errors.Is(err, ErrVersion) {
		t.Errorf("UnmarshalBinary of version 99: %v, want ErrVersion", err)
	}
}
