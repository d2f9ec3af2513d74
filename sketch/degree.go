package sketch

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math"
	"math/bits"
	"slices"
)

// Degree estimates, for every key, its degree (the number of distinct
// neighbors it was inserted with) and lists the keys whose degree passes a
// threshold, in a fixed memory budget.
//
// Design. As in Couper (Song et al., ICDE 2023), mice stay in a cheap filter
// and only potential elephants get a full estimator, but the hand-over is
// exact, so repeated (key, neighbor) pairs never inflate a degree:
//
//   - The filter is an array of 64-byte buckets of four 16-byte slots. A slot
//     holds a 15-bit key tag and up to 7 distinct (register, rank) records:
//     exactly what the key's neighbors would write into its HyperLogLog. A
//     new key evicts the slot with the fewest records, the least recently
//     used among ties, so a key seen a few times outlives keys seen once.
//   - The 8th distinct record promotes the key, records included, to the
//     candidate table: 8-way buckets of full 64-bit keys, each with its own
//     HyperLogLog of 1024 registers (precision 10) with Ertl's improved
//     estimator. Registers hold 3 bits above a per-key base (HLL-TailCut),
//     392 bytes a key instead of 1 KiB, at a cost of about 0.1% in bias.
//     A full bucket evicts its smallest key when the newcomer is larger.
//   - A key that loses that contest turns its slot into a 112-bit linear
//     counting bitmap and keeps counting, so that a key that grows late (a
//     new super-node) still wins a way once it outgrows the smallest. The
//     bitmap moves with it: only neighbors seen both before and after that
//     point can be counted twice.
//
// An insert costs what it waits for: beyond the caches, a random load costs
// 100 ns or more. So each candidate bucket keeps the 8-bit fingerprints of
// its keys in one word (8 KiB at 4 MiB: cached), and a candidate's key, base
// and sums share 16 bytes: an insert reads that word, then one 16-byte
// candidate and one register word, or one filter bucket. And Insert is a
// pipeline 16 inserts deep: it prefetches those lines and applies the pair
// 16 inserts later, when they have arrived, so that the loads of 16 inserts
// overlap; the reads apply what is still queued first.
//
// Unlike vHLL and SpreadSketch, whose shared registers add noise from every
// other key, a candidate's registers are its own, so its error is plain
// HyperLogLog error (2.3% at degree 350, 3.2% beyond a few thousand). Each
// bucket keeps its 8 largest keys, so the table holds about the Capacity()
// largest keys; a key in a bucket of 8 larger keys, or dropped from the
// filter before promotion, is under-counted.
//
// Memory: fixed at construction, at most memoryBytes; 4 MiB (4,167,264
// bytes) holds 8,368 candidates and 37,656 filter slots. Error, measured at
// 4 MiB on 10^7 Zipf(1.1) pairs over 10^6 keys, 5,304 of degree >= 100:
// median relative error 1.7%, 95th percentile 6.6%; keys at or above the
// true 99.9th percentile degree (1,179) listed by Over with precision 0.995
// and recall 0.989. On SNAP ego-Facebook, each edge both ways: median 1.3%,
// 95th percentile 3.4%, all 5 super-nodes and no other. Replaying every
// pair 5 times changes nothing. Merging the sketches of two halves of the
// Zipf stream: median 1.8%, 95th percentile 11.6% (each half decides alone
// which keys to keep). Speed, on the shared 2-core test VM, where random
// loads beyond ~4 MB cost 100+ ns: Insert 20 to 22 ns on that stream, at
// 4 MiB as at 8 MiB, 10 ns when the key's registers are in cache, no
// allocation; Estimate 1.5 µs for a candidate; Over 0.5 ms; Merge 80 ms;
// MarshalBinary 0.4 ms, UnmarshalBinary 18 ms. Measured with
//
//	go test -run 'TestDegree' -bench 'Degree' -benchmem -v ./sketch/
//
// Keys and neighbors must be well-mixed 64-bit hashes. Key hash 0 is stored
// as 0x9e3779b97f4a7c15 (and listed as such), since 0 marks a free way.
// Since reads apply queued inserts, no method is safe for concurrent use,
// reads included.
type Degree struct {
	fps    []uint64    // per candidate bucket: the 8-bit fingerprints of its keys, way w in byte w; 0 marks a free way
	cand   []degCand   // candidates, degWays per bucket
	regs   []uint64    // candidate registers, regWords per candidate
	pend   [][2]uint64 // per candidate: pending bitmap, apart since inserts do not read it
	floor  []float64   // per candidate bucket: a lower bound of its smallest proxy once full
	filter []uint64    // filter buckets of fbWords words
	nCand  uint64      // candidate buckets
	nFilt  uint64      // filter buckets, a multiple of nCand
	queue  [queueLen]queued
	next   uint64 // inserts since the queue was last empty; next%queueLen is the oldest
}

// queueLen is the depth of Insert's pipeline: enough inserts to cover a
// load from memory (about 100 ns), few enough for their lines to stay in
// the first-level cache.
const queueLen = 16

// queued is a pair that Insert has prefetched and not yet applied: way is
// the candidate whose fingerprint matched key then (a guess, checked when
// the pair is applied).
type queued struct {
	key, neighbor, way uint64
}

