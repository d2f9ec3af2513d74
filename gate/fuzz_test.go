package gate

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The gate's decoders of bytes it reads from Kafka, where anyone with write
// access to a topic can put anything: the partition state record, the
// decision record, the resume request, and batch ids (also from URLs).
// Each target: no panic, whatever the input; what is accepted round-trips.
// Seeds are valid records (and testdata/fuzz, where crashers are kept).

// stateSeeds are valid state records.
func stateSeeds() [][]byte {
	return [][]byte{
		appendState(nil, &partitionState{}),
		appendState(nil, &partitionState{Halted: true, HaltedAt: 1_700_000_000_000, HaltedBatch: "sponsors:3:120000"}),
		appendState(nil, &partitionState{HaltedAt: -1, Detectors: []detectorState{
			{Name: "valid", Type: "rules"},
			{Name: "supernodes", Type: "degree", State: bytes.Repeat([]byte{0xff, 0}, 40)},
			{Name: "volume", Type: "variance", State: []byte{1, 2, 3}},
		}}),
	}
}

func FuzzParseState(f *testing.F) {
	for _, s := range stateSeeds() {
		f.Add(s)
		f.Add(s[:len(s)-1])
	}
	f.Add([]byte{})
	f.Add([]byte{stateVersion, 1, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Add([]byte{stateVersion, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseState(b)
		if err != nil {
			if s != nil {
				t.Fatalf("parseState returned a state with %v", err)
			}
			return
		}
		// Accepted: encoding it again gives a record that parses to the
		// same state, and encodes to the same bytes.
		enc := appendState(nil, s)
		s2, err := parseState(enc)
		if err != nil {
			t.Fatalf("re-encoded state %x rejected: %v", enc, err)
		}
		if !sameState(s, s2) {
			t.Fatalf("round trip changed the state:\n%+v\n%+v", s, s2)
		}
		if again := appendState(nil, s2); !bytes.Equal(enc, again) {
			t.Fatalf("encoding is not stable: %x then %x", enc, again)
		}
		if len(enc) > len(b)+2 {
			// Varints may be written longer than needed, never shorter.
			t.Fatalf("a %d-byte record re-encodes to %d bytes", len(b), len(enc))
		}
	})
}

func sameState(a, b *partitionState) bool {
	if a.Halted != b.Halted || a.HaltedAt != b.HaltedAt || a.HaltedBatch != b.HaltedBatch || len(a.Detectors) != len(b.Detectors) {
		return false
	}
	for i := range a.Detectors {
		x, y := a.Detectors[i], b.Detectors[i]
		if x.Name != y.Name || x.Type != y.Type || !bytes.Equal(x.State, y.State) {
			return false
		}
	}
	return true
}

// decisionSeeds are decision records: as the gate writes them, and the
// README's example.
func decisionSeeds(f *testing.F) [][]byte {
	d := Decision{Batch: "sponsors:1:10", Feed: "sponsors", Topic: "in", Partition: 1, FirstOffset: 10, LastOffset: 19,
		Records: 10, Bytes: 700, State: StateQuarantined, DecidedAt: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC),
		Quarantine: &Location{Topic: "quar", Partition: 1, FirstOffset: 0, LastOffset: 9, Records: 10},
		Change:     &Change{By: "tester", At: time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC), Reason: "checked"}}
	b, err := json.Marshal(&d)
	if err != nil {
		f.Fatal(err)
	}
	seeds := [][]byte{b, []byte(`{"batch": "sponsors:3:120000", "feed": "sponsors", "topic": "vendor.sponsors", "partition": 3,
 "first_offset": 120000, "last_offset": 169999, "records": 50000, "bytes": 15000000,
 "verdict": "quarantine", "state": "quarantined", "decided_at": "2026-11-21T10:00:00Z",
 "findings": [
   {"detector": "supernodes", "type": "degree", "verdict": "quarantine",
    "metric": "max_repeat", "observed": 9, "threshold": 3, "examples": ["3f9a0c1d2e4b5a67"]},
   {"detector": "accuracy", "type": "accuracy", "verdict": "halt",
    "metric": "accuracy", "observed": 0.69, "interval": [0.64, 0.74], "threshold": 0.95, "samples": 312}
 ]}`),
		[]byte(`{"batch":"x","state":"passed","findings":null,"dropped":-1,"shadow":true}`),
		[]byte(`{"batch":"a:0:0","state":"halted","verdict":"warn","interval":[],"findings":[{"interval":[]}]}`),
		[]byte(`{"batch":"a:0:0","state":"released","decided_at":"0001-01-01T00:00:00Z","quarantine":null}`),
	}
	// Decision records kept in testdata, if any.
	files, _ := filepath.Glob("testdata/decisions/*.json")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

func FuzzParseDecision(f *testing.F) {
	for _, s := range decisionSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDecision(b)
		if err != nil {
			if d != nil {
				t.Fatalf("ParseDecision returned a decision with %v", err)
			}
			return
		}
		switch {
		case d.Batch == "":
			t.Fatal("accepted a decision without a batch id")
		case d.State != StatePassed && d.State != StateQuarantined && d.State != StateHalted &&
			d.State != StateReleased && d.State != StateDropped:
			t.Fatalf("accepted state %q", d.State)
		}
		_ = d.Reasons() // what the quarantine headers and the review page show
		// Accepted: what the gate would write of it reads back the same.
		enc, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("cannot encode an accepted decision: %v", err)
		}
		d2, err := ParseDecision(enc)
		if err != nil {
			t.Fatalf("re-encoded decision rejected: %v\n%s", err, enc)
		}
		enc2, _ := json.Marshal(d2)
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the decision:\n%s\n%s", enc, enc2)
		}
	})
}

func FuzzParseResume(f *testing.F) {
	ok, _ := json.Marshal(resumeRequest{Feed: "sponsors", Partition: 1, Batch: "sponsors:1:10", By: "alice", At: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)})
	for _, s := range []string{string(ok), `{}`, `{"batch":""}`, `{"batch":"a:0:0","partition":-1,"at":"x"}`, `null`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseResume(b)
		if err != nil {
			if r != (resumeRequest{}) {
				t.Fatalf("parseResume returned %+v with %v", r, err)
			}
			return
		}
		if r.Batch == "" {
			t.Fatal("accepted a resume request that names no batch")
		}
		enc, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := parseResume(enc)
		if err != nil || !r.At.Equal(r2.At) || r.Feed != r2.Feed || r.Partition != r2.Partition || r.Batch != r2.Batch || r.By != r2.By {
			t.Fatalf("round trip: %+v then %+v (%v)", r, r2, err)
		}
	})
}

// FuzzParseBatchID: batch ids come from URLs and operators' arguments.
func FuzzParseBatchID(f *testing.F) {
	for _, s := range []string{"sponsors:3:120000", "a:0:0", "a::0", ":1:2", "a:1:2:3", "a:-1:0", "a:1:-0", "a:2147483648:0", "a:01:0x1", "a:1:9223372036854775808"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		feed, p, o, err := ParseBatchID(id)
		if err != nil {
			return
		}
		if feed == "" || p < 0 || o < 0 {
			t.Fatalf("accepted %q as %q %d %d", id, feed, p, o)
		}
		f2, p2, o2, err := ParseBatchID(BatchID(feed, p, o))
		if err != nil || f2 != feed || p2 != p || o2 != o {
			t.Fatalf("round trip of %q: %q %d %d (%v)", id, f2, p2, o2, err)
		}
	})
}
