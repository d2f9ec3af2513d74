package report

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/detectors"
)

// The browser test opens the report in headless Chromium, driven over the
// DevTools protocol on a pipe (--remote-debugging-pipe: no port, no
// dependency), and checks what the page lays out and paints.
//
// SLUICE_CHROMIUM names the browser (default: chromium, chromium-browser,
// google-chrome on PATH). SLUICE_REPORT_SCREENSHOT=FILE.png keeps the
// screenshot. With CI set, a missing browser fails the test.

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SLUICE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no headless Chromium: install it (Debian/Ubuntu: apt-get install chromium) or set SLUICE_CHROMIUM to the browser's path"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI must run the browser test")
	}
	t.Skip(msg)
	return ""
}

// cdp is a DevTools protocol connection over Chromium's pipe: JSON
// messages, each ended by a NUL byte.
type cdp struct {
	w      *os.File
	in     chan cdpMessage
	done   chan error
	id     int
	events []cdpMessage
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// startChromium starts a headless browser with the DevTools pipe on fds 3
// (commands in) and 4 (replies out).
func startChromium(t *testing.T, ctx context.Context, bin string) *cdp {
	t.Helper()
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--hide-scrollbars", "--mute-audio",
		"--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, outW}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", bin, err)
	}
	cmdR.Close()
	outW.Close()
	c := &cdp{w: cmdW, in: make(chan cdpMessage, 64), done: make(chan error, 1)}
	go func() {
		br := bufio.NewReaderSize(outR, 1<<20)
		for {
			b, err := br.ReadBytes(0)
			if err != nil {
				c.done <- err
				close(c.in)
				return
			}
			var m cdpMessage
			if err := json.Unmarshal(b[:len(b)-1], &m); err == nil {
				c.in <- m
			}
		}
	}()
	t.Cleanup(func() {
		cmdW.Close() // Chromium exits when its pipe closes
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() && testing.Verbose() {
			var keep []string
			for _, l := range strings.Split(stderr.String(), "\n") {
				if !strings.Contains(l, "dbus") {
					keep = append(keep, l)
				}
			}
			t.Logf("chromium stderr:\n%s", strings.Join(keep, "\n"))
		}
	})
	return c
}

// call sends a command and waits for its reply, keeping the events that
// arrive meanwhile.
func (c *cdp) call(ctx context.Context, session, method string, params any, result any) error {
	c.id++
	msg := map[string]any{"id": c.id, "method": method, "params": params}
	if session != "" {
		msg["sessionId"] = session
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := c.w.Write(append(b, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				return fmt.Errorf("%s: chromium closed the pipe: %v", method, <-c.done)
			}
			if m.ID == 0 {
				c.events = append(c.events, m)
				continue
			}
			if m.ID != c.id {
				continue
			}
			if m.Error != nil {
				return fmt.Errorf("%s: %s", method, m.Error.Message)
			}
			if result != nil {
				return json.Unmarshal(m.Result, result)
			}
			return nil
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", method, ctx.Err())
		}
	}
}

// wait waits for an event of a session.
func (c *cdp) wait(ctx context.Context, session, method string) error {
	for i := 0; ; i++ {
		for ; i < len(c.events); i++ {
			if c.events[i].Method == method && c.events[i].SessionID == session {
				return nil
			}
		}
		select {
		case m, ok := <-c.in:
			if !ok {
				return fmt.Errorf("waiting for %s: chromium closed the pipe", method)
			}
			c.events = append(c.events, m)
			i--
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", method, ctx.Err())
		}
	}
}

// eval evaluates a JavaScript expression in the page and decodes its JSON
// value into v.
func (c *cdp) eval(ctx context.Context, session, expr string, v any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := c.call(ctx, session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return err
	}
	if e := res.ExceptionDetails; e != nil {
		return fmt.Errorf("page script: %s %s", e.Text, e.Exception.Description)
	}
	return json.Unmarshal(res.Result.Value, v)
}

