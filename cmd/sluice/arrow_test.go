package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/arrowrows/arrowfile"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/gate"
	"github.com/sluicehq/sluice/internal/arrowtest"
)

// arrowSchema is the Arrow feed of these tests: a struct column, a
// dictionary column, numbers and a bool.
var arrowSchema = arrow.NewSchema([]arrow.Field{
	{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "contact", Type: arrow.StructOf(arrow.Field{Name: "phone", Type: arrow.BinaryTypes.String, Nullable: true}), Nullable: true},
	{Name: "company", Type: &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}, Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Int64},
	{Name: "score", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "active", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

// arrowRecordRows is record i's rows (4 of them) as JSON; a bad record has
// two null emails.
func arrowRecordRows(i int, bad bool) string {
	var rows []string
	for k := range 4 {
		email := fmt.Sprintf("%q", fmt.Sprintf("user%d.%d@example.com", i, k))
		if bad && k < 2 {
			email = "null"
		}
		rows = append(rows, fmt.Sprintf(`{"email": %s, "contact": {"phone": "+1 555 %04d"}, "company": "Acme %d", "n": %d, "score": %d.25, "active": %t}`,
			email, 4*i+k, k%2, 4*i+k, k, k%2 == 0))
	}
	return "[" + strings.Join(rows, ",") + "]"
}

// arrowBatch is rows as a record batch of arrowSchema.
func arrowBatch(t *testing.T, rows string) arrow.RecordBatch {
	t.Helper()
	rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, arrowSchema, strings.NewReader(rows))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

const arrowFeedYAML = `brokers: [%s]
group: qa
feeds:
  - name: profiles
    input: in
    output: out
    quarantine: quar
    format: arrow
    key: email
    batch: {max_records: 40, max_wait: 200ms}
    detectors:
      - name: valid
        type: rules
        rules: [{field: email, required: true}]
        max_violation_rate: 0.01
`

// quarantinedArrow starts a broker and a gate with an Arrow feed, sends
// one failing batch (10 records of 4 rows; record 3 has two null emails)
// and returns the config file and the rows sent, as JSON.
func quarantinedArrow(t *testing.T) (cfgPath string, rows []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfgPath = filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(arrowFeedYAML, c.ListenAddrs()[0])), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range 10 {
		r := arrowRecordRows(i, i == 3)
		rows = append(rows, r)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "in", Key: []byte(fmt.Sprint(i)), Value: arrowtest.Stream(t, arrowSchema, r)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	runUntilHeld(t, cfg, cfgPath, "profiles:0:0")
	return cfgPath, rows
}

// readArrowFile reads an export back with arrow-go: its schema and its one
// record batch, as JSON rows (arrow-go's own rendering).
func readArrowFile(t *testing.T, path string) (*arrow.Schema, []map[string]any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fr, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatalf("arrow-go cannot read the export: %v", err)
	}
	defer fr.Close()
	var rows []map[string]any
	for i := range fr.NumRecords() {
		rec, err := fr.RecordBatchAt(i)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		var rs []map[string]any
		if err := json.Unmarshal(b, &rs); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, rs...)
	}
	return fr.Schema(), rows
}

