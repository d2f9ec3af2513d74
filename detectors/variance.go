package detectors

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/config"
)

func init() { register("variance", newVariance) }

// Variance holds batch statistics against a baseline learned from the
// feed's own passing batches. Each metric is computed per batch:
//
//   - count: records observed (decoded) in the batch;
//   - distinct_keys: distinct keys;
//   - mean_degree(F): distinct (key, F) pairs per distinct key, where F is
//     missing or null counts no pair (so a key with only nulls adds 0);
//   - null_rate(F): share of records where F is missing or null;
//   - mean(F): mean of F over the records where it is a number;
//   - duplicate_rate: share of records whose key and the values of every
//     field the detector's metrics name are those of an earlier record of
//     the batch (key alone when no metric names a field).
//
// Distinct counts are exact up to varianceExactLimit per batch, then
// HyperLogLog (0.8%).
//
// The baseline of each metric is robust (median and MAD of the last
// window passing batches) or ewma (mean and variance, weight alpha, 1/n
// for the first batches); with seasonality "hour" every hour of the day
// (of Batch.Time, UTC) has its own. A batch's metric x is scored as
// z = (x − center) / scale, where scale is 1.4826·MAD (robust) or the
// EWMA standard deviation, but never below the noise the metric has by
// its nature in a batch of this size (see floor), which also keeps a
// constant history (MAD 0) from calling every change infinite. It fails
// when |z| > max_z or |x − center| / |center| > max_change (center
// below the floor is taken as the floor).
//
// A metric's baseline judges once it holds min_history batches. Before
// that, with 2 or more batches, it judges provisionally: a failure gets
// the warmup verdict instead of on_fail. Only batches that pass teach the
// baseline.
type Variance struct {
	name       string
	metrics    []varMetric
	fields     []varField
	method     int
	window     int
	minHistory int
	alpha      float64
	maxZ       float64 // 0: not set
	maxChange  float64 // 0: not set
	seasonal   bool
	onFail     Verdict
	warmup     Verdict
	shadow     bool

	// The open batch.
	n        int
	needKeys bool
	keys     distinctSet
	dupOn    bool
	dups     distinctSet
	text     []byte

	hist    [][]varHistory // [season][metric]
	scratch []float64
	scores  []varScore

	// What Judge leaves for Learn.
	vals   []float64
	valid  []bool
	season int
	judged bool
}

// Metric kinds.
const (
	metricCount = iota
	metricDistinctKeys
	metricDuplicateRate
	metricMeanDegree
	metricNullRate
	metricMean
)

var metricKinds = map[string]int{
	"count": metricCount, "distinct_keys": metricDistinctKeys, "duplicate_rate": metricDuplicateRate,
	"mean_degree": metricMeanDegree, "null_rate": metricNullRate, "mean": metricMean,
}

type varMetric struct {
	name  string // as written: "null_rate(company)"
	kind  int
	field int // index into Variance.fields; -1 for none
}

// varField is one field the metrics read, with its batch tallies.
type varField struct {
	path      string
	idx       int // in Record.Values
	nulls     int
	wantMean  bool
	cnt       int
	shift     float64 // the batch's first number: sums are of x − shift
	sum, sq   float64
	wantPairs bool
	pairs     distinctSet
}

const (
	// varianceExactLimit is the most distinct hashes a batch counts
	// exactly, per counted set (keys, pairs, duplicates): 8 MiB of table.
	varianceExactLimit = 1 << 19
	// varianceProvisional is how many batches a baseline needs before it
	// judges provisionally during warm-up.
	varianceProvisional = 2
)

