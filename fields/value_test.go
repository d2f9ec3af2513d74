package fields

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// value extracts the field "v" of doc.
func value(t *testing.T, doc string) Value {
	t.Helper()
	p, err := NewPlan([]string{"v"})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Value, 1)
	if err := p.Extract([]byte(doc), out); err != nil {
		t.Fatalf("%s: %v", doc, err)
	}
	return out[0]
}

func TestValueFloat(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want float64
		ok   bool
	}{
		{`{"v":42}`, 42, true},
		{`{"v":-7}`, -7, true},
		{`{"v":-0}`, 0, true},
		{`{"v":2.5e3}`, 2500, true},
		{`{"v":123456789012345678}`, 123456789012345678, true},
		{`{"v":1e400}`, math.Inf(1), true},
		{`{"v":"42"}`, 0, false},
		{`{"v":true}`, 0, false},
		{`{"v":null}`, 0, false},
		{`{}`, 0, false},
	} {
		f, ok := value(t, tc.doc).Float()
		if f != tc.want || ok != tc.ok {
			t.Errorf("%s: Float() = %v, %v; want %v, %v", tc.doc, f, ok, tc.want, tc.ok)
		}
	}
}

func TestValueFloatMatchesParseFloat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		var b []byte
		if rng.IntN(4) == 0 {
			b = append(b, '-')
		}
		b = strconv.AppendUint(b, rng.Uint64N(1e16)>>rng.UintN(54), 10)
		if rng.IntN(2) == 0 {
			b = append(b, '.')
			b = strconv.AppendUint(b, rng.Uint64N(1e9)>>rng.UintN(30), 10)
		}
		v := Value{Raw: b, Kind: Number}
		want, _ := strconv.ParseFloat(string(b), 64)
		if got, ok := v.Float(); !ok || got != want {
			t.Fatalf("%s: Float() = %v, %v; want %v", b, got, ok, want)
		}
	}
}

func TestValueText(t *testing.T) {
	for _, tc := range []struct {
		doc, text string
		runes     int
	}{
		{`{"v":"plain"}`, "plain", 5},
		{`{"v":""}`, "", 0},
		{`{"v":"caf\u00e9"}`, "café", 4},
		{`{"v":"café"}`, "café", 4},
		{`{"v":"a\"b\\c\/d\b\f\n\r\t"}`, "a\"b\\c/d\b\f\n\r\t", 12},
		{`{"v":"\ud83d\ude00!"}`, "😀!", 2},
		{`{"v":"\ud800x"}`, "\uFFFDx", 2},           // unpaired surrogate
		{`{"v":"\ud800\u0041"}`, "\uFFFDA", 2},      // high surrogate, then not a low one
		{"{\"v\":\"a\xffb\"}", "a\uFFFDb", 3},       // not UTF-8
		{"{\"v\":\"\xe2\x82\"}", "\uFFFD\uFFFD", 2}, // truncated sequence
		{`{"v":12.50}`, "12.50", 0},                 // not a string: Raw
	} {
		v := value(t, tc.doc)
		if got := string(v.AppendText([]byte("x"))); got != "x"+tc.text {
			t.Errorf("%s: AppendText = %q, want %q", tc.doc, got, "x"+tc.text)
		}
		if got := string(v.Text(nil)); got != tc.text {
			t.Errorf("%s: Text = %q, want %q", tc.doc, got, tc.text)
		}
		if got := v.Len(); got != tc.runes {
			t.Errorf("%s: Len = %d, want %d", tc.doc, got, tc.runes)
		}
		if !v.Equal(tc.text) {
			t.Errorf("%s: not Equal to %q", tc.doc, tc.text)
		}
		if v.Kind == String && (v.Equal(tc.text+"x") || v.Equal("x"+tc.text)) {
			t.Errorf("%s: Equal to a longer string", tc.doc)
		}
	}
	if (Value{}).Equal("") {
		t.Error("a Missing value equals \"\"")
	}
	if v := value(t, "{\"v\":\"\xff\"}"); v.Equal("\xff") {
		t.Error("a string that is not UTF-8 equals its raw bytes")
	}
}

func TestValueBoolNull(t *testing.T) {
	if b, ok := value(t, `{"v":true}`).Bool(); !b || !ok {
		t.Error("true")
	}
	if b, ok := value(t, `{"v":false}`).Bool(); b || !ok {
		t.Error("false")
	}
	if _, ok := value(t, `{"v":"true"}`).Bool(); ok {
		t.Error(`"true" is a bool`)
	}
	if !value(t, `{"v":null}`).IsNull() || value(t, `{}`).IsNull() {
		t.Error("IsNull")
	}
}

func TestValueHelpersAllocs(t *testing.T) {
	v := value(t, `{"v":"caf\u00e9 \ud83d\ude00 ok"}`)
	n := value(t, `{"v":-12.75e1}`)
	buf := make([]byte, 0, 64)
	var sinkF float64
	var sinkN int
	if allocs := testing.AllocsPerRun(100, func() {
		buf = v.AppendText(buf[:0])
		sinkN += v.Len() + len(v.Text(buf))
		if !v.Equal("café 😀 ok") {
			t.Fatal("not equal")
		}
		f, _ := n.Float()
		sinkF += f
	}); allocs != 0 {
		t.Errorf("Value helpers allocate %v times", allocs)
	}
	_, _ = sinkF, sinkN
}

// TestValueFloatShort holds Float to ParseFloat on short strings over
// digits, '.', '-' and a few bytes around them: its fast path must take
// what ParseFloat takes, read it the same, and refuse the rest.
func TestValueFloatShort(t *testing.T) {
	const alpha = "0123456789.-e/:\x80"
	var b [9]byte
	for n := 1; n <= 9; n++ {
		count := 1
		for range n {
			count *= len(alpha)
		}
		step := max(1, count/300000) // every string up to 4 bytes; a sample beyond
		for c := 0; c < count; c += step {
			for i, x := 0, c; i < n; i, x = i+1, x/len(alpha) {
				b[i] = alpha[x%len(alpha)]
			}
			s := b[:n]
			want, err := strconv.ParseFloat(string(s), 64)
			got, ok := Value{Raw: s, Kind: Number}.Float()
			if ok != (err == nil || errors.Is(err, strconv.ErrRange)) || ok && (got != want || math.Signbit(got) != math.Signbit(want)) {
				t.Fatalf("%q: Float() = %v, %v; ParseFloat = %v, %v", s, got, ok, want, err)
			}
		}
	}
}