func exportedDecision(t *testing.T, s *arrow.Schema) *gate.Decision {
	t.Helper()
	v, ok := s.Metadata().GetValue(arrowfile.MetaDecision)
	if !ok {
		t.Fatalf("no %s in the schema metadata: %v", arrowfile.MetaDecision, s.Metadata())
	}
	d, err := gate.ParseDecision([]byte(v))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestQuarantineExportArrowOfAJSONFeed: a JSON feed's batch exports as one
// row a record, with its decision, and arrow-go reads back the same
// records.
func TestQuarantineExportArrowOfAJSONFeed(t *testing.T) {
	cfg, values := quarantined(t)
	file := filepath.Join(t.TempDir(), "batch.arrow")
	if code, out := sluice(t, "quarantine", "export", "sponsors:0:0", "--format", "arrow", "-o", file, "-c", cfg); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	s, rows := readArrowFile(t, file)
	if d := exportedDecision(t, s); d.Batch != "sponsors:0:0" || d.State != gate.StateQuarantined || d.Records != 10 {
		t.Fatalf("decision in the export: %+v", d)
	}
	if v, _ := s.Metadata().GetValue(arrowfile.MetaLayout); v != arrowfile.LayoutRecords {
		t.Fatalf("layout %q", v)
	}
	if len(rows) != len(values) {
		t.Fatalf("%d rows, want %d", len(rows), len(values))
	}
	for i, r := range rows {
		if r["value"] != string(values[i]) || r["key"] != fmt.Sprint(i) || r["offset"] != float64(i) || r["partition"] != float64(0) {
			t.Fatalf("row %d: %v (want value %s)", i, r, values[i])
		}
	}
}

// TestQuarantineExportArrowOfAnArrowFeed: an Arrow feed's batch exports
// as its rows, in the feed's schema plus partition and offset, with its
// decision; arrow-go reads back the rows that were sent.
func TestQuarantineExportArrowOfAnArrowFeed(t *testing.T) {
	cfg, sent := quarantinedArrow(t)
	file := filepath.Join(t.TempDir(), "batch.arrow")
	code, out := sluice(t, "quarantine", "export", "profiles:0:0", "--format", "arrow", "-o", file, "-c", cfg)
	if code != 0 || !strings.Contains(out, "10 records (40 rows") {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	s, rows := readArrowFile(t, file)
	if d := exportedDecision(t, s); d.Batch != "profiles:0:0" || d.Records != 40 || len(d.Findings) != 1 {
		t.Fatalf("decision in the export: %+v", d)
	}
	if v, _ := s.Metadata().GetValue(arrowfile.MetaLayout); v != arrowfile.LayoutRows {
		t.Fatalf("layout %q", v)
	}
	if !arrow.TypeEqual(s.Field(2).Type, arrowSchema.Field(2).Type) || s.Field(6).Name != "sluice_partition" || s.Field(7).Name != "sluice_offset" {
		t.Fatalf("schema %s", s)
	}
	var want []map[string]any
	for i, r := range sent {
		var rs []map[string]any
		json.Unmarshal([]byte(r), &rs)
		for _, row := range rs {
			row["sluice_partition"], row["sluice_offset"] = float64(0), float64(i)
			want = append(want, row)
		}
	}
	if g, w := mustJSON(t, rows), mustJSON(t, want); g != w {
		t.Fatalf("rows differ\n got %s\nwant %s", g, w)
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReplayArrowFile: replay reads an Arrow IPC file (and stream) as one
// record a record batch, and judges its rows as the gate would.
func TestReplayArrowFile(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfgPath, []byte(strings.Replace(arrowFeedYAML, "brokers: [%s]\n", "", 1)), 0o644)
	var file, stream bytes.Buffer
	fw, err := ipc.NewFileWriter(&file, ipc.WithSchema(arrowSchema))
	if err != nil {
		t.Fatal(err)
	}
	sw := ipc.NewWriter(&stream, ipc.WithSchema(arrowSchema))
	// Every batch has the same dictionary ("Acme 0", "Acme 1"): a file
	// allows no other.
	for i := range 30 {
		rec := arrowBatch(t, arrowRecordRows(i, i == 13))
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
	os.WriteFile(filepath.Join(dir, "feed.arrow"), file.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "feed.stream"), stream.Bytes(), 0o644)
	want := "profiles:0:0  40  pass  \nprofiles:0:10  40  quarantine  valid: "
	for _, args := range [][]string{
		{"--input", filepath.Join(dir, "feed.arrow")},
		{"--input", filepath.Join(dir, "feed.stream"), "--input-format", "arrow"},
	} {
		code, out := sluice(t, append([]string{"replay", "-c", cfgPath}, args...)...)
		if code != 0 || !strings.Contains(strings.Join(strings.Fields(out), "  "), strings.Join(strings.Fields(want), "  ")) ||
			!strings.Contains(out, "3 batches, 120 records: 2 pass, 0 warn, 1 quarantine") {
			t.Fatalf("replay %v: exit %d\n%s", args, code, out)
		}
	}
	// A JSON feed cannot replay an Arrow file.
	os.WriteFile(cfgPath, []byte(strings.Replace(strings.Replace(arrowFeedYAML, "brokers: [%s]\n", "", 1), "format: arrow", "format: json", 1)), 0o644)
	if code, out := sluice(t, "replay", "-c", cfgPath, "--input", filepath.Join(dir, "feed.arrow")); code == 0 || !strings.Contains(out, "format: arrow") {
		t.Fatalf("replaying an Arrow file into a JSON feed: exit %d\n%s", code, out)
	}
}