// Insert records that key has neighbor. It does not allocate.
//
// Insert is a pipeline: it prefetches the cache lines the pair will touch
// (its candidate and register, or its filter bucket) and applies the pair
// queueLen inserts later, once they have arrived; reads (Estimate, Over,
// All, Merge, AppendBinary) apply the pairs still queued first, so results
// are those of inserting at once.
func (d *Degree) Insert(key, neighbor uint64) {
	if key == 0 {
		key = zeroKey
	}
	b := fastrange(key, d.nCand)
	m := zeroBytes(d.fps[b] ^ fingerprint(key)*byteOnes) // way w at bit 8w+7
	// The first way with key's fingerprint, else way 7 (any way would do).
	w := b*degWays + uint64(bits.TrailingZeros64(m|1<<63)>>3)
	line := &d.regs[w*regWords+uint64(regPos[neighbor>>(64-degP)]&63)]
	bucket := &d.filter[fastrange(key, d.nFilt)*fbWords]
	if m == 0 { // a move, not a branch: which way it goes is a coin flip
		line = bucket
	}
	keyLine := &d.cand[w].key

	q := &d.queue[d.next%queueLen]
	d.next++
	c := int(q.way)
	*q, key, neighbor = queued{key, neighbor, w}, q.key, q.neighbor
	if key == 0 { // the queue is filling
		prefetch2(line, keyLine)
		return
	}
	e := &d.cand[c]
	if e.key != key {
		d.apply(key, neighbor)
		prefetch2(line, keyLine)
		return
	}
	// raise, inlined and without a branch before the load: a test of rank
	// against base would be a coin flip for large keys. The test is
	// min(rank-base, relMax) > old, that is min(rank-1-base, relMax-1) >=
	// old, and rank-1 is the number of leading zeros.
	pos := regPos[neighbor>>(64-degP)]
	p := &d.regs[c*regWords+int(pos&63)]
	sh := uint(pos>>6) & 63
	if min(bits.LeadingZeros64(neighbor<<degP|1<<(degP-1))-int(e.base), relMax-1) >= int(*p>>sh&relMax) {
		d.set(c, p, sh, rank(neighbor))
	}
	prefetch2(line, keyLine)
}

// apply records that key has neighbor, now.
func (d *Degree) apply(key, neighbor uint64) {
	if c, ok := d.find(key); ok {
		d.raise(c, int(neighbor>>(64-degP)), rank(neighbor))
		return
	}
	d.insertFilter(key, neighbor)
}

// flush applies the queued pairs, oldest first.
func (d *Degree) flush() {
	if d.next == 0 {
		return
	}
	for range queueLen {
		q := &d.queue[d.next%queueLen]
		d.next++
		if q.key != 0 {
			d.apply(q.key, q.neighbor)
		}
		*q = queued{}
	}
	d.next = 0
}

// KeyDegree is a key hash and its estimated degree.
type KeyDegree struct {
	Key    uint64
	Degree float64
}

// degCand is a candidate's key and what an insert reads and writes besides
// the register, in 16 bytes: one cache line to confirm the key, read the
// base and update the sums.
//
// A candidate's pending bitmap (bits 16..127, as in a filter slot) holds
// the neighbors counted before admission and not in the registers. It is
// kept as a bitmap, not a count, so that merges are unions.
type degCand struct {
	key   uint64 // 0 marks a free way
	sum   uint32 // Σ 2^(relMax-rel) over registers, for the O(1) proxy
	zeros uint16 // registers with rel = 0
	base  uint8  // register value = base + rel
}

const (
	degP     = 10
	degM     = 1 << degP
	degQ     = 64 - degP // register values are 0..degQ+1
	degWays  = 8
	relMax   = 7                              // registers hold 3 bits above the base
	perWord  = 21                             // registers per uint64
	regWords = (degM + perWord - 1) / perWord // 49 words, 392 bytes
	lastRegs = degM - (regWords-1)*perWord    // registers in the last word
	laneOnes = 0x1249_2492_4924_9249          // bit 0 of each 3-bit lane

	maxRecords  = 7 // per filter slot of 16 bytes, after the tag
	fbSlots     = 4
	fbWords     = 2 * fbSlots // 64 bytes
	tagMask     = 0x7fff
	pendingFlag = 0x8000
	pendingBits = 16 * maxRecords

	candBytes = 16 + 8*regWords + 16 + 1

	// zeroKey stands for key hash 0, since 0 marks a free way.
	zeroKey = 0x9e3779b97f4a7c15
)

// candShare is the part of the memory given to candidates; the rest is
// filter.
const candShare = 0.85

var (
	lcCand    [degM + 1]float64        // linear counting on z zero registers
	lcPending [pendingBits + 1]float64 // linear counting on z zero bits
	powRel    [relMax + 1]uint32       // 2^(relMax-rel)
	promoteAt = 0.0                    // proxy of a fresh candidate with 8 records
)

func init() {
	for z := 1; z <= degM; z++ {
		lcCand[z] = degM * math.Log(float64(degM)/float64(z))
	}
	for z := 1; z <= pendingBits; z++ {
		lcPending[z] = pendingBits * math.Log(float64(pendingBits)/float64(z))
	}
	lcPending[0] = lcPending[1]
	for r := range powRel {
		powRel[r] = 1 << (relMax - r)
	}
	promoteAt = lcCand[degM-maxRecords-1]
}

// Memory limits of NewDegree.
const (
	minDegreeMemory = degWays*candBytes + 8 + fbWords*8
	maxDegreeMemory = 1 << 30
)