func newVariance(cfg config.Detector, env *Env) (Detector, error) {
	fail := func(format string, args ...any) (Detector, error) {
		return nil, fmt.Errorf("cannot build variance detector %q: %s", cfg.Name, fmt.Sprintf(format, args...))
	}
	d := &Variance{name: cfg.Name, maxZ: cfg.MaxZ, maxChange: cfg.MaxChange, shadow: cfg.Shadow}
	var err error
	if d.onFail, err = verdictOr(cfg.OnFail, config.DefaultOnFail); err != nil || d.onFail == Pass {
		return fail("on_fail %q is not warn, quarantine or halt", cfg.OnFail)
	}
	if d.warmup, err = verdictOr(cfg.Warmup, config.DefaultWarmup); err != nil || d.warmup == Halt {
		return fail("warmup %q is not pass, warn or quarantine", cfg.Warmup)
	}
	b := config.Baseline{
		Window: config.DefaultBaselineWindow, MinHistory: config.DefaultBaselineMinHistory,
		Method: config.DefaultBaselineMethod, Alpha: config.DefaultBaselineAlpha,
	}
	if cfg.Baseline != nil {
		if cfg.Baseline.Window != 0 {
			b.Window = cfg.Baseline.Window
			b.MinHistory = min(b.MinHistory, max(b.Window, 2))
		}
		if cfg.Baseline.MinHistory != 0 {
			b.MinHistory = cfg.Baseline.MinHistory
		}
		if cfg.Baseline.Method != "" {
			b.Method = cfg.Baseline.Method
		}
		if cfg.Baseline.Alpha != 0 {
			b.Alpha = cfg.Baseline.Alpha
		}
	}
	switch {
	case b.Window < 2 || b.Window > 1<<16:
		return fail("baseline.window %d is not in [2, 65536]", b.Window)
	case b.MinHistory < 2 || b.MinHistory > b.Window && b.Method == "robust":
		return fail("baseline.min_history %d is not in [2, window]", b.MinHistory)
	case !(b.Alpha > 0 && b.Alpha <= 1):
		return fail("baseline.alpha %v is not in (0, 1]", b.Alpha)
	case !(d.maxZ >= 0) || !(d.maxChange >= 0) || math.IsInf(d.maxZ, 0) || math.IsInf(d.maxChange, 0):
		return fail("max_z %v and max_change %v must be > 0", d.maxZ, d.maxChange)
	case d.maxZ == 0 && d.maxChange == 0:
		return fail("set max_z, max_change or both")
	case len(cfg.Metrics) == 0:
		return fail("no metrics")
	}
	switch b.Method {
	case "robust":
		d.method = methodRobust
	case "ewma":
		d.method = methodEWMA
	default:
		return fail("unknown baseline.method %q (want robust or ewma)", b.Method)
	}
	switch cfg.Seasonality {
	case "":
	case "hour":
		d.seasonal = true
	default:
		return fail("unknown seasonality %q (want hour, or leave it out)", cfg.Seasonality)
	}
	d.window, d.minHistory, d.alpha = b.Window, b.MinHistory, b.Alpha
	for _, s := range cfg.Metrics {
		m, err := config.ParseMetric(s)
		if err != nil {
			return fail("%v", err)
		}
		vm := varMetric{name: m.String(), kind: metricKinds[m.Name], field: -1}
		if slices.ContainsFunc(d.metrics, func(o varMetric) bool { return o.name == vm.name }) {
			return fail("metric %q is listed twice", s)
		}
		if m.Field != "" {
			vm.field = d.field(m.Field, env)
		}
		f := func() *varField { return &d.fields[vm.field] }
		switch vm.kind {
		case metricDistinctKeys:
			d.needKeys = true
		case metricDuplicateRate:
			d.dupOn = true
		case metricMeanDegree:
			d.needKeys = true
			f().wantPairs = true
		case metricMean:
			f().wantMean = true
		}
		d.metrics = append(d.metrics, vm)
	}
	for i := range d.fields {
		if d.fields[i].wantPairs {
			d.fields[i].pairs = newDistinctSet(varianceExactLimit)
		}
	}
	if d.needKeys {
		d.keys = newDistinctSet(varianceExactLimit)
	}
	if d.dupOn {
		d.dups = newDistinctSet(varianceExactLimit)
	}
	seasons := 1
	if d.seasonal {
		seasons = 24
	}
	d.hist = make([][]varHistory, seasons)
	for s := range d.hist {
		d.hist[s] = make([]varHistory, len(d.metrics))
		if d.method == methodRobust {
			for m := range d.hist[s] {
				d.hist[s][m].vals = make([]float32, d.window)
			}
		}
	}
	d.vals = make([]float64, len(d.metrics))
	d.valid = make([]bool, len(d.metrics))
	d.scratch = make([]float64, 0, d.window)
	d.scores = make([]varScore, len(d.metrics))
	return d, nil
}

// field returns the index of path in d.fields, adding it.
func (d *Variance) field(path string, env *Env) int {
	for i, f := range d.fields {
		if f.path == path {
			return i
		}
	}
	d.fields = append(d.fields, varField{path: path, idx: env.Binder.Field(path)})
	return len(d.fields) - 1
}

