package arrowrows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/sluicehq/sluice/fields"
	"github.com/sluicehq/sluice/internal/arrowtest"
)

// render shows a value as kind:text, for comparisons.
func render(v fields.Value) string {
	switch v.Kind {
	case fields.Missing:
		return "missing"
	case fields.Null:
		return "null"
	}
	return v.Kind.String() + ":" + string(v.Raw)
}

// decodeAll decodes value and renders every row.
func decodeAll(t testing.TB, d *Decoder, value []byte) [][]string {
	t.Helper()
	out := make([]fields.Value, len(d.Paths()))
	var rows [][]string
	n, err := d.Decode(value, out, func() {
		r := make([]string, len(out))
		for i, v := range out {
			r[i] = render(v)
		}
		rows = append(rows, r)
	})
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if n != len(rows) {
		t.Fatalf("Decode returned %d rows and showed %d", n, len(rows))
	}
	return rows
}

func dictString() *arrow.DictionaryType {
	return &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
}

var profileSchema = arrow.NewSchema([]arrow.Field{
	{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "active", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "contact", Type: arrow.StructOf(
		arrow.Field{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "phone", Type: arrow.BinaryTypes.LargeString, Nullable: true},
	), Nullable: true},
	{Name: "company", Type: dictString(), Nullable: true},
	{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
	{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "price", Type: &arrow.Decimal128Type{Precision: 10, Scale: 2}, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, Nullable: true},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "view", Type: arrow.BinaryTypes.StringView, Nullable: true},
	{Name: "nothing", Type: arrow.Null, Nullable: true},
	{Name: "flat.name", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

const profileRows = `[
 {"email": "ann@example.com", "n": 1, "score": 0.5, "active": true, "contact": {"email": "a@x.io", "phone": "+1 555"},
  "company": "Acme", "tags": ["a"], "u8": 255, "f32": 1.5, "price": "12.34", "ts": 1700000000000, "day": 19000,
  "view": "short", "nothing": null, "flat.name": "dotted"},
 {"email": null, "n": -42, "score": 1e21, "active": false, "contact": null,
  "company": "Globex", "tags": null, "u8": 0, "f32": null, "price": "-0.05", "ts": null, "day": null,
  "view": "a string longer than twelve bytes", "nothing": null, "flat.name": null},
 {"email": "séb@example.com", "n": null, "score": null, "active": null, "contact": {"email": null, "phone": null},
  "company": null, "tags": [], "u8": null, "f32": -0.25, "price": null, "ts": 0, "day": -1,
  "view": null, "nothing": null, "flat.name": "x"}
]`

func TestDecodeValues(t *testing.T) {
	paths := []string{"email", "n", "score", "active", "contact.email", "contact.phone", "company", "tags",
		"u8", "f32", "price", "ts", "day", "view", "nothing", "flat.name", "absent", "contact.absent", "email.x", "contact"}
	d, err := NewDecoder(paths)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeAll(t, d, arrowtest.Stream(t, profileSchema, profileRows))
	want := [][]string{
		{"string:ann@example.com", "number:1", "number:0.5", "bool:true", "string:a@x.io", "string:+1 555", "string:Acme", "array:",
			"number:255", "number:1.5", "number:12.34", "number:1700000000000", "number:19000", "string:short", "null", "string:dotted",
			"missing", "missing", "missing", "object:"},
		{"null", "number:-42", "number:1e+21", "bool:false", "missing", "missing", "string:Globex", "null",
			"number:0", "null", "number:-0.05", "null", "null", "string:a string longer than twelve bytes", "null", "null",
			"missing", "missing", "missing", "null"},
		{"string:séb@example.com", "null", "null", "null", "null", "null", "null", "array:",
			"null", "number:-0.25", "null", "number:0", "number:-1", "null", "null", "string:x",
			"missing", "missing", "missing", "object:"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	for r := range want {
		for i := range paths {
			if got[r][i] != want[r][i] {
				t.Errorf("row %d %s: got %s, want %s", r, paths[i], got[r][i], want[r][i])
			}
		}
	}
}

func TestDecodeNumbersFloat(t *testing.T) {
	d, _ := NewDecoder([]string{"n", "score", "price", "u8"})
	out := make([]fields.Value, 4)
	var sums [4]float64
	_, err := d.Decode(arrowtest.Stream(t, profileSchema, profileRows), out, func() {
		for i, v := range out {
			if f, ok := v.Float(); ok {
				sums[i] += f
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if sums != [4]float64{-41, 1e21 + 0.5, 12.29, 255} {
		t.Fatalf("sums of Float() = %v", sums)
	}
}

func TestDecodeManyBatchesAndDictionaries(t *testing.T) {
	// Each batch of an arrow-go stream with a dictionary column carries
	// its own dictionary (a replacement or a delta).
	value := arrowtest.Stream(t, profileSchema,
		`[{"email": "a@x.io", "company": "Acme"}, {"email": "b@x.io", "company": "Initech"}]`,
		`[{"email": "c@x.io", "company": "Hooli"}]`,
		`[]`,
		`[{"email": null, "company": "Acme"}]`)
	d, _ := NewDecoder([]string{"company", "email"})
	got := decodeAll(t, d, value)
	want := "[[string:Acme string:a@x.io] [string:Initech string:b@x.io] [string:Hooli string:c@x.io] [string:Acme null]]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got %v\nwant %s", got, want)
	}
}

// deltaDictionaryStream is a stream whose second batch extends the
// dictionary of the first with a delta.
func deltaDictionaryStream(tb testing.TB) []byte {
	var buf bytes.Buffer
	schema := arrow.NewSchema([]arrow.Field{{Name: "c", Type: dictString(), Nullable: true}}, nil)
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema), ipc.WithDictionaryDeltas(true))
	b := array.NewDictionaryBuilder(memory.DefaultAllocator, dictString()).(*array.BinaryDictionaryBuilder)
	for _, batch := range [][]string{{"a", "b"}, {"b", "c", "d"}} {
		for _, s := range batch {
			if err := b.AppendString(s); err != nil {
				tb.Fatal(err)
			}
		}
		arr := b.NewArray()
		rec := array.NewRecordBatch(schema, []arrow.Array{arr}, int64(arr.Len()))
		if err := w.Write(rec); err != nil {
			tb.Fatal(err)
		}
		rec.Release()
		arr.Release()
	}
	w.Close()
	return buf.Bytes()
}

func TestDecodeDeltaDictionaries(t *testing.T) {
	d, _ := NewDecoder([]string{"c"})
	if got := fmt.Sprint(decodeAll(t, d, deltaDictionaryStream(t))); got != "[[string:a] [string:b] [string:b] [string:c] [string:d]]" {
		t.Fatalf("got %s", got)
	}
}

func TestDecodeLastFieldOfANameWins(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.BinaryTypes.String}, {Name: "a", Type: arrow.PrimitiveTypes.Int32},
	}, nil)
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	sb := array.NewStringBuilder(memory.DefaultAllocator)
	sb.Append("x")
	ib := array.NewInt32Builder(memory.DefaultAllocator)
	ib.Append(7)
	rec := array.NewRecordBatch(schema, []arrow.Array{sb.NewArray(), ib.NewArray()}, 1)
	w.Write(rec)
	w.Close()
	d, _ := NewDecoder([]string{"a"})
	if got := fmt.Sprint(decodeAll(t, d, buf.Bytes())); got != "[[number:7]]" {
		t.Fatalf("got %s", got)
	}
}

func TestDecodeSchemaChangesAndCache(t *testing.T) {
	v1 := arrowtest.Stream(t, profileSchema, `[{"email": "a@x.io"}]`)
	v1b := arrowtest.Stream(t, profileSchema, `[{"email": "b@x.io"}, {"email": "c@x.io"}]`)
	s2 := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "email", Type: arrow.BinaryTypes.String}}, nil)
	v2 := arrowtest.Stream(t, s2, `[{"id": 1, "email": "d@x.io"}]`)
	d, _ := NewDecoder([]string{"email"})
	out := make([]fields.Value, 1)
	var seen []string
	for _, v := range [][]byte{v1, v1b, v1, v2, v2, v1} {
		if _, err := d.Decode(v, out, func() { seen = append(seen, string(out[0].Raw)) }); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(seen) != "[a@x.io b@x.io c@x.io a@x.io d@x.io d@x.io a@x.io]" {
		t.Fatalf("rows %v", seen)
	}
	if n, now := d.SchemaChanges(); n != 2 || !strings.HasPrefix(now, "15 columns") {
		t.Fatalf("SchemaChanges = %d, %q; want 2 changes, now 15 columns", n, now)
	}
	if d.parses != 2 {
		t.Fatalf("the schemas were parsed %d times, want 2 (once each)", d.parses)
	}
	d.Reset()
	d.Decode(v2, out, func() {})
	d.Rewind() // the batch that saw v2 is abandoned
	d.Decode(v1, out, func() {})
	if n, _ := d.SchemaChanges(); n != 0 {
		t.Fatalf("after Rewind, re-reading the same schema counts %d changes", n)
	}
}

