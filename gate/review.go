package gate

import (
	"bytes"
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
)

// The review page at / on the admin listener: the batches held in
// quarantine, with their findings in words and a sample of their records,
// and buttons that release or drop them through the token-guarded API. It
// is rendered on the server from the decisions index (the same one
// /api/batches and the sluice_quarantine_* gauges read); the page's little
// script only calls the API and re-renders the list in place.

//go:embed review.html
var reviewHTML string

var reviewTmpl = template.Must(template.New("review").Parse(reviewHTML))

const (
	// reviewMaxHeld caps the held batches on the page (oldest first);
	// `sluice quarantine list` shows them all.
	reviewMaxHeld = 200
	// reviewMaxRecent caps the recently released or dropped batches.
	reviewMaxRecent = 20
	// reviewSampleRecords records of each held batch are shown, each at
	// most reviewPreviewBytes of its value.
	reviewSampleRecords = 3
	reviewPreviewBytes  = 300
	// reviewSampleWait bounds the reading of all samples of one page;
	// reviewSampleReaders of them are read at once.
	reviewSampleWait    = 3 * time.Second
	reviewSampleReaders = 4
)

// reviewPage serves the review page. Samples are cached per batch: a held
// batch's records never change, so each is read from the quarantine topic
// once. Only previews are kept (already redacted), never record values.
type reviewPage struct {
	a *Admin

	mu      sync.Mutex
	samples map[string][]samplePreview // by batch id
}

func newReviewPage(a *Admin) *reviewPage {
	return &reviewPage{a: a, samples: map[string][]samplePreview{}}
}

// samplePreview is one record of a sample, as the page shows it.
type samplePreview struct {
	Offset int64
	Key    string // the Kafka key, only when the feed does not redact keys
	Value  string // the preview; empty when Note says why it is not shown
	Note   string
}

type reviewData struct {
	Nonce           string
	Now             string
	NotStarted      bool
	TokenConfigured bool
	Feeds           []feedSummary
	Held            []heldRow
	HeldTotal       int
	HeldHidden      int
	Halted          []haltedPartition
	Recent          []recentRow
}

// feedSummary carries the numbers of sluice_quarantine_held_batches and
// sluice_quarantine_oldest_age_seconds for one feed.
type feedSummary struct {
	Name          string
	Held          int
	OldestSeconds float64
	Oldest        string
}

type heldRow struct {
	Batch, Feed, State, Verdict string
	Partition                   int32
	FirstOffset, LastOffset     int64
	Records                     int
	Bytes                       int64
	Age, DecidedAt              string
	Shadow                      bool
	Findings                    []findingRow
	Sample                      []samplePreview
	SampleNote                  string
}

type findingRow struct {
	Verdict, Text string
	Examples      []string
}

type haltedPartition struct {
	Feed      string
	Partition int32
	Batch     string
}

type recentRow struct {
	Batch, Feed, State     string
	Records                int
	By, Reason, At, AtTime string
}

