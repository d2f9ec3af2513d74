package sketch

import (
	"math/rand/v2"
	"sync"
	"testing"
)

// benchPairs is 2^22 hashed pairs from the distribution of zipfStream (keys
// Zipf(1.1) over 10^6, neighbors uniform over 10^6): a realistic mix of
// heavy keys (candidates) and mice (filter).
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
	sinkB []byte
)

// warmDegree returns a sketch that has seen one pass of benchPairs.
func warmDegree(b *testing.B, memory int) *Degree {
	d := newTestDegree(b, memory)
	for _, p := range benchPairs() {
		d.Insert(p[0], p[1])
	}
	return d
}

// BenchmarkDegreeInsert inserts the Zipf stream into a warm sketch. Every
// lap over the 2^22 pairs salts the neighbors, so that inserts keep bringing
// new neighbors (and register updates) as a live stream does.
func BenchmarkDegreeInsert(b *testing.B) {
	for _, c := range []struct {
		name   string
		memory int
	}{{"4MiB", accuracyMemory}, {"8MiB", 8 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			ps := benchPairs()
			d := warmDegree(b, c.memory)
			b.SetBytes(16)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := ps[i&(len(ps)-1)]
				d.Insert(p[0], p[1]^mix(uint64(i>>22)))
				i++
			}
			sinkF = d.Estimate(ps[0][0])
		})
	}
	// Hot: 64 candidate keys whose registers stay in cache, the cost of the
	// code alone.
	b.Run("hot", func(b *testing.B) {
		d := newTestDegree(b, accuracyMemory)
		for k := range uint64(64) {
			for n := range uint64(20) {
				d.Insert(keyHash(k), neighborHash(n))
			}
		}
		b.SetBytes(16)
		b.ReportAllocs()
		i := uint64(0)
		for b.Loop() {
			d.Insert(keyHash(i&63), i)
			i++
		}
	})
}

func BenchmarkDegreeEstimate(b *testing.B) {
	d := warmDegree(b, accuracyMemory)
	var keys []uint64
	for k := range d.All() {
		keys = append(keys, k)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sinkF += d.Estimate(keys[i%len(keys)])
		i++
	}
}

func BenchmarkDegreeOver(b *testing.B) {
	d := warmDegree(b, accuracyMemory)
	dst := make([]KeyDegree, 0, d.Capacity())
	b.ReportAllocs()
	for b.Loop() {
		dst = d.Over(1000, dst[:0])
	}
	sinkK = dst
}

func BenchmarkDegreeMerge(b *testing.B) {
	d, o := warmDegree(b, accuracyMemory), warmDegree(b, accuracyMemory)
	b.ReportAllocs()
	for b.Loop() {
		if err := d.Merge(o); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDegreeMarshal(b *testing.B) {
	d := warmDegree(b, accuracyMemory)
	buf, _ := d.AppendBinary(nil)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = d.AppendBinary(buf[:0])
	}
	sinkB = buf
}

func BenchmarkDegreeUnmarshal(b *testing.B) {
	d := warmDegree(b, accuracyMemory)
	buf, _ := d.MarshalBinary()
	e := newTestDegree(b, accuracyMemory)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if err := e.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCountMinAdd(b *testing.B) {
	ps := benchPairs()
	c := newTestCountMin(b)
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

func BenchmarkCountMinCount(b *testing.B) {
	ps := benchPairs()
	c := newTestCountMin(b)
	for _, p := range ps {
		c.Add(p[0] ^ p[1])
	}
	b.ReportAllocs()
	i := 0
	var s uint64
	for b.Loop() {
		p := ps[i&(len(ps)-1)]
		s += uint64(c.Count(p[0] ^ p[1]))
		i++
	}
	sinkU = s
}

func BenchmarkHLLInsert(b *testing.B) {
	ps := benchPairs()
	h := mustHLL(b, 14)
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
	h := mustHLL(b, 14)
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
	q := mustQuantiles(b, 0.01, 2048)
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

func BenchmarkQuantilesQuantile(b *testing.B) {
	q := mustQuantiles(b, 0.01, 2048)
	for i := range 100_000 {
		q.Add(float64(1 + mix(uint64(i))%100_000))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sinkF += q.Quantile(float64(i%100) / 100)
		i++
	}
}