func TestDecodeErrorsShowNothing(t *testing.T) {
	good := arrowtest.Stream(t, profileSchema, profileRows, profileRows)
	d, _ := NewDecoder([]string{"email", "company"})
	out := make([]fields.Value, 2)
	for _, c := range []struct {
		name  string
		value []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-20]},
		{"truncated header", good[:6]},
		{"garbage", []byte("{\"email\": \"a@x.io\"}")},
		{"no schema", good[bytes.Index(good[8:], []byte{0xff, 0xff, 0xff, 0xff})+8:]},
		{"trailing bytes", append(append([]byte(nil), good...), 1, 2, 3)},
	} {
		called := false
		n, err := d.Decode(c.value, out, func() { called = true })
		if err == nil || !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: err %v", c.name, err)
		}
		if called || n != 0 || out[0].Kind != fields.Missing {
			t.Errorf("%s: rows shown (%v, %d, %v)", c.name, called, n, out[0])
		}
	}
}

func TestDecodeUnsupported(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "iv", Type: arrow.FixedWidthTypes.MonthInterval}, {Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	value := arrowtest.Stream(t, schema, `[{"iv": {"months": 3}, "s": "x"}]`)
	d, _ := NewDecoder([]string{"s"})
	if got := fmt.Sprint(decodeAll(t, d, value)); got != "[[string:x]]" {
		t.Fatalf("an unplanned interval column gets in the way: %s", got)
	}
	d, _ = NewDecoder([]string{"iv"})
	if _, err := d.Decode(value, make([]fields.Value, 1), func() {}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("planning an interval column: %v", err)
	}
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema), ipc.WithZstd())
	rec, _, _ := array.RecordFromJSON(memory.DefaultAllocator, schema, strings.NewReader(`[{"iv": {"months": 3}, "s": "x"}]`))
	w.Write(rec)
	w.Close()
	d, _ = NewDecoder([]string{"s"})
	if _, err := d.Decode(buf.Bytes(), make([]fields.Value, 1), func() {}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("compressed: %v", err)
	}
}

