package reference_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/fields"
	"github.com/sluicehq/sluice/reference"
)

func sample(key string, vals ...string) detectors.Sample {
	s := detectors.Sample{Key: []byte(key)}
	for _, v := range vals {
		s.Fields = append(s.Fields, detectors.SampleValue{Kind: fields.String, Text: []byte(v)})
	}
	return s
}

func outcomes(t *testing.T, ref detectors.Reference, samples ...detectors.Sample) []detectors.Outcome {
	t.Helper()
	if err := ref.Check(context.Background(), samples); err != nil {
		t.Fatal(err)
	}
	out := make([]detectors.Outcome, len(samples))
	for i, s := range samples {
		out[i] = s.Outcome
	}
	return out
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

var profileRef = config.Reference{Key: "email", Compare: []string{"profile_id", "company"}}

func TestFileFormats(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"ref.jsonl": `{"email":"a@x.com","profile_id":"p1","company":"Acme"}` + "\n\n" +
			`{"email":"b@x.com","profile_id":"p2","company":"Beta \u00e9","extra":[1,2]}` + "\r\n" +
			`{"email":"c@x.com","profile_id":"p3"}` + "\n" +
			`{"email":"a@x.com","profile_id":"p1","company":"Acme Inc"}`, // the last line of a key wins; no final newline
		"ref.csv": "\ufeffemail,company,profile_id\n" +
			"a@x.com,Acme Inc,p1\n" +
			"b@x.com,\"Beta é\",p2\n" +
			"c@x.com,,p3\n",
	}
	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			write(t, filepath.Join(dir, name), content)
			cfg := profileRef
			cfg.File = name
			ref, err := reference.Open(cfg, dir)
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			got := outcomes(t, ref,
				sample("a@x.com", "p1", "Acme Inc"),
				sample("a@x.com", "p1", "Acme"),
				sample("b@x.com", "p2", "Beta é"),
				sample("c@x.com", "p3", ""), // a missing field reads as empty
				sample("d@x.com", "p4", "Delta"),
				detectors.Sample{Fields: make([]detectors.SampleValue, 2)}, // no key
			)
			want := []detectors.Outcome{detectors.Correct, detectors.Wrong, detectors.Correct, detectors.Correct, detectors.NotInReference, detectors.NotInReference}
			if !slices.Equal(got, want) {
				t.Errorf("outcomes %v, want %v", got, want)
			}
		})
	}
}

func TestFileWrongFields(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "ref.csv"), "email,profile_id,company\na@x.com,p1,Acme\n")
	cfg := profileRef
	cfg.File, cfg.Match = "ref.csv", "fold"
	ref, err := reference.Open(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	s := []detectors.Sample{sample("a@x.com", "p2", "  ACME ")}
	if err := ref.Check(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if s[0].Outcome != detectors.Wrong || s[0].WrongFields != 1 {
		t.Errorf("outcome %v, wrong fields %b; want Wrong, profile_id only", s[0].Outcome, s[0].WrongFields)
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ name, content, want string }{
		{"missing.jsonl", "", "no such file"},
		{"bad.jsonl", `{"email":"a","profile_id":"p","company":"c"}` + "\n" + `{"email":"b",` + "\n", "bad.jsonl: line 2: "},
		{"nokey.jsonl", `{"profile_id":"p","company":"c"}` + "\n", "line 1: no key email"},
		{"array.json", `[{"email":"a"}]`, "line 1: "},
		{"ref.txt", "email\n", `unknown extension ".txt"`},
		{"nocol.csv", "email,company\na,b\n", `line 1: no column "profile_id"`},
		{"ragged.csv", "email,profile_id,company\na,b,c\nd,e\n", "line 3, column 1: wrong number of fields"},
		{"quote.csv", "email,profile_id,company\na,\"b,c\n", "line 2"},
	}
	for _, c := range cases {
		if c.content != "" {
			write(t, filepath.Join(dir, c.name), c.content)
		}
		cfg := profileRef
		cfg.File = c.name
		_, err := reference.Open(cfg, dir)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: error %v, want the path and %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), `"b"`) {
			t.Errorf("%s: error %v quotes the file's content", c.name, err)
		}
	}
}

