package sketch

import "testing"

func BenchmarkExpHot(b *testing.B) {
	d, _ := NewDegree(degreeMemory)
	keys := make([]uint64, 64)
	for i := range keys {
		keys[i] = keyHash(uint64(i))
		for j := range 20 {
			d.Insert(keys[i], neighborHash(uint64(j)))
		}
	}
	i := 0
	for b.Loop() {
		d.Insert(keys[i&63], neighborHash(uint64(i)))
		i++
	}
}

func BenchmarkExpMice(b *testing.B) {
	d := newDegree(1180, 1180*4)
	i := 0
	for b.Loop() {
		d.Insert(keyHash(uint64(i)), neighborHash(uint64(i)))
		i++
	}
}

func BenchmarkExpMix(b *testing.B) {
	ps := benchPairs()
	d := newDegree(1180, 1180*4)
	for _, p := range ps {
		d.Insert(p[0], p[1])
	}
	i := 0
	for b.Loop() {
		p := ps[i&(len(ps)-1)]
		d.Insert(p[0], p[1])
		i++
	}
}
