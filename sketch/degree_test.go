package sketch

import (
	"testing"
	"time"
)

const degreeMemory = 8 << 20

func TestDegreeZipf(t *testing.T) {
	s := zipfStream()
	d, err := NewDegree(degreeMemory)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.insert(d, 0, len(s.pairs))
	t.Logf("%d pairs, %d keys: inserted in %v; memory %d bytes (%.2f MiB), %d candidates",
		len(s.pairs), len(s.degree), time.Since(start), d.MemoryBytes(), float64(d.MemoryBytes())/(1<<20), d.Capacity())
	if d.MemoryBytes() > degreeMemory {
		t.Errorf("memory %d > %d", d.MemoryBytes(), degreeMemory)
	}
	measure(d, s).check(t)
}

func TestDegreeGraph(t *testing.T) {
	s := graphStream(t)
	d, err := NewDegree(degreeMemory)
	if err != nil {
		t.Fatal(err)
	}
	s.insert(d, 0, len(s.pairs))
	t.Logf("SNAP ego-Facebook, both directions: %d pairs, %d keys", len(s.pairs), len(s.degree))
	measure(d, s).check(t)
}
