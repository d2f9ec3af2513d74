//go:build !purego

package fields

// flatWalk is flat's walk of the n bytes at doc, whose ns strings end at
// ends: the paths found, a bit each (their values' spans in spans), and
// where the general walk is to go on: 0 when it need not, -1 from the
// start, else at doc[resume], with the string ends from j.
//
//go:noescape
func flatWalk(doc *byte, n int, ends *uint16, ns int, filter uint64, keys *[64]flatKey, spans *uint64, kinds *[256]Kind) (found, resume, j int)