// NewDegree returns an empty Degree that uses at most memoryBytes, from
// 3,472 bytes to 1 GiB: 85% for candidates (425 bytes each) and the rest
// for the filter (16 bytes a slot). 4 MiB holds 8,368 candidates.
func NewDegree(memoryBytes int) (*Degree, error) {
	if memoryBytes < minDegreeMemory || memoryBytes > maxDegreeMemory {
		return nil, fmt.Errorf("cannot create Degree: memory %d outside [%d, %d]: %w",
			memoryBytes, minDegreeMemory, maxDegreeMemory, ErrInvalid)
	}
	const bucket = degWays*candBytes + 8
	cb := max(1, int(float64(memoryBytes)*candShare/bucket))
	k := (memoryBytes - cb*bucket) / (cb * fbWords * 8)
	if k < 1 {
		cb = (memoryBytes - fbWords*8) / (bucket + fbWords*8)
		k = 1
	}
	return newDegree(uint64(cb), uint64(cb*k)), nil
}

func newDegree(nCand, nFilt uint64) *Degree {
	n := nCand * degWays
	return &Degree{
		fps:    make([]uint64, nCand),
		cand:   make([]degCand, n),
		regs:   make([]uint64, n*regWords),
		pend:   make([][2]uint64, n),
		floor:  make([]float64, nCand),
		filter: make([]uint64, nFilt*fbWords),
		nCand:  nCand,
		nFilt:  nFilt,
	}
}

// Capacity returns the number of candidate keys the sketch can hold.
func (d *Degree) Capacity() int { return len(d.cand) }

// MemoryBytes returns the memory held by the sketch's tables.
func (d *Degree) MemoryBytes() int {
	return int(degreeMemory(d.nCand, d.nFilt))
}

func degreeMemory(nCand, nFilt uint64) uint64 {
	return nCand*(degWays*candBytes+8) + nFilt*fbWords*8
}

// degreeSize returns the memory of a sketch of nCand candidate buckets and
// k filter buckets per candidate bucket, and whether NewDegree could make
// it; it does not overflow.
func degreeSize(nCand, k uint64) (uint64, bool) {
	if nCand < 1 || k < 1 || nCand > maxDegreeMemory || k > maxDegreeMemory || nCand*k > maxDegreeMemory {
		return 0, false
	}
	m := degreeMemory(nCand, nCand*k)
	return m, m <= maxDegreeMemory
}

// regPos locates register j: the word in its candidate's block in the low
// 6 bits, above them the shift of its lane.
var regPos = func() (t [degM]uint16) {
	for j := range t {
		t[j] = uint16(j/perWord | j%perWord*3<<6)
	}
	return t
}()

// fingerprint is a nonzero 8-bit digest of key, from bits that fastrange
// does not use: Insert finds the way of a key in the fingerprints of its
// bucket, one word that stays cached, without reading the bucket's keys.
func fingerprint(key uint64) uint64 {
	f := key >> 56
	return f | (f-1)>>63
}

const (
	byteOnes = 0x0101_0101_0101_0101
	byteHigh = 0x8080_8080_8080_8080
)

// zeroBytes sets the high bit of each zero byte of x.
func zeroBytes(x uint64) uint64 {
	const low = ^uint64(byteHigh)
	return ^((x&low + low) | x | low)
}

// setKey stores key (or 0, to free the way) as candidate c.
func (d *Degree) setKey(c int, key uint64) {
	d.cand[c].key = key
	f := uint64(0)
	if key != 0 {
		f = fingerprint(key)
	}
	p, sh := &d.fps[c/degWays], uint(c%degWays)*8
	*p = *p&^(0xff<<sh) | f<<sh
}

func rank(h uint64) uint8 {
	return uint8(bits.LeadingZeros64(h<<degP|1<<(degP-1))) + 1
}

// raise sets register j of candidate c to at least rho.
func (d *Degree) raise(c, j int, rho uint8) {
	rel := uint8(min(max(int(rho)-int(d.cand[c].base), 0), relMax))
	pos := regPos[j]
	p := &d.regs[c*regWords+int(pos&63)]
	sh := uint(pos >> 6)
	if old := uint8(*p>>sh) & relMax; rel > old {
		d.set(c, p, sh, rho)
	}
}

// set raises the register of candidate c at *p >> sh to rank rho, which is
// above its value; rare once a key has been seen a few hundred times.
func (d *Degree) set(c int, p *uint64, sh uint, rho uint8) {
	st := &d.cand[c]
	old := uint8(*p>>(sh&63)) & relMax
	rel := min(rho-st.base, relMax)
	*p += uint64(rel-old) << (sh & 63)
	st.sum -= powRel[old] - powRel[rel]
	if old == 0 {
		st.zeros--
		if st.zeros == 0 {
			d.rebase(c)
		}
	}
}

// rebase lifts the base while every register is above it, so that 3 bits
// keep covering the live range of values: values more than 7 above the
// smallest are clamped (as in HLL-TailCut), which moves the estimate by
// about 0.1%, since they weigh 2^-value in the harmonic mean.
func (d *Degree) rebase(c int) {
	st := &d.cand[c]
	r := d.block(c)
	for st.zeros == 0 && int(st.base) < degQ+1 {
		st.base++
		for i := range r {
			r[i] -= lanesIn(i)
		}
		st.sum, st.zeros = scan(r)
	}
}

func (d *Degree) block(c int) []uint64 {
	return d.regs[c*regWords : (c+1)*regWords : (c+1)*regWords]
}

// lanesIn returns the lane-ones mask of the registers in word i of a block.
func lanesIn(i int) uint64 {
	if i == regWords-1 {
		return laneOnes & (1<<(3*lastRegs) - 1)
	}
	return laneOnes
}

