package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/bench"
)

// The feed is a vendor's: deliveries of records to one partition each,
// every delivery marked by its own vendor-batch-id header, so the gate
// closes one batch per delivery and the batch ids are known from the
// produce results. Some deliveries are planted bad (a quarter of their
// records break the email rule); some are much larger or smaller than
// usual, which the variance detector flags once it has learned the usual
// size, so its learned state shows in the decisions.
type feed struct {
	topic      string
	name       string // the gate's feed name, the first part of a batch id
	parts      int32
	records    int
	deliveries [][]*delivery // by partition, in order
	bySeq      [][]int32     // by partition: record sequence → index of its delivery
}

type delivery struct {
	part     int32
	index    int // within its partition
	firstSeq int // the sequence number of its first record within the partition
	n        int
	bad      bool
	// firstOffset is the offset of its first record, from the produce
	// result; -1 until produced.
	firstOffset int64
	producedAt  time.Time
}

func (d *delivery) batchID(feedName string) string {
	return feedName + ":" + strconv.Itoa(int(d.part)) + ":" + strconv.FormatInt(d.firstOffset, 10)
}

// newFeed plans records over parts partitions in deliveries of about mean
// records. The same seed gives the same feed.
func newFeed(topic, name string, parts int32, records, mean int, seed uint64) *feed {
	f := &feed{topic: topic, name: name, parts: parts, records: records,
		deliveries: make([][]*delivery, parts), bySeq: make([][]int32, parts)}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for p := range parts {
		budget := records / int(parts)
		if int(p) < records%int(parts) {
			budget++
		}
		seq := 0
		for seq < budget {
			n := mean*8/10 + rng.IntN(mean*4/10+1)
			switch r := rng.IntN(24); {
			case r < 3:
				n *= 3 // a spike
			case r < 5:
				n = max(1, n/5) // a trickle
			}
			n = min(n, budget-seq)
			d := &delivery{part: p, index: len(f.deliveries[p]), firstSeq: seq, n: n, firstOffset: -1,
				// Never the first deliveries, so that the variance
				// baseline has a start; otherwise one in sixteen.
				bad: len(f.deliveries[p]) >= 2 && rng.IntN(16) == 0}
			for range n {
				f.bySeq[p] = append(f.bySeq[p], int32(len(f.deliveries[p])))
			}
			f.deliveries[p] = append(f.deliveries[p], d)
			seq += n
		}
	}
	return f
}

func (f *feed) all() []*delivery {
	var out []*delivery
	for _, ds := range f.deliveries {
		out = append(out, ds...)
	}
	return out
}

// value is the JSON of record seq of partition p: a unique id, and an
// email that breaks the rule for every fourth record of a bad delivery.
func (f *feed) value(p int32, seq int) []byte {
	d := f.deliveries[p][f.bySeq[p][seq]]
	email := fmt.Sprintf("user%d@example.com", seq%5000)
	if d.bad && (seq-d.firstSeq)%4 == 0 {
		email = "not-an-email"
	}
	return fmt.Appendf(nil, `{"id":"%d-%d","email":%q,"profile_id":"p%d","n":%d}`, p, seq, email, seq%97, seq)
}

// parseID reads "P-SEQ" back from a record value.
func parseID(v []byte) (p int32, seq int, ok bool) {
	const pre = `{"id":"`
	if len(v) < len(pre) || string(v[:len(pre)]) != pre {
		return 0, 0, false
	}
	v = v[len(pre):]
	i := 0
	pn := 0
	for ; i < len(v) && v[i] != '-'; i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, 0, false
		}
		pn = pn*10 + int(v[i]-'0')
	}
	if i == 0 || i == len(v) {
		return 0, 0, false
	}
	i++
	start := i
	for ; i < len(v) && v[i] != '"'; i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, 0, false
		}
		seq = seq*10 + int(v[i]-'0')
	}
	return int32(pn), seq, i > start && i < len(v)
}

func (f *feed) deliveryRecords(d *delivery) []*kgo.Record {
	recs := make([]*kgo.Record, d.n)
	hdr := []kgo.RecordHeader{{Key: bench.HeaderBatchID, Value: fmt.Appendf(nil, "d%d-%d", d.part, d.index)}}
	for i := range d.n {
		seq := d.firstSeq + i
		v := f.value(d.part, seq)
		recs[i] = &kgo.Record{Topic: f.topic, Partition: d.part, Key: fmt.Appendf(nil, "k%d", seq%5000),
			Value: v, Headers: hdr}
	}
	return recs
}

