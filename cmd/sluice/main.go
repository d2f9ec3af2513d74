// Command sluice is a streaming data-quality gate for Apache Kafka.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
)

// errReported means the command already printed its errors; main exits 1
// without adding anything.
var errReported = errors.New("errors reported")

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"run", "run the gate", cmdRun},
	{"demo", "run the gate on a simulated vendor feed with incidents", cmdDemo},
	{"check", "validate a config file", cmdCheck},
	{"replay", "dry-run a recorded feed through the detectors", cmdReplay},
	{"dev-broker", "run the embedded Kafka-compatible broker", cmdDevBroker},
	{"quarantine", "list, show, release, drop or export held batches", cmdQuarantine},
	{"resume", "lift the halt of a feed partition", cmdResume},
	{"simulate", "generate a vendor feed with incidents", cmdSimulate},
	{"bench", "measure the gate against a bare Kafka passthrough", cmdBench},
	{"version", "print the version", cmdVersion},
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Sluice is a streaming data-quality gate for Apache Kafka: it judges every batch of a vendor's feed")
	fmt.Fprintln(w, "before anyone downstream sees it, and quarantines or halts the batches that look wrong.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: sluice COMMAND [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'sluice COMMAND --help' for a command's flags.")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil, errors.Is(err, pflag.ErrHelp):
			return 0
		case errors.Is(err, errReported):
			return 1
		default:
			fmt.Fprintf(stderr, "sluice %s: %v\n", name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "sluice: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

// newFlags makes a subcommand's flag set with a usage text.
func newFlags(name, synopsis, about string, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sluice %s\n\n%s\n\nFlags:\n%s", synopsis, about, fs.FlagUsages())
	}
	return fs
}
