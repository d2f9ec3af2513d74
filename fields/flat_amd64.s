//go:build !purego

#include "go_asm.h"
#include "textflag.h"

// NEXT moves DX to the next byte of a number, into AX; there must be one,
// as a number never ends the record.
#define NEXT \
	INCQ    DX          \
	CMPQ    DX, BX      \
	JAE     fail        \
	MOVBLZX (SI)(DX*1), AX

// DIGIT compares AX with '0'-'9': JLS when it is a digit, JHI when not.
#define DIGIT \
	LEAL -48(AX), R14 \
	CMPB R14B, $9

// func flatWalk(doc *byte, n int, ends *uint16, ns int, filter uint64, keys *[64]flatKey, spans *uint64, kinds *[256]Kind) (found, resume, j int)
//
// See flat.go. Registers: SI the record, BX its length, DI ends, R9 the
// next of them (their count stays in ns), R10 the filter, R11 spans, R12
// the paths found (a bit each), CX the token at hand, R13 the key's text
// and slot while the filter lets it through (bit 63 set), else 0, R14
// the value's end; AX and DX as they come, R8 and R15 while comparing a
// key. Every load is checked against BX first: the record is not padded.
// The stack keeps where the pair at hand starts (kq, kj), for the
// general walk to go on from.
TEXT ·flatWalk(SB), NOSPLIT, $16-88
	MOVQ doc+0(FP), SI
	MOVQ n+8(FP), BX
	MOVQ ends+16(FP), DI
	MOVQ filter+32(FP), R10
	MOVQ spans+48(FP), R11
	XORL R9, R9
	XORL R12, R12
	CMPQ BX, $8 // the key compare may read the last 8 bytes
	JLT  restart
	CMPB (SI), $'{'
	JNE  restart
	MOVL $1, CX
	CMPB 1(SI), $'"'
	JEQ  key

	// Not a key right after the '{' (a space, or '}'): the general walk
	// goes on from there.
	MOVQ CX, kq-8(SP)
	MOVQ R9, kj-16(SP)
	JMP  fail

key:
	// CX: a key's opening quote; its closing one, DX, is the next in ends.
	MOVQ    CX, kq-8(SP)
	MOVQ    R9, kj-16(SP)
	CMPQ    R9, ns+24(FP)
	JAE     fail
	MOVWQZX (DI)(R9*2), DX
	INCQ    R9

	// AX: the key's slot, keySlot(length, first byte, last byte).
	MOVQ    DX, AX
	SUBQ    CX, AX
	DECQ    AX
	MOVBLZX 1(SI)(CX*1), R14
	SHLL    $8, R14
	ORL     R14, AX
	MOVBLZX -1(SI)(DX*1), R14
	SHLL    $16, R14
	ORL     R14, AX
	IMUL3L  $-1640531535, AX, AX // 0x9e3779b1
	SHRL    $26, AX

	// R13: the key's text, from CX+1 to DX, and its slot, when the
	// filter lets it through.
	XORL R13, R13
	BTQ  AX, R10
	JCC  colon
	LEAQ 1(CX), R13
	MOVQ DX, R14
	SHLQ $16, R14
	ORQ  R14, R13
	SHLQ $32, AX
	ORQ  AX, R13
	BTSQ $63, R13

colon:
	// ':' right after the key, then a value, and something after it;
	// most often the value is a string, ':"'.
	LEAQ    2(DX), CX
	CMPQ    CX, BX
	JAE     fail
	CMPW    1(SI)(DX*1), $0x223a // ':"'
	JNE     notstring

	// A string: its closing quote is the next in ends.
	CMPQ    R9, ns+24(FP)
	JAE     fail
	MOVWQZX (DI)(R9*2), R14
	INCQ    R9
	LEAQ    1(R14), DX

value:
	// CX: the value's first byte, R14 its end (a string's closing
	// quote), DX the byte after it.
	TESTQ R13, R13
	JS    named

next:
	// ',"' and the next key, or the closing '}' as the last byte.
	LEAQ 1(DX), CX
	CMPQ CX, BX
	JAE  last
	CMPW (SI)(DX*1), $0x222c // ',"'
	JEQ  key
	JMP  fail

last:
	JNE  fail // DX is past the last byte
	CMPB (SI)(DX*1), $'}'
	JNE  fail
	CMPQ R9, ns+24(FP)
	JNE  fail
	MOVQ R12, found+64(FP)
	MOVQ $0, resume+72(FP)
	RET