// scan returns the running sum and zero count of a block of registers.
func scan(r []uint64) (sum uint32, zeros uint16) {
	for i, w := range r {
		ones := lanesIn(i)
		z := ^(w | w>>1 | w>>2) & ones // bit 0 of each zero lane
		zeros += uint16(bits.OnesCount64(z))
		for n := bits.OnesCount64(ones); n > 0; n-- {
			sum += powRel[w&relMax]
			w >>= 3
		}
	}
	return sum, zeros
}

// histogram adds the register values (base + rel) of block r to h.
func histogram(r []uint64, base uint8, h *[degQ + 2]uint32) {
	var rel [relMax + 1]uint32
	for i, w := range r {
		for n := bits.OnesCount64(lanesIn(i)); n > 0; n-- {
			rel[w&relMax]++
			w >>= 3
		}
	}
	for v, n := range rel {
		h[min(int(base)+v, degQ+1)] += n
	}
}

func keyTag(key uint64) uint64 {
	t := key >> 48 & tagMask
	return t | (t-1)>>63
}

// record is what neighbor h writes into a HyperLogLog: register and rank.
func record(h uint64) uint64 {
	return h>>(64-degP)<<4 | uint64(min(rank(h), 15))
}

type bucket = *[fbWords]uint64

func (d *Degree) filterBucket(fb uint64) bucket {
	return bucket(d.filter[fb*fbWords:])
}

// A filter slot is two words, viewed as eight 16-bit lanes: lane 0 is the
// tag (plus the pending flag), lanes 1..7 are records, filled in order, or
// bits 16..127 are the pending bitmap. Lane tests are SWAR, without
// branches.
const (
	lanes     = 0x0001_0001_0001_0001
	laneHigh  = 0x8000_8000_8000_8000
	recLanes0 = laneHigh &^ 0x8000 // record lanes of word 0
)

// zeroLanes sets the high bit of each zero 16-bit lane of x.
func zeroLanes(x uint64) uint64 {
	const low = ^uint64(laneHigh)
	return ^((x&low + low) | x | low)
}

func (d *Degree) insertFilter(key, neighbor uint64) {
	b := d.filterBucket(fastrange(key, d.nFilt))
	tag := keyTag(key)
	rec := record(neighbor)
	z := zeroLanes((b[0]&tagMask | b[2]&tagMask<<16 | b[4]&tagMask<<32 | b[6]&tagMask<<48) ^ tag*lanes)
	if z == 0 {
		admit(b, tag|rec<<16, 0)
		return
	}
	s := bits.TrailingZeros64(z) >> 4 & (fbSlots - 1)
	w0, w1 := b[2*s], b[2*s+1]
	if w0&pendingFlag != 0 {
		toFront(b, s, w0, w1)
		d.insertPending(key, b, rec)
		return
	}
	x := rec * lanes
	if zeroLanes(w0^x)&recLanes0|zeroLanes(w1^x) != 0 {
		rec = 0 // a repeat
	}
	n := records(w0, w1)
	if n == maxRecords && rec != 0 {
		toFront(b, s, w0, w1)
		d.promote(key, b, rec)
		return
	}
	// Append rec in the first free lane: lane n+1 of w0 or n-3 of w1
	// (shifts of 64 or more give 0).
	toFront(b, s, w0|rec<<uint(16*n+16), w1|rec<<uint(16*n-48))
}

// admit puts a new slot in front of bucket b. Slots are kept most recently
// used first; the victim is the slot with the fewest records, the least
// recently used among ties, so that a key seen a few times outlives the
// stream of keys seen once.
func admit(b bucket, w0, w1 uint64) {
	k := min(evictRank(b[0], b[1])<<2|3, evictRank(b[2], b[3])<<2|2,
		evictRank(b[4], b[5])<<2|1, evictRank(b[6], b[7])<<2)
	toFront(b, 3-k&3, w0, w1)
}

// evictRank orders slot (w0, w1) for eviction: -1 if free, its number of
// records, and 8 if pending, so that a pending key outlives the keys that
// are still collecting records.
func evictRank(w0, w1 uint64) int {
	p := -int(w0 >> 15 & 1)
	return records(w0, w1)&^p | (maxRecords+1+bits.OnesCount64(w0>>16)+bits.OnesCount64(w1))&p
}

// records is the number of records of slot (w0, w1), not pending: they
// fill lanes from the bottom, so it is the number of lanes in use, less the
// tag's.
func records(w0, w1 uint64) int {
	return (bits.Len64(w0)+15)>>4 + (bits.Len64(w1)+15)>>4 - 1
}

// toFront moves slots 0..s-1 one place back, over slot s, and puts (w0, w1)
// in front, without branches: which slot moves is a coin flip.
func toFront(b bucket, s int, w0, w1 uint64) {
	x0, x1, x2, x3, x4, x5, x6, x7 := b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]
	if s >= 3 {
		x6, x7 = x4, x5
	}
	if s >= 2 {
		x4, x5 = x2, x3
	}
	if s >= 1 {
		x2, x3 = x0, x1
	}
	*b = [fbWords]uint64{w0, w1, x2, x3, x4, x5, x6, x7}
}

func recordAt(slot []uint64, i int) uint64 {
	if i < 3 {
		return slot[0] >> (16 * (i + 1)) & 0xffff
	}
	return slot[1] >> (16 * (i - 3)) & 0xffff
}

func setRecords(slot []uint64, recs []uint64) {
	slot[0] &= 0xffff
	slot[1] = 0
	for i, r := range recs {
		if i < 3 {
			slot[0] |= r << (16 * (i + 1))
		} else {
			slot[1] |= r << (16 * (i - 3))
		}
	}
}

