package gate

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicehq/sluice/bench"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/internal/arrowtest"
)

// The observe benchmarks drive judge.observe, the gate's hot path, over
// the same simulated vendor rows as JSON records and as Arrow records
// (observeRowsPerRecord rows each), with the same detectors; ns/row is
// what to compare.

const observeFeed = `
feeds:
  - name: sponsors
    input: in
    output: out
    quarantine: quar
    format: %s
    key: email
    detectors:
      - name: supernodes
        type: degree
        neighbor: profile_id
        max_degree: 50
      - name: volume
        type: variance
        metrics: [count, distinct_keys, "null_rate(title)", "mean(score)"]
        max_z: 6
      - name: valid
        type: rules
        rules: [{field: email, required: true%s}, {field: score, type: number, min: 0, max: 100}, {field: company, type: string, max_length: 80}]
`

// The rules' email check: none, or a regex, which costs as much as the
// rest together (the same in both formats).
var observeChecks = []struct{ name, rule string }{
	{"cheap", ""},
	{"regex", `, regex: '^[^@\s]+@[^@\s]+$'`},
}

const (
	observeRows          = 2000
	observeRowsPerRecord = 200
)

// simSchema is the simulated vendor's record as Arrow columns.
var simSchema = arrow.NewSchema([]arrow.Field{
	{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "profile_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "company", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	{Name: "title", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "changed_at", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "country", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "event", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "url", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// simRows returns n simulated records as JSON values, and the same rows
// as Arrow IPC streams of perRecord rows each.
func simRows(tb testing.TB, n, perRecord int) (keys, jsonValues [][]byte, arrowValues [][]byte) {
	tb.Helper()
	sim, err := bench.New(bench.Config{Seed: 7, MeanBatch: n, Flat: true})
	if err != nil {
		tb.Fatal(err)
	}
	for len(jsonValues) < n {
		for _, r := range sim.Next().Records {
			if len(jsonValues) < n {
				keys = append(keys, r.Key)
				jsonValues = append(jsonValues, r.Value)
			}
		}
	}
	for i := 0; i < n; i += perRecord {
		rows := append([]byte{'['}, bytes.Join(jsonValues[i:min(n, i+perRecord)], []byte{','})...)
		arrowValues = append(arrowValues, arrowtest.Stream(tb, simSchema, string(append(rows, ']'))))
	}
	return keys, jsonValues, arrowValues
}

func observeJudge(tb testing.TB, format, rule string) *judge {
	tb.Helper()
	cfg, err := config.Parse("observe.yaml", []byte(fmt.Sprintf(observeFeed, format, rule)))
	if err != nil {
		tb.Fatal(err)
	}
	f := &cfg.Feeds[0]
	env := &detectors.Env{Feed: f.Name, Binder: &detectors.Binder{}, RedactKeys: true, Dir: cfg.Dir(), Logger: slog.New(slog.DiscardHandler)}
	j, err := newJudge(f, env)
	if err != nil {
		tb.Fatal(err)
	}
	return j
}

// observeAll shows every record to the judge as one batch.
func observeAll(tb testing.TB, j *judge, keys, values [][]byte) int {
	rows := 0
	for i, v := range values {
		var k []byte
		if i < len(keys) {
			k = keys[i]
		}
		n, ok := j.observe(k, v)
		if !ok {
			tb.Fatalf("record %d does not decode", i)
		}
		rows += n
	}
	return rows
}

func benchObserve(b *testing.B, format string) {
	for _, c := range observeChecks {
		b.Run(c.name, func(b *testing.B) { benchObserveWith(b, format, c.rule) })
	}
}

func benchObserveWith(b *testing.B, format, rule string) {
	keys, jsonValues, arrowValues := simRows(b, observeRows, observeRowsPerRecord)
	values := jsonValues
	if format == "arrow" {
		keys, values = nil, arrowValues
	}
	size := 0
	for _, v := range values {
		size += len(v)
	}
	j := observeJudge(b, format, rule)
	observeAll(b, j, keys, values) // warm: plans, tables
	j.reset()
	b.ReportAllocs()
	b.SetBytes(int64(size))
	rows := 0
	for b.Loop() {
		rows += observeAll(b, j, keys, values)
		j.reset()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rows), "ns/row")
}

// BenchmarkJSONObserve is the JSON path: one row a record.
func BenchmarkJSONObserve(b *testing.B) { benchObserve(b, "json") }

// BenchmarkArrowObserve is the Arrow path: observeRowsPerRecord rows a
// record, the same rows as BenchmarkJSONObserve's.
func BenchmarkArrowObserve(b *testing.B) { benchObserve(b, "arrow") }

// TestArrowObserveAllocatesNothing: in steady state, observing an Arrow
// record (and so each of its rows) allocates nothing.
func TestArrowObserveAllocatesNothing(t *testing.T) {
	_, _, values := simRows(t, 400, 100)
	j := observeJudge(t, "arrow", observeChecks[1].rule)
	observeAll(t, j, nil, values)
	i := 0
	perRecord := testing.AllocsPerRun(200, func() {
		j.observe(nil, values[i%len(values)])
		i++
	})
	if perRecord != 0 {
		t.Errorf("observing an Arrow record of 100 rows allocates %v times", perRecord)
	}
	j.reset()
	// One row a record: the per-record overhead alone.
	_, _, single := simRows(t, 50, 1)
	observeAll(t, j, nil, single)
	if n := testing.AllocsPerRun(200, func() {
		j.observe(nil, single[i%len(single)])
		i++
	}); n != 0 {
		t.Errorf("observing an Arrow record of one row allocates %v times", n)
	}
}
