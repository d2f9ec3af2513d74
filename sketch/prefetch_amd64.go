//go:build !purego

package sketch

// prefetch2 asks the CPU to bring the cache lines of a and b into its
// first-level cache, without waiting for them: PREFETCHT0, which Go does
// not expose. It reads nothing, so any address will do.
//
//go:noescape
func prefetch2(a, b *uint64)
