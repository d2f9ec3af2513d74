package detectors

// exactDegrees counts, for one batch, every key's distinct neighbors and
// every (key, neighbor) pair's multiplicity exactly. Two open-addressing
// tables (linear probing, at most 3/4 full) map key hashes to dense key
// ordinals and pair hashes to their counts. The tables and the dense
// arrays grow to the largest batch seen and are cleared, not freed,
// between batches, so a batch no larger than an earlier one allocates
// nothing. They refuse to grow past maxKeys keys or maxPairs pairs: the
// batch then goes on in sketches.
type exactDegrees struct {
	keySlots  []keySlot
	keyShift  uint
	pairSlots []pairSlot
	pairShift uint
	keys      []keyStat // by ordinal, in order of first appearance
	pairs     int

	maxKeys, maxPairs int

	// arena holds the bytes of each key (when keepKeys), so that a
	// finding can name its examples after the records are gone.
	keepKeys bool
	arena    []byte
}

type keySlot struct {
	hash uint64 // nonzero; 0 marks an empty slot
	ord  uint32
}

type pairSlot struct {
	hash  uint64 // nonzero; 0 marks an empty slot
	count uint32
	ord   uint32 // the key's ordinal
}

// keyStat is one key of the batch.
type keyStat struct {
	hash   uint64 // as given, possibly 0
	degree uint32 // distinct neighbors
	repeat uint32 // highest multiplicity of its pairs; 0 until one repeats
	off    uint32 // its bytes are arena[off:off+n]
	n      int32  // -1: bytes not kept
}

const (
	// exampleKeyBytes bounds the bytes kept of an example key; a longer
	// key is shown by its hash.
	exampleKeyBytes = 256
	// maxArena bounds the key bytes a batch keeps for examples.
	maxArena = 32 << 20
)

func newExactDegrees(maxKeys, maxPairs int, keepKeys bool) *exactDegrees {
	return &exactDegrees{
		keySlots: make([]keySlot, 1<<minTableBits), keyShift: 64 - minTableBits,
		pairSlots: make([]pairSlot, 1<<minTableBits), pairShift: 64 - minTableBits,
		maxKeys: maxKeys, maxPairs: maxPairs, keepKeys: keepKeys,
	}
}

// add counts one record: key kh (bytes key) with pair hash ph. It returns
// the pair's multiplicity so far, or false, changing nothing, when the
// record would pass maxKeys or maxPairs.
func (e *exactDegrees) add(kh, ph uint64, key []byte) (uint32, bool) {
	ph = nonzero(ph)
	mask := len(e.pairSlots) - 1
	i := int((ph * fib) >> e.pairShift)
	for {
		s := &e.pairSlots[i]
		if s.hash == ph {
			s.count++
			if k := &e.keys[s.ord]; s.count > k.repeat {
				k.repeat = s.count
			}
			return s.count, true
		}
		if s.hash == 0 {
			break
		}
		i = (i + 1) & mask
	}
	// A new pair.
	if e.pairs >= e.maxPairs {
		return 0, false
	}
	if 4*(e.pairs+1) > 3*len(e.pairSlots) {
		e.growPairs()
		return e.add(kh, ph, key)
	}
	ord, ok := e.key(kh, key)
	if !ok {
		return 0, false
	}
	e.pairSlots[i] = pairSlot{hash: ph, count: 1, ord: ord}
	e.pairs++
	e.keys[ord].degree++
	return 1, true
}

// key returns the ordinal of key kh, adding it if new.
func (e *exactDegrees) key(raw uint64, key []byte) (uint32, bool) {
	kh := nonzero(raw)
	mask := len(e.keySlots) - 1
	i := int((kh * fib) >> e.keyShift)
	for {
		s := &e.keySlots[i]
		if s.hash == kh {
			return s.ord, true
		}
		if s.hash == 0 {
			break
		}
		i = (i + 1) & mask
	}
	if len(e.keys) >= e.maxKeys {
		return 0, false
	}
	if 4*(len(e.keys)+1) > 3*len(e.keySlots) {
		e.growKeys()
		return e.key(raw, key)
	}
	ord := uint32(len(e.keys))
	e.keySlots[i] = keySlot{hash: kh, ord: ord}
	k := keyStat{hash: raw, n: -1}
	if e.keepKeys && key != nil && len(key) <= exampleKeyBytes && len(e.arena)+len(key) <= maxArena {
		k.off, k.n = uint32(len(e.arena)), int32(len(key))
		e.arena = append(e.arena, key...)
	}
	e.keys = append(e.keys, k)
	return ord, true
}

// find returns the ordinal of key hash kh in the batch.
func (e *exactDegrees) find(kh uint64) (uint32, bool) {
	kh = nonzero(kh)
	mask := len(e.keySlots) - 1
	for i := int((kh * fib) >> e.keyShift); ; i = (i + 1) & mask {
		switch e.keySlots[i].hash {
		case kh:
			return e.keySlots[i].ord, true
		case 0:
			return 0, false
		}
	}
}

// keyBytes returns the kept bytes of key ord, or nil.
func (e *exactDegrees) keyBytes(ord uint32) []byte {
	k := &e.keys[ord]
	if k.n < 0 {
		return nil
	}
	return e.arena[k.off : k.off+uint32(k.n)]
}

func (e *exactDegrees) growKeys() {
	old := e.keySlots
	e.keySlots = make([]keySlot, 2*len(old))
	e.keyShift--
	mask := len(e.keySlots) - 1
	for _, s := range old {
		if s.hash == 0 {
			continue
		}
		i := int((s.hash * fib) >> e.keyShift)
		for e.keySlots[i].hash != 0 {
			i = (i + 1) & mask
		}
		e.keySlots[i] = s
	}
}

func (e *exactDegrees) growPairs() {
	old := e.pairSlots
	e.pairSlots = make([]pairSlot, 2*len(old))
	e.pairShift--
	mask := len(e.pairSlots) - 1
	for _, s := range old {
		if s.hash == 0 {
			continue
		}
		i := int((s.hash * fib) >> e.pairShift)
		for e.pairSlots[i].hash != 0 {
			i = (i + 1) & mask
		}
		e.pairSlots[i] = s
	}
}

func (e *exactDegrees) reset() {
	if len(e.keys) > 0 {
		clear(e.keySlots)
	}
	if e.pairs > 0 {
		clear(e.pairSlots)
	}
	e.keys, e.pairs, e.arena = e.keys[:0], 0, e.arena[:0]
}