named:
	// The filter let the key through: compare it with the plan's key of
	// its slot, AX, and note where the value is if they are the same.
	// R8, R13 and R15 are free here.
	MOVQ    R13, AX
	SHRQ    $32, AX
	ANDL    $63, AX
	IMUL3Q  $flatKey__size, AX, AX
	ADDQ    keys+40(FP), AX
	MOVWQZX R13, R8  // the key's first byte
	SHRQ    $16, R13
	MOVWQZX R13, R15 // the byte after its last
	MOVQ    R15, R13
	SUBQ    R8, R13  // its length
	CMPL    R13, flatKey_n(AX)
	JNE     next
	CMPQ    R13, $8
	JLS     first
	MOVQ    -8(SI)(R15*1), R15 // its last 8 bytes
	CMPQ    R15, flatKey_last(AX)
	JNE     next

first:
	// R8: its first 8 bytes, zero padded; within 8 bytes of the
	// record's end, its last 8 bytes shifted down.
	SHLQ  $3, R13 // its length in bits
	LEAQ  8(R8), R15
	CMPQ  R15, BX
	JHI   neartheend
	MOVQ  (SI)(R8*1), R8
	JMP   pad

neartheend:
	SUBQ  BX, R15
	SHLQ  $3, R15
	MOVQ  -8(SI)(BX*1), R8
	SHRXQ R15, R8, R8

pad:
	BZHIQ R13, R8, R8 // keeps all 64 bits from a length of 8
	CMPQ  R8, flatKey_first(AX)
	JNE   next

	// spans[out]: vs | ve<<16 | kind<<32, the value's text from vs (past
	// a string's opening quote: the byte after a string is its end + 1)
	// to ve, and its kind, kinds of its first byte.
	MOVL    flatKey_out(AX), AX
	MOVQ    kinds+56(FP), R13
	MOVBLZX (SI)(CX*1), R8
	MOVBLZX (R13)(R8*1), R13
	SHLQ    $32, R13
	MOVQ    DX, R8
	SUBQ    R14, R8
	ADDQ    CX, R8
	ORQ     R8, R13
	MOVQ    R14, R8
	SHLQ    $16, R8
	ORQ     R8, R13
	MOVQ    R13, (R11)(AX*8)
	BTSQ    AX, R12
	JMP     next

notstring:
	CMPB    1(SI)(DX*1), $':'
	JNE     fail
	MOVBLZX (SI)(CX*1), AX

	// AX: the value's first byte, doc[CX].
	CMPB AL, $'t'
	JEQ  istrue
	CMPB AL, $'f'
	JEQ  isfalse
	CMPB AL, $'n'
	JEQ  isnull

	// A number, -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, which
	// cannot be the last byte: DX walks it, AX holds doc[DX].
	MOVQ CX, DX
	CMPB AL, $'-'
	JNE  integer
	NEXT

integer:
	CMPB AL, $'0'
	JEQ  zero
	LEAL -49(AX), R14
	CMPB R14B, $8
	JHI  fail

digits:
	NEXT
	DIGIT
	JLS digits
	JMP fraction

zero:
	NEXT

fraction:
	CMPB AL, $'.'
	JNE  exponent
	NEXT
	DIGIT
	JHI  fail

fdigits:
	NEXT
	DIGIT
	JLS fdigits

exponent:
	MOVL AX, R14
	ORL  $0x20, R14
	CMPB R14B, $'e'
	JNE  number
	NEXT
	CMPB AL, $'+'
	JEQ  sign
	CMPB AL, $'-'
	JNE  edigit

sign:
	NEXT

edigit:
	DIGIT
	JHI fail

edigits:
	NEXT
	DIGIT
	JLS edigits

number:
	MOVQ DX, R14
	JMP  value

istrue:
	LEAQ 4(CX), DX
	CMPQ DX, BX
	JAE  fail
	CMPL (SI)(CX*1), $const_litTrue
	JNE  fail
	MOVQ DX, R14
	JMP  value

isfalse:
	LEAQ 5(CX), DX
	CMPQ DX, BX
	JAE  fail
	CMPL 1(SI)(CX*1), $const_litAlse
	JNE  fail
	MOVQ DX, R14
	JMP  value

isnull:
	LEAQ 4(CX), DX
	CMPQ DX, BX
	JAE  fail
	CMPL (SI)(CX*1), $const_litNull
	JNE  fail
	MOVQ DX, R14
	JMP  value

fail:
	// The general walk goes on from the pair at hand, or starts over.
	MOVQ R12, found+64(FP)
	MOVQ kq-8(SP), AX
	MOVQ AX, resume+72(FP)
	MOVQ kj-16(SP), AX
	MOVQ AX, j+80(FP)
	RET

restart:
	MOVQ $0, found+64(FP)
	MOVQ $-1, resume+72(FP)
	RET
