package gate

import (
	"bytes"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/sluicehq/sluice/config"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/detectors"
)

// partition is one assigned input partition: its open batch, its detectors
// and where its committed position stands. Only the gate's loop touches it.
type partition struct {
	feed *feedRuntime
	// cfg is the feed's config this partition runs with; a reload swaps
	// it at a batch boundary.
	cfg *config.Feed
	// pending is a reloaded config waiting for the open batch to close.
	pending *config.Feed
	topic   string
	id      int32
	j       *judge

	// next is the offset the consumer group has committed (or will, once
	// the pending transaction commits): the first offset not yet decided.
	// -1 until the first record is seen.
	next int64
	// seen is one past the highest offset counted as read, so that records
	// re-read after an abort are not counted twice.
	seen int64

	// The open batch.
	open       bool
	first      int64
	last       int64
	count      int
	bytes      int64
	boundary   []byte
	arrived    time.Time // wall clock of the first record: max_wait counts from here
	ts         time.Time // the first record's timestamp
	held       held
	heldBytes  int64
	spilled    bool // records past held are re-read from the input when forwarded
	decodeErrs int
	decodeEx   []string
	drop       []int64 // offsets of undecodable records, with on_decode_error: drop
	unreported int     // rows read and not yet counted in sluice_records_total{result="in"}

	halted      bool
	haltedAt    int64
	haltedBatch string
	// stuck is set when a record of the partition is larger than its
	// output or quarantine topic accepts: nothing of it is read until
	// the topics' limit is raised (not state: a new owner finds out again).
	stuck bool

	// committedState is the encoded state of the last committed batch, to
	// roll the detectors back when a transaction aborts.
	committedState []byte
	// offline is set by replay: a halt is reported, and reading goes on
	// as if an operator resumed at once.
	offline bool
}

// closed is a judged batch waiting for its transaction.
type closed struct {
	p        *partition
	cfg      *config.Feed // the partition's when it closed: a reload may change p.cfg
	drop     []int64      // offsets not to forward (undecodable, on_decode_error: drop)
	dec      Decision
	held     held
	spilled  bool
	findings []detectors.Finding // all of them, passing ones included
	state    []byte              // the partition's state after this batch
	span     *span               // where a diverted batch's records went
	arrived  time.Time           // when its first record arrived
	tooLarge atomic.Bool         // a record was too large for its topic
}

// add puts a record into the open batch, closing the batch first when the
// record's boundary header differs, and after it when a size limit is hit.
// It returns batches that closed.
func (p *partition) add(r *kgo.Record, now time.Time, out []*closed) []*closed {
	b := &p.cfg.Batch
	if p.open && b.BoundaryHeader != "" {
		if v := header(r, b.BoundaryHeader); !bytes.Equal(v, p.boundary) {
			out = append(out, p.close(now))
			if p.halted && !p.cfg.Shadow {
				// Nothing after a halting batch is read until resumed.
				return out
			}
		}
	}
	if !p.open {
		p.open = true
		p.first = r.Offset
		p.arrived = now
		p.ts = r.Timestamp
		if b.BoundaryHeader != "" {
			p.boundary = append(p.boundary[:0], header(r, b.BoundaryHeader)...)
		}
	}
	p.last = r.Offset
	p.bytes += int64(len(r.Value))
	// Once a record did not fit, the rest of the batch is re-read too.
	if !p.spilled {
		if c := heldCost(r); p.heldBytes+c <= int64(b.MaxMemory) {
			p.held.add(r)
			p.heldBytes += c
		} else {
			p.spilled = true
		}
	}
	rows, ok := p.j.observe(r.Key, r.Value)
	// Counts are rows: one per JSON or raw record, many per Arrow record;
	// an undecodable record counts as one.
	p.count += max(rows, 1)
	if r.Offset >= p.seen {
		// Counted once, however often an abort makes it re-read.
		p.seen = r.Offset + 1
		p.unreported += max(rows, 1)
	}
	if !ok {
		if p.cfg.OnDecodeError == "drop" {
			p.drop = append(p.drop, r.Offset)
		}
		p.decodeErrs++
		if len(p.decodeEx) < 3 {
			p.decodeEx = append(p.decodeEx, detectors.KeyHashString(xxhash.Sum64(r.Key)))
		}
	}
	if p.count >= b.MaxRecords || p.bytes >= int64(b.MaxBytes) {
		out = append(out, p.close(now))
	}
	return out
}

// countIn adds the rows read since the last call to the records counter:
// once a poll, not once a record, since partitions taken in parallel would
// contend for it.
func (p *partition) countIn() {
	if p.unreported > 0 {
		p.feed.m.in.Add(float64(p.unreported))
		p.unreported = 0
	}
}

// due reports whether the open batch has waited max_wait.
func (p *partition) due(now time.Time) bool {
	return p.open && now.Sub(p.arrived) >= time.Duration(p.cfg.Batch.MaxWait)
}

