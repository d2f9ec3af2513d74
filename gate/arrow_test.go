package gate

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/internal/arrowtest"
)

// profileSchema is a vendor's Arrow record: the email sits in a struct,
// the company is dictionary-encoded.
var profileSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.PrimitiveTypes.Int64},
	{Name: "contact", Type: arrow.StructOf(
		arrow.Field{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	), Nullable: true},
	{Name: "company", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

// profileRows is one Kafka record's rows: n profiles, the first nulls of
// them without an email.
func profileRows(p int32, rec, n, nulls int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		email := fmt.Sprintf("%q", fmt.Sprintf("user%d.%d.%d@example.com", p, rec, i))
		if i < nulls {
			email = "null"
		}
		fmt.Fprintf(&b, `{"id": %d, "contact": {"email": %s}, "company": "Acme %d", "score": %d.5}`, rec*n+i, email, i%3, i)
	}
	return b.String() + "]"
}

// arrowInput builds n records a partition of 10 rows each; bad(p, i)
// makes half the emails of record i of partition p null.
func arrowInput(t *testing.T, topic string, parts int32, n int, bad func(p int32, i int) bool) []*kgo.Record {
	var recs []*kgo.Record
	for p := range parts {
		for i := range n {
			nulls := 0
			if bad != nil && bad(p, i) {
				nulls = 5
			}
			recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(fmt.Sprintf("k%d", i)),
				Value:     arrowtest.Stream(t, profileSchema, profileRows(p, i, 10, nulls)),
				Headers:   []kgo.RecordHeader{{Key: "trace", Value: []byte(fmt.Sprintf("t-%d-%d", p, i))}},
				Timestamp: time.UnixMilli(1_700_000_000_000 + int64(i))})
		}
	}
	return recs
}

const arrowFeed = `
group: g1
feeds:
  - name: profiles
    input: in
    output: out
    quarantine: quar
    format: arrow
    key: contact.email
    batch: {max_records: 100, max_wait: 300ms}
    detectors:
      - name: valid
        type: rules
        rules: [{field: contact.email, required: true, regex: '^[^@\s]+@[^@\s]+$'}, {field: score, type: number, min: 0}]
        max_violation_rate: 0.01
`

