package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/config"
)

// ErrNotHeld is returned when a batch cannot be released or dropped: it is
// unknown, passed, already released or dropped.
var ErrNotHeld = errors.New("batch is not held in quarantine")

// Release re-publishes a quarantined or halted batch's records from the
// quarantine topic to the output topic (same partition, byte-identical as
// they came in) and records the state change to released, in one
// transaction. Releases and drops share one transactional id per group, so
// two operators racing on the same batch are serialized: the second one
// finds it released and changes nothing.
func Release(ctx context.Context, cfg *config.Config, id, by, reason string, kafkaOpts ...kgo.Opt) (*Decision, error) {
	return changeState(ctx, cfg, id, StateReleased, by, reason, kafkaOpts)
}

// Drop records that a held batch is given up: who, when and why. Nothing is
// deleted from Kafka; its records stay in the quarantine topic.
func Drop(ctx context.Context, cfg *config.Config, id, by, reason string, kafkaOpts ...kgo.Opt) (*Decision, error) {
	return changeState(ctx, cfg, id, StateDropped, by, reason, kafkaOpts)
}

func changeState(ctx context.Context, cfg *config.Config, id, to, by, reason string, kafkaOpts []kgo.Opt) (*Decision, error) {
	feed := feedOf(cfg, id)
	if feed == nil {
		return nil, fmt.Errorf("%w: %s names no feed of this config", ErrNotHeld, id)
	}
	opts, err := clientOptsOf(cfg, kafkaOpts)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.TransactionalID(cfg.Group+".operator"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("cannot create producer: %w", err)
	}
	defer cl.Close()
	// Taking the transactional id fences any other operator using it and
	// finishes its transaction, so the index read next includes it.
	if _, _, err := cl.ProducerID(ctx); err != nil {
		return nil, fmt.Errorf("cannot start operator transaction: %w", err)
	}
	ix, err := ReadIndex(ctx, cfg, kafkaOpts...)
	if err != nil {
		return nil, err
	}
	d := ix.Batches[id]
	switch {
	case d == nil:
		return nil, fmt.Errorf("%w: no quarantined batch %s", ErrNotHeld, id)
	case d.State == StateReleased || d.State == StateDropped:
		msg := fmt.Sprintf("%s was already %s", id, d.State)
		if c := d.Change; c != nil {
			msg += fmt.Sprintf(" by %s at %s", c.By, c.At.Format(time.RFC3339))
		}
		return nil, fmt.Errorf("%w: %s", ErrNotHeld, msg)
	case d.Quarantine == nil && to == StateReleased:
		return nil, fmt.Errorf("cannot release %s: its decision does not say where its records are", id)
	}
	if err := cl.BeginTransaction(); err != nil {
		return nil, fmt.Errorf("cannot begin transaction: %w", err)
	}
	var perr error
	promise := func(_ *kgo.Record, err error) {
		if err != nil && perr == nil {
			perr = err
		}
	}
	if to == StateReleased {
		err = readBatch(ctx, opts, d, -1, func(r *kgo.Record) {
			cl.Produce(ctx, &kgo.Record{Topic: feed.Output, Partition: d.Partition, Key: r.Key, Value: r.Value,
				Headers: originalHeaders(r.Headers), Timestamp: r.Timestamp}, promise)
		})
		if err != nil {
			_ = cl.EndTransaction(ctx, kgo.TryAbort)
			return nil, err
		}
	}
	nd := *d
	nd.State = to
	nd.Change = &Change{By: by, At: time.Now().UTC(), Reason: reason}
	val, _ := json.Marshal(&nd)
	cl.Produce(ctx, &kgo.Record{Topic: ix.topics.decisions, Partition: ix.topics.partitionFor(ix.topics.decisionsParts, id),
		Key: []byte(id), Value: val}, promise)
	if err := cl.Flush(ctx); err != nil && perr == nil {
		perr = err
	}
	if perr != nil {
		_ = cl.EndTransaction(ctx, kgo.TryAbort)
		return nil, fmt.Errorf("cannot write %s: %w", to, perr)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return nil, fmt.Errorf("cannot commit %s: %w", to, err)
	}
	return &nd, nil
}

func feedOf(cfg *config.Config, id string) *config.Feed {
	name, _, _, err := ParseBatchID(id)
	if err != nil {
		return nil
	}
	return cfg.Feed(name)
}

// originalHeaders drops the headers the gate added when it quarantined a
// record.
func originalHeaders(hs []kgo.RecordHeader) []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, 0, len(hs))
	for _, h := range hs {
		switch h.Key {
		case HeaderBatch, HeaderVerdict, HeaderReasons:
			continue
		}
		out = append(out, h)
	}
	return out
}

// BatchRecords reads up to limit records of a held batch from the
// quarantine topic (all of them when limit < 0), as they are there: with
// the sluice-* headers.
func BatchRecords(ctx context.Context, cfg *config.Config, d *Decision, limit int, kafkaOpts ...kgo.Opt) ([]*kgo.Record, error) {
	if d.Quarantine == nil {
		return nil, fmt.Errorf("batch %s has no records in quarantine", d.Batch)
	}
	var out []*kgo.Record
	opts, err := clientOptsOf(cfg, kafkaOpts)
	if err != nil {
		return nil, err
	}
	err = readBatch(ctx, opts, d, limit, func(r *kgo.Record) { out = append(out, r) })
	return out, err
}

// readBatch reads a batch's records from its quarantine range, read_committed,
// keeping those whose sluice-batch header names it.
func readBatch(ctx context.Context, opts []kgo.Opt, d *Decision, limit int, fn func(*kgo.Record)) error {
	loc := d.Quarantine
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{loc.Topic: {loc.Partition: kgo.NewOffset().At(loc.FirstOffset)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		return fmt.Errorf("cannot create reader: %w", err)
	}
	defer cl.Close()
	n := 0
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cannot read batch %s from %s/%d: %w", d.Batch, loc.Topic, loc.Partition, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return fmt.Errorf("cannot read batch %s from %s/%d: %w", d.Batch, loc.Topic, loc.Partition, ferr)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if done || r.Offset > loc.LastOffset {
				done = true
				return
			}
			if string(header(r, HeaderBatch)) == d.Batch {
				fn(r)
				n++
			}
			done = r.Offset == loc.LastOffset || limit >= 0 && n >= limit
		})
		if done {
			if limit < 0 && n != loc.Records {
				return fmt.Errorf("batch %s: read %d records from %s/%d, its decision says %d", d.Batch, n, loc.Topic, loc.Partition, loc.Records)
			}
			return nil
		}
	}
}
