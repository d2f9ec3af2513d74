// Package gate is Sluice's Kafka pipeline: it reads the vendor topics in a
// consumer group, batches each partition, has the detectors judge every
// batch, and commits the outcome (records to the output or quarantine
// topic, the decision, the detector state and the consumer offsets) in one
// Kafka transaction. It also serves the admin HTTP endpoints and metrics.
package gate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/reference"
)

// Options are what the caller adds to a config.
type Options struct {
	Logger *slog.Logger
	// Registry receives the gate's metrics; nil makes a new one.
	Registry *prometheus.Registry
	// KafkaOpts are added to every Kafka client, after what the config
	// says (KafkaOpts(cfg): brokers, tls, sasl); for tests and dialers.
	KafkaOpts []kgo.Opt
	// InstanceID makes the transactional id unique; default
	// host-pid-random.
	InstanceID string
	// PollRecords caps the records taken per poll; default (0): all that
	// the client has fetched (at most fetchMaxBytes a broker), so the
	// next fetch is on its way while these are observed.
	PollRecords int
	// TransactionTimeout bounds how long a transaction left open by a
	// crashed gate blocks its partitions; default 30s.
	TransactionTimeout time.Duration

	// SetMemoryLimit lets the gate set the process's soft memory limit
	// from the max_memory of the partitions it owns (see memory.go); for
	// a process that runs one gate and nothing else.
	SetMemoryLimit bool

	// beforeEnd, in tests, runs before a transaction ends; an error
	// stops the gate there, as a crash would.
	beforeEnd func() error
	// troubleWindow, in tests, replaces troubleWindow.
	troubleWindow time.Duration
}

// Gate runs the feeds of one config.
type Gate struct {
	cfg *config.Config // the loop's; HTTP handlers and metrics use current
	// current is the running config for other goroutines; a reload
	// swaps it.
	current atomic.Pointer[config.Config]
	opts    Options
	kafka   []kgo.Opt // KafkaOpts(cfg) and Options.KafkaOpts, built once
	log     *slog.Logger
	met     *metrics

	feeds map[string]*feedRuntime // by input topic
	refs  *reference.Opener       // accuracy references, shared by partitions

	mu    sync.Mutex // guards events
	evs   events
	parts map[tp]*partition // only the loop touches it

	static          bool // InstanceID was given: a static group member
	sess            *kgo.GroupTransactSession
	client          atomic.Pointer[kgo.Client] // sess's, for the readiness watcher
	unstuckAt       time.Time                  // when stuck partitions last looked for a raised limit
	work            []partWork                 // take's, reused
	workOf          map[*partition]int
	topics          *topicInfo
	tail            *tail
	tailPtr         atomic.Pointer[tail] // for HTTP handlers and metrics
	pendingRestores atomic.Int64
	readyErr        atomic.Pointer[[]string]
	joined          atomic.Bool
	// trouble is the loop's last failure (a fetch or a transaction), for
	// readiness while it is recent.
	trouble atomic.Pointer[trouble]
	// authFailure says why SASL authentication failed, when a broker cut
	// it short (see saslHook).
	authFailure atomic.Pointer[string]
}

// trouble is a failure of the loop, and when it happened.
type trouble struct {
	at  time.Time
	msg string
}

type tp struct {
	topic string
	part  int32
}

type events struct {
	revoked  []tp
	assigned []tp
	resumes  []resumeRequest
	reload   *config.Config
}

// feedRuntime is one configured feed in the running gate.
type feedRuntime struct {
	g   *Gate
	cfg *config.Feed
	m   feedMetrics
}

