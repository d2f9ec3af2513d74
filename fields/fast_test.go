package fields

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// fastPlans are the plans the fast path is tested with: paths that end
// at objects, arrays and scalars, nested, repeated, and keys around 8
// bytes, where the key compare changes.
var fastPlans = [][]string{
	fuzzPaths,
	{"a.b.c.d", "a.b", "a", "b.a.b", "abcdefghi", "abcdefgh.a"},
	{"c", "c", "b.b", "b.c.a"},
	{"a.a.a.a.a.a.a.a.a", "b"}, // deeper than maxTracked
}

// checkFast holds Extract to the scanner on doc for every plan of
// fastPlans, and reports whether the fast path took doc with the first.
func checkFast(t *testing.T, doc []byte) (took bool) {
	t.Helper()
	for i, paths := range fastPlans {
		p, err := NewPlan(paths)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]Value, len(paths))
		if i == 0 {
			took = haveAVX2 && p.extractFast(doc, out)
		}
		for j := range out { // what an earlier record left
			out[j] = Value{Raw: []byte("stale"), Kind: String}
		}
		err = p.Extract(doc, out)
		got := render(out)
		err2 := p.scan(doc, out)
		if want := render(out); fmt.Sprint(got, err) != fmt.Sprint(want, err2) {
			t.Fatalf("%s %q: Extract gives %q, %v; the scanner %q, %v", doc, paths, got, err, want, err2)
		}
	}
	return took
}

func TestExtractFastPath(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no AVX2: Extract runs the scanner alone")
	}
	for _, tc := range []struct {
		doc  string
		took bool // the fast path takes it
	}{
		{`{}`, true}, {` {} `, true}, {`{"a":1}`, true}, {`{"a":"x"}`, true}, {`{"":""}`, true},
		{`{"a":{"b":{"c":{"d":[1,{"x":2}]}}},"b":{"a":{"b":"y"}}}`, true},
		{`{"a":[],"b":{},"c":[[],[{}]],"abcdefgh":{"a":true},"abcdefghi":null}`, true},
		{`{"a":-0,"b":1.5e+3,"c":-12.25E-2,"abcdefgh":0.0,"x":[0,1,-1,1e9]}`, true},
		{"{ \"a\" :\t{ \"b\" :\n[ 1 , \"x\" , { } ] } ,\r\n \"b\" : false }", true},
		{`{"a":{"b":1},"a":{"c":2},"b":{"a":{"b":3}},"b":"flat","c":[1],"c":{"x":1}}`, true},
		{`{"k":"` + strings.Repeat("x", 100) + `","a":"` + strings.Repeat("y", 64) + `"}`, true},
		{`{"a":` + strings.Repeat(`{"a":`, 12) + `1` + strings.Repeat(`}`, 13), true},
		{`{"x":` + strings.Repeat(`[`, 63) + strings.Repeat(`]`, 63) + `}`, true},
		{`{"x":` + strings.Repeat(`[`, 65) + strings.Repeat(`]`, 65) + `}`, false}, // deep
		{`{"a":"#x","b":"!","c":"\u00e9"}`, false},                                 // an escape
		{`{"a":"` + strings.Repeat(`\"`, 3) + `"}`, false},
		{`{"a":1,"b":"` + strings.Repeat(`","b":"`, 200) + `"}`, false}, // many strings
		{`{"a":1,}`, false}, {`{"a":[1}`, false}, {`{"a":01}`, false}, {`{"a":"x"} x`, false},
	} {
		if took := checkFast(t, []byte(tc.doc)); took != tc.took {
			t.Errorf("%s: the fast path took it: %v, want %v", tc.doc, took, tc.took)
		}
	}
	// The fast path must take a record in the usual shape.
	p, err := NewPlan([]string{"id"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.extractFast(benchDoc(t), make([]Value, 1)) {
		t.Error("the fast path does not take testdata/profile.json")
	}
}

// TestExtractFastRandom holds Extract to the scanner on random records,
// valid and not, without escapes, so that the fast path takes most.
func TestExtractFastRandom(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no AVX2: Extract runs the scanner alone")
	}
	rng := rand.New(rand.NewSource(1))
	took := 0
	const n = 20000
	for range n {
		var b strings.Builder
		genObject(rng, &b, 0)
		doc := maybeBreak(rng, []byte(b.String()), "{}[],:\" 1aex-.")
		if checkFast(t, doc) {
			took++
		}
	}
	t.Logf("the fast path took %d of %d records", took, n)
	if took < n/2 {
		t.Errorf("the fast path took %d of %d records", took, n)
	}
}

// maybeBreak breaks one doc in four: a byte changed to one of bytes,
// dropped or doubled.
func maybeBreak(rng *rand.Rand, doc []byte, bytes string) []byte {
	if rng.Intn(4) != 0 {
		return doc
	}
	i := rng.Intn(len(doc))
	switch rng.Intn(3) {
	case 0:
		doc[i] = bytes[rng.Intn(len(bytes))]
	case 1:
		doc = append(doc[:i], doc[i+1:]...)
	default:
		doc = append(doc[:i+1], doc[i:]...)
	}
	return doc
}

var genKeys = []string{"a", "b", "c", "x", "", "abcdefgh", "abcdefghi", "email", "contact"}

func genObject(rng *rand.Rand, b *strings.Builder, depth int) {
	b.WriteByte('{')
	for i := range rng.Intn(5) {
		if i > 0 {
			genSpace(rng, b)
			b.WriteByte(',')
		}
		genSpace(rng, b)
		fmt.Fprintf(b, "%q", genKeys[rng.Intn(len(genKeys))])
		genSpace(rng, b)
		b.WriteByte(':')
		genSpace(rng, b)
		genValue(rng, b, depth+1)
	}
	genSpace(rng, b)
	b.WriteByte('}')
}

func genValue(rng *rand.Rand, b *strings.Builder, depth int) {
	switch k := rng.Intn(10); {
	case k < 2 && depth < 12:
		genObject(rng, b, depth)
	case k < 3 && depth < 12:
		b.WriteByte('[')
		for i := range rng.Intn(4) {
			if i > 0 {
				b.WriteByte(',')
			}
			genSpace(rng, b)
			genValue(rng, b, depth+1)
		}
		b.WriteByte(']')
	case k < 6:
		b.WriteByte('"')
		b.WriteString(strings.Repeat("s", rng.Intn(3)*rng.Intn(40)))
		b.WriteByte('"')
	case k < 8:
		b.WriteString([]string{"0", "-1", "12.5", "1e3", "-0.5E-7", "123456789"}[rng.Intn(6)])
	default:
		b.WriteString([]string{"true", "false", "null"}[rng.Intn(3)])
	}
}

func genSpace(rng *rand.Rand, b *strings.Builder) {
	if rng.Intn(8) == 0 {
		b.WriteString([]string{" ", "\n", "\t ", "\r\n  "}[rng.Intn(4)])
	}
}
