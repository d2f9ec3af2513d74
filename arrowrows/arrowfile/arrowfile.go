// Package arrowfile reads and writes whole Arrow IPC files and streams for
// Sluice's offline commands, with arrow-go: the input of `sluice replay`
// (Reader) and `sluice quarantine export --format arrow` (WriteRecords,
// WriteRows). The gate's hot path does not use it: package arrowrows
// decodes Kafka records there without arrow-go.
package arrowfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Schema metadata of an export.
const (
	// MetaDecision holds the batch's decision record, as JSON.
	MetaDecision = "sluice.decision"
	// MetaLayout says how the file holds the batch: LayoutRecords or
	// LayoutRows.
	MetaLayout = "sluice.layout"

	// LayoutRecords is one row a Kafka record: partition, offset,
	// timestamp, key, value, headers.
	LayoutRecords = "records"
	// LayoutRows is the rows of an Arrow feed's records, in the feed's
	// schema, with ColumnPartition and ColumnOffset added.
	LayoutRows = "rows"

	// ColumnPartition and ColumnOffset say which Kafka record a row of
	// LayoutRows came from.
	ColumnPartition = "sluice_partition"
	ColumnOffset    = "sluice_offset"
)

// ErrNotRows is wrapped by WriteRows' error when the records cannot be
// exported as rows: a value is not an Arrow IPC stream, the schemas
// differ, or the schema already has a column named ColumnPartition or
// ColumnOffset. Nothing has been written then; WriteRecords can.
var ErrNotRows = errors.New("records cannot be exported as rows")

