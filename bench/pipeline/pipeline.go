// Package pipeline measures what the gate costs over a bare Kafka pipe: in
// one run, on one broker, over the same backlog, it alternates (a) a bare
// franz-go transactional consume→produce passthrough and (b) the gate with
// the demo config, and reports records/s, MB/s, the ratio b/a, CPU per
// record, and the latency a record gains.
package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/bench"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/examples"
	"github.com/sluicehq/sluice/gate"
)

// Options size a run.
type Options struct {
	Records    int // backlog size; default 200,000
	Partitions int // default 4
	Batch      int // records per transaction (passthrough) and max_records (gate); default 10,000
	Rounds     int // a,b pairs; default 2
	// LatencyRate and LatencyFor drive the latency phase: records/s
	// produced while the gate runs, and for how long.
	LatencyRate int
	LatencyFor  time.Duration
	Progress    io.Writer // nil for quiet
	// ProfileDir, when set, receives CPU profiles of the last round:
	// passthrough.pprof, passthrough-per-poll.pprof and gate.pprof.
	ProfileDir string
}

func (o *Options) fill() {
	if o.Records <= 0 {
		o.Records = 200_000
	}
	if o.Partitions <= 0 {
		o.Partitions = 4
	}
	if o.Batch <= 0 {
		o.Batch = 10_000
	}
	// Whole batches in every partition: a batch of the gate closes on
	// max_records, never on max_wait (which would time the last batches
	// and judge the volume of a batch cut short).
	whole := o.Partitions * o.Batch
	o.Records = (o.Records + whole - 1) / whole * whole
	if o.Rounds <= 0 {
		o.Rounds = 2
	}
	if o.LatencyRate <= 0 {
		o.LatencyRate = 20_000
	}
	if o.LatencyFor <= 0 {
		o.LatencyFor = 5 * time.Second
	}
}

// Run is one measurement.
type Run struct {
	Name          string
	Records       int
	Bytes         int64
	Elapsed       time.Duration
	CPU           time.Duration // this process's user+system time
	RecordsPerSec float64
	MBPerSec      float64
	CPUPerRecord  time.Duration
	PerTxn        float64 // records per transaction, mean (passthroughs)
	Passed        int     // records the gate passed
}

// Result is a whole run: each a, a′ and b, and the gate's latency.
type Result struct {
	Opts        Options
	RecordBytes float64 // mean record value size
	Passthrough []Run   // (a) Batch records per transaction
	PerPoll     []Run   // (a′) one transaction per poll, all it returned
	Gate        []Run
	// Ratio is median gate records/s over median passthrough records/s;
	// RatioPerPoll the same over the per-poll passthrough.
	Ratio, RatioPerPoll float64
	LatencyP50          time.Duration
	LatencyP99          time.Duration
	LatencyN            int
	LatencyMaxRec       int // max_records in the latency phase
}

