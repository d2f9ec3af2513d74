package gate

import (
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
)

// Version is set at build time (-ldflags "-X .../gate.Version=...").
var Version = "dev"

// metrics are the gate's Prometheus metrics. Labels never carry keys,
// values or offsets. Children used per batch are looked up once per feed.
type metrics struct {
	records         *prometheus.CounterVec
	recordsHeld     *prometheus.GaugeVec
	batches         *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	findings        *prometheus.CounterVec
	score           *prometheus.GaugeVec
	partitionHalted *prometheus.GaugeVec
	accuracy        [3]*prometheus.GaugeVec // estimate, lower, upper
	configReload    prometheus.Gauge
	fetchErrors     prometheus.Counter
	txnAborts       prometheus.Counter
	rereads         prometheus.Counter
	stateWarmups    *prometheus.CounterVec
}

type feedMetrics struct {
	in, passed, quarantined, dropped prometheus.Counter
	held                             prometheus.Gauge
	batches                          [4]prometheus.Counter // by verdict
	duration                         prometheus.Observer
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_records_total",
			Help: "Records by outcome: in (read), passed (committed to the output topic), quarantined (committed to the quarantine topic), dropped (undecodable, on_decode_error: drop).",
		}, []string{"feed", "result"}),
		recordsHeld: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_records_held",
			Help: "Records read but not yet decided (in open batches). in = passed + quarantined + dropped + held.",
		}, []string{"feed"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_batches_total",
			Help: "Batches decided, by verdict.",
		}, []string{"feed", "verdict"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_batch_duration_seconds",
			Help:    "Time from a batch's first record arriving to its transaction committing.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}, []string{"feed"}),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_detector_findings_total",
			Help: "Findings that did not pass, by detector and verdict.",
		}, []string{"feed", "detector", "verdict"}),
		score: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_detector_score",
			Help: "The observed value of each detector's metric on the last batch.",
		}, []string{"feed", "detector"}),
		partitionHalted: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_partition_halted",
			Help: "1 while a partition is halted, waiting for an operator to resume it.",
		}, []string{"feed", "partition"}),
		configReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sluice_config_reload_success",
			Help: "1 when the last config (re)load succeeded, 0 when it failed and the previous config is still running.",
		}),
		fetchErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_fetch_errors_total", Help: "Errors fetching input records.",
		}),
		txnAborts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_transaction_aborts_total", Help: "Transactions aborted; their batches are judged again.",
		}),
		rereads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_rereads_total", Help: "Batches larger than the in-memory cap, re-read from the input topic when forwarded.",
		}),
		stateWarmups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_state_unreadable_total", Help: "Partition or detector states that could not be read and started in warm-up.",
		}, []string{"feed"}),
	}
	for i, n := range []string{"sluice_accuracy_estimate", "sluice_accuracy_estimate_lower", "sluice_accuracy_estimate_upper"} {
		help := [...]string{"The accuracy detector's estimate of the share of correct records on its last batch with samples.",
			"The lower bound of the estimate's interval at the detector's confidence.",
			"The upper bound of the estimate's interval at the detector's confidence."}[i]
		m.accuracy[i] = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: n, Help: help}, []string{"feed", "detector"})
		reg.MustRegister(m.accuracy[i])
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "sluice_build_info", Help: "Build information; always 1.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(Version, runtime.Version()).Set(1)
	m.configReload.Set(1)
	reg.MustRegister(m.records, m.recordsHeld, m.batches, m.duration, m.findings, m.score, m.partitionHalted,
		m.configReload, m.fetchErrors, m.txnAborts, m.rereads, m.stateWarmups, build)
	return m
}

func (m *metrics) feed(f *config.Feed) feedMetrics {
	fm := feedMetrics{
		in:          m.records.WithLabelValues(f.Name, "in"),
		passed:      m.records.WithLabelValues(f.Name, "passed"),
		quarantined: m.records.WithLabelValues(f.Name, "quarantined"),
		dropped:     m.records.WithLabelValues(f.Name, "dropped"),
		held:        m.recordsHeld.WithLabelValues(f.Name),
		duration:    m.duration.WithLabelValues(f.Name),
	}
	for v := detectors.Pass; v <= detectors.Halt; v++ {
		fm.batches[v] = m.batches.WithLabelValues(f.Name, v.String())
	}
	return fm
}

// observeFindings records a batch's findings: a score per detector, and a
// count of those that did not pass.
func (f *feedRuntime) observeFindings(fs []detectors.Finding) {
	m := f.g.met
	seen := map[string]bool{}
	for i := range fs {
		d := &fs[i]
		if !seen[d.Detector] {
			seen[d.Detector] = true
			m.score.WithLabelValues(f.cfg.Name, d.Detector).Set(d.Observed)
		}
		if d.Verdict != detectors.Pass {
			m.findings.WithLabelValues(f.cfg.Name, d.Detector, d.Verdict.String()).Inc()
		}
		if d.Type == "accuracy" && d.Metric == "accuracy" && d.Samples > 0 && len(d.Interval) == 2 {
			for i, v := range []float64{d.Observed, d.Interval[0], d.Interval[1]} {
				m.accuracy[i].WithLabelValues(f.cfg.Name, d.Detector).Set(v)
			}
		}
	}
}

// heldCollector reports the quarantine gauges from the decisions index at
// scrape time, so they are exact: sluice_quarantine_held_batches and
// sluice_quarantine_oldest_age_seconds per feed.
type heldCollector struct {
	g          *Gate
	held, aged *prometheus.Desc
}

func newHeldCollector(g *Gate) *heldCollector {
	return &heldCollector{
		g: g,
		held: prometheus.NewDesc("sluice_quarantine_held_batches",
			"Batches in quarantine (quarantined or halted), neither released nor dropped.", []string{"feed"}, nil),
		aged: prometheus.NewDesc("sluice_quarantine_oldest_age_seconds",
			"Age of the oldest batch held in quarantine; 0 when none is held.", []string{"feed"}, nil),
	}
}

func (c *heldCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.held; ch <- c.aged }

func (c *heldCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	count := map[string]int{}
	oldest := map[string]time.Time{}
	if t := c.g.tailOrNil(); t != nil {
		for _, d := range t.held() {
			count[d.Feed]++
			if o, ok := oldest[d.Feed]; !ok || d.DecidedAt.Before(o) {
				oldest[d.Feed] = d.DecidedAt
			}
		}
	}
	cfg := c.g.current.Load()
	for i := range cfg.Feeds {
		name := cfg.Feeds[i].Name
		age := 0.0
		if o, ok := oldest[name]; ok {
			age = now.Sub(o).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(c.held, prometheus.GaugeValue, float64(count[name]), name)
		ch <- prometheus.MustNewConstMetric(c.aged, prometheus.GaugeValue, age, name)
	}
}
