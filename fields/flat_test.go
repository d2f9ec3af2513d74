package fields

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// tookFlat reports whether the flat walk takes doc with the plan of paths.
func tookFlat(t *testing.T, paths []string, doc []byte) bool {
	t.Helper()
	p, err := NewPlan(paths)
	if err != nil {
		t.Fatal(err)
	}
	var ends stringEnds
	ns := stage1(doc, &ends)
	if ns < 0 || p.flatKeys == nil {
		return false
	}
	resume, _ := p.flat(doc, &ends, ns, make([]Value, len(paths)))
	return resume == 0
}

func TestExtractFlat(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no AVX2: Extract runs the scanner alone")
	}
	long := `"` + strings.Repeat("v", 70) + `"`
	for _, tc := range []struct {
		doc  string
		took bool // the flat walk takes it, with fuzzPaths
	}{
		{`{"a":1,"b":"x"}`, true},
		{`{"email":"x@y","abcdefgh":true,"b":null,"x":-0.5e+3,"c":false}`, true},
		{`{"b":1,"a":2,"a":"last","b":0}`, true}, // the last wins
		{`{"":5,"abcdefghi":"z","contact":"c","a":` + long + `}`, true},
		{`{"x":` + long + `,"a":5}`, true}, // a key within 8 bytes of the end
		{`{"x":` + long + `,"":5}`, true},  // an empty one
		{`{"x":"y","a":1.5E7}`, true},      // a number before '}'
		{`{"a":0,"b":-0,"c":12,"x":1.0}`, true},
		{`{"a":1}`, false}, // shorter than 8 bytes
		{`{}`, false}, {`{ "a":1,"b":2}`, false}, {`{"a": 1,"b":2}`, false}, {`{"a":1,"b":2} `, false},
		{`{"a":{"b":1},"b":2}`, false}, {`{"a":[1],"b":2}`, false}, // not flat
		// the general walk goes on after the pairs the flat walk took
		{`{"a":1,"x":[1],"b":2,"a":3}`, false}, {`{"b":"x","a":{"b":1},"a":{"c":2},"email":"e"}`, false},
		{`{"a":1,"b":{"a":2},"a":"x", "b":3}`, false}, {`{"a":1,"b":2,"c":{}}`, false},
		{`{"a":"\u00e9","b":2}`, false}, // an escape: stage 1 declines it
		// invalid
		{`{"a":01,"b":2}`, false}, {`{"a":1,"b":2,}`, false}, {`{"a":tru,"b":2}`, false},
		{`{"a":1,"b":2}}`, false}, {`{"a":"x""b":1}`, false}, {`{"a":1.,"b":2}`, false},
		{`{"a":-,"b":2}`, false}, {`{"a":1e,"b":2}`, false}, {`{"a":nul,"b":2}`, false},
		{`{"a":1,"b":2`, false}, {`{"a":1;"b":2}`, false}, {`{"a":1,"b" :2}`, false},
	} {
		doc := []byte(tc.doc)
		checkFast(t, doc)
		if took := tookFlat(t, fuzzPaths, doc); took != tc.took {
			t.Errorf("%s: the flat walk took it: %v, want %v", tc.doc, took, tc.took)
		}
	}
}

// TestFlatTable: the plans the flat walk declines take the general walk.
func TestFlatTable(t *testing.T) {
	// Keys of distinct filter bits, one more than the walk takes.
	var many []string
	slots := map[int]bool{}
	for i := 0; len(many) <= maxFlatPaths; i++ {
		k := twoLetters(i)
		if s := keySlot(len(k), k[0], k[len(k)-1]); !slots[s] {
			slots[s] = true
			many = append(many, k)
		}
	}
	for _, tc := range []struct {
		paths []string
		flat  bool
	}{
		{[]string{"profile_id", "company", "score"}, true},
		{fuzzPaths, true},
		{[]string{"a.b", "c.d"}, true},             // no top-level path: nothing to set
		{[]string{"abcdefghijklmnop"}, true},       // 16 bytes
		{[]string{"abcdefghijklmnopq"}, false},     // 17
		{[]string{"c", "c"}, false},                // listed twice
		{many[:maxFlatPaths], true}, {many, false}, // too many paths
		{[]string{"ab", "ab.c", "abcdefghijklmnopqrstu.v"}, true}, // long, but not a path's end
	} {
		p, err := NewPlan(tc.paths)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.flatKeys != nil; got != tc.flat {
			t.Errorf("%q: flat table %v, want %v", tc.paths, got, tc.flat)
		}
	}
	// Two keys of one filter bit: whichever pair collides first.
	seen := map[int]string{}
	for i := 0; ; i++ {
		k := twoLetters(i)
		s := keySlot(len(k), k[0], k[len(k)-1])
		if other, ok := seen[s]; ok {
			p, err := NewPlan([]string{other, k})
			if err != nil {
				t.Fatal(err)
			}
			if p.flatKeys != nil {
				t.Errorf("%q and %q share a filter bit, yet the flat walk takes the plan", other, k)
			}
			doc := []byte(`{"` + other + `":1,"` + k + `":"x"}`)
			out := make([]Value, 2)
			if err := p.Extract(doc, out); err != nil || string(out[0].Raw) != "1" || string(out[1].Raw) != "x" {
				t.Errorf("%s: %q, %v", doc, render(out), err)
			}
			break
		}
		seen[s] = k
	}
}

// twoLetters is the i-th key of two letters ("aa", "ba", ...).
func twoLetters(i int) string { return string([]byte{byte('a' + i%26), byte('a' + i/26%26)}) }

// TestExtractFlatRandom holds Extract to the scanner on random records,
// valid and not, most of them flat and compact, so that the flat walk
// takes most; in the others the general walk goes on where it stops.
func TestExtractFlatRandom(t *testing.T) {
	if !haveAVX2 {
		t.Skip("no AVX2: Extract runs the scanner alone")
	}
	keys := append(genKeys, "profile_id", "abcdefghijklmnop", "ab", "abcdefgh.a")
	values := []string{"0", "-1", "12.5", "1e3", "-0.5E-7", "123456789", "true", "false", "null", `""`, `"x"`, `"` + strings.Repeat("s", 40) + `"`}
	others := []string{`{"a":1}`, `{"b":{"a":"x"}}`, `[1,{"a":2}]`, `{}`, ` 5`, `5 `} // where the general walk takes over
	rng := rand.New(rand.NewSource(2))
	took := 0
	const n = 20000
	for range n {
		var b strings.Builder
		b.WriteByte('{')
		for i := range 1 + rng.Intn(8) {
			if i > 0 {
				b.WriteByte(',')
			}
			v := values[rng.Intn(len(values))]
			if rng.Intn(32) == 0 {
				v = others[rng.Intn(len(others))]
			}
			fmt.Fprintf(&b, "%q:%s", keys[rng.Intn(len(keys))], v)
		}
		b.WriteByte('}')
		doc := maybeBreak(rng, []byte(b.String()), "{}[],:\" 1aex-.tn")
		checkFast(t, doc)
		if tookFlat(t, fastPlans[1], doc) {
			took++
		}
	}
	t.Logf("the flat walk took %d of %d records", took, n)
	if took < n/2 {
		t.Errorf("the flat walk took %d of %d records", took, n)
	}
}