// Record is one Kafka record to export.
type Record struct {
	Partition int32
	Offset    int64
	Timestamp time.Time
	Key       []byte // nil for a null key
	Value     []byte // nil for a null value
	Headers   []Header
}

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// WriteRecords writes recs to w as an Arrow IPC file of one record batch,
// one row a record, with meta (and MetaLayout: LayoutRecords) in the schema
// metadata. The columns:
//
//	partition  int32
//	offset     int64
//	timestamp  timestamp[ms, UTC]
//	key        utf8 when every key is UTF-8, else binary; null for a null key
//	value      utf8 when every value is UTF-8, else binary; null for a null value
//	headers    map<utf8, binary>, in the record's order (keys may repeat)
func WriteRecords(w io.Writer, recs []Record, meta map[string]string) error {
	mem := memory.NewGoAllocator()
	keyType, valueType := textOrBinary(recs, func(r *Record) []byte { return r.Key }), textOrBinary(recs, func(r *Record) []byte { return r.Value })
	headersType := arrow.MapOf(arrow.BinaryTypes.String, arrow.BinaryTypes.Binary)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "partition", Type: arrow.PrimitiveTypes.Int32},
		{Name: "offset", Type: arrow.PrimitiveTypes.Int64},
		{Name: "timestamp", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}},
		{Name: "key", Type: keyType, Nullable: true},
		{Name: "value", Type: valueType, Nullable: true},
		{Name: "headers", Type: headersType},
	}, metadata(nil, meta, LayoutRecords))
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	part := b.Field(0).(*array.Int32Builder)
	off := b.Field(1).(*array.Int64Builder)
	ts := b.Field(2).(*array.TimestampBuilder)
	key, val := binaryBuilder(b.Field(3)), binaryBuilder(b.Field(4))
	hdrs := b.Field(5).(*array.MapBuilder)
	hk := hdrs.KeyBuilder().(*array.StringBuilder)
	hv := hdrs.ItemBuilder().(*array.BinaryBuilder)
	for i := range recs {
		r := &recs[i]
		part.Append(r.Partition)
		off.Append(r.Offset)
		ts.Append(arrow.Timestamp(r.Timestamp.UnixMilli()))
		appendBytes(key, r.Key)
		appendBytes(val, r.Value)
		hdrs.Append(true)
		for _, h := range r.Headers {
			hk.Append(h.Key)
			hv.Append(h.Value)
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return writeFile(w, schema, rec, mem)
}

// textOrBinary is utf8 when every non-null value is UTF-8.
func textOrBinary(recs []Record, get func(*Record) []byte) arrow.BinaryDataType {
	for i := range recs {
		if !utf8.Valid(get(&recs[i])) {
			return arrow.BinaryTypes.Binary
		}
	}
	return arrow.BinaryTypes.String
}

// binaryBuilder is the builder of a binary or utf8 column.
func binaryBuilder(b array.Builder) *array.BinaryBuilder {
	if sb, ok := b.(*array.StringBuilder); ok {
		return sb.BinaryBuilder
	}
	return b.(*array.BinaryBuilder)
}

func appendBytes(b *array.BinaryBuilder, v []byte) {
	if v == nil {
		b.AppendNull()
		return
	}
	b.Append(v)
}

// WriteRows writes the rows of recs, whose values are Arrow IPC streams of
// one schema (an Arrow feed's records), to w as an Arrow IPC file: the
// schema's columns and two more, ColumnPartition (int32) and ColumnOffset
// (int64) naming the record each row came from; one record batch holding
// every row in order (dictionaries unified); the schema's metadata plus
// meta and MetaLayout: LayoutRows. When that cannot be done the error
// wraps ErrNotRows and nothing is written.
func WriteRows(w io.Writer, recs []Record, meta map[string]string) error {
	mem := memory.NewGoAllocator()
	var schema *arrow.Schema
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	parts := array.NewInt32Builder(mem)
	defer parts.Release()
	offs := array.NewInt64Builder(mem)
	defer offs.Release()
	for i := range recs {
		r := &recs[i]
		rd, err := ipc.NewReader(bytes.NewReader(r.Value), ipc.WithAllocator(mem))
		if err != nil {
			return fmt.Errorf("%w: record at offset %d: %v", ErrNotRows, r.Offset, err)
		}
		if schema == nil {
			schema = rd.Schema()
		} else if !schema.Equal(rd.Schema()) {
			rd.Release()
			return fmt.Errorf("%w: the record at offset %d has another schema", ErrNotRows, r.Offset)
		}
		for rd.Next() {
			b := rd.RecordBatch()
			b.Retain()
			batches = append(batches, b)
			for range b.NumRows() {
				parts.Append(r.Partition)
				offs.Append(r.Offset)
			}
		}
		err = rd.Err()
		rd.Release()
		if err != nil {
			return fmt.Errorf("%w: record at offset %d: %v", ErrNotRows, r.Offset, err)
		}
	}
	if schema == nil {
		return fmt.Errorf("%w: no records", ErrNotRows)
	}
	for _, name := range []string{ColumnPartition, ColumnOffset} {
		if schema.HasField(name) {
			return fmt.Errorf("%w: the schema already has a column %s", ErrNotRows, name)
		}
	}
	fs := append(schema.Fields(),
		arrow.Field{Name: ColumnPartition, Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: ColumnOffset, Type: arrow.PrimitiveTypes.Int64})
	md := schema.Metadata()
	out := arrow.NewSchema(fs, metadata(&md, meta, LayoutRows))
	cols := make([]arrow.Array, 0, len(fs))
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	rows := int64(0)
	for _, b := range batches {
		rows += b.NumRows()
	}
	for i := range schema.NumFields() {
		chunks := make([]arrow.Array, len(batches))
		for k, b := range batches {
			chunks[k] = b.Column(i)
		}
		var col arrow.Array
		if len(chunks) == 0 {
			col = array.MakeArrayOfNull(mem, schema.Field(i).Type, 0)
		} else {
			var err error
			if col, err = array.Concatenate(chunks, mem); err != nil {
				return fmt.Errorf("%w: column %s: %v", ErrNotRows, schema.Field(i).Name, err)
			}
		}
		cols = append(cols, col)
	}
	cols = append(cols, parts.NewArray(), offs.NewArray())
	rec := array.NewRecordBatch(out, cols, rows)
	defer rec.Release()
	return writeFile(w, out, rec, mem)
}

// metadata is base plus meta plus the layout, keys sorted after base's.
func metadata(base *arrow.Metadata, meta map[string]string, layout string) *arrow.Metadata {
	var keys, values []string
	if base != nil {
		keys, values = append(keys, base.Keys()...), append(values, base.Values()...)
	}
	add := make([]string, 0, len(meta))
	for k := range meta {
		add = append(add, k)
	}
	sort.Strings(add)
	for _, k := range add {
		keys, values = append(keys, k), append(values, meta[k])
	}
	md := arrow.NewMetadata(append(keys, MetaLayout), append(values, layout))
	return &md
}

func writeFile(w io.Writer, schema *arrow.Schema, rec arrow.RecordBatch, mem memory.Allocator) error {
	fw, err := ipc.NewFileWriter(w, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err != nil {
		return fmt.Errorf("cannot write Arrow file: %w", err)
	}
	if err := fw.Write(rec); err != nil {
		return fmt.Errorf("cannot write Arrow file: %w", err)
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("cannot write Arrow file: %w", err)
	}
	return nil
}

// Reader reads an Arrow IPC file (the format with a footer, "ARROW1") or
// stream and gives each of its record batches as a self-contained IPC
// stream: the schema, the dictionaries the batch needs, the batch and the
// end-of-stream marker, as arrow-go writes them. That is what one Kafka
// record of an Arrow feed holds, so replaying a file judges the same rows
// as the gate would if each batch had been a record (the bytes, and so
// max_bytes, are those of the re-encoding, not of the file).
type Reader struct {
	file   *ipc.FileReader
	stream *ipc.Reader
	next   int
	mem    memory.Allocator
}

// NewReader reads r; a file needs random access, so from anything but an
// *os.File (stdin, a pipe) it is read into memory first.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{mem: memory.NewGoAllocator()}
	magic := []byte("ARROW1")
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			head := make([]byte, len(magic))
			if n, _ := f.ReadAt(head, 0); n == len(magic) && bytes.Equal(head, magic) {
				fr, err := ipc.NewFileReader(f, ipc.WithAllocator(rd.mem))
				if err != nil {
					return nil, fmt.Errorf("cannot read Arrow file: %w", err)
				}
				rd.file = fr
				return rd, nil
			}
		}
	}
	br := bufio.NewReaderSize(r, 1<<20)
	if head, _ := br.Peek(len(magic)); bytes.Equal(head, magic) {
		all, err := io.ReadAll(br)
		if err != nil {
			return nil, fmt.Errorf("cannot read Arrow file: %w", err)
		}
		fr, err := ipc.NewFileReader(bytes.NewReader(all), ipc.WithAllocator(rd.mem))
		if err != nil {
			return nil, fmt.Errorf("cannot read Arrow file: %w", err)
		}
		rd.file = fr
		return rd, nil
	}
	sr, err := ipc.NewReader(br, ipc.WithAllocator(rd.mem))
	if err != nil {
		return nil, fmt.Errorf("cannot read Arrow stream: %w", err)
	}
	rd.stream = sr
	return rd, nil
}

