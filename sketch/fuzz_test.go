package sketch

import (
	"bytes"
	"encoding"
	"encoding/binary"
	"math"
	"testing"
)

// Each fuzz target feeds arbitrary bytes to UnmarshalBinary of a sketch that
// already holds data and checks that:
//   - nothing panics, then or on later use;
//   - a rejected input leaves the sketch exactly as it was (prior state kept);
//   - an accepted input round-trips: marshal, unmarshal, same bytes and
//     same estimates;
//   - the sketch keeps working: inserts, estimates, merges.
// Seeds are valid encodings; crashers found are kept in testdata/fuzz.

type sketchCodec interface {
	encoding.BinaryMarshaler
	encoding.BinaryUnmarshaler
	encoding.BinaryAppender
}

// unmarshalKeeps unmarshals data into s and, if rejected, checks that s is
// unchanged. It reports whether data was accepted.
func unmarshalKeeps(t *testing.T, s sketchCodec, data []byte) bool {
	t.Helper()
	before, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.UnmarshalBinary(data); err != nil {
		after, _ := s.MarshalBinary()
		if !bytes.Equal(before, after) {
			t.Fatalf("rejected input (%v) changed the sketch", err)
		}
		return false
	}
	return true
}

// roundTrip marshals s into fresh and checks that the bytes are stable.
func roundTrip(t *testing.T, s, fresh sketchCodec) {
	t.Helper()
	enc, err := s.AppendBinary(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := fresh.UnmarshalBinary(enc); err != nil {
		t.Fatalf("re-encoded sketch rejected: %v", err)
	}
	again, _ := fresh.MarshalBinary()
	if !bytes.Equal(enc, again) {
		t.Fatal("round trip changed the encoding")
	}
}

func fuzzDegree(t testing.TB) *Degree {
	d := newTestDegree(t, minDegreeMemory)
	for i := range uint64(300) {
		d.Insert(keyHash(i%13), neighborHash(i))
	}
	return d
}

func FuzzDegreeUnmarshal(f *testing.F) {
	d := fuzzDegree(f)
	data, _ := d.MarshalBinary()
	f.Add(data)
	e := newTestDegree(f, minDegreeMemory)
	data, _ = e.MarshalBinary()
	f.Add(data)
	for i := range uint64(300) { // pending slots and many candidates
		e.Insert(keyHash(i%40), neighborHash(i*7))
	}
	data, _ = e.MarshalBinary()
	f.Add(data)
	f.Add([]byte{version, kindDegree})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= 11 {
			// Up to 1 GiB is valid, but too slow to fuzz: TestDegreeUnmarshalLimits.
			m, ok := degreeSize(uint64(binary.LittleEndian.Uint32(data[3:])), uint64(binary.LittleEndian.Uint32(data[7:])))
			if ok && m > 16<<20 {
				t.Skip("large sketch")
			}
		}
		d := fuzzDegree(t)
		if unmarshalKeeps(t, d, data) {
			var fresh Degree
			roundTrip(t, d, &fresh)
			for c := range d.cand {
				if key := d.cand[c].key; key != 0 && fresh.Estimate(key) != d.Estimate(key) {
					t.Fatalf("candidate %d: estimate %v, %v after a round trip", c, d.Estimate(key), fresh.Estimate(key))
				}
			}
			for i := range uint64(30) {
				if k := keyHash(i); fresh.Estimate(k) != d.Estimate(k) {
					t.Fatal("estimate changed in a round trip")
				}
			}
		}
		for i := range uint64(100) {
			d.Insert(keyHash(i%11), neighborHash(i))
		}
		for k, e := range d.All() {
			if math.IsNaN(e) || e < 0 || e != d.Estimate(k) {
				t.Fatalf("key %x: estimate %v", k, e)
			}
		}
		d.Over(0, nil)
		o := newDegree(d.nCand, d.nFilt)
		for i := range uint64(100) {
			o.Insert(keyHash(i%7), neighborHash(i+1<<40))
		}
		if err := d.Merge(o); err != nil {
			t.Fatal(err)
		}
		if err := o.Merge(d); err != nil {
			t.Fatal(err)
		}
		d.Reset()
	})
}

