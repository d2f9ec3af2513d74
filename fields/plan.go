package fields

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// MaxDepth is how deeply a record may nest objects and arrays; deeper
// records are rejected. The scanner keeps a bit per level, so depth never
// costs stack frames.
const MaxDepth = 1000

// maxSegments bounds the dot segments of a path: the scanner recurses
// once per segment.
const maxSegments = 32

// Plan extracts a fixed list of field paths from JSON records. It is built
// once per feed and is safe for concurrent use.
//
// A path is a dot path of object keys: "email", "contact.email". A segment
// always names an object key, never an array index, and a key that
// contains a dot cannot be addressed.
type Plan struct {
	paths []string
	// nodes is the trie of path segments; nodes[0] is the record's
	// top-level object.
	nodes []node
	// flatKeys are the top-level keys for flatWalk, by keyBit; nil when
	// it cannot take the plan (see flatTable).
	flatKeys *[64]flatKey
}

type node struct {
	out  int32   // the path that ends here, or -1
	more []int32 // other paths that end here (a path listed twice)
	// desc are the paths below this node: they are cleared when its key
	// repeats, so that the last duplicate wins as a whole.
	desc []int32
	kids []key
	// filter has bit keyBit(len, first byte, last byte) set for each
	// child, so that most keys of a record are rejected without a
	// compare.
	filter uint64
}

// key names a child node.
type key struct {
	word uint64 // the name's first 8 bytes, zero padded
	name string
	node int32
}

// keySlot is the index of keyBit's bit.
func keySlot(n int, first, last byte) int {
	return int((uint32(n) | uint32(first)<<8 | uint32(last)<<16) * 0x9e3779b1 >> 26)
}

// keyBit is the bit of node.filter for a key of n bytes that starts with
// first and ends with last (both '"' when it is empty: the bytes around
// it). A multiplicative hash: keys alike in length or first byte
// ("company", "contact") mostly get different bits.
func keyBit(n int, first, last byte) uint64 {
	return 1 << keySlot(n, first, last)
}

// NewPlan builds a plan that extracts paths, in that order.
func NewPlan(paths []string) (*Plan, error) {
	p := &Plan{paths: append([]string(nil), paths...), nodes: []node{{out: -1}}}
	for i, path := range paths {
		if path == "" {
			return nil, fmt.Errorf("cannot plan field path %q: it is empty", path)
		}
		segs := strings.Split(path, ".")
		if len(segs) > maxSegments {
			return nil, fmt.Errorf("cannot plan field path %q: more than %d segments", path, maxSegments)
		}
		n := int32(0)
		for _, s := range segs {
			if s == "" {
				return nil, fmt.Errorf("cannot plan field path %q: empty segment (a path is keys joined by single dots)", path)
			}
			n = p.child(n, s)
		}
		if nd := &p.nodes[n]; nd.out < 0 {
			nd.out = int32(i)
		} else {
			nd.more = append(nd.more, int32(i))
		}
	}
	// Children are added after their parents, so walking backwards sees
	// every child's desc complete before its parent's.
	for n := len(p.nodes) - 1; n >= 0; n-- {
		nd := &p.nodes[n]
		for _, k := range nd.kids {
			c := &p.nodes[k.node]
			if c.out >= 0 {
				nd.desc = append(nd.desc, c.out)
			}
			nd.desc = append(nd.desc, c.more...)
			nd.desc = append(nd.desc, c.desc...)
		}
	}
	p.flatKeys = p.flatTable()
	return p, nil
}

// child returns node n's child named name, adding it if need be.
func (p *Plan) child(n int32, name string) int32 {
	for _, k := range p.nodes[n].kids {
		if k.name == name {
			return k.node
		}
	}
	c := int32(len(p.nodes))
	p.nodes = append(p.nodes, node{out: -1})
	var w [8]byte
	copy(w[:], name)
	nd := &p.nodes[n]
	nd.kids = append(nd.kids, key{word: binary.LittleEndian.Uint64(w[:]), name: name, node: c})
	first, last := byte('"'), byte('"') // around an empty key
	if name != "" {
		first, last = name[0], name[len(name)-1]
	}
	nd.filter |= keyBit(len(name), first, last)
	return c
}

// Paths returns the planned paths; Extract fills out[i] for Paths()[i].
func (p *Plan) Paths() []string { return p.paths }

// match returns the child of node n named by the key doc[s:e] (escaped
// when esc), or -1.
func (p *Plan) match(n int32, doc []byte, s, e int, esc bool) int32 {
	if esc {
		for _, k := range p.nodes[n].kids {
			if equalText(doc[s:e], k.name) {
				return k.node
			}
		}
		return -1
	}
	// Compare the first 8 bytes as words; doc holds 8 bytes from a key's
	// start except near its end.
	var w uint64
	if s+8 <= len(doc) {
		w = load64(doc, s)
		if e-s < 8 {
			w &= 1<<(8*(e-s)) - 1
		}
	} else {
		var b [8]byte
		copy(b[:], doc[s:min(e, s+8)])
		w = binary.LittleEndian.Uint64(b[:])
	}
	for _, k := range p.nodes[n].kids {
		if k.word == w && len(k.name) == e-s && (e-s <= 8 || k.name[8:] == string(doc[s+8:e])) {
			return k.node
		}
	}
	return -1
}

// set stores v for every path that ends at node n.
func (p *Plan) set(out []Value, n int32, v Value) {
	nd := &p.nodes[n]
	if nd.out >= 0 {
		out[nd.out] = v
	}
	for _, o := range nd.more {
		out[o] = v
	}
}
