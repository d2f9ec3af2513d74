package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/arrowrows"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fields"
	"github.com/sluicehq/sluice/gate"
)

// arrowJSDir holds the interop scripts and, after `npm ci`, apache-arrow
// for JavaScript: an Arrow implementation independent of arrow-go.
const arrowJSDir = "../../test/arrowjs"

// needNode returns the node binary when node and apache-arrow are
// installed. Without them the test skips, saying how to install them; with
// CI set it fails, since every test must run there.
func needNode(t *testing.T) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") != "" {
			t.Fatalf("CI is set and a test tool is missing: "+format, args...)
		}
		t.Skipf("skipping: "+format, args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("no node on PATH; install Node.js 20 or later, then run `npm ci` in test/arrowjs")
	}
	if _, err := os.Stat(filepath.Join(arrowJSDir, "node_modules", "apache-arrow", "package.json")); err != nil {
		missing("apache-arrow is not installed; run `npm ci` in test/arrowjs")
	}
	return node
}

// runNode runs a script of test/arrowjs and fails the test if it exits
// non-zero.
func runNode(t *testing.T, node string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = arrowJSDir
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("node %s (%s):\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("node %s: %v", args[0], err)
	}
	return string(out)
}

// TestArrowInteropJavaScriptWrites: an IPC stream written by apache-arrow
// for JavaScript decodes to the values it was written from (strings,
// nulls, a struct field, a dictionary, 32- and 64-bit integers, floats,
// bools, text with quotes and non-ASCII), and the gate's rules detector
// quarantines it for its null emails.
func TestArrowInteropJavaScriptWrites(t *testing.T) {
	node := needNode(t)
	dir := t.TempDir()
	stream, expected := filepath.Join(dir, "js.arrows"), filepath.Join(dir, "js.json")
	runNode(t, node, "write.mjs", stream, expected)
	value, err := os.ReadFile(stream)
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if b, err := os.ReadFile(expected); err != nil || json.Unmarshal(b, &rows) != nil {
		t.Fatalf("reading %s: %v", expected, err)
	}
	paths := []string{"email", "contact.email", "company", "n", "big", "score", "active", "name", "absent"}
	d, err := arrowrows.NewDecoder(paths)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]fields.Value, len(paths))
	i := 0
	n, err := d.Decode(value, out, func() {
		for k, p := range paths {
			v, want := out[k], rows[i][p]
			ok := false
			switch w := want.(type) {
			case nil:
				ok = v.Kind == fields.Null || p == "absent" && v.Kind == fields.Missing
			case string:
				ok = v.Kind == fields.String && string(v.Raw) == w
			case float64:
				f, isNum := v.Float()
				ok = isNum && f == w && (w != float64(int64(w)) || string(v.Raw) == strconv.FormatInt(int64(w), 10))
			case bool:
				b, isBool := v.Bool()
				ok = isBool && b == w
			}
			if !ok {
				t.Errorf("row %d %s: %s %q, JavaScript wrote %v", i, p, v.Kind, v.Raw, want)
			}
		}
		i++
	})
	if err != nil || n != len(rows) || i != len(rows) {
		t.Fatalf("Decode: %d rows shown, %d returned, %v; JavaScript wrote %d", i, n, err, len(rows))
	}

	// Through the gate's batcher and a rules detector, as a Kafka record.
	cfg, err := config.Parse("interop.yaml", []byte(`
feeds:
  - name: js
    input: in
    output: out
    quarantine: quar
    format: arrow
    key: email
    detectors:
      - name: valid
        type: rules
        rules: [{field: email, required: true}, {field: n, type: integer}, {field: company, enum: [Acme, Globex, Initech]}]
        max_violation_rate: 0.01
`))
	if err != nil {
		t.Fatal(err)
	}
	sent := false
	var decs []*gate.Decision
	err = gate.Replay(cfg, "js", 0, func() (*kgo.Record, error) {
		if sent {
			return nil, io.EOF
		}
		sent = true
		return &kgo.Record{Value: value}, nil
	}, nil, func(r gate.Replayed) error {
		decs = append(decs, r.Decision)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(decs) != 1 || decs[0].Records != 12 || decs[0].Verdict.String() != "quarantine" || len(decs[0].Findings) != 1 ||
		decs[0].Findings[0].Observed != 0.25 {
		t.Fatalf("the JavaScript stream was judged %+v", decs[0])
	}
}

// TestArrowInteropJavaScriptReads: apache-arrow for JavaScript reads
// Sluice's Arrow exports (an Arrow feed's rows; a JSON feed's records)
// with the rows, values and decision that were sent.
func TestArrowInteropJavaScriptReads(t *testing.T) {
	node := needNode(t)
	dir := t.TempDir()
	write := func(name string, v any) string {
		path := filepath.Join(dir, name)
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// An Arrow feed: its rows, in its schema, plus partition and offset.
	cfg, sent := quarantinedArrow(t)
	file := filepath.Join(dir, "rows.arrow")
	if code, out := sluice(t, "quarantine", "export", "profiles:0:0", "--format", "arrow", "-o", file, "-c", cfg); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	var rows []map[string]any
	for i, r := range sent {
		var rs []map[string]any
		if err := json.Unmarshal([]byte(r), &rs); err != nil {
			t.Fatal(err)
		}
		for _, row := range rs {
			row["sluice_partition"], row["sluice_offset"] = 0, i
			rows = append(rows, row)
		}
	}
	runNode(t, node, "read.mjs", file, write("rows.json", map[string]any{"batch": "profiles:0:0", "layout": "rows", "rows": rows}))

	// A JSON feed: a row a record, with its key, value, timestamp and
	// headers (those the quarantine added among them), as the JSON
	// lines export has them.
	cfg, _ = quarantined(t)
	file, lines := filepath.Join(dir, "records.arrow"), filepath.Join(dir, "records.jsonl")
	for _, c := range [][]string{{"arrow", file}, {"jsonl", lines}} {
		if code, out := sluice(t, "quarantine", "export", "sponsors:0:0", "--format", c[0], "-o", c[1], "-c", cfg); code != 0 {
			t.Fatalf("export %s: exit %d\n%s", c[0], code, out)
		}
	}
	f, err := os.Open(lines)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows = nil
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var e exported
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, map[string]any{"partition": e.Partition, "offset": e.Offset, "timestamp": e.Timestamp.UnixMilli(),
			"key": e.Key, "value": string(e.Value), "headers": e.Headers})
	}
	if len(rows) != 10 {
		t.Fatalf("the JSON lines export has %d records", len(rows))
	}
	runNode(t, node, "read.mjs", file, write("records.json", map[string]any{"batch": "sponsors:0:0", "layout": "records", "rows": rows}))
}
