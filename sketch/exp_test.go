package sketch

import (
	"os"
	"strconv"
	"testing"
	"time"
)

func TestExpSplit(t *testing.T) {
	nc, _ := strconv.Atoi(os.Getenv("NC"))
	nf, _ := strconv.Atoi(os.Getenv("NF"))
	if nc == 0 {
		t.Skip()
	}
	s := zipfStream()
	d := newDegree(uint64(nc), uint64(nc*nf))
	start := time.Now()
	s.insert(d, 0, len(s.pairs))
	el := time.Since(start)
	ps := benchPairs()
	d2 := newDegree(uint64(nc), uint64(nc*nf))
	for _, p := range ps {
		d2.Insert(p[0], p[1])
	}
	st := time.Now()
	for _, p := range ps {
		d2.Insert(p[0], p[1])
	}
	t.Logf("cands %d filter slots %d mem %.2f MiB: insert %v (%.1f ns/op steady %.1f ns)", nc*8, nc*nf*4, float64(d.MemoryBytes())/(1<<20), el, float64(el.Nanoseconds())/1e7, float64(time.Since(st).Nanoseconds())/float64(len(ps)))
	a := measure(d, s)
	a.check(t)
}
