package fields

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// Extract fills out[i] with the value of Paths()[i] in doc, a JSON record,
// and Missing where the path is absent. out must hold at least
// len(Paths()) values; the values alias doc.
//
// The whole record is validated, as encoding/json's Valid does: the grammar
// of structure, numbers and literals, escapes, and no raw control
// character in strings. Like Valid, it does not check that strings are
// valid UTF-8 (decoding replaces bad bytes with U+FFFD, see AppendText).
// The top level must be an object and nesting at most MaxDepth deep.
// When a key repeats, the last one wins, as with encoding/json: a
// repeated object replaces the earlier one as a whole.
//
// On error, which wraps ErrSyntax, every value is Missing. Extract
// allocates nothing, also when it fails.
func (p *Plan) Extract(doc []byte, out []Value) error {
	out = out[:len(p.paths)]
	clear(out)
	if err := p.scan(doc, out); err != nil {
		clear(out)
		return err
	}
	return nil
}

// link is a container whose value was asked for, or on whose path values
// were asked for: its trie node and where it starts.
type link struct {
	node  int32
	start int32
}

// scan is an iterative state machine over doc, so that depth costs a bit
// per level instead of a stack frame. Fields are matched only while every
// container around the cursor is on a planned path (depth == m).
//
// Strings are most of a record, and finding where each ends is what
// bounds the speed: a loop that looks for the closing quote from the
// string's start makes every string wait on the load and arithmetic of the
// previous one. So the scanner keeps a word cursor moving forward 8 bytes
// at a time, independently of the strings, with the quotes and control
// characters of the current word marked; a string's end is a bit search in
// a word already at hand. Backslashes are rare: one IndexByte finds the
// next, and only a string that contains one takes the byte-wise path.
func (p *Plan) scan(doc []byte, out []Value) error {
	var (
		arrays [MaxDepth/64 + 1]uint64 // bit d is set when the container at depth d is an array
		chain  [maxSegments + 2]link   // chain[1..m]: the matched containers
		depth  = 1
		m      = 1
		inArr  bool
		inKey  bool
		match  int32 = -1
		filter = p.nodes[0].filter // of the innermost matched object
		i      = skipSpace(doc, 0)
		s, e   int
		esc    bool
		bad    code
		c      byte
		// The word cursor: doc[wj:wj+8], its quotes qm and control
		// characters cm.
		wj     = -8
		qm, cm uint64
		lo     uint64
		// bs is the first backslash at or after the start of some earlier
		// string; len(doc) when there is none.
		bs = bytes.IndexByte(doc, '\\')
	)
	if bs < 0 {
		bs = len(doc)
	}
	if i >= len(doc) || doc[i] != '{' {
		return fail(i, expObject)
	}
	i++

objectStart:
	i = skipSpace(doc, i)
	if i < len(doc) && doc[i] == '}' {
		goto closing
	}
	if i >= len(doc) || doc[i] != '"' {
		return fail(i, expKeyOrEnd)
	}

key:
	inKey = true

str:
	// doc[i] opens a string; find the quote that closes it.
	s = i + 1
	if s >= wj+8 {
		if s < wj+16 {
			wj += 8
		} else {
			wj = s
		}
		x := word(doc, wj)
		qm, cm = quoteBits(x), controlBits(x)
	}
	lo = ^uint64(0) << ((s - wj) << 3)
	if q := qm & lo; q != 0 {
		e = wj + bits.TrailingZeros64(q)>>3
		if cm&lo&(1<<((e-wj)<<3)-1) != 0 {
			goto slowString
		}
	} else {
		if cm&lo != 0 {
			goto slowString
		}
		for {
			wj += 8
			if wj >= len(doc) {
				goto slowString
			}
			x := word(doc, wj)
			qm, cm = quoteBits(x), controlBits(x)
			if qm != 0 {
				e = wj + bits.TrailingZeros64(qm)>>3
				if cm&(1<<((e-wj)<<3)-1) != 0 {
					goto slowString
				}
				break
			}
			if cm != 0 {
				goto slowString
			}
		}
	}
	esc = false
	if e > bs {
		if bs < s {
			if bs = bytes.IndexByte(doc[s:], '\\'); bs < 0 {
				bs = len(doc)
			} else {
				bs += s
			}
		}
		if e > bs {
			goto slowString
		}
	}
	goto stringDone

slowString:
	// An escape, a control character or no closing quote: go byte by byte.
	e, esc, bad = scanString(doc, s)
	if bad != none {
		return fail(e, bad)
	}

stringDone:
	if !inKey {
		if match >= 0 {
			p.set(out, match, Value{Raw: doc[s:e], Kind: String, Escaped: esc})
			match = -1
		}
		i = e + 1
		goto next
	}
	inKey = false
	if depth == m && (esc || filter&keyBit(e-s, doc[s]) != 0) {
		match = p.child(chain[m].node, doc, s, e, esc)
		if match >= 0 {
			// A repeated key replaces what an earlier one held.
			for _, o := range p.nodes[match].desc {
				out[o] = Value{}
			}
		}
	}
	i = e + 1
	if i < len(doc) && doc[i] == ':' {
		i++
	} else {
		i = skipSpace(doc, i)
		if i >= len(doc) || doc[i] != ':' {
			return fail(i, expColon)
		}
		i++
	}
	i = skipSpace(doc, i)

value:
	if i >= len(doc) {
		return fail(i, expValue)
	}
	switch c = doc[i]; c {
	case '"':
		goto str
	case '{', '[':
		depth++
		if depth > MaxDepth {
			return fail(i, errDepth)
		}
		inArr = c == '['
		if inArr {
			arrays[depth>>6] |= 1 << (depth & 63)
		} else {
			arrays[depth>>6] &^= 1 << (depth & 63)
		}
		if match >= 0 {
			m = depth
			chain[m] = link{node: match, start: int32(i)}
			filter = p.nodes[match].filter
			match = -1
		}
		i++
		if !inArr {
			goto objectStart
		}
		i = skipSpace(doc, i)
		if i < len(doc) && doc[i] == ']' {
			goto closing
		}
		goto value
	case 't':
		if i+4 > len(doc) || binary.LittleEndian.Uint32(doc[i:]) != litTrue {
			return fail(i, expTrue)
		}
		if match >= 0 {
			p.set(out, match, Value{Raw: doc[i : i+4], Kind: Bool})
			match = -1
		}
		i += 4
	case 'f':
		if i+5 > len(doc) || binary.LittleEndian.Uint32(doc[i+1:]) != litAlse {
			return fail(i, expFalse)
		}
		if match >= 0 {
			p.set(out, match, Value{Raw: doc[i : i+5], Kind: Bool})
			match = -1
		}
		i += 5
	case 'n':
		if i+4 > len(doc) || binary.LittleEndian.Uint32(doc[i:]) != litNull {
			return fail(i, expNull)
		}
		if match >= 0 {
			p.set(out, match, Value{Raw: doc[i : i+4], Kind: Null})
			match = -1
		}
		i += 4
	default:
		s = i
		i, bad = scanNumber(doc, i)
		if bad != none {
			if i == s {
				bad = expValue
			}
			return fail(i, bad)
		}
		if match >= 0 {
			p.set(out, match, Value{Raw: doc[s:i], Kind: Number})
			match = -1
		}
	}

next:
	if i < len(doc) {
		c = doc[i]
		if c <= ' ' {
			i = skipSpace(doc, i)
			if i >= len(doc) {
				goto badNext
			}
			c = doc[i]
		}
		switch c {
		case ',':
			i++
			if i < len(doc) && doc[i] == '"' && !inArr {
				goto key
			}
			i = skipSpace(doc, i)
			if inArr {
				goto value
			}
			if i >= len(doc) || doc[i] != '"' {
				return fail(i, expKey)
			}
			goto key
		case '}':
			if !inArr {
				goto closing
			}
		case ']':
			if inArr {
				goto closing
			}
		}
	}
badNext:
	if inArr {
		return fail(i, expArrayNext)
	}
	return fail(i, expObjectNext)

closing:
	// doc[i] closes the container at depth.
	if depth == m {
		l := chain[m]
		if len(p.nodes[l.node].outs) > 0 {
			k := Object
			if inArr {
				k = Array
			}
			p.set(out, l.node, Value{Raw: doc[l.start : i+1], Kind: k})
		}
		m--
		filter = p.nodes[chain[m].node].filter
	}
	depth--
	i++
	if depth > 0 {
		inArr = arrays[depth>>6]&(1<<(depth&63)) != 0
		goto next
	}
	if i = skipSpace(doc, i); i != len(doc) {
		return fail(i, expEnd)
	}
	return nil
}

// set stores v for every path that ends at node n.
func (p *Plan) set(out []Value, n int32, v Value) {
	for _, o := range p.nodes[n].outs {
		out[o] = v
	}
}

// Literals as little-endian words; false is matched after its 'f'.
const (
	litTrue = 't' | 'r'<<8 | 'u'<<16 | 'e'<<24
	litAlse = 'a' | 'l'<<8 | 's'<<16 | 'e'<<24
	litNull = 'n' | 'u'<<8 | 'l'<<16 | 'l'<<24
)

func skipSpace(doc []byte, i int) int {
	for i < len(doc) && doc[i] <= ' ' && space[doc[i]] {
		i++
	}
	return i
}

var space = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

// scanString scans the body of a string starting at doc[i], byte by byte
// in effect, and returns the index of the closing quote, whether the body
// has escapes, and on error the offset and what went wrong.
func scanString(doc []byte, i int) (int, bool, code) {
	esc := false
	for {
		for ; i+8 <= len(doc); i += 8 {
			if s := specials(load64(doc, i)); s != 0 {
				i += bits.TrailingZeros64(s) >> 3
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
