package bench

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sent is a record as the consumer should read it.
type sent struct {
	key, value, batchID string
	ts                  time.Time
}

func TestProduceToKafka(t *testing.T) {
	const topic = "vendor-feed"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	s := newSim(t, Config{Seed: 4, Emails: 500, MeanBatch: 100, Schedule: []Incident{{Kind: Malformed, Batch: 1}}})
	bs := batches(s, 4)
	// Batch 0 to partition 2, batches 1-2 spread by batch, batch 3 by key.
	if err := Produce(ctx, cl, topic, 2, bs[0]); err != nil {
		t.Fatal(err)
	}
	for _, b := range bs[1:3] {
		if err := ProduceBy(ctx, cl, topic, b, ByBatch(3)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ProduceBy(ctx, cl, topic, bs[3], ByKey(3)); err != nil {
		t.Fatal(err)
	}

	// Each partition must hold its records in the order produced.
	want := map[int32][]sent{}
	total := 0
	for _, b := range bs {
		for i, r := range b.Records {
			p := int32(2)
			switch b.Index {
			case 1, 2:
				p = ByBatch(3)(&b, i)
			case 3:
				p = ByKey(3)(&b, i)
			}
			want[p] = append(want[p], sent{string(r.Key), string(r.Value), b.ID, r.Timestamp})
			total++
		}
	}
	if len(want) != 3 {
		t.Fatalf("records went to %d partitions, want 3", len(want))
	}
	read := map[int32]int{}
	for seen := 0; seen < total; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("after %d of %d records: %v", seen, total, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			i := read[r.Partition]
			read[r.Partition]++
			if i >= len(want[r.Partition]) {
				t.Fatalf("partition %d: extra record %q", r.Partition, r.Value)
			}
			w := want[r.Partition][i]
			if string(r.Key) != w.key || string(r.Value) != w.value || !r.Timestamp.Equal(w.ts) {
				t.Fatalf("partition %d record %d: %q %q at %v, want %q %q at %v", r.Partition, i, r.Key, r.Value, r.Timestamp, w.key, w.value, w.ts)
			}
			if len(r.Headers) != 1 || r.Headers[0].Key != HeaderBatchID || string(r.Headers[0].Value) != w.batchID {
				t.Fatalf("headers %v, want %s=%s", r.Headers, HeaderBatchID, w.batchID)
			}
		})
	}
}
