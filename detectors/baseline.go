package detectors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/fields"
	"github.com/sluicehq/sluice/sketch"
)

// This file holds what the degree and variance detectors share: hashing of
// field values, the open-addressing tables behind their exact counts, the
// learned baselines of variance metrics, and a reader for their state.

// fib is 2^64/φ: multiplying by it spreads a hash's entropy into its top
// bits, which index the tables (Fibonacci hashing).
const fib = 0x9e3779b97f4a7c15

// nonzero maps a hash of 0 to another value: tables use 0 for an empty slot.
func nonzero(h uint64) uint64 {
	if h == 0 {
		return fib
	}
	return h
}

// mix64 combines two hashes into one, well mixed (murmur3's finalizer), so
// that (a, b) and (b, a) differ and a pair hash indexes a table evenly.
func mix64(a, b uint64) uint64 {
	h := a ^ bits.RotateLeft64(b*fib, 31)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// combine folds hash x into h, order-sensitively, with one multiply: for
// a hash of several hashes that only keys a table (a record's duplicate
// hash), where mix64's full finalizer would buy nothing.
func combine(h, x uint64) uint64 {
	return bits.RotateLeft64((h^x)*0x9fb21c651e98df25, 29)
}

// textHash hashes the text of a value: the unescaped text of a string,
// the literal of anything else. scratch holds the unescaped text of an
// escaped string and grows to the longest seen.
func textHash(v *fields.Value, scratch *[]byte) uint64 {
	if !v.Escaped {
		return bytesHash(v.Raw)
	}
	t := v.Text((*scratch)[:0])
	if cap(t) > cap(*scratch) {
		*scratch = t[:0]
	}
	return bytesHash(t)
}

// bytesHash hashes p. Field values are mostly short (ids, numbers,
// names): up to 16 bytes take two 64×64→128-bit multiplies (wyhash's
// construction), about half xxhash's time there; longer ones take
// xxhash.
func bytesHash(p []byte) uint64 {
	const k0, k1 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db
	n := len(p)
	var a, b uint64
	switch {
	case n > 16:
		return xxhash.Sum64(p)
	case n >= 8: // the first and the last 8 bytes, overlapping
		a, b = binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[n-8:])
	case n >= 4:
		a, b = uint64(binary.LittleEndian.Uint32(p)), uint64(binary.LittleEndian.Uint32(p[n-4:]))
	case n > 0:
		a = uint64(p[0])<<16 | uint64(p[n>>1])<<8 | uint64(p[n-1])
	}
	return mum(k1^uint64(n), mum(a^k1, b^k0))
}

// mum folds the 128-bit product of a and b to 64 bits.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// absent reports whether a field has no value: missing or JSON null.
func absent(v *fields.Value) bool { return v.Kind == fields.Missing || v.Kind == fields.Null }

// minTableBits sizes a new table: 1,024 slots.
const minTableBits = 10

// distinctSet counts distinct hashes: exactly, in an open-addressing set
// that grows to the largest batch seen and is reused from batch to batch,
// up to limit hashes; beyond that with a HyperLogLog (p = 14, about 0.8%
// error), built on first need and kept.
type distinctSet struct {
	slots []uint64
	shift uint // 64 - log2(len(slots))
	n     int
	limit int
	hll   *sketch.HLL
	// approx is set once the batch passed limit: counts come from hll.
	approx bool
}

func newDistinctSet(limit int) distinctSet {
	return distinctSet{slots: make([]uint64, 1<<minTableBits), shift: 64 - minTableBits, limit: limit}
}

// add counts h. It allocates only when the set grows past its largest
// size so far, or switches to the HyperLogLog for the first time.
func (s *distinctSet) add(h uint64) {
	if s.approx {
		s.hll.Insert(h)
		return
	}
	h = nonzero(h)
	mask := len(s.slots) - 1
	i := int((h * fib) >> s.shift)
	for {
		switch s.slots[i] {
		case h:
			return
		case 0:
			if 4*(s.n+1) > 3*len(s.slots) {
				if !s.grow() {
					s.toHLL()
					s.hll.Insert(h)
					return
				}
				s.add(h)
				return
			}
			s.slots[i] = h
			s.n++
			return
		}
		i = (i + 1) & mask
	}
}

// grow doubles the table, unless that would pass limit.
func (s *distinctSet) grow() bool {
	if s.n+1 > s.limit {
		return false
	}
	old := s.slots
	s.slots = make([]uint64, 2*len(old))
	s.shift--
	mask := len(s.slots) - 1
	for _, h := range old {
		if h == 0 {
			continue
		}
		i := int((h * fib) >> s.shift)
		for s.slots[i] != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = h
	}
	return true
}

func (s *distinctSet) toHLL() {
	if s.hll == nil {
		s.hll, _ = sketch.NewHLL(14) // 14 is in range: no error
	}
	for _, h := range s.slots {
		if h != 0 {
			s.hll.Insert(h)
		}
	}
	s.approx = true
}

// count returns the number of distinct hashes added since reset.
func (s *distinctSet) count() float64 {
	if s.approx {
		return float64(s.hll.Estimate())
	}
	return float64(s.n)
}

