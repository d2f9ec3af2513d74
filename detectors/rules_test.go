package detectors

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fields"
)

// rulesFeed runs records through a fields.Plan and a rules detector, as a
// feed does.
type rulesFeed struct {
	t    testing.TB
	d    Detector
	plan *fields.Plan
	vals []fields.Value
	rec  Record
}

func newRulesFeed(t testing.TB, cfg config.Detector, redact bool) *rulesFeed {
	t.Helper()
	cfg.Type = "rules"
	if cfg.Name == "" {
		cfg.Name = "valid"
	}
	env := &Env{Feed: "sponsors", Binder: &Binder{}, RedactKeys: redact}
	d, err := New(cfg, env)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := fields.NewPlan(env.Binder.Paths())
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]fields.Value, len(env.Binder.Paths()))
	return &rulesFeed{t: t, d: d, plan: plan, vals: vals, rec: Record{Values: vals}}
}

func (f *rulesFeed) observe(key, doc string) {
	f.t.Helper()
	if err := f.plan.Extract([]byte(doc), f.vals); err != nil {
		f.t.Fatalf("%s: %v", doc, err)
	}
	f.rec.Key, f.rec.KeyHash = []byte(key), fnv64(key)
	f.d.Observe(&f.rec)
}

// judge closes the batch and returns its one finding.
func (f *rulesFeed) judge() Finding {
	f.t.Helper()
	fs := f.d.Judge(nil, &Batch{ID: "sponsors:0:0", Feed: "sponsors"})
	if len(fs) != 1 {
		f.t.Fatalf("Judge gave %d findings, want 1", len(fs))
	}
	f.d.Learn(fs[0].Verdict)
	f.d.Reset()
	return fs[0]
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

func fptr(f float64) *float64 { return &f }
func iptr(i int) *int         { return &i }

func TestRulesChecks(t *testing.T) {
	email := `^[^@\s]+@[^@\s]+$`
	for _, tc := range []struct {
		rule config.Rule
		doc  string
		why  string // "" when the record keeps the rule
	}{
		{config.Rule{Field: "email", Required: true}, `{"email":"a@b"}`, ""},
		{config.Rule{Field: "email", Required: true}, `{"name":"x"}`, "missing or null"},
		{config.Rule{Field: "email", Required: true}, `{"email":null}`, "missing or null"},
		{config.Rule{Field: "email", Required: true}, `{"email":""}`, ""},
		{config.Rule{Field: "email", Type: "string"}, `{"email":null}`, ""},
		{config.Rule{Field: "email", Type: "string"}, `{}`, ""},
		{config.Rule{Field: "email", Type: "string", Required: true}, `{}`, "missing or null"},

		{config.Rule{Field: "v", Type: "string"}, `{"v":"x"}`, ""},
		{config.Rule{Field: "v", Type: "string"}, `{"v":1}`, "not a string"},
		{config.Rule{Field: "v", Type: "number"}, `{"v":-1.5e2}`, ""},
		{config.Rule{Field: "v", Type: "number"}, `{"v":"1"}`, "not a number"},
		{config.Rule{Field: "v", Type: "integer"}, `{"v":42}`, ""},
		{config.Rule{Field: "v", Type: "integer"}, `{"v":2.0}`, ""},
		{config.Rule{Field: "v", Type: "integer"}, `{"v":1e3}`, ""},
		{config.Rule{Field: "v", Type: "integer"}, `{"v":2.5}`, "not an integer"},
		{config.Rule{Field: "v", Type: "integer"}, `{"v":"2"}`, "not an integer"},
		{config.Rule{Field: "v", Type: "bool"}, `{"v":false}`, ""},
		{config.Rule{Field: "v", Type: "bool"}, `{"v":"false"}`, "not a bool"},
		{config.Rule{Field: "v", Type: "object"}, `{"v":{"a":1}}`, ""},
		{config.Rule{Field: "v", Type: "object"}, `{"v":[1]}`, "not an object"},
		{config.Rule{Field: "v", Type: "array"}, `{"v":[]}`, ""},
		{config.Rule{Field: "v", Type: "array"}, `{"v":{}}`, "not an array"},

		{config.Rule{Field: "email", Regex: email}, `{"email":"jane@example.com"}`, ""},
		{config.Rule{Field: "email", Regex: email}, `{"email":"jane example.com"}`, "does not match " + email},
		{config.Rule{Field: "email", Regex: email}, `{"email":"jane\u0040example.com"}`, ""}, // matched unescaped
		{config.Rule{Field: "email", Regex: email}, `{"email":42}`, "not a string"},
		{config.Rule{Field: "email", Regex: email}, `{"email":null}`, ""},
		{config.Rule{Field: "contact.email", Regex: email}, `{"contact":{"email":"x"}}`, "does not match"},

		{config.Rule{Field: "s", Enum: []string{"closed", "active"}}, `{"s":"active"}`, ""},
		{config.Rule{Field: "s", Enum: []string{"closed", "active"}}, `{"s":"\u0061ctive"}`, ""},
		{config.Rule{Field: "s", Enum: []string{"closed", "active"}}, `{"s":"gone"}`, "not one of [closed, active]"},
		{config.Rule{Field: "s", Enum: []string{"closed", "active"}}, `{"s":"Active"}`, "not one of"},
		{config.Rule{Field: "s", Enum: []string{"1", "2", "true"}}, `{"s":2}`, ""},
		{config.Rule{Field: "s", Enum: []string{"1", "2", "true"}}, `{"s":true}`, ""},
		{config.Rule{Field: "s", Enum: []string{"1", "2"}}, `{"s":3}`, "not one of [1, 2]"},
		{config.Rule{Field: "s", Enum: []string{"1", "2"}}, `{"s":[1]}`, "not a string, number or bool"},

		{config.Rule{Field: "n", Min: fptr(0), Max: fptr(10)}, `{"n":10}`, ""},
		{config.Rule{Field: "n", Min: fptr(0), Max: fptr(10)}, `{"n":-0.5}`, "outside [0, 10]"},
		{config.Rule{Field: "n", Min: fptr(0), Max: fptr(10)}, `{"n":1e400}`, "outside [0, 10]"},
		{config.Rule{Field: "n", Min: fptr(0), Max: fptr(10)}, `{"n":"5"}`, "not a number"},
		{config.Rule{Field: "n", Min: fptr(0.5)}, `{"n":0.25}`, "below 0.5"},
		{config.Rule{Field: "n", Max: fptr(100)}, `{"n":101}`, "above 100"},
		{config.Rule{Field: "n", Type: "integer", Max: fptr(100)}, `{"n":99.5}`, "not an integer"},

		{config.Rule{Field: "s", MinLen: iptr(2), MaxLen: iptr(4)}, `{"s":"café"}`, ""},
		{config.Rule{Field: "s", MinLen: iptr(2), MaxLen: iptr(4)}, `{"s":"caf\u00e9"}`, ""},
		{config.Rule{Field: "s", MinLen: iptr(2), MaxLen: iptr(4)}, `{"s":"cafés"}`, "length outside [2, 4]"},
		{config.Rule{Field: "s", MinLen: iptr(2)}, `{"s":"\u00e9"}`, "length below 2"},
		{config.Rule{Field: "s", MaxLen: iptr(0)}, `{"s":""}`, ""},
		{config.Rule{Field: "s", MaxLen: iptr(3)}, `{"s":1234}`, "not a string"},
	} {
		f := newRulesFeed(t, config.Detector{Rules: []config.Rule{tc.rule}}, true)
		f.observe("k", tc.doc)
		got := f.judge()
		if tc.why == "" {
			if got.Verdict != Pass || got.Observed != 0 {
				t.Errorf("%+v on %s: got %v %v (%s), want a pass", tc.rule, tc.doc, got.Verdict, got.Observed, got.Message)
			}
			continue
		}
		if got.Verdict != Quarantine || got.Observed != 1 || !strings.Contains(got.Message, "("+tc.why) {
			t.Errorf("%+v on %s: got %v %v (%s), want quarantine for %q", tc.rule, tc.doc, got.Verdict, got.Observed, got.Message, tc.why)
		}
	}
}

func TestRulesViolationRate(t *testing.T) {
	f := newRulesFeed(t, config.Detector{
		Name:             "valid",
		OnFail:           "halt",
		MaxViolationRate: 0.01,
		Rules:            []config.Rule{{Field: "email", Required: true, Regex: `^[^@\s]+@[^@\s]+$`}},
	}, false)
	batch := func(bad int) Finding {
		for i := range 200 {
			if i < bad {
				f.observe("bad"+string(rune('a'+i%4)), `{"email":"not an email"}`)
			} else {
				f.observe("ok", `{"email":"a@b.c"}`)
			}
		}
		return f.judge()
	}

	got := batch(2) // 1%: at the limit, not above it
	if got.Verdict != Pass || got.Observed != 0.01 || got.Threshold != 0.01 || got.Metric != "violation_rate" ||
		got.Type != "rules" || got.Detector != "valid" {
		t.Errorf("at the limit: %+v", got)
	}
	got = batch(9)
	want := `email: 9 of 200 records (4.5%) break the rule (does not match ^[^@\s]+@[^@\s]+$); limit 1%`
	if got.Verdict != Halt || got.Observed != 0.045 || got.Message != want {
		t.Errorf("over the limit: got %v %v %q\nwant halt 0.045 %q", got.Verdict, got.Observed, got.Message, want)
	}
	// Keys are not redacted: the first three distinct keys, as they are.
	if strings.Join(got.Examples, " ") != "bada badb badc" {
		t.Errorf("examples: %q", got.Examples)
	}
	// Reset forgot the batch: an empty one passes.
	if got = f.judge(); got.Verdict != Pass || got.Observed != 0 || len(got.Examples) != 0 {
		t.Errorf("empty batch: %+v", got)
	}
}

func TestRulesMessageNamesWorstRule(t *testing.T) {
	f := newRulesFeed(t, config.Detector{
		MaxViolationRate: 0.5,
		Rules: []config.Rule{
			{Field: "email", Required: true, Regex: `@`},
			{Field: "age", Type: "integer", Min: fptr(0)},
		},
	}, true)
	f.observe("a", `{"email":"x","age":-1}`)
	f.observe("b", `{"age":3}`)
	f.observe("c", `{"email":"y"}`)
	f.observe("d", `{"email":"a@b","age":1}`)
	got := f.judge()
	want := "email: 3 of 4 records (75%) break the rule (does not match @: 2, missing or null: 1); " +
		"2 rules are broken, by 3 records (75%) in all; limit 50%"
	if got.Verdict != Quarantine || got.Message != want {
		t.Errorf("got %v %q\nwant quarantine %q", got.Verdict, got.Message, want)
	}
	// Keys are redacted: examples are key hashes.
	if len(got.Examples) != 3 || got.Examples[0] != KeyHashString(fnv64("a")) {
		t.Errorf("examples: %q", got.Examples)
	}
}

func TestRulesShadow(t *testing.T) {
	f := newRulesFeed(t, config.Detector{Shadow: true, OnFail: "warn",
		Rules: []config.Rule{{Field: "id", Required: true}}}, true)
	f.observe("k", `{}`)
	got := f.judge()
	if got.Verdict != Pass || got.Mode != "shadow" || got.Observed != 1 ||
		!strings.HasPrefix(got.Message, "would warn: id: 1 of 1 records (100%)") {
		t.Errorf("got %+v", got)
	}
	f.observe("k", `{"id":1}`)
	if got = f.judge(); got.Verdict != Pass || strings.HasPrefix(got.Message, "would") {
		t.Errorf("passing shadow batch: %+v", got)
	}
}

func TestRulesConfig(t *testing.T) {
	rules := []config.Rule{{Field: "id", Required: true}}
	for _, tc := range []struct {
		cfg  config.Detector
		want Verdict
		err  string
	}{
		{config.Detector{Rules: rules}, Quarantine, ""},
		{config.Detector{Rules: rules, OnFail: "warn"}, Warn, ""},
		{config.Detector{Rules: rules, OnFail: "pass"}, 0, "on_fail"},
		{config.Detector{}, 0, "no rules"},
		{config.Detector{Rules: rules, MaxViolationRate: 2}, 0, "max_violation_rate"},
		{config.Detector{Rules: []config.Rule{{Field: "x", Regex: "("}}}, 0, "cannot compile regex"},
		{config.Detector{Rules: []config.Rule{{Field: "x", Type: "date"}}}, 0, `unknown type "date"`},
		{config.Detector{Rules: []config.Rule{{Field: "x", Min: fptr(2), Max: fptr(1)}}}, 0, "above max"},
	} {
		tc.cfg.Name, tc.cfg.Type = "valid", "rules"
		d, err := New(tc.cfg, &Env{Binder: &Binder{}})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: got %v, want an error about %q", tc.cfg, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%+v: %v", tc.cfg, err)
		}
		if r := d.(*Rules); r.onFail != tc.want || d.Name() != "valid" || d.Type() != "rules" {
			t.Errorf("%+v: on_fail %v, want %v", tc.cfg, r.onFail, tc.want)
		}
	}
}