// slotCount is the number of records of a slot (not pending).
func slotCount(slot []uint64) int {
	return records(slot[0], slot[1])
}

func removeSlot(b bucket, s int) {
	copy(b[2*s:], b[2*s+2:])
	b[fbWords-2], b[fbWords-1] = 0, 0
}

func findTag(b []uint64, tag uint64) int {
	for s := 0; 2*s < len(b) && b[2*s] != 0; s++ {
		if b[2*s]&tagMask == tag {
			return s
		}
	}
	return -1
}

// promote moves key, whose slot (slot 0 of b) holds 7 records, to the
// candidate table with its 8th record rec, or turns the slot into a bitmap
// if it loses.
func (d *Degree) promote(key uint64, b bucket, rec uint64) {
	slot := b[:2]
	c, ok := d.claim(key, promoteAt)
	if !ok {
		toPending(slot)
		setPending(slot, rec)
		return
	}
	d.install(c, key, [2]uint64{})
	for i := range maxRecords {
		r := recordAt(slot, i)
		d.raise(c, int(r>>4), uint8(r&15))
	}
	d.raise(c, int(rec>>4), uint8(rec&15))
	removeSlot(b, 0)
}

func (d *Degree) insertPending(key uint64, b bucket, rec uint64) {
	slot := b[:2]
	if !setPending(slot, rec) {
		return
	}
	est := pendingEstimate(slot)
	c, ok := d.claim(key, est)
	if !ok {
		return
	}
	d.install(c, key, [2]uint64{slot[0] &^ 0xffff, slot[1]})
	removeSlot(b, 0)
}

// setPending sets rec's bit and reports whether it was clear.
func setPending(slot []uint64, rec uint64) bool {
	i := uint(rec>>4)*pendingBits>>degP + 16
	w, m := &slot[i>>6], uint64(1)<<(i&63)
	if *w&m != 0 {
		return false
	}
	*w |= m
	return true
}

func toPending(slot []uint64) {
	var recs [maxRecords]uint64
	for i := range recs {
		recs[i] = recordAt(slot, i)
	}
	slot[0] = slot[0]&tagMask | pendingFlag
	slot[1] = 0
	for _, r := range recs {
		if r != 0 {
			setPending(slot, r)
		}
	}
}

func pendingEstimate(slot []uint64) float64 {
	return lcPending[pendingBits-bits.OnesCount64(slot[0]>>16)-bits.OnesCount64(slot[1])]
}

// claim returns a way for key, whose estimate is est, in its candidate
// bucket: a free way, else the way of the smallest key if that is below est.
func (d *Degree) claim(key uint64, est float64) (int, bool) {
	cb := fastrange(key, d.nCand)
	if d.floor[cb] >= est {
		return 0, false
	}
	w := int(cb) * degWays
	low, lowProxy := -1, math.Inf(1)
	for c := w; c < w+degWays; c++ {
		if d.cand[c].key == 0 {
			return c, true
		}
		if p := d.proxy(c); p < lowProxy {
			low, lowProxy = c, p
		}
	}
	if lowProxy < est {
		return low, true
	}
	// Proxies only grow and a newcomer beats the one it replaces, so this
	// stays a lower bound of the bucket's smallest.
	d.floor[cb] = lowProxy
	return 0, false
}

func (d *Degree) install(c int, key uint64, pend [2]uint64) {
	d.cand[c] = degCand{sum: degM << relMax, zeros: degM}
	d.setKey(c, key)
	clear(d.block(c))
	d.pend[c] = pend
}

// proxy is a cheap estimate (HyperLogLog raw estimate with linear counting
// below 2.5m) from the running sums, to rank candidates.
func (d *Degree) proxy(c int) float64 {
	st := d.cand[c]
	raw := 0.7213 / (1 + 1.079/degM) * degM * degM * (1 << relMax) *
		float64(uint64(1)<<st.base) / float64(st.sum)
	if st.base == 0 && raw <= 2.5*degM {
		raw = lcCand[st.zeros]
	}
	return raw + pendingEstimate(d.pend[c][:])
}

// estimate is the accurate estimate of candidate c.
func (d *Degree) estimate(c int) float64 {
	var hist [degQ + 2]uint32
	histogram(d.block(c), d.cand[c].base, &hist)
	return ertl(hist[:], degM, degQ) + pendingEstimate(d.pend[c][:])
}

// find returns the candidate holding key, if any: the ways whose
// fingerprint matches, confirmed by their key.
func (d *Degree) find(key uint64) (int, bool) {
	b := fastrange(key, d.nCand)
	for m := zeroBytes(d.fps[b] ^ fingerprint(key)*byteOnes); m != 0; m &= m - 1 {
		if c := int(b)*degWays + bits.TrailingZeros64(m)>>3; d.cand[c].key == key {
			return c, true
		}
	}
	return 0, false
}

// Estimate returns the estimated degree of key: the sketch's estimate for a
// candidate, the exact small count (at most 7) for a key in the filter, a
// linear-counting estimate for a pending key, and 0 for a key it does not
// hold.
func (d *Degree) Estimate(key uint64) float64 {
	d.flush()
	if key == 0 {
		key = zeroKey
	}
	if c, ok := d.find(key); ok {
		return d.estimate(c)
	}
	b := d.filterBucket(fastrange(key, d.nFilt))
	if s := findTag(b[:], keyTag(key)); s >= 0 {
		slot := b[2*s : 2*s+2]
		if slot[0]&pendingFlag != 0 {
			return pendingEstimate(slot)
		}
		return float64(slotCount(slot))
	}
	return 0
}