// Name is the configured name.
func (d *Variance) Name() string { return d.name }

// Type is "variance".
func (d *Variance) Type() string { return "variance" }

// nullHash stands for a missing or null field in a duplicate's hash.
const nullHash = 0x5bd1e9955bd1e995

// Observe tallies the record. It allocates nothing once the exact sets
// have grown to the batch's size.
func (d *Variance) Observe(r *Record) {
	d.n++
	if d.needKeys {
		d.keys.add(r.KeyHash)
	}
	dh := r.KeyHash
	for i := range d.fields {
		f := &d.fields[i]
		v := &r.Values[f.idx]
		if absent(v) {
			f.nulls++
			if d.dupOn {
				dh = combine(dh, nullHash)
			}
			continue
		}
		if f.wantMean {
			if x, ok := v.Float(); ok && !math.IsInf(x, 0) {
				if f.cnt == 0 {
					f.shift = x
				}
				x -= f.shift
				f.sum += x
				f.sq += x * x
				f.cnt++
			}
		}
		if f.wantPairs || d.dupOn {
			h := textHash(v, &d.text)
			if f.wantPairs {
				f.pairs.add(mix64(r.KeyHash, h))
			}
			dh = combine(dh, h+uint64(v.Kind))
		}
	}
	if d.dupOn {
		d.dups.add(dh)
	}
}

// Reset forgets the open batch.
func (d *Variance) Reset() {
	d.n, d.judged = 0, false
	if d.needKeys {
		d.keys.reset()
	}
	if d.dupOn {
		d.dups.reset()
	}
	for i := range d.fields {
		f := &d.fields[i]
		f.nulls, f.cnt, f.sum, f.sq = 0, 0, 0, 0
		if f.wantPairs {
			f.pairs.reset()
		}
	}
}

// Learn adds the judged batch's metrics to their baselines when the batch
// passed.
func (d *Variance) Learn(v Verdict) {
	if !d.judged {
		return
	}
	d.judged = false
	if !v.Passes() {
		return
	}
	for i := range d.metrics {
		if d.valid[i] {
			d.hist[d.season][i].add(d.vals[i], d.method, d.alpha)
		}
	}
}

// value is metric m of the open batch; false when the batch does not
// define it (no records, no keys, no numbers, or a mean beyond float64).
func (d *Variance) value(m *varMetric) (float64, bool) {
	x, ok := d.rawValue(m)
	return x, ok && !math.IsInf(x, 0) && !math.IsNaN(x)
}

func (d *Variance) rawValue(m *varMetric) (float64, bool) {
	n := float64(d.n)
	switch m.kind {
	case metricCount:
		return n, true
	case metricDistinctKeys:
		return d.keys.count(), true
	case metricDuplicateRate:
		if d.n == 0 {
			return 0, false
		}
		return max(0, 1-d.dups.count()/n), true
	case metricMeanDegree:
		keys := d.keys.count()
		if keys == 0 {
			return 0, false
		}
		return d.fields[m.field].pairs.count() / keys, true
	case metricNullRate:
		if d.n == 0 {
			return 0, false
		}
		return float64(d.fields[m.field].nulls) / n, true
	default: // metricMean
		f := &d.fields[m.field]
		if f.cnt == 0 || math.IsInf(f.sq, 0) {
			return 0, false // no numbers, or numbers whose spread overflows
		}
		return f.shift + f.sum/float64(f.cnt), true
	}
}

// floor is the least scale metric m can have in this batch: its sampling
// noise, or the size of one unit of it, given the baseline's center.
//
//   - count, distinct_keys: √center, the Poisson noise of a count;
//   - null_rate, duplicate_rate: the binomial standard error
//     √(p(1−p)/n), with p the center kept within [1/n, 1/2] so that a
//     history of zeros still allows one record's worth;
//   - mean_degree: 1/keys, one pair;
//   - mean: the batch's own standard error, sd/√n.
func (d *Variance) floor(m *varMetric, center float64) float64 {
	n := float64(d.n)
	var fl float64
	switch m.kind {
	case metricCount, metricDistinctKeys:
		fl = math.Sqrt(max(center, 1))
	case metricNullRate, metricDuplicateRate:
		p := min(max(center, 1/n), 0.5)
		fl = math.Sqrt(p * (1 - p) / n)
	case metricMeanDegree:
		fl = 1 / max(d.keys.count(), 1)
	case metricMean:
		f := &d.fields[m.field]
		if c := float64(f.cnt); c > 1 {
			mean := f.sum / c
			fl = math.Sqrt(max(0, f.sq/c-mean*mean) * c / (c - 1) / c)
		}
	}
	// Whatever the metric, a relative hair above nothing.
	return max(fl, 1e-9*math.Abs(center), 1e-12)
}

