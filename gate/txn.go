package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/detectors"
)

// Headers on quarantined records.
const (
	HeaderBatch   = "sluice-batch"
	HeaderVerdict = "sluice-verdict"
	HeaderReasons = "sluice-reasons"
)

// span is the offsets a diverted batch took in the quarantine topic.
type span struct {
	mu          sync.Mutex
	first, last int64
	n           int
}

func (s *span) add(o int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.first < 0 || o < s.first {
		s.first = o
	}
	s.last = max(s.last, o)
	s.n++
}

func (s *span) location(topic string, part int32) *Location {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == 0 {
		return nil
	}
	return &Location{Topic: topic, Partition: part, FirstOffset: s.first, LastOffset: s.last, Records: s.n}
}

// errSession means the transactional session is unusable (a fatal
// producer error, a fenced producer): the loop starts a new one.
var errSession = errors.New("transactional session failed")

// errCrash stops the gate where a test says a crash happens.
var errCrash = errors.New("crash")

// A transaction writes closed batches: each batch's records to the output
// or quarantine topic, its decision, its partition's state, and the
// consumer offsets just past it. Either all of it commits or none of it
// does; the caller then calls committed. The loop begins it, sends the
// records while it polls (the client allows polling inside a transaction,
// not during Begin or End), and ends it while it observes what it polled.
// Sending and ending read nothing of the batches' partitions that take
// may change meanwhile.
type txn struct {
	batches []*closed
	offsets map[string]map[int32]int64

	mu  sync.Mutex
	err error // the first produce error
}

func (t *txn) promise(_ *kgo.Record, err error) {
	if err != nil {
		t.mu.Lock()
		if t.err == nil {
			t.err = err
		}
		t.mu.Unlock()
	}
}

// begin begins a transaction for batches.
func (g *Gate) begin(batches []*closed) (*txn, error) {
	if err := g.sess.Begin(); err != nil {
		return nil, fmt.Errorf("%w: cannot begin transaction: %w", errSession, err)
	}
	return &txn{batches: batches, offsets: map[string]map[int32]int64{}}, nil
}

// send produces the batches' records and waits until they are written.
func (g *Gate) send(ctx context.Context, t *txn) {
	defer func() {
		if err := g.sess.Client().Flush(ctx); err != nil {
			t.promise(nil, err)
		}
	}()
	for _, b := range t.batches {
		if err := g.produceRecords(ctx, b, t.promise); err != nil {
			t.promise(nil, err)
			break
		}
		if t.offsets[b.p.topic] == nil {
			t.offsets[b.p.topic] = map[int32]int64{}
		}
		t.offsets[b.p.topic][b.p.id] = b.dec.LastOffset + 1
	}
}

// end writes the decisions and states once the records are written, and
// ends the transaction: a commit, or an abort if anything failed.
func (g *Gate) end(ctx context.Context, t *txn) error {
	batches, offsets, promise := t.batches, t.offsets, t.promise
	// The records are written (send flushed): a diverted batch's decision
	// can say where its records sit in the quarantine topic, so release
	// and export read just that range.
	for _, b := range batches {
		if b.span != nil {
			b.dec.Quarantine = b.span.location(b.cfg.Quarantine, b.p.id)
		}
		if err := g.produceDecision(ctx, b, promise); err != nil {
			promise(nil, err)
		}
	}
	if err := g.sess.Client().Flush(ctx); err != nil {
		promise(nil, err)
	}
	t.mu.Lock()
	produceErr := t.err
	t.mu.Unlock()

	try := kgo.TryCommit
	if produceErr != nil {
		try = kgo.TryAbort
	}
	// The session would commit the offsets of everything polled; a batch
	// is only committed up to its last record, so the request is rewritten
	// to carry exactly the offsets of the batches in this transaction.
	ectx := kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		req.Topics = req.Topics[:0]
		for topic, ps := range offsets {
			rt := kmsg.NewTxnOffsetCommitRequestTopic()
			rt.Topic = topic
			for p, o := range ps {
				rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
				rp.Partition = p
				rp.Offset = o
				rp.LeaderEpoch = -1
				rp.Metadata = &req.MemberID
				rt.Partitions = append(rt.Partitions, rp)
			}
			req.Topics = append(req.Topics, rt)
		}
		return nil
	})
	if g.opts.beforeEnd != nil {
		if err := g.opts.beforeEnd(); err != nil {
			return fmt.Errorf("%w: %w", errCrash, err)
		}
	}
	committed, err := g.sess.End(ectx, try)
	switch {
	case produceErr != nil && err != nil:
		return fmt.Errorf("cannot produce: %w; and cannot abort: %w", produceErr, err)
	case produceErr != nil:
		return fmt.Errorf("cannot produce: %w", produceErr)
	case err != nil:
		return fmt.Errorf("cannot commit transaction: %w", err)
	case !committed:
		return errors.New("transaction was not committed (the group rebalanced, the session was fenced, or the broker could not confirm the commit)")
	}
	return nil
}

