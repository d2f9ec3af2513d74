package arrowrows

import (
	"encoding/binary"
	"math"
	"math/bits"
	"strconv"
)

// appendDecimal appends the decimal text of a little-endian two's
// complement integer of 4, 8, 16 or 32 bytes, scaled by 10^-scale:
// "-12.345", "0.001"; a negative scale (or one beyond 100) is written as an
// exponent, "12e3".
func appendDecimal(dst, b []byte, scale int32) []byte {
	var limbs [4]uint64 // little-endian 64-bit limbs
	n := (len(b) + 7) / 8
	switch len(b) {
	case 4:
		limbs[0] = uint64(int64(int32(binary.LittleEndian.Uint32(b))))
		n = 1
	default:
		for i := range n {
			limbs[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
	}
	neg := int64(limbs[n-1]) < 0
	if neg { // two's complement: invert and add one
		carry := uint64(1)
		for i := range n {
			limbs[i], carry = bits.Add64(^limbs[i], 0, carry)
		}
	}
	// Digits, least significant first, by repeated division by 10^19.
	var digits [80]byte
	nd := 0
	for {
		var rem uint64
		zero := true
		for i := n - 1; i >= 0; i-- {
			limbs[i], rem = bits.Div64(rem, limbs[i], 1e19)
			if limbs[i] != 0 {
				zero = false
			}
		}
		for k := 0; k < 19 && (rem != 0 || !zero); k++ {
			digits[nd] = byte('0' + rem%10)
			rem /= 10
			nd++
		}
		if zero {
			break
		}
	}
	if nd == 0 {
		digits[0], nd = '0', 1
	}
	if neg && !(nd == 1 && digits[0] == '0') {
		dst = append(dst, '-')
	}
	if scale <= 0 || scale > 100 {
		// A negative (or absurd) scale is an exponent: "12e3", valid JSON.
		for i := nd - 1; i >= 0; i-- {
			dst = append(dst, digits[i])
		}
		if scale != 0 {
			dst = append(dst, 'e')
			dst = strconv.AppendInt(dst, -int64(scale), 10)
		}
		return dst
	}
	s := int(scale)
	if nd <= s {
		dst = append(dst, '0', '.')
		for range s - nd {
			dst = append(dst, '0')
		}
		for i := nd - 1; i >= 0; i-- {
			dst = append(dst, digits[i])
		}
		return dst
	}
	for i := nd - 1; i >= 0; i-- {
		dst = append(dst, digits[i])
		if i == s {
			dst = append(dst, '.')
		}
	}
	return dst
}

// halfToFloat converts an IEEE 754 half-precision float.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalize
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// appendFloat appends f as encoding/json writes a float of bitSize bits:
// the shortest text that reads back as f, in fixed notation from 1e-6 up
// to 1e21 and in exponent notation ("1e-07", "1e+21") beyond. NaN and ±Inf,
// which JSON has no text for, come out as strconv writes them.
func appendFloat(dst []byte, f float64, bitSize int) []byte {
	if bitSize == 64 && f != 0 {
		// Most values are short decimals: find the fewest fractional
		// digits k with which n/10^k is f. Both n and 10^k are exact in a
		// float64, so the division rounds correctly, as reading the text
		// back would: the text is right, and (being the fewest digits) the
		// same as strconv's shortest.
		for k := range 7 {
			n := math.Round(f * pow10[k])
			if math.Abs(n) >= 1<<53 {
				break
			}
			if n/pow10[k] == f {
				return appendFixed(dst, int64(n), k)
			}
		}
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (bitSize == 64 && (abs < 1e-6 || abs >= 1e21) || bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bitSize)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		if n := len(dst) - start; n >= 4 && dst[len(dst)-4] == 'e' && dst[len(dst)-3] == '-' && dst[len(dst)-2] == '0' {
			dst[len(dst)-2] = dst[len(dst)-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6}

// appendFixed appends n/10^k in fixed notation.
func appendFixed(dst []byte, n int64, k int) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	if k == 0 {
		return strconv.AppendInt(dst, n, 10)
	}
	var b [24]byte
	d := strconv.AppendInt(b[:0], n, 10)
	if len(d) <= k {
		dst = append(dst, '0', '.')
		for range k - len(d) {
			dst = append(dst, '0')
		}
		return append(dst, d...)
	}
	dst = append(dst, d[:len(d)-k]...)
	dst = append(dst, '.')
	return append(dst, d[len(d)-k:]...)
}