// TestArrowFeed: an Arrow feed's records are judged by their rows (a
// batch is max_records rows), clean records pass byte-identical, and a
// record with half its emails null gets its batch quarantined.
func TestArrowFeed(t *testing.T) {
	brokers := cluster(t, 2, "in")
	// 20 records of 10 rows a partition: two batches of 100 rows each.
	// Partition 1's record 13 has 5 null emails: 5% of its batch.
	in := arrowInput(t, "in", 2, 20, func(p int32, i int) bool { return p == 1 && i == 13 })
	produce(t, brokers, in...)
	g := startGate(t, parseConfig(t, brokers, arrowFeed), Options{})
	q := consume(t, brokers, "quar", 10, 20*time.Second)
	out := consume(t, brokers, "out", 30, 20*time.Second)
	if len(q) != 10 || len(out) != 30 {
		t.Fatalf("quarantine %d records (want 10), output %d (want 30)", len(q), len(out))
	}
	want := byPartition(in)
	for i, r := range q {
		sameRecord(t, r, want[1][10+i])
	}
	seen := map[int32]int{}
	for _, r := range out {
		// The output holds each partition's passing records in order,
		// byte-identical: partition 0's 20, partition 1's first 10.
		sameRecord(t, r, want[r.Partition][seen[r.Partition]])
		seen[r.Partition]++
	}
	decs := map[string]*Decision{}
	waitFor(t, "four decisions", 10*time.Second, func() bool {
		for _, r := range consume(t, brokers, "g1.decisions", 4, time.Second) {
			d, err := ParseDecision(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			decs[d.Batch] = d
		}
		return len(decs) == 4
	})
	for id, d := range decs {
		wantState := StatePassed
		if id == "profiles:1:10" {
			wantState = StateQuarantined
		}
		var size int64
		for _, r := range want[d.Partition][d.FirstOffset : d.LastOffset+1] {
			size += int64(len(r.Value))
		}
		// Records are rows; bytes are the messages' bytes.
		if d.State != wantState || d.Records != 100 || d.LastOffset-d.FirstOffset != 9 || d.Bytes != size {
			t.Errorf("decision %s: %s, %d records, offsets %d-%d, %d bytes; want %s, 100 rows, 10 messages, %d bytes",
				id, d.State, d.Records, d.FirstOffset, d.LastOffset, d.Bytes, wantState, size)
		}
		if wantState == StateQuarantined && (len(d.Findings) != 1 || d.Findings[0].Detector != "valid" || d.Findings[0].Observed != 0.05) {
			t.Errorf("findings of %s: %+v", id, d.Findings)
		}
	}
	m := g.g.feeds["in"].m
	if got := testutil.ToFloat64(m.passed); got != 300 {
		t.Errorf("sluice_records_total{result=passed} = %v, want 300 (rows)", got)
	}
	if got := testutil.ToFloat64(m.quarantined); got != 100 {
		t.Errorf("sluice_records_total{result=quarantined} = %v, want 100 (rows)", got)
	}
	g.stop(t)
}

// TestArrowSchemaChange: a batch in which the schema changes gets a
// "schema" finding, whose verdict is the feed's on_schema_change (warn
// when unset: the batch passes, flagged).
func TestArrowSchemaChange(t *testing.T) {
	brokers := cluster(t, 1, "in.warn", "in.strict")
	wider := arrow.NewSchema(append(profileSchema.Fields(), arrow.Field{Name: "country", Type: arrow.BinaryTypes.String, Nullable: true}), nil)
	var in []*kgo.Record
	for _, topic := range []string{"in.warn", "in.strict"} {
		for i := range 10 {
			schema := profileSchema
			if i >= 6 { // records 6..9 have the new column
				schema = wider
			}
			in = append(in, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: arrowtest.Stream(t, schema, profileRows(0, i, 10, 0))})
		}
	}
	produce(t, brokers, in...)
	g := startGate(t, parseConfig(t, brokers, `
group: g1
feeds:
  - name: warned
    input: in.warn
    output: out.warn
    quarantine: quar.warn
    format: arrow
    batch: {max_records: 100, max_wait: 300ms}
  - name: strict
    input: in.strict
    output: out.strict
    quarantine: quar.strict
    format: arrow
    on_schema_change: quarantine
    batch: {max_records: 100, max_wait: 300ms}
`), Options{})
	if out := consume(t, brokers, "out.warn", 10, 20*time.Second); len(out) != 10 {
		t.Fatalf("a warned schema change: %d records passed, want 10", len(out))
	}
	if q := consume(t, brokers, "quar.strict", 10, 20*time.Second); len(q) != 10 {
		t.Fatalf("on_schema_change: quarantine: %d records quarantined, want 10", len(q))
	}
	decs := map[string]*Decision{}
	waitFor(t, "two decisions", 10*time.Second, func() bool {
		for _, r := range consume(t, brokers, "g1.decisions", 2, time.Second) {
			d, _ := ParseDecision(r.Value)
			decs[d.Feed] = d
		}
		return len(decs) == 2
	})
	for feed, v := range map[string]detectors.Verdict{"warned": detectors.Warn, "strict": detectors.Quarantine} {
		d := decs[feed]
		if d.Verdict != v || len(d.Findings) != 1 {
			t.Fatalf("%s: verdict %s, findings %+v", feed, d.Verdict, d.Findings)
		}
		f := d.Findings[0]
		if f.Detector != "schema" || f.Type != "schema" || f.Metric != "schema_change" || f.Observed != 1 || !strings.Contains(f.Message, "5 columns") {
			t.Errorf("%s: finding %+v", feed, f)
		}
	}
	g.stop(t)
}

