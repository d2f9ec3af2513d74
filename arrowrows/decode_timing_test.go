package arrowrows

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"

	"github.com/sluicehq/sluice/bench"
	"github.com/sluicehq/sluice/fields"
	"github.com/sluicehq/sluice/internal/arrowtest"
)

// simSchema is the simulated vendor's record (package bench) as Arrow
// columns.
var simSchema = arrow.NewSchema([]arrow.Field{
	{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "profile_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "company", Type: dictString(), Nullable: true},
	{Name: "title", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "changed_at", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "country", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "event", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "url", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

var simPaths = []string{"email", "profile_id", "company", "score"}

// simRecords returns n simulated rows as JSON values and as Arrow records
// of perRecord rows each.
func simRecords(tb testing.TB, n, perRecord int) (jsonValues, arrowValues [][]byte) {
	tb.Helper()
	sim, err := bench.New(bench.Config{Seed: 7, MeanBatch: n, Flat: true})
	if err != nil {
		tb.Fatal(err)
	}
	for len(jsonValues) < n {
		for _, r := range sim.Next().Records {
			if len(jsonValues) < n {
				jsonValues = append(jsonValues, r.Value)
			}
		}
	}
	for i := 0; i < n; i += perRecord {
		rows := "[" + string(bytes.Join(jsonValues[i:min(n, i+perRecord)], []byte{','})) + "]"
		arrowValues = append(arrowValues, arrowtest.Stream(tb, simSchema, rows))
	}
	return jsonValues, arrowValues
}

var sinkValue fields.Value

// BenchmarkDecode decodes records of 1 to 1000 rows, four planned
// columns (two strings, a dictionary string, a float): the cost per row,
// and per record (the framing and the schema lookup).
func BenchmarkDecode(b *testing.B) {
	for _, per := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("rows=%d", per), func(b *testing.B) {
			_, values := simRecords(b, 1000, per)
			d, _ := NewDecoder(simPaths)
			benchDecode(b, d, values, false)
		})
	}
}

// BenchmarkDecodeNoCache is BenchmarkDecode with the schema parsed and
// planned for every record: what the plan cache saves.
func BenchmarkDecodeNoCache(b *testing.B) {
	for _, per := range []int{1, 100} {
		b.Run(fmt.Sprintf("rows=%d", per), func(b *testing.B) {
			_, values := simRecords(b, 1000, per)
			d, _ := NewDecoder(simPaths)
			benchDecode(b, d, values, true)
		})
	}
}

func benchDecode(b *testing.B, d *Decoder, values [][]byte, noCache bool) {
	out := make([]fields.Value, len(simPaths))
	size := 0
	for _, v := range values {
		size += len(v)
	}
	rows := 0
	row := func() { sinkValue = out[3] }
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		for _, v := range values {
			if noCache {
				clear(d.cache)
				d.cur = nil
			}
			n, err := d.Decode(v, out, row)
			if err != nil {
				b.Fatal(err)
			}
			rows += n
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
}

// BenchmarkExtractJSON is the JSON path over the same rows, one record
// each: fields.Plan.Extract.
func BenchmarkExtractJSON(b *testing.B) {
	values, _ := simRecords(b, 1000, 1)
	p, err := fields.NewPlan(simPaths)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]fields.Value, len(simPaths))
	size := 0
	for _, v := range values {
		size += len(v)
	}
	b.ReportAllocs()
	b.SetBytes(int64(size))
	rows := 0
	for b.Loop() {
		for _, v := range values {
			if err := p.Extract(v, out); err != nil {
				b.Fatal(err)
			}
			sinkValue = out[3]
			rows++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
}

var sinkString string

// BenchmarkArrowGoReader is the usual way: an ipc.Reader per record
// (each parses the schema again and builds arrays), reading the same
// four columns through arrow-go's typed arrays.
func BenchmarkArrowGoReader(b *testing.B) {
	for _, per := range []int{1, 100} {
		b.Run(fmt.Sprintf("rows=%d", per), func(b *testing.B) {
			_, values := simRecords(b, 1000, per)
			size := 0
			for _, v := range values {
				size += len(v)
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			rows := 0
			var br bytes.Reader
			for b.Loop() {
				for _, v := range values {
					br.Reset(v)
					r, err := ipc.NewReader(&br)
					if err != nil {
						b.Fatal(err)
					}
					for r.Next() {
						rec := r.RecordBatch()
						email := rec.Column(0).(*array.String)
						pid := rec.Column(1).(*array.String)
						company := rec.Column(2).(*array.Dictionary)
						names := company.Dictionary().(*array.String)
						score := rec.Column(4).(*array.Float64)
						for i := range int(rec.NumRows()) {
							sinkString = email.Value(i)
							sinkString = pid.Value(i)
							if company.IsValid(i) {
								sinkString = names.Value(company.GetValueIndex(i))
							}
							sinkValue.Raw = fmt.Appendf(sinkValue.Raw[:0], "%g", score.Value(i))
							rows++
						}
					}
					if err := r.Err(); err != nil {
						b.Fatal(err)
					}
					r.Release()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
		})
	}
}

// TestDecodeAllocatesNothing: in steady state, a record of one row or of
// many costs no allocation, and neither does a record that fails.
func TestDecodeAllocatesNothing(t *testing.T) {
	_, single := simRecords(t, 20, 1)
	_, many := simRecords(t, 400, 100)
	d, _ := NewDecoder(simPaths)
	out := make([]fields.Value, len(simPaths))
	row := func() { sinkValue = out[0] }
	for _, v := range append(single, many...) {
		if _, err := d.Decode(v, out, row); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name   string
		values [][]byte
	}{{"one row", single}, {"100 rows", many}, {"truncated", [][]byte{many[0][:len(many[0])/2]}}} {
		i := 0
		if n := testing.AllocsPerRun(100, func() {
			d.Decode(c.values[i%len(c.values)], out, row)
			i++
		}); n != 0 {
			t.Errorf("%s: %v allocations a record", c.name, n)
		}
	}
}
