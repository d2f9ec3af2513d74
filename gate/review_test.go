package gate

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
)

// reviewFixture runs a gate on kfake with a token-guarded admin server and
// one quarantined batch, sponsors:0:10 (records 10-19 of partition 0;
// record 12 breaks the email rule, record 11 is not JSON).
type reviewFixture struct {
	base, token, id string
	emails          []string // the batch's entity keys
	r               *running
}

func startReviewFixture(t *testing.T, yaml string) *reviewFixture {
	t.Helper()
	brokers := cluster(t, 1, "in")
	in := input(1, 20, func(_ int32, i int) bool { return i == 12 })
	in[11].Value = []byte(`not json, but it names alice@example.org`)
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, yaml)
	fx := &reviewFixture{token: "s3cret-review", id: "sponsors:0:10", emails: []string{"alice@example.org", "not-an-email"}}
	for i := 10; i < 20; i++ {
		if i != 11 && i != 12 {
			fx.emails = append(fx.emails, "user0."+strconv.Itoa(i)+"@example.com")
		}
	}
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokenFile, []byte(fx.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Admin.TokenFile = tokenFile
	fx.r = startGate(t, cfg, Options{})
	fx.base = startAdmin(t, fx.r.g)
	waitFor(t, "the quarantined batch in the index", 30*time.Second, func() bool {
		_, body := httpDo(t, "GET", fx.base+"/api/batches?state=quarantined", "")
		return strings.Contains(body, `"`+fx.id+`"`)
	})
	return fx
}

func getPage(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestReviewPageListsQuarantinedBatchRedacted(t *testing.T) {
	fx := startReviewFixture(t, feedConfig("", "quarantine"))
	var d Decision
	_, body := httpDo(t, "GET", fx.base+"/api/batches/"+fx.id, "")
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("GET /api/batches/%s: %s", fx.id, body)
	}

	code, h, page := getPage(t, fx.base+"/")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %s", code, h.Get("Content-Type"))
	}
	wellFormed(t, page)
	for _, want := range []string{
		`<tbody class="batch" data-batch="` + fx.id + `"`,
		`<span class="id">` + fx.id + `</span>`,
		`<span class="badge state quarantined">quarantined</span>`,
		`<td class="num">10</td>`, // records
		`first 3 of 10 records, at their offsets in quar/0`,
		`@0</span>`, `@2</span>`,
		`data-action="release"`, `data-action="drop"`,
		`<span class="big held-count">1</span> held batch`,
		`id="token"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if len(d.Findings) == 0 {
		t.Fatalf("decision without findings: %s", body)
	}
	for i := range d.Findings {
		if txt := FindingText(&d.Findings[i]); !strings.Contains(html.UnescapeString(page), txt) {
			t.Errorf("the page lacks finding %q", txt)
		}
	}
	// Keys are redacted: the key field shows its hash; a value that cannot
	// be redacted (not JSON) is not shown; no key appears in clear.
	if want := "redacted:" + detectors.KeyHashString(xxhash.Sum64String("user0.10@example.com")); !strings.Contains(page, want) {
		t.Errorf("the sample lacks the key hash %s", want)
	}
	if !strings.Contains(page, "not JSON: not shown because feed sponsors redacts keys") {
		t.Error("the page does not say why the non-JSON record is hidden")
	}
	for _, k := range fx.emails {
		if strings.Contains(html.UnescapeString(page), k) {
			t.Errorf("the page shows the key %s in clear", k)
		}
	}
	// The header has the numbers of the sluice_quarantine_* gauges.
	_, metrics := httpDo(t, "GET", fx.base+"/metrics", "")
	if !strings.Contains(metrics, `sluice_quarantine_held_batches{feed="sponsors"} 1`) {
		t.Errorf("/metrics disagrees with the page: %s", grepLines(metrics, "sluice_quarantine"))
	}
	// Only the page's own script and style run.
	csp := h.Get("Content-Security-Policy")
	m := regexp.MustCompile(`script-src 'nonce-([^']+)'`).FindStringSubmatch(csp)
	if m == nil || !strings.Contains(page, `<script nonce="`+m[1]+`">`) || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q does not match the page's script nonce", csp)
	}
	if h.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", h.Get("Cache-Control"))
	}
	if strings.Contains(page, "<form") {
		t.Error("the page has a form: a submitted form could put the token in a URL")
	}

	// The lists alone, as the page's script re-renders them.
	if code, _, part := getPage(t, fx.base+"/?part=content"); code != 200 || !strings.HasPrefix(part, `<main id="content"`) ||
		!strings.Contains(part, `data-batch="`+fx.id+`"`) || strings.Contains(part, "<html") || strings.Contains(part, "<style") {
		t.Errorf("GET /?part=content: %d\n%.300s", code, part)
	}

	// Released, it leaves the held list for the recent one, and the
	// header counts follow.
	if code, body := httpDo(t, "POST", fx.base+"/api/batches/"+fx.id+"/release", fx.token); code != 200 {
		t.Fatalf("release: %d %s", code, body)
	}
	waitFor(t, "the page to show the release", 10*time.Second, func() bool {
		_, _, page = getPage(t, fx.base+"/")
		return !strings.Contains(page, `data-batch="`+fx.id+`" data-feed`)
	})
	wellFormed(t, page)
	for _, want := range []string{
		`<tr data-batch="` + fx.id + `">`,
		`<span class="badge state released">released</span>`,
		`<td class="mono">admin-api</td>`,
		`<td>test</td>`, // httpDo's reason
		`<span class="big held-count">0</span> held batches`,
		`Nothing is held`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("after release, the page lacks %s", want)
		}
	}
	fx.r.stop(t)
}

