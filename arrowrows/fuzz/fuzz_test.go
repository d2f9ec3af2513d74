package fuzz

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/arrowrows"
	"github.com/sluicehq/sluice/fields"
)

// paths plan every kind of column of the seeds' profile schema, and paths
// that are missing.
var paths = []string{"email", "n", "score", "active", "contact.email", "contact.phone", "company", "tags",
	"u8", "f32", "price", "ts", "day", "view", "nothing", "flat.name", "absent", "contact"}

const corpus = "testdata/fuzz/FuzzArrowDecode"

// seed reads a seed of the corpus (the "go test fuzz v1" format).
func seed(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, name))
	if err != nil {
		tb.Fatalf("%v (regenerate the corpus: go test ./arrowrows -run TestFuzzCorpus -update)", err)
	}
	_, lit, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lit, "[]byte("), ")"))
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return []byte(s)
}

func render(v fields.Value) string {
	switch v.Kind {
	case fields.Missing:
		return "missing"
	case fields.Null:
		return "null"
	}
	return v.Kind.String() + ":" + string(v.Raw)
}

// decode decodes value and renders every value of every row.
func decode(d *arrowrows.Decoder, value []byte) (int, []string, error) {
	out := make([]fields.Value, len(paths))
	var shown []string
	n, err := d.Decode(value, out, func() {
		for _, v := range out {
			shown = append(shown, render(v))
			if v.Kind == fields.Number {
				v.Float()
			}
			v.Len()
		}
	})
	for i, v := range out {
		if err != nil && v.Kind != fields.Missing {
			return n, shown, fmt.Errorf("a rejected record left %s = %v", paths[i], v)
		}
	}
	return n, shown, err
}

func newDecoder(tb testing.TB) *arrowrows.Decoder {
	d, err := arrowrows.NewDecoder(paths)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// FuzzArrowDecode holds Decode to its contract on any bytes: no panic; an
// error wraps ErrFormat or ErrUnsupported, shows no row and leaves every
// value Missing; no more rows than RowsPerByte a byte; the same bytes
// decode the same way twice; and a rejected record
// leaves the decoder working. The seeds are valid streams written by
// arrow-go (testdata/fuzz/FuzzArrowDecode).
func FuzzArrowDecode(f *testing.F) {
	good := seed(f, "profile")
	_, want, err := decode(newDecoder(f), good)
	if err != nil {
		f.Fatalf("the profile seed does not decode: %v", err)
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		d := newDecoder(t)
		n, first, err := decode(d, value)
		switch {
		case err != nil && !errors.Is(err, arrowrows.ErrFormat) && !errors.Is(err, arrowrows.ErrUnsupported):
			t.Fatalf("%v", err)
		case err != nil && (n != 0 || len(first) != 0):
			t.Fatalf("a rejected record showed %d values (returned %d rows)", len(first), n)
		case err == nil && n*len(paths) != len(first):
			t.Fatalf("Decode returned %d rows and showed %d values", n, len(first))
		case n > arrowrows.RowsPerByte*len(value):
			t.Fatalf("%d rows from %d bytes", n, len(value))
		}
		if err == nil {
			if _, again, _ := decode(d, value); fmt.Sprint(again) != fmt.Sprint(first) {
				t.Fatalf("the same record decoded differently:\n%v\n%v", first, again)
			}
		}
		if _, got, err := decode(d, good); err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("after this record, a good one decodes as (%v)\n%v\nwant\n%v", err, got, want)
		}
	})
}