// Measure runs the benchmark on an in-process kfake broker.
func Measure(ctx context.Context, o Options) (*Result, error) {
	o.fill()
	dir, err := os.MkdirTemp("", "sluice-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// Every run writes a topic of its own, all made here: the broker's
	// segments grow by copying as they fill, and a run appending to what
	// an earlier one left would pay for its copies.
	topics := []string{"bench.in", "bench.live"}
	for round := range o.Rounds {
		topics = append(topics, outTopic("passthrough", round), outTopic("passthrough per poll", round), outTopic("gate", round))
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(o.Partitions), topics...))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	sim, err := bench.New(bench.Config{Seed: 11, Emails: 10 * o.Batch, Flat: true})
	if err != nil {
		return nil, err
	}
	if err := writeTruth(sim, filepath.Join(dir, "reference.jsonl")); err != nil {
		return nil, err
	}
	res := &Result{Opts: o}
	bytes, err := backlog(ctx, brokers, sim, o)
	if err != nil {
		return nil, err
	}
	res.RecordBytes = float64(bytes) / float64(o.Records)
	o.logf("backlog: %d records, %.0f bytes each, %d partitions\n", o.Records, res.RecordBytes, o.Partitions)
	for round := 0; round < o.Rounds; round++ {
		// contend runs one contender over the backlog, profiled when asked.
		contend := func(name string, run func() (Run, error)) (Run, error) {
			stop, err := o.profile(round, name)
			if err != nil {
				return Run{}, err
			}
			r, err := run()
			stop()
			if err != nil {
				return Run{}, fmt.Errorf("%s: %w", name, err)
			}
			r.Bytes = bytes
			r.finish()
			return r, nil
		}
		a, err := contend("passthrough", func() (Run, error) { return passthrough(ctx, brokers, o, round, false) })
		if err != nil {
			return nil, err
		}
		res.Passthrough = append(res.Passthrough, a)
		o.logf("a %d: passthrough %.0f records/s\n", round, a.RecordsPerSec)
		a2, err := contend("passthrough per poll", func() (Run, error) { return passthrough(ctx, brokers, o, round, true) })
		if err != nil {
			return nil, err
		}
		res.PerPoll = append(res.PerPoll, a2)
		o.logf("a′ %d: passthrough per poll %.0f records/s, %.0f records a transaction\n", round, a2.RecordsPerSec, a2.PerTxn)
		b, err := contend("gate", func() (Run, error) { return runGate(ctx, brokers, dir, o, round) })
		if err != nil {
			return nil, err
		}
		res.Gate = append(res.Gate, b)
		o.logf("b %d: gate %.0f records/s\n", round, b.RecordsPerSec)
	}
	rate := func(r Run) float64 { return r.RecordsPerSec }
	res.Ratio = median(res.Gate, rate) / median(res.Passthrough, rate)
	res.RatioPerPoll = median(res.Gate, rate) / median(res.PerPoll, rate)
	if err := latency(ctx, brokers, dir, sim, o, res); err != nil {
		return nil, fmt.Errorf("latency: %w", err)
	}
	return res, nil
}