// Over appends to dst every candidate whose estimated degree is at least
// threshold, in table order, and returns the extended slice.
func (d *Degree) Over(threshold float64, dst []KeyDegree) []KeyDegree {
	d.flush()
	for c := range d.cand {
		key := d.cand[c].key
		// The proxy is within a few percent of the estimate; skipping far
		// smaller keys saves the full estimate.
		if key == 0 || d.proxy(c) < threshold/2 {
			continue
		}
		if e := d.estimate(c); e >= threshold {
			dst = append(dst, KeyDegree{key, e})
		}
	}
	return dst
}

// All yields every candidate key with its estimated degree, in table order:
// the heavy part of the degree distribution, for example to feed Quantiles.
func (d *Degree) All() iter.Seq2[uint64, float64] {
	return func(yield func(uint64, float64) bool) {
		d.flush()
		for c := range d.cand {
			if key := d.cand[c].key; key != 0 && !yield(key, d.estimate(c)) {
				return
			}
		}
	}
}

// Reset empties d without allocating.
func (d *Degree) Reset() {
	d.queue, d.next = [queueLen]queued{}, 0
	clear(d.fps)
	clear(d.cand)
	clear(d.regs)
	clear(d.pend)
	clear(d.floor)
	clear(d.filter)
}

// Merge folds o into d, so that d estimates degrees over both streams.
// Registers merge exactly (maximum), bucket by bucket: each candidate
// bucket keeps the 8 largest keys of both sketches, as if it had seen both
// streams. Filter records merge as sets (a union of more than 7 records
// becomes a pending bitmap) and pending bitmaps by union, so that merging
// replicas counts nothing twice and merging partitions adds them up.
func (d *Degree) Merge(o *Degree) error {
	if d.nCand != o.nCand || d.nFilt != o.nFilt {
		return fmt.Errorf("cannot merge Degree: %d/%d and %d/%d buckets: %w",
			d.nCand, d.nFilt, o.nCand, o.nFilt, ErrMismatch)
	}
	d.flush()
	o.flush()
	if d == o {
		return nil
	}
	type entry struct {
		key  uint64
		pend [2]uint64
		est  float64
		abs  [degM]uint8
	}
	es := new([2 * degWays]entry)
	var tmp [degM]uint8
	for w := 0; w < len(d.cand); w += degWays {
		if o.fps[w/degWays] == 0 {
			continue
		}
		n := 0
		for c := w; c < w+degWays; c++ {
			if d.cand[c].key != 0 {
				e := &es[n]
				e.key, e.pend = d.cand[c].key, d.pend[c]
				d.loadAbs(c, &e.abs)
				n++
			}
		}
		mine := n
		for c := w; c < w+degWays; c++ {
			key := o.cand[c].key
			if key == 0 {
				continue
			}
			i := 0
			for i < mine && es[i].key != key {
				i++
			}
			e := &es[i]
			if i == mine {
				e = &es[n]
				n++
				e.key, e.pend = key, [2]uint64{}
				clear(e.abs[:])
				d.takeFilter(key, &e.abs, &e.pend)
			}
			o.loadAbs(c, &tmp)
			for j, v := range tmp {
				e.abs[j] = max(e.abs[j], v)
			}
			e.pend[0] |= o.pend[c][0]
			e.pend[1] |= o.pend[c][1]
		}
		d.floor[w/degWays] = 0 // the bucket changes: recompute its smallest
		// Keep the largest degWays keys; survivors of d stay in their ways.
		for i := range n {
			es[i].est = estimateAbs(&es[i].abs) + pendingEstimate(es[i].pend[:])
		}
		if n > degWays {
			slices.SortStableFunc(es[:n], func(a, b entry) int { return cmp.Compare(b.est, a.est) })
			n = degWays
		}
		var placed [2 * degWays]bool
		for c := w; c < w+degWays; c++ {
			if i := slices.IndexFunc(es[:n], func(e entry) bool { return e.key == d.cand[c].key }); d.cand[c].key != 0 && i >= 0 {
				d.storeAbs(c, &es[i].abs, es[i].pend)
				placed[i] = true
			} else {
				d.setKey(c, 0)
			}
		}
		c := w
		for i := range n {
			if placed[i] {
				continue
			}
			for d.cand[c].key != 0 {
				c++
			}
			d.setKey(c, es[i].key)
			d.storeAbs(c, &es[i].abs, es[i].pend)
		}
	}
	for fb := range o.nFilt {
		ob := o.filterBucket(fb)
		for s := 0; s < fbSlots && ob[2*s] != 0; s++ {
			d.mergeSlot(fb, ob[2*s:2*s+2])
		}
	}
	return nil
}

// takeFilter moves key's filter slot, if any, into registers abs and the
// pending bitmap pend.
func (d *Degree) takeFilter(key uint64, abs *[degM]uint8, pend *[2]uint64) {
	b := d.filterBucket(fastrange(key, d.nFilt))
	s := findTag(b[:], keyTag(key))
	if s < 0 {
		return
	}
	slot := b[2*s : 2*s+2]
	if slot[0]&pendingFlag != 0 {
		pend[0] |= slot[0] &^ 0xffff
		pend[1] |= slot[1]
	} else {
		for i := range slotCount(slot) {
			r := recordAt(slot, i)
			abs[r>>4] = max(abs[r>>4], uint8(r&15))
		}
	}
	removeSlot(b, s)
}

