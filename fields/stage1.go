package fields

// Stage 1 of the fast path (see fast.go) finds where every string of a
// record ends, for the whole record in one pass, 64 bytes at a time with
// AVX2 or AVX-512 (stage1_amd64.s), so that stage 2 need not search for a
// string's end, nor wait for the search: a string's end is the next entry
// of a list. Per block of 64 bytes:
//
//   - vector compares give bit masks of its quotes, backslashes and
//     control characters;
//   - a prefix XOR of the quotes, by a carry-less multiplication with all
//     ones, marks the bytes inside strings (carried from block to block);
//   - a quote outside that mask closes a string; the closing quotes'
//     positions are written out: with AVX2 by TZCNT and BLSR, one at a
//     time (writing eight a block unconditionally, to spare the loop's
//     branch, is slower); with AVX-512 all at once, by VPCOMPRESSB, which
//     spares the loop and the mispredicted branch at its end.
//
// A record with a backslash anywhere is left to the scanner: without
// escapes, every quote delimits a string, and every string's text is its
// bytes. So is a record with a control character inside a string (it is
// invalid), one with a string left open, and one with many strings.

// maxFast bounds the records the fast path takes: it keeps positions in
// 16 bits. Longer ones take the scanner.
const maxFast = 1<<16 - 1

// maxStrings bounds the strings of a record the fast path takes: it takes
// a record with up to maxStrings-32 strings, never one with more than
// maxStrings (how many it finds before each block of 64 bytes decides).
const maxStrings = 128

// stringEnds holds the positions of the closing quotes of a record's
// strings, in order.
type stringEnds [maxStrings]uint16

// stage1 writes the positions of the closing quotes of doc, at most
// maxFast bytes, to ends and returns how many there are, or -1 when the
// fast path cannot take doc: a backslash, a control character inside a
// string, a string left open, or too many strings. It needs haveAVX2.
func stage1(doc []byte, ends *stringEnds) int {
	if len(doc) < 64 {
		// Zeros after the record are control characters, but outside
		// any string unless one is left open, which fails all the same.
		var b [64]byte
		copy(b[:], doc)
		doc = b[:]
	}
	if haveAVX512 {
		return stage1AVX512(&doc[0], len(doc), &ends[0])
	}
	return stage1AVX2(&doc[0], len(doc), &ends[0])
}
