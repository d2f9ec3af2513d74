package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/detectors"
)

//go:embed report.html.tmpl
var pageText string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"count": func(n int) string { return count(int64(n)) },
}).Parse(pageText))

// maxFlaggedRows is the most flagged batches the table lists.
const maxFlaggedRows = 1000

// view is what the template renders: every value already formatted.
type view struct {
	Feed, Input, File string
	From, To          string
	Summary           Summary
	DivertedShare     string
	FlaggedShare      string
	Strip             template.HTML
	TargetShare       string
	Suggestions       []suggestionView
	YAML              string
	Unsuggested       []metricView
	Metrics           []metricView
	Flagged           []flaggedView
	FlaggedMore       int
}

type suggestionView struct {
	Detector, Type, Key               string
	Metrics                           []metricLink
	Current, Value                    string
	Clean, WouldFlag, Flagged, Caught int
	Estimate, Tighter, Looser         bool
}

type metricLink struct{ Anchor, Metric string }

type metricView struct {
	Anchor, Detector, Type, Metric, OnFail string
	Chart, Hist                            template.HTML
	Stats                                  []stat
	Hits                                   int
	Suggestion                             string
	Why                                    string
	Direction                              string
}

type stat struct{ Label, Value string }

type flaggedView struct {
	N                int
	ID, Verdict      string
	Records          int
	Reasons          []reasonView
	VerdictClassName string
}

type reasonView struct{ Detector, Verdict, Text string }

func (r *Report) view() *view {
	v := &view{Feed: r.feedName, Summary: r.Summary(), TargetShare: pct(TargetShare)}
	if r.file != "" {
		v.File = filepath.Base(r.file)
	}
	if r.feed != nil {
		v.Input = r.feed.Input
	}
	if n := len(r.batches); n > 0 {
		v.From, v.To = stamp(r.batches[0].at), stamp(r.batches[n-1].at)
		v.Strip = r.strip()
	}
	if v.Summary.Records > 0 {
		v.DivertedShare = pct(float64(v.Summary.Diverted) / float64(v.Summary.Records))
	}
	if v.Summary.Batches > 0 {
		v.FlaggedShare = pct(float64(v.Summary.Flagged) / float64(v.Summary.Batches))
	}

	as := r.analyze()
	members := map[*Suggestion][]*analysis{}
	var sugs []*Suggestion
	for _, a := range as {
		m := r.metricView(a)
		v.Metrics = append(v.Metrics, m)
		if a.sug == nil {
			v.Unsuggested = append(v.Unsuggested, m)
			continue
		}
		if members[a.sug] == nil {
			sugs = append(sugs, a.sug)
		}
		members[a.sug] = append(members[a.sug], a)
	}
	for _, g := range sugs {
		sv := suggestionView{
			Detector: g.Detector, Type: g.Type, Key: g.Key,
			Current: exact(g.Current), Value: exact(g.Value),
			Clean: g.Clean, WouldFlag: g.WouldFlag, Flagged: g.Flagged, Caught: g.Caught, Estimate: g.Estimate,
		}
		for _, a := range members[g] {
			sv.Metrics = append(sv.Metrics, metricLink{Anchor: anchor(a.detector, a.metric), Metric: a.metric})
		}
		// Tighter: flags more; looser: flags less.
		if g.Direction == NotAbove {
			sv.Tighter, sv.Looser = g.Value > g.Current, g.Value < g.Current
		} else {
			sv.Tighter, sv.Looser = g.Value < g.Current, g.Value > g.Current
		}
		v.Suggestions = append(v.Suggestions, sv)
	}
	v.YAML = r.yaml(sugs)

	for i := range r.batches {
		b := &r.batches[i]
		if b.verdict == detectors.Pass {
			continue
		}
		if len(v.Flagged) == maxFlaggedRows {
			v.FlaggedMore++
			continue
		}
		f := flaggedView{N: i + 1, ID: b.id, Verdict: b.verdict.String(), Records: b.records, VerdictClassName: verdictClass(b.verdict)}
		for _, rs := range b.reasons {
			text := strings.TrimPrefix(rs.text, rs.detector+": ")
			f.Reasons = append(f.Reasons, reasonView{Detector: rs.detector, Verdict: rs.verdict.String(), Text: text})
		}
		v.Flagged = append(v.Flagged, f)
	}
	return v
}

