package gate

import (
	"fmt"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/arrowrows"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/fields"
)

// judge is one feed's decode step and detectors for one partition: the
// part of the pipeline that both `run` and `replay` drive, so that they
// judge a record stream the same way.
type judge struct {
	feed   *config.Feed
	plan   *fields.Plan // json
	rows   fields.Rows  // formats with many rows a record (arrow)
	onRow  func()       // j.observeRow, bound once: a method value passed to Decode would be allocated per record
	keyIdx int          // index of the key field in vals; -1 means the Kafka key
	dets   []detectors.Detector
	vals   []fields.Value
	rec    detectors.Record
	key    []byte // the record being observed, for observeRow
}

// newJudge builds a feed's detectors and field plan; env.Dir resolves relative
// paths in detector configs.
func newJudge(f *config.Feed, env *detectors.Env) (*judge, error) {
	j := &judge{feed: f, keyIdx: -1}
	b := env.Binder
	if f.Key != "" {
		j.keyIdx = b.Field(f.Key)
	}
	for i := range f.Detectors {
		d, err := detectors.New(f.Detectors[i], env)
		if err != nil {
			return nil, fmt.Errorf("feed %s: detector %s: %w", f.Name, f.Detectors[i].Name, err)
		}
		j.dets = append(j.dets, d)
	}
	switch f.Format {
	case "", "json":
		p, err := fields.NewPlan(b.Paths())
		if err != nil {
			return nil, fmt.Errorf("feed %s: %w", f.Name, err)
		}
		j.plan = p
	case "arrow":
		d, err := arrowrows.NewDecoder(b.Paths())
		if err != nil {
			return nil, fmt.Errorf("feed %s: %w", f.Name, err)
		}
		j.rows, j.onRow = d, j.observeRow
	case "raw":
		if len(b.Paths()) > 0 {
			return nil, fmt.Errorf("feed %s: format raw has no fields, but detectors need %v", f.Name, b.Paths())
		}
	default:
		return nil, fmt.Errorf("feed %s: format %q is not supported yet", f.Name, f.Format)
	}
	j.vals = make([]fields.Value, len(b.Paths()))
	j.rec.Values = j.vals
	return j, nil
}

// env is the detector environment of a feed.
func (g *Gate) env(f *config.Feed) *detectors.Env {
	return &detectors.Env{Feed: f.Name, Binder: &detectors.Binder{}, RedactKeys: f.RedactKeysOrDefault(),
		Dir: g.cfg.Dir(), Logger: g.log, Reference: g.refs.Open}
}

// observe decodes one record and shows each of its rows to every
// detector: a JSON or raw record is one row, an Arrow record holds many. It
// returns the rows, and false when the record cannot be decoded; detectors
// then never see it. This is the hot path: it allocates nothing.
func (j *judge) observe(key, value []byte) (rows int, ok bool) {
	switch {
	case j.rows != nil:
		j.key = key
		n, err := j.rows.Decode(value, j.vals, j.onRow)
		return n, err == nil
	case j.plan != nil:
		if err := j.plan.Extract(value, j.vals); err != nil {
			return 0, false
		}
	}
	j.key = key
	j.observeRow()
	return 1, true
}

// observeRow shows the row in j.vals to every detector.
func (j *judge) observeRow() {
	k := j.key
	if j.keyIdx >= 0 {
		v := &j.vals[j.keyIdx]
		if v.Kind == fields.Missing || v.Kind == fields.Null {
			k = nil
		} else {
			k = v.Raw
		}
	}
	j.rec.Key = k
	j.rec.KeyHash = xxhash.Sum64(k)
	for _, d := range j.dets {
		d.Observe(&j.rec)
	}
}

// worst is the most severe verdict among findings.
func worst(fs []detectors.Finding) detectors.Verdict {
	v := detectors.Pass
	for i := range fs {
		if fs[i].Verdict > v {
			v = fs[i].Verdict
		}
	}
	return v
}

// judgeBatch closes the open batch: every detector judges it, the decode
// errors become a finding, and the verdict is the worst of them.
func (j *judge) judgeBatch(b *detectors.Batch, decodeErrors int, examples []string) ([]detectors.Finding, detectors.Verdict) {
	var fs []detectors.Finding
	for _, d := range j.dets {
		fs = d.Judge(fs, b)
	}
	if decodeErrors > 0 && j.feed.OnDecodeError != "drop" {
		v := detectors.Quarantine
		if j.feed.OnDecodeError == "fail" {
			v = detectors.Halt
		}
		fs = append(fs, detectors.Finding{
			Detector: "decode", Type: "decode", Verdict: v, Metric: "decode_error",
			Observed: float64(decodeErrors), Threshold: 0, Examples: examples,
			Message: fmt.Sprintf("%d of %d records could not be decoded as %s", decodeErrors, b.Records, formatName(j.feed.Format)),
		})
	}
	if w, ok := j.rows.(schemaWatcher); ok {
		if n, now := w.SchemaChanges(); n > 0 {
			v, _ := detectors.ParseVerdict(j.feed.OnSchemaChange)
			if j.feed.OnSchemaChange == "" {
				v = detectors.Warn
			}
			fs = append(fs, detectors.Finding{
				Detector: "schema", Type: "schema", Verdict: v, Metric: "schema_change",
				Observed: float64(n), Threshold: 0,
				Message: fmt.Sprintf("the Arrow schema changed %d time(s) in this batch; it now has %s", n, now),
			})
		}
	}
	return fs, worst(fs)
}

// schemaWatcher is a Rows decoder that notices schema changes between
// records (arrow): judgeBatch reports them, learn and reset start the count
// anew.
type schemaWatcher interface {
	SchemaChanges() (n int, now string)
	Reset()
	Rewind()
}

// learn tells every detector the final verdict, then readies them for the
// next batch.
func (j *judge) learn(v detectors.Verdict) {
	for _, d := range j.dets {
		d.Learn(v)
		d.Reset()
	}
	if w, ok := j.rows.(schemaWatcher); ok {
		w.Reset()
	}
}

// reset forgets the open batch without learning from it.
func (j *judge) reset() {
	for _, d := range j.dets {
		d.Reset()
	}
	if w, ok := j.rows.(schemaWatcher); ok {
		w.Rewind()
	}
}

func formatName(f string) string {
	if f == "" {
		return "json"
	}
	return f
}
