package fields

import "math/bits"

// Extract fills out[i] with the value of Paths()[i] in doc, a JSON record,
// and Missing where the path is absent. out must hold at least
// len(Paths()) values; the values alias doc. It validates the whole record
// (see the package comment); on error, which wraps ErrSyntax and says the
// byte offset and what was expected there, every value is Missing.
// Extract allocates nothing, also when it fails.
func (p *Plan) Extract(doc []byte, out []Value) error {
	out = out[:len(p.paths)]
	if haveAVX2 && closes(doc) && p.extractFast(doc, out) {
		return nil
	}
	return p.scan(doc, out)
}

// closes reports whether doc ends with '}' and whitespace. A record cut
// short, the usual invalid one, does not: the scanner takes it at once,
// rather than after the fast path.
func closes(doc []byte) bool {
	k := len(doc) - 1
	for k >= 0 && space[doc[k]] {
		k--
	}
	return k >= 0 && doc[k] == '}'
}

// scan is Extract by the scanner alone: for a CPU without AVX2, for a
// record the fast path does not take, and for every invalid record, whose
// error only the scanner says. out is as long as the plan's paths.
func (p *Plan) scan(doc []byte, out []Value) error {
	reset(out) // the fast path may have set some
	i := skipSpace(doc, 0)
	bad := expObject
	if i < len(doc) && doc[i] == '{' {
		x := extraction{p, out}
		if i, bad = x.object(doc, i, 0, 1); bad == none {
			if i = skipSpace(doc, i); i != len(doc) {
				bad = expEnd
			}
		}
	}
	if bad != none {
		reset(out)
		return fail(i, bad)
	}
	return nil
}

// reset makes every value of out Missing. It is clear(out) without the
// call into the runtime, which costs more for a few values.
func reset(out []Value) {
	for i := range out {
		out[i].Raw = nil
		out[i].Kind = Missing
		out[i].Escaped = false
	}
}

// The scanner: finding where each string ends is most of its work. The
// closing quote is searched for 8 bytes at a time, inline at each of the
// four places a string starts (a call per string costs more than the
// search). Only the quote search is on the path from one string to the
// next; backslashes and control characters before the quote are checked
// off that path, and send the string to scanString, as does a string
// ending within 8 bytes of the end of the record.

// extraction is what object needs only when a key matches: one pointer
// instead of four registers on the hot path.
type extraction struct {
	p   *Plan
	out []Value
}

// object scans the object at doc[i] whose node in the plan is n, at depth,
// and returns the index after it. The recursion is bounded by the plan's
// depth: what the plan does not descend into is skipped iteratively.
func (x *extraction) object(doc []byte, i int, n int32, depth int) (int, code) {
	filter := x.p.nodes[n].filter
	i = skipSpace(doc, i+1)
	if i < len(doc) && doc[i] == '}' {
		return i + 1, none
	}
	if i >= len(doc) || doc[i] != '"' {
		return i, expKeyOrEnd
	}
	for {
		// The key; doc[i] is its opening quote.
		s, e, esc := i+1, -1, false
		for j := s; j+8 <= len(doc); j += 8 {
			w := load64(doc, j)
			if qm := quotes(w); qm != 0 {
				if special(w)&highs&(qm^(qm-1)) == 0 {
					e = j + bits.TrailingZeros64(qm)>>3
				}
				break
			}
			if special(w)&highs != 0 {
				break
			}
		}
		if e < 0 {
			var bad code
			if e, esc, bad = scanString(doc, s); bad != none {
				return e, bad
			}
		}
		match := int32(-1)
		if esc || filter&keyBit(e-s, doc[s], doc[e-1]) != 0 {
			if !esc && e-s <= 8 && s+8 <= len(doc) {
				// Short keys, most of them, compare as one word.
				w := load64(doc, s) & (1<<(8*(e-s)) - 1)
				for _, k := range x.p.nodes[n].kids {
					if k.word == w && len(k.name) == e-s {
						match = k.node
						break
					}
				}
			} else {
				match = x.p.match(n, doc, s, e, esc)
			}
			if match >= 0 {
				// A repeated key replaces what an earlier one held.
				for _, o := range x.p.nodes[match].desc {
					x.out[o] = Value{}
				}
			}
		}

		// The colon, then the value.
		if e+2 < len(doc) && doc[e+1] == ':' && doc[e+2] > ' ' {
			i = e + 2
		} else {
			if i = skipSpace(doc, e+1); i >= len(doc) || doc[i] != ':' {
				return i, expColon
			}
			if i = skipSpace(doc, i+1); i >= len(doc) {
				return i, expValue
			}
		}
		var v Value
		switch doc[i] {
		case '"':
			s, e = i+1, -1
			for j := s; j+8 <= len(doc); j += 8 {
				w := load64(doc, j)
				if qm := quotes(w); qm != 0 {
					if special(w)&highs&(qm^(qm-1)) == 0 {
						e = j + bits.TrailingZeros64(qm)>>3
					}
					break
				}
				if special(w)&highs != 0 {
					break
				}
			}
			esc = false
			if e < 0 {
				var bad code
				if e, esc, bad = scanString(doc, s); bad != none {
					return e, bad
				}
			}
			i = e + 1
			if match >= 0 {
				x.p.set(x.out, match, Value{Raw: doc[s:e], Kind: String, Escaped: esc})
			}
			goto after
		case '{':
			s = i
			var bad code
			if match >= 0 && len(x.p.nodes[match].kids) > 0 {
				i, bad = x.object(doc, i, match, depth+1)
			} else {
				i, bad = skip(doc, i, depth+1)
			}
			if bad != none {
				return i, bad
			}
			v = Value{Raw: doc[s:i], Kind: Object}
		case '[':
			s = i
			var bad code
			if i, bad = skip(doc, i, depth+1); bad != none {
				return i, bad
			}
			v = Value{Raw: doc[s:i], Kind: Array}
		default:
			var bad code
			if v, i, bad = scalar(doc, i); bad != none {
				return i, bad
			}
		}
		if match >= 0 {
			x.p.set(x.out, match, v)
		}

	after:
		// After the value: ',' and the next key, or '}'.
		if i+1 < len(doc) && doc[i] == ',' && doc[i+1] == '"' {
			i++
			continue
		}
		if i < len(doc) && doc[i] <= ' ' {
			i = skipSpace(doc, i)
		}
		if i < len(doc) && doc[i] == ',' {
			if i = skipSpace(doc, i+1); i >= len(doc) || doc[i] != '"' {
				return i, expKey
			}
			continue
		}
		if i < len(doc) && doc[i] == '}' {
			return i + 1, none
		}
		return i, expObjectNext
	}
}

