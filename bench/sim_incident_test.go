package bench

import (
	"encoding/json"
	"math"
	"slices"
	"testing"
)

// hitBatch is the index incidents are injected at: mid-morning, a middling
// volume.
const hitBatch = 10

var incidentCfg = Config{Seed: 11, Emails: 10000, MeanBatch: 1000}

// pair generates the batch hitBatch clean and with inc, from the same seed.
func pair(t *testing.T, inc Incident) (clean, hit Batch, logged Injected) {
	t.Helper()
	clean = batches(newSim(t, incidentCfg), hitBatch+1)[hitBatch]
	cfg := incidentCfg
	inc.Batch = hitBatch
	cfg.Schedule = []Incident{inc}
	s := newSim(t, cfg)
	hit = batches(s, hitBatch+1)[hitBatch]
	log := s.Log()
	if len(log) != 1 || log[0].Kind != inc.Kind || log[0].Batch != hitBatch || log[0].BatchID != hit.ID || len(hit.Incidents) != 1 {
		t.Fatalf("log %+v, want one %s at batch %d (%s)", log, inc.Kind, hitBatch, hit.ID)
	}
	return clean, hit, log[0]
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %.4f", what, got, want, tol)
	} else {
		t.Logf("%s = %.4f (want %.4f)", what, got, want)
	}
}

func TestIncidentVolume(t *testing.T) {
	for _, c := range []struct {
		kind Kind
		want float64
	}{{Spike, 3}, {Drop, 0.3}} {
		clean, hit, log := pair(t, Incident{Kind: c.kind})
		near(t, string(c.kind)+" volume ratio", float64(len(hit.Records))/float64(len(clean.Records)), c.want, 0.01)
		if log.Records != simAbs(len(hit.Records)-len(clean.Records)) || log.Total != len(hit.Records) {
			t.Errorf("%s logged %d of %d records", c.kind, log.Records, log.Total)
		}
	}
}

func simAbs(x int) int { return max(x, -x) }

// repeats measures the share of records in (email, profile) pairs seen at
// least 3 times, and the share of emails with such a pair.
func repeats(recs []rec) (recShare, emailShare float64) {
	count := map[[2]string]int{}
	for _, r := range recs {
		count[[2]string{r.str("email"), r.str("profile_id")}]++
	}
	emails, repeated := map[string]bool{}, map[string]bool{}
	var inRepeats int
	for k, n := range count {
		emails[k[0]] = true
		if n >= 3 {
			inRepeats += n
			repeated[k[0]] = true
		}
	}
	return float64(inRepeats) / float64(len(recs)), float64(len(repeated)) / float64(len(emails))
}

func TestIncidentRepeat(t *testing.T) {
	clean, hit, log := pair(t, Incident{Kind: Repeat})
	cr, _ := decode(t, clean)
	hr, _ := decode(t, hit)
	cRec, cEmail := repeats(cr)
	hRec, hEmail := repeats(hr)
	t.Logf("records in 3+ repeats: clean %.3f, hit %.3f; emails repeated: clean %.3f, hit %.3f", cRec, hRec, cEmail, hEmail)
	if cRec > 0.02 || hRec < 0.7 || hEmail < 0.9 {
		t.Error("repeat did not repeat connections on nearly every email")
	}
	// Wrong profiles are mixed in: more emails have several profiles.
	multi := func(recs []rec) (n int) {
		for _, d := range degrees(recs) {
			if d > 1 {
				n++
			}
		}
		return n
	}
	if multi(hr) < 2*multi(cr) {
		t.Errorf("emails with several profiles: clean %d, hit %d: no wrong profiles mixed in", multi(cr), multi(hr))
	}
	// The batch keeps its size; the replaced share is what was asked.
	changed := 0
	for i := range hit.Records {
		if string(hit.Records[i].Value) != string(clean.Records[i].Value) {
			changed++
		}
	}
	near(t, "replaced share", float64(changed)/float64(len(hit.Records)), 0.8, 0.02)
	if len(hit.Records) != len(clean.Records) || log.Records != int(math.Round(0.8*float64(len(hit.Records)))) {
		t.Errorf("repeat: %d records of %d, logged %d", len(hit.Records), len(clean.Records), log.Records)
	}
}

