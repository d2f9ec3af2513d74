package fields

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

var kindNames = [...]string{"missing", "null", "string", "number", "bool", "object", "array"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// IsNull reports whether the value is JSON null.
func (v Value) IsNull() bool { return v.Kind == Null }

// Float returns the value of a Number. Strings are not numbers, even when
// they hold digits: a rule on a number field should catch a vendor that
// starts quoting it. A number beyond float64's range gives ±Inf, and ok.
func (v Value) Float() (f float64, ok bool) {
	if v.Kind != Number {
		return 0, false
	}
	// Most numbers are short decimals: with at most 15 digits the digits
	// and the power of ten are exact in a float64, so one division rounds
	// correctly, and is quicker than ParseFloat.
	s, neg := v.Raw, false
	if len(s) > 0 && s[0] == '-' {
		s, neg = s[1:], true
	}
	if len(s) > 0 && len(s) <= 16 {
		var n uint64
		digits, frac := 0, -1
		for i, c := range s {
			switch {
			case c-'0' <= 9:
				n = n*10 + uint64(c-'0')
				digits++
			case c == '.' && frac < 0 && i > 0:
				frac = len(s) - i - 1
			default:
				goto slow
			}
		}
		if digits > 15 {
			goto slow
		}
		f = float64(n)
		if frac > 0 {
			f /= pow10[frac]
		}
		if neg {
			f = -f
		}
		return f, true
	}
slow:
	// ParseFloat does not keep its argument (it copies it into errors), so
	// the unsafe view of Raw does not escape.
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(v.Raw), len(v.Raw)), 64)
	if err != nil {
		ne, isNum := err.(*strconv.NumError)
		return f, isNum && ne.Err == strconv.ErrRange
	}
	return f, true
}

var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16}

// Bool returns the value of a Bool.
func (v Value) Bool() (b, ok bool) {
	if v.Kind != Bool || len(v.Raw) == 0 {
		return false, false
	}
	return v.Raw[0] == 't', true
}

// The text of a String is what encoding/json decodes it to: escapes
// resolved, unpaired surrogate escapes and bytes that are not UTF-8
// replaced with U+FFFD.

// Len returns the number of runes in the text of a String, and 0 for
// other kinds.
func (v Value) Len() int {
	if v.Kind != String {
		return 0
	}
	if !v.Escaped {
		return utf8.RuneCount(v.Raw) // counts a bad byte as one rune, like its U+FFFD
	}
	n := 0
	for i := 0; i < len(v.Raw); n++ {
		_, i = decodeRune(v.Raw, i)
	}
	return n
}

// AppendText appends the text of a String to dst, and Raw for other kinds.
func (v Value) AppendText(dst []byte) []byte {
	if v.Kind != String || (!v.Escaped && utf8.Valid(v.Raw)) {
		return append(dst, v.Raw...)
	}
	s := v.Raw
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf && s[i] != '\\' {
			j := i + 1
			for j < len(s) && s[j] < utf8.RuneSelf && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		var r rune
		r, i = decodeRune(s, i)
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// Text returns the text of a String: Raw itself when it needs no
// decoding, else the text written over buf[:0]. For other kinds it
// returns Raw.
func (v Value) Text(buf []byte) []byte {
	if v.Kind != String || (!v.Escaped && utf8.Valid(v.Raw)) {
		return v.Raw
	}
	return v.AppendText(buf[:0])
}

// Equal reports whether the text of a String is s; for other kinds,
// whether Raw is s (so a Number "1.0" is not equal to "1"). Missing
// equals nothing.
func (v Value) Equal(s string) bool {
	if v.Kind == Missing {
		return false
	}
	if v.Kind != String {
		return string(v.Raw) == s
	}
	if !v.Escaped && len(v.Raw) >= len(s) {
		// Decoding never shortens an unescaped body, so only an equal
		// body that is valid UTF-8 can match.
		return string(v.Raw) == s && utf8.ValidString(s)
	}
	return equalText(v.Raw, s)
}

// equalText reports whether the text of the string body raw is s.
func equalText(raw []byte, s string) bool {
	j := 0
	for i := 0; i < len(raw); {
		if c := raw[i]; c < utf8.RuneSelf && c != '\\' {
			if j >= len(s) || s[j] != c {
				return false
			}
			i, j = i+1, j+1
			continue
		}
		var r rune
		r, i = decodeRune(raw, i)
		var b [utf8.UTFMax]byte
		n := utf8.EncodeRune(b[:], r)
		if len(s)-j < n {
			return false
		}
		for k := range n {
			if s[j+k] != b[k] {
				return false
			}
		}
		j += n
	}
	return j == len(s)
}

// decodeRune decodes the rune at s[i] of a string body as encoding/json
// does and returns it with the index after it. A malformed escape (which
// Extract never lets through) reads as a plain backslash.
func decodeRune(s []byte, i int) (rune, int) {
	c := s[i]
	if c >= utf8.RuneSelf {
		r, n := utf8.DecodeRune(s[i:])
		return r, i + n
	}
	if c != '\\' || i+1 >= len(s) {
		return rune(c), i + 1
	}
	switch s[i+1] {
	case '"', '\\', '/':
		return rune(s[i+1]), i + 2
	case 'b':
		return '\b', i + 2
	case 'f':
		return '\f', i + 2
	case 'n':
		return '\n', i + 2
	case 'r':
		return '\r', i + 2
	case 't':
		return '\t', i + 2
	case 'u':
		r := hex4(s, i)
		if r < 0 {
			break
		}
		if !utf16.IsSurrogate(r) {
			return r, i + 6
		}
		// A surrogate is a rune only with the other half right after it.
		if r2 := hex4(s, i+6); r2 >= 0 {
			if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
				return d, i + 12
			}
		}
		return utf8.RuneError, i + 6
	}
	return '\\', i + 1
}

// hex4 returns the code of the escape \uXXXX at s[i], or -1.
func hex4(s []byte, i int) rune {
	if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[i+2 : i+6] {
		h := hexVal(c)
		if h < 0 {
			return -1
		}
		r = r<<4 | rune(h)
	}
	return r
}
