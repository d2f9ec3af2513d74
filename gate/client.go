package gate

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/config"
)

// Operator commands (sluice resume, sluice quarantine) talk to Kafka, not to
// a running gate: the decisions and state topics are the index and the
// control channel, so they work whichever replica owns a partition, or
// when none runs.

// Index is what the decisions and state topics say: every batch that was
// not simply passed, and the latest resume request per partition.
type Index struct {
	Batches map[string]*Decision
	resumes map[string]resumeRequest
	topics  *topicInfo
}

// Halted is the batch that halted a feed partition, or "" when it is not
// halted.
func (ix *Index) Halted(feed string, part int32) string {
	return haltedIn(ix.Batches, ix.resumes, feed, part)
}

// ReadIndex reads the decisions and state topics up to their last stable
// offsets.
func ReadIndex(ctx context.Context, cfg *config.Config, kafkaOpts ...kgo.Opt) (*Index, error) {
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, kafkaOpts...)
	ti, err := lookupTopics(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	ix := &Index{Batches: map[string]*Decision{}, resumes: map[string]resumeRequest{}, topics: ti}
	err = readToEnd(ctx, opts, []string{ti.decisions, ti.state}, func(r *kgo.Record) {
		switch {
		case r.Topic == ti.decisions:
			if d, err := ParseDecision(r.Value); err == nil {
				if d.State == StatePassed {
					delete(ix.Batches, d.Batch)
				} else {
					ix.Batches[d.Batch] = d
				}
			}
		case strings.HasPrefix(string(r.Key), resumeKeyPrefix):
			var rr resumeRequest
			if json.Unmarshal(r.Value, &rr) == nil {
				ix.resumes[string(r.Key)] = rr
			}
		}
	})
	return ix, err
}

// Resume asks whichever gate owns a halted partition to go on past the
// batch that halted it. It returns that batch.
func Resume(ctx context.Context, cfg *config.Config, feed string, part int32, by string, kafkaOpts ...kgo.Opt) (string, error) {
	found := false
	for i := range cfg.Feeds {
		found = found || cfg.Feeds[i].Name == feed
	}
	if !found {
		return "", fmt.Errorf("no feed %q in the config", feed)
	}
	ix, err := ReadIndex(ctx, cfg, kafkaOpts...)
	if err != nil {
		return "", err
	}
	batch := ix.Halted(feed, part)
	if batch == "" {
		return "", fmt.Errorf("partition %d of feed %s is not halted", part, feed)
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}, kafkaOpts...)
	return batch, writeResume(ctx, opts, ix.topics, feed, part, batch, by)
}

func writeResume(ctx context.Context, opts []kgo.Opt, ti *topicInfo, feed string, part int32, batch, by string) error {
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return fmt.Errorf("cannot create producer: %w", err)
	}
	defer cl.Close()
	key := ResumeKey(feed, part)
	val, _ := json.Marshal(resumeRequest{Feed: feed, Partition: part, Batch: batch, By: by, At: time.Now().UTC()})
	rec := &kgo.Record{Topic: ti.state, Partition: ti.partitionFor(ti.stateParts, key), Key: []byte(key), Value: val}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("cannot write resume request: %w", err)
	}
	return nil
}

// lookupTopics finds the gate's topics and their partition counts.
func lookupTopics(ctx context.Context, cfg *config.Config, opts []kgo.Opt) (*topicInfo, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot create client: %w", err)
	}
	defer cl.Close()
	ti := &topicInfo{decisions: cfg.Group + ".decisions", state: cfg.Group + ".state"}
	tds, err := kadm.NewClient(cl).ListTopics(ctx, ti.decisions, ti.state)
	if err != nil {
		return nil, fmt.Errorf("cannot list topics: %w", err)
	}
	for _, t := range []string{ti.decisions, ti.state} {
		td, ok := tds[t]
		if !ok || td.Err != nil {
			return nil, fmt.Errorf("topic %s not found: has a gate with group %q run on these brokers?", t, cfg.Group)
		}
		if t == ti.decisions {
			ti.decisionsParts = int32(len(td.Partitions))
		} else {
			ti.stateParts = int32(len(td.Partitions))
		}
	}
	return ti, nil
}

// readToEnd reads topics from the start to their last stable offsets,
// read_committed.
func readToEnd(ctx context.Context, opts []kgo.Opt, topics []string, fn func(*kgo.Record)) error {
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("cannot create reader: %w", err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("cannot list offsets of %v: %w", topics, err)
	}
	want := map[tp]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[tp{o.Topic, o.Partition}] = o.Offset
		}
	})
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cannot read %v: %w", topics, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("%s/%d: %w", t, p, err) })
		if ferr != nil {
			return fmt.Errorf("cannot read: %w", ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			k := tp{r.Topic, r.Partition}
			if !r.Attrs.IsControl() {
				fn(r)
			}
			if end, ok := want[k]; ok && r.Offset+1 >= end {
				delete(want, k)
			}
		})
	}
	return nil
}
