package detectors

import (
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/config"
)

func init() { register("accuracy", newAccuracy) }

// Accuracy checks a sample of each batch against a reference and estimates
// the share of records whose compared fields are right, with a Wilson
// score interval at the configured confidence. The batch fails when the
// whole interval lies below min_accuracy, passes when it lies above it, and
// is inconclusive (warn) otherwise. A reference that cannot answer gives a
// reference_unavailable finding with the on_unavailable verdict: a batch
// is never passed on missing evidence.
//
// With sequential set, a batch that is not decisive on its own pools its
// evidence with the run of undecided batches before it, until the pooled
// interval is decisive (then the run starts over), so that small batches
// are not waved through for lack of samples. The k-th batch of a run is
// judged on the pool at confidence 1−α/(k(k+1)), so that looking after
// every batch keeps the chance of a wrong decision within α; a run still
// undecided after maxRun batches starts over with a warning. Judging each
// batch on its own first keeps a long run of good evidence from diluting
// a bad batch that has samples enough to show it.
//
// While a run accumulates its batches get warn, or the warmup verdict when
// that is stricter: warmup can hold them, never pass them unflagged. The
// run is the detector's state (AppendState) and commits in Learn, so a
// batch judged but aborted does not count twice.
type Accuracy struct {
	name string
	env  *Env
	ref  Reference

	compare     []string
	minAccuracy float64
	confidence  float64
	z           float64
	skipMissing bool
	sequential  bool
	onFail      Verdict
	onMissing   Verdict // on_unavailable
	warmup      Verdict
	shadow      bool
	fingerprint uint64

	s    *sampler
	seen int

	// Judge's scratch, reused from batch to batch.
	samples []Sample
	hashes  []uint64
	vals    []SampleValue
	wrongBy []int

	run, next evidence // committed run; the run once this batch is learned
	judged    bool
}

// maxRun is the most batches a sequential run pools before starting over:
// enough for 50 samples a batch to tell 99% accuracy from 95% (about 500
// samples), not so many that old evidence speaks for the feed as it is now.
const maxRun = 32

// maxExamples is how many wrong records a finding names.
const maxExamples = 3

func newAccuracy(cfg config.Detector, env *Env) (Detector, error) {
	ref := cfg.Reference
	switch {
	case ref == nil:
		return nil, errors.New("reference is required")
	case ref.Key == "":
		return nil, errors.New("reference.key is required")
	case len(ref.Compare) == 0:
		return nil, errors.New("reference.compare names no field")
	case len(ref.Compare) > MaxCompared:
		return nil, fmt.Errorf("reference.compare names %d fields, at most %d", len(ref.Compare), MaxCompared)
	case !(cfg.MinAccuracy > 0 && cfg.MinAccuracy < 1):
		return nil, fmt.Errorf("min_accuracy must be in (0, 1), not %v", cfg.MinAccuracy)
	case env.Reference == nil:
		// Opening needs package reference, which imports this one.
		return nil, errors.New("cannot open reference: no opener (the caller sets Env.Reference, e.g. to a reference.Opener's Open)")
	}
	if _, err := NewMatcher(*ref); err != nil {
		return nil, err
	}
	sample := config.Sample{Rate: config.DefaultSampleRate, Min: config.DefaultSampleMin}
	if cfg.Sample != nil {
		sample = *cfg.Sample
	}
	if !(sample.Rate > 0 && sample.Rate <= 1) || sample.Min < 0 {
		return nil, fmt.Errorf("sample: rate must be in (0, 1] and min >= 0, not %v and %d", sample.Rate, sample.Min)
	}
	conf := cfg.Confidence
	if conf == 0 {
		conf = config.DefaultConfidence
	}
	if !(conf > 0 && conf < 1) {
		return nil, fmt.Errorf("confidence must be in (0, 1), not %v", conf)
	}
	a := &Accuracy{
		name: cfg.Name, env: env, compare: ref.Compare,
		minAccuracy: cfg.MinAccuracy, confidence: conf, z: zScore(conf),
		skipMissing: ref.Missing == "skip", sequential: cfg.Sequential, shadow: cfg.Shadow,
		fingerprint: fingerprint(ref),
		wrongBy:     make([]int, len(ref.Compare)),
	}
	var err error
	if a.onFail, err = verdictOr(cfg.OnFail, config.DefaultOnFail); err != nil {
		return nil, fmt.Errorf("on_fail: %w", err)
	}
	if a.onMissing, err = verdictOr(cfg.OnUnavailable, config.DefaultOnUnavailable); err != nil {
		return nil, fmt.Errorf("on_unavailable: %w", err)
	}
	if a.warmup, err = verdictOr(cfg.Warmup, config.DefaultWarmup); err != nil {
		return nil, fmt.Errorf("warmup: %w", err)
	}
	idx := make([]int, len(ref.Compare))
	for i, f := range ref.Compare {
		idx[i] = env.Binder.Field(f)
	}
	a.s = newSampler(sample.Seed, sample.Rate, sample.Min, env.Binder.Field(ref.Key), idx)
	a.s.feedKeys = !env.RedactKeys
	if a.ref, err = env.Reference(*ref); err != nil {
		return nil, fmt.Errorf("cannot open reference: %w", err)
	}
	return a, nil
}

func verdictOr(s, def string) (Verdict, error) {
	if s == "" {
		s = def
	}
	return ParseVerdict(s)
}

// fingerprint identifies what the evidence of a run means: evidence
// gathered comparing other fields, or by other rules, does not carry over.
func fingerprint(ref *config.Reference) uint64 {
	var d xxhash.Digest
	d.Reset()
	for _, s := range append([]string{ref.Key, ref.Match, ref.Missing, fmt.Sprint(ref.Tolerance)}, ref.Compare...) {
		d.WriteString(s)
		d.Write([]byte{0})
	}
	return d.Sum64()
}

// Name is the configured name.
func (a *Accuracy) Name() string { return a.name }

// Type is "accuracy".
func (a *Accuracy) Type() string { return "accuracy" }

// Observe samples the record by its key hash. It allocates nothing once
// the sample arena has grown to the batches' size.
func (a *Accuracy) Observe(r *Record) {
	a.seen++
	a.s.observe(r)
}

// Learn commits the sequential run as this batch's Judge left it.
func (a *Accuracy) Learn(Verdict) {
	if a.judged {
		a.run = a.next
	}
}

// Reset forgets the open batch; a batch judged but not learned leaves the
// run as it was.
func (a *Accuracy) Reset() {
	a.s.reset()
	a.seen = 0
	a.judged = false
	clear(a.samples) // drop references into the arena
}

// AppendState appends the sequential run; without sequential there is no
// state.
func (a *Accuracy) AppendState(dst []byte) ([]byte, error) {
	if !a.sequential {
		return dst, nil
	}
	return a.run.append(dst, a.fingerprint), nil
}

// UnmarshalState restores the sequential run. Empty input is a fresh
// detector. On error the run starts over.
func (a *Accuracy) UnmarshalState(b []byte) error {
	a.run = evidence{}
	if len(b) == 0 || !a.sequential {
		return nil
	}
	e, err := parseEvidence(b, a.fingerprint)
	if err != nil {
		return err
	}
	a.run = e
	return nil
}
