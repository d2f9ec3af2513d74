package fields

import "unsafe"

// Word-at-a-time (SWAR) helpers. The scanner looks at 8 bytes at once and
// marks bytes by setting their high bit.

const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	lows   = 0x7f7f7f7f7f7f7f7f
	spaces = ones * ' '
)

// load64 reads doc[i:i+8] as a little-endian word; the caller has checked
// the bounds.
func load64(doc []byte, i int) uint64 {
	return *(*uint64)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(doc)), i))
}

// word reads doc[i:i+8], padded with spaces past the end of doc (a space
// is neither a quote nor a control character).
func word(doc []byte, i int) uint64 {
	if i+8 <= len(doc) {
		return load64(doc, i)
	}
	return tailWord(doc, i)
}

func tailWord(doc []byte, i int) uint64 {
	if i >= len(doc) {
		return spaces
	}
	if len(doc) < 8 {
		x := uint64(spaces)
		for j := len(doc) - 1; j >= i; j-- {
			x = x<<8 | uint64(doc[j])
		}
		return x
	}
	past := uint(i + 8 - len(doc)) // 1..7 bytes past the end
	return load64(doc, len(doc)-8)>>(8*past) | spaces<<(64-8*past)
}

// quoteBits marks the bytes of x that are '"', exactly.
func quoteBits(x uint64) uint64 {
	q := x ^ (ones * '"')
	return ^((q&lows + lows) | q) & highs
}

// controlBits marks the bytes of x below 0x20. A byte just above a marked
// one may be marked too when it is at most 0x20 (the borrow runs on); a
// quote stops it, so within a string the marks are exact.
func controlBits(x uint64) uint64 {
	return (x - ones*0x20) &^ x & highs
}

// specials has the high bit set in each byte of x that is '"', '\\' or
// below 0x20. Bytes above the lowest match may be false positives, so
// only the lowest set bit is meaningful.
func specials(x uint64) uint64 {
	q := x ^ (ones * '"')
	b := x ^ (ones * '\\')
	return ((q-ones)&^q | (b-ones)&^b | (x-ones*0x20)&^x) & highs
}
