// Package sketch holds the fixed-memory streaming summaries behind the degree
// detector: per-key distinct-neighbor counts (Degree), pair multiplicities
// (CountMin), distinct keys (HLL) and the degree distribution (Quantiles).
//
// Every sketch takes uint64 hashes: the caller hashes each key or value once
// (for example with xxhash) and the sketches only slice the bits, so inputs
// must be well mixed. Every sketch has a fixed size chosen at construction,
// inserts without allocating, merges with a sketch of the same parameters,
// clears with Reset and round-trips through MarshalBinary/AppendBinary and
// UnmarshalBinary. Encodings start with a version byte and a kind byte.
//
// UnmarshalBinary validates the whole input before it touches the receiver:
// a rejected input leaves the sketch exactly as it was.
//
// Sketches are not safe for concurrent use; keep one per goroutine (for
// example one per partition) and Merge them.
package sketch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

var (
	// ErrInvalid reports a constructor parameter out of range.
	ErrInvalid = errors.New("invalid sketch parameter")
	// ErrMismatch reports a Merge of sketches built with different parameters.
	ErrMismatch = errors.New("sketch parameters differ")
	// ErrCorrupt reports an encoding that is truncated, of another kind or
	// inconsistent.
	ErrCorrupt = errors.New("malformed sketch encoding")
	// ErrVersion reports an encoding written by an unknown format version.
	ErrVersion = errors.New("unsupported sketch encoding version")
)

const version = 1

// Kind bytes follow the version byte, so that one sketch's bytes are never
// read as another's.
const (
	kindDegree    = 'D'
	kindCountMin  = 'C'
	kindHLL       = 'H'
	kindQuantiles = 'Q'
)

func checkHeader(data []byte, kind byte, what string) error {
	if len(data) < 2 {
		return fmt.Errorf("cannot unmarshal %s: %d bytes: %w", what, len(data), ErrCorrupt)
	}
	if data[0] != version {
		return fmt.Errorf("cannot unmarshal %s: version %d: %w", what, data[0], ErrVersion)
	}
	if data[1] != kind {
		return fmt.Errorf("cannot unmarshal %s: kind %q: %w", what, data[1], ErrCorrupt)
	}
	return nil
}

// reader decodes little-endian fields and remembers the first short read, so
// that decoders check once at the end.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.bad = true
		r.b = nil
		return make([]byte, max(n, 0))
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8   { return r.take(1)[0] }
func (r *reader) u32() uint32 { return binary.LittleEndian.Uint32(r.take(4)) }
func (r *reader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }
func (r *reader) f64() float64 {
	return math.Float64frombits(r.u64())
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad = true
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

// fastrange maps the low 32 bits of h onto [0, n) without a division.
func fastrange(h uint64, n uint64) uint64 {
	return (h & 0xffffffff) * n >> 32
}

// ertl is Ertl's improved raw estimator for HyperLogLog ("New cardinality
// estimation algorithms for HyperLogLog sketches", 2017): nearly unbiased
// from 0 to beyond 2^64 without empirical bias tables or a switch to linear
// counting. c is the histogram of register values 0..q+1 of m registers.
func ertl(c []uint32, m float64, q int) float64 {
	z := m * hllTau(1-float64(c[q+1])/m)
	for k := q; k >= 1; k-- {
		z = 0.5 * (z + float64(c[k]))
	}
	z += m * hllSigma(float64(c[0])/m)
	return m * m / (2 * math.Ln2) / z
}

func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		old := z
		z += x * y
		y += y
		if z == old {
			return z
		}
	}
}

func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		old := z
		y *= 0.5
		z -= (1 - x) * (1 - x) * y
		if z == old {
			return z / 3
		}
	}
}
