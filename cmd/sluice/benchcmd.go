package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sluicehq/sluice/bench/pipeline"
)

const (
	benchBegin = "<!-- sluice bench: begin -->"
	benchEnd   = "<!-- sluice bench: end -->"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("bench", "bench [flags]",
		"Measures what the gate costs over a bare Kafka pipe, in one run on the embedded broker\n"+
			"and over the same backlog: (a) a franz-go transactional consume-produce passthrough\n"+
			"committing --batch records a transaction, (a') the same committing each poll, and (b)\n"+
			"the gate with the demo config and batches of --batch records, in rounds of a, a', b.\n"+
			"Prints records/s, MB/s, the ratios, CPU per record, and the latency a record gains.", stderr)
	var o pipeline.Options
	fs.IntVar(&o.Records, "records", 1_000_000, "backlog records (rounded up to whole batches in every partition)")
	fs.IntVar(&o.Partitions, "partitions", 4, "partitions")
	fs.IntVar(&o.Batch, "batch", 10_000, "records per transaction and max_records")
	fs.IntVar(&o.Rounds, "rounds", 3, "rounds of a, a', b")
	fs.IntVar(&o.LatencyRate, "latency-rate", 20_000, "records/s produced in the latency phase")
	fs.DurationVar(&o.LatencyFor, "latency-for", 10*time.Second, "length of the latency phase")
	fs.StringVar(&o.ProfileDir, "profile-dir", "", "write CPU profiles of the last round here (passthrough.pprof, passthrough-per-poll.pprof, gate.pprof)")
	readme := fs.String("readme", "", "write the table into this README between the sluice bench markers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.Progress = stderr
	r, err := pipeline.Measure(ctx, o)
	if err != nil {
		return err
	}
	table := r.Table()
	fmt.Fprint(stdout, table)
	if *readme == "" {
		return nil
	}
	b, err := os.ReadFile(*readme)
	if err != nil {
		return err
	}
	i, j := bytes.Index(b, []byte(benchBegin)), bytes.Index(b, []byte(benchEnd))
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s ... %s section", *readme, benchBegin, benchEnd)
	}
	cmdline := "sluice bench " + strings.Join(args, " ")
	section := fmt.Sprintf("%s\nMeasured with `%s` on %s:\n\n%s%s", benchBegin, strings.TrimSpace(cmdline), time.Now().UTC().Format("2006-01-02"), table, benchEnd)
	out := append(append(append([]byte{}, b[:i]...), section...), b[j+len(benchEnd):]...)
	return os.WriteFile(*readme, out, 0o644)
}
