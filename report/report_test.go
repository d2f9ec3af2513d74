package report

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/gate"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// rng is splitmix64: the same numbers on every platform and Go version.
type rng uint64

func (r *rng) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// norm is about standard normal (Irwin–Hall), with arithmetic only.
func (r *rng) norm() float64 {
	s := 0.0
	for range 12 {
		s += r.float()
	}
	return s - 6
}

func loadConfig(t testing.TB, name string) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// wilson is the Wilson score interval of k successes in n at z.
func wilson(k, n int, z float64) (float64, float64) {
	p, nf := float64(k)/float64(n), float64(n)
	d := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / d
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / d
	return mid - half, mid + half
}

// syntheticBatches is a 60-batch replay with findings from one detector of
// each type (testdata/synthetic.yaml), the degree and variance findings
// shaped as those detectors report them: incidents at batches 18 and 42
// (nulls), 34 (a super-node), 23 and 46 (inaccurate), 39 (undecodable
// records) and 51 (a drop in volume).
func syntheticBatches() []gate.Replayed {
	r := rng(7)
	var out []gate.Replayed
	offset := int64(0)
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 60 {
		records := 900 + int(r.float()*200)
		var fs []detectors.Finding
		judge := func(f detectors.Finding, bad bool, onFail detectors.Verdict) {
			if bad {
				f.Verdict = onFail
			}
			fs = append(fs, f)
		}

		// rules: a few records without a company, many in two incidents.
		vr := math.Max(0, 0.003+0.0012*r.norm())
		switch i {
		case 17:
			vr = 0.043
		case 41:
			vr = 0.12
		}
		vr = math.Round(vr*float64(records)) / float64(records)
		judge(detectors.Finding{Detector: "valid", Type: "rules", Metric: "violation_rate", Observed: vr, Threshold: 0.01,
			Message: fmt.Sprintf("company: %d of %d records break the rule (missing or null); limit 1%%", int(math.Round(vr*float64(records))), records)},
			vr > 0.01, detectors.Quarantine)

		// degree: repeats and the share of keys over threshold against
		// absolute settings; the degree over a learned baseline, after a
		// warm-up.
		rep := float64(1 + r.next()%3)
		share := float64(r.next()%7) / 10000
		deg, bound := 18+4*r.norm(), 4*(11+1.5*r.norm())
		if i == 33 {
			rep, share, deg = 9, 0.004, 140
		}
		judge(detectors.Finding{Detector: "supernodes", Type: "degree", Metric: "max_repeat", Observed: rep, Threshold: 3, Mode: "exact",
			Message: fmt.Sprintf("a key repeats one connection %d times; limit 3", int(rep))}, rep > 3, detectors.Quarantine)
		judge(detectors.Finding{Detector: "supernodes", Type: "degree", Metric: "supernode_share", Observed: share, Threshold: 0.001, Mode: "exact",
			Message: fmt.Sprintf("%.2f%% of keys over threshold; limit 0.1%%", share*100)}, share > 0.001, detectors.Quarantine)
		if i < 5 {
			fs = append(fs, detectors.Finding{Detector: "supernodes", Type: "degree", Metric: "degree_over_baseline", Observed: math.Round(deg), Mode: "warmup",
				Message: "warming up: 5 batches of history needed"})
		} else {
			judge(detectors.Finding{Detector: "supernodes", Type: "degree", Metric: "degree_over_baseline", Observed: math.Round(deg), Threshold: math.Round(bound*10) / 10, Mode: "exact",
				Message: fmt.Sprintf("a key has %d distinct profile_id; limit %.1f (4 × the 99.9th percentile)", int(math.Round(deg)), bound)},
				math.Round(deg) > bound, detectors.Quarantine)
		}

		// variance: z-scores after 12 batches of history.
		zc, zn := 1.1*r.norm(), r.norm()
		switch i {
		case 28:
			zc = 5.2
		case 41:
			zn = 11.5
		case 50:
			zc = -8.3
		}
		for _, m := range []struct {
			name string
			z    float64
		}{{"count", zc}, {"null_rate(company)", zn}} {
			if i < 12 {
				fs = append(fs, detectors.Finding{Detector: "volume", Type: "variance", Metric: m.name, Observed: float64(records), Mode: "warmup",
					Message: fmt.Sprintf("warming up: %d of 12 batches of history", i)})
				continue
			}
			z := math.Round(m.z*100) / 100
			judge(detectors.Finding{Detector: "volume", Type: "variance", Metric: m.name, Observed: z, Threshold: 6,
				Message: fmt.Sprintf("%s is %+.2f robust z from its baseline; limit 6", m.name, z)}, math.Abs(z) > 6, detectors.Quarantine)
		}

		// accuracy: about 99% of 800 sampled records right.
		n := 800
		wrong := int(math.Max(0, 6+2.5*r.norm()))
		switch i {
		case 22:
			wrong = 30 // inconclusive: the interval straddles 95%
		case 45:
			wrong = 160
		}
		lo, hi := wilson(n-wrong, n, 2.5758)
		acc := detectors.Finding{Detector: "accuracy", Type: "accuracy", Metric: "accuracy", Observed: float64(n-wrong) / float64(n),
			Threshold: 0.95, Interval: []float64{lo, hi}, Samples: n, Confidence: 0.99,
			Message: fmt.Sprintf("%.1f%% of %d sampled records match the reference (99%% interval %.1f%%–%.1f%%)", 100*float64(n-wrong)/float64(n), n, lo*100, hi*100)}
		switch {
		case hi < 0.95:
			acc.Verdict = detectors.Halt
		case lo <= 0.95:
			acc.Verdict = detectors.Warn
		}
		fs = append(fs, acc)

		if i == 38 {
			fs = append(fs, detectors.Finding{Detector: "decode", Type: "decode", Verdict: detectors.Quarantine, Metric: "decode_error",
				Observed: 4, Message: fmt.Sprintf("4 of %d records could not be decoded as json", records)})
		}

		d := &gate.Decision{
			Batch: gate.BatchID("sponsors", 0, offset), Feed: "sponsors", Topic: "vendor.sponsors",
			FirstOffset: offset, LastOffset: offset + int64(records) - 1, Records: records, Bytes: int64(records) * 290,
			DecidedAt: start.Add(time.Duration(i) * time.Hour), Findings: []detectors.Finding{},
		}
		for _, f := range fs {
			if f.Verdict != detectors.Pass {
				d.Findings = append(d.Findings, f)
			}
			d.Verdict = max(d.Verdict, f.Verdict)
		}
		d.State = map[detectors.Verdict]string{detectors.Quarantine: gate.StateQuarantined, detectors.Halt: gate.StateHalted}[d.Verdict]
		if d.State == "" {
			d.State = gate.StatePassed
		}
		out = append(out, gate.Replayed{Decision: d, Findings: fs})
		offset += int64(records)
	}
	return out
}