// TestArrowReplayMatchesRun: the same Arrow records through the gate and
// through Replay give the same decisions.
func TestArrowReplayMatchesRun(t *testing.T) {
	brokers := cluster(t, 1, "in")
	in := arrowInput(t, "in", 1, 40, func(_ int32, i int) bool { return i == 5 || i == 27 })
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, arrowFeed)
	g := startGate(t, cfg, Options{})
	got := map[string]string{}
	waitFor(t, "the run's decisions", 30*time.Second, func() bool {
		for _, r := range consume(t, brokers, "g1.decisions", 4, time.Second) {
			d, _ := ParseDecision(r.Value)
			got[d.Batch] = fmt.Sprintf("%s %d %d", d.Verdict, d.Records, d.Bytes)
		}
		return len(got) >= 4
	})
	g.stop(t)
	i := 0
	want := map[string]string{}
	err := Replay(parseConfig(t, nil, arrowFeed), "profiles", 0, func() (*kgo.Record, error) {
		if i >= len(in) {
			return nil, io.EOF
		}
		i++
		return &kgo.Record{Key: in[i-1].Key, Value: in[i-1].Value, Offset: int64(i - 1)}, nil
	}, nil, func(r Replayed) error {
		want[r.Decision.Batch] = fmt.Sprintf("%s %d %d", r.Decision.Verdict, r.Decision.Records, r.Decision.Bytes)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("run: %v\nreplay: %v", got, want)
	}
	if !strings.HasPrefix(want["profiles:0:0"], "quarantine 100 ") || !strings.HasPrefix(want["profiles:0:20"], "quarantine 100 ") ||
		!strings.HasPrefix(want["profiles:0:10"], "pass 100 ") {
		t.Fatalf("the bad records' batches were not quarantined: %v", want)
	}
}

// TestArrowMalformedRecords: a record that is not a well-formed Arrow IPC
// stream goes where on_decode_error says: its batch to quarantine (the
// default), or dropped and counted.
func TestArrowMalformedRecords(t *testing.T) {
	brokers := cluster(t, 1, "in.q", "in.d")
	q := arrowInput(t, "in.q", 1, 10, nil)
	q[4].Value = q[4].Value[:len(q[4].Value)/2] // truncated mid-stream
	d := arrowInput(t, "in.d", 1, 10, nil)
	d[6].Value = []byte("<html>502 Bad Gateway</html>")
	produce(t, brokers, append(q, d...)...)
	g := startGate(t, parseConfig(t, brokers, `
group: g1
feeds:
  - name: quarantined
    input: in.q
    output: out.q
    quarantine: quar.q
    format: arrow
    batch: {max_records: 100, max_wait: 300ms}
  - name: dropped
    input: in.d
    output: out.d
    quarantine: quar.d
    format: arrow
    on_decode_error: drop
    batch: {max_records: 100, max_wait: 300ms}
`), Options{})
	quar := consume(t, brokers, "quar.q", 10, 20*time.Second)
	if len(quar) != 10 {
		t.Fatalf("quarantine has %d records, want the batch's 10", len(quar))
	}
	for i, r := range quar {
		sameRecord(t, r, q[i])
	}
	out := consume(t, brokers, "out.d", 9, 20*time.Second)
	if len(out) != 9 {
		t.Fatalf("output has %d records, want the 9 decodable ones", len(out))
	}
	for i, r := range out {
		sameRecord(t, r, d[i+i/6])
	}
	m := g.g.feeds["in.d"].m
	waitFor(t, "the drop count", 5*time.Second, func() bool { return testutil.ToFloat64(m.dropped) == 1 })
	if p := testutil.ToFloat64(m.passed); p != 90 {
		t.Errorf("passed = %v, want 90 (rows)", p)
	}
	var dec *Decision
	waitFor(t, "the decision", 10*time.Second, func() bool {
		for _, r := range consume(t, brokers, "g1.decisions", 2, time.Second) {
			if x, _ := ParseDecision(r.Value); x != nil && x.Feed == "quarantined" {
				dec = x
			}
		}
		return dec != nil
	})
	// An undecodable record counts as one row.
	if dec.Records != 91 || len(dec.Findings) != 1 || dec.Findings[0].Detector != "decode" || dec.Findings[0].Observed != 1 {
		t.Errorf("decision %+v", dec)
	}
	g.stop(t)
}
