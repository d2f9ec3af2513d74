package sketch

import (
	"fmt"
	"math/bits"
)

// Precision limits of HLL.
const (
	MinHLLPrecision = 4
	MaxHLLPrecision = 18
)

// HLL is a HyperLogLog counter of distinct hashes with 2^p one-byte registers
// and Ertl's improved estimator, which needs no bias tables and no switch to
// linear counting.
//
// Memory: 2^p bytes, 16 KiB at p = 14. Error: relative standard error
// 1.04/sqrt(2^p), 0.81% at p = 14; measured at p = 14: 0.60% at 1,000
// distinct hashes, 0.44% at 10^6, and 0.42% on the 561,757 distinct keys of
// 10^7 Zipf pairs; the merge of two halves equals the whole exactly. Speed:
// Insert 2.9 ns (inlined), no allocation; Estimate 9.3 µs at p = 14.
// Measured with
//
//	go test -run 'TestHLL' -bench 'HLL' -benchmem -v ./sketch/
type HLL struct {
	regs []uint8
	p    uint8
}

// NewHLL returns an empty HLL with 2^precision registers, precision in
// [MinHLLPrecision, MaxHLLPrecision].
func NewHLL(precision uint8) (*HLL, error) {
	if precision < MinHLLPrecision || precision > MaxHLLPrecision {
		return nil, fmt.Errorf("cannot create HLL: precision %d outside [%d, %d]: %w",
			precision, MinHLLPrecision, MaxHLLPrecision, ErrInvalid)
	}
	return &HLL{regs: make([]uint8, 1<<precision), p: precision}, nil
}

// Precision returns p: the HLL has 2^p registers.
func (h *HLL) Precision() uint8 { return h.p }

// Insert adds a hash.
func (h *HLL) Insert(hash uint64) {
	// The top p bits pick the register; the guard bit caps the rank at 65-p.
	rho := uint8(bits.LeadingZeros64(hash<<h.p|1<<(h.p-1))) + 1
	r := &h.regs[hash>>(64-h.p)]
	if rho > *r {
		*r = rho
	}
}

// Estimate returns the estimated number of distinct hashes inserted.
func (h *HLL) Estimate() uint64 {
	var c [66]uint32
	for _, r := range h.regs {
		c[r]++
	}
	q := 64 - int(h.p)
	return uint64(ertl(c[:q+2], float64(len(h.regs)), q) + 0.5)
}

// Merge folds o into h, so that h counts the union of both streams.
func (h *HLL) Merge(o *HLL) error {
	if h.p != o.p {
		return fmt.Errorf("cannot merge HLL: precision %d and %d: %w", h.p, o.p, ErrMismatch)
	}
	for i, r := range o.regs {
		h.regs[i] = max(h.regs[i], r)
	}
	return nil
}

// Reset empties h without allocating.
func (h *HLL) Reset() { clear(h.regs) }

// AppendBinary implements encoding.BinaryAppender: version, kind, p, then
// one byte per register.
func (h *HLL) AppendBinary(dst []byte) ([]byte, error) {
	dst = append(dst, version, kindHLL, h.p)
	return append(dst, h.regs...), nil
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (h *HLL) MarshalBinary() ([]byte, error) {
	return h.AppendBinary(make([]byte, 0, 3+len(h.regs)))
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It accepts any
// precision; on error h is unchanged.
func (h *HLL) UnmarshalBinary(data []byte) error {
	if err := checkHeader(data, kindHLL, "HLL"); err != nil {
		return err
	}
	if len(data) < 3 || data[2] < MinHLLPrecision || data[2] > MaxHLLPrecision {
		return fmt.Errorf("cannot unmarshal HLL: bad precision: %w", ErrCorrupt)
	}
	p := data[2]
	regs := data[3:]
	if len(regs) != 1<<p {
		return fmt.Errorf("cannot unmarshal HLL: %d registers for precision %d: %w", len(regs), p, ErrCorrupt)
	}
	for _, r := range regs {
		if r > 65-p {
			return fmt.Errorf("cannot unmarshal HLL: register %d above %d: %w", r, 65-p, ErrCorrupt)
		}
	}
	if len(h.regs) != len(regs) {
		h.regs = make([]uint8, len(regs))
	}
	copy(h.regs, regs)
	h.p = p
	return nil
}
