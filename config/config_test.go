package config

import (
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/config/*.bad.yaml.err from the current output (review the diff by hand)")

const testdata = "../testdata/config"

// TestFiles loads every testdata config: a good one must load, a bad one
// must give exactly the lines of its .err file.
func TestFiles(t *testing.T) {
	good, _ := filepath.Glob(filepath.Join(testdata, "*.good.yaml"))
	bad, _ := filepath.Glob(filepath.Join(testdata, "*.bad.yaml"))
	if len(good) < 6 || len(bad) < 25 {
		t.Fatalf("found %d good and %d bad configs in %s; want at least 6 and 25", len(good), len(bad), testdata)
	}
	for _, path := range good {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if _, err := Load(path); err != nil {
				t.Errorf("Load: %v", err)
			}
		})
	}
	for _, path := range bad {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(name, data)
			if c != nil {
				t.Errorf("Parse returned a config along with %v", err)
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Parse: want Errors, got %#v", err)
			}
			got := errs.Error() + "\n"
			if *update {
				if err := os.WriteFile(path+".err", []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path + ".err")
			if err != nil {
				t.Fatalf("%v (run go test ./config -update to write it, then review it)", err)
			}
			if got != string(want) {
				t.Errorf("errors differ\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	// A golden file without its config tests nothing.
	errFiles, _ := filepath.Glob(filepath.Join(testdata, "*.err"))
	for _, e := range errFiles {
		if _, err := os.Stat(strings.TrimSuffix(e, ".err")); errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s has no config beside it", e)
		}
	}
}

func TestFullExample(t *testing.T) {
	c, err := Load(filepath.Join(testdata, "full.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.File != filepath.Join(testdata, "full.good.yaml") || c.Dir() != testdata {
		t.Errorf("File %q, Dir %q", c.File, c.Dir())
	}
	if got := c.Brokers; !slices.Equal(got, []string{"127.0.0.1:9092"}) {
		t.Errorf("Brokers = %q", got)
	}
	if c.DecisionsTopic() != "sluice.decisions" || c.StateTopic() != "sluice.state" {
		t.Errorf("topics %q %q", c.DecisionsTopic(), c.StateTopic())
	}
	if c.Admin.TokenFile != "./admin.token" || c.Resolve(c.Admin.TokenFile) != filepath.Join(testdata, "admin.token") {
		t.Errorf("token file %q resolves to %q", c.Admin.TokenFile, c.Resolve(c.Admin.TokenFile))
	}
	f := c.Feeds[0]
	if f.Name != "sponsors" || f.Key != "email" || !f.RedactKeysOrDefault() {
		t.Errorf("feed %+v", f)
	}
	wantBatch := Batch{MaxRecords: 50000, MaxBytes: 64 << 20, MaxWait: Duration(30 * time.Second),
		BoundaryHeader: "vendor-batch-id", MaxMemory: 16 << 20}
	if f.Batch != wantBatch {
		t.Errorf("batch %+v, want %+v", f.Batch, wantBatch)
	}
	if len(f.Detectors) != 4 {
		t.Fatalf("%d detectors", len(f.Detectors))
	}
	deg, vari, acc, rules := f.Detectors[0], f.Detectors[1], f.Detectors[2], f.Detectors[3]
	if deg.MaxDegree != 50 || *deg.OverBaseline != (OverBaseline{0.999, 4}) || deg.MaxRepeat != 3 || deg.MaxShare != 0.001 || deg.MaxKeys != 200000 {
		t.Errorf("degree %+v", deg)
	}
	if vari.MaxZ != 6 || *vari.Baseline != (Baseline{48, 12, "robust", 0.1}) || len(vari.Metrics) != 4 || vari.Metrics[3] != "null_rate(company)" {
		t.Errorf("variance %+v", vari)
	}
	wantRef := Reference{File: "./reference.jsonl", Key: "email", Compare: []string{"profile_id", "company"},
		Match: "exact", Missing: "wrong", Timeout: Duration(2 * time.Second)}
	if *acc.Sample != (Sample{Rate: 0.02, Min: 200}) || !reflect.DeepEqual(*acc.Reference, wantRef) ||
		acc.MinAccuracy != 0.95 || acc.Confidence != 0.99 || acc.OnFail != "halt" || acc.OnUnavailable != "warn" {
		t.Errorf("accuracy %+v %+v", acc, acc.Reference)
	}
	if rules.Rules[0].Regex != `^[^@\s]+@[^@\s]+$` || !rules.Rules[0].Required || rules.MaxViolationRate != 0.01 {
		t.Errorf("rules %+v", rules)
	}
	// Positions are of values, 1-based.
	for path, want := range map[string]Pos{
		"":                             {1, 1},
		"brokers[0]":                   {1, 11},
		"feeds[0]":                     {7, 5},
		"feeds[0].batch.max_bytes":     {15, 44},
		"feeds[0].detectors[1].max_z":  {29, 16},
		"feeds[0].detectors[3].rules":  {40, 16},
		"feeds[0].detectors[2].sample": {33, 17},
	} {
		if got := c.Pos[path]; got != want {
			t.Errorf("Pos[%q] = %v, want %v", path, got, want)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load(filepath.Join(testdata, "minimal.good.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Group != "sluice" || !c.CreateTopicsOrDefault() || c.Admin.Listen != "127.0.0.1:9644" || len(c.Brokers) != 0 {
		t.Errorf("config %+v", c)
	}
	f := c.Feeds[0]
	if f.Format != "json" || f.OnDecodeError != "quarantine" || !f.RedactKeysOrDefault() || f.Shadow {
		t.Errorf("feed %+v", f)
	}
	if f.Batch.MaxBytes.String() != "64MiB" || f.Batch.MaxMemory.String() != "16MiB" || f.Batch.MaxWait.String() != "30s" || f.Batch.MaxRecords != 50000 {
		t.Errorf("batch %+v", f.Batch)
	}

	// Type defaults go only to detectors of that type; false stays false.
	c, err = Parse("t.yaml", []byte(`
create_topics: false
feeds:
  - {name: f, input: i, output: o, quarantine: q, redact_keys: false}
  - name: g
    input: i2
    output: o2
    quarantine: q2
    detectors:
      - {name: d, type: degree, neighbor: n, max_degree: 1}
      - {name: v, type: variance, metrics: [count], max_z: 3, baseline: {window: 10}}
      - {name: a, type: accuracy, reference: {url: "http://x", key: k, compare: [c]}, min_accuracy: 0.5}
      - {name: r, type: rules, rules: [{field: x, required: true}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.CreateTopicsOrDefault() || c.Feeds[0].RedactKeysOrDefault() {
		t.Error("an explicit false became true")
	}
	ds := c.Feeds[1].Detectors
	for _, d := range ds {
		if d.OnFail != "quarantine" || d.Warmup != "pass" {
			t.Errorf("%s: on_fail %q warmup %q", d.Name, d.OnFail, d.Warmup)
		}
	}
	if ds[0].MaxKeys != 200000 || ds[0].Baseline != nil || ds[0].Sample != nil || ds[0].Confidence != 0 {
		t.Errorf("degree %+v", ds[0])
	}
	if *ds[1].Baseline != (Baseline{10, 10, "robust", 0.1}) || ds[1].MaxKeys != 0 {
		t.Errorf("variance %+v", ds[1].Baseline)
	}
	if *ds[2].Sample != (Sample{Rate: 0.02, Min: 200}) || ds[2].Confidence != 0.99 || ds[2].OnUnavailable != "warn" ||
		ds[2].Reference.Match != "exact" || ds[2].Reference.Missing != "wrong" || ds[2].Reference.Timeout.String() != "2s" {
		t.Errorf("accuracy %+v %+v", ds[2], ds[2].Reference)
	}
	if ds[3].MaxKeys != 0 || ds[3].Baseline != nil || ds[3].Sample != nil {
		t.Errorf("rules %+v", ds[3])
	}
}

// TestCodeBuilt checks a Config made in code, without positions: zero
// values take defaults, and errors have no place.
func TestCodeBuilt(t *testing.T) {
	c := &Config{Feeds: []Feed{{Name: "f", Input: "i", Output: "o", Quarantine: "q",
		Detectors: []Detector{{Name: "d", Type: "degree", Neighbor: "n", MaxDegree: 3, MaxZ: 1}}}}}
	if err := c.Validate(); err == nil {
		t.Error("Validate before defaults found nothing wrong")
	}
	c.setDefaults()
	err := c.Validate()
	want := "feeds[0].detectors[0].max_z: max_z does not apply to a degree detector"
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %s", err, want)
	}
	c.Feeds[0].Detectors[0].MaxZ = 0
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if (&Config{}).CreateTopicsOrDefault() != true || (Feed{}).RedactKeysOrDefault() != true {
		t.Error("unset bools are not true")
	}
}

func TestErrorf(t *testing.T) {
	c, err := Parse("dir/s.yaml", []byte("feeds:\n  - name: f\n    input: i\n    output: o\n    quarantine: q\n    batch: {max_wait: 5s}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"feeds[0].batch.max_wait":   "dir/s.yaml:6:23: feeds[0].batch.max_wait: m",
		"feeds[0].batch.max_bytes":  "dir/s.yaml:6:12: feeds[0].batch.max_bytes: m", // not in the file: its parent
		"feeds[0].detectors[3].foo": "dir/s.yaml:2:5: feeds[0].detectors[3].foo: m",
		"admin.listen":              "dir/s.yaml:1:1: admin.listen: m",
	} {
		if got := c.Errorf(path, "m").Error(); got != want {
			t.Errorf("Errorf(%q) = %s, want %s", path, got, want)
		}
	}
	if got := (Error{Msg: "m"}).Error(); got != "m" {
		t.Errorf("bare Error = %q", got)
	}
	if Errors(nil).Err() != nil {
		t.Error("empty Errors is a non-nil error")
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "x.yaml"))
	var errs Errors
	if err == nil || errors.As(err, &errs) || !errors.Is(err, fs.ErrNotExist) ||
		!strings.HasPrefix(err.Error(), "cannot read config: open ") || !strings.HasSuffix(err.Error(), "x.yaml: no such file or directory") {
		t.Errorf("Load = %v", err)
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{
		"0": 0, "1048576": 1 << 20, "64KiB": 64 << 10, "64MiB": 64 << 20, "1GiB": 1 << 30, "2TiB": 2 << 40,
		"64KB": 64000, "64MB": 64e6, "1GB": 1e9, "1TB": 1e12, "100B": 100, "64 MiB": 64 << 20, " 7 ": 7,
		"1.5GiB": 3 << 29, "0.5KiB": 512, "-1": -1, "+3KiB": 3072, "8388607TiB": 8388607 << 40,
	} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
		if back, err := ParseByteSize(got.String()); err != nil || back != got {
			t.Errorf("%d.String() = %q does not parse back: %d, %v", got, got.String(), back, err)
		}
	}
	for in, want := range map[string]string{
		"64 megs":    `cannot parse byte size "64 megs": unknown unit "megs" (want B, KiB, MiB, GiB, TiB, or 1000-based KB, MB, GB, TB)`,
		"64mib":      `cannot parse byte size "64mib": unknown unit "mib" (want B, KiB, MiB, GiB, TiB, or 1000-based KB, MB, GB, TB)`,
		"MiB":        `cannot parse byte size "MiB": want a number of bytes, optionally with a unit: 65536, 64KiB, 64MiB, 1GiB`,
		"":           `cannot parse byte size "": want a number of bytes, optionally with a unit: 65536, 64KiB, 64MiB, 1GiB`,
		"8388608TiB": `cannot parse byte size "8388608TiB": too large`,
		"1.1B":       `cannot parse byte size "1.1B": not a whole number of bytes`,
		"1e3":        `cannot parse byte size "1e3": unknown unit "e3" (want B, KiB, MiB, GiB, TiB, or 1000-based KB, MB, GB, TB)`,
	} {
		if _, err := ParseByteSize(in); err == nil || err.Error() != want {
			t.Errorf("ParseByteSize(%q) = %v, want %s", in, err, want)
		}
	}
	for b, want := range map[ByteSize]string{0: "0", 1500: "1500B", 1000: "1KB", 1024: "1KiB", 64 << 20: "64MiB", -2048: "-2KiB"} {
		if got := b.String(); got != want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(b), got, want)
		}
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"30s": 30 * time.Second, "5m": 5 * time.Minute, "1h30m": 90 * time.Minute, "250ms": 250 * time.Millisecond} {
		var d Duration
		if err := d.UnmarshalText([]byte(in)); err != nil || time.Duration(d) != want {
			t.Errorf("%q: %v, %v", in, d, err)
		}
	}
	var d Duration
	want := `cannot parse duration "3 sec": time: unknown unit " sec" in duration "3 sec"`
	if err := d.UnmarshalText([]byte("3 sec")); err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	if got := Duration(90 * time.Minute).String(); got != "1h30m0s" {
		t.Errorf("String = %q", got)
	}
}

func TestParseMetric(t *testing.T) {
	for in, want := range map[string]Metric{
		"count": {"count", ""}, "distinct_keys": {"distinct_keys", ""}, "duplicate_rate": {"duplicate_rate", ""},
		"mean_degree(profile_id)": {"mean_degree", "profile_id"}, "null_rate(a.b)": {"null_rate", "a.b"}, "mean(price)": {"mean", "price"},
	} {
		got, err := ParseMetric(in)
		if err != nil || got != want || got.String() != in {
			t.Errorf("ParseMetric(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "volume", "count()", "mean", "mean()", "mean(a", "mean(a b)", "mean(.a)", "Count"} {
		if m, err := ParseMetric(in); err == nil {
			t.Errorf("ParseMetric(%q) = %+v, want an error", in, m)
		}
	}
}

// TestDetectorFieldTypes keeps detectorFieldTypes in step with Detector:
// a new type-specific field that is not listed would apply to every type.
func TestDetectorFieldTypes(t *testing.T) {
	common := []string{"name", "type", "on_fail", "warmup", "shadow"}
	fields := fieldsOf(reflect.TypeFor[Detector]())
	for _, name := range fields.names {
		typ, ok := detectorFieldTypes[name]
		if !ok && !slices.Contains(common, name) {
			t.Errorf("detector field %q is neither common nor in detectorFieldTypes", name)
		}
		if ok && !slices.Contains(detectorTypes, typ) {
			t.Errorf("detector field %q belongs to unknown type %q", name, typ)
		}
	}
	for name := range detectorFieldTypes {
		if _, ok := fields.index[name]; !ok {
			t.Errorf("detectorFieldTypes lists %q, which Detector does not have", name)
		}
	}
}

// TestAliasBomb checks that aliases cannot make a small file cost a lot:
// four nested lists of 100 aliases each stand for 10^8 values.
func TestAliasBomb(t *testing.T) {
	list := func(alias string) string {
		return "[" + strings.Repeat(alias+", ", 99) + alias + "]"
	}
	doc := `
x:
  - &enum ` + list("x") + `
  - &rule {field: f, enum: *enum}
  - &rules ` + list("*rule") + `
  - &detector {name: d, type: rules, rules: *rules}
  - &detectors ` + list("*detector") + `
  - &feed {name: f, input: i, output: o, quarantine: q, detectors: *detectors}
feeds: ` + list("*feed") + "\n"
	// The cap on expanded nodes is what bounds the work; its time is
	// measured by BenchmarkAliasBomb, not asserted here.
	_, err := Parse("bomb.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), ": the document is too large once its aliases are expanded") {
		t.Errorf("Parse = %.500v", err)
	}
}

// FuzzParse checks that no input makes the loader panic, that every error
// has a place, and that a config it accepts stays valid.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(testdata, "*.yaml"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 || c != nil {
				t.Fatalf("Parse = %v, %#v", c, err)
			}
			for _, e := range errs {
				if e.File != "f.yaml" || e.Line < 1 || e.Col < 1 || e.Msg == "" {
					t.Fatalf("error without a place: %#v", e)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("a config Parse accepted does not validate: %v", err)
		}
		if len(c.Feeds) == 0 {
			t.Fatal("accepted a config without feeds")
		}
	})
}

// BenchmarkAliasBomb measures how long the alias cap takes to refuse a
// file whose aliases stand for 10^8 values.
func BenchmarkAliasBomb(b *testing.B) {
	list := func(alias string) string {
		return "[" + strings.Repeat(alias+", ", 99) + alias + "]"
	}
	doc := []byte(`
x:
  - &enum ` + list("x") + `
  - &rule {field: f, enum: *enum}
  - &rules ` + list("*rule") + `
  - &detector {name: d, type: rules, rules: *rules}
  - &detectors ` + list("*detector") + `
  - &feed {name: f, input: i, output: o, quarantine: q, detectors: *detectors}
feeds: ` + list("*feed") + "\n")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("bomb.yaml", doc); err == nil {
			b.Fatal("accepted")
		}
	}
}
