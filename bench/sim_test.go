package bench

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"
)

// newSim builds a simulator or fails the test.
func newSim(t testing.TB, cfg Config) *Sim {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// batches generates n batches.
func batches(s *Sim, n int) []Batch {
	out := make([]Batch, n)
	for i := range out {
		out[i] = s.Next()
	}
	return out
}

// feedSum hashes everything a consumer would see of the feed.
func feedSum(bs []Batch) [32]byte {
	h := sha256.New()
	for _, b := range bs {
		for _, r := range b.Records {
			h.Write(r.Key)
			h.Write(r.Value)
			for _, hd := range r.Headers {
				h.Write([]byte(hd.Key))
				h.Write(hd.Value)
			}
			h.Write([]byte(r.Timestamp.Format(time.RFC3339Nano)))
		}
	}
	return [32]byte(h.Sum(nil))
}

// rec is a decoded record value.
type rec map[string]any

// decode parses a batch's values; malformed ones are counted, not returned.
func decode(t testing.TB, b Batch) (recs []rec, bad int) {
	t.Helper()
	for _, r := range b.Records {
		var m rec
		if !json.Valid(r.Value) || json.Unmarshal(r.Value, &m) != nil {
			bad++
			continue
		}
		recs = append(recs, m)
	}
	return recs, bad
}

func (r rec) str(f string) string { s, _ := r[f].(string); return s }

// degrees is the number of distinct profile_ids per email.
func degrees(recs []rec) map[string]int {
	seen := map[[2]string]bool{}
	deg := map[string]int{}
	for _, r := range recs {
		k := [2]string{r.str("email"), r.str("profile_id")}
		if !seen[k] {
			seen[k] = true
			deg[k[0]]++
		}
	}
	return deg
}

func median(xs []int) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestSimSameSeedSameBytes(t *testing.T) {
	all := []Incident{{Kind: Spike, Batch: 2}, {Kind: Repeat, Batch: 3}, {Kind: Supernode, Batch: 4},
		{Kind: Wrong, Batch: 5}, {Kind: Nulls, Batch: 6}, {Kind: Rename, Batch: 6}, {Kind: Malformed, Batch: 7},
		{Kind: Shift, Batch: 8}, {Kind: Drop, Batch: 9}}
	cfg := Config{Seed: 42, Emails: 2000, MeanBatch: 300, Schedule: all}
	a := feedSum(batches(newSim(t, cfg), 12))
	if b := feedSum(batches(newSim(t, cfg), 12)); a != b {
		t.Fatal("same seed gave a different feed")
	}
	cfg.Seed = 43
	if c := feedSum(batches(newSim(t, cfg), 12)); a == c {
		t.Fatal("another seed gave the same feed")
	}

	// Injecting on demand before a batch is the same as scheduling it there.
	cfg.Seed = 42
	cfg.Schedule = nil
	s := newSim(t, cfg)
	var bs []Batch
	var logA, logB bytes.Buffer
	for i := range 12 {
		for _, inc := range all {
			if inc.Batch == i {
				if err := s.Inject(inc); err != nil {
					t.Fatal(err)
				}
			}
		}
		bs = append(bs, s.Next())
	}
	if feedSum(bs) != a {
		t.Fatal("Inject gave another feed than Schedule")
	}
	sched := newSim(t, Config{Seed: 42, Emails: 2000, MeanBatch: 300, Schedule: all})
	batches(sched, 12)
	if err := s.WriteLog(&logA); err != nil {
		t.Fatal(err)
	}
	if err := sched.WriteLog(&logB); err != nil {
		t.Fatal(err)
	}
	if logA.String() != logB.String() || len(s.Log()) != len(all) {
		t.Fatalf("logs differ or are short:\n%s\n%s", logA.String(), logB.String())
	}
}

// An incident changes its own batch only: the others stay byte for byte.
func TestSimIncidentIsLocal(t *testing.T) {
	cfg := Config{Seed: 5, Emails: 2000, MeanBatch: 300}
	clean := batches(newSim(t, cfg), 6)
	cfg.Schedule = []Incident{{Kind: Spike, Batch: 2}, {Kind: Supernode, Batch: 3}}
	hit := batches(newSim(t, cfg), 6)
	for i := range clean {
		same := feedSum(clean[i:i+1]) == feedSum(hit[i:i+1])
		if same != (i != 2 && i != 3) {
			t.Errorf("batch %d: same=%v", i, same)
		}
	}
}

func TestSimCleanFeed(t *testing.T) {
	s := newSim(t, Config{Seed: 1})
	bs := batches(s, 48)

	var size, n int
	ids := map[string]bool{}
	var maxDeg, medDeg []int
	for _, b := range bs {
		if ids[b.ID] {
			t.Fatalf("batch id %s repeated", b.ID)
		}
		ids[b.ID] = true
		recs, bad := decode(t, b)
		if bad > 0 {
			t.Fatalf("batch %d: %d malformed records in a clean feed", b.Index, bad)
		}
		for i, r := range b.Records {
			size += len(r.Value)
			n++
			if len(r.Headers) != 1 || r.Headers[0].Key != HeaderBatchID || string(r.Headers[0].Value) != b.ID {
				t.Fatalf("record headers %v, want %s=%s", r.Headers, HeaderBatchID, b.ID)
			}
			if string(r.Key) != recs[i].str("email") || !r.Timestamp.Equal(b.Time) {
				t.Fatalf("key %q / time %v, want the email %q / %v", r.Key, r.Timestamp, recs[i].str("email"), b.Time)
			}
			for _, f := range Fields() {
				if _, ok := recs[i][f]; !ok {
					t.Fatalf("record %s lacks %s", r.Value, f)
				}
			}
			if _, err := time.Parse(time.RFC3339, recs[i].str("changed_at")); err != nil {
				t.Fatal(err)
			}
			if _, ok := recs[i]["score"].(float64); !ok {
				t.Fatalf("score %v is not a number", recs[i]["score"])
			}
		}
		var ds []int
		for _, d := range degrees(recs) {
			ds = append(ds, d)
		}
		maxDeg = append(maxDeg, slices.Max(ds))
		medDeg = append(medDeg, median(ds))
	}
	mean := float64(size) / float64(n)
	t.Logf("%d records, %.0f bytes each; per batch max degree median %d, median degree %d", n, mean, median(maxDeg), median(medDeg))
	if mean < 250 || mean > 350 {
		t.Errorf("records are %.0f bytes on average, want 250-350", mean)
	}
	if median(medDeg) != 1 || median(maxDeg) < 10 {
		t.Errorf("degrees are not heavy-tailed: median %d, max %d", median(medDeg), median(maxDeg))
	}

	// Daily rhythm: afternoon batches are well above night ones.
	var day, night float64
	for _, b := range bs {
		switch h := b.Time.Hour(); {
		case h >= 12 && h < 17:
			day += float64(len(b.Records))
		case h < 5:
			night += float64(len(b.Records))
		}
	}
	if day/night < 2 {
		t.Errorf("day/night volume %.2f, want a daily rhythm (about 2.6)", day/night)
	}
}

func TestSimPoissonSizes(t *testing.T) {
	s := newSim(t, Config{Seed: 3, Emails: 1000, MeanBatch: 400, Flat: true})
	var sum, sq float64
	const n = 300
	for range n {
		x := float64(len(s.Next().Records))
		sum += x
		sq += x * x
	}
	mean := sum / n
	dispersion := (sq/n - mean*mean) / mean
	t.Logf("mean %.1f, variance/mean %.2f", mean, dispersion)
	if math.Abs(mean-400) > 10 || dispersion < 0.7 || dispersion > 1.4 {
		t.Errorf("sizes are not Poisson(400): mean %.1f, variance/mean %.2f", mean, dispersion)
	}
}

// readTruth parses what WriteTruth wrote.
func readTruth(t testing.TB, s *Sim) map[string]Truth {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteTruth(&buf); err != nil {
		t.Fatal(err)
	}
	truth := map[string]Truth{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var tr Truth
		if err := json.Unmarshal(sc.Bytes(), &tr); err != nil {
			t.Fatalf("truth line %q: %v", sc.Text(), err)
		}
		if _, dup := truth[tr.Email]; dup {
			t.Fatalf("truth has %s twice", tr.Email)
		}
		truth[tr.Email] = tr
	}
	return truth
}

// accuracy checks records against the truth as a reference check would,
// skipping emails the truth lacks.
func accuracy(recs []rec, truth map[string]Truth) (checked, wrong int) {
	for _, r := range recs {
		tr, ok := truth[r.str("email")]
		if !ok {
			continue
		}
		checked++
		if r.str("profile_id") != tr.ProfileID || r.str("company") != tr.Company {
			wrong++
		}
	}
	return checked, wrong
}

func TestSimCleanFeedMatchesTruth(t *testing.T) {
	s := newSim(t, Config{Seed: 9})
	truth := readTruth(t, s)
	var checked, wrong, all int
	for _, b := range batches(s, 24) {
		recs, _ := decode(t, b)
		c, w := accuracy(recs, truth)
		checked += c
		wrong += w
		all += len(recs)
	}
	t.Logf("truth covers %d emails and %.1f%% of records; %d wrong of %d checked", len(truth), 100*float64(checked)/float64(all), wrong, checked)
	if wrong != 0 || float64(checked) < 0.7*float64(all) {
		t.Errorf("clean feed: %d wrong of %d checked (of %d)", wrong, checked, all)
	}
}

func TestSimErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Emails: 5}, {MeanBatch: -1}, {Step: -time.Second}, {Emails: 100, Hubs: 50},
		{Schedule: []Incident{{Kind: "meteor"}}},
		{Schedule: []Incident{{Kind: Nulls, Field: "nope"}}},
		{Schedule: []Incident{{Kind: Wrong, Share: 1.5}}},
		{Schedule: []Incident{{Kind: Shift, Field: "company"}}},
		{Schedule: []Incident{{Kind: Rename, Field: "email", To: "company"}}},
		{Schedule: []Incident{{Kind: Spike, Batch: -1}}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) took a bad config", cfg)
		}
	}
	s := newSim(t, Config{Emails: 100})
	if err := s.Inject(Incident{Kind: Repeat, Factor: 1}); err == nil {
		t.Error("Inject took a repeat fold of 1")
	}
}