func (r *Report) metricView(a *analysis) metricView {
	m := metricView{
		Anchor: anchor(a.detector, a.metric), Detector: a.detector, Type: a.typ, Metric: a.metric,
		Hits: a.hits, Why: a.why, Direction: rule(a.dir, a.metric),
	}
	if a.det != nil {
		m.OnFail = a.det.OnFail
	}
	m.Chart = r.seriesChart(a)
	if len(a.clean) > 0 {
		m.Hist = a.histogram()
		n := len(a.clean)
		m.Stats = append(m.Stats, stat{"clean batches", strconv.Itoa(n)})
		m.Stats = append(m.Stats, stat{"median", num(quantile(a.clean, 0.5))})
		if a.dir == NotAbove {
			m.Stats = append(m.Stats, stat{"0.1th percentile", num(quantile(a.clean, TargetShare))})
			m.Stats = append(m.Stats, stat{"lowest", num(a.clean[0])})
		} else {
			m.Stats = append(m.Stats, stat{"99.9th percentile", num(quantile(a.clean, 1-TargetShare))})
			m.Stats = append(m.Stats, stat{"highest", num(a.clean[n-1])})
		}
	}
	if a.fixed {
		m.Stats = append(m.Stats, stat{"threshold now", num(a.threshold)})
	}
	m.Stats = append(m.Stats, stat{"batches it flagged", strconv.Itoa(a.hits)})
	if a.sug != nil {
		m.Suggestion = fmt.Sprintf("%s: %s", a.sug.Key, exact(a.sug.Value))
	}
	return m
}

// yaml is the snippet to paste: each suggested setting in its detector's
// entry, in the order of the config.
func (r *Report) yaml(sugs []*Suggestion) string {
	if r.feed == nil {
		return ""
	}
	var b strings.Builder
	for i := range r.feed.Detectors {
		d := &r.feed.Detectors[i]
		first := true
		for _, g := range sugs {
			if g.Detector != d.Name {
				continue
			}
			if first {
				fmt.Fprintf(&b, "- name: %s  # %s\n", d.Name, d.Type)
				first = false
			}
			value := exact(g.Value)
			if g.Key == "over_baseline.factor" {
				fmt.Fprintf(&b, "  over_baseline: {quantile: %s, factor: %s}", exact(d.OverBaseline.Quantile), value)
			} else {
				fmt.Fprintf(&b, "  %s: %s", g.Key, value)
			}
			fmt.Fprintf(&b, "  # now %s; flags %d of %d clean, %d of %d flagged batches\n",
				exact(g.Current), g.WouldFlag, g.Clean, g.Caught, g.Flagged)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return fmt.Sprintf("# feed %s, under detectors: in each detector's entry\n", r.feedName) + b.String()
}

// rule says in words how a threshold flags a batch.
func rule(d Direction, metric string) string {
	switch d {
	case Magnitude:
		return "flags |" + metric + "| above the threshold"
	case NotAbove:
		return "flags a batch unless the interval's lower bound is above the threshold"
	}
	return "flags " + metric + " above the threshold"
}

// quantile is the q-quantile of sorted values, interpolated.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}

// anchor is an HTML id for a metric.
func anchor(detector, metric string) string {
	var b strings.Builder
	b.WriteString("m-")
	for _, r := range detector + "-" + metric {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// pct formats a share as a percentage: 42%, 4.2%, 0.42%, 0.1%.
func pct(x float64) string {
	p := x * 100
	switch {
	case p == 0:
		return "0%"
	case p >= 10:
		return strconv.FormatFloat(p, 'f', 0, 64) + "%"
	case p >= 1:
		return strings.TrimSuffix(strconv.FormatFloat(p, 'f', 1, 64), ".0") + "%"
	}
	r, _ := roundSig(p, 2)
	return exact(r) + "%"
}

// count formats a whole number with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
