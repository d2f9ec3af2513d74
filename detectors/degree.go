package detectors

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/sketch"
)

func init() { register("degree", newDegree) }

// Degree finds super-nodes and repeated connections. Each record connects
// its key to a neighbor, the value of the neighbor field (a hash of its
// text; a record whose neighbor is missing or null connects nothing). Per
// batch it counts every key's degree, its number of distinct neighbors,
// and every (key, neighbor) pair's multiplicity.
//
// Three checks, each optional:
//
//   - max_repeat: a key repeats a connection when one of its pairs occurs
//     more than max_repeat times in the batch.
//   - max_degree: a key is over the ceiling when its degree is above
//     max_degree. The ceiling is absolute: it holds from the first batch.
//   - over_baseline: a key is over the baseline when its degree is above
//     factor × the quantile of the learned degree distribution (the
//     degrees of every key of recent passing batches).
//
// With max_share set, the batch fails when the share of its keys that
// repeat a connection, or the share over the ceiling, is above max_share:
// a few natural hubs, or a few profiles updated several times, pass; the
// incident where nearly every key repeats does not. Without max_share one
// such key fails the batch. A key over the baseline fails the batch on its
// own, whatever max_share: it has more neighbors than factor times what
// the feed's own history calls a high degree, which is what a new
// super-node is; a natural hub at its usual degree is part of that history.
//
// The baseline learns only from batches that pass, and is not applied
// before it has seen degreeMinBatches batches and enough keys for its
// quantile (10/(1-quantile)); until then a batch that only the baseline
// (so far) would fail gets the warmup verdict.
//
// Counting is exact while a batch has at most max_keys keys and
// 4 × max_keys distinct pairs; beyond that the batch goes on in sketches
// (sketch.Degree for degrees, sketch.CountMin for multiplicities,
// sketch.HLL for the number of keys) and findings say mode "sketch".
type Degree struct {
	name      string
	env       *Env
	neighbor  string
	idx       int
	maxDegree float64 // 0: no ceiling
	quantile  float64
	factor    float64 // 0: no over_baseline
	maxRepeat uint32  // 0: no repeat check
	maxShare  float64 // 0: one key fails
	onFail    Verdict
	warmup    Verdict
	shadow    bool
	minKeys   uint64 // learned keys before the baseline is ready

	// The open batch.
	noNeighbor int // records without a neighbor
	ex         *exactDegrees
	sk         *degreeSketches // nil until a batch first outgrows ex
	sketching  bool
	text       []byte

	// What Judge leaves for Learn: the batch's degree distribution.
	batch  *sketch.Quantiles
	judged bool

	learned degreeHistory
}

const (
	// degreeMinBatches is how many passing batches the learned degree
	// distribution needs before over_baseline applies.
	degreeMinBatches = 8
	// degreeKeysPerTail: the distribution also needs this many keys above
	// the quantile, 10/(1-quantile) keys in all, for its quantile to mean
	// something.
	degreeKeysPerTail = 10
	// degreeEpoch: the distribution is that of the last 500 to 1,000
	// passing batches, so that it follows a feed that changes slowly.
	degreeEpoch = 500
	// The degree distribution's sketch: 1% relative accuracy, 1,024 bins
	// (degrees up to 10^8 without collapsing), 16 KiB.
	degreeAlpha = 0.01
	degreeBins  = 1024
	// Sketch sizes for batches beyond max_keys: 4 MiB of degree sketch
	// (about 8,400 candidate keys), a 1 MiB CountMin, a 16 KiB HyperLogLog.
	degreeSketchBytes = 4 << 20
	// degreeSketchSmall is the most neighbors a key can have that
	// sketch.Degree does not list: it promotes a key at its 8th.
	degreeSketchSmall = 7
	// degreePairsPerKey: exact counting also stops beyond this many
	// distinct pairs per max_keys.
	degreePairsPerKey = 4
)

