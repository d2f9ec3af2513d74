package fields

import (
	"encoding/binary"
	"unsafe"
)

// The fast path's stage 2 for the commonest record of all, a flat one in
// compact form: an object of strings, numbers, true, false and null, with
// no space between tokens ({"email":"a@b.example","score":56.5}). Its walk
// is a loop of a few instructions a token, in assembly (flatWalk,
// flat_amd64.s), which also matches the keys the object's filter lets
// through against a table of the plan's top-level keys (flatKeys) and
// notes where each planned value is. Go's general walk (fast.go) spends
// over twice the instructions on the same tokens (callgrind: about 100 a
// pair against 40), mostly moving values between registers and the stack
// at the joins of its state machine, and matching keys and storing values
// in Go cost as much again. flatWalk
// validates the record as the general walk would, up to the first pair it
// does not take (a value that is an object or an array, a space, anything
// invalid); the general walk goes on from that pair's key. Earlier pairs
// set only values of top-level keys, which a later duplicate of the key
// replaces, so the general walk needs nothing else from them.

// maxFlatPaths bounds the paths of a plan flatWalk takes: it returns the
// values it found as a bit mask.
const maxFlatPaths = 32

// flatKey is a top-level key of the plan, at its keyBit in flatKeys.
type flatKey struct {
	first uint64 // the name's first 8 bytes, zero padded
	last  uint64 // its last 8 bytes, when it is longer than 8
	n     uint32 // its length; noFlatKey for a free slot
	out   uint32 // the path that ends at it
}

const noFlatKey = 1<<32 - 1

// flatTable builds flatKeys, or returns nil when flatWalk cannot take the
// plan: more than maxFlatPaths paths, a path listed twice, a top-level
// path longer than 16 bytes, or two that share a filter bit. A key that
// only leads to deeper paths has no slot: in a flat record, nothing below
// it is set.
func (p *Plan) flatTable() *[64]flatKey {
	if len(p.paths) > maxFlatPaths {
		return nil
	}
	t := new([64]flatKey)
	for i := range t {
		t[i].n = noFlatKey
	}
	for _, k := range p.nodes[0].kids {
		nd := &p.nodes[k.node]
		if len(nd.more) > 0 {
			return nil
		}
		if nd.out < 0 {
			continue
		}
		name := k.name
		first, last := byte('"'), byte('"')
		if name != "" {
			first, last = name[0], name[len(name)-1]
		}
		s := &t[keySlot(len(name), first, last)]
		if len(name) > 16 || s.n != noFlatKey {
			return nil
		}
		s.first, s.n, s.out = k.word, uint32(len(name)), uint32(nd.out)
		if len(name) > 8 {
			s.last = binary.LittleEndian.Uint64([]byte(name[len(name)-8:]))
		}
	}
	return t
}

// flatKind is the kind of a scalar by its first byte, for flatWalk.
var flatKind = func() (k [256]Kind) {
	for i := range k {
		k[i] = Number
	}
	k['"'], k['t'], k['f'], k['n'] = String, Bool, Bool, Null
	return k
}()

// flat extracts what it can of doc, whose strings end at ends[:ns], by
// flatWalk, setting every value of out (Missing where it found none), and
// says where the general walk is to go on: 0 when it need not, -1 from
// the start (out is untouched), else at doc[resume], the opening quote of
// a top-level key (or the byte after the '{'), with the string ends from
// rj. flatWalk stops at the first pair it does not take (a container, a
// space, something invalid); the values before it are set.
func (p *Plan) flat(doc []byte, ends *stringEnds, ns int, out []Value) (resume, rj int) {
	// spans[o] is the value of path o: its text from vs to ve and its
	// kind, as vs | ve<<16 | kind<<32.
	var spans [maxFlatPaths]uint64
	found, resume, rj := flatWalk(&doc[0], len(doc), &ends[0], ns, p.nodes[0].filter, p.flatKeys, &spans[0], &flatKind)
	if resume < 0 {
		return resume, rj
	}
	// Every value of out, so that Extract need not clear out first.
	base := unsafe.Pointer(unsafe.SliceData(doc))
	for o := range out {
		if found&(1<<o) == 0 {
			out[o] = Value{}
			continue
		}
		sp := spans[o]
		vs, ve := int(uint16(sp)), int(uint16(sp>>16))
		// flatWalk's spans lie in doc: no bounds to check. Raw's
		// capacity runs to doc's end, as doc[vs:ve]'s would.
		raw := unsafe.Slice((*byte)(unsafe.Add(base, vs)), len(doc)-vs)
		out[o] = Value{Raw: raw[:ve-vs], Kind: Kind(sp >> 32)}
	}
	return resume, rj
}
