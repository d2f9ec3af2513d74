package gate

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestHeldCopiesRecords: held gives back every record as it came, nil and
// empty values and keys apart, headers included and extra ones after them,
// across chunks and records larger than a chunk, also after a reset; what
// it hands out stays as it was until the reset.
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
	for round, extra := range [][]kgo.RecordHeader{nil, {{Key: "sluice-batch", Value: []byte("f:0:100")}, {Key: "sluice-verdict", Value: []byte("halt")}}} {
		for _, r := range recs {
			h.add(r)
		}
		var got []*kgo.Record
		h.each(extra, func(r *kgo.Record) { got = append(got, r) })
		if len(got) != len(recs) || h.len() != len(recs) || h.lastOffset() != recs[len(recs)-1].Offset {
			t.Fatalf("round %d: %d records back of %d", round, len(got), len(recs))
		}
		for i, want := range recs {
			g := got[i]
			if g.Offset != want.Offset || !g.Timestamp.Equal(want.Timestamp) ||
				!bytes.Equal(g.Key, want.Key) || (g.Key == nil) != (want.Key == nil) ||
				!bytes.Equal(g.Value, want.Value) || (g.Value == nil) != (want.Value == nil) ||
				len(g.Headers) != len(want.Headers)+len(extra) {
				t.Fatalf("round %d: record %d came back changed", round, want.Offset)
			}
			for j, x := range append(slices.Clip(want.Headers), extra...) {
				if y := g.Headers[j]; y.Key != x.Key || !bytes.Equal(y.Value, x.Value) || (y.Value == nil) != (x.Value == nil) {
					t.Fatalf("round %d: record %d: header %d came back as %q=%q", round, want.Offset, j, y.Key, y.Value)
				}
			}
		}
		h.reset()
	}
}

// TestHeldAddAllocatesNothing: in steady state, holding a record with a
// boundary header and handing it out allocates nothing: chunks, records
// and headers are reused after a reset.
func TestHeldAddAllocatesNothing(t *testing.T) {
	r := &kgo.Record{Key: []byte("user@example.com"), Value: bytes.Repeat([]byte("v"), 300),
		Headers: []kgo.RecordHeader{{Key: "vendor-batch-id", Value: []byte("d1")}}}
	var h held
	fill := func() {
		for range 1000 {
			h.add(r)
		}
		h.each(nil, func(*kgo.Record) {})
		h.reset()
	}
	fill()
	if n := testing.AllocsPerRun(20, fill); n != 0 {
		t.Errorf("holding 1,000 records allocates %v times", n)
	}
}

// TestHeldRecordCost: the README says what max_memory counts per held
// record and header beyond their bytes.
func TestHeldRecordCost(t *testing.T) {
	if heldRecordCost != 48 {
		t.Errorf("a held record costs %d bytes beyond its own; the README says 48", heldRecordCost)
	}
	if heldHeaderCost != 24 {
		t.Errorf("a held header costs %d bytes beyond its own; the README says 24", heldHeaderCost)
	}
}