// logger shows the gate's warnings and errors with the progress.
func (o *Options) logger() *slog.Logger {
	if o.Progress == nil {
		return nil
	}
	return slog.New(slog.NewTextHandler(o.Progress, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func (o *Options) logf(format string, args ...any) {
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, format, args...)
	}
}

// profile starts a CPU profile of the named contender in the last round,
// when profiles are asked for; stop ends it.
func (o *Options) profile(round int, name string) (stop func(), err error) {
	if o.ProfileDir == "" || round != o.Rounds-1 {
		return func() {}, nil
	}
	f, err := os.Create(filepath.Join(o.ProfileDir, strings.ReplaceAll(name, " ", "-")+".pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func (r *Run) finish() {
	s := r.Elapsed.Seconds()
	r.RecordsPerSec = float64(r.Records) / s
	r.MBPerSec = float64(r.Bytes) / s / 1e6
	r.CPUPerRecord = r.CPU / time.Duration(r.Records)
}

// median is the median of one figure of runs.
func median(rs []Run, of func(Run) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = of(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func writeTruth(sim *bench.Sim, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return sim.WriteTruth(f)
}

// backlog produces the records both contenders read.
func backlog(ctx context.Context, brokers []string, sim *bench.Sim, o Options) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var bytes int64
	var failed atomic.Pointer[error]
	n := 0
	for n < o.Records {
		b := sim.Next()
		for _, r := range b.Records {
			if n == o.Records {
				break
			}
			bytes += int64(len(r.Value))
			cl.Produce(ctx, &kgo.Record{Topic: "bench.in", Partition: int32(n % o.Partitions), Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp},
				func(_ *kgo.Record, err error) {
					if err != nil {
						failed.Store(&err)
					}
				})
			n++
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, err
	}
	if e := failed.Load(); e != nil {
		return 0, *e
	}
	return bytes, nil
}

// runID names a contender's round: its group and transactional id, and
// (as bench.<runID>) the topic it writes.
func runID(name string, round int) string {
	return fmt.Sprintf("%s-%d", strings.ReplaceAll(name, " ", "-"), round)
}

func outTopic(name string, round int) string { return "bench." + runID(name, round) }

// passthrough is (a): consume the backlog in a group and produce every
// record unchanged, Batch records per transaction, read_committed. With
// perPoll it is (a′): each poll takes all that the client has fetched, the
// way franz-go's own examples loop, and a transaction ends after the poll
// that brings it to Batch records (most often the first); the gate too
// commits every batch that closed in a round at once.
func passthrough(ctx context.Context, brokers []string, o Options, round int, perPoll bool) (Run, error) {
	name := "passthrough"
	if perPoll {
		name = "passthrough per poll"
	}
	id, out := runID(name, round), outTopic(name, round)
	start, cpu0 := time.Now(), cpuTime()
	sess, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup(id), kgo.ConsumeTopics("bench.in"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.TransactionalID(id), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.BlockRebalanceOnPoll())
	if err != nil {
		return Run{}, err
	}
	defer sess.Close()
	done, txns := 0, 0
	for done < o.Records {
		if err := sess.Begin(); err != nil {
			return Run{}, err
		}
		n := 0
		for n < o.Batch && done+n < o.Records {
			limit := o.Batch - n
			if perPoll {
				limit = 0 // all that is fetched
			}
			fs := sess.PollRecords(ctx, limit)
			if err := ctx.Err(); err != nil {
				return Run{}, err
			}
			fs.EachRecord(func(r *kgo.Record) {
				sess.Produce(ctx, &kgo.Record{Topic: out, Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}, nil)
				n++
			})
		}
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			return Run{}, err
		}
		if committed {
			done += n
			txns++
		}
		sess.AllowRebalance()
	}
	return Run{Name: name, Records: done, Elapsed: time.Since(start), CPU: cpuTime() - cpu0, PerTxn: float64(done) / float64(txns)}, nil
}

// gateConfig is the demo config with every detector, reading input, with
// batches of batch records or wait long.
func gateConfig(brokers []string, dir, group, input, output string, batch int, wait time.Duration) (*config.Config, error) {
	file := filepath.Join(dir, "demo.yaml")
	if err := os.WriteFile(file, examples.Demo, 0o644); err != nil {
		return nil, err
	}
	cfg, err := config.Load(file)
	if err != nil {
		return nil, err
	}
	cfg.Brokers, cfg.Group = brokers, group
	f := &cfg.Feeds[0]
	f.Input, f.Output, f.Quarantine = input, output, output+".quarantine"
	f.Batch.MaxRecords = batch
	f.Batch.BoundaryHeader = ""
	f.Batch.MaxWait = config.Duration(wait)
	return cfg, nil
}

// runGate is (b): the gate over the same backlog.
func runGate(ctx context.Context, brokers []string, dir string, o Options, round int) (Run, error) {
	cfg, err := gateConfig(brokers, dir, runID("gate", round), "bench.in", outTopic("gate", round), o.Batch, time.Second)
	if err != nil {
		return Run{}, err
	}
	start, cpu0 := time.Now(), cpuTime()
	g, err := gate.New(cfg, gate.Options{Logger: o.logger()})
	if err != nil {
		return Run{}, err
	}
	gctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g.Run(gctx) }()
	defer func() { cancel(); <-done }()
	for {
		n, err := decided(g.Registry())
		if err != nil {
			return Run{}, err
		}
		if total := n["passed"] + n["quarantined"] + n["dropped"]; total >= o.Records {
			o.logf("   gate passed %d records, quarantined %d, dropped %d\n", n["passed"], n["quarantined"], n["dropped"])
			return Run{Name: "gate", Records: total, Elapsed: time.Since(start), CPU: cpuTime() - cpu0, Passed: n["passed"]}, nil
		}
		select {
		case err := <-done:
			return Run{}, fmt.Errorf("gate stopped: %v", err)
		case <-ctx.Done():
			return Run{}, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// decided is the records the gate has passed, quarantined and dropped,
// from its own counters.
func decided(reg *prometheus.Registry) (map[string]int, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	n := map[string]int{}
	for _, mf := range mfs {
		if mf.GetName() != "sluice_records_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			n[label(m, "result")] += int(m.GetCounter().GetValue())
		}
	}
	return n, nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// latency produces at a fixed rate while the gate runs and measures, for
// each record, the time from its produce to its being visible to a
// read_committed consumer of the output.
func latency(ctx context.Context, brokers []string, dir string, sim *bench.Sim, o Options, res *Result) error {
	batch := o.LatencyRate / 10 // batches of about 100 ms of traffic
	cfg, err := gateConfig(brokers, dir, "gate-live", "bench.live", "bench.live.out", batch, 100*time.Millisecond)
	if err != nil {
		return err
	}
	res.LatencyMaxRec = batch
	g, err := gate.New(cfg, gate.Options{Logger: o.logger()})
	if err != nil {
		return err
	}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go g.Run(gctx)
	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	defer adm.Close()
	// Wait for the gate's output topic, then read it from the start.
	for {
		tds, err := kadm.NewClient(adm).ListTopics(ctx, "bench.live.out")
		if err == nil && tds.Has("bench.live.out") && tds["bench.live.out"].Err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("bench.live.out", "bench.live.out.quarantine"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(10*time.Millisecond))
	if err != nil {
		return err
	}
	defer cons.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		return err
	}
	defer prod.Close()
	total := int(float64(o.LatencyRate) * o.LatencyFor.Seconds())
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		per := max(1, o.LatencyRate/100)
		sent := 0
		var recs []bench.Record
		for sent < total && gctx.Err() == nil {
			<-tick.C
			for i := 0; i < per && sent < total; i++ {
				if len(recs) == 0 {
					recs = sim.Next().Records
				}
				r := recs[0]
				recs = recs[1:]
				// The timestamp is the produce time: the latency's start.
				prod.Produce(gctx, &kgo.Record{Topic: "bench.live", Partition: int32(sent % o.Partitions), Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: time.Now()}, nil)
				sent++
			}
		}
	}()
	var lat []time.Duration
	deadline := time.Now().Add(o.LatencyFor + 30*time.Second)
	for len(lat) < total && time.Now().Before(deadline) {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		fs := cons.PollFetches(pctx)
		pcancel()
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) { lat = append(lat, now.Sub(r.Timestamp)) })
	}
	if len(lat) == 0 {
		return fmt.Errorf("no record reached the output")
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	res.LatencyN = len(lat)
	res.LatencyP50 = lat[len(lat)/2]
	res.LatencyP99 = lat[len(lat)*99/100]
	return nil
}

// Table renders a result as the README's markdown table.
func (r *Result) Table() string {
	var b []byte
	b = fmt.Appendf(b, "| run | records/s | MB/s | CPU µs/record |\n| --- | ---: | ---: | ---: |\n")
	for i := range r.Passthrough {
		for _, x := range []Run{r.Passthrough[i], r.PerPoll[i], r.Gate[i]} {
			b = fmt.Appendf(b, "| %s %d | %.0f | %.1f | %.2f |\n", x.Name, i+1, x.RecordsPerSec, x.MBPerSec, float64(x.CPUPerRecord.Nanoseconds())/1e3)
		}
	}
	var judged, passed int
	for _, x := range r.Gate {
		judged, passed = judged+x.Records, passed+x.Passed
	}
	b = fmt.Appendf(b, "\n%d records of %.0f bytes over %d partitions. The passthrough commits %d records a transaction; the gate judges batches of %d (max_records) and passed %.1f%% of the records.\n",
		r.Opts.Records, r.RecordBytes, r.Opts.Partitions, r.Opts.Batch, r.Opts.Batch, 100*float64(passed)/float64(judged))
	b = fmt.Appendf(b, "gate/passthrough = **%.2f** (medians); against the passthrough per poll (%.0f records a transaction): %.2f.\n",
		r.Ratio, median(r.PerPoll, func(x Run) float64 { return x.PerTxn }), r.RatioPerPoll)
	b = fmt.Appendf(b, "Latency a record gains through the gate (produce → visible to a read_committed consumer), %d records/s with max_records %d: p50 %s, p99 %s (%d records).\n",
		r.Opts.LatencyRate, r.LatencyMaxRec, r.LatencyP50.Round(time.Millisecond), r.LatencyP99.Round(time.Millisecond), r.LatencyN)
	return string(b)
}
