package fields

// The fast path's stage 2 (stage 1 is in stage1.go): a walk of the record
// by the grammar, as the scanner's, but
//   - a string's end is the next entry of stage 1's list, not searched
//     for: the walk does not wait for a search to go on to the next
//     token, and a string costs a few instructions;
//   - it is one function without calls: Go keeps no register across a
//     call, so a call in the loop costs spills and reloads on its common
//     path too. The nesting is kept in explicit stacks, not by recursion,
//     and what the common path does not touch stays in memory, in a
//     fastState, so that the rest fits in registers;
//   - the common shape of compact JSON, '":"' after a key and '","'
//     after a value, is checked two bytes at a time;
//   - it only accepts or gives up: on an invalid record, or one it does
//     not take, Extract runs the scanner, which says where a record went
//     wrong. So it keeps no error codes.

// maxTracked bounds the objects the fast path descends into to extract
// from: the top-level object and those that hold planned paths below it.
const maxTracked = 8

// extractFast is Extract for records without escapes, at most maxFast
// bytes, maxStrings strings, maxTracked levels of objects extracted from
// and 64 levels of containers skipped below those; it needs haveAVX2.
// It sets every value of out. It reports whether it extracted doc; if not
// (doc is invalid, or not in that shape), out is partly filled.
func (p *Plan) extractFast(doc []byte, out []Value) bool {
	if len(doc) > maxFast {
		return false
	}
	var ends stringEnds
	ns := stage1(doc, &ends)
	if ns < 0 {
		return false
	}
	resume, rj := -1, 0 // where the general walk starts: -1, at the start
	if p.flatKeys != nil {
		if resume, rj = p.flat(doc, &ends, ns, out); resume == 0 {
			return true
		}
	}
	if resume < 0 {
		reset(out) // else flat has set every value
	}
	var st fastState
	st.p, st.out = p, out
	var (
		i, s, e int
		j       int // the next string: its closing quote is ends[j]
		c       byte
		inArr   bool   // the innermost open container is an array
		match   int32  // the node of the key before the value, or -1
		filter  uint64 // the innermost extracted object's; 0 in a skipped container
	)

	for i < len(doc) && space[doc[i]] {
		i++
	}
	if i >= len(doc) || doc[i] != '{' {
		return false
	}
	st.ts[0], st.td = i, 1
	st.cur = &p.nodes[0]
	filter = st.cur.filter
	i++
	if resume > 0 {
		// After the pairs flat took; doc[0] is the '{'.
		i, j = resume, rj
	}

object:
	// After '{': a key or '}'.
	for i < len(doc) && space[doc[i]] {
		i++
	}
	if i >= len(doc) {
		return false
	}
	if doc[i] == '}' {
		goto closing
	}

key:
	// doc[i] should open a key; every way here checks i < len(doc).
	if at(doc, i) != '"' {
		return false
	}
	// The walk takes the record's strings in order (it reads every byte
	// between them, and gives up at a quote out of place), so the key's
	// closing quote is the next in ends.
	if j >= ns {
		return false
	}
	s, e = i+1, int(ends[j])
	j++
	i = e + 1

	// Match the key against the plan's children of the object: most
	// keys fail the filter. s <= e < len(doc), so at needs no check.
	match = -1
	if filter&keyBit(e-s, at(doc, s), at(doc, e-1)) != 0 {
		n := e - s
		var w uint64 // the key's first 8 bytes, zero padded
		if s+8 <= len(doc) {
			w = load64(doc, s)
			if n < 8 {
				w &= 1<<(8*n&63) - 1 // &63 tells the compiler n < 8
			}
		} else {
			for b := min(n, 8) - 1; b >= 0; b-- {
				w = w<<8 | uint64(doc[s+b])
			}
		}
		kids := st.cur.kids
		for k := range kids {
			if kids[k].word != w || len(kids[k].name) != n {
				continue
			}
			name, b := kids[k].name, 8 // past 8 bytes, byte by byte
			for b < n && name[b] == doc[s+b] {
				b++
			}
			if b >= n {
				match = kids[k].node
				// A repeated key replaces what an earlier one held;
				// the first has nothing to replace, as out was reset.
				if bit := uint64(1) << (match & 63); st.seen&bit != 0 || match >= 64 {
					for _, o := range p.nodes[match].desc {
						st.out[o] = Value{}
					}
				} else {
					st.seen |= bit
				}
				break
			}
		}
	}

	// The colon, and a value right after it, most often a string.
	if i+2 <= len(doc) {
		if c2 := load16(doc, i); c2 == ':'|'"'<<8 {
			i++
			goto str
		} else if c2&0xff == ':' && c2>>8 > ' ' {
			i++
			goto value
		}
	}
	for i < len(doc) && space[doc[i]] {
		i++
	}
	if i >= len(doc) || doc[i] != ':' {
		return false
	}
	i++
	for i < len(doc) && space[doc[i]] {
		i++
	}
	if i >= len(doc) {
		return false
	}

value:
	// doc[i] should start a value; every way here checks i < len(doc).
	switch c = at(doc, i); c {
	case '"':
		goto str
	case '{':
		if match >= 0 && len(p.nodes[match].kids) > 0 {
			// An object to extract from.
			if st.td == maxTracked {
				return false
			}
			st.tn[st.td], st.ts[st.td] = match, i
			st.td++
			st.cur = &p.nodes[match]
			filter = st.cur.filter
			i++
			goto object
		}
		fallthrough
	case '[':
		// A container to skip.
		if st.sd == 0 {
			st.ss, st.sm = i, match
			filter = 0
		} else if st.sd == 64 {
			return false
		}
		inArr = c == '['
		if inArr {
			st.arrs |= 1 << st.sd
		} else {
			st.arrs &^= 1 << st.sd
		}
		st.sd++
		match = -1
		i++
		for i < len(doc) && space[doc[i]] {
			i++
		}
		if i >= len(doc) {
			return false
		}
		if !inArr {
			if doc[i] == '}' {
				goto closing
			}
			goto key
		}
		if doc[i] == ']' {
			goto closing
		}
		goto value
	case 't':
		if i+4 > len(doc) || load32(doc, i) != litTrue {
			return false
		}
		if match >= 0 {
			st.v = Value{Raw: doc[i : i+4], Kind: Bool}
		}
		i += 4
	case 'f':
		if i+5 > len(doc) || load32(doc, i+1) != litAlse {
			return false
		}
		if match >= 0 {
			st.v = Value{Raw: doc[i : i+5], Kind: Bool}
		}
		i += 5
	case 'n':
		if i+4 > len(doc) || load32(doc, i) != litNull {
			return false
		}
		if match >= 0 {
			st.v = Value{Raw: doc[i : i+4], Kind: Null}
		}
		i += 4
	default:
		// A number, by the JSON grammar.
		s = i
		if c == '-' {
			if i++; i >= len(doc) {
				return false
			}
			c = doc[i]
		}
		switch {
		case c == '0':
			i++
		case c-'1' < 9:
			i++
			for i < len(doc) && doc[i]-'0' < 10 {
				i++
			}
		default:
			return false
		}
		if i < len(doc) && doc[i] == '.' {
			if i++; i >= len(doc) || doc[i]-'0' >= 10 {
				return false
			}
			for i < len(doc) && doc[i]-'0' < 10 {
				i++
			}
		}
		if i < len(doc) && doc[i]|0x20 == 'e' {
			if i++; i < len(doc) && (doc[i] == '+' || doc[i] == '-') {
				i++
			}
			if i >= len(doc) || doc[i]-'0' >= 10 {
				return false
			}
			for i < len(doc) && doc[i]-'0' < 10 {
				i++
			}
		}
		if match >= 0 {
			st.v = Value{Raw: doc[s:i], Kind: Number}
		}
	}
	if match >= 0 {
		goto set
	}
	goto after

str:
	// A string value; doc[i] is its opening quote.
	if j >= ns {
		return false
	}
	s, e = i+1, int(ends[j])
	j++
	i = e + 1
	if match < 0 {
		goto after
	}
	st.v = Value{Raw: doc[s:e], Kind: String}

set:
	// st.v is the value of node match.
	st.set(match)

after:
	// After a value: ',' and the next key or value, or the container's
	// end.
	if i+2 <= len(doc) && load16(doc, i) == ','|'"'<<8 && !inArr {
		i++
		goto key
	}
	if i < len(doc) && doc[i] <= ' ' {
		for i < len(doc) && space[doc[i]] {
			i++
		}
	}
	if i >= len(doc) {
		return false
	}
	switch doc[i] {
	case ',':
		if i++; i < len(doc) && doc[i] <= ' ' {
			for i < len(doc) && space[doc[i]] {
				i++
			}
		}
		if i >= len(doc) {
			return false
		}
		match = -1
		if inArr {
			goto value
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
	return false

closing:
	// doc[i] closes the innermost open container.
	i++
	if st.sd > 0 {
		if st.sd--; st.sd > 0 {
			inArr = st.arrs&(1<<(st.sd-1)) != 0
			goto after
		}
		// Back in an extracted object.
		inArr = false
		filter = st.cur.filter
		if match = st.sm; match >= 0 {
			st.v = Value{Raw: doc[st.ss:i], Kind: Object}
			if doc[st.ss] == '[' {
				st.v.Kind = Array
			}
			goto set
		}
		goto after
	}
	if st.td--; st.td > 0 {
		match = st.tn[st.td]
		st.cur = &p.nodes[st.tn[st.td-1]]
		filter = st.cur.filter
		if p.nodes[match].out < 0 && len(p.nodes[match].more) == 0 {
			goto after // no path ends at the object itself
		}
		st.v = Value{Raw: doc[st.ts[st.td]:i], Kind: Object}
		goto set
	}
	// The end of the record.
	for i < len(doc) && space[doc[i]] {
		i++
	}
	return i == len(doc)
}

// fastState is what extractFast keeps in memory.
type fastState struct {
	p    *Plan
	out  []Value
	v    Value  // the value to set
	seen uint64 // bit n set once a key has matched node n

	// The extracted objects: nodes[tn[d]] is the plan node of the d-th,
	// which starts at doc[ts[d]].
	tn  [maxTracked]int32
	ts  [maxTracked]int
	td  int
	cur *node // nodes[tn[td-1]]

	// Below them, skipped containers: sd of them open, bit d of arrs set
	// when the d+1-th is an array. The outermost started at doc[ss], the
	// value of node sm (or -1).
	sd   uint
	arrs uint64
	ss   int
	sm   int32
}

// set stores st.v for every path that ends at node n.
func (st *fastState) set(n int32) {
	nd := &st.p.nodes[n]
	if nd.out >= 0 {
		st.out[nd.out] = st.v
	}
	for _, o := range nd.more {
		st.out[o] = st.v
	}
}
