package arrowfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicehq/sluice/arrowrows"
	"github.com/sluicehq/sluice/fields"
)

var vendorMeta = arrow.NewMetadata([]string{"vendor"}, []string{"acme"})

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "company", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, &vendorMeta)

// batches are columns of rows; company is dictionary-encoded, every
// batch with the same dictionary (an Arrow file allows no other).
var batches = []struct{ email, company, score string }{
	{`["a@x.io", null]`, `[0, 1]`, `[1.5, null]`},
	{`["c@x.io"]`, `[2]`, `[3]`},
	{`["d@x.io", "e@x.io"]`, `[0, null]`, `[-2, 0.25]`},
}

func recordBatch(t testing.TB, b struct{ email, company, score string }) arrow.RecordBatch {
	t.Helper()
	mem := memory.DefaultAllocator
	email, _, err := array.FromJSON(mem, arrow.BinaryTypes.String, strings.NewReader(b.email))
	if err != nil {
		t.Fatal(err)
	}
	company, err := array.DictArrayFromJSON(mem, schema.Field(1).Type.(*arrow.DictionaryType), b.company, `["Acme", "Initech", "Hooli"]`)
	if err != nil {
		t.Fatal(err)
	}
	score, _, err := array.FromJSON(mem, arrow.PrimitiveTypes.Float64, strings.NewReader(b.score))
	if err != nil {
		t.Fatal(err)
	}
	return array.NewRecordBatch(schema, []arrow.Array{email, company, score}, int64(email.Len()))
}

// stream is one batch as an IPC stream: an Arrow feed's record value.
func stream(t testing.TB, b struct{ email, company, score string }) []byte {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	rec := recordBatch(t, b)
	defer rec.Release()
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return buf.Bytes()
}

// rowsOf decodes Arrow record values with the gate's decoder.
func rowsOf(t testing.TB, values ...[]byte) []string {
	t.Helper()
	d, err := arrowrows.NewDecoder([]string{"email", "company", "score"})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]fields.Value, 3)
	var rows []string
	for _, v := range values {
		if _, err := d.Decode(v, out, func() {
			rows = append(rows, fmt.Sprintf("%s|%s|%s", out[0].Raw, out[1].Raw, out[2].Raw))
		}); err != nil {
			t.Fatal(err)
		}
	}
	return rows
}

func TestReaderSplitsFilesAndStreams(t *testing.T) {
	var want []string
	for _, b := range batches {
		want = append(want, rowsOf(t, stream(t, b))...)
	}
	dir := t.TempDir()
	var file, strm bytes.Buffer
	fw, err := ipc.NewFileWriter(&file, ipc.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	sw := ipc.NewWriter(&strm, ipc.WithSchema(schema))
	for _, b := range batches {
		rec := recordBatch(t, b)
		if err := fw.Write(rec); err != nil {
			t.Fatal(err)
		}
		if err := sw.Write(rec); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	fw.Close()
	sw.Close()
	os.WriteFile(filepath.Join(dir, "f.arrow"), file.Bytes(), 0o644)
	for _, c := range []struct {
		name string
		open func() io.Reader
	}{
		{"file on disk", func() io.Reader {
			f, _ := os.Open(filepath.Join(dir, "f.arrow"))
			t.Cleanup(func() { f.Close() })
			return f
		}},
		{"file from a pipe", func() io.Reader { return bytes.NewReader(file.Bytes()) }},
		{"stream", func() io.Reader { return bytes.NewReader(strm.Bytes()) }},
	} {
		r, err := NewReader(c.open())
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var values [][]byte
		for {
			v, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			values = append(values, v)
		}
		r.Close()
		if len(values) != len(batches) {
			t.Fatalf("%s: %d values, want one a batch (%d)", c.name, len(values), len(batches))
		}
		if got := rowsOf(t, values...); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: rows\n%v\nwant\n%v", c.name, got, want)
		}
	}
	if _, err := NewReader(strings.NewReader(`{"email": "a@x.io"}`)); err == nil {
		t.Fatal("JSON read as Arrow")
	}
}

// readFile reads an export back with arrow-go: its schema and its one
// record batch.
func readFile(t *testing.T, b []byte) (*arrow.Schema, arrow.RecordBatch) {
	t.Helper()
	fr, err := ipc.NewFileReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fr.Close() })
	if fr.NumRecords() != 1 {
		t.Fatalf("%d record batches, want 1", fr.NumRecords())
	}
	rec, err := fr.RecordBatchAt(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rec.Release)
	return fr.Schema(), rec
}

