package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/sluicehq/sluice/config"
)

// configChecks are what `sluice check` verifies beyond the file itself, once it
// has loaded and validated: a reference file that does not exist, a token
// file that cannot be read. Each gets a valid config and reports problems
// placed with cfg.Errorf, so that they print as FILE:LINE:COL: path:
// message like the rest. None may need a broker. Add deeper checks here
// (from an init func in their own file); `sluice run` should make the same
// ones before it starts.
var configChecks []func(ctx context.Context, cfg *config.Config) config.Errors

// cmdCheck implements `sluice check`: it loads and validates the config
// without touching Kafka. Exit 0 and "FILE: ok (...)" when it is valid;
// otherwise every problem on stderr, one a line, and errReported.
func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("check", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.StringP("config", "c", "sluice.yaml", "config `FILE` to check")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: sluice check [-c FILE]

Check reads a config file, decodes it strictly and validates it, without
connecting to any broker. When the file is valid it prints "FILE: ok" and
exits 0; otherwise it prints every problem, one a line, as
FILE:LINE:COL: path.to.field: message, and exits 1.

Flags:
`)
		fmt.Fprint(stderr, fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return fmt.Errorf("check: %w (see sluice check --help)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("check: unexpected argument %q; name the config with -c FILE", fs.Arg(0))
	}

	cfg, err := config.Load(*file)
	if err == nil {
		var errs config.Errors
		for _, check := range configChecks {
			errs = append(errs, check(ctx, cfg)...)
		}
		errs.Sort()
		err = errs.Err()
	}
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		return errReported
	}
	if err != nil {
		return err // the file cannot be read
	}

	detectors := 0
	for _, f := range cfg.Feeds {
		detectors += len(f.Detectors)
	}
	feeds, dets := "feeds", "detectors"
	if len(cfg.Feeds) == 1 {
		feeds = "feed"
	}
	if detectors == 1 {
		dets = "detector"
	}
	fmt.Fprintf(stdout, "%s: ok (%d %s, %d %s)\n", *file, len(cfg.Feeds), feeds, detectors, dets)
	return nil
}
