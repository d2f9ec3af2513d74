package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/bench"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/examples"
	"github.com/sluicehq/sluice/gate"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", "demo [flags]",
		"Runs the whole story on this machine: the embedded broker, a simulated sponsor-tracking\n"+
			"vendor feed with scheduled incidents, and the gate with examples/demo.yaml. Prints a line\n"+
			"per batch and a summary that reconciles every record, then exits.", stderr)
	o := defaultDemo()
	fs.Uint64Var(&o.seed, "seed", o.seed, "simulator seed (same seed, same feed)")
	fs.IntVar(&o.batches, "batches", o.batches, "vendor deliveries to send")
	fs.DurationVar(&o.every, "every", o.every, "time between deliveries")
	fs.IntVar(&o.mean, "mean-batch", o.mean, "mean records per delivery")
	incidents := fs.StringSlice("incident", nil, "incident KIND@BATCH[:SHARE] (repeatable; replaces the default schedule)")
	var lf logFlags
	lf.add(fs)
	// The demo's own lines tell the story; the gate's log says only errors.
	fs.Lookup("log-level").DefValue = "error"
	lf.level = "error"
	if err := fs.Parse(args); err != nil {
		return err
	}
	if len(*incidents) > 0 {
		o.schedule = nil
		for _, s := range *incidents {
			incs, err := bench.ParseIncident(s)
			if err != nil {
				return err
			}
			o.schedule = append(o.schedule, incs...)
		}
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	_, err = runDemo(ctx, o, stdout, log)
	return err
}

type demoOptions struct {
	seed       uint64
	batches    int
	every      time.Duration
	mean       int
	partitions int32
	schedule   []bench.Incident
	timeout    time.Duration
}

func defaultDemo() demoOptions {
	return demoOptions{
		seed: 1, batches: 24, every: 1200 * time.Millisecond, mean: 400, partitions: 3, timeout: 90 * time.Second,
		// Delivery i goes to partition i%3; each incident lands where that
		// partition has history enough to judge it.
		schedule: []bench.Incident{
			{Kind: bench.Repeat, Batch: 6},     // report 000: repeated connections on nearly every email
			{Kind: bench.Wrong, Batch: 10},     // 30% of the records carry wrong values
			{Kind: bench.Rename, Batch: 14},    // the vendor renames email to email_address
			{Kind: bench.Spike, Batch: 17},     // three times the usual volume
			{Kind: bench.Malformed, Batch: 21}, // truncated and non-JSON records
		},
	}
}

// demoSummary is what the demo saw, for its closing lines and its test.
type demoSummary struct {
	produced, passed, quarantined, dropped int
	batches                                map[detectors.Verdict]int
	incidents                              []demoIncident
}

type demoIncident struct {
	bench.Injected
	gateBatch string
	verdict   detectors.Verdict
	decided   bool
}

func (s *demoSummary) held() int { return s.produced - s.passed - s.quarantined - s.dropped }

