package fields

import (
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// refStage1 is stage1 byte by byte, the model stage1AVX2 is held to.
func refStage1(doc []byte, ends *stringEnds) int {
	in, n := false, 0
	for i, c := range doc {
		if i%64 == 0 && n > maxStrings-32 {
			return -1 // no room for the block's strings
		}
		switch {
		case c == '\\':
			return -1
		case c == '"':
			if in {
				ends[n] = uint16(i)
				n++
			}
			in = !in
		case c < 0x20 && in:
			return -1
		}
	}
	if in {
		return -1
	}
	return n
}

// checkStage1 holds stage1 to refStage1 on doc.
func checkStage1(t *testing.T, doc []byte) {
	t.Helper()
	if !haveAVX2 {
		t.Skip("no AVX2")
	}
	var want stringEnds
	m := refStage1(doc, &want)
	for _, avx512 := range []bool{false, true} {
		if avx512 && !cpuAVX512 {
			continue
		}
		haveAVX512 = avx512
		var got stringEnds
		n := stage1(doc, &got)
		haveAVX512 = cpuAVX512
		if n != m || n > 0 && !slices.Equal(got[:n], want[:m]) {
			t.Fatalf("stage1(%q) with AVX-512 %v = %d %v, want %d %v", doc, avx512, n, got[:max(n, 0)], m, want[:max(m, 0)])
		}
	}
}

// cpuAVX512 is haveAVX512 as the CPU set it; checkStage1 runs both kernels.
var cpuAVX512 = haveAVX512

func TestStage1(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, alpha := range []string{
		"\"\"\\ \t\n:,{}[]ab01\x01\xff",    // everything, often
		"\"aaaaaaaaaaaaaaaaaaaaaaaaaa\t",   // long strings, tabs in and out
		"\"\"\"ab:,",                       // dense: blocks of many strings
		"\"abcdefghijklmnopqrstuvwxyz{}[]", // no backslash: mostly taken
	} {
		for range 20000 {
			doc := make([]byte, rng.Intn(1000))
			for i := range doc {
				doc[i] = alpha[rng.Intn(len(alpha))]
			}
			checkStage1(t, doc)
		}
	}
	// Every length around the block size, quotes at either end.
	for n := 1; n < 200; n++ {
		for _, s := range []string{`"` + strings.Repeat("x", n) + `"`, strings.Repeat(`"x",`, n)} {
			checkStage1(t, []byte(s))
			checkStage1(t, []byte(s[:len(s)-1]))
		}
	}
}