func TestReviewPageShowsKeysWhenNotRedactedAndEscapes(t *testing.T) {
	yaml := strings.Replace(feedConfig("", "quarantine"), "    key: email\n", "    key: email\n    redact_keys: false\n", 1)
	if !strings.Contains(yaml, "redact_keys: false") {
		t.Fatal("cannot set redact_keys in the test config")
	}
	brokers := cluster(t, 1, "in")
	in := input(1, 10, func(_ int32, i int) bool { return i == 1 })
	in[0].Value = []byte(`{"email":"x@example.com","profile_id":"<img src=x onerror=alert(1)>"}`)
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, yaml)
	r := startGate(t, cfg, Options{})
	base := startAdmin(t, r.g)
	waitFor(t, "the quarantined batch", 30*time.Second, func() bool {
		_, body := httpDo(t, "GET", base+"/api/batches?state=quarantined", "")
		return strings.Contains(body, `"sponsors:0:0"`)
	})
	_, _, page := getPage(t, base+"/")
	wellFormed(t, page)
	for _, want := range []string{
		`x@example.com`, // the key field, in clear
		`not-an-email`,
		`&lt;img src=x onerror=alert(1)&gt;`,
		`<span class="key">key k0</span>`, // the Kafka key
		`Release and drop are disabled`,   // no token configured
		`data-action="release" disabled`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(page, "<img") {
		t.Error("a record value reached the page unescaped")
	}
	r.stop(t)
}

func TestReviewPageBeforeTheGateStarts(t *testing.T) {
	g, err := New(parseConfig(t, []string{"127.0.0.1:1"}, feedConfig("", "quarantine")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := startAdmin(t, g)
	code, _, page := getPage(t, base+"/")
	if code != http.StatusServiceUnavailable || !strings.Contains(page, "The gate has not started yet") {
		t.Fatalf("GET / of a gate not started: %d\n%s", code, page)
	}
	wellFormed(t, page)
	if code, _, _ := getPage(t, base+"/nothing-here"); code != http.StatusNotFound {
		t.Fatalf("GET /nothing-here: %d, want 404 (the page is at / only)", code)
	}
}

func TestReviewPreviewAndAge(t *testing.T) {
	redacting := &config.Feed{Name: "f", Key: "email"}
	open := &config.Feed{Name: "f", Key: "email", RedactKeys: new(false)}
	for _, c := range []struct {
		f         *config.Feed
		in        string
		want, not string
		note      string
	}{
		{redacting, `{"email":"a@b.c","n":1}`, `"email":"redacted:`, "a@b.c", ""},
		{redacting, `{"email":"a@b.c",`, "", "a@b.c", "not JSON"},
		{redacting, "", "", "", "empty value"},
		{open, `{"email":"a@b.c"}`, `a@b.c`, "redacted", ""},
		{open, "\xff\xfe\x00", "", "", "3 bytes of binary"},
		{&config.Feed{Name: "f"}, `raw a@b.c`, `raw a@b.c`, "", ""}, // the key is the Kafka key
	} {
		v, note := previewFor(c.f, []byte(c.in))
		if !strings.Contains(v, c.want) || c.not != "" && strings.Contains(v+note, c.not) || !strings.Contains(note, c.note) {
			t.Errorf("previewFor(%q, redact %v): %q, note %q", c.in, c.f.RedactKeysOrDefault(), v, note)
		}
	}
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 42 * time.Second: "42s", 3*time.Minute + 7*time.Second: "3m07s",
		2*time.Hour + 5*time.Minute: "2h05m", 50 * time.Hour: "2d2h",
	} {
		if got := humanAge(d); got != want {
			t.Errorf("humanAge(%v) = %q, want %q", d, got, want)
		}
	}
}

// wellFormed checks what a template change could break: the page is one
// document, and its block elements open and close in pairs.
func wellFormed(t *testing.T, page string) {
	t.Helper()
	if !strings.HasPrefix(page, "<!doctype html>") || !strings.HasSuffix(strings.TrimSpace(page), "</html>") {
		t.Errorf("the page is not one HTML document: %.80q … %.80q", page, page[max(0, len(page)-80):])
	}
	for _, tag := range []string{"html", "head", "body", "main", "section", "table", "thead", "tbody", "tr", "td", "th", "ul", "ol", "li", "script", "style", "div", "span", "p", "code"} {
		opens := len(regexp.MustCompile(`<`+tag+`[\s>]`).FindAllStringIndex(page, -1))
		closes := strings.Count(page, "</"+tag+">")
		if opens != closes {
			t.Errorf("<%s>: %d opened, %d closed", tag, opens, closes)
		}
	}
	if strings.Contains(page, "ZgotmplZ") {
		t.Error("html/template refused a value (ZgotmplZ in the page)")
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
