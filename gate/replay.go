package gate

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/reference"
)

// Replayed is one batch as replay judged it.
type Replayed struct {
	Decision *Decision
	// Findings are every detector's findings, passing ones included, so
	// that a report can chart each score against its threshold.
	Findings []detectors.Finding
}

// RecordSource yields the records of a recorded feed in order; io.EOF ends
// it.
type RecordSource func() (*kgo.Record, error)

// Replay judges a recorded feed offline with the same batcher and detectors
// as the gate: the records are one partition of the feed's input, batches
// close on max_records, max_bytes and the boundary header (max_wait is wall
// clock and has no meaning here), and each batch's decision goes to fn. A
// halt is reported and the replay goes on, as if an operator resumed at
// once. The record's timestamp stands in for the decision time, so a replay
// is deterministic.
func Replay(cfg *config.Config, feedName string, partition int32, src RecordSource, logger *slog.Logger, fn func(Replayed) error) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	feed := cfg.Feed(feedName)
	if feed == nil {
		return fmt.Errorf("no feed %q in the config", feedName)
	}
	refOpts := []reference.Option{reference.WithLogger(logger)}
	if len(cfg.Brokers) > 0 {
		kafka, err := KafkaOpts(cfg)
		if err != nil {
			return err
		}
		refOpts = append(refOpts, reference.WithBrokers(cfg.Brokers...), reference.WithKafka(kafka...))
	}
	g := &Gate{cfg: cfg, log: logger, met: newMetrics(prometheus.NewRegistry()), feeds: map[string]*feedRuntime{},
		refs: reference.NewOpener(cfg.Dir(), refOpts...)}
	defer g.refs.Close()
	fr := &feedRuntime{g: g, cfg: feed}
	fr.m = g.met.feed(feed)
	g.feeds[feed.Input] = fr
	p, err := g.newPartition(tp{feed.Input, partition})
	if err != nil {
		return err
	}
	p.offline = true
	emit := func(cs []*closed) error {
		for _, c := range cs {
			if err := fn(Replayed{Decision: &c.dec, Findings: c.findings}); err != nil {
				return err
			}
		}
		return nil
	}
	var batches []*closed
	var offset int64
	var last time.Time
	for {
		r, err := src()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if r.Offset < offset {
			r.Offset = offset
		}
		offset = r.Offset + 1
		r.Topic, r.Partition = feed.Input, partition
		last = r.Timestamp
		batches = p.add(r, r.Timestamp, batches[:0])
		p.countIn()
		// Replay keeps nothing for forwarding.
		for _, c := range batches {
			c.held = held{}
		}
		if err := emit(batches); err != nil {
			return err
		}
	}
	if p.open {
		return emit([]*closed{p.close(last)})
	}
	return nil
}