func FuzzCountMinUnmarshal(f *testing.F) {
	c, _ := NewCountMin(2, 16)
	for i := range uint64(100) {
		c.Add(pairHash(i % 7))
	}
	data, _ := c.MarshalBinary()
	f.Add(data)
	c, _ = NewCountMin(1, 32)
	data, _ = c.MarshalBinary()
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _ := NewCountMin(3, 16)
		c.Add(1)
		if unmarshalKeeps(t, c, data) {
			var fresh CountMin
			roundTrip(t, c, &fresh)
			for i := range uint64(50) {
				if c.Count(pairHash(i)) != fresh.Count(pairHash(i)) {
					t.Fatal("count changed in a round trip")
				}
			}
		}
		for i := range uint64(50) {
			h := pairHash(i)
			before := c.Count(h)
			if got := c.Add(h); got < before || got != c.Count(h) {
				t.Fatalf("Add %d after Count %d, then Count %d", got, before, c.Count(h))
			}
		}
		o, _ := NewCountMin(c.Depth(), c.Width())
		if err := c.Merge(o); err != nil {
			t.Fatal(err)
		}
		c.Reset()
	})
}

func FuzzHLLUnmarshal(f *testing.F) {
	h, _ := NewHLL(4)
	for i := range uint64(100) {
		h.Insert(mix(i))
	}
	data, _ := h.MarshalBinary()
	f.Add(data)
	h, _ = NewHLL(6)
	data, _ = h.MarshalBinary()
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, _ := NewHLL(5)
		h.Insert(1)
		if unmarshalKeeps(t, h, data) {
			var fresh HLL
			roundTrip(t, h, &fresh)
			if h.Estimate() != fresh.Estimate() {
				t.Fatal("estimate changed in a round trip")
			}
		}
		before := h.Estimate()
		for i := range uint64(100) {
			h.Insert(mix(i))
		}
		if h.Estimate() < before/2 {
			t.Fatalf("estimate fell from %d to %d on inserts", before, h.Estimate())
		}
		o, _ := NewHLL(h.Precision())
		if err := h.Merge(o); err != nil {
			t.Fatal(err)
		}
		h.Reset()
	})
}

func FuzzQuantilesUnmarshal(f *testing.F) {
	q, _ := NewQuantiles(0.05, 16)
	for i := range 100 {
		q.Add(float64(i*i) - 50)
	}
	data, _ := q.MarshalBinary()
	f.Add(data)
	q, _ = NewQuantiles(0.01, 32)
	data, _ = q.MarshalBinary()
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		q, _ := NewQuantiles(0.02, 16)
		q.Add(3)
		if unmarshalKeeps(t, q, data) {
			var fresh Quantiles
			roundTrip(t, q, &fresh)
			for i := 0; i <= 10; i++ {
				a, b := q.Quantile(float64(i)/10), fresh.Quantile(float64(i)/10)
				if a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
					t.Fatalf("quantile %v changed in a round trip: %v, %v", float64(i)/10, a, b)
				}
			}
		}
		for i := range 100 {
			q.Add(float64(i) * 1e10)
			q.Add(-float64(i) / 1e10)
		}
		lo, hi := q.Quantile(0), q.Quantile(1)
		for i := 0; i <= 10; i++ {
			if v := q.Quantile(float64(i) / 10); !(v >= lo && v <= hi) {
				t.Fatalf("quantile %v = %v outside [%v, %v]", float64(i)/10, v, lo, hi)
			}
		}
		o, _ := NewQuantiles(q.Alpha(), q.MaxBins())
		o.Add(1)
		if err := q.Merge(o); err != nil {
			t.Fatal(err)
		}
		q.Reset()
	})
}
