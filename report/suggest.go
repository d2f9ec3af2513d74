package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
)

const (
	// TargetShare is the share of the clean batches a suggested threshold
	// may flag: 0.1%, so a threshold at the 99.9th percentile of the clean
	// scores (the 0.1th for a metric where low is bad).
	TargetShare = 0.001
	// MinClean is the fewest clean batches a suggestion is made from.
	MinClean = 10
)

// Suggestion is a setting read off the scores of the clean batches
// (verdict pass), with what it would have flagged in this replay. Metrics
// of one detector that share a setting (a variance detector's max_z) get
// one suggestion between them.
type Suggestion struct {
	Detector string // the detector's name
	Type     string // its type
	// Metric is the metric the setting holds, or the metrics, joined by
	// ", ", when several share it.
	Metric string
	// Key is the setting's path in the detector's config entry:
	// "max_violation_rate", "min_accuracy", "over_baseline.factor".
	Key       string
	Direction Direction
	// Current is the configured value. Value is the suggestion: the
	// smallest setting (the largest, where low is bad) that flags at most
	// TargetShare of the clean batches, rounded to two significant digits,
	// or to more where two would flag other batches; where metrics share
	// the setting, the loosest of theirs.
	Current, Value float64
	// Clean is the clean batches the metrics scored; WouldFlag how many of
	// them Value flags.
	Clean, WouldFlag int
	// Flagged is the batches with a verdict other than pass (by any
	// detector) the metrics scored; Caught how many of them Value flags.
	// With this detector alone and its other settings as they are, a
	// replay with Value flags WouldFlag+Caught batches.
	Flagged, Caught int
	// Estimate is set when the detector learns its baseline from the
	// batches it passes (another threshold changes the baseline) or pools
	// evidence across batches: then the counts are an estimate.
	Estimate bool
}

// analysis is what the report makes of one series.
type analysis struct {
	*series
	dir Direction
	set *setting // the setting behind the threshold; nil when none
	det *config.Detector
	// threshold is the one threshold of every judged batch; fixed is
	// false when it varies or no batch was judged.
	threshold float64
	fixed     bool
	scores    []scored  // in batch order
	clean     []float64 // scores of the clean batches, sorted
	flagged   []float64 // scores of the flagged batches, sorted
	hits      int       // batches this metric's own finding flagged
	own       float64   // this metric's suggested value, when why is empty
	sug       *Suggestion
	why       string // why there is no suggestion
}

// scored is one batch's score.
type scored struct {
	batch int
	x     float64
	clean bool
}

// score is the value a threshold is compared with.
func score(dir Direction, p *point) (float64, bool) {
	switch dir {
	case Magnitude:
		return math.Abs(p.observed), true
	case NotAbove:
		if len(p.interval) != 2 {
			return 0, false // nothing sampled: the threshold plays no part
		}
		return p.interval[0], true
	}
	return p.observed, true
}

// flags reports whether threshold t flags a batch with score x.
func flags(dir Direction, x, t float64) bool {
	if dir == NotAbove {
		return x <= t
	}
	return x > t
}

// Suggestions returns the suggested settings, in the order their metrics
// were first seen.
func (r *Report) Suggestions() []Suggestion {
	var out []Suggestion
	seen := map[*Suggestion]bool{}
	for _, a := range r.analyze() {
		if a.sug != nil && !seen[a.sug] {
			seen[a.sug] = true
			out = append(out, *a.sug)
		}
	}
	return out
}

func (r *Report) detector(name string) *config.Detector {
	if r.feed == nil {
		return nil
	}
	for i := range r.feed.Detectors {
		if r.feed.Detectors[i].Name == name {
			return &r.feed.Detectors[i]
		}
	}
	return nil
}

