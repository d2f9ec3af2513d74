package gate

import (
	"sync"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
)

// held is the records of a batch kept in memory for forwarding, copied
// into chunks of its own. Keeping the client's records instead would pin
// every fetched buffer they point into, and the slab of Record structs
// they were decoded into, until the batch commits: in a measured run
// several times what max_memory counted. Chunks are never reallocated, so
// the copies never move.
//
// A held record names its bytes by chunk and offset, not by pointer, so
// the collector has nothing to scan in what a gate holds. Once a batch is
// written or abandoned its chunks and slices go to pools for the next
// batches, since fresh memory costs a page fault per 4 KiB on first touch;
// the pools let idle memory go at the next collections.
type held struct {
	chunks []*[]byte // pooled chunks, and records too large for one
	fill   int       // 1 + the index of the chunk being filled; 0: none
	s      *heldSlices
}

// heldSlices are a batch's records and, while it is written, the records
// handed to the client.
type heldSlices struct {
	recs []heldRecord
	hdrs []heldHeader
	// out and outHdrs are what each hands out; the client keeps them
	// until the transaction ends.
	out     []kgo.Record
	outHdrs []kgo.RecordHeader
}

var slicesPool = sync.Pool{New: func() any { return new(heldSlices) }}

// piece is bytes in a chunk; n < 0 is nil.
type piece struct {
	chunk, off uint32
	n          int32
}

type heldRecord struct {
	offset   int64
	ms       int64 // timestamp, Unix milliseconds (what Kafka carries)
	key, val piece
	hdr, nh  uint32 // its headers are hdrs[hdr:hdr+nh]
}

type heldHeader struct{ key, val piece }

// chunkSize is the size of a chunk; a value over a quarter of it takes
// memory of its own, so that a chunk left for lack of room wastes little.
const chunkSize = 256 << 10

var chunks = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

// What holding a record and a header costs beyond their bytes.
const (
	heldRecordCost = int64(unsafe.Sizeof(heldRecord{}))
	heldHeaderCost = int64(unsafe.Sizeof(heldHeader{}))
)

// heldCost is the memory a held record keeps, as max_memory counts it.
func heldCost(r *kgo.Record) int64 {
	n := int64(len(r.Key)+len(r.Value)) + heldRecordCost
	for _, h := range r.Headers {
		n += int64(len(h.Key)+len(h.Value)) + heldHeaderCost
	}
	return n
}

// copyOf copies b into a chunk.
func (h *held) copyOf(b []byte) piece {
	if b == nil {
		return piece{n: -1}
	}
	if len(b) > chunkSize/4 {
		c := append(make([]byte, 0, len(b)), b...)
		h.chunks = append(h.chunks, &c)
		return piece{chunk: uint32(len(h.chunks) - 1), n: int32(len(b))}
	}
	if h.fill == 0 || cap(*h.chunks[h.fill-1])-len(*h.chunks[h.fill-1]) < len(b) {
		h.chunks = append(h.chunks, chunks.Get().(*[]byte))
		h.fill = len(h.chunks)
	}
	c := h.chunks[h.fill-1]
	off := len(*c)
	*c = append(*c, b...)
	return piece{chunk: uint32(h.fill - 1), off: uint32(off), n: int32(len(b))}
}

// bytes is what p names.
func (h *held) bytes(p piece) []byte {
	if p.n < 0 {
		return nil
	}
	end := p.off + uint32(p.n)
	return (*h.chunks[p.chunk])[p.off:end:end]
}

// add copies r.
func (h *held) add(r *kgo.Record) {
	if h.s == nil {
		h.s = slicesPool.Get().(*heldSlices)
	}
	s := h.s
	hr := heldRecord{offset: r.Offset, ms: r.Timestamp.UnixMilli(), key: h.copyOf(r.Key), val: h.copyOf(r.Value),
		hdr: uint32(len(s.hdrs)), nh: uint32(len(r.Headers))}
	for _, x := range r.Headers {
		s.hdrs = append(s.hdrs, heldHeader{h.copyOf(unsafe.Slice(unsafe.StringData(x.Key), len(x.Key))), h.copyOf(x.Value)})
	}
	s.recs = append(s.recs, hr)
}

func (h *held) len() int {
	if h.s == nil {
		return 0
	}
	return len(h.s.recs)
}

// lastOffset is the offset of the last held record; len() must be > 0.
func (h *held) lastOffset() int64 { return h.s.recs[len(h.s.recs)-1].offset }

// reset empties h and gives its memory to the pools. It is for an open
// batch's held, or a closed one's whose transaction has ended: nothing
// may use its records after.
func (h *held) reset() {
	for _, c := range h.chunks {
		if cap(*c) == chunkSize {
			*c = (*c)[:0]
			chunks.Put(c)
		}
	}
	clear(h.chunks)
	h.chunks, h.fill = h.chunks[:0], 0
	if s := h.s; s != nil {
		clear(s.out) // nothing pinned by a pooled slice
		clear(s.outHdrs)
		s.recs, s.hdrs, s.out, s.outHdrs = s.recs[:0], s.hdrs[:0], s.out[:0], s.outHdrs[:0]
		slicesPool.Put(s)
		h.s = nil
	}
}

// each calls fn with every held record, in order, as a record to hand to
// the client: its key, value and header values alias h, and extra follows
// its own headers. The records stay valid until reset.
func (h *held) each(extra []kgo.RecordHeader, fn func(*kgo.Record)) {
	s := h.s
	if s == nil {
		return
	}
	if cap(s.out) < len(s.recs) {
		s.out = make([]kgo.Record, len(s.recs))
	}
	s.out = s.out[:len(s.recs)]
	// Room for every header first, so that appending never moves those
	// handed out already.
	if nh := len(s.hdrs) + len(s.recs)*len(extra); cap(s.outHdrs) < nh {
		s.outHdrs = make([]kgo.RecordHeader, 0, nh)
	}
	hdrs := s.outHdrs[:0]
	for i := range s.recs {
		hr := &s.recs[i]
		r := &s.out[i]
		*r = kgo.Record{Key: h.bytes(hr.key), Value: h.bytes(hr.val), Offset: hr.offset, Timestamp: time.UnixMilli(hr.ms)}
		if n := int(hr.nh) + len(extra); n > 0 {
			for _, x := range s.hdrs[hr.hdr : hr.hdr+hr.nh] {
				k := h.bytes(x.key)
				hdrs = append(hdrs, kgo.RecordHeader{Key: unsafe.String(unsafe.SliceData(k), len(k)), Value: h.bytes(x.val)})
			}
			hdrs = append(hdrs, extra...)
			r.Headers = hdrs[len(hdrs)-n : len(hdrs) : len(hdrs)]
		}
		fn(r)
	}
	s.outHdrs = hdrs
}
