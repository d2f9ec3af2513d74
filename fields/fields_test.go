package fields

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestNewPlanRejectsMalformedPaths(t *testing.T) {
	for _, path := range []string{"", ".", "a.", ".a", "a..b", strings.Repeat("a.", maxSegments) + "a"} {
		if _, err := NewPlan([]string{"ok", path}); err == nil {
			t.Errorf("NewPlan(%q) succeeded", path)
		}
	}
	if _, err := NewPlan([]string{strings.Repeat("a.", maxSegments-1) + "a"}); err != nil {
		t.Errorf("NewPlan with %d segments: %v", maxSegments, err)
	}
}

// extract runs one plan over one record and renders each value as
// "kind:raw" (or "kind:raw:esc" when escaped). It runs Extract, by the
// fast path where the CPU has it, and the scanner alone, which must agree.
func extract(t *testing.T, doc string, paths ...string) ([]string, error) {
	t.Helper()
	p, err := NewPlan(paths)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Value, len(paths))
	err = p.Extract([]byte(doc), out)
	got := render(out)
	err2 := p.scan([]byte(doc), out)
	if got2 := render(out); fmt.Sprint(got2, err2) != fmt.Sprint(got, err) {
		t.Errorf("%q: Extract gives %q, %v; the scanner %q, %v", doc, got, err, got2, err2)
	}
	return got, err
}

func render(out []Value) []string {
	got := make([]string, len(out))
	for i, v := range out {
		got[i] = v.Kind.String() + ":" + string(v.Raw)
		if v.Escaped {
			got[i] += ":esc"
		}
	}
	return got
}

func TestExtract(t *testing.T) {
	for _, tc := range []struct {
		doc   string
		paths []string
		want  []string
	}{
		{`{"email":"a@b.c","n":12.5e3,"ok":true,"no":false,"z":null}`,
			[]string{"email", "n", "ok", "no", "z", "absent"},
			[]string{"string:a@b.c", "number:12.5e3", "bool:true", "bool:false", "null:null", "missing:"}},
		{`{"contact":{"email":"x@y","phone":{"cc":1}},"email":"top"}`,
			[]string{"contact.email", "email", "contact.phone", "contact.phone.cc", "contact.fax", "contact"},
			[]string{"string:x@y", "string:top", `object:{"cc":1}`, "number:1", "missing:",
				`object:{"email":"x@y","phone":{"cc":1}}`}},
		{`{"tags":["a",{"b":[1,2]}],"e":[],"o":{}}`,
			[]string{"tags", "e", "o", "tags.b"},
			[]string{`array:["a",{"b":[1,2]}]`, "array:[]", "object:{}", "missing:"}},
		// Whitespace everywhere it may be.
		{" \t\r\n{ \"a\" : [ 1 , { } ] ,\n\t\"b\" :\"x\" } \n",
			[]string{"a", "b"},
			[]string{"array:[ 1 , { } ]", "string:x"}},
		// Escaped keys and values; the key escape spells "email".
		{`{"\u0065mail":"a\"b","e\"x":"\\","":"empty key"}`,
			[]string{"email", `e"x`},
			[]string{`string:a\"b:esc`, `string:\\:esc`}},
		// The same path twice, and a path through a non-object.
		{`{"a":"x","b":[{"c":1}],"s":"t"}`,
			[]string{"a", "a", "b.c", "s.t"},
			[]string{"string:x", "string:x", "missing:", "missing:"}},
		// Duplicate keys: the last wins, and a repeated object replaces
		// the earlier one as a whole.
		{`{"a":1,"a":2,"o":{"x":1,"y":2},"o":{"x":3}}`,
			[]string{"a", "o.x", "o.y"},
			[]string{"number:2", "number:3", "missing:"}},
		{`{"o":{"x":1},"o":"flat"}`,
			[]string{"o.x", "o"},
			[]string{"missing:", "string:flat"}},
		// Keys around 8 bytes, where the word compare switches.
		{`{"abcdefg":1,"abcdefgh":2,"abcdefghi":3,"abcdefgh":4}`,
			[]string{"abcdefg", "abcdefgh", "abcdefghi", "abcdefgx"},
			[]string{"number:1", "number:4", "number:3", "missing:"}},
		// A short record: strings close to its end take the slow path.
		{`{"k":"v"}`, []string{"k"}, []string{"string:v"}},
		{`{"":""}`, []string{"k"}, []string{"missing:"}},
		{`{}`, []string{"k"}, []string{"missing:"}},
	} {
		got, err := extract(t, tc.doc, tc.paths...)
		if err != nil {
			t.Errorf("%s: %v", tc.doc, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s %q:\n got %q\nwant %q", tc.doc, tc.paths, got, tc.want)
		}
	}
}

func TestExtractRejects(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{``, "byte 0: expected '{' (a record must be a JSON object)"},
		{`[1]`, "byte 0: expected '{'"},
		{`"s"`, "byte 0: expected '{'"},
		{`{"a":1`, "byte 6: expected ',' or '}'"},
		{`{"a":1,`, "byte 7: expected '\"'"},
		{`{"a":1,}`, "byte 7: expected '\"'"},
		{`{"a":"abc`, "byte 9: expected '\"' (unterminated string)"},
		{`{"a":"abcdefghijklmnop`, "byte 22: expected '\"' (unterminated string)"},
		{`{"a":1}}`, "byte 7: expected end of record"},
		{`{"a":1} x`, "byte 8: expected end of record"},
		{`{"a" 1}`, "byte 5: expected ':'"},
		{`{a:1}`, "byte 1: expected '\"' or '}'"},
		{`{"a":}`, "byte 5: expected a value"},
		{`{"a":[1,]}`, "byte 8: expected a value"},
		{`{"a":[1}`, "byte 7: expected ',' or ']'"},
		{`{"a":{"b":1]}`, "byte 11: expected ',' or '}'"},
		{`{"a":tru}`, "byte 5: expected true"},
		{`{"a":fals}`, "byte 5: expected false"},
		{`{"a":nul}`, "byte 5: expected null"},
		{`{"a":01}`, "byte 6: expected ',' or '}'"},
		{`{"a":1.}`, "byte 7: expected a digit"},
		{`{"a":-}`, "byte 6: expected a digit"},
		{`{"a":1e+}`, "byte 8: expected a digit"},
		{`{"a":+1}`, "byte 5: expected a value"},
		{`{"a":"\x"}`, `byte 7: expected an escape`},
		{`{"a":"\u12G4"}`, `byte 10: expected 4 hex digits after \u`},
		{"{\"a\":\"x\ty\"}", "byte 7: control character in string"},
		{"{\"a\":\"0123456789\x01\"}", "byte 16: control character in string"},
		{"{\"a\x00\":1}", "byte 3: control character in string"},
		{strings.Repeat("[", 3), "byte 0: expected '{'"},
		// The same inside containers no path reaches, which are skipped.
		{`{"x":{"k" 1}}`, "byte 10: expected ':'"},
		{`{"x":{k:1}}`, "byte 6: expected '\"' or '}'"},
		{`{"x":{"k":1,}}`, "byte 12: expected '\"'"},
		{`{"x":{"k":1 "j":2}}`, "byte 12: expected ',' or '}'"},
		{`{"x":[1 2]}`, "byte 8: expected ',' or ']'"},
		{`{"x":[1,]}`, "byte 8: expected a value"},
		{`{"x":[{"k":"\q"}]}`, "byte 13: expected an escape"},
		{`{"x":[{"k":"v}]}`, "byte 16: expected '\"' (unterminated string)"},
		{`{"x":{"k":[1,{"j":nul}]}}`, "byte 18: expected null"},
		{`{"x":{"k":` + "\"a\tb\"}}", "byte 12: control character in string"},
		{`{"x":{"k":1}`, "byte 12: expected ',' or '}'"},
	} {
		_, err := extract(t, tc.doc, "a")
		if err == nil {
			t.Errorf("%q: no error", tc.doc)
			continue
		}
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %q, want ErrSyntax %q", tc.doc, err, tc.want)
		}
	}
}