// New checks that every feed's detectors can be built and prepares the
// gate; Run starts it.
func New(cfg *config.Config, opts Options) (*Gate, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	static := opts.InstanceID != ""
	if !static {
		opts.InstanceID = instanceID()
	}
	if opts.TransactionTimeout <= 0 {
		opts.TransactionTimeout = 30 * time.Second
	}
	if opts.troubleWindow <= 0 {
		opts.troubleWindow = troubleWindow
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("no brokers configured")
	}
	kafka, err := KafkaOpts(cfg)
	if err != nil {
		return nil, err
	}
	kafka = append(kafka, opts.KafkaOpts...)
	g := &Gate{cfg: cfg, opts: opts, kafka: kafka, log: opts.Logger, feeds: map[string]*feedRuntime{}, parts: map[tp]*partition{}, static: static}
	g.current.Store(cfg)
	g.met = newMetrics(opts.Registry)
	g.refs = reference.NewOpener(cfg.Dir(), reference.WithBrokers(cfg.Brokers...),
		reference.WithKafka(kafka...), reference.WithLogger(opts.Logger))
	notReady := []string{"not started"}
	g.readyErr.Store(&notReady)
	for i := range cfg.Feeds {
		f := &cfg.Feeds[i]
		fr := &feedRuntime{g: g, cfg: f}
		fr.m = g.met.feed(f)
		if _, err := newJudge(f, g.env(f)); err != nil {
			g.refs.Close()
			return nil, err
		}
		g.feeds[f.Input] = fr
	}
	return g, nil
}

func instanceID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Registry is where the gate's metrics are.
func (g *Gate) Registry() *prometheus.Registry { return g.opts.Registry }

