package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/gate"
)

func init() {
	// The files tls and sasl name must exist and parse: CA and client
	// certificates, the key, a password file that is not empty.
	configChecks = append(configChecks, func(_ context.Context, cfg *config.Config) config.Errors {
		return gate.CheckKafka(cfg)
	})
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("run", "run -c sluice.yaml [flags]",
		"Runs the gate: reads each feed's input topic in the consumer group, judges every batch,\n"+
			"and commits passing batches to the output topic and failing ones to quarantine, in one\n"+
			"transaction per step. With no brokers in the config it starts the embedded broker and\n"+
			"logs where it listens. SIGINT or SIGTERM stop it; open batches are then left for the\n"+
			"next owner to judge, never half-written.", stderr)
	path := fs.StringP("config", "c", "sluice.yaml", "config file")
	embListen := fs.String("embedded-listen", "127.0.0.1:9092", "where the embedded broker listens (only with no brokers configured)")
	embDir := fs.String("embedded-data-dir", "", "directory that keeps the embedded broker's topics across restarts")
	embParts := fs.Int("embedded-partitions", 3, "partitions of input topics the embedded broker creates")
	instance := fs.String("instance-id", "", "this replica's part of the transactional id (default: host-pid-random); a stable one (a pod name) lets a restarted replica fence its predecessor at once")
	txnTimeout := fs.Duration("transaction-timeout", 30*time.Second, "how long a transaction left open by a crashed replica blocks its partitions")
	var lf logFlags
	lf.add(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	// What the watcher holds the file to: read before the config is
	// loaded and the gate started, so that an edit made once the gate runs
	// is never taken for the original. (An edit in between only costs a
	// reload of the same config.)
	orig, _ := os.ReadFile(*path)
	cfg, err := loadConfig(*path, stderr)
	if err != nil {
		return err
	}
	if len(cfg.Brokers) == 0 {
		c, err := gate.StartBroker(gate.BrokerConfig{Listen: *embListen, DataDir: *embDir, Partitions: *embParts})
		if err != nil {
			return err
		}
		defer c.Close()
		cfg.Brokers = c.ListenAddrs()
		log.Info("no brokers configured: started the embedded broker; produce your feed to it", "brokers", cfg.Brokers[0], "data_dir", *embDir)
		if err := createInputs(ctx, cfg, int32(*embParts)); err != nil {
			return err
		}
	}
	opts := gate.Options{Logger: log, InstanceID: *instance, TransactionTimeout: *txnTimeout, SetMemoryLimit: true}
	return runGate(ctx, cfg, opts, func(g *gate.Gate, _ string) {
		go watchConfig(ctx, *path, orig, cfg.Brokers, g, log, 2*time.Second)
	})
}

// watchConfig reloads the config on SIGHUP and when the file changes from
// last, its content when the running config was loaded. A config that does
// not load is logged with its positions and rejected; the gate keeps
// running the last good one.
func watchConfig(ctx context.Context, path string, last []byte, brokers []string, g *gate.Gate, log *slog.Logger, every time.Duration) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Info("SIGHUP: reloading config", "file", path)
		case <-tick.C:
			b, err := os.ReadFile(path)
			if err != nil || bytes.Equal(b, last) {
				continue
			}
			log.Info("config file changed: reloading", "file", path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			g.RejectConfig(fmt.Errorf("cannot read config: %w", err))
			continue
		}
		last = b
		cfg, err := config.Parse(path, b)
		if err != nil {
			g.RejectConfig(err)
			continue
		}
		if errs := gate.CheckDetectors(cfg); len(errs) > 0 {
			g.RejectConfig(errs)
			continue
		}
		if len(cfg.Brokers) == 0 {
			cfg.Brokers = brokers // the embedded broker this process started
		}
		_ = g.Reload(cfg)
	}
}

// runGate runs a gate and its admin server until ctx is done.
func runGate(ctx context.Context, cfg *config.Config, opts gate.Options, ready func(*gate.Gate, string)) error {
	log := opts.Logger
	g, err := gate.New(cfg, opts)
	if err != nil {
		return err
	}
	addr := ""
	if cfg.Admin.Listen != "off" {
		a, err := gate.NewAdmin(g)
		if err != nil {
			return err
		}
		if err := a.Listen(cfg.Admin.Listen); err != nil {
			return err
		}
		addr = a.Addr()
		log.Info("admin listening", "addr", "http://"+addr, "endpoints", "/metrics /healthz /readyz /api")
		go func() {
			if err := a.Serve(ctx); err != nil {
				log.Error("admin server failed", "err", err)
			}
		}()
	}
	if ready != nil {
		ready(g, addr)
	}
	return g.Run(ctx)
}

// loadConfig loads a config, printing every error with its position.
func loadConfig(path string, stderr io.Writer) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		if errs, ok := err.(config.Errors); ok {
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
			}
			return nil, errReported
		}
		return nil, err
	}
	return cfg, nil
}

// createInputs creates the feeds' input topics on the embedded broker, so a
// producer and the gate can start in either order.
func createInputs(ctx context.Context, cfg *config.Config, parts int32) error {
	opts, err := gate.KafkaOpts(cfg)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, f := range cfg.Feeds {
		if _, err := adm.CreateTopic(ctx, parts, -1, nil, f.Input); err != nil {
			return fmt.Errorf("cannot create input topic %s: %w", f.Input, err)
		}
	}
	return nil
}
