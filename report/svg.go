package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/detectors"
)

// Chart geometry, in SVG user units; the page scales charts to its width.
const (
	seriesW, seriesH = 760, 240
	histW, histH     = 380, 240
	stripW, stripH   = 1000, 26
	padL, padR       = 60, 16
	padT, padB       = 14, 40
	// maxPoints is the most clean batches drawn one by one; beyond it they
	// are drawn as a band of each pixel column's range.
	maxPoints = 1500
	// maxWhiskers is the most batches whose interval is drawn.
	maxWhiskers = 400
	// histBins is about how many bars a histogram has.
	histBins = 24
)

// svgWriter writes SVG markup; every text it is given is escaped.
type svgWriter struct{ strings.Builder }

func (w *svgWriter) printf(format string, args ...any) { fmt.Fprintf(&w.Builder, format, args...) }

func (w *svgWriter) html() template.HTML { return template.HTML(w.String()) }

// linear maps a domain onto a range.
type linear struct{ d0, d1, r0, r1 float64 }

func (s linear) at(v float64) float64 {
	if s.d1 == s.d0 {
		return (s.r0 + s.r1) / 2
	}
	return s.r0 + (v-s.d0)/(s.d1-s.d0)*(s.r1-s.r0)
}

// clamp maps v, keeping it within the range: a value off the scale (an
// infinite z-score) is drawn at the edge.
func (s linear) clamp(v float64) float64 {
	if math.IsNaN(v) {
		return s.r0
	}
	lo, hi := min(s.r0, s.r1), max(s.r0, s.r1)
	switch {
	case math.IsInf(v, 1) == (s.r1 > s.r0) && math.IsInf(v, 0):
		return hi
	case math.IsInf(v, 0):
		return lo
	}
	return min(max(s.at(v), lo), hi)
}

// c formats a coordinate.
func c(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		return "0"
	}
	return s
}

// niceStep is a round step that cuts span into about n parts.
func niceStep(span float64, n int) float64 {
	if !(span > 0) {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f < 1.5:
		return mag
	case f < 3:
		return 2 * mag
	case f < 7:
		return 5 * mag
	}
	return 10 * mag
}

// axis widens [lo, hi] to round ends and gives the tick step.
func axis(lo, hi float64, n int) (float64, float64, float64) {
	if hi == lo {
		if lo == 0 {
			hi = 1
		} else {
			lo, hi = lo-math.Abs(lo)*0.1, hi+math.Abs(hi)*0.1
		}
	}
	step := niceStep(hi-lo, n)
	return math.Floor(lo/step+1e-9) * step, math.Ceil(hi/step-1e-9) * step, step
}

// decimals is how many decimals show a multiple of step exactly.
func decimals(step float64) int {
	for d := 0; d < 12; d++ {
		m := step * math.Pow(10, float64(d))
		if math.Abs(m-math.Round(m)) < 1e-6*math.Max(1, m) {
			return d
		}
	}
	return 12
}

func tick(v, step float64) string {
	s := strconv.FormatFloat(v, 'f', decimals(step), 64)
	if strings.Trim(s, "-0.") == "" {
		return "0"
	}
	return s
}

