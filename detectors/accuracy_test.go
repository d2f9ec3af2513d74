package detectors

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fields"
)

// okRef is a reference whose truth is "every compared field reads ok";
// keys starting with "absent" are not in it. err makes it unavailable
// after answering the first answer samples.
type okRef struct {
	err    error
	answer int
	calls  int
}

func (r *okRef) Check(_ context.Context, samples []Sample) error {
	r.calls++
	for i := range samples {
		s := &samples[i]
		if r.err != nil && i >= r.answer {
			return r.err
		}
		if bytes.HasPrefix(s.Key, []byte("absent")) {
			s.Outcome = NotInReference
			continue
		}
		s.Outcome, s.WrongFields = Correct, 0
		for f, v := range s.Fields {
			if string(v.Text) != "ok" {
				s.Outcome = Wrong
				s.WrongFields |= 1 << f
			}
		}
	}
	return nil
}

func (r *okRef) Close() error { return nil }

func accuracyConfig() config.Detector {
	return config.Detector{
		Name: "acc", Type: "accuracy", OnFail: "halt",
		Sample:      &config.Sample{Rate: 0.1, Min: 200, Seed: 7},
		Reference:   &config.Reference{File: "truth.jsonl", Key: "k", Compare: []string{"profile_id", "company"}},
		MinAccuracy: 0.95, Confidence: 0.99,
	}
}

func newTestAccuracy(t testing.TB, cfg config.Detector, ref Reference) (*Accuracy, *Env) {
	t.Helper()
	env := &Env{Feed: "f", Binder: &Binder{}, RedactKeys: true,
		Reference: func(config.Reference) (Reference, error) { return ref, nil }}
	d, err := New(cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	return d.(*Accuracy), env
}

// feeder builds records in reusable buffers, as the gate does.
type feeder struct {
	rec    Record
	keyIdx int
	vals   []fields.Value
}

func newFeeder(env *Env) *feeder {
	f := &feeder{vals: make([]fields.Value, len(env.Binder.Paths())), keyIdx: env.Binder.Field("k")}
	f.rec.Values = f.vals
	return f
}

// record sets the record's key (also as field k, the join key) and every
// compared field to one text.
func (f *feeder) record(key []byte, text string) *Record {
	f.rec.Key, f.rec.KeyHash = key, xxhash.Sum64(key)
	raw := texts[text]
	if raw == nil {
		raw = []byte(text)
	}
	for i := range f.vals {
		f.vals[i] = fields.Value{Kind: fields.String, Raw: raw}
	}
	f.vals[f.keyIdx] = fields.Value{Kind: fields.String, Raw: key}
	return &f.rec
}

// texts spares the hot-path tests converting the usual texts.
var texts = map[string][]byte{"ok": []byte("ok"), "bad": []byte("bad")}

func judge(d Detector, b *Batch) Finding {
	fs := d.Judge(nil, b)
	d.Learn(worstOf(fs))
	d.Reset()
	return fs[len(fs)-1]
}

func worstOf(fs []Finding) Verdict {
	v := Pass
	for _, f := range fs {
		v = max(v, f.Verdict)
	}
	return v
}

// batchKey writes a distinct key for record i of batch b.
func batchKey(buf []byte, b, i int) []byte {
	return strconv.AppendUint(buf[:0], uint64(b)<<32|uint64(i), 36)
}

// feed observes n records of which each is wrong with probability errRate.
func feed(d Detector, f *feeder, rng *rand.Rand, batch, n int, errRate float64) (wrong int) {
	var kb [16]byte
	for i := range n {
		text := "ok"
		if rng.Float64() < errRate {
			text, wrong = "bad", wrong+1
		}
		d.Observe(f.record(batchKey(kb[:], batch, i), text))
	}
	return wrong
}

// TestAccuracyCoverage: over 1,000 batches at each error rate, the Wilson
// interval covers the true accuracy at least at the nominal rate, within
// 1.5 points, at the default confidence of 99%. At 95% it is only logged:
// with about 200 samples at 98% accuracy the Wilson interval dips to 93.3%
// exact binomial coverage, a known trait of the interval, not of this code.
func TestAccuracyCoverage(t *testing.T) {
	for _, conf := range []float64{0.99, 0.95} {
		for _, errRate := range []float64{0.02, 0.10, 0.30} {
			cfg := accuracyConfig()
			cfg.Confidence = conf
			cfg.Sample.Rate = 0.2 // about 200 samples of 1000, with min 200
			d, env := newTestAccuracy(t, cfg, &okRef{})
			f := newFeeder(env)
			rng := rand.New(rand.NewPCG(1, uint64(errRate*1000)))
			const batches = 1000
			covered, samples := 0, 0
			truth := 1 - errRate
			for b := range batches {
				feed(d, f, rng, b, 1000, errRate)
				got := judge(d, &Batch{Records: 1000})
				if got.Metric != "accuracy" || len(got.Interval) != 2 {
					t.Fatalf("finding %+v", got)
				}
				if got.Interval[0] <= truth && truth <= got.Interval[1] {
					covered++
				}
				samples += got.Samples
			}
			cov := float64(covered) / batches
			t.Logf("confidence %.2f, error rate %.2f: coverage %.3f, mean samples %.0f", conf, errRate, cov, float64(samples)/batches)
			if conf == config.DefaultConfidence && cov < conf-0.015 {
				t.Errorf("confidence %.2f, error rate %.2f: coverage %.3f below %.3f", conf, errRate, cov, conf-0.015)
			}
		}
	}
}

func TestAccuracyVerdicts(t *testing.T) {
	cases := []struct {
		name           string
		records, wrong int
		want           Verdict
		msg            string
	}{
		{"bad feed fails", 1000, 300, Halt, "70.0% of 1000 sampled records match the reference (99% interval 66.1%–73.6%), below 95%; wrong fields mostly profile_id, company (each in 300 of 300 wrong records)"},
		{"good feed passes", 2000, 4, Pass, "99.8% of 2000 sampled records match the reference (99% interval 99.3%–99.9%), above 95%"},
		{"close call is inconclusive", 100, 4, Warn, "inconclusive: the interval straddles 95%"},
		{"empty batch passes", 0, 0, Pass, "empty batch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := accuracyConfig()
			cfg.Sample = &config.Sample{Rate: 1}
			d, env := newTestAccuracy(t, cfg, &okRef{})
			f := newFeeder(env)
			var kb [16]byte
			for i := range c.records {
				text := "ok"
				if i < c.wrong {
					text = "bad"
				}
				d.Observe(f.record(batchKey(kb[:], 0, i), text))
			}
			got := judge(d, &Batch{Records: c.records})
			t.Log(got.Message)
			if got.Verdict != c.want || !strings.Contains(got.Message, c.msg) {
				t.Errorf("got %v %q, want %v and %q", got.Verdict, got.Message, c.want, c.msg)
			}
			if c.records > 0 && (got.Samples != c.records || got.Observed != 1-float64(c.wrong)/float64(c.records) || got.Confidence != 0.99 || got.Threshold != 0.95) {
				t.Errorf("finding %+v", got)
			}
			if c.wrong >= maxExamples && (len(got.Examples) != maxExamples || len(got.Examples[0]) != 16) {
				t.Errorf("examples %q, want %d key hashes", got.Examples, maxExamples)
			}
		})
	}
}

