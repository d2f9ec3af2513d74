package reference_test

import (
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/fields"
	"github.com/sluicehq/sluice/reference"
)

// harness drives an accuracy detector the way the gate does: extract the
// bound fields of each JSON record once, key by a field, observe, judge,
// learn, reset.
type harness struct {
	t      testing.TB
	det    detectors.Detector
	plan   *fields.Plan
	vals   []fields.Value
	rec    detectors.Record
	keyIdx int
	n      int
}

func newHarness(t testing.TB, cfg config.Detector, feedKey string, open func(config.Reference) (detectors.Reference, error)) *harness {
	t.Helper()
	env := &detectors.Env{Feed: "f", Binder: &detectors.Binder{}, RedactKeys: true, Reference: open}
	h := &harness{t: t, keyIdx: env.Binder.Field(feedKey)}
	det, err := detectors.New(cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	h.det = det
	if h.plan, err = fields.NewPlan(env.Binder.Paths()); err != nil {
		t.Fatal(err)
	}
	h.vals = make([]fields.Value, len(env.Binder.Paths()))
	h.rec.Values = h.vals
	return h
}

// opener opens references the way the gate should, closed with the test.
func opener(t testing.TB, dir string, opts ...reference.Option) func(config.Reference) (detectors.Reference, error) {
	op := reference.NewOpener(dir, opts...)
	t.Cleanup(func() { op.Close() })
	return op.Open
}

func (h *harness) observe(value []byte) {
	if err := h.plan.Extract(value, h.vals); err != nil {
		h.t.Fatalf("record %s: %v", value, err)
	}
	h.rec.Key = h.vals[h.keyIdx].Raw
	h.rec.KeyHash = xxhash.Sum64(h.rec.Key)
	h.det.Observe(&h.rec)
	h.n++
}

// judge closes the batch: its findings, learned and reset.
func (h *harness) judge() []detectors.Finding {
	fs := h.det.Judge(nil, &detectors.Batch{ID: "f:0:0", Feed: "f", Records: h.n})
	v := detectors.Pass
	for _, f := range fs {
		v = max(v, f.Verdict)
	}
	h.det.Learn(v)
	h.det.Reset()
	h.n = 0
	return fs
}

func worst(fs []detectors.Finding) detectors.Verdict {
	v := detectors.Pass
	for _, f := range fs {
		v = max(v, f.Verdict)
	}
	return v
}

func accuracy(ref config.Reference) config.Detector {
	if ref.Match == "" {
		ref.Match = "exact"
	}
	if ref.Missing == "" {
		ref.Missing = "wrong"
	}
	if ref.Timeout == 0 {
		ref.Timeout = config.DefaultReferenceTimeout
	}
	return config.Detector{
		Name: "acc", Type: "accuracy", OnFail: "halt", OnUnavailable: "warn", Warmup: "pass",
		Sample: &config.Sample{Rate: 1, Min: 200}, Reference: &ref,
		MinAccuracy: 0.95, Confidence: 0.99,
	}
}