func syntheticReport(t testing.TB) *Report {
	t.Helper()
	rep := New(loadConfig(t, "synthetic.yaml"), "sponsors")
	for _, b := range syntheticBatches() {
		rep.Add(b)
	}
	return rep
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < min(len(gl), len(wl)); i++ {
			if gl[i] != wl[i] {
				t.Fatalf("%s differs at line %d (go test ./report -update rewrites it):\n got: %.300s\nwant: %.300s", path, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s differs: %d lines, want %d (go test ./report -update rewrites it)", path, len(gl), len(wl))
	}
}

func TestGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := syntheticReport(t).WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "synthetic.golden.html", buf.Bytes())
}

// TestSelfContained checks that the page loads nothing: no script or
// style from elsewhere, no URL but its own anchors and the SVG namespace.
func TestSelfContained(t *testing.T) {
	var buf bytes.Buffer
	if err := syntheticReport(t).WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, bad := range []string{"<script src", "<link", "@import", "url(", "<img", "<iframe", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q: it must load nothing", bad)
		}
	}
}

func TestSummary(t *testing.T) {
	rep := syntheticReport(t)
	s := rep.Summary()
	var want Summary
	want.Feed = "sponsors"
	for _, b := range syntheticBatches() {
		d := b.Decision
		want.Batches++
		want.Records += d.Records
		want.Bytes += d.Bytes
		want.Verdicts[d.Verdict]++
		if d.Verdict >= detectors.Quarantine {
			want.Diverted += d.Records
		}
		if d.Verdict != detectors.Pass {
			want.Flagged++
		}
	}
	if s != want {
		t.Fatalf("Summary() = %+v, want %+v", s, want)
	}
	// The incidents: 18, 34, 39, 42, 51 quarantined, 46 halted, 23 warned.
	if s.Verdicts != [4]int{53, 1, 5, 1} {
		t.Fatalf("verdicts %v, want [53 1 5 1]: the synthetic feed changed", s.Verdicts)
	}
}