func TestAppendDecimal(t *testing.T) {
	for _, c := range []struct {
		b     []byte
		scale int32
		want  string
	}{
		{le(12345, 16), 2, "123.45"},
		{le(-5, 16), 2, "-0.05"},
		{le(0, 16), 3, "0.000"},
		{le(7, 4), 0, "7"},
		{le(-7, 8), -3, "-7e3"},
		{le(-1, 32), 0, "-1"},
		{append(bytes.Repeat([]byte{0xff}, 15), 0x7f), 0, "170141183460469231731687303715884105727"},
		{append(make([]byte, 15), 0x80), 0, "-170141183460469231731687303715884105728"},
		{le(1e18, 16), 19, "0.1000000000000000000"},
	} {
		if got := string(appendDecimal(nil, c.b, c.scale)); got != c.want {
			t.Errorf("appendDecimal(%x, %d) = %s, want %s", c.b, c.scale, got, c.want)
		}
	}
}

// le is v as a little-endian two's complement integer of n bytes.
func le(v int64, n int) []byte {
	b := make([]byte, n)
	for i := range n {
		b[i] = byte(v >> min(8*i, 63))
	}
	return b
}

// TestAppendFloatIsEncodingJSON: floats read as encoding/json writes them,
// the fast path included.
func TestAppendFloatIsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(f float64, bits int) {
		if bits == 32 {
			f = float64(float32(f)) // a float32 column's value
		}
		var want []byte
		var err error
		if bits == 32 {
			want, err = json.Marshal(float32(f))
		} else {
			want, err = json.Marshal(f)
		}
		if err != nil {
			return // NaN, Inf
		}
		if got := appendFloat(nil, f, bits); string(got) != string(want) {
			t.Fatalf("appendFloat(%v, %d) = %s, encoding/json says %s", f, bits, got, want)
		}
		v := fields.Value{Kind: fields.Number, Raw: appendFloat(nil, f, bits)}
		if back, ok := v.Float(); !ok || bits == 64 && back != f || bits == 32 && float32(back) != float32(f) {
			t.Fatalf("Float() of %s = %v, want %v", v.Raw, back, f)
		}
	}
	for _, f := range []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 0.5, 64.47, -0.05, 1e15, 1e20, 1e21, 1e-6, 1e-7,
		123456.789, 9007199254740991, 9007199254740993, 0.30000000000000004, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		check(f, 64)
		check(f, 32)
	}
	for range 200000 {
		var f float64
		switch r.IntN(4) {
		case 0: // a short decimal
			f = float64(r.Int64N(2_000_000_000)-1_000_000_000) / pow10[r.IntN(7)]
		case 1:
			f = r.NormFloat64() * math.Pow(10, float64(r.IntN(40)-20))
		case 2:
			f = math.Float64frombits(r.Uint64())
		default:
			f = float64(r.Int64N(1<<54)) / 8
		}
		check(f, 64)
		check(f, 32)
	}
}