func TestWriteRecords(t *testing.T) {
	ts := time.UnixMilli(1_700_000_000_123)
	recs := []Record{
		{Partition: 2, Offset: 10, Timestamp: ts, Key: []byte("k1"), Value: []byte(`{"email":"a@x.io"}`),
			Headers: []Header{{"trace", []byte("t1")}, {"trace", []byte("t2")}}},
		{Partition: 2, Offset: 11, Timestamp: ts.Add(time.Second), Key: nil, Value: []byte(`not json`)},
		{Partition: 2, Offset: 12, Timestamp: ts, Key: []byte("k3"), Value: nil, Headers: []Header{{"bin", []byte{0xff, 0}}}},
	}
	var buf bytes.Buffer
	if err := WriteRecords(&buf, recs, map[string]string{MetaDecision: `{"batch":"f:2:10"}`}); err != nil {
		t.Fatal(err)
	}
	s, rec := readFile(t, buf.Bytes())
	if v, _ := s.Metadata().GetValue(MetaDecision); v != `{"batch":"f:2:10"}` {
		t.Errorf("decision metadata %q", v)
	}
	if v, _ := s.Metadata().GetValue(MetaLayout); v != LayoutRecords {
		t.Errorf("layout %q", v)
	}
	if got := fmt.Sprint(s.Fields()); !strings.Contains(got, "key: type=utf8") || !strings.Contains(got, "value: type=utf8") ||
		!strings.Contains(got, "headers: type=map<utf8, binary") {
		t.Errorf("schema %s", got)
	}
	want := []string{
		`2 10 1700000000123 k1 {"email":"a@x.io"} [{trace [116 49]} {trace [116 50]}]`,
		`2 11 1700000001123 (null) not json []`,
		`2 12 1700000000123 k3 (null) [{bin [255 0]}]`,
	}
	hdrs := rec.Column(5).(*array.Map)
	for i := range recs {
		keys := hdrs.Keys().(*array.String)
		items := hdrs.Items().(*array.Binary)
		start, end := hdrs.ValueOffsets(i)
		var hs []Header
		for k := start; k < end; k++ {
			hs = append(hs, Header{keys.Value(int(k)), items.Value(int(k))})
		}
		got := fmt.Sprintf("%v %v %v %s %s %v", rec.Column(0).(*array.Int32).Value(i), rec.Column(1).(*array.Int64).Value(i),
			int64(rec.Column(2).(*array.Timestamp).Value(i)), rec.Column(3).ValueStr(i), rec.Column(4).ValueStr(i), hs)
		if got != want[i] {
			t.Errorf("row %d: %s\nwant   %s", i, got, want[i])
		}
	}
	// Bytes that are not UTF-8 make the column binary.
	buf.Reset()
	if err := WriteRecords(&buf, []Record{{Value: []byte{0xff}}}, nil); err != nil {
		t.Fatal(err)
	}
	if s, _ := readFile(t, buf.Bytes()); s.Field(4).Type.ID() != arrow.BINARY {
		t.Errorf("a value that is not UTF-8 in a %s column", s.Field(4).Type)
	}
}

