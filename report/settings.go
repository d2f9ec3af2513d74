package report

import (
	"math"

	"github.com/sluicehq/sluice/config"
)

// Direction says which values of a score are bad, and so how a threshold
// flags a batch.
type Direction uint8

const (
	// Above flags a batch whose score is above the threshold
	// (violation_rate > max_violation_rate, max_repeat > max_repeat).
	Above Direction = iota
	// Magnitude flags a batch whose score is further from zero than the
	// threshold, either way: the score is |observed| (a z-score, a relative
	// change).
	Magnitude
	// NotAbove flags a batch whose score does not clear the threshold: the
	// accuracy detector passes a batch only when the lower bound of its
	// interval is above min_accuracy, so its score is that lower bound.
	NotAbove
)

func (d Direction) String() string {
	switch d {
	case Magnitude:
		return "magnitude"
	case NotAbove:
		return "not above"
	}
	return "above"
}

// setting is one detector setting a metric's threshold comes from.
type setting struct {
	// Type is the detector type; Metric the finding's metric, or "*" for
	// any metric of the type, matched by its threshold alone.
	Type, Metric string
	// Key is the setting's path in the detector's YAML entry.
	Key string
	Dir Direction
	// Integer settings take whole numbers.
	Integer bool
	// Valid values lie between Min and Max; an open end excludes the bound.
	Min, Max         float64
	MinOpen, MaxOpen bool
	// Learns is set where the detector's baseline learns from the batches
	// it passes: another threshold changes what later batches are held to,
	// so what a suggestion would flag is an estimate.
	Learns bool
	// value is the setting in a detector's config; false when it is unset.
	value func(*config.Detector) (float64, bool)
}

// settings maps (detector type, metric) to the config key the metric's
// threshold comes from. The first row whose type and metric match and
// whose configured value equals the findings' threshold wins: that is how
// a variance metric tells max_z (the finding reports a z-score) from
// max_change (a relative change), and how a degree metric with a name not
// listed here still finds its key. A metric whose threshold matches no row
// (a bound learned per batch, say) is charted but gets no suggestion.
var settings = []setting{
	{Type: "rules", Metric: "violation_rate", Key: "max_violation_rate", Dir: Above, Max: 1,
		value: func(d *config.Detector) (float64, bool) { return d.MaxViolationRate, true }},

	{Type: "accuracy", Metric: "accuracy", Key: "min_accuracy", Dir: NotAbove, MinOpen: true, Max: 1, MaxOpen: true,
		value: func(d *config.Detector) (float64, bool) { return d.MinAccuracy, d.MinAccuracy > 0 }},

	{Type: "degree", Metric: "max_degree", Key: "max_degree", Dir: Above, Integer: true, Min: 1, Max: math.Inf(1), value: maxDegree},
	{Type: "degree", Metric: "degree", Key: "max_degree", Dir: Above, Integer: true, Min: 1, Max: math.Inf(1), value: maxDegree},
	{Type: "degree", Metric: "max_repeat", Key: "max_repeat", Dir: Above, Integer: true, Min: 1, Max: math.Inf(1), value: maxRepeat},
	{Type: "degree", Metric: "repeat", Key: "max_repeat", Dir: Above, Integer: true, Min: 1, Max: math.Inf(1), value: maxRepeat},
	{Type: "degree", Metric: "supernode_share", Key: "max_share", Dir: Above, MinOpen: true, Max: 1, value: maxShare},
	{Type: "degree", Metric: "share", Key: "max_share", Dir: Above, MinOpen: true, Max: 1, value: maxShare},
	{Type: "degree", Metric: "over_baseline", Key: "over_baseline.factor", Dir: Above, Min: 1, Max: math.Inf(1), Learns: true, value: factor},
	{Type: "degree", Metric: "degree_over_baseline", Key: "over_baseline.factor", Dir: Above, Min: 1, Max: math.Inf(1), Learns: true, value: factor},
	{Type: "degree", Metric: "*", Key: "max_degree", Dir: Above, Integer: true, Min: 1, Max: math.Inf(1), value: maxDegree},
	{Type: "degree", Metric: "*", Key: "max_repeat", Dir: Above, Integer: true, Min: 1, Max: math.Inf(1), value: maxRepeat},
	{Type: "degree", Metric: "*", Key: "max_share", Dir: Above, MinOpen: true, Max: 1, value: maxShare},

	// Variance findings on the z scale carry max_z as their threshold;
	// ones on the relative scale carry max_change. Raw values held to a
	// bound learned per batch match neither.
	{Type: "variance", Metric: "*", Key: "max_z", Dir: Magnitude, MinOpen: true, Max: math.Inf(1), Learns: true,
		value: func(d *config.Detector) (float64, bool) { return d.MaxZ, d.MaxZ > 0 }},
	{Type: "variance", Metric: "*", Key: "max_change", Dir: Magnitude, MinOpen: true, Max: math.Inf(1), Learns: true,
		value: func(d *config.Detector) (float64, bool) { return d.MaxChange, d.MaxChange > 0 }},
}

func maxDegree(d *config.Detector) (float64, bool) { return float64(d.MaxDegree), d.MaxDegree > 0 }
func maxRepeat(d *config.Detector) (float64, bool) { return float64(d.MaxRepeat), d.MaxRepeat > 0 }
func maxShare(d *config.Detector) (float64, bool)  { return d.MaxShare, d.MaxShare > 0 }
func factor(d *config.Detector) (float64, bool) {
	if d.OverBaseline == nil {
		return 0, false
	}
	return d.OverBaseline.Factor, true
}

// matches reports whether the row is about this metric of this type.
func (s *setting) matches(typ, metric string) bool {
	return s.Type == typ && (s.Metric == metric || s.Metric == "*")
}

// valid reports whether v may be set.
func (s *setting) valid(v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) || (s.Integer && v != math.Trunc(v)) {
		return false
	}
	if v < s.Min || (s.MinOpen && v == s.Min) {
		return false
	}
	return v < s.Max || (!s.MaxOpen && v == s.Max)
}

// direction is how a metric's scores are read: the first row about it
// decides, whether or not a threshold matches; Above otherwise.
func direction(typ, metric string) Direction {
	for i := range settings {
		if settings[i].Type == typ && settings[i].Metric == metric {
			return settings[i].Dir
		}
	}
	for i := range settings {
		if settings[i].matches(typ, metric) {
			return settings[i].Dir
		}
	}
	return Above
}

// lookup finds the setting behind a metric whose findings all carry
// threshold: exact metric names first, then rows for any metric.
func lookup(d *config.Detector, typ, metric string, threshold float64) *setting {
	for _, exact := range []bool{true, false} {
		for i := range settings {
			s := &settings[i]
			if !s.matches(typ, metric) || (s.Metric == metric) != exact {
				continue
			}
			if v, ok := s.value(d); ok && same(v, threshold) {
				return s
			}
		}
	}
	return nil
}

// same compares a configured value with a reported threshold, allowing
// for a threshold that went through float32 or a division.
func same(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}