func TestRulesState(t *testing.T) {
	f := newRulesFeed(t, config.Detector{Rules: []config.Rule{{Field: "id", Required: true}}}, true)
	dst := []byte("prefix")
	if got, err := f.d.AppendState(dst); err != nil || string(got) != "prefix" {
		t.Errorf("AppendState = %q, %v", got, err)
	}
	if err := f.d.UnmarshalState(nil); err != nil {
		t.Errorf("UnmarshalState(empty): %v", err)
	}
	if err := f.d.UnmarshalState([]byte{1}); err == nil {
		t.Error("UnmarshalState accepted state")
	}
}

// profileRecord is a ~300-byte vendor record, and profileRules four rules
// on it, one a regex.
const profileRecord = `{"id":"3f9a0c1d-2e4b-5a67","email":"jane.doe@example.com","profile_id":"p_7731920",` +
	`"company":"Acme Corp","contact":{"phone":"+1-555-0100","address":{"city":"Springfield","zip":"12345"}},` +
	`"score":87.5,"active":true,"tags":["vip","newsletter"],"created_at":"2026-11-21T10:00:00Z",` +
	`"source":"vendor-a","status":"active"}`

var profileRules = []config.Rule{
	{Field: "email", Required: true, Regex: `^[^@\s]+@[^@\s]+$`},
	{Field: "status", Enum: []string{"active", "closed", "pending"}},
	{Field: "score", Type: "number", Min: fptr(0), Max: fptr(100)},
	{Field: "contact.address.zip", MinLen: iptr(5), MaxLen: iptr(10)},
}