// TestSyntheticSuggestions checks which metrics get a suggestion, under
// which key, and that the counts agree with the scores.
func TestSyntheticSuggestions(t *testing.T) {
	rep := syntheticReport(t)
	got := map[string]Suggestion{}
	for _, s := range rep.Suggestions() {
		got[s.Detector+"/"+s.Metric] = s
	}
	want := map[string]struct {
		key     string
		dir     Direction
		current float64
	}{
		"valid/violation_rate":             {"max_violation_rate", Above, 0.01},
		"supernodes/max_repeat":            {"max_repeat", Above, 3},
		"supernodes/supernode_share":       {"max_share", Above, 0.001},
		"volume/count, null_rate(company)": {"max_z", Magnitude, 6},
		"accuracy/accuracy":                {"min_accuracy", NotAbove, 0.95},
	}
	if len(got) != len(want) {
		t.Errorf("suggestions for %v, want %d", keys(got), len(want))
	}
	for name, w := range want {
		s, ok := got[name]
		if !ok {
			t.Errorf("no suggestion for %s", name)
			continue
		}
		if s.Key != w.key || s.Direction != w.dir || s.Current != w.current {
			t.Errorf("%s: key %s (%v), now %v; want %s (%v), now %v", name, s.Key, s.Direction, s.Current, w.key, w.dir, w.current)
		}
		// With fewer than 1000 clean batches, 0.1% of them is none.
		if s.WouldFlag != 0 {
			t.Errorf("%s: %s %v flags %d clean batches, want 0", name, s.Key, s.Value, s.WouldFlag)
		}
		if s.Clean+s.Flagged == 0 || s.Caught > s.Flagged {
			t.Errorf("%s: caught %d of %d flagged, %d clean", name, s.Caught, s.Flagged, s.Clean)
		}
	}
	// The numbers behind the rules suggestion, from the scores themselves.
	var clean, flagged []float64
	for _, b := range syntheticBatches() {
		for _, f := range b.Findings {
			if f.Detector == "valid" {
				if b.Decision.Verdict == detectors.Pass {
					clean = append(clean, f.Observed)
				} else {
					flagged = append(flagged, f.Observed)
				}
			}
		}
	}
	s := got["valid/violation_rate"]
	top := 0.0
	for _, x := range clean {
		top = math.Max(top, x)
	}
	if s.Value < top || s.Value > top*1.1 {
		t.Errorf("max_violation_rate %v, want just at or above the highest clean rate %v", s.Value, top)
	}
	caught := 0
	for _, x := range flagged {
		if x > s.Value {
			caught++
		}
	}
	if s.Clean != len(clean) || s.Flagged != len(flagged) || s.Caught != caught {
		t.Errorf("rules: clean %d flagged %d caught %d; want %d %d %d", s.Clean, s.Flagged, s.Caught, len(clean), len(flagged), caught)
	}
	if caught < 2 {
		t.Errorf("the suggestion catches %d flagged batches, want both null incidents", caught)
	}
	// Integer settings get whole numbers; the accuracy suggestion stays
	// under every clean batch's lower bound.
	if r := got["supernodes/max_repeat"]; r.Value != 3 || r.Caught != 1 {
		t.Errorf("max_repeat %v catching %d, want 3 catching 1", r.Value, r.Caught)
	}
	lowest := 1.0
	for _, b := range syntheticBatches() {
		for _, f := range b.Findings {
			if f.Detector == "accuracy" && b.Decision.Verdict == detectors.Pass {
				lowest = math.Min(lowest, f.Interval[0])
			}
		}
	}
	if a := got["accuracy/accuracy"]; a.Value >= lowest || a.Value < lowest-0.01 || a.Caught != 2 {
		t.Errorf("min_accuracy %v catching %d, want just under the lowest clean lower bound %v, catching 2", a.Value, a.Caught, lowest)
	}
	if !got["volume/count, null_rate(company)"].Estimate || got["valid/violation_rate"].Estimate {
		t.Error("variance suggestions are estimates (it learns from what it passes); rules ones are exact")
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestNoSuggestion covers the metrics a setting cannot be read off.
func TestNoSuggestion(t *testing.T) {
	rep := syntheticReport(t)
	why := map[string]string{}
	for _, a := range rep.analyze() {
		if a.sug == nil {
			why[a.detector+"/"+a.metric] = a.why
		}
	}
	for name, want := range map[string]string{
		"supernodes/degree_over_baseline": "varies from batch to batch",
		"decode/decode_error":             "on_decode_error decides",
	} {
		if !strings.Contains(why[name], want) {
			t.Errorf("%s: why %q, want it to say %q", name, why[name], want)
		}
	}
	if len(why) != 2 {
		t.Errorf("no suggestion for %v, want 2", why)
	}
}

func TestLookup(t *testing.T) {
	d := &config.Detector{Type: "variance", MaxZ: 4.5, MaxChange: 0.5}
	if s := lookup(d, "variance", "count", 4.5); s == nil || s.Key != "max_z" {
		t.Errorf("threshold 4.5 = max_z: got %+v", s)
	}
	if s := lookup(d, "variance", "mean(price)", 0.5); s == nil || s.Key != "max_change" {
		t.Errorf("threshold 0.5 = max_change: got %+v", s)
	}
	if s := lookup(d, "variance", "count", 1234); s != nil {
		t.Errorf("a raw bound matches no setting, got %s", s.Key)
	}
	g := &config.Detector{Type: "degree", MaxDegree: 50, MaxRepeat: 3, MaxShare: 0.001}
	if s := lookup(g, "degree", "max_repeat", 3); s == nil || s.Key != "max_repeat" || !s.Integer {
		t.Errorf("max_repeat: got %+v", s)
	}
	// A metric name this table does not know finds its key by threshold.
	if s := lookup(g, "degree", "distinct_neighbors", 50); s == nil || s.Key != "max_degree" {
		t.Errorf("unknown degree metric at 50: got %+v", s)
	}
	if s := lookup(g, "degree", "keys_over", 0.001); s == nil || s.Key != "max_share" {
		t.Errorf("unknown degree metric at 0.001: got %+v", s)
	}
	// Exact names win over the threshold: max_degree = max_repeat here.
	g.MaxDegree = 3
	if s := lookup(g, "degree", "max_degree", 3); s == nil || s.Key != "max_degree" {
		t.Errorf("max_degree = max_repeat = 3: got %+v", s)
	}
}

func TestRounding(t *testing.T) {
	for _, c := range []struct {
		lo, hi, want float64
	}{
		{0.04312, math.Inf(1), 0.044},
		{0.04312, 0.0445, 0.044},
		{0.04312, 0.0435, 0.0432},
		{0.04312, 0.044, 0.0432},    // 0.044 would flag the batch at 0.044
		{0.04312, 0.04313, 0.04312}, // too narrow to round
		{0, 0.05, 0},
		{3, 4, 3},
		{0.0099, 1, 0.0099},
		{0.00991, 1, 0.01},
		{5.2, 8.3, 5.2},
		{5.21, 8.3, 5.3},
	} {
		if got := roundUp(c.lo, c.hi); got != c.want {
			t.Errorf("roundUp(%v, %v) = %v, want %v", c.lo, c.hi, got, c.want)
		}
	}
	for _, c := range []struct {
		hi, lo, want float64
	}{
		{0.9612, math.Inf(-1), 0.96},
		{0.96, math.Inf(-1), 0.95},
		{0.96, 0.9599, 0.9599},
		{0.9612, 0.9605, 0.961},
		{0.1, 0.05, 0.099},
	} {
		if got := roundDown(c.hi, c.lo); got != c.want {
			t.Errorf("roundDown(%v, %v) = %v, want %v", c.hi, c.lo, got, c.want)
		}
	}
}

// suggestFrom runs the suggestion of one metric over clean and flagged
// scores.
func suggestFrom(t *testing.T, typ, metric string, d *config.Detector, current float64, clean, flagged []float64) *Suggestion {
	t.Helper()
	a := &analysis{series: &series{detector: "d", typ: typ, metric: metric}, threshold: current, fixed: true,
		set: lookup(d, typ, metric, current)}
	if a.set == nil {
		t.Fatalf("no setting of %s %s at %v", typ, metric, current)
	}
	a.dir = a.set.Dir
	for i, x := range clean {
		a.scores = append(a.scores, scored{i, x, true})
	}
	for i, x := range flagged {
		a.scores = append(a.scores, scored{len(clean) + i, x, false})
	}
	a.clean = slices.Sorted(slices.Values(clean))
	a.flagged = slices.Sorted(slices.Values(flagged))
	a.suggestOwn()
	if a.why != "" {
		t.Fatalf("no suggestion: %s", a.why)
	}
	return combine([]*analysis{a}, len(clean)+len(flagged))
}

func TestSuggestAtBound(t *testing.T) {
	// Every clean batch has no key over threshold: max_share must be > 0,
	// so the suggestion is a power of ten under the lowest flagged share.
	s := suggestFrom(t, "degree", "supernode_share", &config.Detector{MaxShare: 0.01}, 0.01, make([]float64, 20), []float64{0.03, 0.2})
	if s.Value != 0.01 || s.Caught != 2 || s.WouldFlag != 0 {
		t.Errorf("suggestion %+v, want max_share 0.01 catching 2", s)
	}
	// Rates may be 0.
	s = suggestFrom(t, "rules", "violation_rate", &config.Detector{MaxViolationRate: 0.02}, 0.02, make([]float64, 20), []float64{0.03})
	if s.Value != 0 || s.Caught != 1 {
		t.Errorf("suggestion %+v, want max_violation_rate 0", s)
	}
	// Counts are whole.
	s = suggestFrom(t, "degree", "max_repeat", &config.Detector{MaxRepeat: 5}, 5, []float64{1, 2, 2, 3, 1, 1, 2, 3, 2, 1, 1}, []float64{3, 9})
	if s.Value != 3 || s.Caught != 1 {
		t.Errorf("suggestion %+v, want max_repeat 3 catching 1", s)
	}
}

// TestQuantileTarget checks the 0.1% share: with 3000 clean batches the
// suggestion flags the 3 highest (the 3 lowest where low is bad).
func TestQuantileTarget(t *testing.T) {
	var clean []float64
	for i := range 3000 {
		clean = append(clean, float64(i)/10000)
	}
	s := suggestFrom(t, "rules", "violation_rate", &config.Detector{MaxViolationRate: 0.5}, 0.5, clean, nil)
	if s.WouldFlag != 3 || s.Value != 0.2996 {
		t.Errorf("suggestion %+v, want 0.2996 flagging 3 of 3000", s)
	}
	clean = clean[:0]
	for i := range 3000 {
		clean = append(clean, 0.9+float64(i)/100000)
	}
	s = suggestFrom(t, "accuracy", "accuracy", &config.Detector{MinAccuracy: 0.5}, 0.5, clean, nil)
	if s.WouldFlag != 3 || !(s.Value >= 0.90002 && s.Value < 0.90003) {
		t.Errorf("suggestion %+v, want just under 0.90003 flagging 3 of 3000", s)
	}
}

// TestSharedSetting checks that metrics sharing a setting get one
// suggestion, the loosest, counting a batch once.
func TestSharedSetting(t *testing.T) {
	rep := syntheticReport(t)
	var z []Suggestion
	for _, s := range rep.Suggestions() {
		if s.Key == "max_z" {
			z = append(z, s)
		}
	}
	if len(z) != 1 || z[0].Metric != "count, null_rate(company)" {
		t.Fatalf("max_z suggestions %+v, want one for count and null_rate(company)", z)
	}
	own := map[string]float64{}
	for _, a := range rep.analyze() {
		if a.detector == "volume" {
			own[a.metric] = a.own
		}
	}
	if z[0].Value != max(own["count"], own["null_rate(company)"]) {
		t.Errorf("max_z %v, want the larger of %v", z[0].Value, own)
	}
	// Both incidents (a drop in count, nulls in company) are caught.
	if z[0].Caught != 2 || z[0].Flagged != 7 || z[0].Clean != 41 {
		t.Errorf("max_z catches %d of %d flagged (%d clean), want 2 of 7 (41)", z[0].Caught, z[0].Flagged, z[0].Clean)
	}
}

func TestEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := New(nil, "nothing").WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "No detector gave a finding") {
		t.Error("an empty replay should say there is nothing to chart")
	}
}