func TestExtractClearsOnError(t *testing.T) {
	p, _ := NewPlan([]string{"a"})
	out := []Value{{Kind: Number, Raw: []byte("1")}}
	if err := p.Extract([]byte(`{"a":1,"b":`), out); err == nil || out[0].Kind != Missing {
		t.Errorf("got %v, %+v; want an error and a Missing value", err, out[0])
	}
}

func TestExtractDepth(t *testing.T) {
	nest := func(n int) string {
		return `{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + "}"
	}
	if _, err := extract(t, nest(MaxDepth), "a"); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	if _, err := extract(t, nest(MaxDepth+1), "a"); err == nil || !strings.Contains(err.Error(), "nesting deeper") {
		t.Errorf("depth %d: got %v", MaxDepth+1, err)
	}
	// Far deeper than any stack would take, unclosed.
	if _, err := extract(t, `{"a":`+strings.Repeat(`{"b":[`, 500000), "a.b"); err == nil {
		t.Error("deep unclosed record passed")
	}
	objs := `{"a":` + strings.Repeat(`{"a":`, MaxDepth-1) + "1" + strings.Repeat("}", MaxDepth)
	if got, err := extract(t, objs, "a.a.a"); err != nil || !strings.HasPrefix(got[0], "object:") {
		t.Errorf("nested objects: %v %v", got, err)
	}
}

func TestExtractLargeRecordError(t *testing.T) {
	doc := `{"a":"` + strings.Repeat("x", 100000) + `",}`
	_, err := extract(t, doc, "a")
	if err == nil || !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "byte 100008: expected '\"'") {
		t.Errorf("got %v", err)
	}
}

func TestExtractAllocs(t *testing.T) {
	doc := []byte(`{"id":"3f9a","email":"jane.doe@example.com","contact":{"phone":"+1","tags":["a","b"]},` +
		`"esc":"a\"b\u00e9","n":-1.5e-3,"ok":true,"z":null,"\u0073tatus":"escaped key"}`)
	bad := doc[:len(doc)-1]
	p, err := NewPlan([]string{"email", "contact.phone", "esc", "n", "status"})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Value, 5)
	if n := testing.AllocsPerRun(100, func() {
		if err := p.Extract(doc, out); err != nil || out[4].Kind != String {
			t.Fatal(err, out[4])
		}
	}); n != 0 {
		t.Errorf("Extract allocates %v times per record", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		if err := p.Extract(bad, out); err == nil {
			t.Fatal("truncated record passed")
		}
	}); n != 0 {
		t.Errorf("Extract allocates %v times per rejected record", n)
	}
}
