package gate

import (
	"os"
	"runtime/debug"
)

// The Go runtime lets the heap grow to about twice what is live before it
// collects. The gate's live heap is mostly the records its partitions
// hold, which max_memory bounds, so a gate that owns the process
// (Options.SetMemoryLimit) tells the runtime that budget as its soft
// memory limit: collection then keeps the peak near the budget rather
// than doubling it. GOMEMLIMIT, when set, wins.

// memoryBase is the process beyond held records: detector state, the
// client's fetch buffers, the runtime.
const memoryBase = 128 << 20

// setMemoryLimit sets the soft memory limit for the partitions owned now.
func (g *Gate) setMemoryLimit() {
	if !g.opts.SetMemoryLimit || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	var held int64
	for _, p := range g.parts {
		held += int64(p.feed.cfg.Batch.MaxMemory) // the reloaded one, if any
	}
	// A quarter over the budget: batches being forwarded and the next
	// poll's records overlap with what is held.
	debug.SetMemoryLimit(memoryBase + held*5/4)
}