// TestLongReplay checks the drawing of a replay too long to plot batch by
// batch: clean batches become a band, flagged ones stay points, and the
// verdict strip shows the worst verdict of each cell.
func TestLongReplay(t *testing.T) {
	cfg, err := config.Parse("long.yaml", []byte(`
feeds:
  - name: f
    input: in
    output: out
    quarantine: q
    detectors:
      - {name: valid, type: rules, rules: [{field: a, required: true}], max_violation_rate: 0.05}
`))
	if err != nil {
		t.Fatal(err)
	}
	rep := New(cfg, "f")
	r := rng(1)
	const n, bad = 5000, 7
	for i := range n {
		vr := 0.01 * r.float()
		if i%(n/bad) == 100 {
			vr = 0.2
		}
		f := detectors.Finding{Detector: "valid", Type: "rules", Metric: "violation_rate", Observed: vr, Threshold: 0.05}
		d := &gate.Decision{Batch: gate.BatchID("f", 0, int64(i*100)), Records: 100, Findings: []detectors.Finding{}}
		if vr > 0.05 {
			f.Verdict, d.Verdict = detectors.Quarantine, detectors.Quarantine
			d.Findings = append(d.Findings, f)
		}
		rep.Add(gate.Replayed{Decision: d, Findings: []detectors.Finding{f}})
	}
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if !strings.Contains(page, `class="band pass"`) || strings.Contains(page, `class="pt pass"`) {
		t.Error("over maxPoints clean batches, the chart should draw a band, not points")
	}
	if got := strings.Count(page, `class="pt hit v-quarantine"`); got != bad {
		t.Errorf("%d flagged markers, want %d", got, bad)
	}
	if got := strings.Count(page, `class="cell v-quarantine"`); got != bad {
		t.Errorf("%d quarantine cells in the strip, want %d (each flagged batch shows)", got, bad)
	}
	if got := strings.Count(page, `class="cell `); got != stripW/2 {
		t.Errorf("%d strip cells, want %d", got, stripW/2)
	}
	s := rep.Suggestions()
	clean := n - bad
	k := int(float64(clean) * TargetShare)
	if len(s) != 1 || s[0].Clean != clean || s[0].WouldFlag != k || s[0].Caught != bad {
		t.Errorf("suggestions %+v, want one flagging %d of %d clean, catching %d", s, k, clean, bad)
	}
}