func newDegree(cfg config.Detector, env *Env) (Detector, error) {
	d := &Degree{
		name: cfg.Name, env: env, neighbor: cfg.Neighbor,
		maxDegree: float64(cfg.MaxDegree), maxShare: cfg.MaxShare, shadow: cfg.Shadow,
	}
	fail := func(format string, args ...any) (Detector, error) {
		return nil, fmt.Errorf("cannot build degree detector %q: %s", cfg.Name, fmt.Sprintf(format, args...))
	}
	if cfg.Neighbor == "" {
		return fail("neighbor is required")
	}
	var err error
	if d.onFail, err = verdictOr(cfg.OnFail, config.DefaultOnFail); err != nil || d.onFail == Pass {
		return fail("on_fail %q is not warn, quarantine or halt", cfg.OnFail)
	}
	if d.warmup, err = verdictOr(cfg.Warmup, config.DefaultWarmup); err != nil || d.warmup == Halt {
		return fail("warmup %q is not pass, warn or quarantine", cfg.Warmup)
	}
	if cfg.MaxDegree < 0 {
		return fail("max_degree %d is not >= 1", cfg.MaxDegree)
	}
	if cfg.MaxRepeat < 0 || cfg.MaxRepeat >= math.MaxUint32 {
		return fail("max_repeat %d is not >= 1", cfg.MaxRepeat)
	}
	d.maxRepeat = uint32(cfg.MaxRepeat)
	if !(cfg.MaxShare >= 0 && cfg.MaxShare <= 1) {
		return fail("max_share %v is not in (0, 1]", cfg.MaxShare)
	}
	if o := cfg.OverBaseline; o != nil {
		if !(o.Quantile > 0 && o.Quantile < 1) || !(o.Factor >= 1) || math.IsInf(o.Factor, 0) {
			return fail("over_baseline needs a quantile in (0, 1) and a factor >= 1, not %v and %v", o.Quantile, o.Factor)
		}
		d.quantile, d.factor = o.Quantile, o.Factor
		d.minKeys = uint64(math.Ceil(degreeKeysPerTail / (1 - o.Quantile)))
	}
	switch {
	case d.maxDegree == 0 && d.factor == 0 && d.maxRepeat == 0:
		return fail("it checks nothing: set max_degree, over_baseline or max_repeat")
	case d.maxShare > 0 && d.maxDegree == 0 && d.maxRepeat == 0:
		return fail("max_share applies to max_degree and max_repeat; set one of them")
	}
	maxKeys := cfg.MaxKeys
	if maxKeys == 0 {
		maxKeys = config.DefaultMaxKeys
	}
	if maxKeys < 0 || maxKeys > 1<<30 {
		return fail("max_keys %d is not in [1, 2^30]", maxKeys)
	}
	d.idx = env.Binder.Field(cfg.Neighbor)
	d.ex = newExactDegrees(maxKeys, degreePairsPerKey*maxKeys, !env.RedactKeys)
	d.batch = newDegreeQuantiles()
	d.learned = newDegreeHistory()
	return d, nil
}

func newDegreeQuantiles() *sketch.Quantiles {
	q, err := sketch.NewQuantiles(degreeAlpha, degreeBins)
	if err != nil {
		panic(err) // constant parameters in range
	}
	return q
}

// Name is the configured name.
func (d *Degree) Name() string { return d.name }

// Type is "degree".
func (d *Degree) Type() string { return "degree" }

// Observe counts the record's connection. It allocates nothing once the
// exact tables have grown to the batch's size (and, for a batch beyond
// max_keys, once the sketches exist).
func (d *Degree) Observe(r *Record) {
	v := &r.Values[d.idx]
	if absent(v) {
		d.noNeighbor++
		return
	}
	ph := nonzero(mix64(r.KeyHash, textHash(v, &d.text)))
	if !d.sketching {
		if _, ok := d.ex.add(r.KeyHash, ph, r.Key); ok {
			return
		}
		d.startSketching()
	}
	d.sk.add(r.KeyHash, ph, r.Key, d)
}

// degreeSketches count a batch that outgrew the exact tables.
type degreeSketches struct {
	deg  *sketch.Degree
	cm   *sketch.CountMin
	keys *sketch.HLL
	// repeats counts pairs whose multiplicity passed max_repeat: in sketch
	// mode the repeat share is of pairs, an upper bound of keys.
	repeats int
	worst   uint32
	ex      [maxExamples]keptKey
	kept    int
}

// startSketching moves the batch so far from the exact tables into the
// sketches; the tables stay as they are until Reset, to name examples.
func (d *Degree) startSketching() {
	if d.sk == nil {
		deg, err1 := sketch.NewDegree(degreeSketchBytes)
		cm, err2 := sketch.NewCountMin(sketch.DefaultCountMinDepth, sketch.DefaultCountMinWidth)
		hll, err3 := sketch.NewHLL(14)
		if err := errors.Join(err1, err2, err3); err != nil {
			panic(err) // constant parameters in range
		}
		d.sk = &degreeSketches{deg: deg, cm: cm, keys: hll}
	}
	d.sketching = true
	e := d.ex
	for _, p := range e.pairSlots {
		if p.hash == 0 {
			continue
		}
		k := &e.keys[p.ord]
		for range p.count {
			d.sk.add(k.hash, p.hash, e.keyBytes(p.ord), d)
		}
	}
}

