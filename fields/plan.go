package fields

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// MaxDepth is how deeply a record may nest objects and arrays. Deeper
// records are rejected: the scanner keeps its stack in a fixed array.
const MaxDepth = 1000

// maxSegments bounds the dot segments of a path, so that the matched
// containers fit a fixed array during extraction.
const maxSegments = 32

// Plan extracts a fixed list of field paths from JSON records. It is built
// once per feed and is safe for concurrent use.
//
// A path is a dot path of object keys: "email", "contact.email". A segment
// always names an object key, never an array index, and a key that
// contains a dot cannot be addressed.
type Plan struct {
	paths []string
	// nodes is the trie of path segments, laid out so that the children of
	// a node are contiguous; nodes[0] is the record's top-level object.
	nodes []node
}

type node struct {
	name string
	outs []int // indices of the paths that end here
	// desc are the outs of every node below this one: they are cleared
	// when this key repeats, so that the last duplicate wins as a whole.
	desc        []int
	first, kids int32
	// filter has bit keyBit(len, first byte) set for each child, so that
	// most keys of a record are rejected without a call or a compare.
	filter uint64
	// word is the name's first 8 bytes (zero padded), compared first.
	word uint64
}

// keyBit is the bit of node.filter for a key of n bytes starting with b.
func keyBit(n int, b byte) uint64 { return 1 << ((uint(n) + uint(b)*4) & 63) }

// NewPlan builds a plan that extracts paths, in that order.
func NewPlan(paths []string) (*Plan, error) {
	type tmp struct {
		name string
		outs []int
		kids []*tmp
	}
	root := &tmp{}
	for i, p := range paths {
		segs := strings.Split(p, ".")
		if p == "" {
			return nil, fmt.Errorf("cannot plan field path %q: it is empty", p)
		}
		if len(segs) > maxSegments {
			return nil, fmt.Errorf("cannot plan field path %q: more than %d segments", p, maxSegments)
		}
		n := root
	seg:
		for _, s := range segs {
			if s == "" {
				return nil, fmt.Errorf("cannot plan field path %q: empty segment (a path is keys joined by single dots)", p)
			}
			for _, k := range n.kids {
				if k.name == s {
					n = k
					continue seg
				}
			}
			k := &tmp{name: s}
			n.kids = append(n.kids, k)
			n = k
		}
		n.outs = append(n.outs, i)
	}

	// Breadth first, so that each node's children are contiguous.
	p := &Plan{paths: append([]string(nil), paths...)}
	queue := []*tmp{root}
	for q := 0; q < len(queue); q++ {
		t := queue[q]
		nd := node{name: t.name, outs: t.outs, first: int32(len(queue)), kids: int32(len(t.kids))}
		for _, k := range t.kids {
			b := byte('"') // what follows an empty key
			if k.name != "" {
				b = k.name[0]
			}
			nd.filter |= keyBit(len(k.name), b)
		}
		var w [8]byte
		copy(w[:], t.name)
		nd.word = binary.LittleEndian.Uint64(w[:])
		queue = append(queue, t.kids...)
		p.nodes = append(p.nodes, nd)
	}
	// Children come after their parent, so walking backwards sees every
	// descendant's list complete before its parent's.
	for i := len(p.nodes) - 1; i >= 0; i-- {
		nd := &p.nodes[i]
		for k := nd.first; k < nd.first+nd.kids; k++ {
			nd.desc = append(nd.desc, p.nodes[k].outs...)
			nd.desc = append(nd.desc, p.nodes[k].desc...)
		}
	}
	return p, nil
}

// Paths returns the planned paths; Extract fills out[i] for Paths()[i].
func (p *Plan) Paths() []string { return p.paths }

// child returns the child of node n named by the key doc[s:e] (escaped
// when esc), or -1.
func (p *Plan) child(n int32, doc []byte, s, e int, esc bool) int32 {
	nd := &p.nodes[n]
	if esc {
		for k := nd.first; k < nd.first+nd.kids; k++ {
			if equalText(doc[s:e], p.nodes[k].name) {
				return k
			}
		}
		return -1
	}
	// The key's first 8 bytes as a word; doc always holds 8 bytes after a
	// key's start except near its end.
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
	for k := nd.first; k < nd.first+nd.kids; k++ {
		c := &p.nodes[k]
		if c.word == w && len(c.name) == e-s && (e-s <= 8 || c.name[8:] == string(doc[s+8:e])) {
			return k
		}
	}
	return -1
}