// Run runs the gate until ctx is done. The open batches are then abandoned
// (never half-written: their records were not committed, so whoever reads
// the partition next judges them again) and Run returns nil.
func (g *Gate) Run(ctx context.Context) error {
	defer g.refs.Close()
	ti, err := g.ensureTopics(ctx)
	for waited := false; errors.Is(err, errInputMissing); waited = true {
		// A sidecar may start before the vendor's topic exists: wait for
		// it rather than crash-looping, and say so in /readyz.
		g.setNotReady(err.Error())
		if !waited {
			g.log.Warn("waiting for input topic", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
		ti, err = g.ensureTopics(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		err = g.explainAuth(err)
		g.setNotReady("cannot prepare topics: " + err.Error())
		return err
	}
	g.topics = ti
	if g.tail, err = newTail(g); err != nil {
		return err
	}
	defer g.tail.close()
	g.tailPtr.Store(g.tail)
	tailCtx, stopTail := context.WithCancel(ctx)
	defer stopTail()
	go g.tail.run(tailCtx)

	if err := g.startSession(); err != nil {
		return err
	}
	go g.watchReadiness(ctx)
	defer func() {
		for _, p := range g.parts {
			p.abandon()
		}
		// A transaction still open here (a crash in tests) is never
		// committed: it aborts when its timeout passes. Anything else was
		// committed whole. Closing must allow the rebalance that leaving
		// the group starts, or it would wait on our own blocked poll.
		g.sess.CloseAllowingRebalance()
		g.leaveGroup()
		g.log.Info("gate stopped")
	}()
	g.log.Info("gate running", "feeds", len(g.feeds), "group", g.cfg.Group, "transactional_id", g.txnID())
	return g.loop(ctx)
}

func (g *Gate) txnID() string { return g.cfg.Group + "-" + g.opts.InstanceID }

// clientOpts are the options of every client the gate makes: KafkaOpts of
// its config (built once, in New), the caller's Options.KafkaOpts, the
// logger, then extra.
func (g *Gate) clientOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := append([]kgo.Opt{kgo.WithLogger(kgoLogger{g.log})}, g.kafka...)
	if g.current.Load().SASL != nil {
		opts = append(opts, kgo.WithHooks(saslHook{g}))
	}
	return append(opts, extra...)
}

// saslHook notes a SASL authentication that a broker cut short. A broker
// that refuses the credentials may close the connection rather than
// answer (kfake does), and the client then reports a bare EOF; the note
// makes the gate's error and readiness say what happened. A broker that
// answers SASL_AUTHENTICATION_FAILED is reported by the client itself.
type saslHook struct{ g *Gate }

func (h saslHook) OnBrokerRead(meta kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if key != int16(kmsg.SASLAuthenticate) || err == nil {
		return
	}
	s := h.g.current.Load().SASL
	if s == nil {
		return
	}
	msg := fmt.Sprintf("SASL %s authentication as %q failed: broker %s:%d closed the connection (%v); check sasl.username and the password in sasl.password_file",
		s.Mechanism, s.Username, meta.Host, meta.Port, err)
	h.g.authFailure.Store(&msg)
	h.g.noteTrouble(msg)
	h.g.log.Error("kafka authentication failed", "mechanism", s.Mechanism, "username", s.Username,
		"broker", fmt.Sprintf("%s:%d", meta.Host, meta.Port), "err", err)
}

// explainAuth adds to err why SASL authentication failed, if it did.
func (g *Gate) explainAuth(err error) error {
	if m := g.authFailure.Load(); m != nil {
		return fmt.Errorf("%w (%s)", err, *m)
	}
	return err
}

func (g *Gate) startSession() error {
	inputs := make([]string, 0, len(g.feeds))
	for t := range g.feeds {
		inputs = append(inputs, t)
	}
	var member []kgo.Opt
	if g.static {
		// A stable instance id makes a static member (KIP-345): its
		// restart takes its predecessor's place in the group at once,
		// where a new dynamic member would stall the whole group until
		// the dead one's session timed out.
		member = append(member, kgo.InstanceID(g.opts.InstanceID))
	}
	s, err := kgo.NewGroupTransactSession(g.clientOpts(append(member,
		kgo.ConsumerGroup(g.cfg.Group),
		kgo.ConsumeTopics(inputs...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.BlockRebalanceOnPoll(),
		kgo.TransactionalID(g.txnID()),
		kgo.TransactionTimeout(g.opts.TransactionTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(g.topics.maxMessage),
		// What is fetched ahead of the loop is memory beyond max_memory:
		// a smaller fetch than the client's 50 MiB keeps it small (a
		// larger record still comes whole).
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.evs.assigned = appendTPs(g.evs.assigned, m)
			for _, ps := range m {
				g.pendingRestores.Add(int64(len(ps)))
			}
			g.joined.Store(true)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.evs.revoked = appendTPs(g.evs.revoked, m)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.evs.revoked = appendTPs(g.evs.revoked, m)
		}),
	)...)...)
	if err != nil {
		return fmt.Errorf("cannot start consumer group: %w", err)
	}
	g.sess = s
	g.client.Store(s.Client())
	return nil
}

// fetchMaxBytes bounds a fetch response of the gate's consumer.
const fetchMaxBytes = 4 << 20

// maxSessionRestarts is how many new sessions in a row may fail before
// the gate stops and leaves it to its supervisor.
const maxSessionRestarts = 5

// restartSession replaces a session that can no longer begin a transaction
// (a fatal producer error: the broker timed the transaction out and bumped
// the producer's epoch, or refused a partition). The new session's
// producer initialises again under the same transactional id, which ends
// whatever the old one left open, and rejoins the group. Every partition
// is dropped and comes back by assignment with its committed state, as
// after any rebalance, so nothing is judged on state that was not
// committed.
func (g *Gate) restartSession() error {
	g.log.Warn("transactional session failed; starting a new one", "transactional_id", g.txnID())
	for t, p := range g.parts {
		g.dropPartition(t, p)
	}
	g.sess.CloseAllowingRebalance()
	g.mu.Lock()
	// The old session's revokes concern partitions already dropped, and
	// its assignments will not be served.
	g.pendingRestores.Add(-int64(len(g.evs.assigned)))
	g.evs.revoked, g.evs.assigned = nil, nil
	g.mu.Unlock()
	g.joined.Store(false)
	return g.startSession()
}

// stick stops reading the partitions of aborted batches that held a
// record too large for its output or quarantine topic, so that the other
// partitions go on while an operator raises the topic's limit.
func (g *Gate) stick(batches []*closed) {
	for _, b := range batches {
		if !b.tooLarge.Load() {
			continue
		}
		p := g.parts[tp{b.p.topic, b.p.id}]
		if p == nil || p.stuck {
			continue
		}
		p.stuck = true
		g.sess.Client().PauseFetchPartitions(map[string][]int32{p.topic: {p.id}})
		g.log.Error("partition stopped: a record is larger than its output or quarantine topic accepts; "+raiseMaxMessage,
			"feed", p.cfg.Name, "partition", p.id, "batch", b.dec.Batch, "max_message_bytes", g.topics.maxMessage)
	}
}

// unstickEvery is how often stuck partitions look for a raised limit.
const unstickEvery = 5 * time.Second

// unstick reports, now and then while a partition is stuck, whether the
// topics take larger records than when it stuck: then a new session (a
// producer with the larger limit) reads them again.
func (g *Gate) unstick(ctx context.Context, now time.Time) bool {
	var stuck []string
	for _, p := range g.parts {
		if p.stuck {
			stuck = append(stuck, p.topic+"/"+itoa(p.id))
		}
	}
	if len(stuck) == 0 || now.Sub(g.unstuckAt) < unstickEvery {
		return false
	}
	g.unstuckAt = now
	if g.raiseMaxMessage(ctx) {
		return true
	}
	g.noteTrouble(fmt.Sprintf("partitions %v stopped: a record is larger than max.message.bytes (%d) of the output or quarantine topic; "+raiseMaxMessage,
		stuck, g.topics.maxMessage))
	return false
}

// raiseMaxMessage is what to do about a record no topic of the gate takes.
const raiseMaxMessage = "raise their max.message.bytes to at least the input's"

func tooLarge(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge)
}

// explainAbort is err, with what to do about a record no topic will take.
func explainAbort(err error) string {
	if tooLarge(err) {
		return err.Error() + " (a record is larger than the output or quarantine topic accepts: " +
			raiseMaxMessage + ")"
	}
	return err.Error()
}

// leaveGroup takes a static member out of the group when the gate stops
// cleanly (the client leaves only as a dynamic member), so that its
// partitions move now rather than after the session timeout.
func (g *Gate) leaveGroup() {
	if !g.static {
		return
	}
	cl, err := kgo.NewClient(g.clientOpts()...)
	if err != nil {
		g.log.Warn("cannot leave the consumer group", "err", err)
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).LeaveGroup(ctx, kadm.LeaveGroup(g.cfg.Group).InstanceIDs(g.opts.InstanceID).Reason("sluice stopping"))
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		g.log.Warn("cannot leave the consumer group", "instance_id", g.opts.InstanceID, "err", err)
	}
}

