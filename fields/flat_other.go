//go:build !amd64 || purego

package fields

func flatWalk(doc *byte, n int, ends *uint16, ns int, filter uint64, keys *[64]flatKey, spans *uint64, kinds *[256]Kind) (found, resume, j int) {
	panic("fields: no flat walk")
}
