package detectors

import (
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/bench"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fields"
)

// pipe runs records through a field plan and detectors as a feed does:
// every detector observes every record; at the batch's end each judges,
// all learn the batch's verdict (the worst finding) and reset.
type pipe struct {
	t    testing.TB
	env  *Env
	ds   []Detector
	plan *fields.Plan
	vals []fields.Value
	rec  Record
}

func newPipe(t testing.TB, redact bool, cfgs ...config.Detector) *pipe {
	t.Helper()
	p := &pipe{t: t, env: &Env{Feed: "sponsors", Binder: &Binder{}, RedactKeys: redact}}
	for _, c := range cfgs {
		d, err := New(c, p.env)
		if err != nil {
			t.Fatal(err)
		}
		p.ds = append(p.ds, d)
	}
	plan, err := fields.NewPlan(p.env.Binder.Paths())
	if err != nil {
		t.Fatal(err)
	}
	p.plan, p.vals = plan, make([]fields.Value, len(plan.Paths()))
	p.rec.Values = p.vals
	return p
}

// observe extracts a JSON record's fields and shows it to every detector.
func (p *pipe) observe(key, value []byte) {
	if err := p.plan.Extract(value, p.vals); err != nil {
		return // an undecodable record: the gate's business, not theirs
	}
	p.rec.Key, p.rec.KeyHash = key, xxhash.Sum64(key)
	for _, d := range p.ds {
		d.Observe(&p.rec)
	}
}

// observeField shows every detector a record whose field i is the string
// value, without JSON.
func (p *pipe) observeField(key []byte, i int, value []byte) {
	for j := range p.vals {
		p.vals[j] = fields.Value{}
	}
	p.vals[i] = fields.Value{Kind: fields.String, Raw: value}
	p.rec.Key, p.rec.KeyHash = key, xxhash.Sum64(key)
	for _, d := range p.ds {
		d.Observe(&p.rec)
	}
}

// observeSim shows every detector a simulated batch's records.
func (p *pipe) observeSim(b *bench.Batch) {
	for _, r := range b.Records {
		p.observe(r.Key, r.Value)
	}
}

// close judges the batch, teaches every detector its verdict and resets
// them; it returns the findings and the verdict.
func (p *pipe) close(b *Batch) ([]Finding, Verdict) {
	var fs []Finding
	for _, d := range p.ds {
		n := len(fs)
		fs = d.Judge(fs, b)
		if len(fs) == n {
			p.t.Fatalf("%s gave no finding", d.Name())
		}
	}
	v := worstOf(fs)
	for _, d := range p.ds {
		d.Learn(v)
		d.Reset()
	}
	return fs, v
}

// simBatch is the Batch a simulated one closes as.
func simBatch(b *bench.Batch) *Batch {
	return &Batch{ID: b.ID, Feed: "sponsors", Records: len(b.Records), Time: b.Time}
}

// findingOf returns the first finding of detector name.
func findingOf(fs []Finding, name string) Finding {
	for _, f := range fs {
		if f.Detector == name {
			return f
		}
	}
	return Finding{}
}

// verdictOf returns the worst verdict of detector name's findings.
func verdictOf(fs []Finding, name string) Verdict {
	v := Pass
	for _, f := range fs {
		if f.Detector == name {
			v = max(v, f.Verdict)
		}
	}
	return v
}
