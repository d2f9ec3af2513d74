package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sluicehq/sluice/gate"
)

func cmdDevBroker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev-broker", "dev-broker [--listen 127.0.0.1:9092] [--data-dir DIR]",
		"Runs the embedded Kafka-compatible broker (franz-go's kfake, speaking the real protocol)\n"+
			"for development and tests. With --data-dir its topics survive a restart. Topics that a\n"+
			"producer writes to are created on first use. Not for production data.", stderr)
	listen := fs.String("listen", "127.0.0.1:9092", "host:port to listen on (port 0 picks a free one)")
	dir := fs.String("data-dir", "", "directory that keeps topics across restarts (default: in memory)")
	parts := fs.Int("partitions", 3, "partitions of automatically created topics")
	var lf logFlags
	lf.add(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	c, err := gate.StartBroker(gate.BrokerConfig{Listen: *listen, DataDir: *dir, Partitions: *parts, Logger: log})
	if err != nil {
		return err
	}
	// The address on stdout lets scripts wait for it.
	fmt.Fprintln(stdout, c.ListenAddrs()[0])
	<-ctx.Done()
	c.Close()
	log.Info("embedded broker stopped")
	return nil
}
