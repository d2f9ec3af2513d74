package detectors

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// dfaPatterns exercise every instruction and assertion a program has.
var dfaPatterns = []string{
	`^[^@\s]+@[^@\s]+$`,
	`^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$`,
	`(?i)^[A-Z0-9._%+-]+@[A-Z0-9.-]+\.[A-Z]{2,}$`,
	``, `^`, `$`, `^$`, `a`, `a*`, `a+`, `^a*$`, `x*$`, `(?:)`,
	`abc`, `a.c`, `(?s)a.c`, `a|b|c`, `^(a|ab)(c|bcd)(d*)$`,
	`(a+)(b+)?`, `a{2,4}`, `^a{3}$`, `(?i)k`, `(?i)straße`, `(?i)[k-m]+`,
	`\bfoo\b`, `\Bfoo`, `foo\B`, `\b`, `\B`, `^\b`, `\b$`, `\w+\b\s*\b\w+`,
	`(?m)^b`, `(?m)a$`, `(?m)^$`, `(?m)^\s*$`, `(?m)^[a-z]+$`,
	`\Aab`, `ab\z`, `\A\z`, `(?m)\Aa$`,
	`[[:alpha:]]+`, `[[:^digit:]]`, `\d{3}-\d{4}`, `\pL+`, `\PL`, `\p{Greek}`,
	`é`, `[é]`, `[^é]`, `(?i)\x{212a}`, `(?i)ſ`, `(?i)[^k]`, `.`, `[^\n]+`, `(?s).+`, `^.*$`, `(?s)^.*$`, `^.+@`,
	`p_[0-9]+`, `^p_[0-9]{7}$`, `[\x00-\x1f]`, `[\x7f]`, `\x00`,
	`(a|b)*a(a|b){5}`, `(a|b)*a(a|b)(a|b)(a|b)`, `a*?b`, `(?U)a+b`,
	`^(?:[a-z]+\.)*[a-z]+$`, `[0-9]+(\.[0-9]+)?$`, `\\`, `\.`, `\$`,
	`(?i)^(active|closed|pending)$`, `^\S+$`, `\s`, `[\s\S]`, `^\pN*$`,
}

var dfaInputs = []string{
	"", "a", "b", "ab", "abc", "aabb", "aaa", "aaaa", "ba", "x", "xx", "foo", "afoo", "foob", " foo ",
	"foo bar", "_foo_", "jane.doe@example.com", "JANE.DOE@EXAMPLE.COM", "jane doe@example.com",
	"jane@@example.com", "@", "a@b", "a@b@c", "a@b\n", "\na@b", "a\nb", "a\n", "\n", "\n\n", " \n ",
	"\t", "K", "k", "\u212a", "straße", "STRASSE", "STRAßE", "é", "aé", "éa", "日本", "\xff", "a\xffb",
	"p_7731920", "p_773192", "p_77319200", "555-0100", "3.14", "3.", ".5", "\x00", "\x7f", "a.c", "a\nc",
	"abcd", "abbcd", "acd", "ac", "a\\b", "$", ".", "active", "Closed", "pending ", "αβγ", "αa",
	"aaaaaaab", "babababa", "abababababababab", "bbbbbbbbbba", "abbbbb", "\r\n",
}

func TestByteDFAAgreesWithRegexp(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab@ \n_.xzAKk09é\\$"
	random := make([]string, 300)
	for i := range random {
		var b strings.Builder
		for range rng.IntN(12) {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		random[i] = b.String()
	}
	for _, p := range dfaPatterns {
		re := regexp.MustCompile(p)
		d := newByteDFA(re)
		if d.off {
			t.Fatalf("%q: no DFA", p)
		}
		// Twice: building states, then reading them.
		for range 2 {
			for _, in := range append(dfaInputs, random...) {
				if got, want := d.Match([]byte(in)), re.MatchString(in); got != want {
					t.Errorf("%q on %q: DFA says %v, regexp %v", p, in, got, want)
				}
			}
		}
		if d.off {
			t.Errorf("%q: the DFA switched off", p)
		}
	}
}

// TestByteDFAOverflow: a cache too small for the pattern's states is
// cleared, or abandoned, and the answers stay right.
func TestByteDFAOverflow(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	re := regexp.MustCompile(`(a|b)*a(a|b){10}`) // 2^11 states
	for _, states := range []int{2, 3, 8, 64, 5000} {
		d := newByteDFA(re)
		d.maxStates = states
		for i := range 4000 {
			b := make([]byte, 1+rng.IntN(40))
			for j := range b {
				b[j] = "ab"[rng.IntN(2)]
			}
			if i%7 == 0 {
				b[rng.IntN(len(b))] = 'c'
			}
			if got, want := d.Match(b), re.Match(b); got != want {
				t.Fatalf("%d states: %q: DFA says %v, regexp %v", states, b, got, want)
			}
		}
		if states < 64 && !d.off {
			t.Errorf("%d states: the DFA thrashes but stays on", states)
		}
		if states == 5000 && d.off {
			t.Errorf("%d states: the DFA switched off", states)
		}
	}
}

func TestByteDFATooLarge(t *testing.T) {
	re := regexp.MustCompile(`a{1000}b{1000}c{1000}d{1000}e{1000}`)
	d := newByteDFA(re)
	if !d.off {
		t.Errorf("a program of %d instructions got a DFA", len(d.prog.Inst))
	}
	for _, in := range []string{"abcde", strings.Repeat("a", 1000) + strings.Repeat("b", 1000) + strings.Repeat("c", 1000) + strings.Repeat("d", 1000) + strings.Repeat("e", 1000)} {
		if got, want := d.Match([]byte(in)), re.MatchString(in); got != want {
			t.Errorf("on %d bytes: %v, regexp says %v", len(in), got, want)
		}
	}
}

func TestByteDFAAllocs(t *testing.T) {
	d := newByteDFA(regexp.MustCompile(`^[^@\s]+@[^@\s]+$`))
	ins := [][]byte{[]byte("jane.doe@example.com"), []byte("jane doe@example.com"), []byte("ja@ne@x"), []byte("")}
	for _, in := range ins {
		d.Match(in)
	}
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		d.Match(ins[i%len(ins)])
		i++
	}); n != 0 {
		t.Errorf("Match allocates %v times", n)
	}
}

func FuzzByteDFA(f *testing.F) {
	for i, in := range dfaInputs {
		f.Add(uint8(i), in, "")
	}
	f.Add(uint8(0), "x", `(?i)\bfoo|bar$`)
	f.Add(uint8(0), "ab\nab", `(?m)^ab$`)
	f.Fuzz(func(t *testing.T, which uint8, in, pattern string) {
		p := dfaPatterns[int(which)%len(dfaPatterns)]
		if pattern != "" {
			p = pattern
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return
		}
		d := newByteDFA(re)
		if which&0x80 != 0 { // also the clearing
			d.maxStates = 1 + int(which)%16
		}
		for range 2 {
			if got, want := d.Match([]byte(in)), re.MatchString(in); got != want {
				t.Fatalf("%q on %q: DFA says %v, regexp %v", p, in, got, want)
			}
		}
	})
}

func BenchmarkByteDFA(b *testing.B) {
	re := regexp.MustCompile(`^[^@\s]+@[^@\s]+$`)
	in := []byte("sofia_ivanova@lunar-capital.com")
	b.Run("regexp", func(b *testing.B) {
		for b.Loop() {
			re.Match(in)
		}
	})
	b.Run("dfa", func(b *testing.B) {
		d := newByteDFA(re)
		b.ReportAllocs()
		for b.Loop() {
			d.Match(in)
		}
	})
}