func TestIncidentSupernode(t *testing.T) {
	clean, hit, log := pair(t, Incident{Kind: Supernode})
	cr, _ := decode(t, clean)
	hr, _ := decode(t, hit)
	cleanMax := 0
	for _, d := range degrees(cr) {
		cleanMax = max(cleanMax, d)
	}
	hd := degrees(hr)
	top, topDeg := "", 0
	for e, d := range hd {
		if d > topDeg {
			top, topDeg = e, d
		}
	}
	t.Logf("clean max degree %d; hit: %s has %d", cleanMax, top, topDeg)
	if top != log.Key || topDeg < 4*cleanMax || log.Records < 4*cleanMax {
		t.Errorf("supernode: top %s with %d profiles, logged %s (%d records), clean max %d", top, topDeg, log.Key, log.Records, cleanMax)
	}
	// One super-node only: every other email is as before at most.
	for e, d := range hd {
		if e != top && d > cleanMax {
			t.Errorf("%s has %d profiles, clean max is %d", e, d, cleanMax)
		}
	}
}

func TestIncidentWrong(t *testing.T) {
	for _, c := range []struct {
		field string
		share float64
	}{{"", 0}, {"company", 0.5}, {"profile_id", 0.1}} {
		clean, hit, log := pair(t, Incident{Kind: Wrong, Field: c.field, Share: c.share})
		truth := readTruth(t, newSim(t, incidentCfg))
		cr, _ := decode(t, clean)
		hr, _ := decode(t, hit)
		if _, w := accuracy(cr, truth); w != 0 {
			t.Fatalf("clean batch has %d wrong records", w)
		}
		checked, wrong := accuracy(hr, truth)
		want := c.share
		if want == 0 {
			want = 0.3
		}
		near(t, "wrong share "+c.field, float64(wrong)/float64(checked), want, 0.005)
		if log.Records != wrong {
			t.Errorf("logged %d wrong, measured %d", log.Records, wrong)
		}
		// A field named is the only one wrong.
		for _, r := range hr {
			tr, ok := truth[r.str("email")]
			switch {
			case !ok:
			case c.field == "company" && r.str("profile_id") != tr.ProfileID,
				c.field == "profile_id" && r.str("company") != tr.Company:
				t.Fatalf("wrong %s changed another field: %v vs %+v", c.field, r, tr)
			}
		}
	}
}

func TestIncidentNulls(t *testing.T) {
	nullShare := func(recs []rec, f string) float64 {
		n := 0
		for _, r := range recs {
			if v, ok := r[f]; ok && v == nil {
				n++
			}
		}
		return float64(n) / float64(len(recs))
	}
	clean, hit, _ := pair(t, Incident{Kind: Nulls})
	cr, _ := decode(t, clean)
	hr, _ := decode(t, hit)
	if s := nullShare(cr, "company"); s != 0 {
		t.Errorf("clean company null share %.3f", s)
	}
	near(t, "company null share", nullShare(hr, "company"), 0.5, 0.001)

	_, hit, _ = pair(t, Incident{Kind: Nulls, Field: "score", Share: 0.2})
	hr, _ = decode(t, hit)
	near(t, "score null share", nullShare(hr, "score"), 0.2, 0.001)
}