// analyze reads each series: its direction, the setting behind it, the
// scores of clean and flagged batches, and the suggestion.
func (r *Report) analyze() []*analysis {
	out := make([]*analysis, 0, len(r.series))
	for _, s := range r.series {
		a := &analysis{series: s, det: r.detector(s.detector)}
		out = append(out, a)
		var thresholds []float64
		for i := range s.points {
			p := &s.points[i]
			if p.verdict != detectors.Pass {
				a.hits++
			}
			if !p.warmup() && !slices.ContainsFunc(thresholds, func(t float64) bool { return same(t, p.threshold) }) {
				thresholds = append(thresholds, p.threshold)
			}
		}
		if len(thresholds) == 1 {
			a.threshold, a.fixed = thresholds[0], true
			if a.det != nil {
				a.set = lookup(a.det, s.typ, s.metric, a.threshold)
			}
		}
		a.dir = direction(s.typ, s.metric)
		if a.set != nil {
			a.dir = a.set.Dir
		}
		for i := range s.points {
			p := &s.points[i]
			x, ok := score(a.dir, p)
			if !ok || p.warmup() || math.IsNaN(x) {
				continue
			}
			clean := r.batches[p.batch].verdict == detectors.Pass
			a.scores = append(a.scores, scored{p.batch, x, clean})
			if clean {
				a.clean = append(a.clean, x)
			} else {
				a.flagged = append(a.flagged, x)
			}
		}
		slices.Sort(a.clean)
		slices.Sort(a.flagged)
		switch {
		case s.typ == "decode":
			a.why = "undecodable records have no threshold: on_decode_error decides"
		case a.det == nil:
			a.why = fmt.Sprintf("no detector %q in the config", s.detector)
		case len(thresholds) == 0:
			a.why = "the detector judged no batch (warming up)"
		case len(thresholds) > 1:
			lo, hi := slices.Min(thresholds), slices.Max(thresholds)
			a.why = fmt.Sprintf("the threshold varies from batch to batch (%s to %s): it is learned, so no single setting can be read off it", num(lo), num(hi))
		case a.set == nil:
			a.why = fmt.Sprintf("its threshold %s is none of %s's settings", num(thresholds[0]), s.detector)
		case len(a.clean) < MinClean:
			a.why = fmt.Sprintf("only %d clean %s scored; a suggestion needs at least %d", len(a.clean), plural(len(a.clean), "batch", "batches"), MinClean)
		default:
			a.suggestOwn()
		}
	}
	// One suggestion per setting: the loosest of its metrics' values.
	type key struct{ detector, key string }
	groups := map[key][]*analysis{}
	var order []key
	for _, a := range out {
		if a.why != "" || a.set == nil {
			continue
		}
		k := key{a.detector, a.set.Key}
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], a)
	}
	for _, k := range order {
		g := combine(groups[k], len(r.batches))
		for _, a := range groups[k] {
			a.sug = g
		}
	}
	return out
}

// suggestOwn sets a.own, the metric's own suggestion, or a.why when no
// valid setting separates its scores.
func (a *analysis) suggestOwn() {
	set := a.set
	all := slices.Sorted(slices.Values(slices.Concat(a.clean, a.flagged)))
	n := len(a.clean)
	k := int(float64(n) * TargetShare) // clean batches it may flag
	var v float64
	if a.dir == NotAbove {
		// Flags x <= v: v must stay below the (k+1)-th lowest clean
		// score; any v from the score under it up flags the same.
		sk := a.clean[k]
		prev := math.Inf(-1)
		if i, _ := slices.BinarySearch(all, sk); i > 0 {
			prev = all[i-1]
		}
		v = roundDown(sk, prev)
	} else {
		// Flags x > v: v must reach the (k+1)-th highest clean score;
		// any v up to the next score above flags the same.
		t0 := a.clean[n-1-k]
		next := math.Inf(1)
		if i, found := slices.BinarySearch(all, t0); i < len(all) {
			for found && i < len(all) && all[i] == t0 {
				i++
			}
			if i < len(all) {
				next = all[i]
			}
		}
		switch {
		case set.Integer:
			v = math.Max(math.Ceil(t0), set.Min)
		default:
			v = roundUp(t0, next)
			if !set.valid(v) && v <= set.Min && !math.IsInf(next, 1) && next > set.Min {
				// Every clean batch is at the bound (a share of 0, say):
				// a power of ten under the next score flags the same.
				v = math.Pow(10, math.Floor(math.Log10(next-set.Min))) + set.Min
				if v >= next {
					v = (v-set.Min)/10 + set.Min
				}
			}
		}
	}
	if !set.valid(v) {
		a.why = fmt.Sprintf("no valid %s separates the clean batches (%s would be needed)", set.Key, num(v))
		return
	}
	a.own = v
}

