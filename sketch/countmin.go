package sketch

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// Default CountMin size: 4 rows of 65,536 counters, 1 MiB.
const (
	DefaultCountMinDepth = 4
	DefaultCountMinWidth = 1 << 16
)

const (
	maxCountMinDepth = 16
	minCountMinWidth = 16
	maxCountMinWidth = 1 << 28
)

// CountMin counts how often each pair hash occurs: a count-min sketch of
// depth rows of width uint32 counters with conservative update (an Add only
// raises the counters that hold the minimum), which never under-counts and
// over-counts far less than plain count-min. Counters saturate at 2^32-1.
//
// Memory: 4·depth·width bytes, 1 MiB at the default 4 × 65,536. Error: never
// below the truth; the classic bound is an over-count of at most e·N/width
// (N = stream length) with probability 1-e^-depth. Measured at the default
// size on 10^7 Zipf pairs (9.1 million distinct): 99% of pairs over-counted
// by at most 69, 0.0007% of N (the bound asked is 1%), at most 71; the
// same after merging two halves. The over-count grows with the distinct
// pairs per counter (here 35): to tell a pair seen 3 times from one seen
// once, keep the distinct pairs of a window below width, for example with
// Reset at each window. Speed: Add 20 ns, Count 10 ns, no allocation
// (the 4 rows miss the cache independently).
// Measured with
//
//	go test -run 'TestCountMin' -bench 'CountMin' -benchmem -v ./sketch/
type CountMin struct {
	counts []uint32 // depth rows of width counters
	mask   uint32
	depth  int
	total  uint64
}

// NewCountMin returns an empty CountMin of depth rows (1 to 16) of width
// counters (a power of two from 16 to 2^28).
func NewCountMin(depth, width int) (*CountMin, error) {
	if depth < 1 || depth > maxCountMinDepth {
		return nil, fmt.Errorf("cannot create CountMin: depth %d outside [1, %d]: %w", depth, maxCountMinDepth, ErrInvalid)
	}
	if width < minCountMinWidth || width > maxCountMinWidth || width&(width-1) != 0 {
		return nil, fmt.Errorf("cannot create CountMin: width %d not a power of two in [%d, %d]: %w",
			width, minCountMinWidth, maxCountMinWidth, ErrInvalid)
	}
	return &CountMin{counts: make([]uint32, depth*width), mask: uint32(width - 1), depth: depth}, nil
}

// Depth returns the number of rows.
func (c *CountMin) Depth() int { return c.depth }

// Width returns the number of counters per row.
func (c *CountMin) Width() int { return int(c.mask) + 1 }

// Total returns the number of Adds (the stream length N), saturating.
func (c *CountMin) Total() uint64 { return c.total }

// Add counts one occurrence of the pair hash and returns its estimated count
// including this one, so that a caller can track the largest repeat on the
// fly.
func (c *CountMin) Add(hash uint64) uint32 {
	// Row i uses h1 + i·h2 (Kirsch–Mitzenmacher): one hash feeds every row.
	h1, h2 := uint32(hash), uint32(hash>>32)|1
	w := int(c.mask) + 1
	lo := uint32(math.MaxUint32)
	for i, row := 0, 0; i < c.depth; i, row = i+1, row+w {
		lo = min(lo, c.counts[row+int((h1+uint32(i)*h2)&c.mask)])
	}
	if c.total != math.MaxUint64 {
		c.total++
	}
	if lo == math.MaxUint32 {
		return lo
	}
	lo++
	for i, row := 0, 0; i < c.depth; i, row = i+1, row+w {
		p := &c.counts[row+int((h1+uint32(i)*h2)&c.mask)]
		*p = max(*p, lo)
	}
	return lo
}

// Count returns the estimated number of Adds of hash: never below the truth.
func (c *CountMin) Count(hash uint64) uint32 {
	h1, h2 := uint32(hash), uint32(hash>>32)|1
	w := int(c.mask) + 1
	lo := uint32(math.MaxUint32)
	for i, row := 0, 0; i < c.depth; i, row = i+1, row+w {
		lo = min(lo, c.counts[row+int((h1+uint32(i)*h2)&c.mask)])
	}
	return lo
}

// Merge folds o into c as if c had seen both streams. Counters add
// (saturating); the result still never under-counts.
func (c *CountMin) Merge(o *CountMin) error {
	if c.depth != o.depth || c.mask != o.mask {
		return fmt.Errorf("cannot merge CountMin: %d×%d and %d×%d: %w",
			c.depth, c.Width(), o.depth, o.Width(), ErrMismatch)
	}
	for i, v := range o.counts {
		s, carry := bits.Add32(c.counts[i], v, 0)
		if carry != 0 {
			s = math.MaxUint32
		}
		c.counts[i] = s
	}
	t, carry := bits.Add64(c.total, o.total, 0)
	if carry != 0 {
		t = math.MaxUint64
	}
	c.total = t
	return nil
}

// Reset empties c without allocating.
func (c *CountMin) Reset() {
	clear(c.counts)
	c.total = 0
}

// AppendBinary implements encoding.BinaryAppender: version, kind, depth,
// log2 width, total, then the counters as little-endian uint32.
func (c *CountMin) AppendBinary(dst []byte) ([]byte, error) {
	dst = append(dst, version, kindCountMin, uint8(c.depth), uint8(bits.Len32(c.mask)))
	dst = binary.LittleEndian.AppendUint64(dst, c.total)
	for _, v := range c.counts {
		dst = binary.LittleEndian.AppendUint32(dst, v)
	}
	return dst, nil
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (c *CountMin) MarshalBinary() ([]byte, error) {
	return c.AppendBinary(make([]byte, 0, 12+4*len(c.counts)))
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It accepts any
// valid size; on error c is unchanged.
func (c *CountMin) UnmarshalBinary(data []byte) error {
	if err := checkHeader(data, kindCountMin, "CountMin"); err != nil {
		return err
	}
	r := reader{b: data[2:]}
	depth, logw := int(r.u8()), int(r.u8())
	total := r.u64()
	if r.bad || depth < 1 || depth > maxCountMinDepth || logw < 4 || logw > 28 {
		return fmt.Errorf("cannot unmarshal CountMin: bad header: %w", ErrCorrupt)
	}
	n := depth << logw
	if len(r.b) != 4*n {
		return fmt.Errorf("cannot unmarshal CountMin: %d counter bytes for %d×%d: %w", len(r.b), depth, 1<<logw, ErrCorrupt)
	}
	if len(c.counts) != n {
		c.counts = make([]uint32, n)
	}
	for i := range c.counts {
		c.counts[i] = binary.LittleEndian.Uint32(r.b[4*i:])
	}
	c.depth, c.mask, c.total = depth, uint32(1)<<logw-1, total
	return nil
}
