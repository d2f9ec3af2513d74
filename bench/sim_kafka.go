package bench

import (
	"context"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Partitioner chooses the partition of a batch's i-th record.
type Partitioner func(b *Batch, i int) int32

// ToPartition sends every record to partition p.
func ToPartition(p int32) Partitioner { return func(*Batch, int) int32 { return p } }

// ByBatch spreads whole batches over n partitions by batch index, so each
// vendor batch stays contiguous in one partition.
func ByBatch(n int32) Partitioner {
	return func(b *Batch, _ int) int32 { return int32(uint64(b.Index) % uint64(max(n, 1))) }
}

// ByKey spreads records over n partitions by the xxhash of their key, so an
// email always lands in the same partition.
func ByKey(n int32) Partitioner {
	return func(b *Batch, i int) int32 {
		return int32(xxhash.Sum64(b.Records[i].Key) % uint64(max(n, 1)))
	}
}

// Produce writes the batch to one partition of topic and waits until the
// broker has it.
func Produce(ctx context.Context, cl *kgo.Client, topic string, partition int32, b Batch) error {
	return ProduceBy(ctx, cl, topic, b, ToPartition(partition))
}

// ProduceBy writes the batch to topic and waits until the broker has it.
// Partitions are chosen by part, which the client only honours when made
// with kgo.RecordPartitioner(kgo.ManualPartitioner()); a nil part leaves
// the choice to the client's partitioner.
func ProduceBy(ctx context.Context, cl *kgo.Client, topic string, b Batch, part Partitioner) error {
	recs := make([]kgo.Record, len(b.Records))
	ptrs := make([]*kgo.Record, len(b.Records))
	for i := range b.Records {
		r := &b.Records[i]
		recs[i] = kgo.Record{Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp, Topic: topic}
		if part != nil {
			recs[i].Partition = part(&b, i)
		}
		ptrs[i] = &recs[i]
	}
	if err := cl.ProduceSync(ctx, ptrs...).FirstErr(); err != nil {
		return fmt.Errorf("cannot produce batch %s to %s: %w", b.ID, topic, err)
	}
	return nil
}