// logBuffer is a slog handler's destination that tests can read while the
// reference writes.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFileReload: an edit is picked up while running; a broken edit keeps
// the last good data, is logged once and makes the finding say so; a
// fixed edit recovers.
func TestFileReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "truth.jsonl")
	write(t, path, `{"email":"a@x.com","profile_id":"p1","company":"Acme"}`+"\n")
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	const every = 20 * time.Millisecond
	ref, err := reference.OpenFile(path, profileRef, reference.WithLogger(log), reference.WithReloadEvery(every))
	if err != nil {
		t.Fatal(err)
	}
	stale := func() error { return ref.Stale() }
	check := func(vals ...string) detectors.Outcome {
		return outcomes(t, ref, sample("a@x.com", vals...))[0]
	}
	// Waits until the reference has looked at the file again.
	settle := func() { time.Sleep(2 * every); check("p1", "x") }

	if check("p1", "Acme") != detectors.Correct {
		t.Fatal("initial data not loaded")
	}
	write(t, path, `{"email":"a@x.com","profile_id":"p1","company":"Acme Corp"}`+"\n")
	settle()
	if check("p1", "Acme Corp") != detectors.Correct || stale() != nil {
		t.Fatalf("edit not picked up; stale %v", stale())
	}

	broken := `{"email":"a@x.com","profile_id":"p1","company":"Secret Co"` + "\n"
	write(t, path, broken)
	settle()
	settle()
	if check("p1", "Acme Corp") != detectors.Correct {
		t.Error("a broken edit lost the last good data")
	}
	err = stale()
	if err == nil || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), "keeping the data loaded at") {
		t.Errorf("stale %v, want the line and that the last good data is kept", err)
	}
	if n := strings.Count(logs.String(), "reference reload failed"); n != 1 {
		t.Errorf("broken edit logged %d times, want once:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "Secret") || strings.Contains(err.Error(), "Secret") {
		t.Errorf("log or error quotes the file: %s / %v", logs.String(), err)
	}

	// The detector says so in its finding.
	h := newHarness(t, accuracy(config.Reference{File: path, Key: "email", Compare: profileRef.Compare}), "email",
		func(config.Reference) (detectors.Reference, error) { return ref, nil })
	h.observe([]byte(`{"email":"a@x.com","profile_id":"p1","company":"Acme Corp"}`))
	fs := h.judge()
	if !strings.Contains(fs[0].Message, "reference is stale: ") {
		t.Errorf("finding %q does not say the reference is stale", fs[0].Message)
	}

	write(t, path, `{"email":"a@x.com","profile_id":"p9","company":"Acme Corp"}`+"\n")
	settle()
	if check("p9", "Acme Corp") != detectors.Correct || stale() != nil {
		t.Errorf("fixed edit not picked up; stale %v", stale())
	}

	os.Remove(path)
	settle()
	settle()
	if check("p9", "Acme Corp") != detectors.Correct || stale() == nil {
		t.Errorf("removed file: stale %v", stale())
	}
	if n := strings.Count(logs.String(), "reference reload failed"); n != 2 {
		t.Errorf("reload failures logged %d times, want 2:\n%s", n, logs.String())
	}
}

// TestOpenerShares: detectors of several partitions asking for the same
// reference share one (one load, one reload); Close closes them all.
func TestOpenerShares(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "truth.csv"), "email,profile_id,company\na@x.com,p1,Acme\n")
	var logs logBuffer
	op := reference.NewOpener(dir, reference.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))), reference.WithReloadEvery(time.Millisecond))
	cfg := profileRef
	cfg.File = "truth.csv"
	a, err := op.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := op.Open(cfg)
	other := cfg
	other.Compare = []string{"company"}
	c, _ := op.Open(other)
	write(t, filepath.Join(dir, "truth.csv"), "email,profile_id,company\na@x.com,p1,Acme Corp\n")
	time.Sleep(5 * time.Millisecond)
	for _, ref := range []detectors.Reference{a, b} {
		if got := outcomes(t, ref, sample("a@x.com", "p1", "Acme Corp"))[0]; got != detectors.Correct {
			t.Errorf("outcome %v after the edit", got)
		}
	}
	outcomes(t, c, sample("a@x.com", "Acme Corp"))
	if n := strings.Count(logs.String(), "reference reloaded"); n != 2 {
		t.Errorf("%d reloads for two distinct references:\n%s", n, logs.String())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	outcomes(t, b, sample("a@x.com", "p1", "Acme Corp")) // a shared reference outlives a user's Close
	if err := op.Close(); err != nil {
		t.Fatal(err)
	}
}