// num formats a value for people: whole numbers as they are, others with
// four significant digits.
func num(v float64) string {
	switch {
	case math.IsInf(v, 0) || math.IsNaN(v):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatInt(int64(v), 10)
	}
	d := 3 - int(math.Floor(math.Log10(math.Abs(v))))
	if d > 10 {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	s := strconv.FormatFloat(v, 'f', max(d, 0), 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// exact formats a setting as YAML takes it, without losing a digit.
func exact(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func verdictClass(v detectors.Verdict) string { return "v-" + v.String() }

// yAxis draws the horizontal grid and the value ticks of a chart.
func yAxis(w *svgWriter, y linear, step float64, x0, x1 float64) {
	for i := 0; ; i++ {
		v := y.d0 + float64(i)*step
		if v > y.d1+step*1e-6 {
			break
		}
		py := y.at(v)
		w.printf(`<line class="grid" x1="%s" x2="%s" y1="%s" y2="%s"/>`, c(x0), c(x1), c(py), c(py))
		w.printf(`<text class="tick" x="%s" y="%s" text-anchor="end">%s</text>`, c(x0-6), c(py+3.5), tick(v, step))
	}
}

// seriesChart draws a metric per batch against its threshold.
func (r *Report) seriesChart(a *analysis) template.HTML {
	n := len(r.batches)
	x := linear{-0.5, float64(n) - 0.5, padL, seriesW - padR}
	lo, hi := math.Inf(1), math.Inf(-1)
	see := func(v float64) {
		if !math.IsInf(v, 0) && !math.IsNaN(v) { // drawn at the edge
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	negative := false
	for i := range a.points {
		p := &a.points[i]
		if !a.plotted(p) {
			continue
		}
		see(p.observed)
		negative = negative || p.observed < 0
		if len(p.interval) == 2 && n <= maxWhiskers {
			see(p.interval[0])
			see(p.interval[1])
		}
		see(p.threshold)
	}
	if a.sug != nil {
		see(a.sug.Value)
	}
	mirror := a.dir == Magnitude && negative
	if mirror {
		see(-hi)
		see(-lo)
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if lo >= 0 && lo <= 0.5*hi {
		lo = 0
	}
	d0, d1, step := axis(lo, hi, 5)
	y := linear{d0, d1, seriesH - padB, padT}

	var w svgWriter
	w.printf(`<svg class="chart series" viewBox="0 0 %d %d" role="img" aria-label="%s">`, seriesW, seriesH,
		html.EscapeString(a.detector+" "+a.metric+" per batch"))
	yAxis(&w, y, step, padL, seriesW-padR)
	xAxis(&w, x, n, seriesH-padB)
	w.printf(`<text class="label" x="%d" y="%d" text-anchor="middle">batch, in replay order</text>`, (padL+seriesW-padR)/2, seriesH-6)

	// Batches the detector was still learning on: shaded, not plotted (a
	// warming-up finding may not even be on the scale of the others).
	for _, span := range a.warmups() {
		x0, x1 := x.at(float64(span[0])-0.5), x.at(float64(span[1])+0.5)
		w.printf(`<rect class="warmup" x="%s" y="%s" width="%s" height="%s"><title>warming up: batches #%d–#%d</title></rect>`,
			c(x0), c(padT), c(x1-x0), c(seriesH-padB-padT), span[0]+1, span[1]+1)
		if x1-x0 >= 56 {
			w.printf(`<text class="tick" x="%s" y="%s" text-anchor="middle">warming up</text>`, c((x0+x1)/2), c(padT+12))
		}
	}

	// Thresholds: a line when constant, a step path when learned.
	thr := a.thresholdPath(x, y)
	if thr != "" {
		w.printf(`<path class="threshold" d="%s"><title>threshold</title></path>`, thr)
		if mirror {
			w.printf(`<path class="threshold" d="%s"/>`, a.thresholdPathSigned(x, y, -1))
		}
	}
	if a.sug != nil {
		for _, sign := range []float64{1, -1} {
			if sign < 0 && !mirror {
				break
			}
			py := c(y.at(sign * a.sug.Value))
			w.printf(`<line class="suggested" x1="%s" x2="%s" y1="%s" y2="%s"><title>suggested %s: %s</title></line>`,
				c(padL), c(seriesW-padR), py, py, a.sug.Key, exact(a.sug.Value))
		}
	}

	// Intervals behind the points.
	if n <= maxWhiskers {
		for i := range a.points {
			p := &a.points[i]
			if a.plotted(p) && len(p.interval) == 2 {
				px := c(x.at(float64(p.batch)))
				w.printf(`<line class="ci" x1="%s" x2="%s" y1="%s" y2="%s"/>`, px, px, c(y.clamp(p.interval[0])), c(y.clamp(p.interval[1])))
			}
		}
	}

	// Clean batches: one by one, or as a band of each column's range.
	clean := 0
	for i := range a.points {
		if p := &a.points[i]; a.plotted(p) && r.batches[p.batch].verdict == detectors.Pass {
			clean++
		}
	}
	if clean > maxPoints {
		w.printf(`<path class="band pass" d="%s"/>`, a.band(r, x, y))
	}
	for i := range a.points {
		p := &a.points[i]
		b := &r.batches[p.batch]
		if !a.plotted(p) || (b.verdict == detectors.Pass && clean > maxPoints) {
			continue
		}
		px, py := x.at(float64(p.batch)), y.clamp(p.observed)
		title := html.EscapeString(r.pointTitle(a, p))
		switch {
		case b.verdict == detectors.Pass:
			w.printf(`<circle class="pt pass" cx="%s" cy="%s" r="2.6"><title>%s</title></circle>`, c(px), c(py), title)
		case p.verdict != detectors.Pass:
			// This metric flagged the batch: a diamond in the verdict's colour.
			w.printf(`<a href="#b%d"><path class="pt hit %s" d="M%s %sl5.5 5.5l-5.5 5.5l-5.5-5.5z"><title>%s</title></path></a>`,
				p.batch+1, verdictClass(b.verdict), c(px), c(py-5.5), title)
		default:
			// Another detector flagged it.
			w.printf(`<a href="#b%d"><circle class="pt other %s" cx="%s" cy="%s" r="3.4"><title>%s</title></circle></a>`,
				p.batch+1, verdictClass(b.verdict), c(px), c(py), title)
		}
	}
	w.printf(`</svg>`)
	return w.html()
}

// plotted reports whether a point has a value to draw: a warming-up
// finding and an accuracy finding without a sample have none.
func (a *analysis) plotted(p *point) bool {
	if p.warmup() {
		return false
	}
	if a.dir == NotAbove {
		return len(p.interval) == 2
	}
	return true
}

// warmups are the runs of batches, first and last, on which the detector
// was warming up.
func (a *analysis) warmups() [][2]int {
	var out [][2]int
	for i := range a.points {
		p := &a.points[i]
		if !p.warmup() {
			continue
		}
		if k := len(out) - 1; k >= 0 && out[k][1] == p.batch-1 {
			out[k][1] = p.batch
		} else {
			out = append(out, [2]int{p.batch, p.batch})
		}
	}
	return out
}

// thresholdPath is the threshold over the batches the detector judged.
func (a *analysis) thresholdPath(x, y linear) string { return a.thresholdPathSigned(x, y, 1) }

func (a *analysis) thresholdPathSigned(x, y linear, sign float64) string {
	var b strings.Builder
	pen := false
	last := math.NaN()
	for i := range a.points {
		p := &a.points[i]
		if p.warmup() {
			pen = false
			continue
		}
		x0, x1 := x.at(float64(p.batch)-0.5), x.at(float64(p.batch)+0.5)
		py := c(y.clamp(sign * p.threshold))
		switch {
		case !pen:
			fmt.Fprintf(&b, "M%s %sH%s", c(x0), py, c(x1))
		case same(p.threshold, last):
			fmt.Fprintf(&b, "H%s", c(x1))
		default:
			fmt.Fprintf(&b, "V%sH%s", py, c(x1))
		}
		pen, last = true, p.threshold
	}
	return b.String()
}

// band draws the clean points of a long replay as one vertical segment per
// pixel column, from the lowest value in it to the highest.
func (a *analysis) band(r *Report, x, y linear) string {
	cols := int(x.r1 - x.r0)
	lo := make([]float64, cols)
	hi := make([]float64, cols)
	for i := range lo {
		lo[i], hi[i] = math.Inf(1), math.Inf(-1)
	}
	for i := range a.points {
		p := &a.points[i]
		if !a.plotted(p) || r.batches[p.batch].verdict != detectors.Pass {
			continue
		}
		col := min(max(int(x.at(float64(p.batch))-x.r0), 0), cols-1)
		lo[col], hi[col] = math.Min(lo[col], p.observed), math.Max(hi[col], p.observed)
	}
	var b strings.Builder
	for i := range lo {
		if math.IsInf(lo[i], 1) {
			continue
		}
		y0, y1 := y.clamp(lo[i]), y.clamp(hi[i])
		if y0-y1 < 1.5 {
			y0, y1 = y0+0.75, y1-0.75
		}
		fmt.Fprintf(&b, "M%s %sV%s", c(x.r0+float64(i)+0.5), c(y0), c(y1))
	}
	return b.String()
}

// xAxis draws the batch numbers under a chart.
func xAxis(w *svgWriter, x linear, n int, y0 float64) {
	w.printf(`<line class="axis" x1="%s" x2="%s" y1="%s" y2="%s"/>`, c(x.r0), c(x.r1), c(y0), c(y0))
	if n == 0 {
		return
	}
	step := max(1, int(niceStep(float64(n), 6)))
	for b := 0; b <= n; b += step {
		num := max(b, 1)
		px := c(x.at(float64(num - 1)))
		w.printf(`<line class="axis" x1="%s" x2="%s" y1="%s" y2="%s"/>`, px, px, c(y0), c(y0+4))
		w.printf(`<text class="tick" x="%s" y="%s" text-anchor="middle">%d</text>`, px, c(y0+16), num)
	}
}

func (r *Report) pointTitle(a *analysis, p *point) string {
	b := &r.batches[p.batch]
	var s strings.Builder
	fmt.Fprintf(&s, "batch #%d %s\n%s = %s", p.batch+1, b.id, a.metric, num(p.observed))
	if len(p.interval) == 2 {
		fmt.Fprintf(&s, " (interval %s–%s)", num(p.interval[0]), num(p.interval[1]))
	}
	fmt.Fprintf(&s, ", threshold %s", num(p.threshold))
	fmt.Fprintf(&s, "\nverdict %s", b.verdict)
	if p.verdict != detectors.Pass {
		fmt.Fprintf(&s, " (this metric: %s)", p.verdict)
	} else if b.verdict != detectors.Pass {
		var who []string
		for _, rs := range b.reasons {
			who = append(who, rs.detector)
		}
		fmt.Fprintf(&s, " (by %s)", strings.Join(who, ", "))
	}
	return s.String()
}

// histogram draws the distribution of a metric's score over the clean
// batches, with the current and the suggested threshold.
func (a *analysis) histogram() template.HTML {
	var vals []float64
	for _, v := range a.clean {
		if !math.IsInf(v, 0) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return ""
	}
	lo, hi := vals[0], vals[len(vals)-1]
	var marks []float64
	if a.fixed {
		marks = append(marks, a.threshold)
	}
	if a.sug != nil {
		marks = append(marks, a.sug.Value)
	}
	for _, m := range marks {
		if !math.IsInf(m, 0) {
			lo, hi = math.Min(lo, m), math.Max(hi, m)
		}
	}
	if lo >= 0 && lo <= 0.5*hi {
		lo = 0
	}
	step := niceStep(hi-lo, histBins)
	if hi == lo {
		step = math.Max(math.Abs(lo)/10, 1e-3)
	}
	start := math.Floor(lo/step+1e-9) * step
	if a.set != nil && a.set.Integer {
		// Whole numbers: a bar per value, centred on it.
		step = math.Max(1, math.Round(step))
		start = math.Floor(lo/step)*step - step/2
	}
	bins := int(math.Floor((hi-start)/step+1e-9)) + 1
	counts := make([]int, bins)
	for _, v := range vals {
		counts[min(max(int(math.Floor((v-start)/step+1e-9)), 0), bins-1)]++
	}
	top := 0
	for _, k := range counts {
		top = max(top, k)
	}
	x := linear{start, start + float64(bins)*step, padL, histW - padR}
	_, ytop, ystep := axis(0, float64(top), 4)
	ystep = math.Max(1, math.Round(ystep))
	ytop = math.Ceil(float64(top)/ystep) * ystep
	y := linear{0, ytop, histH - padB, padT}

	var w svgWriter
	w.printf(`<svg class="chart hist" viewBox="0 0 %d %d" role="img" aria-label="%s">`, histW, histH,
		html.EscapeString("distribution of "+a.metric+" over the clean batches"))
	yAxis(&w, y, ystep, padL, histW-padR)
	w.printf(`<line class="axis" x1="%s" x2="%s" y1="%s" y2="%s"/>`, c(x.r0), c(x.r1), c(y.r0), c(y.r0))
	for i, k := range counts {
		if k == 0 {
			continue
		}
		b0, b1 := start+float64(i)*step, start+float64(i+1)*step
		x0, x1 := x.at(b0), x.at(b1)
		w.printf(`<rect class="bar" x="%s" y="%s" width="%s" height="%s"><title>%s to %s: %d clean %s</title></rect>`,
			c(x0+0.5), c(y.at(float64(k))), c(math.Max(x1-x0-1, 1)), c(y.r0-y.at(float64(k))),
			num(b0), num(b1), k, plural(k, "batch", "batches"))
	}
	// Ticks at about five round values of the score.
	_, _, xstep := axis(x.d0, x.d1, 4)
	for v := math.Ceil(x.d0/xstep-1e-9) * xstep; v <= x.d1+xstep*1e-6; v += xstep {
		px := c(x.at(v))
		w.printf(`<line class="axis" x1="%s" x2="%s" y1="%s" y2="%s"/>`, px, px, c(y.r0), c(y.r0+4))
		w.printf(`<text class="tick" x="%s" y="%s" text-anchor="middle">%s</text>`, px, c(y.r0+16), tick(v, xstep))
	}
	w.printf(`<text class="label" x="%d" y="%d" text-anchor="middle">%s</text>`, (padL+histW-padR)/2, histH-6, html.EscapeString(a.scoreLabel()))
	if a.fixed {
		px := c(x.at(a.threshold))
		w.printf(`<line class="threshold" x1="%s" x2="%s" y1="%s" y2="%s"><title>threshold now: %s</title></line>`,
			px, px, c(padT), c(y.r0), exact(a.threshold))
	}
	if a.sug != nil {
		px := c(x.at(a.sug.Value))
		w.printf(`<line class="suggested" x1="%s" x2="%s" y1="%s" y2="%s"><title>suggested %s: %s</title></line>`,
			px, px, c(padT), c(y.r0), a.sug.Key, exact(a.sug.Value))
	}
	w.printf(`</svg>`)
	return w.html()
}

// scoreLabel names what a histogram counts.
func (a *analysis) scoreLabel() string {
	switch a.dir {
	case Magnitude:
		return "|" + a.metric + "| over clean batches"
	case NotAbove:
		return a.metric + ", lower bound of its interval"
	}
	return a.metric + " over clean batches"
}

// strip draws every batch as a cell coloured by its verdict; a long replay
// shows the worst verdict of the batches in each cell.
func (r *Report) strip() template.HTML {
	n := len(r.batches)
	cells := min(n, stripW/2)
	var w svgWriter
	w.printf(`<svg class="strip" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-label="verdict per batch">`, stripW, stripH)
	cw := float64(stripW) / float64(max(cells, 1))
	for i := 0; i < cells; i++ {
		first, last := i*n/cells, (i+1)*n/cells-1
		worst := first
		for j := first; j <= last; j++ {
			if r.batches[j].verdict > r.batches[worst].verdict {
				worst = j
			}
		}
		b := &r.batches[worst]
		var title string
		if first == last {
			title = fmt.Sprintf("batch #%d %s: %s", first+1, b.id, b.verdict)
		} else {
			title = fmt.Sprintf("batches #%d–#%d: worst %s (#%d %s)", first+1, last+1, b.verdict, worst+1, b.id)
		}
		w.printf(`<rect class="cell %s" x="%s" y="0" width="%s" height="%d"><title>%s</title></rect>`,
			verdictClass(b.verdict), c(float64(i)*cw), c(cw+0.4), stripH, html.EscapeString(title))
	}
	w.printf(`</svg>`)
	return w.html()
}
