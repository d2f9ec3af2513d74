package fields

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// benchDoc is a ~300-byte vendor record.
func benchDoc(tb testing.TB) []byte {
	doc, err := os.ReadFile("testdata/profile.json")
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.TrimSpace(doc)
}

var benchPlans = []struct {
	name  string
	paths []string
}{
	{"early", []string{"id", "email", "profile_id", "company"}},
	{"late", []string{"created_at", "source", "status", "active"}},
	{"nested", []string{"contact.phone", "contact.address.city", "contact.address.zip", "score"}},
	{"spread", []string{"email", "contact.address.zip", "tags", "status"}},
}

var sink Value

func BenchmarkExtract(b *testing.B) { benchExtract(b, false) }

// BenchmarkExtractScanner is BenchmarkExtract by the scanner alone: what
// a CPU without AVX2 runs, and a record the fast path does not take.
func BenchmarkExtractScanner(b *testing.B) { benchExtract(b, true) }

// benchExtract times each plan of benchPlans on benchDoc. It calls Extract
// or scan directly, not through a method value: an indirect call would add
// to the figure BenchmarkExtract holds to its goal (the branch between
// them is the same every iteration).
func benchExtract(b *testing.B, scanner bool) {
	doc := benchDoc(b)
	for _, bp := range benchPlans {
		b.Run(bp.name, func(b *testing.B) {
			p, err := NewPlan(bp.paths)
			if err != nil {
				b.Fatal(err)
			}
			out := make([]Value, len(bp.paths))
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if scanner {
					err = p.scan(doc, out)
				} else {
					err = p.Extract(doc, out)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			sink = out[len(out)-1]
		})
	}
}

func BenchmarkExtractInvalid(b *testing.B) {
	doc := benchDoc(b)
	doc = doc[:len(doc)-1] // truncated: the scan reaches the end first
	p, err := NewPlan(benchPlans[0].paths)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]Value, 4)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if p.Extract(doc, out) == nil {
			b.Fatal("truncated record passed")
		}
	}
}

var jsonSink string

// BenchmarkEncodingJSON is the standard library's cost for the early
// fields, for comparison.
func BenchmarkEncodingJSON(b *testing.B) {
	doc := benchDoc(b)
	var rec struct {
		ID        string `json:"id"`
		Email     string `json:"email"`
		ProfileID string `json:"profile_id"`
		Company   string `json:"company"`
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := json.Unmarshal(doc, &rec); err != nil {
			b.Fatal(err)
		}
	}
	jsonSink = rec.Company
}

// BenchmarkExtractPretty is the slow path: an indented record with
// escapes, where strings near newlines and escapes are checked byte-wise.
func BenchmarkExtractPretty(b *testing.B) {
	doc, err := os.ReadFile("testdata/pretty.json")
	if err != nil {
		b.Fatal(err)
	}
	p, err := NewPlan([]string{"email", "contact.email", "a.b.c", "b"})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]Value, 4)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := p.Extract(doc, out); err != nil {
			b.Fatal(err)
		}
	}
	sink = out[3]
}