// layout is what the page script below reports.
type layout struct {
	ScrollWidth, InnerWidth, Height int
	Resources                       int
	Suggestions, Flagged            int
	Strip                           int
	Metrics                         []struct {
		ID                          string
		X, Y, W, H                  float64
		Points, Hits, HitsInside    int
		Visible                     int
		Threshold, Suggested, Bars  int
		HistW                       float64
		HitFill, PassFill           string
		FirstHitTitle, FirstHitLink string
	}
}

const layoutScript = `(() => {
  const inside = (el, box) => { const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1; };
  const fill = el => el ? getComputedStyle(el).fill : "";
  const metrics = [...document.querySelectorAll("article.metric")].map(a => {
    const s = a.querySelector("svg.chart.series"), h = a.querySelector("svg.chart.hist");
    const box = s.getBoundingClientRect();
    const hits = [...s.querySelectorAll(".pt.hit")];
    const hit = hits[0];
    return {
      ID: a.id, X: box.left, Y: box.top + scrollY, W: box.width, H: box.height,
      Points: s.querySelectorAll(".pt").length,
      Visible: [...s.querySelectorAll(".pt")].filter(p => inside(p, box)).length,
      Hits: hits.length, HitsInside: hits.filter(p => inside(p, box)).length,
      Threshold: [...s.querySelectorAll(".threshold")].filter(l => l.getBoundingClientRect().width > 0).length,
      Suggested: [...s.querySelectorAll(".suggested")].filter(l => l.getBoundingClientRect().width > 0).length,
      Bars: h ? [...h.querySelectorAll("rect.bar")].filter(b => b.getBoundingClientRect().height > 0).length : -1,
      HistW: h ? h.getBoundingClientRect().width : 0,
      HitFill: fill(hit), PassFill: fill(s.querySelector(".pt.pass")),
      FirstHitTitle: hit ? hit.querySelector("title").textContent : "",
      FirstHitLink: hit ? hit.parentElement.getAttribute("href") : "",
    };
  });
  return {
    ScrollWidth: document.documentElement.scrollWidth, InnerWidth: innerWidth,
    Height: document.documentElement.scrollHeight,
    Resources: performance.getEntriesByType("resource").length,
    Suggestions: document.querySelectorAll("tr.suggestion").length,
    Flagged: document.querySelectorAll("tr.batch").length,
    Strip: document.querySelectorAll("svg.strip rect.cell").length,
    Metrics: metrics,
  };
})()`

