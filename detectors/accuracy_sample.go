package detectors

import (
	"cmp"
	"math/bits"
	"slices"

	"github.com/sluicehq/sluice/fields"
)

// sampler picks a batch's sample by key hash, so that every replica and
// every replay samples the same records, and copies what the reference
// needs of each (its key and compared fields) into an arena that is reused
// from batch to batch. It allocates only while the arena grows.
//
// The sample is every record whose rank falls below rate×2^64, topped up
// to min with the smallest ranks of the rest when the batch has that
// many: the records of the max(rated, min) smallest ranks.
type sampler struct {
	seed      uint64
	all       bool   // rate 1: every record
	threshold uint64 // rank below it: sampled by rate
	min       int
	keyIdx    int   // Record.Values index of the join key (reference.key)
	feedKeys  bool  // keep Record.Key too, for unredacted examples
	idx       []int // Record.Values index of each compared field

	arena []byte
	slots []slot
	spans []span  // len(idx) per slot
	rated []int32 // slots sampled by rate
	// extra is a max-heap on rank of the min smallest-ranked records not
	// sampled by rate. A record pushed out leaves its bytes in the arena
	// until Reset; there are about min×ln(records/min) of them.
	extra []int32
	order []int32 // the slots of the sample, as samples returned them
}

type slot struct {
	rank, keyHash uint64
	key           span // the join key's text; kind Missing when absent
	feedKey       span // Record.Key, when feedKeys
}

type span struct {
	start, end uint32
	kind       fields.Kind
}

func newSampler(seed uint64, rate float64, min int, keyIdx int, idx []int) *sampler {
	s := &sampler{seed: seed, min: min, keyIdx: keyIdx, idx: idx, all: rate >= 1}
	if !s.all {
		s.threshold = uint64(rate * (1 << 64))
	}
	return s
}

// rank orders keys for sampling: a seeded re-hash of the key's hash, so
// that the sample changes with the seed and is independent of the other
// uses of the key hash (partitioning, sketches). It is xxhash.Sum64 of
// seed and keyHash as 16 little-endian bytes, written out for those 16
// bytes: every record pays for it, and the call and the byte shuffling
// cost as much as the arithmetic.
func rank(seed, keyHash uint64) uint64 {
	const (
		prime1 = 11400714785074694791
		prime2 = 14029467366897019727
		prime3 = 1609587929392839161
		prime4 = 9650029242287828579
		prime5 = 2870177450012600261
	)
	h := uint64(prime5 + 16)
	h ^= bits.RotateLeft64(seed*prime2, 31) * prime1
	h = bits.RotateLeft64(h, 27)*prime1 + prime4
	h ^= bits.RotateLeft64(keyHash*prime2, 31) * prime1
	h = bits.RotateLeft64(h, 27)*prime1 + prime4
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}

func (s *sampler) observe(r *Record) {
	k := rank(s.seed, r.KeyHash)
	if s.all || k < s.threshold {
		s.rated = append(s.rated, s.add(k, r))
		return
	}
	switch {
	case len(s.extra) < s.min:
		s.extra = append(s.extra, s.add(k, r))
		s.up(len(s.extra) - 1)
	case s.min > 0 && k < s.slots[s.extra[0]].rank:
		s.put(s.extra[0], k, r)
		s.down(0)
	}
}

// add stores r in a new slot.
func (s *sampler) add(k uint64, r *Record) int32 {
	i := int32(len(s.slots))
	s.slots = append(s.slots, slot{})
	for range s.idx {
		s.spans = append(s.spans, span{})
	}
	s.put(i, k, r)
	return i
}

// put copies r's join key and compared fields into the arena for slot i.
func (s *sampler) put(i int32, k uint64, r *Record) {
	sl := &s.slots[i]
	sl.rank, sl.keyHash = k, r.KeyHash
	sl.key = s.text(r, s.keyIdx)
	if s.feedKeys {
		start := len(s.arena)
		s.arena = append(s.arena, r.Key...)
		sl.feedKey = span{start: uint32(start), end: uint32(len(s.arena))}
	}
	sp := s.spans[int(i)*len(s.idx):]
	for f, vi := range s.idx {
		sp[f] = s.text(r, vi)
	}
}

// text appends the text of r's i-th value to the arena: empty when Missing
// or Null.
func (s *sampler) text(r *Record, i int) span {
	var v fields.Value
	if i < len(r.Values) {
		v = r.Values[i]
	}
	start := len(s.arena)
	if v.Kind != fields.Missing && v.Kind != fields.Null {
		s.arena = v.AppendText(s.arena)
	}
	return span{start: uint32(start), end: uint32(len(s.arena)), kind: v.Kind}
}

func (s *sampler) less(i, j int) bool {
	return s.slots[s.extra[i]].rank > s.slots[s.extra[j]].rank
}

func (s *sampler) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !s.less(j, i) {
			break
		}
		s.extra[i], s.extra[j] = s.extra[j], s.extra[i]
		j = i
	}
}

func (s *sampler) down(i int) {
	n := len(s.extra)
	for {
		j := 2*i + 1
		if j >= n {
			return
		}
		if r := j + 1; r < n && s.less(r, j) {
			j = r
		}
		if !s.less(j, i) {
			return
		}
		s.extra[i], s.extra[j] = s.extra[j], s.extra[i]
		i = j
	}
}

// samples fills dst with the batch's sample and hashes with their key
// hashes, reusing vals for the fields. The samples alias the arena until
// reset; feedKey(i) is the Record.Key of dst[i].
func (s *sampler) samples(dst []Sample, hashes []uint64, vals []SampleValue) ([]Sample, []uint64, []SampleValue) {
	var extra []int32
	if need := s.min - len(s.rated); need > 0 {
		// Sorted descending, extra stays a valid max-heap; the smallest
		// ranks are at its end.
		slices.SortFunc(s.extra, func(a, b int32) int { return cmp.Compare(s.slots[b].rank, s.slots[a].rank) })
		extra = s.extra[len(s.extra)-min(need, len(s.extra)):]
	}
	n := len(s.rated) + len(extra)
	nf := len(s.idx)
	dst, hashes, vals = slices.Grow(dst[:0], n), slices.Grow(hashes[:0], n), slices.Grow(vals[:0], n*nf)
	add := func(i int32) {
		sl := &s.slots[i]
		at := len(vals)
		for _, sp := range s.spans[int(i)*nf : int(i+1)*nf] {
			vals = append(vals, SampleValue{Kind: sp.kind, Text: s.bytes(sp)})
		}
		var key []byte
		if sl.key.kind != fields.Missing && sl.key.kind != fields.Null {
			key = s.bytes(sl.key)
		}
		dst = append(dst, Sample{Key: key, Fields: vals[at:len(vals):len(vals)]})
		hashes = append(hashes, sl.keyHash)
	}
	s.order = append(s.order[:0], s.rated...)
	for _, i := range slices.Backward(extra) {
		s.order = append(s.order, i)
	}
	for _, i := range s.order {
		add(i)
	}
	return dst, hashes, vals
}

// feedKey is the Record.Key of the i-th sample, or nil without feedKeys.
func (s *sampler) feedKey(i int) []byte {
	if !s.feedKeys {
		return nil
	}
	return s.bytes(s.slots[s.order[i]].feedKey)
}

func (s *sampler) bytes(sp span) []byte {
	return s.arena[sp.start:sp.end:sp.end]
}

func (s *sampler) reset() {
	s.arena = s.arena[:0]
	s.slots = s.slots[:0]
	s.spans = s.spans[:0]
	s.rated = s.rated[:0]
	s.extra = s.extra[:0]
}