// combine makes the suggestion for one setting of one detector from the
// metrics it holds: the loosest of their values, and what it flags in
// any of them.
func combine(as []*analysis, batches int) *Suggestion {
	a0 := as[0]
	g := &Suggestion{Detector: a0.detector, Type: a0.typ, Key: a0.set.Key, Direction: a0.dir, Current: a0.threshold, Value: a0.own}
	var metrics []string
	for _, a := range as {
		metrics = append(metrics, a.metric)
		if a.dir == NotAbove {
			g.Value = math.Min(g.Value, a.own)
		} else {
			g.Value = math.Max(g.Value, a.own)
		}
		g.Estimate = g.Estimate || a.set.Learns || a.mode("sequential")
	}
	g.Metric = strings.Join(metrics, ", ")
	const (
		seen = 1 << iota
		clean
		flagged
	)
	state := make([]uint8, batches)
	for _, a := range as {
		for _, s := range a.scores {
			state[s.batch] |= seen
			if s.clean {
				state[s.batch] |= clean
			}
			if flags(a.dir, s.x, g.Value) {
				state[s.batch] |= flagged
			}
		}
	}
	for _, st := range state {
		switch {
		case st&seen == 0:
		case st&clean != 0:
			g.Clean++
			if st&flagged != 0 {
				g.WouldFlag++
			}
		default:
			g.Flagged++
			if st&flagged != 0 {
				g.Caught++
			}
		}
	}
	return g
}

// mode reports whether any finding of the series had this mode.
func (a *analysis) mode(m string) bool {
	return slices.ContainsFunc(a.points, func(p point) bool { return p.mode == m })
}

// roundUp returns the number in [lo, hi) with the fewest significant
// digits, two at least, and the smallest of those: lo itself when the gap
// is too narrow for anything rounder.
func roundUp(lo, hi float64) float64 {
	for d := 2; d <= 17; d++ {
		if v := ceilSig(lo, d); v < hi {
			return v
		}
	}
	return lo
}

// roundDown returns the number in [lo, hi) with the fewest significant
// digits, two at least, and the largest of those.
func roundDown(hi, lo float64) float64 {
	if hi <= 0 && lo == math.Inf(-1) {
		return math.NaN()
	}
	for d := 2; d <= 17; d++ {
		if v := floorSigBelow(hi, d); v >= lo {
			return v
		}
	}
	return lo
}

// ceilSig is the smallest number with d significant digits that is >= x.
func ceilSig(x float64, d int) float64 {
	if x == 0 {
		return 0
	}
	r, s := roundSig(x, d)
	if r >= x {
		return r
	}
	return stepSig(r, s, d, 1)
}

// floorSigBelow is the largest number with d significant digits that is
// < x.
func floorSigBelow(x float64, d int) float64 {
	if x == 0 {
		return -math.Pow(10, -300)
	}
	r, s := roundSig(x, d)
	if r < x {
		return r
	}
	return stepSig(r, s, d, -1)
}

// roundSig rounds x to d significant digits, returning the value and its
// 'e' form.
func roundSig(x float64, d int) (float64, string) {
	s := strconv.FormatFloat(x, 'e', d-1, 64)
	r, _ := strconv.ParseFloat(s, 64)
	return r, s
}

// stepSig moves r (written s, d significant digits) by one unit in its
// last digit, up or down.
func stepSig(r float64, s string, d int, dir float64) float64 {
	e := strings.IndexByte(s, 'e')
	exp, _ := strconv.Atoi(s[e+1:])
	unit := math.Pow(10, float64(exp-d+1))
	if dir < 0 && strings.TrimRight(strings.TrimLeft(s[:e], "-"), "0.") == "1" {
		unit /= 10 // down from a power of ten: 0.1 → 0.099
	}
	v, _ := roundSig(r+dir*unit, d)
	return v
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
