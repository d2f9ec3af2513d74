package gate

import (
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
)

// held is the records of a batch kept in memory for forwarding, copied
// into chunks of its own. Keeping the client's records instead would pin
// every fetched buffer they point into, and the slab of Record structs
// they were decoded into, until the batch commits: in a measured run
// several times what max_memory counted. Copying costs about one more
// read of the bytes. Chunks are never reallocated, so the copies never
// move and growing never holds two of them.
type held struct {
	chunks [][]byte // the last one is being filled
	used   int      // chunks before used are full; reset reuses them
	recs   []heldRecord
}

type heldRecord struct {
	offset   int64
	ms       int64 // timestamp, Unix milliseconds (what Kafka carries)
	key, val []byte
	headers  []kgo.RecordHeader
}

const (
	firstChunk = 64 << 10
	maxChunk   = 1 << 20
)

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

// room returns a chunk with n bytes free.
func (h *held) room(n int) []byte {
	if len(h.chunks) > 0 {
		if c := h.chunks[len(h.chunks)-1]; cap(c)-len(c) >= n {
			return c
		}
	}
	size := firstChunk
	if len(h.chunks) > 0 {
		size = min(2*cap(h.chunks[len(h.chunks)-1]), maxChunk)
	}
	h.chunks = append(h.chunks, make([]byte, 0, max(size, n)))
	return h.chunks[len(h.chunks)-1]
}

// copyOf copies b into a chunk; nil stays nil.
func (h *held) copyOf(b []byte) []byte {
	if b == nil {
		return nil
	}
	c := h.room(len(b))
	start := len(c)
	c = append(c, b...)
	h.chunks[len(h.chunks)-1] = c
	return c[start:len(c):len(c)]
}

// add copies r.
func (h *held) add(r *kgo.Record) {
	hr := heldRecord{offset: r.Offset, ms: r.Timestamp.UnixMilli(), key: h.copyOf(r.Key), val: h.copyOf(r.Value)}
	if len(r.Headers) > 0 {
		hr.headers = make([]kgo.RecordHeader, len(r.Headers))
		for i, x := range r.Headers {
			k := h.copyOf([]byte(x.Key))
			hr.headers[i] = kgo.RecordHeader{Key: unsafe.String(unsafe.SliceData(k), len(k)), Value: h.copyOf(x.Value)}
		}
	}
	h.recs = append(h.recs, hr)
}

func (h *held) len() int { return len(h.recs) }

// lastOffset is the offset of the last held record; len() must be > 0.
func (h *held) lastOffset() int64 { return h.recs[len(h.recs)-1].offset }

// reset empties an open batch's h, keeping one chunk. A closed batch's
// held is never reset: its bytes are being produced.
func (h *held) reset() {
	if len(h.chunks) > 0 {
		h.chunks = h.chunks[:1]
		h.chunks[0] = h.chunks[0][:0]
	}
	clear(h.recs)
	h.recs = h.recs[:0]
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
