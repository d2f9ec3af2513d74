package fields

import (
	"encoding/binary"
	"math/bits"
)

// The lexical pieces of JSON. Strings are checked here only on the slow
// path (escapes, control characters, a string near the end of the
// record); the scanner finds the end of plain strings itself.

var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func skipSpace(doc []byte, i int) int {
	for i < len(doc) && doc[i] <= ' ' && space[doc[i]] {
		i++
	}
	return i
}

// scanString scans the body of a string starting at doc[i] and returns the
// index of the closing quote, whether the body has escapes, and on error
// the offset and what went wrong.
func scanString(doc []byte, i int) (int, bool, code) {
	esc := false
	for {
		for ; i+8 <= len(doc); i += 8 {
			if m, qm := marks(load64(doc, i)); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				if m&-m&qm != 0 {
					return i, esc, none
				}
				goto special
			}
		}
		for ; i < len(doc); i++ {
			if c := doc[i]; c == '"' || c == '\\' || c < 0x20 {
				goto special
			}
		}
		return i, esc, expQuote
	special:
		switch doc[i] {
		case '"':
			return i, esc, none
		case '\\':
			esc = true
			var bad code
			if i, bad = scanEscape(doc, i); bad != none {
				return i, esc, bad
			}
		default:
			return i, esc, errControl
		}
	}
}

// scanEscape checks the escape at doc[i] == '\\' and returns the index
// after it.
func scanEscape(doc []byte, i int) (int, code) {
	i++
	if i >= len(doc) {
		return i, expEscape
	}
	switch doc[i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 1, none
	case 'u':
		for j := i + 1; j < i+5; j++ {
			if j >= len(doc) || hexVal(doc[j]) < 0 {
				return j, expHex
			}
		}
		return i + 5, none
	}
	return i, expEscape
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// Literals as little-endian words; false is matched after its 'f'.
const (
	litTrue = 't' | 'r'<<8 | 'u'<<16 | 'e'<<24
	litAlse = 'a' | 'l'<<8 | 's'<<16 | 'e'<<24
	litNull = 'n' | 'u'<<8 | 'l'<<16 | 'l'<<24
)

// scalar scans the number, true, false or null at doc[i] and returns it
// with the index after it.
func scalar(doc []byte, i int) (Value, int, code) {
	switch doc[i] {
	case 't':
		if i+4 > len(doc) || binary.LittleEndian.Uint32(doc[i:]) != litTrue {
			return Value{}, i, expTrue
		}
		return Value{Raw: doc[i : i+4], Kind: Bool}, i + 4, none
	case 'f':
		if i+5 > len(doc) || binary.LittleEndian.Uint32(doc[i+1:]) != litAlse {
			return Value{}, i, expFalse
		}
		return Value{Raw: doc[i : i+5], Kind: Bool}, i + 5, none
	case 'n':
		if i+4 > len(doc) || binary.LittleEndian.Uint32(doc[i:]) != litNull {
			return Value{}, i, expNull
		}
		return Value{Raw: doc[i : i+4], Kind: Null}, i + 4, none
	}
	s := i
	i, bad := scanNumber(doc, i)
	if bad != none && i == s {
		bad = expValue // not even the start of a number
	}
	return Value{Raw: doc[s:i], Kind: Number}, i, bad
}

// scanNumber scans a number starting at doc[i] by the JSON grammar and
// returns the index after it.
func scanNumber(doc []byte, i int) (int, code) {
	if i < len(doc) && doc[i] == '-' {
		i++
	}
	if i >= len(doc) {
		return i, expDigit
	}
	switch c := doc[i]; {
	case c == '0':
		i++
	case c >= '1' && c <= '9':
		i++
		for i < len(doc) && doc[i]-'0' < 10 {
			i++
		}
	default:
		return i, expDigit
	}
	if i < len(doc) && doc[i] == '.' {
		i++
		if i >= len(doc) || doc[i]-'0' >= 10 {
			return i, expDigit
		}
		for i < len(doc) && doc[i]-'0' < 10 {
			i++
		}
	}
	if i < len(doc) && doc[i]|0x20 == 'e' {
		i++
		if i < len(doc) && (doc[i] == '+' || doc[i] == '-') {
			i++
		}
		if i >= len(doc) || doc[i]-'0' >= 10 {
			return i, expDigit
		}
		for i < len(doc) && doc[i]-'0' < 10 {
			i++
		}
	}
	return i, none
}
