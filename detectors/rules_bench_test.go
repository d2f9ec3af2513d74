package detectors

import (
	"testing"

	"github.com/sluicehq/sluice/config"
)

// BenchmarkRulesObserve is the hot path of a rules detector: extracting
// the fields of a ~300-byte record and checking four rules, one a regex.
func BenchmarkRulesObserve(b *testing.B) {
	f := newRulesFeed(b, config.Detector{Rules: profileRules}, true)
	doc := []byte(profileRecord)
	f.rec.Key, f.rec.KeyHash = []byte("jane.doe@example.com"), 1
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := f.plan.Extract(doc, f.vals); err != nil {
			b.Fatal(err)
		}
		f.d.Observe(&f.rec)
	}
	if got := f.judge(); got.Observed != 0 {
		b.Fatalf("the record breaks a rule: %s", got.Message)
	}
}

// BenchmarkRulesObserveExtracted is the rules' own share of it: the
// fields are extracted beforehand.
func BenchmarkRulesObserveExtracted(b *testing.B) {
	f := newRulesFeed(b, config.Detector{Rules: profileRules}, true)
	if err := f.plan.Extract([]byte(profileRecord), f.vals); err != nil {
		b.Fatal(err)
	}
	f.rec.Key, f.rec.KeyHash = []byte("jane.doe@example.com"), 1
	b.ReportAllocs()
	for b.Loop() {
		f.d.Observe(&f.rec)
	}
	if got := f.judge(); got.Observed != 0 {
		b.Fatalf("the record breaks a rule: %s", got.Message)
	}
}