func appendTPs(dst []tp, m map[string][]int32) []tp {
	for t, ps := range m {
		for _, p := range ps {
			dst = append(dst, tp{t, p})
		}
	}
	return dst
}

// loop polls, batches, judges and commits until ctx is done. Batches
// closed in one round are written in the next: its transaction begins,
// their records are sent while the round polls, and it ends while the
// round observes what it polled (see txn), so judging and writing overlap.
// Events (rebalances, resumes, reloads) are applied between rounds, when
// no transaction is open, and assignments also after the poll.
func (g *Gate) loop(ctx context.Context) error {
	var pending, next []*closed // closed, to commit in the next round
	// Streaks of failed polls, aborted transactions and failed sessions,
	// to back off and to log a persistent failure now and then rather
	// than every time.
	var fetchFails, aborts, sessionFails int
	for {
		if ctx.Err() != nil {
			return nil
		}
		g.applyEvents(ctx)
		pending = g.owned(pending)
		// The last round's batches are sent while this round polls. The
		// poll also ends when their records are written: then nothing is
		// left to overlap the transaction's end with but what has been
		// fetched meanwhile.
		var (
			t         *txn
			commitErr error
			sending   sync.WaitGroup
		)
		pctx, cancel := g.pollContext(ctx)
		if len(pending) > 0 {
			if t, commitErr = g.begin(pending); commitErr == nil {
				sending.Go(func() {
					g.send(ctx, t)
					cancel()
				})
			}
		}
		fetches := g.sess.PollRecords(pctx, g.opts.PollRecords)
		cancel()
		now := time.Now()
		failed := false
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			failed = true
			if fetchFails%50 == 0 {
				g.log.Warn("fetch failed", "topic", t, "partition", p, "err", err, "failed_polls_in_a_row", fetchFails+1)
			}
			g.met.fetchErrors.Inc()
			g.noteTrouble(fmt.Sprintf("fetching %s/%d failed: %v", t, p, err))
		})
		if failed && fetches.NumRecords() == 0 {
			fetchFails++
			backoff(ctx, fetchFails)
		} else {
			fetchFails = 0
		}
		// Partitions assigned during the poll must exist before their
		// records are taken. (A revoke waits for AllowRebalance; a
		// partition lost meanwhile fails the transaction in flight.)
		g.applyEvents(ctx)
		// The transaction ends while this round's records are taken:
		// End only must not meet a poll.
		var ending sync.WaitGroup
		if t != nil {
			ending.Go(func() {
				sending.Wait()
				commitErr = g.end(ctx, t)
			})
		}
		next = g.take(fetches, now, next[:0])
		ending.Wait()
		committing := len(pending) > 0
		for _, p := range g.parts {
			if !p.halted && !p.stuck && p.due(now) {
				next = append(next, p.close(now))
			}
		}
		switch {
		case !committing:
		case commitErr == nil:
			g.committed(pending)
			aborts, sessionFails = 0, 0
		default:
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(commitErr, errCrash) {
				return commitErr
			}
			aborts++
			if aborts%50 == 1 {
				g.log.Warn("transaction aborted; batches will be judged again", "batches", len(pending), "err", commitErr, "aborts_in_a_row", aborts)
			}
			g.met.txnAborts.Inc()
			g.noteTrouble("transaction aborted: " + explainAbort(commitErr))
			if errors.Is(commitErr, errSession) {
				sessionFails++
				if sessionFails > maxSessionRestarts {
					return fmt.Errorf("%w, %d times in a row: stopping", commitErr, sessionFails)
				}
				backoff(ctx, sessionFails)
				if err := g.restartSession(); err != nil {
					return err
				}
				pending, next = release(pending), release(next)
				continue
			}
			// This round's batches were judged on what did not commit.
			g.rewind(slices.Concat(pending, next))
			g.stick(pending)
			next = release(next)
			backoff(ctx, aborts)
		}
		pending, next = next, release(pending)
		if g.unstick(ctx, now) {
			if err := g.restartSession(); err != nil {
				return err
			}
			pending = release(pending)
			continue
		}
		g.updateHeld(pending)
		g.sess.AllowRebalance()
	}
}