// finite clamps an overflowed score into float64's range, so that
// findings always encode as JSON.
func finite(x float64) float64 {
	return max(-math.MaxFloat64, min(x, math.MaxFloat64))
}

// varScore is one metric judged.
type varScore struct {
	m        *varMetric
	x        float64
	valid    bool
	learned  int // batches in its history
	center   float64
	scale    float64
	z        float64
	change   float64
	severity float64 // the larger of |z|/max_z and |change|/max_change
	verdict  Verdict
	warmup   bool // judged provisionally
}

// Judge scores every metric and gives one finding per metric that failed,
// the worst first, or one passing finding on the metric nearest its limit.
func (d *Variance) Judge(dst []Finding, b *Batch) []Finding {
	start := len(dst)
	dst = d.judge(dst, b)
	if d.shadow {
		shadow(dst[start:])
	}
	return dst
}

func (d *Variance) judge(dst []Finding, b *Batch) []Finding {
	d.judged = true
	d.season = 0
	if d.seasonal && b != nil {
		d.season = b.Time.UTC().Hour()
	}
	scores := d.scores[:len(d.metrics)]
	clear(scores)
	for i := range d.metrics {
		s := &scores[i]
		s.m = &d.metrics[i]
		s.x, s.valid = d.value(s.m)
		d.vals[i], d.valid[i] = s.x, s.valid
		h := &d.hist[d.season][i]
		s.learned = h.n
		if !s.valid || h.n == 0 {
			continue
		}
		center, spread := h.estimate(d.method, &d.scratch)
		fl := d.floor(s.m, center)
		s.center, s.scale = center, max(spread, fl)
		s.z = finite((s.x - center) / s.scale)
		s.change = finite((s.x - center) / max(math.Abs(center), fl))
		if d.maxZ > 0 {
			s.severity = math.Abs(s.z) / d.maxZ
		}
		if d.maxChange > 0 {
			s.severity = max(s.severity, math.Abs(s.change)/d.maxChange)
		}
		if s.severity <= 1 || h.n < varianceProvisional {
			continue
		}
		s.verdict = d.onFail
		if h.n < d.minHistory {
			s.verdict, s.warmup = d.warmup, true
		}
	}
	slices.SortStableFunc(scores, func(a, b varScore) int {
		switch {
		case a.severity > b.severity:
			return -1
		case a.severity < b.severity:
			return 1
		}
		return 0
	})
	n := len(dst)
	for i := range scores {
		if s := &scores[i]; s.verdict != Pass {
			dst = append(dst, d.failFinding(s))
		}
	}
	if len(dst) > n {
		return dst
	}
	return append(dst, d.passFinding(scores))
}

func (d *Variance) methodName() string {
	if d.method == methodEWMA {
		return "ewma"
	}
	return "robust"
}

// observed is what a finding reports: z against max_z, or the relative
// change against max_change when only that is set or only that failed.
func (d *Variance) observed(s *varScore) (observed, threshold float64) {
	zFails := d.maxZ > 0 && math.Abs(s.z) > d.maxZ
	if d.maxChange > 0 && (d.maxZ == 0 || !zFails && math.Abs(s.change) > d.maxChange) {
		return s.change, d.maxChange
	}
	return s.z, d.maxZ
}

func (d *Variance) failFinding(s *varScore) Finding {
	obs, thr := d.observed(s)
	f := Finding{
		Detector: d.name, Type: "variance", Verdict: s.verdict, Metric: s.m.name,
		Observed: obs, Threshold: thr, Mode: d.methodName(),
	}
	msg := d.describe(s) + "; " + d.limits()
	if s.warmup {
		// warmup: warn or quarantine; with pass the batch passes and the
		// passing finding says the metric would fail.
		f.Mode = "warmup"
		msg = fmt.Sprintf("warming up (%d of %d batches%s): %s", s.learned, d.minHistory, d.seasonName(), msg)
	}
	f.Message = msg
	return f
}