func (s *degreeSketches) add(kh, ph uint64, key []byte, d *Degree) {
	s.deg.Insert(kh, ph)
	s.keys.Insert(kh)
	c := s.cm.Add(ph)
	s.worst = max(s.worst, c)
	if d.maxRepeat > 0 && c == d.maxRepeat+1 {
		s.repeats++
		s.keep(kh, key, d.env.RedactKeys)
	}
}

func (s *degreeSketches) keep(kh uint64, key []byte, redact bool) {
	if s.kept == maxExamples {
		return
	}
	for _, e := range s.ex[:s.kept] {
		if e.hash == kh {
			return
		}
	}
	e := &s.ex[s.kept]
	e.hash, e.n = kh, -1
	if !redact && key != nil && len(key) <= rulesKeyBytes {
		e.n = copy(e.key[:], key)
	}
	s.kept++
}

func (s *degreeSketches) reset() {
	s.deg.Reset()
	s.cm.Reset()
	s.keys.Reset()
	s.repeats, s.worst, s.kept = 0, 0, 0
}

// Reset forgets the open batch.
func (d *Degree) Reset() {
	d.noNeighbor, d.judged = 0, false
	d.ex.reset()
	if d.sketching {
		d.sk.reset()
		d.sketching = false
	}
}

// Learn adds the judged batch's degrees to the learned distribution when
// the batch passed.
func (d *Degree) Learn(v Verdict) {
	if !d.judged {
		return
	}
	d.judged = false
	if v.Passes() && d.batch.Count() > 0 {
		d.learned.add(d.batch)
	}
}

// degreeHistory is the learned degree distribution: the batches of the
// current epoch and of the one before, so that it covers the last
// degreeEpoch to 2·degreeEpoch passing batches.
type degreeHistory struct {
	recent, older *sketch.Quantiles
	nRecent       int // batches in recent, < degreeEpoch
	nOlder        int // batches in older: 0 or degreeEpoch
	merged        *sketch.Quantiles
}

func newDegreeHistory() degreeHistory {
	return degreeHistory{recent: newDegreeQuantiles(), older: newDegreeQuantiles(), merged: newDegreeQuantiles()}
}

func (h *degreeHistory) add(q *sketch.Quantiles) {
	_ = h.recent.Merge(q) // same parameters: no error
	h.nRecent++
	if h.nRecent == degreeEpoch {
		h.older, h.recent = h.recent, h.older
		h.recent.Reset()
		h.nOlder, h.nRecent = h.nRecent, 0
	}
}

func (h *degreeHistory) batches() int { return h.nRecent + h.nOlder }

func (h *degreeHistory) reset() {
	h.recent.Reset()
	h.older.Reset()
	h.nRecent, h.nOlder = 0, 0
}

// degreeThreshold is the over_baseline threshold as the history stands.
type degreeThreshold struct {
	threshold float64 // factor × quantile; valid when have
	quantile  float64
	keys      uint64
	batches   int
	have      bool // something is learned
	ready     bool // enough is learned to apply it
}

func (d *Degree) baseline() degreeThreshold {
	h := &d.learned
	if d.factor == 0 || h.batches() == 0 {
		return degreeThreshold{}
	}
	h.merged.Reset()
	_ = h.merged.Merge(h.older) // same parameters: no error
	_ = h.merged.Merge(h.recent)
	b := degreeThreshold{quantile: h.merged.Quantile(d.quantile), keys: h.merged.Count(), batches: h.batches()}
	b.threshold = d.factor * b.quantile
	b.have = !math.IsNaN(b.threshold) && !math.IsInf(b.threshold, 0)
	b.ready = b.have && b.batches >= degreeMinBatches && b.keys >= d.minKeys
	return b
}

// multiple is a degree as a multiple of the learned quantile: what
// over_baseline holds to factor. 0 when nothing is learned.
func (b degreeThreshold) multiple(degree float64) float64 {
	if !b.have || !(b.quantile > 0) {
		return 0
	}
	return max(-math.MaxFloat64, min(degree/b.quantile, math.MaxFloat64))
}

