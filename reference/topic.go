package reference

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
)

// Topic is a compacted topic materialized in memory: the latest value of
// each key, kept current by a consumer of its own.
type Topic struct {
	topic string
	match detectors.Matcher
	row   *jsonRow // used by the consumer goroutine only
	cl    *kgo.Client

	mu   sync.RWMutex
	data table

	ready     atomic.Bool
	behind    atomic.Int64 // partitions not caught up yet, -1 before the end offsets are known
	err       atomic.Pointer[staleError]
	malformed atomic.Int64

	cancel context.CancelFunc
	done   chan struct{}
}

// retryEvery is how long the consumer waits before asking again for end
// offsets it could not get.
const retryEvery = time.Second

// OpenTopic starts materializing cfg.Topic from brokers; opts add client
// options (TLS, SASL, ...). It returns at once: Check reports the
// reference unavailable until it has caught up.
func OpenTopic(cfg config.Reference, brokers []string, opts ...kgo.Opt) (*Topic, error) {
	m, err := detectors.NewMatcher(cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot open topic reference %s: %w", cfg.Topic, err)
	}
	row, err := newJSONRow(cfg, true)
	if err != nil {
		return nil, fmt.Errorf("cannot open topic reference %s: %w", cfg.Topic, err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Control records move the position past transaction markers,
		// which a read_committed consumer would otherwise never see.
		kgo.KeepControlRecords(),
	}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("cannot open topic reference %s: %w", cfg.Topic, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t := &Topic{topic: cfg.Topic, match: m, row: row, cl: cl, data: table{}, cancel: cancel, done: make(chan struct{})}
	t.behind.Store(-1)
	go t.consume(ctx)
	return t, nil
}

// Check judges samples against the latest values, once caught up.
func (t *Topic) Check(_ context.Context, samples []detectors.Sample) error {
	if !t.ready.Load() {
		msg := fmt.Sprintf("topic reference %s is still loading", t.topic)
		if n := t.behind.Load(); n >= 0 {
			msg = fmt.Sprintf("%s (%d partitions not caught up)", msg, n)
		}
		if err := t.Stale(); err != nil {
			return fmt.Errorf("%s: %w", msg, err)
		}
		return errors.New(msg)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	t.data.check(samples, t.match)
	return nil
}

// Ready reports whether the reference has caught up with the topic.
func (t *Topic) Ready() bool { return t.ready.Load() }

// Stale reports the last error reading the topic, until a read succeeds.
func (t *Topic) Stale() error {
	if s := t.err.Load(); s != nil {
		return s.err
	}
	return nil
}

// Len is the number of keys held.
func (t *Topic) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.data)
}

// Malformed counts values that were not JSON objects; their keys are
// dropped, as the truth about them is unknown.
func (t *Topic) Malformed() int64 { return t.malformed.Load() }

// Close stops the consumer.
func (t *Topic) Close() error {
	t.cancel()
	<-t.done
	t.cl.Close()
	return nil
}

func (t *Topic) consume(ctx context.Context) {
	defer close(t.done)
	want := t.endOffsets(ctx)
	for ctx.Err() == nil {
		t.behind.Store(int64(len(want)))
		if len(want) == 0 {
			t.ready.Store(true)
		}
		fs := t.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) {
			ferr = fmt.Errorf("cannot read %s/%d: %w", topic, p, err)
		})
		if ferr != nil {
			t.err.Store(&staleError{ferr})
		} else {
			t.err.Store(nil)
		}
		t.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				t.apply(r)
			}
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
		t.mu.Unlock()
	}
}

// endOffsets asks for the last stable offsets of the topic's non-empty
// partitions until it gets them: the position the reference must reach
// before it answers.
func (t *Topic) endOffsets(ctx context.Context) map[int32]int64 {
	adm := kadm.NewClient(t.cl)
	for {
		ends, err := adm.ListCommittedOffsets(ctx, t.topic)
		if err == nil {
			err = ends.Error()
		}
		if err == nil && len(ends[t.topic]) == 0 {
			err = fmt.Errorf("topic %s not found", t.topic)
		}
		if err == nil {
			want := map[int32]int64{}
			ends.Each(func(o kadm.ListedOffset) {
				if o.Offset > 0 {
					want[o.Partition] = o.Offset
				}
			})
			return want
		}
		t.err.Store(&staleError{fmt.Errorf("cannot list offsets of %s: %w", t.topic, err)})
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retryEvery):
		}
	}
}

// apply makes r the latest value of its key: a tombstone deletes it.
func (t *Topic) apply(r *kgo.Record) {
	if r.Value == nil {
		delete(t.data, string(r.Key))
		return
	}
	_, row, _, err := t.row.read(r.Value)
	if err != nil {
		t.malformed.Add(1)
		delete(t.data, string(r.Key))
		return
	}
	t.data[string(r.Key)] = row
}