// produce sends the feed in rounds (one delivery per partition each),
// spread evenly over about d, and fills in each delivery's first offset.
// progress, when not nil, gets the share produced after each round.
func (f *feed) produce(ctx context.Context, brokers []string, d time.Duration, progress func(float64)) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchMaxBytes(4<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	rounds := 0
	for _, ds := range f.deliveries {
		rounds = max(rounds, len(ds))
	}
	start := time.Now()
	sent := 0
	for r := range rounds {
		var recs []*kgo.Record
		var ds []*delivery
		for p := range f.parts {
			if r < len(f.deliveries[p]) {
				dv := f.deliveries[p][r]
				ds = append(ds, dv)
				recs = append(recs, f.deliveryRecords(dv)...)
			}
		}
		res := cl.ProduceSync(ctx, recs...)
		if err := res.FirstErr(); err != nil {
			return fmt.Errorf("cannot produce round %d: %w", r, err)
		}
		// The results come in no particular order; the records know
		// their offsets.
		i := 0
		now := time.Now()
		for _, dv := range ds {
			dv.firstOffset, dv.producedAt = recs[i].Offset, now
			// A delivery's records are consecutive: the gate's batch
			// ids depend on it.
			if last := recs[i+dv.n-1].Offset; last != dv.firstOffset+int64(dv.n)-1 {
				return fmt.Errorf("delivery %d of partition %d landed at offsets %d..%d, not consecutive", dv.index, dv.part, dv.firstOffset, last)
			}
			i += dv.n
		}
		sent += len(recs)
		if progress != nil {
			progress(float64(sent) / float64(f.records))
		}
		if wait := time.Until(start.Add(d * time.Duration(r+1) / time.Duration(rounds))); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
	}
	return nil
}

// tally is what a read_committed reader of the output and quarantine
// topics saw, checked record by record against the feed as it arrives.
type tally struct {
	f         *feed
	out, quar string
	mu        sync.Mutex
	seen      [][]uint8 // by partition and sequence: times seen in out + quarantine
	lastOut   []int     // by partition: last sequence seen in the output, -1 before
	lastQuar  []int
	total     int
	outN      int
	quarN     int
	quarBatch map[string]int // sluice-batch header → records
	problems  []string
	problemsN int
	progress  [][]time.Time // by partition: when the reader saw its output or quarantine grow
}

func newTally(f *feed, out, quar string) *tally {
	t := &tally{f: f, out: out, quar: quar, seen: make([][]uint8, f.parts),
		lastOut: make([]int, f.parts), lastQuar: make([]int, f.parts), quarBatch: map[string]int{},
		progress: make([][]time.Time, f.parts)}
	for p := range f.parts {
		t.seen[p] = make([]uint8, len(f.bySeq[p]))
		t.lastOut[p], t.lastQuar[p] = -1, -1
	}
	return t
}

func (t *tally) problem(format string, args ...any) {
	t.problemsN++
	if len(t.problems) < 20 {
		t.problems = append(t.problems, fmt.Sprintf(format, args...))
	}
}

func (t *tally) add(r *kgo.Record, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, seq, ok := parseID(r.Value)
	if !ok || p != r.Partition || p >= t.f.parts || seq >= len(t.seen[p]) {
		t.problem("%s/%d@%d: a record that is not in the input: %q", r.Topic, r.Partition, r.Offset, r.Value)
		return
	}
	if want := t.f.value(p, seq); string(r.Value) != string(want) {
		t.problem("%s/%d@%d: value %q, input had %q", r.Topic, r.Partition, r.Offset, r.Value, want)
	}
	t.seen[p][seq]++
	if t.seen[p][seq] > 1 {
		t.problem("record %d-%d seen %d times (now in %s at %d)", p, seq, t.seen[p][seq], r.Topic, r.Offset)
	}
	t.total++
	if n := len(t.progress[p]); n == 0 || !t.progress[p][n-1].Equal(now) {
		t.progress[p] = append(t.progress[p], now)
	}
	d := t.f.deliveries[p][t.f.bySeq[p][seq]]
	last := &t.lastOut[p]
	if r.Topic == t.quar {
		last = &t.lastQuar[p]
		t.quarN++
		var b string
		for _, h := range r.Headers {
			if h.Key == "sluice-batch" {
				b = string(h.Value)
			}
		}
		t.quarBatch[b]++
		if want := d.batchID(t.f.name); b != want {
			t.problem("quarantined record %d-%d has sluice-batch %q, its delivery is batch %q", p, seq, b, want)
		}
	} else {
		t.outN++
	}
	if seq <= *last {
		t.problem("%s partition %d: record %d after %d", r.Topic, p, seq, *last)
	}
	*last = seq
}

// takeover is how long after a kill at k every partition had made
// progress again: the longest wait, over the partitions, for the first
// record read after k+grace. The grace leaves out what the killed replica
// committed just before it died. A partition that never progressed after
// k counts as a wait until end. Only partitions that were sent two or more
// deliveries after k count: a batch closes when the next delivery comes,
// and the last one only after max_wait.
func (t *tally) takeover(k time.Time, grace time.Duration, end time.Time) (time.Duration, int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var worst time.Duration
	var which int32
	for p, ts := range t.progress {
		later := 0
		for _, d := range t.f.deliveries[p] {
			if d.producedAt.After(k) {
				later++
			}
		}
		if later < 2 {
			continue
		}
		i, _ := slices.BinarySearchFunc(ts, k.Add(grace), func(a, b time.Time) int { return a.Compare(b) })
		wait := end.Sub(k)
		if i < len(ts) {
			wait = ts[i].Sub(k)
		}
		if wait > worst {
			worst, which = wait, int32(p)
		}
	}
	return worst, which
}

// snapshot is the tally's counts.
func (t *tally) snapshot() (total, out, quar int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total, t.outN, t.quarN
}

// read consumes topics from the start, read_committed, until ctx is done.
func read(ctx context.Context, brokers []string, fn func(*kgo.Record, time.Time), topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.MetadataMinAge(250*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		now := time.Now()
		fs.EachRecord(func(r *kgo.Record) { fn(r, now) })
	}
	return nil
}