// overKeys counts the keys over one threshold and keeps the largest few.
type overKeys struct {
	n   int
	top [maxExamples]keyVal
	k   int
}

type keyVal struct {
	hash uint64
	val  float64
}

func (o *overKeys) add(hash uint64, val float64) {
	o.n++
	if o.k < len(o.top) {
		o.top[o.k] = keyVal{hash, val}
		o.k++
	} else if val <= o.top[o.k-1].val {
		return
	} else {
		o.top[o.k-1] = keyVal{hash, val}
	}
	for i := o.k - 1; i > 0 && o.top[i].val > o.top[i-1].val; i-- {
		o.top[i], o.top[i-1] = o.top[i-1], o.top[i]
	}
}

// degreeScan is what Judge finds in the batch.
type degreeScan struct {
	keys      float64  // distinct keys (estimated in sketch mode)
	largest   overKeys // every key: the top degrees
	ceiling   overKeys // keys over max_degree
	baseline  overKeys // keys over the learned baseline
	repeating overKeys // keys (pairs, in sketch mode) over max_repeat
	worst     uint32   // the highest multiplicity
}

func (d *Degree) scanExact(s *degreeScan, b degreeThreshold) {
	e := d.ex
	s.keys = float64(len(e.keys))
	for i := range e.keys {
		k := &e.keys[i]
		deg := float64(k.degree)
		d.batch.Add(deg)
		s.largest.add(k.hash, deg)
		if d.maxDegree > 0 && deg > d.maxDegree {
			s.ceiling.add(k.hash, deg)
		}
		if b.have && deg > b.threshold {
			s.baseline.add(k.hash, deg)
		}
		rep := max(k.repeat, 1)
		s.worst = max(s.worst, rep)
		if d.maxRepeat > 0 && rep > d.maxRepeat {
			s.repeating.add(k.hash, float64(rep))
		}
	}
}

// scanSketch reads the candidates of the degree sketch: every key with 8
// or more distinct neighbors (while there are fewer such keys than the
// sketch's capacity). The other keys enter the learned distribution at
// degreeSketchSmall, the most they can have: quantiles that fall among
// the candidates stay right, lower ones are overestimated, which raises
// an over_baseline threshold rather than flagging ordinary keys.
func (d *Degree) scanSketch(s *degreeScan, b degreeThreshold) {
	sk := d.sk
	var candidates float64
	for kh, deg := range sk.deg.All() {
		candidates++
		d.batch.Add(deg)
		s.largest.add(kh, deg)
		if d.maxDegree > 0 && deg > d.maxDegree {
			s.ceiling.add(kh, deg)
		}
		if b.have && deg > b.threshold {
			s.baseline.add(kh, deg)
		}
	}
	s.keys = max(float64(sk.keys.Estimate()), candidates)
	d.batch.AddN(degreeSketchSmall, uint64(s.keys-candidates))
	s.worst = sk.worst
	s.repeating.n = sk.repeats
	for _, e := range sk.ex[:sk.kept] {
		s.repeating.top[s.repeating.k] = keyVal{hash: e.hash}
		s.repeating.k++
	}
}

// Judge gives the batch's findings: one per failed check, in this order:
//
//   - max_repeat: observed the highest multiplicity of a pair, threshold
//     max_repeat;
//   - supernode_share (with max_share): observed the share of keys over
//     max_degree, threshold max_share; max_degree (without): observed the
//     largest degree, threshold max_degree;
//   - over_baseline: observed the largest degree as a multiple of the
//     learned quantile, threshold factor;
//
// or one passing finding on the first of those the detector checks, with
// the batch's numbers in words.
func (d *Degree) Judge(dst []Finding, _ *Batch) []Finding {
	start := len(dst)
	dst = d.judge(dst)
	if d.shadow {
		shadow(dst[start:])
	}
	return dst
}

func (d *Degree) judge(dst []Finding) []Finding {
	d.judged = true
	d.batch.Reset()
	b := d.baseline()
	var s degreeScan
	mode := "exact"
	if d.sketching {
		mode = "sketch"
		d.scanSketch(&s, b)
	} else {
		d.scanExact(&s, b)
	}
	start := len(dst)
	if d.maxRepeat > 0 && d.fails(s.repeating.n, s.keys) {
		dst = append(dst, d.repeatFinding(d.onFail, mode, &s))
	}
	if d.maxDegree > 0 && d.fails(s.ceiling.n, s.keys) {
		dst = append(dst, d.ceilingFinding(mode, &s))
	}
	if s.baseline.n > 0 {
		v, m := d.onFail, mode
		if !b.ready {
			v, m = d.warmup, "warmup"
		}
		f := d.baselineFinding(v, m, &s, b)
		if v != Pass || len(dst) == start {
			dst = append(dst, f)
		}
	}
	if len(dst) == start {
		dst = append(dst, d.passFinding(mode, &s, b))
	}
	return dst
}

