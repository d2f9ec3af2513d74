package arrowrows

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/sluicehq/sluice/internal/arrowtest"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus in fuzz/testdata from what arrow-go writes now")

// fuzzCorpus is the seed corpus of FuzzArrowDecode (package fuzz, which
// must not link arrow-go: see its doc).
const fuzzCorpus = "fuzz/testdata/fuzz/FuzzArrowDecode"

// fuzzSeeds are valid streams, written by arrow-go, that exercise every
// part of the decoder.
func fuzzSeeds(tb testing.TB) map[string][]byte {
	profile := arrowtest.Stream(tb, profileSchema, profileRows)
	return map[string][]byte{
		"profile":        profile,
		"batches":        arrowtest.Stream(tb, profileSchema, profileRows, `[{"email": "x@y.z", "company": "Other"}]`, `[]`),
		"schema_only":    arrowtest.Stream(tb, profileSchema),
		"sim":            arrowtest.Stream(tb, simSchema, `[{"email": "a@b.c", "profile_id": "p1", "company": "Acme", "score": 64.47}]`),
		"legacy_framing": legacy(tb, profile),
		"no_eos":         profile[:len(profile)-8],
		"struct_nulls": arrowtest.Stream(tb, arrow.NewSchema([]arrow.Field{{Name: "contact", Type: arrow.StructOf(
			arrow.Field{Name: "email", Type: arrow.BinaryTypes.String, Nullable: true},
		), Nullable: true}}, nil), `[{"contact": {"email": "a@b.c"}}, {"contact": null}]`),
		"delta_dictionary": deltaDictionaryStream(tb),
	}
}

// legacy reframes a stream without continuation markers, as writers
// before Arrow 0.15 did.
func legacy(tb testing.TB, stream []byte) []byte {
	var d Decoder
	if err := d.frame(stream); err != nil {
		tb.Fatal(err)
	}
	var out []byte
	for _, m := range d.msgs {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(m.meta)))
		out = append(append(out, m.meta...), m.body...)
	}
	return binary.LittleEndian.AppendUint32(out, 0)
}

// TestFuzzCorpus: every seed decodes, and the corpus holds them all
// (-update writes them).
func TestFuzzCorpus(t *testing.T) {
	paths := []string{"email", "n", "score", "active", "contact.email", "contact.phone", "company", "tags",
		"u8", "f32", "price", "ts", "day", "view", "nothing", "flat.name", "absent", "contact", "c"}
	for name, value := range fuzzSeeds(t) {
		d, _ := NewDecoder(paths)
		decodeAll(t, d, value)
		file := filepath.Join(fuzzCorpus, name)
		enc := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", value)
		if *update {
			if err := os.MkdirAll(fuzzCorpus, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte(enc), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := os.Stat(file); err != nil {
			t.Errorf("%v: run go test ./arrowrows -run TestFuzzCorpus -update", err)
		}
	}
}