// owned keeps the batches whose partition the gate still owns as the same
// partition: a rebalance between rounds may have taken it, or given it back
// anew to restart from its committed state.
func (g *Gate) owned(batches []*closed) []*closed {
	kept := batches[:0]
	for _, b := range batches {
		if g.parts[tp{b.p.topic, b.p.id}] == b.p {
			kept = append(kept, b)
		} else {
			b.held.reset()
		}
	}
	clear(batches[len(kept):])
	return kept
}

// release gives the held memory of batches that are written or dropped
// (their transaction has ended) back for the next ones, and empties the
// slice without keeping what it pointed to.
func release(batches []*closed) []*closed {
	for _, b := range batches {
		b.held.reset()
	}
	clear(batches)
	return batches[:0]
}

// backoff waits 50 ms after the first failure in a row, doubling to at
// most 5 s, or until ctx is done.
func backoff(ctx context.Context, streak int) {
	d := min(50*time.Millisecond<<min(streak-1, 7), 5*time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// updateHeld sets sluice_records_held: records read but not yet decided,
// in open batches and in closed ones still to commit.
func (g *Gate) updateHeld(pending []*closed) {
	held := map[*feedRuntime]int{}
	for _, p := range g.parts {
		held[p.feed] += p.count
	}
	for _, b := range pending {
		held[b.p.feed] += b.dec.Records
	}
	for _, f := range g.feeds {
		f.m.held.Set(float64(held[f]))
	}
}

// pollContext bounds a poll so that max_wait deadlines and events are
// served on time.
func (g *Gate) pollContext(ctx context.Context) (context.Context, context.CancelFunc) {
	wait := time.Second
	now := time.Now()
	for _, p := range g.parts {
		if p.open && !p.halted {
			if d := p.deadline().Sub(now); d < wait {
				wait = max(d, time.Millisecond)
			}
		}
	}
	return context.WithTimeout(ctx, wait)
}

// applyEvents handles revokes, assignments and resume requests, between
// polls where no transaction is open.
func (g *Gate) applyEvents(ctx context.Context) {
	g.mu.Lock()
	ev := g.evs
	g.evs = events{}
	g.mu.Unlock()
	for _, t := range ev.revoked {
		if p := g.parts[t]; p != nil {
			g.dropPartition(t, p)
		}
	}
	if len(ev.assigned) > 0 {
		if err := g.tail.catchUp(ctx); err != nil {
			g.log.Warn("cannot read state topic; assigned partitions start in warm-up", "err", err)
		}
		defer g.pendingRestores.Add(-int64(len(ev.assigned)))
		for _, t := range ev.assigned {
			if g.parts[t] != nil {
				continue
			}
			p, err := g.newPartition(t)
			if err != nil {
				g.log.Error("cannot build detectors for partition", "topic", t.topic, "partition", t.part, "err", err)
				continue
			}
			p.restore(g.tail.stateOf(stateKey(p.cfg.Name, p.id)))
			if b := g.tail.haltedBatch(p.cfg.Name, p.id); !p.halted && b != "" {
				// The decisions say it is halted even if its state was
				// lost: a halt never lifts by itself.
				p.halted, p.haltedBatch = true, b
			}
			g.parts[t] = p
			if r, ok := g.tail.resumeOf(p.cfg.Name, p.id); ok && p.halted && r.Batch == p.haltedBatch {
				p.halted = false // resumed while no one owned it
			}
			g.setHaltedGauge(p)
			if p.halted {
				g.sess.Client().PauseFetchPartitions(map[string][]int32{t.topic: {t.part}})
				g.log.Warn("partition is halted; waiting for resume", "feed", p.cfg.Name, "partition", p.id, "batch", p.haltedBatch)
			} else {
				g.sess.Client().ResumeFetchPartitions(map[string][]int32{t.topic: {t.part}})
			}
		}
	}
	for _, r := range ev.resumes {
		g.resume(r)
	}
	if ev.reload != nil {
		g.applyReload(ev.reload)
	}
	if len(ev.revoked)+len(ev.assigned) > 0 || ev.reload != nil {
		g.setMemoryLimit()
	}
}

// dropPartition forgets a partition the gate no longer owns.
func (g *Gate) dropPartition(t tp, p *partition) {
	p.abandon()
	delete(g.parts, t)
	g.met.partitionHalted.DeleteLabelValues(p.cfg.Name, itoa(p.id))
}

func (g *Gate) newPartition(t tp) (*partition, error) {
	f := g.feeds[t.topic]
	if f == nil {
		return nil, fmt.Errorf("no feed reads topic %s", t.topic)
	}
	j, err := newJudge(f.cfg, g.env(f.cfg))
	if err != nil {
		return nil, err
	}
	return &partition{feed: f, cfg: f.cfg, topic: t.topic, id: t.part, j: j, next: -1}, nil
}

// resume lifts a halt when the request names the batch that halted the
// partition, so that an old request never lifts a newer halt.
func (g *Gate) resume(r resumeRequest) {
	f := g.feedByName(r.Feed)
	if f == nil {
		return
	}
	p := g.parts[tp{f.cfg.Input, r.Partition}]
	if p == nil || !p.halted || p.haltedBatch != r.Batch {
		return
	}
	p.halted = false
	g.setHaltedGauge(p)
	if p.next >= 0 {
		g.sess.Client().SetOffsets(map[string]map[int32]kgo.EpochOffset{p.topic: {p.id: {Epoch: -1, Offset: p.next}}})
	}
	g.sess.Client().ResumeFetchPartitions(map[string][]int32{p.topic: {p.id}})
	g.log.Info("partition resumed", "feed", f.cfg.Name, "partition", p.id, "batch", r.Batch, "by", r.By)
}

func (g *Gate) feedByName(name string) *feedRuntime {
	for _, f := range g.feeds {
		if f.cfg.Name == name {
			return f
		}
	}
	return nil
}

// rewind undoes what an aborted transaction's batches did in memory: every
// partition goes back to its last committed batch, detectors included, and
// the consumer re-reads from there.
func (g *Gate) rewind(batches []*closed) {
	offsets := map[string]map[int32]kgo.EpochOffset{}
	seen := map[*partition]bool{}
	for _, b := range batches {
		p := b.p
		if seen[p] {
			continue
		}
		seen[p] = true
		if g.parts[tp{p.topic, p.id}] != p {
			continue // revoked meanwhile
		}
		first := b.dec.FirstOffset
		np, err := g.newPartition(tp{p.topic, p.id})
		if err != nil {
			g.log.Error("cannot rebuild partition after abort", "feed", p.cfg.Name, "partition", p.id, "err", err)
			continue
		}
		np.restore(p.committedState)
		np.next = first
		np.seen = p.seen
		g.parts[tp{p.topic, p.id}] = np
		g.setHaltedGauge(np)
		if offsets[p.topic] == nil {
			offsets[p.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[p.topic][p.id] = kgo.EpochOffset{Epoch: -1, Offset: first}
	}
	// Partitions that had only an open batch keep going: the session's own
	// rewind may have moved them, so set every known position explicitly.
	for t, p := range g.parts {
		if seen[p] || p.next < 0 {
			continue
		}
		p.abandon()
		if offsets[t.topic] == nil {
			offsets[t.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[t.topic][t.part] = kgo.EpochOffset{Epoch: -1, Offset: p.next}
	}
	g.sess.Client().SetOffsets(offsets)
}

func (g *Gate) setHaltedGauge(p *partition) {
	v := 0.0
	if p.halted {
		v = 1
	}
	g.met.partitionHalted.WithLabelValues(p.cfg.Name, itoa(p.id)).Set(v)
}

// troubleWindow is how long a failure of the loop keeps the gate not
// ready after it last happened.
const troubleWindow = 10 * time.Second

// noteTrouble records a failure of the loop for readiness.
func (g *Gate) noteTrouble(msg string) {
	g.trouble.Store(&trouble{at: time.Now(), msg: msg})
}

// recentTrouble is the readiness reason for a failure of the loop within
// troubleWindow before now, or "".
func (g *Gate) recentTrouble(now time.Time) string {
	t := g.trouble.Load()
	if t == nil || now.Sub(t.at) > g.opts.troubleWindow {
		return ""
	}
	return fmt.Sprintf("%s (%s ago)", t.msg, now.Sub(t.at).Round(time.Second))
}

func (g *Gate) setNotReady(reasons ...string) {
	g.readyErr.Store(&reasons)
}

// Ready reports whether the gate can do its job, and why not.
func (g *Gate) Ready() (bool, []string) {
	r := *g.readyErr.Load()
	return len(r) == 0, r
}

func (g *Gate) tailOrNil() *tail { return g.tailPtr.Load() }
