package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/bench"
)

// simProgressEvery is how often a long simulation reports on stderr.
const simProgressEvery = 2 * time.Second

func cmdSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("simulate", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg                        bench.Config
		n, partitions              int
		incidents, brokers         []string
		topic, start               string
		output, truth, incidentLog string
	)
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed: the same seed gives the same feed, byte for byte")
	fs.IntVar(&n, "batches", 24, "number of vendor batches (deliveries) to generate")
	fs.IntVar(&cfg.MeanBatch, "mean-batch", 1000, "mean records per batch over a day")
	fs.IntVar(&cfg.Emails, "emails", 10000, "distinct emails in the vendor's data set")
	fs.IntVar(&cfg.Hubs, "hubs", 0, "shared inboxes, the natural high-degree emails (0: emails/1250, -1: none)")
	fs.StringArrayVar(&incidents, "incident", nil, "inject an incident at `KIND@BATCH[:VALUE[:FIELD]]` (repeatable; see above)")
	fs.StringSliceVar(&brokers, "brokers", nil, "produce the feed to --topic via Kafka seed brokers `HOST:PORT,...`")
	fs.StringVar(&topic, "topic", "vendor-feed", "produce to `TOPIC`; it needs at least --partitions partitions")
	fs.IntVar(&partitions, "partitions", 1, "spread whole batches over partitions 0..N-1 by batch index")
	fs.StringVarP(&output, "output", "o", "", "write record values as JSON lines to `FILE` (- for stdout; the default without --brokers)")
	fs.StringVar(&truth, "truth", "", "write the ground truth (email, profile_id, company) as JSON lines to `FILE`")
	fs.StringVar(&incidentLog, "incident-log", "", "write one JSON line per injected incident to `FILE`")
	fs.StringVar(&start, "start", "2026-01-01T00:00:00Z", "simulated `TIME` of the first batch (RFC3339)")
	fs.DurationVar(&cfg.Step, "step", time.Hour, "simulated time between batches")
	fs.BoolVar(&cfg.Flat, "flat", false, "turn off the daily rhythm in volume")
	fs.Usage = func() {
		fmt.Fprint(stdout, `Usage: sluice simulate [flags]

Simulate generates a sponsor-tracking vendor's feed: JSON profile updates
(email, profile_id, company, title, score, changed_at, ...) keyed by email, in
batches carrying a vendor-batch-id header, with heavy-tailed email degrees,
Poisson batch sizes and a daily rhythm on a simulated clock. It injects the
incidents asked for, logs each one, and writes the ground truth a reference
check needs; the same seed gives the same bytes. The feed goes to Kafka
(--brokers) and/or to JSON lines, the format sluice replay reads.

Incidents, KIND@BATCH[-LAST][:VALUE[:FIELD]], VALUE the factor or share:
  repeat     share of records replaced by 5-fold repeated connections (0.8)
  supernode  one email linked to factor × the batch's max degree profiles (4)
  wrong      share of checkable records with a wrong profile_id/company (0.3)
  spike      volume × factor (3)          drop  volume × factor (0.3)
  nulls      field null in share of records (0.5, company)
  rename     field renamed in share of records (1, email; FIELD>NEW sets both)
  malformed  share of records truncated or not JSON (0.05)
  shift      score mean moved by factor standard errors (4)
e.g. --incident repeat@30 --incident nulls@40:0.2:title --incident spike@50-52

Flags:
`)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return fmt.Errorf("cannot parse flags: %w (see sluice simulate --help)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("cannot use arguments %q: simulate takes flags only", fs.Args())
	}
	if n < 0 || partitions < 1 {
		return fmt.Errorf("cannot simulate %d batches over %d partitions", n, partitions)
	}
	var err error
	if cfg.Start, err = time.Parse(time.RFC3339, start); err != nil {
		return fmt.Errorf("cannot parse --start: %w", err)
	}
	for _, s := range incidents {
		incs, err := bench.ParseIncident(s)
		if err != nil {
			return fmt.Errorf("cannot parse --incident: %w", err)
		}
		cfg.Schedule = append(cfg.Schedule, incs...)
	}
	if output == "" && len(brokers) == 0 {
		output = "-"
	}
	if (output == "-" && truth == "-") || (output == "-" && incidentLog == "-") || (truth == "-" && incidentLog == "-") {
		return errors.New("cannot write two outputs to stdout (the feed goes there without -o or --brokers)")
	}

	sim, err := bench.New(cfg)
	if err != nil {
		return err
	}
	if truth != "" {
		if err := simWriteFile(truth, stdout, sim.WriteTruth); err != nil {
			return err
		}
	}
	out, closeOut, err := simCreate(output, stdout)
	if err != nil {
		return err
	}
	defer closeOut()
	logOut, closeLog, err := simCreate(incidentLog, stdout)
	if err != nil {
		return err
	}
	defer closeLog()

	var cl *kgo.Client
	if len(brokers) > 0 {
		cl, err = kgo.NewClient(kgo.SeedBrokers(brokers...),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.AllowAutoTopicCreation(),
			kgo.UnknownTopicRetries(1)) // a missing topic fails at once, not after 20s
		if err != nil {
			return fmt.Errorf("cannot create Kafka client: %w", err)
		}
		defer cl.Close()
	}

	var records, bytes, injected int
	began, reported := time.Now(), time.Now()
	for i := range n {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cannot finish after %d of %d batches: %w", i, n, err)
		}
		b := sim.Next()
		records += len(b.Records)
		injected += len(b.Incidents)
		for _, r := range b.Records {
			bytes += len(r.Value)
		}
		if cl != nil {
			if err := bench.ProduceBy(ctx, cl, topic, b, bench.ByBatch(int32(partitions))); err != nil {
				return err
			}
		}
		if out != nil {
			if err := b.WriteJSONL(out); err != nil {
				return err
			}
		}
		if logOut != nil && len(b.Incidents) > 0 {
			if err := b.WriteLog(logOut); err != nil {
				return err
			}
		}
		if time.Since(reported) >= simProgressEvery {
			reported = time.Now()
			fmt.Fprintf(stderr, "simulate: batch %d of %d, %d records, %d incidents\n", i+1, n, records, injected)
		}
	}
	if err := closeOut(); err != nil {
		return err
	}
	if err := closeLog(); err != nil {
		return err
	}
	var to []string
	if cl != nil {
		to = append(to, fmt.Sprintf("topic %s", topic))
	}
	if output != "" {
		to = append(to, simName(output))
	}
	fmt.Fprintf(stderr, "simulate: %d batches, %d records (%d bytes), %d incidents, seed %d, to %s in %v\n",
		n, records, bytes, injected, cfg.Seed, strings.Join(to, " and "), time.Since(began).Round(time.Millisecond))
	return nil
}

func simName(path string) string {
	if path == "-" {
		return "stdout"
	}
	return path
}

// simCreate opens path for writing ("-" is stdout; "" is none). close
// flushes and closes once and reports the first error; later calls return
// nil, so it can be deferred and also checked.
func simCreate(path string, stdout io.Writer) (io.Writer, func() error, error) {
	switch path {
	case "":
		return nil, func() error { return nil }, nil
	case "-":
		return stdout, func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot create output: %w", err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	closed := false
	return bw, func() error {
		if closed {
			return nil
		}
		closed = true
		err := bw.Flush()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("cannot write %s: %w", path, err)
		}
		return nil
	}, nil
}

// simWriteFile writes one whole file with fn.
func simWriteFile(path string, stdout io.Writer, fn func(io.Writer) error) error {
	w, closeW, err := simCreate(path, stdout)
	if err != nil {
		return err
	}
	if err := fn(w); err != nil {
		closeW()
		return err
	}
	return closeW()
}
