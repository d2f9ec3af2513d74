package detectors

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Judge checks the batch's sample against the reference and appends the
// accuracy finding, or a reference_unavailable one (and an accuracy
// failure when the answered part alone proves it).
func (a *Accuracy) Judge(dst []Finding, b *Batch) []Finding {
	n := len(dst)
	dst = a.judge(dst)
	if a.shadow {
		shadow(dst[n:])
	}
	return dst
}

func (a *Accuracy) judge(dst []Finding) []Finding {
	a.judged, a.next = true, a.run
	if a.seen == 0 {
		return append(dst, a.finding(Pass, "accuracy", "empty batch: no record to check"))
	}
	a.samples, a.hashes, a.vals = a.s.samples(a.samples, a.hashes, a.vals)
	err := a.ref.Check(context.Background(), a.samples)
	t := a.tally()
	if err != nil || t.unchecked > 0 {
		if err == nil {
			err = errors.New("reference left samples unchecked")
		}
		return a.unavailable(dst, t, err)
	}
	return a.decide(dst, t)
}

// tally counts the outcomes of the checked sample.
type tally struct {
	correct, wrong, missing, unchecked uint64
	examples                           []string
}

// usable is how many samples the estimate counts.
func (t *tally) usable(skipMissing bool) uint64 {
	if skipMissing {
		return t.correct + t.wrong
	}
	return t.correct + t.wrong + t.missing
}

func (a *Accuracy) tally() tally {
	var t tally
	clear(a.wrongBy)
	for i := range a.samples {
		s := &a.samples[i]
		switch s.Outcome {
		case Correct:
			t.correct++
			continue
		case Wrong:
			t.wrong++
			for f := range a.wrongBy {
				if s.WrongFields&(1<<f) != 0 {
					a.wrongBy[f]++
				}
			}
		case NotInReference:
			t.missing++
			if a.skipMissing {
				continue
			}
		default:
			t.unchecked++
			continue
		}
		if len(t.examples) < maxExamples {
			t.examples = append(t.examples, a.env.Example(a.s.feedKey(i), a.hashes[i]))
		}
	}
	return t
}

// decide judges a fully checked sample. In sequential mode a batch that
// is not decisive on its own is judged on the run's pooled evidence.
func (a *Accuracy) decide(dst []Finding, t tally) []Finding {
	pool := evidence{correct: t.correct, total: t.usable(a.skipMissing), looks: 1}
	conf := a.confidence
	lo, hi := wilson(pool.correct, pool.total, a.z)
	if a.sequential && a.run.looks > 0 && pool.total > 0 && lo <= a.minAccuracy && hi >= a.minAccuracy {
		pool.correct += a.run.correct
		pool.total += a.run.total
		pool.looks += a.run.looks
		conf = lookConfidence(a.confidence, pool.looks)
		lo, hi = wilson(pool.correct, pool.total, zScore(conf))
	}
	if pool.total == 0 {
		f := a.finding(a.undecided(), "accuracy", "inconclusive: "+a.noSample(t))
		f.Examples = t.examples
		return append(dst, f)
	}
	var v Verdict
	var verdict string
	switch {
	case lo > a.minAccuracy:
		v, verdict = Pass, fmt.Sprintf("above %s", level(a.minAccuracy))
		a.next = evidence{}
	case hi < a.minAccuracy:
		v, verdict = a.onFail, fmt.Sprintf("below %s", level(a.minAccuracy))
		a.next = evidence{}
	default:
		v = a.undecided()
		verdict = fmt.Sprintf("inconclusive: the interval straddles %s, more samples needed", level(a.minAccuracy))
		switch {
		case !a.sequential:
		case pool.looks >= maxRun:
			v, a.next = Warn, evidence{}
			verdict = fmt.Sprintf("inconclusive after %d batches: the interval straddles %s; starting over", pool.looks, level(a.minAccuracy))
		default:
			a.next = pool
			verdict += "; evidence carries to the next batch"
		}
	}
	p := float64(pool.correct) / float64(pool.total)
	var msg strings.Builder
	fmt.Fprintf(&msg, "%s of %d sampled records match the reference", pct(p), pool.total)
	if pool.looks > 1 {
		fmt.Fprintf(&msg, " over %d batches", pool.looks)
	}
	fmt.Fprintf(&msg, " (%s interval %s–%s), %s", level(conf), pct(lo), pct(hi), verdict)
	a.describeWrong(&msg, t)
	f := a.finding(v, "accuracy", msg.String())
	f.Observed, f.Interval, f.Samples, f.Confidence = p, []float64{lo, hi}, int(pool.total), conf
	f.Examples = t.examples
	if a.sequential {
		f.Mode = "sequential"
	}
	return append(dst, f)
}

