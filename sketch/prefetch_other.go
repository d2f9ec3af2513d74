//go:build !amd64 || purego

package sketch

// prefetch2 is a no-op where the package has no assembly: Insert's
// pipeline then only reorders work.
func prefetch2(a, b *uint64) {}