// deadline is when the open batch will be due.
func (p *partition) deadline() time.Time {
	return p.arrived.Add(time.Duration(p.cfg.Batch.MaxWait))
}

// close judges the open batch and readies the partition for the next one.
func (p *partition) close(now time.Time) *closed {
	f := p.feed
	db := detectors.Batch{
		ID: BatchID(p.cfg.Name, p.id, p.first), Feed: p.cfg.Name, Partition: p.id,
		FirstOffset: p.first, Records: p.count, Bytes: p.bytes, Time: p.ts,
	}
	findings, verdict := p.j.judgeBatch(&db, p.decodeErrs, p.decodeEx)
	recorded := verdict
	if p.cfg.Shadow {
		verdict = detectors.Pass
	}
	c := &closed{p: p, cfg: p.cfg, held: p.held, drop: p.drop, spilled: p.spilled, arrived: p.arrived, findings: findings}
	c.dec = Decision{
		Batch: db.ID, Feed: p.cfg.Name, Topic: p.topic, Partition: p.id,
		FirstOffset: p.first, LastOffset: p.last, Records: p.count, Bytes: p.bytes,
		Verdict: recorded, State: stateFor(verdict), DecidedAt: now.UTC(),
		Findings: failing(findings), Shadow: p.cfg.Shadow && recorded != verdict,
	}
	if p.cfg.OnDecodeError == "drop" {
		c.dec.Dropped = p.decodeErrs
	}
	f.observeFindings(findings)
	p.j.learn(verdict)
	if verdict == detectors.Halt && !p.offline {
		p.halted = true
		p.haltedAt = now.UnixMilli()
		p.haltedBatch = db.ID
	}
	c.state = p.appendState(nil)
	p.next = p.last + 1
	p.open = false
	p.count, p.bytes, p.heldBytes, p.decodeErrs = 0, 0, 0, 0
	p.held, p.drop = held{}, nil // the closed batch owns them now
	p.spilled = false
	p.decodeEx = nil
	if p.pending != nil {
		p.switchConfig()
	}
	return c
}

// abandon forgets the open batch without judging it (a revoke, an abort, a
// halt): its records will be read again.
func (p *partition) abandon() {
	p.open = false
	p.count, p.bytes, p.heldBytes, p.decodeErrs = 0, 0, 0, 0
	p.held.reset()
	p.drop = p.drop[:0]
	p.spilled = false
	p.decodeEx = nil
	p.j.reset()
}

func stateFor(v detectors.Verdict) string {
	switch v {
	case detectors.Quarantine:
		return StateQuarantined
	case detectors.Halt:
		return StateHalted
	}
	return StatePassed
}

func failing(fs []detectors.Finding) []detectors.Finding {
	out := []detectors.Finding{}
	for _, f := range fs {
		if f.Verdict != detectors.Pass {
			out = append(out, f)
		}
	}
	return out
}

func header(r *kgo.Record, name string) []byte {
	for i := range r.Headers {
		if r.Headers[i].Key == name {
			return r.Headers[i].Value
		}
	}
	return nil
}

// appendState encodes the partition's halt and its detectors' state.
func (p *partition) appendState(dst []byte) []byte {
	s := partitionState{Halted: p.halted, HaltedAt: p.haltedAt, HaltedBatch: p.haltedBatch}
	for i, d := range p.j.dets {
		st, err := d.AppendState(nil)
		if err != nil {
			p.feed.g.log.Error("cannot save detector state", "feed", p.cfg.Name, "partition", p.id, "detector", d.Name(), "err", err)
			st = nil
		}
		s.Detectors = append(s.Detectors, detectorState{Name: p.cfg.Detectors[i].Name, Type: d.Type(), State: st})
	}
	return appendState(dst, &s)
}

// restore loads a state record into the partition. A record that cannot be
// read, or a detector whose state cannot be read, starts in warm-up; it
// never stops the gate.
func (p *partition) restore(b []byte) {
	if b == nil {
		return
	}
	s, err := parseState(b)
	if err != nil {
		p.feed.g.log.Warn("partition state unreadable; starting in warm-up", "feed", p.cfg.Name, "partition", p.id, "err", err)
		p.feed.g.met.stateWarmups.WithLabelValues(p.cfg.Name).Inc()
		return
	}
	p.halted, p.haltedAt, p.haltedBatch = s.Halted, s.HaltedAt, s.HaltedBatch
	for i, d := range p.j.dets {
		name := p.cfg.Detectors[i].Name
		for _, ds := range s.Detectors {
			if ds.Name != name || ds.Type != d.Type() {
				continue
			}
			// A detector that rejects its state is left fresh (the
			// Detector contract), so it simply warms up again.
			if err := d.UnmarshalState(ds.State); err != nil {
				p.feed.g.log.Warn("detector state unreadable; detector starts in warm-up", "feed", p.cfg.Name, "partition", p.id, "detector", name, "err", err)
				p.feed.g.met.stateWarmups.WithLabelValues(p.cfg.Name).Inc()
			}
		}
	}
	p.committedState = b
}
