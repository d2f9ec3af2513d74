//go:build !purego

#include "go_asm.h"
#include "textflag.h"

// RETURN ends both kernels (labels are local to a TEXT). At done: the
// count of ends written (DI past the last), unless a string is left open
// (R9 set), when the scanner takes the record; at fail: -1.
#define RETURN \
done:                          \
	TESTQ R9, R9                \
	JNZ   fail                  \
	MOVQ  ends+16(FP), AX       \
	SUBQ  AX, DI                \
	SHRQ  $1, DI                \
	MOVQ  DI, count+24(FP)      \
	VZEROUPPER                  \
	RET                         \
fail:                          \
	MOVQ $-1, count+24(FP)      \
	VZEROUPPER                  \
	RET

// CLOSING turns the quotes of a block, AX, into its closing quotes: R13
// is the bytes inside strings, from an opening quote up to its closing
// one, by a prefix XOR of the quotes (a carry-less multiplication with
// all ones, X12), flipped when the last block ended inside a string (R9,
// all ones then, and updated). A control character of DX there makes the
// scanner take the record.
#define CLOSING \
	VMOVQ      AX, X4            \
	VPCLMULQDQ $0x00, X12, X4, X4 \
	VMOVQ      X4, R13           \
	XORQ       R9, R13           \
	MOVQ       R13, R9           \
	SARQ       $63, R9           \
	ANDQ       R13, DX           \
	JNZ        fail              \
	NOTQ       R13               \
	ANDQ       R13, AX

// func stage1AVX2(doc *byte, n int, ends *uint16) (count int)
//
// See stage1 in stage1.go; n >= 64. Registers: SI the next block, R11
// the end of the whole blocks, BX the record's end, R10 the bytes after
// the whole blocks (0 once their block is done), R8 the block's offset,
// DI the next position in ends, R9 all ones while inside a string.
TEXT ·stage1AVX2(SB), NOSPLIT, $8-32
	MOVQ doc+0(FP), SI
	MOVQ n+8(FP), R10
	MOVQ ends+16(FP), DI
	LEAQ ((const_maxStrings-32)*2)(DI), AX
	MOVQ AX, lim-8(SP) // past this, a block's positions may not fit
	LEAQ (SI)(R10*1), BX
	MOVQ R10, R11
	ANDQ $-64, R11
	ADDQ SI, R11
	ANDQ $63, R10
	XORL R8, R8
	XORL R9, R9

	VPBROADCASTB quote<>(SB), Y15
	VPBROADCASTB backslash<>(SB), Y14
	VPBROADCASTB lastctrl<>(SB), Y13
	VPCMPEQB     Y12, Y12, Y12 // all ones, for the carry-less multiply

	CMPQ SI, R11
	JEQ  tail

full:
	VMOVDQU (SI), Y0
	VMOVDQU 32(SI), Y1
	ADDQ    $64, SI
	XORL    CX, CX

block:
	// A backslash anywhere: the scanner takes the record.
	VPCMPEQB Y0, Y14, Y2
	VPCMPEQB Y1, Y14, Y3
	VPOR     Y2, Y3, Y2
	VPTEST   Y2, Y2
	JNZ      fail

	// AX: the quotes; DX: the control characters. In the last, partial
	// block, CX shifts out the bytes already seen.
	VPCMPEQB  Y0, Y15, Y2
	VPCMPEQB  Y1, Y15, Y3
	VPMOVMSKB Y2, AX
	VPMOVMSKB Y3, DX
	SHLQ      $32, DX
	ORQ       DX, AX
	SHRQ      CX, AX
	VPMINUB   Y0, Y13, Y2 // min(b, 0x1f) == b when b <= 0x1f
	VPMINUB   Y1, Y13, Y3
	VPCMPEQB  Y0, Y2, Y2
	VPCMPEQB  Y1, Y3, Y3
	VPMOVMSKB Y2, DX
	VPMOVMSKB Y3, R13
	SHLQ      $32, R13
	ORQ       R13, DX
	SHRQ      CX, DX

	// R13: inside a string, from its opening quote up to its closing
	// one: a prefix XOR of the quotes, by carry-less multiplication with
	// all ones, flipped when the last block ended inside a string. A
	// control character there: the scanner takes the record.
	CLOSING // AX: the closing quotes

	// Their positions, one at a time.
	CMPQ  DI, lim-8(SP)
	JA    fail
	TESTQ AX, AX
	JZ    next

