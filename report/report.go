// Package report renders what `sluice replay` saw as one self-contained HTML
// page: a summary, every detector metric per batch against its threshold,
// the distribution of each score over the clean batches, thresholds
// suggested from those distributions with what they would have flagged, and
// the flagged batches with their reasons. Charts are inline SVG drawn here;
// the page loads nothing.
//
// A Report is built batch by batch with Add and is not safe for concurrent
// use.
package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/gate"
)

// Report collects a replay's batches.
type Report struct {
	feedName string
	feed     *config.Feed // nil when the config has no such feed
	file     string       // the config file, for the page's header
	batches  []batch
	series   []*series
	byKey    map[seriesKey]*series
}

// batch is what the report keeps of one replayed batch.
type batch struct {
	id      string
	topic   string
	records int
	bytes   int64
	dropped int
	verdict detectors.Verdict
	at      time.Time
	reasons []reason
}

type reason struct {
	detector string
	verdict  detectors.Verdict
	text     string
}

// seriesKey names a chart: one detector's metric.
type seriesKey struct{ detector, metric string }

// series is one metric of one detector over the replay.
type series struct {
	detector, typ, metric string
	points                []point
}

// point is one batch's finding for a series.
type point struct {
	batch     int // index into Report.batches
	observed  float64
	threshold float64
	interval  []float64
	verdict   detectors.Verdict // the finding's own
	mode      string
}

// warmup reports whether the detector was still learning its baseline:
// such a finding judges nothing, so its score says nothing about a
// threshold.
func (p *point) warmup() bool { return p.mode == "warmup" }

// New starts a report of feed as cfg configures it. A feed the config does
// not have gives a report without suggestions (Replay itself refuses it).
func New(cfg *config.Config, feed string) *Report {
	r := &Report{feedName: feed, byKey: map[seriesKey]*series{}}
	if cfg != nil {
		r.file = cfg.File
		r.feed = cfg.Feed(feed)
	}
	return r
}

// Add records one replayed batch. It copies what it keeps.
func (r *Report) Add(rb gate.Replayed) {
	d := rb.Decision
	b := batch{id: d.Batch, topic: d.Topic, records: d.Records, bytes: d.Bytes, dropped: d.Dropped, verdict: d.Verdict, at: d.DecidedAt}
	for i := range d.Findings {
		f := &d.Findings[i]
		if f.Verdict != detectors.Pass {
			b.reasons = append(b.reasons, reason{detector: f.Detector, verdict: f.Verdict, text: gate.FindingText(f)})
		}
	}
	idx := len(r.batches)
	r.batches = append(r.batches, b)
	for i := range rb.Findings {
		f := &rb.Findings[i]
		k := seriesKey{f.Detector, f.Metric}
		s := r.byKey[k]
		if s == nil {
			s = &series{detector: f.Detector, typ: f.Type, metric: f.Metric}
			r.byKey[k] = s
			r.series = append(r.series, s)
		}
		p := point{batch: idx, observed: f.Observed, threshold: f.Threshold, verdict: f.Verdict, mode: f.Mode}
		if len(f.Interval) == 2 {
			p.interval = []float64{f.Interval[0], f.Interval[1]}
		}
		s.points = append(s.points, p)
	}
}

// Summary is the replay in totals.
type Summary struct {
	Feed     string
	Batches  int
	Records  int
	Bytes    int64
	Verdicts [4]int // batches by verdict: pass, warn, quarantine, halt
	// Diverted is the records of the batches that would have gone to
	// quarantine (verdict quarantine or halt).
	Diverted int
	// Dropped is the undecodable records dropped (on_decode_error: drop).
	Dropped int
	// Flagged is the batches whose verdict is not pass.
	Flagged int
}

// Summary totals the batches added so far.
func (r *Report) Summary() Summary {
	s := Summary{Feed: r.feedName, Batches: len(r.batches)}
	for i := range r.batches {
		b := &r.batches[i]
		s.Records += b.records
		s.Bytes += b.bytes
		s.Dropped += b.dropped
		if int(b.verdict) < len(s.Verdicts) {
			s.Verdicts[b.verdict]++
		}
		if b.verdict >= detectors.Quarantine {
			s.Diverted += b.records
		}
		if b.verdict != detectors.Pass {
			s.Flagged++
		}
	}
	return s
}

// WriteHTML renders the page.
func (r *Report) WriteHTML(w io.Writer) error {
	if err := page.Execute(w, r.view()); err != nil {
		return fmt.Errorf("cannot render the replay report: %w", err)
	}
	return nil
}

// WriteFile renders the page to path.
func (r *Report) WriteFile(path string) error {
	var buf bytes.Buffer
	if err := r.WriteHTML(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("cannot write the replay report: %w", err)
	}
	return nil
}