func (rp *reviewPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	data := reviewData{Nonce: hex.EncodeToString(nonce), TokenConfigured: rp.a.token != ""}
	code := http.StatusOK
	if t := rp.a.g.tailOrNil(); t == nil {
		data.NotStarted = true
		code = http.StatusServiceUnavailable
	} else {
		rp.fill(r.Context(), t, &data)
	}
	// ?part=content is the lists alone, for the page's script to re-render
	// them in place after a release or drop.
	name := "review"
	if r.URL.Query().Get("part") == "content" {
		name = "content"
	}
	var buf bytes.Buffer
	if err := reviewTmpl.ExecuteTemplate(&buf, name, &data); err != nil {
		http.Error(w, "cannot render the review page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// The page shows record samples: keep it out of caches, other
	// origins' frames and referrers; only its own nonce'd script and
	// style run, and it talks only to this server.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", fmt.Sprintf("default-src 'none'; script-src 'nonce-%[1]s'; style-src 'nonce-%[1]s'; "+
		"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'", data.Nonce))
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func (rp *reviewPage) fill(ctx context.Context, t *tail, data *reviewData) {
	now := time.Now()
	data.Now = now.UTC().Format(time.RFC3339)
	held := t.held() // oldest first
	data.HeldTotal = len(held)

	// The header: the same numbers, computed the same way, as the
	// heldCollector's gauges.
	count := map[string]int{}
	oldest := map[string]time.Time{}
	for _, d := range held {
		count[d.Feed]++
		if o, ok := oldest[d.Feed]; !ok || d.DecidedAt.Before(o) {
			oldest[d.Feed] = d.DecidedAt
		}
	}
	for i := range rp.a.g.current.Load().Feeds {
		fs := feedSummary{Name: rp.a.g.current.Load().Feeds[i].Name, Oldest: "none held"}
		fs.Held = count[fs.Name]
		if o, ok := oldest[fs.Name]; ok {
			fs.OldestSeconds = now.Sub(o).Seconds()
			fs.Oldest = humanAge(now.Sub(o))
		}
		data.Feeds = append(data.Feeds, fs)
	}

	if len(held) > reviewMaxHeld {
		data.HeldHidden = len(held) - reviewMaxHeld
		held = held[:reviewMaxHeld]
	}
	samples := rp.sampleAll(ctx, held)
	for _, d := range held {
		row := heldRow{Batch: d.Batch, Feed: d.Feed, State: d.State, Verdict: d.Verdict.String(), Partition: d.Partition,
			FirstOffset: d.FirstOffset, LastOffset: d.LastOffset, Records: d.Records, Bytes: d.Bytes,
			Age: humanAge(now.Sub(d.DecidedAt)), DecidedAt: d.DecidedAt.UTC().Format(time.RFC3339), Shadow: d.Shadow}
		for i := range d.Findings {
			f := &d.Findings[i]
			row.Findings = append(row.Findings, findingRow{Verdict: f.Verdict.String(), Text: FindingText(f), Examples: f.Examples})
		}
		s := samples[d.Batch]
		row.Sample, row.SampleNote = s.recs, s.note
		data.Held = append(data.Held, row)
	}

	// Partitions still halted: a halt lasts until resumed, whether or not
	// its batch was released or dropped since.
	all := t.decisions()
	seen := map[haltedPartition]bool{}
	for _, d := range all {
		if d.Verdict != detectors.Halt {
			continue
		}
		hp := haltedPartition{Feed: d.Feed, Partition: d.Partition}
		if seen[hp] {
			continue
		}
		seen[hp] = true
		if b := t.haltedBatch(d.Feed, d.Partition); b != "" {
			hp.Batch = b
			data.Halted = append(data.Halted, hp)
		}
	}
	sort.Slice(data.Halted, func(i, j int) bool {
		a, b := data.Halted[i], data.Halted[j]
		return a.Feed < b.Feed || a.Feed == b.Feed && a.Partition < b.Partition
	})

	// Recently released or dropped, newest change first.
	var recent []*Decision
	for _, d := range all {
		if d.State == StateReleased || d.State == StateDropped {
			recent = append(recent, d)
		}
	}
	changedAt := func(d *Decision) time.Time {
		if d.Change != nil {
			return d.Change.At
		}
		return d.DecidedAt
	}
	sort.Slice(recent, func(i, j int) bool { return changedAt(recent[i]).After(changedAt(recent[j])) })
	if len(recent) > reviewMaxRecent {
		recent = recent[:reviewMaxRecent]
	}
	for _, d := range recent {
		at := changedAt(d)
		row := recentRow{Batch: d.Batch, Feed: d.Feed, State: d.State, Records: d.Records,
			At: humanAge(now.Sub(at)) + " ago", AtTime: at.UTC().Format(time.RFC3339)}
		if c := d.Change; c != nil {
			row.By, row.Reason = c.By, c.Reason
		}
		data.Recent = append(data.Recent, row)
	}
}

type sampleResult struct {
	recs []samplePreview
	note string
}

// sampleAll reads the first records of each held batch from the quarantine
// topic, a few batches at a time, within reviewSampleWait in all. A batch
// whose sample is not read in time says so; the next page load tries again.
func (rp *reviewPage) sampleAll(ctx context.Context, held []*Decision) map[string]sampleResult {
	out := make(map[string]sampleResult, len(held))
	rp.mu.Lock()
	keep := make(map[string][]samplePreview, len(held))
	var todo []*Decision
	for _, d := range held {
		if s, ok := rp.samples[d.Batch]; ok {
			keep[d.Batch] = s
			out[d.Batch] = sampleResult{recs: s, note: sampleNote(len(s), d)}
		} else {
			todo = append(todo, d)
		}
	}
	rp.samples = keep // forget batches no longer held
	rp.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, reviewSampleWait)
	defer cancel()
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, reviewSampleReaders)
	)
	for _, d := range todo {
		f := feedOf(rp.a.g.current.Load(), d.Batch)
		switch {
		case f == nil:
			out[d.Batch] = sampleResult{note: "no sample: feed " + d.Feed + " is not in this gate's config"}
			continue
		case d.Quarantine == nil:
			out[d.Batch] = sampleResult{note: "no sample: the decision does not say where the records are"}
			continue
		}
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
			}
			res := rp.sample(ctx, f, d)
			mu.Lock()
			out[d.Batch] = res
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func (rp *reviewPage) sample(ctx context.Context, f *config.Feed, d *Decision) sampleResult {
	if ctx.Err() != nil {
		return sampleResult{note: "sample not read in time; reload to try again (or: sluice quarantine show " + d.Batch + ")"}
	}
	recs, err := BatchRecords(ctx, rp.a.g.current.Load(), d, reviewSampleRecords, rp.a.g.opts.KafkaOpts...)
	if err != nil {
		if ctx.Err() != nil {
			return sampleResult{note: "sample not read in time; reload to try again (or: sluice quarantine show " + d.Batch + ")"}
		}
		return sampleResult{note: "cannot read a sample: " + err.Error()}
	}
	ps := make([]samplePreview, 0, len(recs))
	for _, r := range recs {
		p := samplePreview{Offset: r.Offset}
		p.Value, p.Note = previewFor(f, r.Value)
		if !f.RedactKeysOrDefault() && len(r.Key) > 0 {
			p.Key = RecordPreview(r.Key, "", false, 80)
		}
		ps = append(ps, p)
	}
	rp.mu.Lock()
	rp.samples[d.Batch] = ps
	rp.mu.Unlock()
	return sampleResult{recs: ps, note: sampleNote(len(ps), d)}
}