closing:
	TZCNTQ AX, DX
	BLSRQ  AX, AX
	ADDQ   R8, DX
	MOVW   DX, 0(DI)
	ADDQ   $2, DI
	TESTQ  AX, AX
	JNZ    closing

next:
	ADDQ $64, R8
	CMPQ SI, R11
	JNE  full

tail:
	// The last, partial block: the record's last 64 bytes, shifted.
	TESTQ   R10, R10
	JZ      done
	VMOVDQU -64(BX), Y0
	VMOVDQU -32(BX), Y1
	MOVL    $64, CX
	SUBQ    R10, CX
	XORL    R10, R10
	JMP     block

RETURN

DATA quote<>+0(SB)/1, $0x22
GLOBL quote<>(SB), RODATA|NOPTR, $1
DATA backslash<>+0(SB)/1, $0x5c
GLOBL backslash<>(SB), RODATA|NOPTR, $1
DATA lastctrl<>+0(SB)/1, $0x1f
GLOBL lastctrl<>(SB), RODATA|NOPTR, $1

// func stage1AVX512(doc *byte, n int, ends *uint16) (count int)
//
// stage1AVX2 with 64-byte registers and mask registers, and the closing
// quotes' positions written without a loop: VPCOMPRESSB packs the
// indexes of the closing quotes (from iota) to the low bytes, which are
// widened to words, offset by the block's position and stored, 32 words
// whatever the count; DI advances by the count. A block has at most 32
// closing quotes, and lim leaves room for 32. Registers as in
// stage1AVX2; Z10 holds the block's offset in every word.
TEXT ·stage1AVX512(SB), NOSPLIT, $8-32
	MOVQ doc+0(FP), SI
	MOVQ n+8(FP), R10
	MOVQ ends+16(FP), DI
	LEAQ ((const_maxStrings-32)*2)(DI), AX
	MOVQ AX, lim-8(SP)
	LEAQ (SI)(R10*1), BX
	MOVQ R10, R11
	ANDQ $-64, R11
	ADDQ SI, R11
	ANDQ $63, R10
	XORL R9, R9

	VPBROADCASTB quote<>(SB), Z15
	VPBROADCASTB backslash<>(SB), Z14
	VPBROADCASTB lastctrl<>(SB), Z13
	VPCMPEQB     Y12, Y12, Y12
	VMOVDQU64    iota<>(SB), Z11
	VPXORQ       Z10, Z10, Z10
	MOVL         $64, AX
	VPBROADCASTW AX, Z9

	CMPQ SI, R11
	JEQ  tail512

full512:
	VMOVDQU64 (SI), Z0
	ADDQ      $64, SI
	XORL      CX, CX

block512:
	VPCMPEQB Z0, Z14, K2
	KORTESTQ K2, K2
	JNZ      fail

	// AX: the quotes; DX: the control characters (b <= 0x1f, unsigned).
	VPCMPEQB Z0, Z15, K1
	VPCMPUB  $2, Z13, Z0, K3
	KMOVQ    K1, AX
	KMOVQ    K3, DX
	SHRQ     CX, AX
	SHRQ     CX, DX

	CLOSING

	CMPQ          DI, lim-8(SP)
	JA            fail
	KMOVQ         AX, K4
	VPCOMPRESSB.Z Z11, K4, Z5
	POPCNTQ       AX, AX
	VPMOVZXBW     Y5, Z6
	VPADDW        Z10, Z6, Z6
	VMOVDQU16     Z6, (DI)
	LEAQ          (DI)(AX*2), DI
	VPADDW        Z9, Z10, Z10

	CMPQ SI, R11
	JNE  full512

tail512:
	TESTQ     R10, R10
	JZ        done
	VMOVDQU64 -64(BX), Z0
	MOVL      $64, CX
	SUBQ      R10, CX
	XORL      R10, R10
	JMP       block512

RETURN

DATA iota<>+0(SB)/8, $0x0706050403020100
DATA iota<>+8(SB)/8, $0x0f0e0d0c0b0a0908
DATA iota<>+16(SB)/8, $0x1716151413121110
DATA iota<>+24(SB)/8, $0x1f1e1d1c1b1a1918
DATA iota<>+32(SB)/8, $0x2726252423222120
DATA iota<>+40(SB)/8, $0x2f2e2d2c2b2a2928
DATA iota<>+48(SB)/8, $0x3736353433323130
DATA iota<>+56(SB)/8, $0x3f3e3d3c3b3a3938
GLOBL iota<>(SB), RODATA|NOPTR, $64