// unavailable reports a reference that could not check the whole sample.
// The batch is not passed; but when the records it did check prove the
// batch bad even if every unchecked one were right, that fails it too.
func (a *Accuracy) unavailable(dst []Finding, t tally, err error) []Finding {
	checked := t.usable(a.skipMissing)
	f := a.finding(a.onMissing, "reference_unavailable",
		fmt.Sprintf("reference unavailable: %d of %d sampled records unchecked: %v", t.unchecked, len(a.samples), err))
	f.Observed, f.Threshold, f.Samples = float64(t.unchecked), 0, len(a.samples)
	dst = append(dst, f)
	if checked == 0 {
		return dst
	}
	lo, hi := wilson(t.correct+t.unchecked, checked+t.unchecked, a.z)
	if hi >= a.minAccuracy {
		return dst
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "at most %s of %d sampled records match the reference even if the %d unchecked do (%s interval %s–%s), below %s",
		pct(float64(t.correct+t.unchecked)/float64(checked+t.unchecked)), checked+t.unchecked, t.unchecked,
		level(a.confidence), pct(lo), pct(hi), level(a.minAccuracy))
	a.describeWrong(&msg, t)
	g := a.finding(a.onFail, "accuracy", msg.String())
	g.Observed = float64(t.correct+t.unchecked) / float64(checked+t.unchecked)
	g.Interval, g.Samples, g.Confidence, g.Examples = []float64{lo, hi}, int(checked+t.unchecked), a.confidence, t.examples
	a.next = evidence{}
	return append(dst, g)
}

// undecided is the verdict of a batch without a decision: warn, or the
// warmup verdict while a sequential run accumulates, if stricter.
func (a *Accuracy) undecided() Verdict {
	if a.sequential {
		return max(Warn, a.warmup)
	}
	return Warn
}

func (a *Accuracy) noSample(t tally) string {
	if t.missing > 0 {
		return fmt.Sprintf("none of the %d sampled records is in the reference (missing: skip)", t.missing)
	}
	return "no record was sampled"
}

// describeWrong adds which field was wrong most often, what was missing
// from the reference, and whether the reference is stale.
func (a *Accuracy) describeWrong(msg *strings.Builder, t tally) {
	if t.wrong > 0 {
		most := slices.Max(a.wrongBy)
		var names []string
		for f, n := range a.wrongBy {
			if n == most {
				names = append(names, a.compare[f])
			}
		}
		if len(names) == 1 {
			fmt.Fprintf(msg, "; wrong field mostly %s (%d of %d wrong records)", names[0], most, t.wrong)
		} else {
			fmt.Fprintf(msg, "; wrong fields mostly %s (each in %d of %d wrong records)", strings.Join(names, ", "), most, t.wrong)
		}
	}
	if t.missing > 0 {
		how := "counted wrong"
		if a.skipMissing {
			how = "skipped"
		}
		fmt.Fprintf(msg, "; %d not in the reference (%s)", t.missing, how)
	}
	if s, ok := a.ref.(Stale); ok {
		if err := s.Stale(); err != nil {
			fmt.Fprintf(msg, "; reference is stale: %v", err)
		}
	}
}

func (a *Accuracy) finding(v Verdict, metric, msg string) Finding {
	return Finding{
		Detector: a.name, Type: "accuracy", Verdict: v, Metric: metric,
		Threshold: a.minAccuracy, Message: msg,
	}
}

// pct formats an estimate as a percentage with one decimal.
func pct(p float64) string { return fmt.Sprintf("%.1f%%", p*100) }

// level formats a configured share (a confidence, a threshold) as a
// percentage without trailing zeros: 99%, 99.5%, 99.83%.
func level(p float64) string { return fmt.Sprintf("%.4g%%", p*100) }
