//go:build !purego

package fields

import "golang.org/x/sys/cpu"

// haveAVX2 says whether the CPU has what stage1AVX2 and flatWalk need
// (BZHI and SHRX are BMI2's, which every AVX2 CPU has); without it,
// Extract runs the scanner alone.
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasPCLMULQDQ && cpu.X86.HasBMI1 && cpu.X86.HasBMI2

// haveAVX512 says whether the CPU has what stage1AVX512 needs; stage1
// prefers it.
var haveAVX512 = haveAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW &&
	cpu.X86.HasAVX512VBMI2 && cpu.X86.HasPOPCNT

// stage1AVX2 is stage1 for n >= 64 bytes at doc.
//
//go:noescape
func stage1AVX2(doc *byte, n int, ends *uint16) (count int)

// stage1AVX512 is stage1AVX2 with AVX-512.
//
//go:noescape
func stage1AVX512(doc *byte, n int, ends *uint16) (count int)
