package gate

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/detectors"
)

// resumeKeyPrefix marks a resume request on the state topic. Requests live
// there, beside the halt they lift, keyed per feed partition so that
// compaction keeps the latest.
const resumeKeyPrefix = "resume:"

// resumeRequest asks the owner of a halted partition to go on. It names the
// batch that halted it, so an old request never lifts a newer halt.
type resumeRequest struct {
	Feed      string    `json:"feed"`
	Partition int32     `json:"partition"`
	Batch     string    `json:"batch"`
	By        string    `json:"by,omitempty"`
	At        time.Time `json:"at"`
}

// ResumeKey is the state-topic key of a partition's resume request.
func ResumeKey(feed string, partition int32) string {
	return resumeKeyPrefix + stateKey(feed, partition)
}

// tail follows the gate's own two compacted topics from the start: the
// state topic (each partition's latest state, and resume requests) and the
// decisions topic (the index of batches that did not simply pass). It is
// the one reader of both, so what a new owner restores and what the admin
// API shows come from the same place.
type tail struct {
	g   *Gate
	cl  *kgo.Client
	adm *kadm.Client

	mu      sync.Mutex
	changed *sync.Cond
	pos     map[tp]int64
	state   map[string][]byte
	resumes map[string]resumeRequest
	index   map[string]*Decision // batches that were not simply passed
	err     error
}

func newTail(g *Gate) (*tail, error) {
	parts := map[string]map[int32]kgo.Offset{g.topics.state: {}, g.topics.decisions: {}}
	for p := int32(0); p < g.topics.stateParts; p++ {
		parts[g.topics.state][p] = kgo.NewOffset().AtStart()
	}
	for p := int32(0); p < g.topics.decisionsParts; p++ {
		parts[g.topics.decisions][p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(g.clientOpts(
		kgo.ConsumePartitions(parts),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers take offsets too; keeping them lets the
		// reader know it has reached the last stable offset.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return nil, fmt.Errorf("cannot create reader of %s and %s: %w", g.topics.state, g.topics.decisions, err)
	}
	t := &tail{g: g, cl: cl, adm: kadm.NewClient(cl), pos: map[tp]int64{},
		state: map[string][]byte{}, resumes: map[string]resumeRequest{}, index: map[string]*Decision{}}
	t.changed = sync.NewCond(&t.mu)
	return t, nil
}

func (t *tail) close() { t.cl.Close() }

// run reads until ctx is done.
func (t *tail) run(ctx context.Context) {
	for ctx.Err() == nil {
		fs := t.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		var ferr error
		fs.EachError(func(topic string, p int32, err error) {
			ferr = fmt.Errorf("%s/%d: %w", topic, p, err)
		})
		var resumes []resumeRequest
		t.mu.Lock()
		t.err = ferr
		fs.EachRecord(func(r *kgo.Record) {
			t.pos[tp{r.Topic, r.Partition}] = r.Offset + 1
			if r.Attrs.IsControl() {
				return
			}
			if r.Topic == t.g.topics.state {
				if rr, ok := t.applyState(r); ok {
					resumes = append(resumes, rr)
				}
				return
			}
			t.applyDecision(r)
		})
		t.changed.Broadcast()
		t.mu.Unlock()
		if ferr != nil {
			t.g.log.Warn("cannot read gate topics", "err", ferr)
		}
		if len(resumes) > 0 {
			t.g.mu.Lock()
			t.g.evs.resumes = append(t.g.evs.resumes, resumes...)
			t.g.mu.Unlock()
		}
	}
	t.mu.Lock()
	t.err = context.Canceled
	t.changed.Broadcast()
	t.mu.Unlock()
}

func (t *tail) applyState(r *kgo.Record) (resumeRequest, bool) {
	k := string(r.Key)
	if !strings.HasPrefix(k, resumeKeyPrefix) {
		t.state[k] = r.Value
		return resumeRequest{}, false
	}
	var rr resumeRequest
	if err := json.Unmarshal(r.Value, &rr); err != nil || rr.Batch == "" {
		t.g.log.Warn("ignoring unreadable resume request", "key", k, "offset", r.Offset)
		return rr, false
	}
	t.resumes[k] = rr
	return rr, true
}

func (t *tail) applyDecision(r *kgo.Record) {
	d, err := ParseDecision(r.Value)
	if err != nil {
		t.g.log.Warn("ignoring unreadable decision record", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
		return
	}
	if d.State == StatePassed {
		delete(t.index, d.Batch)
		return
	}
	t.index[d.Batch] = d
}

// catchUp waits until the reader has reached the state topic's last stable
// offsets as they are now.
func (t *tail) catchUp(ctx context.Context) error {
	// Both topics: a restored partition also looks for its halt in the
	// decisions, in case its state was lost.
	ends, err := t.adm.ListCommittedOffsets(ctx, t.g.topics.state, t.g.topics.decisions)
	if err != nil {
		return fmt.Errorf("cannot list %s offsets: %w", t.g.topics.state, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		t.mu.Lock()
		t.changed.Broadcast()
		t.mu.Unlock()
	})
	defer stop()
	for {
		behind := false
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil && t.pos[tp{o.Topic, o.Partition}] < o.Offset {
				behind = true
			}
		})
		if !behind {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		t.changed.Wait()
	}
}

func (t *tail) stateOf(key string) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state[key]
}

func (t *tail) resumeOf(feed string, part int32) (resumeRequest, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.resumes[ResumeKey(feed, part)]
	return r, ok
}

// held lists the batches whose records wait in quarantine (quarantined or
// halted, neither released nor dropped), oldest first.
func (t *tail) held() []*Decision {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*Decision
	for _, d := range t.index {
		if d.State == StateQuarantined || d.State == StateHalted {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DecidedAt.Before(out[j].DecidedAt) })
	return out
}

func (t *tail) lastErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// decisions lists the indexed batches, oldest first.
func (t *tail) decisions() []*Decision {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*Decision, 0, len(t.index))
	for _, d := range t.index {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DecidedAt.Before(out[j].DecidedAt) })
	return out
}

func (t *tail) decision(id string) *Decision {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.index[id]
}

// haltedBatch is the batch that halted a partition, if it is halted.
func (t *tail) haltedBatch(feed string, part int32) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return haltedIn(t.index, t.resumes, feed, part)
}

// haltedIn finds the latest halting batch of a partition in an index, or "".
// A partition stays halted until resumed, so the latest halt is the one to
// lift.
func haltedIn(index map[string]*Decision, resumes map[string]resumeRequest, feed string, part int32) string {
	var best *Decision
	for _, d := range index {
		if d.Feed == feed && d.Partition == part && d.Verdict == detectors.Halt && (best == nil || d.FirstOffset > best.FirstOffset) {
			best = d
		}
	}
	if best == nil || resumes[ResumeKey(feed, part)].Batch == best.Batch {
		return ""
	}
	return best.Batch
}
