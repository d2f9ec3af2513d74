package detectors

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/config"
)

func init() { register("rules", newRules) }

// Rules checks each record's fields against rules (required, type, regex,
// enum, range, length) and fails a batch when the share of records that
// break any rule is above max_violation_rate; an empty batch passes.
//
// A missing or null field breaks a rule only when it is required; the other
// checks skip it. Min and max apply to numbers, so any other value breaks a
// rule that sets them; regex and the lengths (in runes) apply to strings,
// on their unescaped text; enum applies to strings, and to numbers and
// bools by their JSON text. The finding names the rule most broken and how.
// Examples are the first three distinct keys that broke a rule.
type Rules struct {
	name    string
	env     *Env
	rules   []rule
	maxRate float64
	onFail  Verdict
	shadow  bool

	// The open batch.
	records   int
	violating int
	examples  [rulesExamples]keptKey
	kept      int
	// scratch holds the unescaped text of a string while it is checked.
	scratch []byte
}

const (
	rulesExamples = 3
	// rulesKeyBytes bounds the key bytes an example keeps; a longer key is
	// shown by its hash.
	rulesKeyBytes = 256
)

// keptKey is a violating record's key, kept for the finding.
type keptKey struct {
	hash uint64
	n    int // bytes of key kept; -1 when only the hash is
	key  [rulesKeyBytes]byte
}

func newRules(cfg config.Detector, env *Env) (Detector, error) {
	d := &Rules{
		name:    cfg.Name,
		env:     env,
		maxRate: cfg.MaxViolationRate,
		onFail:  Quarantine,
		shadow:  cfg.Shadow,
		scratch: make([]byte, 0, 256),
	}
	if cfg.OnFail != "" {
		v, err := ParseVerdict(cfg.OnFail)
		if err != nil || v == Pass {
			return nil, fmt.Errorf("cannot build rules detector %q: on_fail %q is not warn, quarantine or halt", cfg.Name, cfg.OnFail)
		}
		d.onFail = v
	}
	if !(cfg.MaxViolationRate >= 0 && cfg.MaxViolationRate <= 1) {
		return nil, fmt.Errorf("cannot build rules detector %q: max_violation_rate %v is not in [0, 1]", cfg.Name, cfg.MaxViolationRate)
	}
	if len(cfg.Rules) == 0 {
		return nil, fmt.Errorf("cannot build rules detector %q: no rules", cfg.Name)
	}
	for i, rc := range cfg.Rules {
		r, err := compileRule(rc)
		if err != nil {
			return nil, fmt.Errorf("cannot build rules detector %q: rules[%d] (%s): %w", cfg.Name, i, rc.Field, err)
		}
		r.idx = env.Binder.Field(rc.Field)
		d.rules = append(d.rules, r)
	}
	return d, nil
}

func (d *Rules) Name() string { return d.name }
func (d *Rules) Type() string { return "rules" }

// Observe checks one record against every rule. It allocates nothing once
// the scratch buffer has grown to the longest escaped string seen.
func (d *Rules) Observe(r *Record) {
	d.records++
	broken := false
	for i := range d.rules {
		u := &d.rules[i]
		if why := u.check(&r.Values[u.idx], &d.scratch); why != ruleOK {
			u.broken[why]++
			broken = true
		}
	}
	if broken {
		d.violating++
		d.keep(r)
	}
}

// keep remembers the key of a violating record, up to rulesExamples distinct
// keys a batch. Keys are copied, since r aliases buffers that are reused.
func (d *Rules) keep(r *Record) {
	if d.kept == rulesExamples {
		return
	}
	for _, e := range d.examples[:d.kept] {
		if e.hash == r.KeyHash {
			return
		}
	}
	e := &d.examples[d.kept]
	e.hash, e.n = r.KeyHash, -1
	if !d.env.RedactKeys && r.Key != nil && len(r.Key) <= rulesKeyBytes {
		e.n = copy(e.key[:], r.Key)
	}
	d.kept++
}

// Judge gives one finding: the share of records that break a rule, held to
// max_violation_rate.
func (d *Rules) Judge(dst []Finding, b *Batch) []Finding {
	f := Finding{
		Detector:  d.name,
		Type:      "rules",
		Metric:    "violation_rate",
		Threshold: d.maxRate,
	}
	if d.records > 0 {
		f.Observed = float64(d.violating) / float64(d.records)
	}
	verdict := Pass
	if d.records > 0 && f.Observed > d.maxRate {
		verdict = d.onFail
	}
	f.Message = d.message(f.Observed)
	for _, e := range d.examples[:d.kept] {
		var key []byte
		if e.n >= 0 {
			key = e.key[:e.n]
		}
		f.Examples = append(f.Examples, d.env.Example(key, e.hash))
	}
	f.Verdict = verdict
	dst = append(dst, f)
	if d.shadow {
		shadow(dst[len(dst)-1:])
	}
	return dst
}

// message says which rule is broken most and how, e.g.
// "email: 412 of 50000 records (0.82%) break the rule (does not match
// ^[^@\s]+@[^@\s]+$); limit 1%".
func (d *Rules) message(rate float64) string {
	limit := "; limit " + rulePercent(d.maxRate)
	if d.records == 0 {
		return "no records" + limit
	}
	if d.violating == 0 {
		return "no record of " + strconv.Itoa(d.records) + " breaks a rule" + limit
	}
	worst, most, brokenRules := 0, 0, 0
	for i := range d.rules {
		if n := d.rules[i].violations(); n > 0 {
			brokenRules++
			if n > most {
				worst, most = i, n
			}
		}
	}
	u := &d.rules[worst]
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d of %d records (%s) break the rule (%s)",
		u.field, most, d.records, rulePercent(float64(most)/float64(d.records)), u.reasons())
	if brokenRules > 1 {
		fmt.Fprintf(&b, "; %d rules are broken, by %d records (%s) in all", brokenRules, d.violating, rulePercent(rate))
	}
	b.WriteString(limit)
	return b.String()
}

// rulePercent renders a share as a percentage with two significant digits:
// 0.00824 is "0.82%", 0.01 is "1%".
func rulePercent(x float64) string {
	p := x * 100
	if p == 0 {
		return "0%"
	}
	decimals := 0
	for v := p; v < 10 && decimals < 8; v *= 10 {
		decimals++
	}
	s := strconv.FormatFloat(p, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s + "%"
}

// Learn does nothing: rules have no baseline.
func (d *Rules) Learn(Verdict) {}

// Reset forgets the open batch.
func (d *Rules) Reset() {
	d.records, d.violating, d.kept = 0, 0, 0
	for i := range d.rules {
		d.rules[i].broken = [numRuleReasons]int{}
	}
}

// AppendState appends nothing: rules learn nothing.
func (d *Rules) AppendState(dst []byte) ([]byte, error) { return dst, nil }

// UnmarshalState accepts only the empty state.
func (d *Rules) UnmarshalState(b []byte) error {
	if len(b) != 0 {
		return fmt.Errorf("cannot restore rules detector %q: it keeps no state, got %d bytes", d.name, len(b))
	}
	return nil
}

var _ Detector = (*Rules)(nil)
