package sketch

import (
	"bufio"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// mix is the splitmix64 finalizer: tests hash integer ids with it, as the
// caller would with xxhash.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func keyHash(id uint64) uint64      { return mix(id ^ 0x5bd1e9955bd1e995) }
func neighborHash(id uint64) uint64 { return mix(id ^ 0xc2b2ae3d27d4eb4f) }
func pairHash(p uint64) uint64      { return mix(p ^ 0x165667b19e3779f9) }

// stream is a list of (key id, neighbor id) pairs, packed key<<32 | neighbor,
// with its exact degrees and pair multiplicities.
type stream struct {
	pairs  []uint64
	degree map[uint32]uint32 // key id -> distinct neighbors
	uniq   []uint64          // distinct pairs, sorted
	mult   []uint32          // occurrences of uniq[i]
}

func (s *stream) insert(d *Degree, from, to int) {
	for _, p := range s.pairs[from:to] {
		d.Insert(keyHash(p>>32), neighborHash(p&math.MaxUint32))
	}
}

func exact(pairs []uint64) *stream {
	s := &stream{pairs: pairs, degree: map[uint32]uint32{}}
	sorted := slices.Clone(pairs)
	slices.Sort(sorted)
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j] == sorted[i] {
			j++
		}
		s.degree[uint32(sorted[i]>>32)]++
		s.uniq = append(s.uniq, sorted[i])
		s.mult = append(s.mult, uint32(j-i))
		i = j
	}
	return s
}

const (
	zipfKeys      = 1_000_000
	zipfNeighbors = 1_000_000
	zipfPairs     = 10_000_000
	zipfS         = 1.1
)

// zipfStream is 10^7 pairs: keys Zipf(1.1) over 10^6 ids, neighbors uniform
// over 10^6 ids, so heavy keys repeat neighbors. Built once per test binary.
var zipfStream = sync.OnceValue(func() *stream {
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, zipfS, 1, zipfKeys-1)
	pairs := make([]uint64, zipfPairs)
	for i := range pairs {
		pairs[i] = z.Uint64()<<32 | r.Uint64N(zipfNeighbors)
	}
	return exact(pairs)
})

// graphStream is SNAP ego-Facebook, each undirected edge as (a,b) and (b,a),
// in a fixed shuffled order.
func graphStream(t testing.TB) *stream {
	f, err := os.Open("../testdata/graph/facebook_combined.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header "4039 88234"
	var pairs []uint64
	for sc.Scan() {
		a, b, ok := strings.Cut(sc.Text(), " ")
		x, err1 := strconv.ParseUint(a, 10, 32)
		y, err2 := strconv.ParseUint(b, 10, 32)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("bad edge %q", sc.Text())
		}
		pairs = append(pairs, x<<32|y, y<<32|x)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 2*88234 {
		t.Fatalf("%d pairs, want %d", len(pairs), 2*88234)
	}
	r := rand.New(rand.NewPCG(3, 4))
	r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	return exact(pairs)
}

// percentile returns the p-quantile (nearest rank) of sorted xs.
func percentile[T int | uint32 | float64](sorted []T, p float64) T {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// accuracy reports the relative errors of d on keys of true degree >= 100,
// and precision and recall of Over at the true 99.9th percentile degree.
type accuracy struct {
	keys              int
	median, p95, max  float64
	threshold         uint32
	supernodes, found int
	precision, recall float64
}

func measure(d *Degree, s *stream) accuracy {
	var a accuracy
	var errs []float64
	var degs []uint32
	byHash := map[uint64]uint32{}
	for id, deg := range s.degree {
		degs = append(degs, deg)
		byHash[keyHash(uint64(id))] = id
		if deg < 100 {
			continue
		}
		e := d.Estimate(keyHash(uint64(id)))
		errs = append(errs, math.Abs(e-float64(deg))/float64(deg))
	}
	slices.Sort(errs)
	slices.Sort(degs)
	a.keys = len(errs)
	a.median, a.p95, a.max = percentile(errs, 0.5), percentile(errs, 0.95), errs[len(errs)-1]
	a.threshold = percentile(degs, 0.999)
	hits := 0
	for _, deg := range s.degree {
		if deg >= a.threshold {
			a.supernodes++
		}
	}
	for _, kd := range d.Over(float64(a.threshold), nil) {
		a.found++
		if id, ok := byHash[kd.Key]; ok && s.degree[id] >= a.threshold {
			hits++
		}
	}
	a.precision = float64(hits) / float64(max(a.found, 1))
	a.recall = float64(hits) / float64(max(a.supernodes, 1))
	return a
}

func (a accuracy) check(t *testing.T) {
	t.Helper()
	t.Logf("%d keys of degree >= 100: median error %.2f%%, p95 %.2f%%, max %.1f%%",
		a.keys, 100*a.median, 100*a.p95, 100*a.max)
	t.Logf("super-nodes (degree >= %d, the 99.9th percentile): %d true, %d reported, precision %.3f, recall %.3f",
		a.threshold, a.supernodes, a.found, a.precision, a.recall)
	if a.median > 0.05 || a.p95 > 0.15 {
		t.Errorf("median error %.2f%% (want <= 5%%), p95 %.2f%% (want <= 15%%)", 100*a.median, 100*a.p95)
	}
	if a.precision < 0.97 || a.recall < 0.97 {
		t.Errorf("precision %.3f, recall %.3f, want >= 0.97", a.precision, a.recall)
	}
}