// TestAccuracySampleMin: a batch smaller than min is checked whole; a larger
// one gets at least min samples, and the same records whatever their order.
func TestAccuracySampleMin(t *testing.T) {
	cfg := accuracyConfig()
	cfg.Sample = &config.Sample{Rate: 0.001, Min: 50, Seed: 1}
	d, env := newTestAccuracy(t, cfg, &okRef{})
	f := newFeeder(env)
	var kb [16]byte
	sampled := func(order []int) map[string]bool {
		for _, i := range order {
			d.Observe(f.record(batchKey(kb[:], 0, i), "ok"))
		}
		d.Judge(nil, &Batch{Records: len(order)})
		got := map[string]bool{}
		for _, s := range d.samples {
			got[string(s.Key)] = true
		}
		d.Reset()
		return got
	}
	small := sampled([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	if len(small) != 10 {
		t.Errorf("batch of 10 with min 50: %d sampled, want all", len(small))
	}
	order := rand.New(rand.NewPCG(5, 6)).Perm(5000)
	a := sampled(order)
	for i := range order {
		order[i] = i
	}
	b := sampled(order)
	if len(a) < 50 || len(a) != len(b) {
		t.Fatalf("sampled %d and %d of 5000, want the same, at least 50", len(a), len(b))
	}
	for k := range a {
		if !b[k] {
			t.Fatal("the sample depends on record order")
		}
	}
}

// TestAccuracySeed: another seed samples other records.
func TestAccuracySeed(t *testing.T) {
	var kb [16]byte
	keys := func(seed uint64) map[string]bool {
		cfg := accuracyConfig()
		cfg.Sample = &config.Sample{Rate: 0.05, Seed: seed}
		d, env := newTestAccuracy(t, cfg, &okRef{})
		f := newFeeder(env)
		for i := range 2000 {
			d.Observe(f.record(batchKey(kb[:], 0, i), "ok"))
		}
		d.Judge(nil, &Batch{Records: 2000})
		got := map[string]bool{}
		for _, s := range d.samples {
			got[string(s.Key)] = true
		}
		return got
	}
	a, b, a2 := keys(1), keys(2), keys(1)
	same := 0
	for k := range a {
		if b[k] {
			same++
		}
		if !a2[k] {
			t.Fatal("the same seed sampled other records")
		}
	}
	if len(a) < 60 || len(a) > 140 || same > len(a)/4 {
		t.Errorf("seed 1 sampled %d, seed 2 shares %d of them", len(a), same)
	}
}

// TestAccuracyUnavailable: a reference that cannot answer never passes a
// batch, whatever the records; when the answered part alone proves the
// batch bad, it fails too.
func TestAccuracyUnavailable(t *testing.T) {
	down := errors.New("connection refused")
	for _, c := range []struct {
		name    string
		answer  int
		errRate float64
		want    []Verdict
	}{
		{"nothing answered", 0, 0, []Verdict{Warn}},
		{"half answered, good", 100, 0, []Verdict{Warn}},
		{"half answered, bad", 100, 0.6, []Verdict{Warn, Halt}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := accuracyConfig()
			d, env := newTestAccuracy(t, cfg, &okRef{err: down, answer: c.answer})
			feed(d, newFeeder(env), rand.New(rand.NewPCG(1, 1)), 0, 2000, c.errRate)
			fs := d.Judge(nil, &Batch{Records: 2000})
			if len(fs) != len(c.want) {
				t.Fatalf("findings %+v", fs)
			}
			for i, f := range fs {
				if f.Verdict != c.want[i] {
					t.Errorf("finding %d: %v %q, want %v", i, f.Verdict, f.Message, c.want[i])
				}
				t.Log(f.Message)
			}
			if fs[0].Metric != "reference_unavailable" || !strings.Contains(fs[0].Message, "connection refused") {
				t.Errorf("first finding %+v", fs[0])
			}
		})
	}
	t.Run("on_unavailable quarantine", func(t *testing.T) {
		cfg := accuracyConfig()
		cfg.OnUnavailable = "quarantine"
		d, env := newTestAccuracy(t, cfg, &okRef{err: down})
		feed(d, newFeeder(env), rand.New(rand.NewPCG(1, 1)), 0, 100, 0)
		if got := judge(d, &Batch{Records: 100}); got.Verdict != Quarantine {
			t.Errorf("got %v, want quarantine", got.Verdict)
		}
	})
}

// TestAccuracyMissing: keys not in the reference count as wrong by
// default, or are skipped; a batch of only skipped keys is inconclusive.
func TestAccuracyMissing(t *testing.T) {
	run := func(missing string, absent int) Finding {
		cfg := accuracyConfig()
		cfg.Reference.Missing = missing
		cfg.Sample.Rate = 1
		d, env := newTestAccuracy(t, cfg, &okRef{})
		f := newFeeder(env)
		for i := range 1000 {
			key := "present" + string(rune('a'+i%26)) + string(rune('a'+i/26))
			if i < absent {
				key = "absent" + key
			}
			d.Observe(f.record([]byte(key), "ok"))
		}
		return judge(d, &Batch{Records: 1000})
	}
	if got := run("wrong", 300); got.Verdict != Halt || got.Samples != 1000 || !strings.Contains(got.Message, "300 not in the reference (counted wrong)") {
		t.Errorf("missing: wrong: %v %d %q", got.Verdict, got.Samples, got.Message)
	}
	if got := run("skip", 300); got.Verdict != Pass || got.Samples != 700 {
		t.Errorf("missing: skip: %v %d %q", got.Verdict, got.Samples, got.Message)
	}
	if got := run("skip", 1000); got.Verdict != Warn || got.Samples != 0 || !strings.Contains(got.Message, "inconclusive") {
		t.Errorf("missing: skip, none present: %v %d %q", got.Verdict, got.Samples, got.Message)
	}
}

// TestAccuracySequential: small batches pool their evidence until it is
// decisive; a batch judged but not learned does not count.
func TestAccuracySequential(t *testing.T) {
	cfg := accuracyConfig()
	cfg.Sequential = true
	cfg.Sample = &config.Sample{Rate: 1, Min: 0}
	cfg.Warmup = "quarantine"
	d, env := newTestAccuracy(t, cfg, &okRef{})
	f := newFeeder(env)
	rng := rand.New(rand.NewPCG(9, 9))
	var verdicts []Verdict
	for b := 0; ; b++ {
		feed(d, f, rng, b, 60, 0)
		if b == 1 {
			// Judged, then aborted: must not count.
			d.Judge(nil, &Batch{Records: 60})
			d.Reset()
			feed(d, f, rng, b, 60, 0)
		}
		got := judge(d, &Batch{Records: 60})
		verdicts = append(verdicts, got.Verdict)
		if got.Mode != "sequential" {
			t.Fatalf("mode %q", got.Mode)
		}
		if got.Verdict == Pass {
			t.Logf("decided after %d batches: %s", b+1, got.Message)
			if got.Samples != 60*(b+1) {
				t.Errorf("pooled %d samples over %d batches of 60", got.Samples, b+1)
			}
			break
		}
		if got.Verdict != Quarantine || b > 6 {
			t.Fatalf("batch %d: %v %q", b, got.Verdict, got.Message)
		}
	}
	if len(verdicts) < 2 {
		t.Errorf("decided on one batch of 60: %v", verdicts)
	}
	if d.run != (evidence{}) {
		t.Errorf("run %+v after a decision, want it reset", d.run)
	}
	// A bad batch is decided at once.
	feed(d, f, rng, 100, 60, 0.5)
	if got := judge(d, &Batch{Records: 60}); got.Verdict != Halt || got.Samples != 60 {
		t.Errorf("bad batch: %v %d %q", got.Verdict, got.Samples, got.Message)
	}
}

// TestAccuracyState: the sequential run survives AppendState and
// UnmarshalState; bad input leaves a fresh detector.
func TestAccuracyState(t *testing.T) {
	cfg := accuracyConfig()
	cfg.Sequential = true
	cfg.Sample = &config.Sample{Rate: 1}
	d, env := newTestAccuracy(t, cfg, &okRef{})
	feed(d, newFeeder(env), rand.New(rand.NewPCG(1, 2)), 0, 50, 0.02)
	if got := judge(d, &Batch{Records: 50}); got.Verdict != Warn {
		t.Fatalf("first batch: %v %q", got.Verdict, got.Message)
	}
	st, err := d.AppendState(nil)
	if err != nil || len(st) == 0 {
		t.Fatalf("AppendState: %v, %d bytes", err, len(st))
	}
	e, _ := newTestAccuracy(t, cfg, &okRef{})
	if err := e.UnmarshalState(st); err != nil {
		t.Fatal(err)
	}
	if e.run != d.run || e.run.total != 50 {
		t.Fatalf("restored %+v, want %+v", e.run, d.run)
	}
	st2, _ := e.AppendState(nil)
	if !bytes.Equal(st, st2) {
		t.Errorf("round trip changed the state: %x, then %x", st, st2)
	}
	// Another comparison's state is rejected.
	other := cfg
	other.Reference = &config.Reference{Key: "k", Compare: []string{"company"}}
	g, _ := newTestAccuracy(t, other, &okRef{})
	if err := g.UnmarshalState(st); !errors.Is(err, ErrStateMismatch) || g.run != (evidence{}) {
		t.Errorf("other comparison: %v, run %+v", err, g.run)
	}
	for _, bad := range [][]byte{{9}, st[:len(st)-1], append(st[:len(st):len(st)], 0)} {
		if err := e.UnmarshalState(bad); err == nil || e.run != (evidence{}) {
			t.Errorf("state %x: %v, run %+v", bad, err, e.run)
		}
	}
	// Without sequential there is no state.
	plain, _ := newTestAccuracy(t, accuracyConfig(), &okRef{})
	if st, _ := plain.AppendState(nil); len(st) != 0 {
		t.Errorf("non-sequential state %x", st)
	}
}

// TestAccuracyObserveAllocs: Observe allocates nothing once the arena has
// grown.
func TestAccuracyObserveAllocs(t *testing.T) {
	d, env := newTestAccuracy(t, accuracyConfig(), &okRef{})
	f := newFeeder(env)
	keys := make([][]byte, 5000)
	for i := range keys {
		keys[i] = batchKey(nil, 0, i)
	}
	run := func() {
		d.Reset()
		for _, k := range keys {
			d.Observe(f.record(k, "ok"))
		}
	}
	run()
	d.Judge(nil, &Batch{Records: len(keys)})
	if n := testing.AllocsPerRun(10, run); n != 0 {
		t.Errorf("Observe: %v allocations per batch, want 0", n)
	}
}

func TestMatcher(t *testing.T) {
	cases := []struct {
		match     string
		tolerance float64
		got, want string
		equal     bool
	}{
		{"exact", 0, "Acme", "Acme", true},
		{"exact", 0, "Acme", "acme", false},
		{"exact", 0, "", "", true},
		{"fold", 0, "  ACME   Corp ", "acme corp", true},
		{"fold", 0, "Straße", "STRASSE", false}, // simple folding only
		{"fold", 0, "ǅemal", "ǆemal", true},
		{"fold", 0, "acme corp", "acmecorp", false},
		{"fold", 0, "acme", "acme corp", false},
		{"fold", 0, " ", "", true},
		{"numeric", 0.01, "1.005", "1", true},
		{"numeric", 0.01, "1.02", "1", false},
		{"numeric", 0, "1e3", "1000", true},
		{"numeric", 0, "n/a", "n/a", true},
		{"numeric", 1, "n/a", "1", false},
	}
	for _, c := range cases {
		m, err := NewMatcher(config.Reference{Match: c.match, Tolerance: c.tolerance})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Match([]byte(c.got), []byte(c.want)); got != c.equal {
			t.Errorf("%s(%q, %q) = %v, want %v", c.match, c.got, c.want, got, c.equal)
		}
	}
	if _, err := NewMatcher(config.Reference{Match: "fuzzy"}); err == nil {
		t.Error("match fuzzy accepted")
	}
}

func TestAccuracyConfigErrors(t *testing.T) {
	env := &Env{Binder: &Binder{}}
	if _, err := New(accuracyConfig(), env); err == nil || !strings.Contains(err.Error(), "Env.Reference") {
		t.Errorf("no opener: %v", err)
	}
	env.Reference = func(config.Reference) (Reference, error) { return nil, errors.New("no such file") }
	if _, err := New(accuracyConfig(), env); err == nil || !strings.Contains(err.Error(), "cannot open reference: no such file") {
		t.Errorf("opener error: %v", err)
	}
}

// TestAccuracyRunLimit: a run that never becomes decisive starts over
// after maxRun batches, with a warning.
func TestAccuracyRunLimit(t *testing.T) {
	cfg := accuracyConfig()
	cfg.Sequential = true
	cfg.Sample = &config.Sample{Rate: 1}
	d, env := newTestAccuracy(t, cfg, &okRef{})
	f := newFeeder(env)
	var kb [16]byte
	for b := 1; b <= maxRun; b++ {
		for i := range 20 { // exactly 95%: never decisive
			text := "ok"
			if i == 0 {
				text = "bad"
			}
			d.Observe(f.record(batchKey(kb[:], b, i), text))
		}
		got := judge(d, &Batch{Records: 20})
		if got.Verdict != Warn {
			t.Fatalf("batch %d: %v %q", b, got.Verdict, got.Message)
		}
		if b < maxRun && d.run.looks != uint32(b) || b == maxRun && (d.run != evidence{} || !strings.Contains(got.Message, "starting over")) {
			t.Fatalf("batch %d: run %+v, %q", b, d.run, got.Message)
		}
	}
}

// TestAccuracyShadow: in shadow a failing batch passes, and the finding
// says what would have happened.
func TestAccuracyShadow(t *testing.T) {
	cfg := accuracyConfig()
	cfg.Shadow = true
	cfg.Sample = &config.Sample{Rate: 1}
	d, env := newTestAccuracy(t, cfg, &okRef{})
	feed(d, newFeeder(env), rand.New(rand.NewPCG(1, 1)), 0, 500, 0.5)
	got := judge(d, &Batch{Records: 500})
	if got.Verdict != Pass || got.Mode != "shadow" || !strings.HasPrefix(got.Message, "would halt: ") {
		t.Errorf("shadow: %v %q %q", got.Verdict, got.Mode, got.Message)
	}
}

// TestRankIsXXHash: rank is xxhash of the 16 bytes, so that samples stay
// what they were.
func TestRankIsXXHash(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 10000 {
		seed, kh := rng.Uint64(), rng.Uint64()
		if i < 3 {
			seed, kh = uint64(i), uint64(i)*7
		}
		var b [16]byte
		binary.LittleEndian.PutUint64(b[:8], seed)
		binary.LittleEndian.PutUint64(b[8:], kh)
		if got, want := rank(seed, kh), xxhash.Sum64(b[:]); got != want {
			t.Fatalf("rank(%#x, %#x) = %#x, xxhash says %#x", seed, kh, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { rank(1, 2) }); n != 0 {
		t.Errorf("rank allocates %v times", n)
	}
}