// skip validates the object or array at doc[i], at depth, and returns the
// index after it. It keeps a bit per level for 64 levels and recurses for
// the next 64, so the stack holds at most MaxDepth/64 frames.
func skip(doc []byte, i, depth int) (int, code) {
	var (
		arrays uint64 // bit d-depth is set when the container at depth d is an array
		d      = depth
		inArr  bool
		s, e   int
		bad    code
	)

open:
	// doc[i] opens a container at depth d.
	if d > MaxDepth {
		return i, errDepth
	}
	if d-depth == 64 {
		if i, bad = skip(doc, i, d); bad != none {
			return i, bad
		}
		d--
		inArr = arrays&(1<<(d-depth)) != 0
		goto next
	}
	inArr = doc[i] == '['
	if inArr {
		arrays |= 1 << (d - depth)
	} else {
		arrays &^= 1 << (d - depth)
	}
	i = skipSpace(doc, i+1)
	if i < len(doc) && (doc[i] == ']' && inArr || doc[i] == '}' && !inArr) {
		goto closing
	}
	if inArr {
		goto value
	}
	if i >= len(doc) || doc[i] != '"' {
		return i, expKeyOrEnd
	}

key:
	s, e = i+1, -1
	for j := s; j+8 <= len(doc); j += 8 {
		x := load64(doc, j)
		if qm := quotes(x); qm != 0 {
			if special(x)&highs&(qm^(qm-1)) == 0 {
				e = j + bits.TrailingZeros64(qm)>>3
			}
			break
		}
		if special(x)&highs != 0 {
			break
		}
	}
	if e < 0 {
		if e, _, bad = scanString(doc, s); bad != none {
			return e, bad
		}
	}
	if e+2 < len(doc) && doc[e+1] == ':' && doc[e+2] > ' ' {
		i = e + 2
	} else {
		if i = skipSpace(doc, e+1); i >= len(doc) || doc[i] != ':' {
			return i, expColon
		}
		i = skipSpace(doc, i+1)
	}

value:
	if i >= len(doc) {
		return i, expValue
	}
	switch doc[i] {
	case '"':
		s, e = i+1, -1
		for j := s; j+8 <= len(doc); j += 8 {
			x := load64(doc, j)
			if qm := quotes(x); qm != 0 {
				if special(x)&highs&(qm^(qm-1)) == 0 {
					e = j + bits.TrailingZeros64(qm)>>3
				}
				break
			}
			if special(x)&highs != 0 {
				break
			}
		}
		if e < 0 {
			if e, _, bad = scanString(doc, s); bad != none {
				return e, bad
			}
		}
		i = e + 1
	case '{', '[':
		d++
		goto open
	default:
		if _, i, bad = scalar(doc, i); bad != none {
			return i, bad
		}
	}

next:
	if i+1 < len(doc) && doc[i] == ',' && doc[i+1] == '"' && !inArr {
		i++
		goto key
	}
	if i < len(doc) && doc[i] <= ' ' {
		i = skipSpace(doc, i)
	}
	if i < len(doc) {
		switch doc[i] {
		case ',':
			i++
			if inArr {
				i = skipSpace(doc, i)
				goto value
			}
			if i < len(doc) && doc[i] == '"' {
				goto key
			}
			if i = skipSpace(doc, i); i >= len(doc) || doc[i] != '"' {
				return i, expKey
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
	if inArr {
		return i, expArrayNext
	}
	return i, expObjectNext

closing:
	// doc[i] closes the container at depth d.
	i++
	d--
	if d < depth {
		return i, none
	}
	inArr = arrays&(1<<(d-depth)) != 0
	goto next
}
