package gate

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// partWork is one partition's share of a poll.
type partWork struct {
	p      *partition
	recs   [][]*kgo.Record // in the order polled
	closed []*closed
}

// take hands each partition its polled records and returns the batches
// that closed, in the order of the poll. Partitions share nothing while
// they observe and judge (each has its own detectors; references and
// metrics are safe for concurrent use), so records for several partitions
// are taken in parallel, up to GOMAXPROCS partitions at once: observing
// is the loop's own largest cost.
func (g *Gate) take(fetches kgo.Fetches, now time.Time, out []*closed) []*closed {
	if g.workOf == nil {
		g.workOf = map[*partition]int{}
	}
	work := g.work[:0]
	clear(g.workOf)
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		p := g.parts[tp{fp.Topic, fp.Partition}]
		if p == nil {
			// Revoked under us: its owner will read it.
			return
		}
		i, ok := g.workOf[p]
		if !ok {
			i = len(work)
			g.workOf[p] = i
			if i < cap(work) {
				work = work[:i+1] // its slices, emptied, kept from an earlier poll
				work[i].p = p
			} else {
				work = append(work, partWork{p: p})
			}
		}
		work[i].recs = append(work[i].recs, fp.Records)
	})
	run := func(w *partWork) {
		for _, recs := range w.recs {
			w.closed = w.p.take(recs, now, w.closed)
		}
	}
	if n := min(runtime.GOMAXPROCS(0), len(work)); n <= 1 {
		for i := range work {
			run(&work[i])
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < len(work); i = int(next.Add(1)) - 1 {
					run(&work[i])
				}
			})
		}
		wg.Wait()
	}
	for i := range work {
		w := &work[i]
		out = append(out, w.closed...)
		// Keep the slices, not what they point to.
		clear(w.recs)
		clear(w.closed)
		w.p, w.recs, w.closed = nil, w.recs[:0], w.closed[:0]
	}
	g.work = work
	return out
}

// take adds polled records of this partition to its batches.
func (p *partition) take(recs []*kgo.Record, now time.Time, out []*closed) []*closed {
	for _, r := range recs {
		if p.next < 0 {
			p.next = r.Offset
		}
		if p.halted || p.stuck || r.Offset < p.next {
			continue
		}
		// A halting batch sets p.halted as it closes: nothing after it
		// is read until resumed.
		out = p.add(r, now, out)
	}
	p.countIn()
	return out
}