func TestParseIncident(t *testing.T) {
	got, err := ParseIncident("rename@3-5::company>org")
	if err != nil || len(got) != 3 || got[2] != (Incident{Kind: Rename, Batch: 5, Field: "company", To: "org"}) {
		t.Errorf("rename@3-5::company>org = %+v, %v", got, err)
	}
	got, err = ParseIncident("spike@2:4")
	if err != nil || len(got) != 1 || got[0] != (Incident{Kind: Spike, Batch: 2, Factor: 4}) {
		t.Errorf("spike@2:4 = %+v, %v", got, err)
	}
	got, err = ParseIncident("nulls@7:0.25:title")
	if err != nil || got[0] != (Incident{Kind: Nulls, Batch: 7, Share: 0.25, Field: "title"}) {
		t.Errorf("nulls@7:0.25:title = %+v, %v", got, err)
	}
	for _, bad := range []string{"meteor@1", "spike", "spike@x", "spike@5-2", "nulls@1:2", "wrong@1:x", "rename@1:1:email>profile_id", "shift@1:4:title"} {
		if _, err := ParseIncident(bad); err == nil {
			t.Errorf("ParseIncident(%q) took it", bad)
		}
	}
}

func TestSimJSONL(t *testing.T) {
	s := newSim(t, Config{Seed: 2, Emails: 500, MeanBatch: 200, Schedule: []Incident{{Kind: Malformed, Share: 0.3}}})
	b := s.Next()
	var buf bytes.Buffer
	if err := b.WriteJSONL(&buf); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n"))
	if len(lines) != len(b.Records) {
		t.Fatalf("%d lines for %d records", len(lines), len(b.Records))
	}
	for i, l := range lines {
		if !bytes.Equal(l, b.Records[i].Value) {
			t.Fatalf("line %d is %q, want %q", i, l, b.Records[i].Value)
		}
	}
}