func TestBrowser(t *testing.T) {
	bin := chromiumPath(t)
	rep := syntheticReport(t)
	path := filepath.Join(t.TempDir(), "report.html")
	if err := rep.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := startChromium(t, ctx, bin)

	const width = 1280
	var target struct{ TargetID string }
	if err := c.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		t.Fatal(err)
	}
	var attached struct{ SessionID string }
	if err := c.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached); err != nil {
		t.Fatal(err)
	}
	s := attached.SessionID
	for _, step := range []struct {
		method string
		params any
	}{
		{"Page.enable", nil},
		{"Network.enable", nil},
		{"Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": false}},
		{"Page.navigate", map[string]any{"url": (&url.URL{Scheme: "file", Path: path}).String()}},
	} {
		if err := c.call(ctx, s, step.method, step.params, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.wait(ctx, s, "Page.loadEventFired"); err != nil {
		t.Fatal(err)
	}

	// Nothing but the page itself was requested.
	for _, e := range c.events {
		if e.Method != "Network.requestWillBeSent" {
			continue
		}
		var req struct{ Request struct{ URL string } }
		json.Unmarshal(e.Params, &req)
		if !strings.HasPrefix(req.Request.URL, "file://") || !strings.HasSuffix(req.Request.URL, "report.html") {
			t.Errorf("the page requested %s: it must load nothing", req.Request.URL)
		}
	}

	var got layout
	if err := c.eval(ctx, s, layoutScript, &got); err != nil {
		t.Fatal(err)
	}
	if got.Resources != 0 {
		t.Errorf("%d resources loaded, want none", got.Resources)
	}
	if got.ScrollWidth > got.InnerWidth {
		t.Errorf("the page is %dpx wide in a %dpx window", got.ScrollWidth, got.InnerWidth)
	}

	// What the page must show, from the report's own data.
	as := rep.analyze()
	sum := rep.Summary()
	if len(got.Metrics) != len(as) {
		t.Fatalf("%d metric charts, want %d (one per detector metric)", len(got.Metrics), len(as))
	}
	if got.Suggestions != len(rep.Suggestions()) || got.Flagged != sum.Flagged || got.Strip != sum.Batches {
		t.Errorf("%d suggestion rows, %d flagged rows, %d strip cells; want %d, %d, %d",
			got.Suggestions, got.Flagged, got.Strip, len(rep.Suggestions()), sum.Flagged, sum.Batches)
	}
	for i, a := range as {
		m := got.Metrics[i]
		name := a.detector + " " + a.metric
		if m.ID != anchor(a.detector, a.metric) {
			t.Errorf("chart %d is %s, want %s", i, m.ID, anchor(a.detector, a.metric))
		}
		if m.W < 400 || m.H < 120 || (len(a.clean) > 0 && m.HistW < 200) {
			t.Errorf("%s: chart %.0f×%.0f, histogram %.0f wide: too small to read", name, m.W, m.H, m.HistW)
		}
		// A point per judged batch with a score; a diamond for each
		// batch this metric flagged, drawn inside the chart.
		points, hits := 0, 0
		for _, p := range a.points {
			if !a.plotted(&p) {
				continue
			}
			points++
			if p.verdict != detectors.Pass {
				hits++
			}
		}
		if m.Points != points || m.Visible != points {
			t.Errorf("%s: %d points, %d inside the chart; want %d", name, m.Points, m.Visible, points)
		}
		if m.Hits != hits || m.HitsInside != hits {
			t.Errorf("%s: %d flagged markers, %d inside the chart; want %d", name, m.Hits, m.HitsInside, hits)
		}
		if hits > 0 {
			if m.HitFill == m.PassFill || m.HitFill == "" || m.HitFill == "none" {
				t.Errorf("%s: flagged markers are filled %q, clean ones %q: they must stand out", name, m.HitFill, m.PassFill)
			}
			if !strings.Contains(m.FirstHitTitle, "sponsors:0:") || !strings.HasPrefix(m.FirstHitLink, "#b") {
				t.Errorf("%s: a flagged marker's title %q and link %q should name its batch", name, m.FirstHitTitle, m.FirstHitLink)
			}
		}
		if a.fixed && m.Threshold == 0 {
			t.Errorf("%s: no threshold line", name)
		}
		if a.sug != nil && m.Suggested == 0 {
			t.Errorf("%s: no suggested threshold line", name)
		}
		if len(a.clean) > 0 && m.Bars == 0 {
			t.Errorf("%s: the histogram has no bars", name)
		}
	}

	// The screenshot: the whole page, checked for the flagged markers'
	// colour inside the first chart that has some.
	var shot struct{ Data string }
	if err := c.call(ctx, s, "Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true,
		"clip": map[string]any{"x": 0, "y": 0, "width": width, "height": got.Height, "scale": 1}}, &shot); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("SLUICE_REPORT_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot in %s", out)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != got.Height {
		t.Errorf("screenshot %v, want %d×%d", b, width, got.Height)
	}
	for i, a := range as {
		if a.hits == 0 {
			continue
		}
		m := got.Metrics[i]
		red := countColor(img, image.Rect(int(m.X), int(m.Y), int(m.X+m.W), int(m.Y+m.H)), color.RGBA{0xd0, 0x34, 0x3a, 0xff})
		if red < 10 {
			t.Errorf("%s: %d quarantine-red pixels in the chart, want the flagged markers painted", a.metric, red)
		}
		break
	}
}

// countColor counts the pixels of r that are c (give or take rounding).
func countColor(img image.Image, r image.Rectangle, c color.RGBA) int {
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			if near(pr>>8, c.R) && near(pg>>8, c.G) && near(pb>>8, c.B) {
				n++
			}
		}
	}
	return n
}

func near(a uint32, b uint8) bool { return a+3 >= uint32(b) && a <= uint32(b)+3 }
