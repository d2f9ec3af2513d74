//go:build !amd64 || purego

package fields

// haveAVX2 is false: Extract runs the scanner alone.
const haveAVX2 = false

// haveAVX512 is false (a variable, as on amd64, for the tests).
var haveAVX512 = false

func stage1AVX512(doc *byte, n int, ends *uint16) (count int) { panic("fields: no AVX-512") }

func stage1AVX2(doc *byte, n int, ends *uint16) (count int) { panic("fields: no AVX2") }
