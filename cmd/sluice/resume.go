package main

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/sluicehq/sluice/gate"
)

func cmdResume(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("resume", "resume -c sluice.yaml FEED PARTITION",
		"Lifts the halt of a feed partition: the gate that owns it goes on with the records after\n"+
			"the batch that halted it. The halted batch stays in quarantine (release or drop it with\n"+
			"'sluice quarantine'). Works through Kafka, whichever replica owns the partition.", stderr)
	path := fs.StringP("config", "c", "sluice.yaml", "config file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return fmt.Errorf("want FEED PARTITION, got %d arguments", fs.NArg())
	}
	p, err := strconv.ParseInt(fs.Arg(1), 10, 32)
	if err != nil || p < 0 {
		return fmt.Errorf("partition %q is not a non-negative integer", fs.Arg(1))
	}
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	if len(cfg.Brokers) == 0 {
		return fmt.Errorf("%s configures no brokers: point 'brokers' at the cluster the gate runs on", *path)
	}
	batch, err := gate.Resume(ctx, cfg, fs.Arg(0), int32(p), operator())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "resume requested: feed %s partition %d, halted by batch %s\n", fs.Arg(0), p, batch)
	return nil
}

func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "version", "Prints the version.", stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "sluice", gate.Version)
	return nil
}