// sampleNote says what a sample is. Offsets on the page are those of the
// quarantine topic, as `sluice quarantine show` prints them.
func sampleNote(n int, d *Decision) string {
	return fmt.Sprintf("first %d of %d records, at their offsets in %s/%d", n, d.Records, d.Quarantine.Topic, d.Quarantine.Partition)
}

// previewFor renders a record value for the page. When the feed redacts
// keys, a value RecordPreview cannot redact (not JSON, so the key field
// cannot be found and replaced) is not shown at all: it may hold the key
// in clear. The Kafka key is never shown then either (see sample).
func previewFor(f *config.Feed, v []byte) (value, note string) {
	redact := f.RedactKeysOrDefault()
	switch {
	case len(v) == 0:
		return "", "empty value"
	case redact && f.Key != "" && !json.Valid(v):
		return "", fmt.Sprintf("%d bytes, not JSON: not shown because feed %s redacts keys (sluice quarantine export shows it)", len(v), f.Name)
	case !utf8.Valid(v):
		return "", fmt.Sprintf("%d bytes of binary", len(v))
	}
	return RecordPreview(v, f.Key, redact, reviewPreviewBytes), ""
}

// humanAge is a duration as a person reads an age: 45s, 12m, 3h05m, 2d4h.
func humanAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd%dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}
