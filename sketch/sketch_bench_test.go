package sketch

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// benchPairs is 2^22 hashed pairs from the same distribution as zipfStream
// (keys Zipf(1.1) over 10^6, neighbors uniform over 10^6), so benchmarks see
// a realistic mix of heavy keys (candidates) and mice (filter).
var benchPairs = sync.OnceValue(func() [][2]uint64 {
	r := rand.New(rand.NewPCG(5, 6))
	z := rand.NewZipf(r, zipfS, 1, zipfKeys-1)
	ps := make([][2]uint64, 1<<22)
	for i := range ps {
		ps[i] = [2]uint64{keyHash(z.Uint64()), neighborHash(r.Uint64N(zipfNeighbors))}
	}
	return ps
})

var (
	sinkF float64
	sinkU uint64
	sinkK []KeyDegree
)

func BenchmarkDegreeInsert(b *testing.B) {
	ps := benchPairs()
	d, err := NewDegree(degreeMemory)
	if err != nil {
		b.Fatal(err)
	}
	// Warm up with one pass, so that the table is in its steady state.
	for _, p := range ps {
		d.Insert(p[0], p[1])
	}
	b.SetBytes(16)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p := ps[i&(len(ps)-1)]
		d.Insert(p[0], p[1])
		i++
	}
	sinkF = d.Estimate(ps[0][0])
}

func BenchmarkDegreeEstimate(b *testing.B) {
	ps := benchPairs()
	d, _ := NewDegree(degreeMemory)
	for _, p := range ps {
		d.Insert(p[0], p[1])
	}
	var heavy []uint64
	for _, kd := range d.Over(0, nil) {
		heavy = append(heavy, kd.Key)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sinkF += d.Estimate(heavy[i%len(heavy)])
		i++
	}
}

func BenchmarkDegreeOver(b *testing.B) {
	ps := benchPairs()
	d, _ := NewDegree(degreeMemory)
	for _, p := range ps {
		d.Insert(p[0], p[1])
	}
	dst := make([]KeyDegree, 0, d.Capacity())
	b.ReportAllocs()
	for b.Loop() {
		dst = d.Over(1000, dst[:0])
	}
	sinkK = dst
}

func BenchmarkCountMinAdd(b *testing.B) {
	ps := benchPairs()
	c, err := NewCountMin(DefaultCountMinDepth, DefaultCountMinWidth)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(8)
	b.ReportAllocs()
	i := 0
	var s uint64
	for b.Loop() {
		p := ps[i&(len(ps)-1)]
		s += uint64(c.Add(p[0] ^ p[1]))
		i++
	}
	sinkU = s
}

func BenchmarkHLLInsert(b *testing.B) {
	ps := benchPairs()
	h, err := NewHLL(14)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(8)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.Insert(ps[i&(len(ps)-1)][0])
		i++
	}
	sinkU = h.Estimate()
}

func BenchmarkHLLEstimate(b *testing.B) {
	h, _ := NewHLL(14)
	for i := range uint64(1e6) {
		h.Insert(mix(i))
	}
	b.ReportAllocs()
	for b.Loop() {
		sinkU += h.Estimate()
	}
}

func BenchmarkQuantilesAdd(b *testing.B) {
	ps := benchPairs()
	q, err := NewQuantiles(0.01, 2048)
	if err != nil {
		b.Fatal(err)
	}
	vals := make([]float64, 1<<16)
	for i := range vals {
		vals[i] = float64(1 + ps[i][0]%100_000)
	}
	b.SetBytes(8)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q.Add(vals[i&(len(vals)-1)])
		i++
	}
	sinkF = q.Quantile(0.5)
}