// Next returns the next record batch as an IPC stream, or io.EOF.
func (r *Reader) Next() ([]byte, error) {
	var rec arrow.RecordBatch
	var schema *arrow.Schema
	switch {
	case r.file != nil:
		if r.next >= r.file.NumRecords() {
			return nil, io.EOF
		}
		var err error
		if rec, err = r.file.RecordBatchAt(r.next); err != nil {
			return nil, fmt.Errorf("cannot read record batch %d: %w", r.next, err)
		}
		defer rec.Release()
		schema = r.file.Schema()
	default:
		if !r.stream.Next() {
			if err := r.stream.Err(); err != nil {
				return nil, fmt.Errorf("cannot read record batch %d: %w", r.next, err)
			}
			return nil, io.EOF
		}
		rec, schema = r.stream.RecordBatch(), r.stream.Schema()
	}
	r.next++
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(r.mem))
	if err := w.Write(rec); err != nil {
		return nil, fmt.Errorf("cannot encode record batch %d: %w", r.next-1, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("cannot encode record batch %d: %w", r.next-1, err)
	}
	return buf.Bytes(), nil
}

// Close releases what the reader holds; it does not close the input.
func (r *Reader) Close() error {
	if r.file != nil {
		return r.file.Close()
	}
	r.stream.Release()
	return nil
}
