package gate

import (
	"bytes"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestHeldCopiesRecords: held gives back every record as it came, nil and
// empty values and keys apart, headers included, across chunks and records
// larger than a chunk, also after a reset.
func TestHeldCopiesRecords(t *testing.T) {
	var recs []*kgo.Record
	for i := range 3000 {
		r := &kgo.Record{Offset: int64(100 + i), Timestamp: time.UnixMilli(int64(1_700_000_000_000 + i)),
			Key: fmt.Appendf(nil, "k%d", i), Value: bytes.Repeat([]byte{byte(i)}, i%700)}
		switch i % 5 {
		case 0:
			r.Key, r.Value = nil, nil // a tombstone without a key
		case 1:
			r.Key, r.Value = []byte{}, []byte{}
		case 2:
			r.Headers = []kgo.RecordHeader{{Key: "vendor-batch-id", Value: fmt.Appendf(nil, "d%d", i/10)}, {Key: "", Value: nil}}
		}
		if i == 1234 {
			r.Value = bytes.Repeat([]byte("x"), 3*chunkSize) // larger than a chunk
		}
		recs = append(recs, r)
	}
	var h held
	for round := range 2 {
		for _, r := range recs {
			h.add(r)
		}
		i := 0
		h.each(func(got *kgo.Record) {
			want := recs[i]
			i++
			if got.Offset != want.Offset || !got.Timestamp.Equal(want.Timestamp) ||
				!bytes.Equal(got.Key, want.Key) || (got.Key == nil) != (want.Key == nil) ||
				!bytes.Equal(got.Value, want.Value) || (got.Value == nil) != (want.Value == nil) ||
				len(got.Headers) != len(want.Headers) {
				t.Fatalf("round %d: record %d came back changed", round, want.Offset)
			}
			for j, x := range want.Headers {
				if y := got.Headers[j]; y.Key != x.Key || !bytes.Equal(y.Value, x.Value) || (y.Value == nil) != (x.Value == nil) {
					t.Fatalf("round %d: record %d: header %d came back as %q=%q", round, want.Offset, j, y.Key, y.Value)
				}
			}
		})
		if i != len(recs) || h.len() != len(recs) || h.lastOffset() != recs[len(recs)-1].Offset {
			t.Fatalf("round %d: %d records back of %d", round, i, len(recs))
		}
		h.reset()
	}
}

// TestHeldAddAllocatesNothing: in steady state, holding a record with a
// boundary header allocates nothing: chunks, records and headers are
// reused after a reset.
func TestHeldAddAllocatesNothing(t *testing.T) {
	r := &kgo.Record{Key: []byte("user@example.com"), Value: bytes.Repeat([]byte("v"), 300),
		Headers: []kgo.RecordHeader{{Key: "vendor-batch-id", Value: []byte("d1")}}}
	var h held
	fill := func() {
		for range 1000 {
			h.add(r)
		}
		h.reset()
	}
	fill()
	if n := testing.AllocsPerRun(20, fill); n != 0 {
		t.Errorf("holding 1,000 records allocates %v times", n)
	}
}

// TestHeldRecordCost: the README says what max_memory counts per held
// record beyond its bytes; on 64-bit platforms it is this.
func TestHeldRecordCost(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) == 8 && heldRecordCost != 88 {
		t.Errorf("a held record costs %d bytes beyond its own; the README says 88", heldRecordCost)
	}
	if n := unsafe.Sizeof(kgo.RecordHeader{}); unsafe.Sizeof(uintptr(0)) == 8 && n != 40 {
		t.Errorf("a held header costs %d bytes beyond its own; the README says 40", n)
	}
}