func (d *Variance) passFinding(scores []varScore) Finding {
	// scores is sorted: the first judged one is nearest its limit.
	var top *varScore
	for i := range scores {
		if scores[i].valid && scores[i].learned > 0 {
			top = &scores[i]
			break
		}
	}
	f := Finding{Detector: d.name, Type: "variance", Verdict: Pass, Mode: d.methodName()}
	if d.maxZ > 0 {
		f.Threshold = d.maxZ
	} else {
		f.Threshold = d.maxChange
	}
	var msg strings.Builder
	if top == nil {
		f.Metric, f.Mode = d.metrics[0].name, "warmup"
		fmt.Fprintf(&msg, "warming up: no baseline yet%s (0 of %d batches)", d.seasonName(), d.minHistory)
		f.Message = msg.String()
		return f
	}
	f.Metric = top.m.name
	f.Observed, _ = d.observed(top)
	if top.learned < d.minHistory {
		f.Mode = "warmup"
		fmt.Fprintf(&msg, "warming up (%d of %d batches%s); ", top.learned, d.minHistory, d.seasonName())
	}
	msg.WriteString("within limits: ")
	for i := range scores {
		s := &scores[i]
		if i > 0 {
			msg.WriteString(", ")
		}
		msg.WriteString(s.m.name + " " + d.format(s.m, s.x))
		switch {
		case !s.valid:
			msg.WriteString(" (undefined)")
		case s.learned == 0:
			msg.WriteString(" (no baseline)")
		case s.severity > 1:
			msg.WriteString(" (would fail: " + d.sigmas(s) + ")")
		default:
			msg.WriteString(" (" + d.sigmas(s) + ")")
		}
	}
	f.Message = msg.String()
	return f
}

// describe says how a metric stands against its baseline: "count 3012 is
// 25.1σ above its baseline 1003 (median of 30 batches at 14h UTC; scale
// 40), +200%".
func (d *Variance) describe(s *varScore) string {
	if !s.valid {
		return s.m.name + " is undefined in this batch"
	}
	dir := "above"
	if s.x < s.center {
		dir = "below"
	}
	what := "median"
	if d.method == methodEWMA {
		what = "ewma"
	}
	msg := fmt.Sprintf("%s %s is %.1fσ %s its baseline %s (%s of %d batches%s; scale %s)",
		s.m.name, d.format(s.m, s.x), math.Abs(s.z), dir, d.format(s.m, s.center),
		what, s.learned, d.seasonName(), d.format(s.m, s.scale))
	if math.Abs(s.center) >= d.floor(s.m, s.center) {
		// Against a baseline of about nothing a relative change says
		// nothing.
		msg += fmt.Sprintf(", %+.0f%%", 100*s.change)
	}
	return msg
}

func (d *Variance) sigmas(s *varScore) string {
	return strconv.FormatFloat(s.z, 'f', 1, 64) + "σ"
}

func (d *Variance) limits() string {
	var l []string
	if d.maxZ > 0 {
		l = append(l, fmtNum(d.maxZ)+"σ")
	}
	if d.maxChange > 0 {
		l = append(l, "±"+rulePercent(d.maxChange))
	}
	return "limit " + strings.Join(l, " or ")
}

func (d *Variance) seasonName() string {
	if !d.seasonal {
		return ""
	}
	return fmt.Sprintf(" at %02dh UTC", d.season)
}

// format renders a metric's value: rates as percentages, counts whole.
func (d *Variance) format(m *varMetric, x float64) string {
	switch m.kind {
	case metricNullRate, metricDuplicateRate:
		return rulePercent(x)
	case metricCount, metricDistinctKeys:
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// varianceFingerprint identifies what a learned state means: other
// metrics, another method, window or alpha, or seasonality do not carry
// over.
func (d *Variance) fingerprint() uint64 {
	var b strings.Builder
	fmt.Fprintf(&b, "variance\x00%s\x00%v", d.methodName(), d.seasonal)
	if d.method == methodEWMA {
		fmt.Fprintf(&b, "\x00alpha %v", d.alpha)
	} else {
		fmt.Fprintf(&b, "\x00window %d", d.window)
	}
	for _, m := range d.metrics {
		b.WriteString("\x00" + m.name)
	}
	return xxhash.Sum64String(b.String())
}

var _ Detector = (*Variance)(nil)
