//go:build !amd64 || purego

package fields

// haveAVX2 is false: Extract runs the scanner alone.
const haveAVX2 = false

func stage1AVX2(doc *byte, n int, ends *uint16) (count int) { panic("fields: no AVX2") }