// fails reports whether n keys of keys fail the batch: more than max_share
// of them, or any one when max_share is not set.
func (d *Degree) fails(n int, keys float64) bool {
	if d.maxShare == 0 {
		return n > 0
	}
	return n > 0 && float64(n) > d.maxShare*keys
}

func (d *Degree) finding(v Verdict, metric, mode string, observed, threshold float64, top *overKeys) Finding {
	f := Finding{
		Detector: d.name, Type: "degree", Verdict: v, Metric: metric,
		Observed: observed, Threshold: threshold, Mode: mode,
	}
	for _, kv := range top.top[:top.k] {
		f.Examples = append(f.Examples, d.example(kv.hash))
	}
	return f
}

// example names a key: its bytes if the feed shows keys and they were
// kept (for a batch in sketch mode, if the key came before the switch, or
// repeated a connection), else its hash.
func (d *Degree) example(kh uint64) string {
	if !d.env.RedactKeys {
		if ord, ok := d.ex.find(kh); ok {
			if key := d.ex.keyBytes(ord); key != nil {
				return d.env.Example(key, kh)
			}
		}
		if d.sketching {
			for _, e := range d.sk.ex[:d.sk.kept] {
				if e.hash == kh && e.n >= 0 {
					return d.env.Example(e.key[:e.n], kh)
				}
			}
		}
	}
	return KeyHashString(kh)
}

func (d *Degree) repeatFinding(v Verdict, mode string, s *degreeScan) Finding {
	f := d.finding(v, "max_repeat", mode, float64(s.worst), float64(d.maxRepeat), &s.repeating)
	var b strings.Builder
	if mode == "sketch" {
		fmt.Fprintf(&b, "%d connections among about %.0f keys repeat more than %d times", s.repeating.n, s.keys, d.maxRepeat)
	} else {
		fmt.Fprintf(&b, "%d of %.0f keys (%s) repeat a connection more than %d times",
			s.repeating.n, s.keys, rulePercent(float64(s.repeating.n)/s.keys), d.maxRepeat)
	}
	fmt.Fprintf(&b, "; worst %d×%s", s.worst, d.shareLimit())
	f.Message = b.String()
	return f
}

func (d *Degree) ceilingFinding(mode string, s *degreeScan) Finding {
	largest := s.ceiling.top[0].val
	if d.maxShare == 0 {
		f := d.finding(d.onFail, "max_degree", mode, largest, d.maxDegree, &s.ceiling)
		f.Message = fmt.Sprintf("%s over max_degree: more than %.0f distinct %s; largest %.0f",
			d.keysOf(s.ceiling.n, s.keys, true), d.maxDegree, d.neighbor, largest)
		return f
	}
	share := float64(s.ceiling.n) / s.keys
	f := d.finding(d.onFail, "supernode_share", mode, share, d.maxShare, &s.ceiling)
	f.Message = fmt.Sprintf("%s over max_degree: more than %.0f distinct %s; largest %.0f%s",
		d.keysOf(s.ceiling.n, s.keys, true), d.maxDegree, d.neighbor, largest, d.shareLimit())
	return f
}

func (d *Degree) baselineFinding(v Verdict, mode string, s *degreeScan, b degreeThreshold) Finding {
	largest := s.baseline.top[0].val
	f := d.finding(v, "over_baseline", mode, b.multiple(largest), d.factor, &s.baseline)
	msg := fmt.Sprintf("%s over the baseline: more than %s distinct %s (%s); largest %.0f",
		d.keysOf(s.baseline.n, s.keys, false), fmtNum(b.threshold), d.neighbor, d.learnedFrom(b), largest)
	if !b.ready {
		msg = d.warmingUp(b) + "; " + msg
		if v == Pass {
			msg = "would " + d.onFail.String() + " after warm-up: " + msg
		}
	}
	f.Message = msg
	return f
}