func (d *Degree) loadAbs(c int, abs *[degM]uint8) {
	base := d.cand[c].base
	for j := range abs {
		abs[j] = base + uint8(d.regs[c*regWords+j/perWord]>>(3*(j%perWord)))&relMax
	}
}

// storeAbs sets candidate c's registers to abs and its pending bitmap.
func (d *Degree) storeAbs(c int, abs *[degM]uint8, pend [2]uint64) {
	base := slices.Min(abs[:])
	r := d.block(c)
	clear(r)
	for j, v := range abs {
		r[j/perWord] |= uint64(min(v-base, relMax)) << (3 * (j % perWord))
	}
	st := &d.cand[c]
	st.base = base
	st.sum, st.zeros = scan(r)
	d.pend[c] = pend
}

func estimateAbs(abs *[degM]uint8) float64 {
	var hist [degQ + 2]uint32
	for _, v := range abs {
		hist[v]++
	}
	return ertl(hist[:], degM, degQ)
}

// mergeSlot folds filter slot src of o's bucket fb into d.
func (d *Degree) mergeSlot(fb uint64, src []uint64) {
	tag := src[0] & tagMask
	pending := src[0]&pendingFlag != 0
	// Filter buckets nest in candidate buckets, so a candidate of d with the
	// same filter bucket and tag is the same key (up to tag collisions).
	w := int(fb/(d.nFilt/d.nCand)) * degWays
	for c := w; c < w+degWays; c++ {
		key := d.cand[c].key
		if key == 0 || fastrange(key, d.nFilt) != fb || keyTag(key) != tag {
			continue
		}
		if pending {
			d.pend[c][0] |= src[0] &^ 0xffff
			d.pend[c][1] |= src[1]
			return
		}
		for i := range slotCount(src) {
			r := recordAt(src, i)
			d.raise(c, int(r>>4), uint8(r&15))
		}
		return
	}
	b := d.filterBucket(fb)
	s := findTag(b[:], tag)
	if s < 0 {
		admit(b, src[0], src[1])
		return
	}
	dst := b[2*s : 2*s+2]
	if !pending && dst[0]&pendingFlag == 0 && unionRecords(dst, src) {
		return
	}
	if dst[0]&pendingFlag == 0 {
		toPending(dst)
	}
	if pending {
		dst[0] |= src[0] &^ 0xffff
		dst[1] |= src[1]
		return
	}
	for i := range slotCount(src) {
		setPending(dst, recordAt(src, i))
	}
}

// unionRecords adds src's records to dst and reports whether they fit.
func unionRecords(dst, src []uint64) bool {
	var u [2 * maxRecords]uint64
	n := 0
	for i := range slotCount(dst) {
		u[n] = recordAt(dst, i)
		n++
	}
	for i := range slotCount(src) {
		if r := recordAt(src, i); !slices.Contains(u[:n], r) {
			u[n] = r
			n++
		}
	}
	if n > maxRecords {
		return false
	}
	setRecords(dst, u[:n])
	return true
}

// Degree encoding, sparse so that its size follows the content: version,
// kind, degP, candidate buckets (u32), filter buckets per candidate bucket
// (u32); the number of candidates (uvarint), then for each, in table order,
// the gap to its way (uvarint), key (u64), base (u8), pending bitmap
// (2 u64), register words (u64); the number of filter slots in use
// (uvarint), then for each, in table order, the gap to its slot (uvarint)
// and its two words (u64). Fixed-size fields are little-endian.
const candLen = 8 + 1 + 16 + 8*regWords

// AppendBinary implements encoding.BinaryAppender.
func (d *Degree) AppendBinary(dst []byte) ([]byte, error) {
	d.flush()
	var nc, ns int
	for c := range d.cand {
		nc += b2i(d.cand[c].key != 0)
	}
	for i := 0; i < len(d.filter); i += 2 {
		ns += b2i(d.filter[i] != 0)
	}
	dst = slices.Grow(dst, 32+nc*(candLen+3)+ns*(16+3))
	dst = append(dst, version, kindDegree, degP)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(d.nCand))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(d.nFilt/d.nCand))
	dst = binary.AppendUvarint(dst, uint64(nc))
	next := 0
	for c := range d.cand {
		key := d.cand[c].key
		if key == 0 {
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(c-next))
		next = c + 1
		dst = binary.LittleEndian.AppendUint64(dst, key)
		dst = append(dst, d.cand[c].base)
		dst = binary.LittleEndian.AppendUint64(dst, d.pend[c][0])
		dst = binary.LittleEndian.AppendUint64(dst, d.pend[c][1])
		for _, w := range d.block(c) {
			dst = binary.LittleEndian.AppendUint64(dst, w)
		}
	}
	dst = binary.AppendUvarint(dst, uint64(ns))
	next = 0
	for i := 0; i < len(d.filter); i += 2 {
		if d.filter[i] == 0 {
			continue
		}
		dst = binary.AppendUvarint(dst, uint64(i/2-next))
		next = i/2 + 1
		dst = binary.LittleEndian.AppendUint64(dst, d.filter[i])
		dst = binary.LittleEndian.AppendUint64(dst, d.filter[i+1])
	}
	return dst, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// MarshalBinary implements encoding.BinaryMarshaler.
func (d *Degree) MarshalBinary() ([]byte, error) {
	return d.AppendBinary(nil)
}

