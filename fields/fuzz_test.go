package fields

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzPaths = []string{"a", "b", "a.b", "a.b.c", "b.a", "abcdefgh", "email", "contact.email"}

// FuzzExtract holds Extract to encoding/json: a record json.Valid accepts
// whose top level is an object must extract, with the kinds and the
// values encoding/json decodes; anything else must be rejected. It runs
// both paths: the fast one (where the CPU has AVX2) and the scanner.
func FuzzExtract(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range seeds {
		doc, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(doc)
		f.Add(bytes.TrimSpace(doc))
	}
	for _, s := range []string{
		`{"a":{"b":{"c":[1,"x",null]}},"b":{"a":"\u00e9\ud83d\ude00"}}`,
		`{"\u0061":1,"a":{"b":2},"a":{"c":3},"abcdefgh":"\"","b":[]}`,
		`{"a":"#x","b":"\\","email":"x@y\u0000","contact":{"email":"\ud800"}}`,
		`{"a":-0.0e+10,"b":true,"a.b":false,"":null}`,
		"{\"a\":\"\xff\xfe\"}",
		`{"a":1}}`, `{"a":[}`, `{"a":"\x"}`, `{"a":01}`, `{"a":tru}`,
		`{"email":"x@y","a":-1.5e3,"b":true,"abcdefgh":null}`, `{"x":"yyyyyyy","a":5}`, // flat
	} {
		f.Add([]byte(s))
	}
	p, err := NewPlan(fuzzPaths)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		// Extract, by the fast path where the CPU has it, and the
		// scanner alone; and stage 1 against its model.
		fuzzExtract(t, p, doc, true)
		fuzzExtract(t, p, doc, false)
		if haveAVX2 && len(doc) <= maxFast {
			checkStage1(t, doc)
		}
	})
}

// fuzzExtract checks one run of Extract, or of the scanner alone unless
// fast.
func fuzzExtract(t *testing.T, p *Plan, doc []byte, fast bool) {
	out := make([]Value, len(fuzzPaths))
	var err error
	if fast {
		err = p.Extract(doc, out)
	} else {
		err = p.scan(doc, out)
	}
	var top any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	valid := json.Valid(doc) && d.Decode(&top) == nil
	obj, isObj := top.(map[string]any)
	if !valid || !isObj {
		if err == nil {
			t.Fatalf("accepted %q (json.Valid %v)", doc, valid)
		}
		return
	}
	if err != nil {
		if nesting(doc) > MaxDepth && strings.Contains(err.Error(), "nesting deeper") {
			return // the one limit stricter than encoding/json's (10000)
		}
		t.Fatalf("rejected valid %q: %v", doc, err)
	}
	for i, path := range fuzzPaths {
		checkValue(t, doc, path, out[i], lookup(obj, path))
	}
}

// nesting returns the deepest nesting of a valid JSON text.
func nesting(doc []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(doc); i++ {
		switch c := doc[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// lookup walks path through decoded objects; ok is false when it is not
// there.
func lookup(obj map[string]any, path string) (v any) {
	v = obj
	for _, seg := range bytes.Split([]byte(path), []byte(".")) {
		m, isObj := v.(map[string]any)
		if !isObj {
			return missing{}
		}
		if v, isObj = m[string(seg)]; !isObj {
			return missing{}
		}
	}
	return v
}

type missing struct{}

func checkValue(t *testing.T, doc []byte, path string, got Value, want any) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%q: %s: got %s %q: "+format, append([]any{doc, path, got.Kind, got.Raw}, args...)...)
	}
	switch w := want.(type) {
	case missing:
		if got.Kind != Missing {
			fail("want missing")
		}
	case nil:
		if !got.IsNull() {
			fail("want null")
		}
	case bool:
		if b, ok := got.Bool(); !ok || b != w {
			fail("want %v", w)
		}
	case json.Number:
		if got.Kind != Number || string(got.Raw) != string(w) {
			fail("want number %s", w)
		}
		want, _ := strconv.ParseFloat(string(w), 64)
		if f, ok := got.Float(); !ok || f != want || math.Signbit(f) != math.Signbit(want) {
			fail("Float() = %v, %v; want %v", f, ok, want)
		}
	case string:
		text := got.AppendText(nil)
		if got.Kind != String || string(text) != w || !got.Equal(w) || got.Len() != utf8.RuneCountInString(w) {
			fail("want string %q, text %q, len %d", w, text, got.Len())
		}
		if string(got.Text(make([]byte, 0, 4))) != w {
			fail("Text disagrees with AppendText")
		}
	case map[string]any, []any:
		kind := Object
		if _, isArr := w.([]any); isArr {
			kind = Array
		}
		var again any
		d := json.NewDecoder(bytes.NewReader(got.Raw))
		d.UseNumber()
		if got.Kind != kind || d.Decode(&again) != nil || !reflect.DeepEqual(again, w) {
			fail("want %T %v", w, w)
		}
	default:
		fail("unexpected %T", w)
	}
}
