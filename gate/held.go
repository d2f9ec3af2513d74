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
// the copies never move. Once a batch is written or abandoned its chunks
// go to a pool for the next batches, since fresh memory costs a page fault
// per 4 KiB on first touch; the pool lets idle memory go at the next
// collections.
type held struct {
	chunks []*[]byte // the last one is being filled
	recs   []heldRecord
	hdrs   []kgo.RecordHeader // the records' headers, in order
}

type heldRecord struct {
	offset   int64
	ms       int64 // timestamp, Unix milliseconds (what Kafka carries)
	key, val []byte
	headers  []kgo.RecordHeader
}

// chunkSize is the size of a chunk; a value over a quarter of it takes
// memory of its own, so that a chunk left for lack of room wastes little.
const chunkSize = 256 << 10

var chunks = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

// heldRecordCost is what holding a record costs beyond its bytes.
const heldRecordCost = int64(unsafe.Sizeof(heldRecord{}))

// heldCost is the memory a held record keeps, as max_memory counts it.
func heldCost(r *kgo.Record) int64 {
	n := int64(len(r.Key)+len(r.Value)) + heldRecordCost
	for _, h := range r.Headers {
		n += int64(len(h.Key)+len(h.Value)) + int64(unsafe.Sizeof(h))
	}
	return n
}

// copyOf copies b into a chunk; nil stays nil.
func (h *held) copyOf(b []byte) []byte {
	if b == nil {
		return nil
	}
	if len(b) > chunkSize/4 {
		return append(make([]byte, 0, len(b)), b...)
	}
	n := len(h.chunks)
	if n == 0 || cap(*h.chunks[n-1])-len(*h.chunks[n-1]) < len(b) {
		h.chunks = append(h.chunks, chunks.Get().(*[]byte))
		n++
	}
	c := h.chunks[n-1]
	start := len(*c)
	*c = append(*c, b...)
	return (*c)[start : start+len(b) : start+len(b)]
}

// add copies r.
func (h *held) add(r *kgo.Record) {
	hr := heldRecord{offset: r.Offset, ms: r.Timestamp.UnixMilli(), key: h.copyOf(r.Key), val: h.copyOf(r.Value)}
	if len(r.Headers) > 0 {
		// The headers of all records share one slice: a record's are
		// hdrs[start:end], which a later append that moves hdrs leaves
		// where they were.
		start := len(h.hdrs)
		for _, x := range r.Headers {
			k := h.copyOf(unsafe.Slice(unsafe.StringData(x.Key), len(x.Key)))
			h.hdrs = append(h.hdrs, kgo.RecordHeader{Key: unsafe.String(unsafe.SliceData(k), len(k)), Value: h.copyOf(x.Value)})
		}
		hr.headers = h.hdrs[start:len(h.hdrs):len(h.hdrs)]
	}
	h.recs = append(h.recs, hr)
}

func (h *held) len() int { return len(h.recs) }

// lastOffset is the offset of the last held record; len() must be > 0.
func (h *held) lastOffset() int64 { return h.recs[len(h.recs)-1].offset }

// reset empties h and gives its chunks to the pool. It is for an open
// batch's held, or a closed one's whose transaction has ended: nothing
// may use its records after.
func (h *held) reset() {
	for _, c := range h.chunks {
		*c = (*c)[:0]
		chunks.Put(c)
	}
	clear(h.chunks)
	h.chunks = h.chunks[:0]
	clear(h.recs)
	h.recs = h.recs[:0]
	clear(h.hdrs)
	h.hdrs = h.hdrs[:0]
}

// each calls fn with every held record, in order. The record is reused
// between calls; its key, value and headers alias h.
func (h *held) each(fn func(*kgo.Record)) {
	var r kgo.Record
	for i := range h.recs {
		hr := &h.recs[i]
		r = kgo.Record{Key: hr.key, Value: hr.val, Headers: hr.headers, Offset: hr.offset, Timestamp: time.UnixMilli(hr.ms)}
		fn(&r)
	}
}