func runDemo(ctx context.Context, o demoOptions, out io.Writer, log *slog.Logger) (*demoSummary, error) {
	broker, err := gate.StartBroker(gate.BrokerConfig{Listen: "127.0.0.1:0", Partitions: int(o.partitions)})
	if err != nil {
		return nil, err
	}
	defer broker.Close()
	sim, err := bench.New(bench.Config{Seed: o.seed, MeanBatch: o.mean, Flat: true, Schedule: o.schedule})
	if err != nil {
		return nil, err
	}
	// The config's reference file is the simulator's ground truth, written
	// beside a copy of the config.
	dir, err := os.MkdirTemp("", "sluice-demo")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := writeFile(filepath.Join(dir, "reference.jsonl"), sim.WriteTruth); err != nil {
		return nil, err
	}
	cfg, err := config.Parse(filepath.Join(dir, "demo.yaml"), examples.Demo)
	if err != nil {
		return nil, fmt.Errorf("cannot load the demo config: %w", err)
	}
	cfg.Brokers = broker.ListenAddrs()
	cfg.Admin.Listen = freeOr(cfg.Admin.Listen)
	feed := &cfg.Feeds[0]
	if err := createInputs(ctx, cfg, o.partitions); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "Sluice demo: embedded broker at %s, admin at http://%s\n", cfg.Brokers[0], cfg.Admin.Listen)
	fmt.Fprintf(out, "A simulated vendor sends %d deliveries of about %d sponsor-tracking records to %s;\n", o.batches, o.mean, feed.Input)
	fmt.Fprintf(out, "the gate judges each delivery (one batch) with the detectors of examples/demo.yaml.\n\n")

	gctx, stopGate := context.WithCancel(ctx)
	defer stopGate()
	gateDone := make(chan error, 1)
	go func() { gateDone <- runGate(gctx, cfg, gate.Options{Logger: log}, nil) }()

	decisions := make(chan *gate.Decision, 64)
	go watchDecisions(gctx, cfg, decisions)

	type sent struct {
		records int
		inj     []bench.Injected
		id      string
	}
	sentCh := make(chan sent, o.batches)
	prodErr := make(chan error, 1)
	go func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			prodErr <- err
			return
		}
		defer cl.Close()
		for i := 0; i < o.batches; i++ {
			b := sim.Next()
			p := int32(i) % o.partitions
			recs := make([]*kgo.Record, len(b.Records))
			for j, r := range b.Records {
				recs[j] = &kgo.Record{Topic: feed.Input, Partition: p, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}
			}
			if err := cl.ProduceSync(gctx, recs...).FirstErr(); err != nil {
				prodErr <- fmt.Errorf("cannot produce delivery %d: %w", i, err)
				return
			}
			id := ""
			if len(recs) > 0 {
				id = gate.BatchID(feed.Name, p, recs[0].Offset)
			}
			sentCh <- sent{records: len(recs), inj: b.Incidents, id: id}
			select {
			case <-gctx.Done():
				prodErr <- gctx.Err()
				return
			case <-time.After(o.every):
			}
		}
		close(sentCh)
		prodErr <- nil
	}()

	s := &demoSummary{batches: map[detectors.Verdict]int{}}
	byBatch := map[string]*gate.Decision{}
	deadline := time.After(o.timeout)
	producing := true
	for producing || s.held() > 0 {
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case err := <-gateDone:
			if err == nil {
				err = errors.New("the gate stopped early")
			}
			return s, err
		case <-deadline:
			fmt.Fprintf(out, "\nstopping after %s with %d records still held\n", o.timeout, s.held())
			producing = false
			goto summary
		case sb, ok := <-sentCh:
			if !ok {
				sentCh = nil
				producing = false
				if err := <-prodErr; err != nil {
					return s, err
				}
				continue
			}
			s.produced += sb.records
			for _, inj := range sb.inj {
				s.incidents = append(s.incidents, demoIncident{Injected: inj, gateBatch: sb.id})
			}
		case d := <-decisions:
			byBatch[d.Batch] = d
			s.batches[d.Verdict]++
			switch d.State {
			case gate.StatePassed:
				s.passed += d.Records - d.Dropped
			default:
				s.quarantined += d.Records - d.Dropped
			}
			s.dropped += d.Dropped
			printDecision(out, d)
			if d.State == gate.StateHalted {
				// An operator would look, then resume; the demo does both.
				fmt.Fprintf(out, "%22s partition %d halted: the demo resumes it, as `sluice resume -c sluice.yaml %s %d` would\n", "", d.Partition, d.Feed, d.Partition)
				go func() {
					time.Sleep(500 * time.Millisecond)
					if _, err := gate.Resume(gctx, cfg, d.Feed, d.Partition, "demo"); err != nil {
						log.Error("cannot resume", "err", err)
					}
				}()
			}
		}
	}