// TestNonFinite: a z-score is infinite when the baseline has no spread; it
// is drawn at the edge of the chart and kept out of the scales.
func TestNonFinite(t *testing.T) {
	rep := New(loadConfig(t, "synthetic.yaml"), "sponsors")
	r := rng(3)
	for i := range 40 {
		z := r.norm()
		switch i {
		case 10:
			z = math.Inf(1)
		case 20:
			z = math.NaN()
		case 30:
			z = math.Inf(-1)
		}
		f := detectors.Finding{Detector: "volume", Type: "variance", Metric: "count", Observed: z, Threshold: 6}
		d := &gate.Decision{Batch: gate.BatchID("sponsors", 0, int64(i)), Records: 1, Findings: []detectors.Finding{}}
		if math.Abs(z) > 6 {
			f.Verdict, d.Verdict = detectors.Quarantine, detectors.Quarantine
		}
		rep.Add(gate.Replayed{Decision: d, Findings: []detectors.Finding{f}})
	}
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"NaN", "Inf"} {
		for _, attr := range []string{`cy="` + bad, `y="` + bad, `d="M` + bad} {
			if strings.Contains(buf.String(), attr) {
				t.Errorf("the page draws at %s", attr)
			}
		}
	}
	if got := strings.Count(buf.String(), `class="pt hit v-quarantine"`); got != 2 {
		t.Errorf("%d flagged markers, want the 2 infinite z-scores", got)
	}
	s := rep.Suggestions()
	if len(s) != 1 || math.IsInf(s[0].Value, 0) || s[0].Caught != 2 || s[0].Clean != 37 {
		t.Errorf("suggestions %+v, want a finite max_z catching 2 of the 39 scored batches", s)
	}
}
