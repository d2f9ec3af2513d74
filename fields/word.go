package fields

import "unsafe"

// Word-at-a-time (SWAR) helpers: the scanner looks at 8 bytes at once and
// marks bytes by setting their high bit.

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// load64 reads doc[i:i+8] as a little-endian word; the caller has checked
// the bounds.
func load64(doc []byte, i int) uint64 {
	return *(*uint64)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(doc)), i))
}

// quotes marks the quotes of x. Only the lowest mark is exact: the borrow
// of the subtraction also marks a '#' right after a quote.
func quotes(x uint64) uint64 {
	q := x ^ (ones * '"')
	return (q - ones) &^ q & highs
}

// special marks the backslashes and control characters of x, in the high
// bit of each byte (the other bits are noise: mask with highs). As with
// quotes, only the lowest mark is exact; a mark is always above an exact
// one, so "no mark below i" is exact.
func special(x uint64) uint64 {
	b := x ^ (ones * '\\')
	return (b-ones)&^b | (x-ones*0x20)&^x
}

// marks returns the quotes, backslashes and control characters of x, and
// the quotes alone. The lowest mark is a quote when m&-m&qm != 0.
func marks(x uint64) (m, qm uint64) {
	qm = quotes(x)
	return qm | special(x)&highs, qm
}

// load32 reads doc[i:i+4] as a little-endian word; the caller has checked
// the bounds.
func load32(doc []byte, i int) uint32 {
	return *(*uint32)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(doc)), i))
}

// load16 reads doc[i:i+2] as a little-endian word; the caller has checked
// the bounds.
func load16(doc []byte, i int) uint16 {
	return *(*uint16)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(doc)), i))
}

// at returns doc[i]; the caller has checked the bounds.
func at(doc []byte, i int) byte {
	return *(*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(doc)), i))
}