func (s *distinctSet) reset() {
	if s.n > 0 {
		clear(s.slots)
	}
	s.n = 0
	if s.approx {
		s.hll.Reset()
		s.approx = false
	}
}

// The learned baseline of one variance metric (in one hour of the day, with
// seasonality).

// Baseline methods.
const (
	methodRobust = iota // median and MAD of the last window values
	methodEWMA          // exponentially weighted mean and variance
)

// madScale makes the MAD of normal data estimate its standard deviation.
const madScale = 1.4826

// maxLearned caps the batch count of a history, so it fits its encoding.
const maxLearned = 1 << 30

// varHistory is what one metric has learned. Robust values are kept as
// float32: a restored history is then bit for bit the one saved, and half
// the size, at a precision (7 digits) far beyond what a batch statistic
// carries.
type varHistory struct {
	vals []float32 // robust: ring of the last window values
	head int       // robust: where the next value goes
	mean float64   // ewma
	vari float64   // ewma
	n    int       // values learned, up to the window for robust
}

func (h *varHistory) add(x float64, method int, alpha float64) {
	if method == methodRobust {
		h.vals[h.head] = float32(x)
		h.head = (h.head + 1) % len(h.vals)
		h.n = min(h.n+1, len(h.vals))
		return
	}
	// The weight starts at 1/n, so early batches give the plain mean and
	// variance rather than one batch dominating, then settles at alpha.
	n := min(h.n+1, maxLearned)
	a := max(alpha, 1/float64(n))
	d := x - h.mean
	mean, vari := h.mean+a*d, (1-a)*(h.vari+a*d*d)
	if math.IsInf(mean, 0) || math.IsInf(vari, 0) || math.IsNaN(mean+vari) {
		return // beyond float64: keep what was learned
	}
	h.n, h.mean, h.vari = n, mean, vari
}

// center and spread of what was learned: the median and madScale × MAD,
// or the EWMA mean and standard deviation. scratch is reused.
func (h *varHistory) estimate(method int, scratch *[]float64) (center, spread float64) {
	if h.n == 0 {
		return math.NaN(), math.NaN()
	}
	if method == methodEWMA {
		return h.mean, math.Sqrt(h.vari)
	}
	s := (*scratch)[:0]
	for _, v := range h.vals[:h.n] {
		s = append(s, float64(v))
	}
	slices.Sort(s)
	center = medianOf(s)
	for i, v := range s {
		s[i] = math.Abs(v - center)
	}
	slices.Sort(s)
	*scratch = s
	return center, madScale * medianOf(s)
}

func medianOf(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// appendHistory: uvarint n, then for robust the n values oldest first as
// float32, for ewma mean and variance as float64; all little-endian.
func (h *varHistory) append(dst []byte, method int) []byte {
	dst = binary.AppendUvarint(dst, uint64(h.n))
	if h.n == 0 {
		return dst
	}
	if method == methodEWMA {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(h.mean))
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(h.vari))
	}
	start := (h.head - h.n + len(h.vals)) % len(h.vals)
	for i := range h.n {
		dst = binary.LittleEndian.AppendUint32(dst, math.Float32bits(h.vals[(start+i)%len(h.vals)]))
	}
	return dst
}

// parseHistory reads what append wrote into h, whose vals has the
// window's length. It checks values are finite and counts in range.
func (h *varHistory) parse(r *stateReader, method int) {
	n := r.uvarint()
	if r.err != nil {
		return
	}
	switch {
	case n == 0:
		return
	case method == methodRobust && n > uint64(len(h.vals)), n > maxLearned:
		r.fail("history of %d values", n)
		return
	}
	h.n = int(n)
	if method == methodEWMA {
		h.mean, h.vari = r.float64(), r.float64()
		if r.err == nil && (math.IsInf(h.mean, 0) || math.IsNaN(h.mean) || !(h.vari >= 0) || math.IsInf(h.vari, 0)) {
			r.fail("ewma mean %v, variance %v", h.mean, h.vari)
		}
		return
	}
	for i := range h.n {
		v := r.float32()
		if math.IsInf(float64(v), 0) || math.IsNaN(float64(v)) {
			r.fail("value %v", v)
			return
		}
		h.vals[i] = v
	}
	h.head = h.n % len(h.vals)
}

// stateReader reads a detector's state, remembering the first error.
type stateReader struct {
	b   []byte
	err error
}

var errStateTruncated = errors.New("truncated")

func (r *stateReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *stateReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = errStateTruncated
		return nil
	}
	b := r.b[:n]
	r.b = r.b[n:]
	return b
}

func (r *stateReader) byte() byte {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *stateReader) uint64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *stateReader) float64() float64 { return math.Float64frombits(r.uint64()) }

func (r *stateReader) float32() float32 {
	if b := r.take(4); b != nil {
		return math.Float32frombits(binary.LittleEndian.Uint32(b))
	}
	return 0
}

func (r *stateReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errStateTruncated
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes reads a uvarint length and that many bytes.
func (r *stateReader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail("length %d beyond the %d bytes left", n, len(r.b))
		return nil
	}
	return r.take(int(n))
}

// done fails when bytes are left over.
func (r *stateReader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%d trailing bytes", len(r.b))
	}
	return r.err
}
