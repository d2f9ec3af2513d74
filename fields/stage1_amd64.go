//go:build !purego

package fields

import "golang.org/x/sys/cpu"

// haveAVX2 says whether the CPU has what stage1AVX2 needs; without it,
// Extract runs the scanner alone.
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasPCLMULQDQ && cpu.X86.HasBMI1

// stage1AVX2 is stage1 for n >= 64 bytes at doc.
//
//go:noescape
func stage1AVX2(doc *byte, n int, ends *uint16) (count int)