// UnmarshalBinary implements encoding.BinaryUnmarshaler. It accepts any
// size. It checks the whole input before it writes, so on error d is
// unchanged; on success it replaces all of d, inserts still queued
// included.
func (d *Degree) UnmarshalBinary(data []byte) error {
	if err := checkHeader(data, kindDegree, "Degree"); err != nil {
		return err
	}
	if err := decodeDegree(data[2:], nil); err != nil {
		return fmt.Errorf("cannot unmarshal Degree: %s: %w", err, ErrCorrupt)
	}
	return decodeDegree(data[2:], d)
}

// decodeDegree checks an encoding after its version and kind and, if into
// is not nil, loads it into into.
func decodeDegree(data []byte, into *Degree) error {
	r := reader{b: data}
	p, nCand, k := r.u8(), uint64(r.u32()), uint64(r.u32())
	if _, ok := degreeSize(nCand, k); r.bad || p != degP || !ok {
		return errors.New("bad header")
	}
	nFilt := nCand * k
	d := into
	if d != nil {
		if d.nCand != nCand || d.nFilt != nFilt {
			*d = *newDegree(nCand, nFilt)
		} else {
			d.Reset()
		}
	}
	nc := r.uvarint()
	if r.bad || nc > nCand*degWays || nc*candLen > uint64(len(r.b)) {
		return errors.New("bad candidate count")
	}
	var (
		block    [regWords]uint64
		bucket   [degWays]uint64 // keys of candidate bucket inBucket
		inBucket = uint64(math.MaxUint64)
		next     uint64
	)
	for range nc {
		gap := r.uvarint()
		e := r.take(candLen)
		if r.bad || gap >= nCand*degWays-next {
			return errors.New("bad candidate index")
		}
		c := next + gap
		next = c + 1
		key, base := binary.LittleEndian.Uint64(e), e[8]
		pend := [2]uint64{binary.LittleEndian.Uint64(e[9:]), binary.LittleEndian.Uint64(e[17:])}
		for i := range block {
			block[i] = binary.LittleEndian.Uint64(e[25+8*i:])
		}
		if key == 0 || fastrange(key, nCand) != c/degWays {
			return fmt.Errorf("key %#x in bucket %d", key, c/degWays)
		}
		if c/degWays != inBucket {
			inBucket = c / degWays
			clear(bucket[:])
		}
		if slices.Contains(bucket[:], key) {
			return fmt.Errorf("key %#x twice", key)
		}
		bucket[c%degWays] = key
		if pend[0]&0xffff != 0 {
			return errors.New("stray pending bits")
		}
		top := uint64(0)
		for i, w := range block {
			if w&^(lanesIn(i)*relMax) != 0 {
				return errors.New("stray register bits")
			}
			for ; w != 0; w >>= 3 {
				top = max(top, w&relMax)
			}
		}
		if int(base)+int(top) > degQ+1 {
			return fmt.Errorf("register above %d", degQ+1)
		}
		if d != nil {
			d.setKey(int(c), key)
			copy(d.block(int(c)), block[:])
			st := &d.cand[c]
			st.base = base
			st.sum, st.zeros = scan(d.block(int(c)))
			d.pend[c] = pend
			if st.zeros == 0 {
				d.rebase(int(c))
			}
		}
	}
	ns := r.uvarint()
	if r.bad || ns > nFilt*fbSlots || ns*16 > uint64(len(r.b)) {
		return errors.New("bad slot count")
	}
	var b [fbWords]uint64
	cur := uint64(math.MaxUint64) // filter bucket held in b
	next = 0
	check := func() error {
		if cur != math.MaxUint64 {
			if err := checkBucket(b[:]); err != "" {
				return fmt.Errorf("filter bucket %d: %s", cur, err)
			}
		}
		return nil
	}
	for range ns {
		gap := r.uvarint()
		w0, w1 := r.u64(), r.u64()
		if r.bad || gap >= nFilt*fbSlots-next {
			return errors.New("bad slot index")
		}
		i := next + gap
		next = i + 1
		if i/fbSlots != cur {
			if err := check(); err != nil {
				return err
			}
			cur, b = i/fbSlots, [fbWords]uint64{}
		}
		if w0&0xffff == 0 {
			return errors.New("empty slot listed")
		}
		s := i % fbSlots
		b[2*s], b[2*s+1] = w0, w1
		if d != nil {
			d.filter[2*i], d.filter[2*i+1] = w0, w1
		}
	}
	if err := check(); err != nil {
		return err
	}
	if len(r.b) != 0 {
		return errors.New("trailing bytes")
	}
	return nil
}

// checkBucket reports what is wrong with a filter bucket, or "".
func checkBucket(b []uint64) string {
	free := false
	for s := range fbSlots {
		slot := b[2*s : 2*s+2]
		if slot[0]&0xffff == 0 {
			free = true
			if slot[0] != 0 || slot[1] != 0 {
				return "free slot not empty"
			}
			continue
		}
		if free {
			return "slot after a free slot"
		}
		tag := slot[0] & tagMask
		if tag == 0 {
			return "zero tag"
		}
		if findTag(b[:2*s], tag) >= 0 {
			return "tag twice"
		}
		if slot[0]&pendingFlag != 0 {
			continue
		}
		n := slotCount(slot)
		for i := range maxRecords {
			r := recordAt(slot, i)
			switch {
			case i >= n && r != 0:
				return "record after a free record"
			case i < n && (r>>4 >= degM || r&15 == 0):
				return "bad record"
			}
			for k := range i {
				if i < n && recordAt(slot, k) == r {
					return "record twice"
				}
			}
		}
	}
	return ""
}