summary:
	for i := range s.incidents {
		if d := byBatch[s.incidents[i].gateBatch]; d != nil {
			s.incidents[i].decided, s.incidents[i].verdict = true, d.Verdict
		}
	}
	printSummary(out, s, cfg)
	stopGate()
	<-gateDone
	return s, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// freeOr keeps addr when it can be bound, else picks a free loopback port.
func freeOr(addr string) string {
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		return addr
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return addr
	}
	defer ln.Close()
	return ln.Addr().String()
}

// watchDecisions follows the decisions topic, as any downstream tool could.
func watchDecisions(ctx context.Context, cfg *config.Config, out chan<- *gate.Decision) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...), kgo.ConsumeTopics(cfg.DecisionsTopic()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return
	}
	defer cl.Close()
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if d, err := gate.ParseDecision(r.Value); err == nil {
				select {
				case out <- d:
				case <-ctx.Done():
				}
			}
		})
	}
}

func printDecision(w io.Writer, d *gate.Decision) {
	verdict := d.Verdict.String()
	if d.Verdict >= detectors.Quarantine {
		verdict = strings.ToUpper(verdict)
	}
	line := fmt.Sprintf("%-22s %6d records  %s", d.Batch, d.Records, verdict)
	if r := d.Reasons(); r != "" {
		line += strings.Repeat(" ", max(0, 10-len(verdict))) + "  " + r
	}
	fmt.Fprintln(w, line)
}

var incidentWords = map[bench.Kind]string{
	bench.Repeat:    "repeated connections on nearly every email (report 000)",
	bench.Supernode: "one new super-node",
	bench.Wrong:     "wrong values against the ground truth",
	bench.Spike:     "volume spike",
	bench.Drop:      "volume drop",
	bench.Nulls:     "null burst",
	bench.Shift:     "score mean shift",
	bench.Rename:    "schema change: a field renamed",
	bench.Malformed: "malformed records",
}

func printSummary(w io.Writer, s *demoSummary, cfg *config.Config) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Summary")
	ok := "reconciles"
	if s.held() != 0 {
		ok = "records still held in open batches"
	}
	fmt.Fprintf(w, "  records in %d = passed %d + quarantined %d + dropped %d + held %d  (%s)\n",
		s.produced, s.passed, s.quarantined, s.dropped, s.held(), ok)
	fmt.Fprintf(w, "  batches: %d pass, %d warn, %d quarantine, %d halt\n",
		s.batches[detectors.Pass], s.batches[detectors.Warn], s.batches[detectors.Quarantine], s.batches[detectors.Halt])
	fmt.Fprintln(w, "  incidents injected by the simulator:")
	sort.Slice(s.incidents, func(i, j int) bool { return s.incidents[i].Batch < s.incidents[j].Batch })
	for _, inc := range s.incidents {
		caught := "MISSED"
		switch {
		case !inc.decided:
			caught = "not decided yet"
		case inc.verdict >= detectors.Quarantine:
			caught = "caught (" + inc.verdict.String() + ")"
		case inc.verdict == detectors.Warn:
			caught = "flagged (warn)"
		}
		fmt.Fprintf(w, "    delivery %-3d %-10s %-58s %-22s %s\n", inc.Batch, inc.Kind, incidentWords[inc.Kind], inc.gateBatch, caught)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Where to look next:")
	fmt.Fprintf(w, "  - run it yourself: sluice run -c examples/demo.yaml (it starts the embedded broker on 127.0.0.1:9092),\n")
	fmt.Fprintf(w, "    then: sluice simulate --brokers 127.0.0.1:9092 --topic %s --partitions 3 --incident wrong@8\n", cfg.Feeds[0].Input)
	fmt.Fprintf(w, "  - metrics: curl http://%s/metrics | grep ^sluice_   (while a gate runs)\n", cfg.Admin.Listen)
	fmt.Fprintf(w, "  - decisions: the compacted topic %s holds one JSON record per batch\n", cfg.DecisionsTopic())
	fmt.Fprintln(w, "  - the README: every detector, setting, command and metric")
}