// produceRecords produces one batch's records to the output or the
// quarantine topic.
func (g *Gate) produceRecords(ctx context.Context, b *closed, promise func(*kgo.Record, error)) error {
	p, f := b.p, b.cfg
	forward := b.dec.State == StatePassed
	target := f.Quarantine
	if forward {
		target = f.Output
	}
	var extra []kgo.RecordHeader
	all := promise
	promise = func(r *kgo.Record, err error) {
		if tooLarge(err) {
			b.tooLarge.Store(true)
		}
		all(r, err)
	}
	if !forward {
		b.span = &span{first: -1}
		inner := promise
		promise = func(r *kgo.Record, err error) {
			if err == nil {
				b.span.add(r.Offset)
			}
			inner(r, err)
		}
		extra = []kgo.RecordHeader{
			{Key: HeaderBatch, Value: []byte(b.dec.Batch)},
			{Key: HeaderVerdict, Value: []byte(b.dec.Verdict.String())},
			{Key: HeaderReasons, Value: []byte(b.dec.Reasons())},
		}
	}
	produce := func(out *kgo.Record) {
		if drop := b.drop; len(drop) > 0 && drop[0] == out.Offset {
			b.drop = drop[1:]
			return
		}
		// Key, value, headers and timestamp stay byte-identical.
		out.Topic, out.Partition, out.Offset = target, p.id, 0
		g.sess.Produce(ctx, out, promise)
	}
	// The held records come as records for the client from held's own
	// slabs; a re-read record takes one of its own.
	b.held.each(extra, produce)
	fromInput := func(r *kgo.Record) {
		out := &kgo.Record{Key: r.Key, Value: r.Value, Headers: r.Headers, Offset: r.Offset, Timestamp: r.Timestamp}
		if extra != nil {
			out.Headers = append(slices.Clip(r.Headers), extra...)
		}
		produce(out)
	}
	if b.spilled {
		from := b.dec.FirstOffset
		if b.held.len() > 0 {
			from = b.held.lastOffset() + 1
		}
		if err := g.reread(ctx, p.topic, p.id, from, b.dec.LastOffset, fromInput); err != nil {
			return err
		}
	}
	return nil
}

// produceDecision produces a batch's decision record and its partition's
// state.
func (g *Gate) produceDecision(ctx context.Context, b *closed, promise func(*kgo.Record, error)) error {
	f, p := b.cfg, b.p
	val, err := json.Marshal(&b.dec)
	if err != nil {
		return fmt.Errorf("cannot encode decision: %w", err)
	}
	g.sess.Produce(ctx, &kgo.Record{
		Topic: g.topics.decisions, Partition: g.topics.partitionFor(g.topics.decisionsParts, b.dec.Batch),
		Key: []byte(b.dec.Batch), Value: val,
	}, promise)
	key := stateKey(f.Name, p.id)
	g.sess.Produce(ctx, &kgo.Record{
		Topic: g.topics.state, Partition: g.topics.partitionFor(g.topics.stateParts, key),
		Key: []byte(key), Value: b.state,
	}, promise)
	return nil
}

// reread reads [from, to] of an input partition again, for the records of a
// batch that did not fit in memory. The input topic is the staging area.
func (g *Gate) reread(ctx context.Context, topic string, part int32, from, to int64, fn func(*kgo.Record)) error {
	cl, err := kgo.NewClient(g.clientOpts(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		return fmt.Errorf("cannot re-read %s/%d: %w", topic, part, err)
	}
	defer cl.Close()
	g.met.rereads.Inc()
	for {
		fs := cl.PollRecords(ctx, 10000)
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return fmt.Errorf("cannot re-read %s/%d from %d: %w", topic, part, from, ferr)
		}
		done := false
		fs.EachRecord(func(r *kgo.Record) {
			if done || r.Offset > to {
				done = true
				return
			}
			fn(r)
			if r.Offset == to {
				done = true
			}
		})
		if done {
			return nil
		}
	}
}

// committed updates the in-memory view once a transaction has committed:
// metrics, the partitions' rollback points, and halts.
func (g *Gate) committed(batches []*closed) {
	now := time.Now()
	for _, b := range batches {
		p := b.p
		p.committedState = b.state
		m := &p.feed.m
		m.batches[b.dec.Verdict].Inc()
		m.duration.Observe(now.Sub(b.arrived).Seconds())
		n := float64(b.dec.Records - b.dec.Dropped)
		switch b.dec.State {
		case StatePassed:
			m.passed.Add(n)
		default:
			m.quarantined.Add(n)
		}
		m.dropped.Add(float64(b.dec.Dropped))
		if b.dec.State == StateHalted {
			g.sess.Client().PauseFetchPartitions(map[string][]int32{p.topic: {p.id}})
			g.setHaltedGauge(p)
			g.log.Warn("partition halted", "feed", p.cfg.Name, "partition", p.id, "batch", b.dec.Batch, "reasons", b.dec.Reasons())
		}
		if b.dec.Verdict != detectors.Pass {
			g.log.Info("batch diverted or flagged", "batch", b.dec.Batch, "reasons", b.dec.Reasons(), "verdict", b.dec.Verdict.String(), "state", b.dec.State, "records", b.dec.Records)
		}
	}
}

func stateKey(feed string, part int32) string { return feed + ":" + itoa(part) }
