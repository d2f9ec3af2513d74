package reference

import (
	"fmt"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/fields"
)

// table is a reference held in memory: the compared fields of each key,
// in the order of reference.compare, as text (empty for missing or null,
// as detectors.SampleValue reads).
type table map[string][][]byte

// check judges samples against t. It allocates nothing.
func (t table) check(samples []detectors.Sample, m detectors.Matcher) {
	for i := range samples {
		s := &samples[i]
		row, ok := t[string(s.Key)]
		if !ok || s.Key == nil {
			s.Outcome = detectors.NotInReference
			continue
		}
		s.Outcome, s.WrongFields = detectors.Correct, 0
		for f := range s.Fields {
			if f >= len(row) || !m.Match(s.Fields[f].Text, row[f]) {
				s.Outcome = detectors.Wrong
				s.WrongFields |= 1 << f
			}
		}
	}
}

// jsonRow reads JSON objects into rows: the key (unless keyless) and the
// compared fields.
type jsonRow struct {
	plan  *fields.Plan
	vals  []fields.Value
	ends  []int
	first int // 1 with a key field, 0 keyless
}

// newJSONRow reads the key field and the compared fields of cfg, or only
// the compared fields when keyless (a topic's key is the record's).
func newJSONRow(cfg config.Reference, keyless bool) (*jsonRow, error) {
	paths := append([]string{cfg.Key}, cfg.Compare...)
	if keyless {
		paths = paths[1:]
	}
	plan, err := fields.NewPlan(paths)
	if err != nil {
		return nil, fmt.Errorf("cannot plan reference fields: %w", err)
	}
	j := &jsonRow{plan: plan, vals: make([]fields.Value, len(paths)), ends: make([]int, len(paths))}
	if !keyless {
		j.first = 1
	}
	return j, nil
}

// read parses a JSON object into its key and a row of fresh bytes. ok is
// false when the object has no key.
func (j *jsonRow) read(doc []byte) (key string, row [][]byte, ok bool, err error) {
	if err := j.plan.Extract(doc, j.vals); err != nil {
		return "", nil, false, err
	}
	if j.first == 1 {
		if k := j.vals[0]; k.Kind == fields.Missing || k.Kind == fields.Null {
			return "", nil, false, nil
		}
	}
	size := 0
	for _, v := range j.vals {
		size += len(v.Raw)
	}
	// One allocation holds every field; the key is copied out of it.
	buf := make([]byte, 0, size)
	for i, v := range j.vals {
		buf = appendText(buf, v)
		j.ends[i] = len(buf)
	}
	start := 0
	if j.first == 1 {
		key, start = string(buf[:j.ends[0]]), j.ends[0]
	}
	row = make([][]byte, len(j.vals)-j.first)
	for i := range row {
		end := j.ends[i+j.first]
		row[i], start = buf[start:end:end], end
	}
	return key, row, true, nil
}

// appendText appends v as detectors.SampleValue reads it.
func appendText(dst []byte, v fields.Value) []byte {
	if v.Kind == fields.Missing || v.Kind == fields.Null {
		return dst
	}
	return v.AppendText(dst)
}