func (d *Degree) passFinding(mode string, s *degreeScan, b degreeThreshold) Finding {
	largest := 0.0
	if s.largest.k > 0 {
		largest = s.largest.top[0].val
	}
	var limits []string
	if d.maxDegree > 0 {
		limits = append(limits, "max_degree "+fmtNum(d.maxDegree))
	}
	if b.have {
		limits = append(limits, fmt.Sprintf("baseline %s = %s", fmtNum(b.threshold), d.learnedFrom(b)))
	}
	var msg strings.Builder
	if s.keys == 0 {
		fmt.Fprintf(&msg, "no connections (%d records without %s)", d.noNeighbor, d.neighbor)
	} else {
		fmt.Fprintf(&msg, "%.0f keys; largest degree %.0f", s.keys, largest)
	}
	if len(limits) > 0 {
		fmt.Fprintf(&msg, " (%s)", strings.Join(limits, ", "))
	}
	if d.maxDegree > 0 && s.ceiling.n > 0 {
		fmt.Fprintf(&msg, "; %s over max_degree, within max_share %s", d.keysOf(s.ceiling.n, s.keys, true), rulePercent(d.maxShare))
	}
	if s.keys > 0 {
		fmt.Fprintf(&msg, "; worst repeat %d×", s.worst)
	}
	if d.maxRepeat > 0 {
		if s.repeating.n > 0 {
			fmt.Fprintf(&msg, ", %d keys over max_repeat %d, within max_share %s", s.repeating.n, d.maxRepeat, rulePercent(d.maxShare))
		} else {
			fmt.Fprintf(&msg, " (max_repeat %d)", d.maxRepeat)
		}
	}
	if d.factor > 0 && !b.ready {
		msg.WriteString("; " + d.warmingUp(b))
	}
	// The passing finding reports what the detector's first check would
	// fail on, so that its score means one thing from batch to batch.
	var f Finding
	switch {
	case d.maxDegree > 0 && d.maxShare > 0:
		share := 0.0
		if s.keys > 0 {
			share = float64(s.ceiling.n) / s.keys
		}
		f = d.finding(Pass, "supernode_share", mode, share, d.maxShare, &overKeys{})
	case d.maxDegree > 0:
		f = d.finding(Pass, "max_degree", mode, largest, d.maxDegree, &overKeys{})
	case d.factor > 0:
		f = d.finding(Pass, "over_baseline", mode, b.multiple(largest), d.factor, &overKeys{})
	default:
		f = d.finding(Pass, "max_repeat", mode, float64(s.worst), float64(d.maxRepeat), &overKeys{})
	}
	f.Message = msg.String()
	return f
}

// keysOf says "12 of 1530 keys (0.78%)", or "1 key" / "3 keys" when the
// share does not matter.
func (d *Degree) keysOf(n int, keys float64, share bool) string {
	if !share || d.maxShare == 0 {
		if n == 1 {
			return "1 key"
		}
		return strconv.Itoa(n) + " keys"
	}
	return fmt.Sprintf("%d of %.0f keys (%s)", n, keys, rulePercent(float64(n)/keys))
}

func (d *Degree) shareLimit() string {
	if d.maxShare == 0 {
		return ""
	}
	return "; limit " + rulePercent(d.maxShare) + " of keys"
}

func (d *Degree) quantileName() string {
	return "p" + strconv.FormatFloat(d.quantile*100, 'g', -1, 64)
}

// learnedFrom says what the baseline threshold is made of: "4 × p99.9 10
// of 645647 key degrees over 500 batches".
func (d *Degree) learnedFrom(b degreeThreshold) string {
	return fmt.Sprintf("%s × %s %s of %d key degrees over %d batches", fmtNum(d.factor), d.quantileName(), fmtNum(b.quantile), b.keys, b.batches)
}

func (d *Degree) warmingUp(b degreeThreshold) string {
	return fmt.Sprintf("warming up: the baseline has %d of %d batches and %d of %d keys",
		b.batches, degreeMinBatches, b.keys, d.minKeys)
}

// num formats a threshold or estimate: whole numbers in full, others with
// 4 significant digits.
func fmtNum(x float64) string {
	if x == math.Trunc(x) && math.Abs(x) < 1e15 || math.Abs(x) >= 1000 && math.Abs(x) < 1e15 {
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'g', 4, 64)
}

// degreeFingerprint identifies what the learned distribution counts:
// degrees over another neighbor field do not carry over.
func degreeFingerprint(neighbor string) uint64 {
	return xxhash.Sum64String("degree\x00" + neighbor)
}

var _ Detector = (*Degree)(nil)