func TestWriteRows(t *testing.T) {
	var recs []Record
	var values [][]byte
	for i, b := range batches {
		v := stream(t, b)
		values = append(values, v)
		recs = append(recs, Record{Partition: 1, Offset: int64(100 + i), Value: v})
	}
	// Each Kafka record brings its own dictionary: the export unifies them.
	var own bytes.Buffer
	w := ipc.NewWriter(&own, ipc.WithSchema(schema))
	rec0 := recordBatch(t, batches[1])
	zeta, _ := array.DictArrayFromJSON(memory.DefaultAllocator, schema.Field(1).Type.(*arrow.DictionaryType), `[1]`, `["Zeta", "Acme"]`)
	w.Write(array.NewRecordBatch(schema, []arrow.Array{rec0.Column(0), zeta, rec0.Column(2)}, 1))
	w.Close()
	values = append(values, own.Bytes())
	recs = append(recs, Record{Partition: 1, Offset: 103, Value: own.Bytes()})
	var buf bytes.Buffer
	if err := WriteRows(&buf, recs, map[string]string{MetaDecision: `{"batch":"f:1:100"}`}); err != nil {
		t.Fatal(err)
	}
	s, rec := readFile(t, buf.Bytes())
	for k, want := range map[string]string{MetaDecision: `{"batch":"f:1:100"}`, MetaLayout: LayoutRows, "vendor": "acme"} {
		if v, _ := s.Metadata().GetValue(k); v != want {
			t.Errorf("metadata %s = %q, want %q", k, v, want)
		}
	}
	if s.NumFields() != 5 || s.Field(3).Name != ColumnPartition || s.Field(4).Name != ColumnOffset {
		t.Fatalf("schema %s", s)
	}
	// The export's rows, through arrow-go, are the records' rows, each
	// with the offset of its record.
	want := rowsOf(t, values...)
	offsets := []int64{100, 100, 101, 102, 102, 103}
	if rec.NumRows() != int64(len(want)) {
		t.Fatalf("%d rows, want %d", rec.NumRows(), len(want))
	}
	company := rec.Column(1).(*array.Dictionary)
	for i := range int(rec.NumRows()) {
		email, name, score := "null", "null", "null"
		if rec.Column(0).IsValid(i) {
			email = rec.Column(0).(*array.String).Value(i)
		}
		if company.IsValid(i) {
			name = company.Dictionary().(*array.String).Value(company.GetValueIndex(i))
		}
		if rec.Column(2).IsValid(i) {
			score = fmt.Sprint(rec.Column(2).(*array.Float64).Value(i))
		}
		if got := email + "|" + name + "|" + score; got != want[i] {
			t.Errorf("row %d: %s, want %s", i, got, want[i])
		}
		if p, o := rec.Column(3).(*array.Int32).Value(i), rec.Column(4).(*array.Int64).Value(i); p != 1 || o != offsets[i] {
			t.Errorf("row %d: partition %d offset %d, want 1 %d", i, p, o, offsets[i])
		}
	}

	// Records that are not all rows of one schema are refused, with
	// nothing written.
	other := arrow.NewSchema([]arrow.Field{{Name: "email", Type: arrow.BinaryTypes.String}}, nil)
	var ob bytes.Buffer
	ow := ipc.NewWriter(&ob, ipc.WithSchema(other))
	orec, _, _ := array.RecordFromJSON(memory.DefaultAllocator, other, strings.NewReader(`[{"email": "z@x.io"}]`))
	ow.Write(orec)
	ow.Close()
	for name, bad := range map[string][]Record{
		"two schemas": {recs[0], {Offset: 9, Value: ob.Bytes()}},
		"not arrow":   {recs[0], {Offset: 9, Value: []byte(`{"email": "a@x.io"}`)}},
		"none":        nil,
	} {
		buf.Reset()
		if err := WriteRows(&buf, bad, nil); !errors.Is(err, ErrNotRows) || buf.Len() != 0 {
			t.Errorf("%s: err %v, %d bytes written", name, err, buf.Len())
		}
	}
}