func TestRulesObserveAllocs(t *testing.T) {
	for _, redact := range []bool{true, false} {
		f := newRulesFeed(t, config.Detector{Rules: profileRules}, redact)
		good := []byte(profileRecord)
		bad := []byte(strings.Replace(profileRecord, `"email":"jane.doe@example.com"`, `"email":"jane\u0040 example"`, 1))
		f.rec.Key, f.rec.KeyHash = []byte("jane.doe@example.com"), 1
		for _, doc := range [][]byte{good, bad} {
			if n := testing.AllocsPerRun(200, func() {
				if err := f.plan.Extract(doc, f.vals); err != nil {
					t.Fatal(err)
				}
				f.d.Observe(&f.rec)
			}); n != 0 {
				t.Errorf("redact %v: extract and observe allocate %v times per record", redact, n)
			}
		}
		if got := f.judge(); got.Observed != 0.5 {
			t.Errorf("redact %v: observed %v, want 0.5", redact, got.Observed)
		}
	}
}

func TestRulePercent(t *testing.T) {
	for x, want := range map[float64]string{
		0: "0%", 0.01: "1%", 0.00824: "0.82%", 0.045: "4.5%", 0.5: "50%", 1: "100%", 0.00006: "0.006%", 0.123456: "12%",
	} {
		if got := rulePercent(x); got != want {
			t.Errorf("rulePercent(%v) = %q, want %q", x, got, want)
		}
	}
}

func TestIsASCII(t *testing.T) {
	for n := range 40 {
		b := []byte(strings.Repeat("a", n))
		if !isASCII(b) {
			t.Errorf("%d ASCII bytes: not ASCII", n)
		}
		for i := range n {
			b[i] = 0x80
			if isASCII(b) {
				t.Errorf("%d bytes, 0x80 at %d: ASCII", n, i)
			}
			b[i] = 'a'
		}
	}
	p := []byte("jane.doe@example.com")
	if n := testing.AllocsPerRun(100, func() { isASCII(p) }); n != 0 {
		t.Errorf("isASCII allocates %v times", n)
	}
}