func TestIncidentShift(t *testing.T) {
	stats := func(recs []rec) (mean, sd float64, n int) {
		var sum, sq float64
		for _, r := range recs {
			if v, ok := r["score"].(float64); ok {
				sum += v
				sq += v * v
				n++
			}
		}
		mean = sum / float64(n)
		return mean, math.Sqrt((sq - float64(n)*mean*mean) / float64(n-1)), n
	}
	// Clean batch means scatter by about one standard error: z-scores of
	// the clean feed's batches stay small, the shifted batch's is 4.
	s := newSim(t, incidentCfg)
	var zs []float64
	for range 48 {
		recs, _ := decode(t, s.Next())
		m, sd, n := stats(recs)
		zs = append(zs, (m-scoreMean)/(sd/math.Sqrt(float64(n))))
	}
	if lo, hi := slices.Min(zs), slices.Max(zs); lo < -3.5 || hi > 3.5 {
		t.Errorf("clean batch mean z-scores span %.2f..%.2f", lo, hi)
	}

	clean, hit, log := pair(t, Incident{Kind: Shift})
	cr, _ := decode(t, clean)
	hr, _ := decode(t, hit)
	cm, csd, n := stats(cr)
	hm, hsd, _ := stats(hr)
	near(t, "shift in standard errors", (hm-cm)/(csd/math.Sqrt(float64(n))), 4, 0.05)
	near(t, "score sd ratio", hsd/csd, 1, 0.01)
	near(t, "logged delta", log.Delta, hm-cm, 0.01)

	_, hit, _ = pair(t, Incident{Kind: Shift, Factor: -6})
	hr, _ = decode(t, hit)
	hm, _, _ = stats(hr)
	near(t, "downward shift in standard errors", (hm-cm)/(csd/math.Sqrt(float64(n))), -6, 0.05)
}

func TestIncidentRename(t *testing.T) {
	_, hit, log := pair(t, Incident{Kind: Rename})
	hr, _ := decode(t, hit)
	for i, r := range hr {
		if _, ok := r["email"]; ok || r.str("email_address") != string(hit.Records[i].Key) {
			t.Fatalf("record %d still has email or lacks email_address: %v", i, r)
		}
	}
	if log.To != "email_address" || log.Records != len(hit.Records) {
		t.Errorf("logged %+v", log)
	}

	_, hit, _ = pair(t, Incident{Kind: Rename, Field: "title", To: `job "title"`, Share: 0.5})
	hr, bad := decode(t, hit)
	renamed := 0
	for _, r := range hr {
		if _, ok := r[`job "title"`]; ok {
			renamed++
		}
	}
	if bad != 0 {
		t.Fatalf("%d records broken by a quoted new name", bad)
	}
	near(t, "renamed share", float64(renamed)/float64(len(hr)), 0.5, 0.001)
}

func TestIncidentMalformed(t *testing.T) {
	clean, hit, log := pair(t, Incident{Kind: Malformed})
	_, cbad := decode(t, clean)
	_, bad := decode(t, hit)
	if cbad != 0 || bad != log.Records {
		t.Errorf("malformed: clean %d bad, hit %d bad, logged %d", cbad, bad, log.Records)
	}
	near(t, "malformed share", float64(bad)/float64(len(hit.Records)), 0.05, 0.001)
	kinds := map[string]int{}
	for _, r := range hit.Records {
		switch {
		case json.Valid(r.Value):
		case r.Value[0] == '{':
			kinds["truncated"]++
		case r.Value[0] == '<':
			kinds["html"]++
		default:
			kinds["binary"]++
		}
	}
	if len(kinds) != 3 {
		t.Errorf("malformed kinds %v, want truncated, html and binary", kinds)
	}
}

// Several incidents on one batch all show.
func TestIncidentsCombined(t *testing.T) {
	cfg := incidentCfg
	cfg.Schedule = []Incident{{Kind: Malformed, Batch: 1}, {Kind: Nulls, Batch: 1, Field: "title", Share: 1}, {Kind: Spike, Batch: 1}}
	s := newSim(t, cfg)
	clean := s.Next()
	b := s.Next()
	recs, bad := decode(t, b)
	if bad == 0 || len(b.Records) < 2*len(clean.Records) {
		t.Errorf("combined: %d bad, %d records", bad, len(b.Records))
	}
	for _, r := range recs {
		if r["title"] != nil {
			t.Fatalf("title not null: %v", r)
		}
	}
	if len(b.Incidents) != 3 || b.Incidents[0].Kind != Spike {
		t.Errorf("incidents %+v, want spike applied first", b.Incidents)
	}
}
