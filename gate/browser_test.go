package gate

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// browserDir holds the browser test: its package.json, lockfile and
// review.test.mjs; `npm ci` there installs playwright-core (no browser).
const browserDir = "../test/browser"

// needTool skips a test for want of a tool outside CI, and fails it in CI,
// where every test must run.
func needTool(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI is set and a test tool is missing: "+format, args...)
	}
	t.Skipf("skipping: "+format, args...)
}

// TestBrowserReviewPageReleasesABatch drives the review page in headless
// Chromium against a real gate: the quarantined batch is listed, and
// releasing it through the page (token, confirmation) makes it released.
func TestBrowserReviewPageReleasesABatch(t *testing.T) {
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		needTool(t, "no Chromium at %s; install it with `apt-get install -y chromium` (or set CHROMIUM)", chromium)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		needTool(t, "no node on PATH; install Node.js 20 or later (playwright-core needs it)")
	}
	v, err := exec.Command(node, "--version").Output()
	major, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(string(v)), "v"), ".")
	if n, _ := strconv.Atoi(major); err != nil || n < 20 {
		needTool(t, "node %s (%v); playwright-core needs Node.js 20 or later", strings.TrimSpace(string(v)), err)
	}
	if _, err := os.Stat(filepath.Join(browserDir, "node_modules", "playwright-core", "package.json")); err != nil {
		needTool(t, "playwright-core is not installed; run `npm ci` in test/browser")
	}

	fx := startReviewFixture(t, feedConfig("", "quarantine"))
	shots := os.Getenv("SLUICE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "review.test.mjs", fx.base+"/", fx.token, fx.id, shots)
	cmd.Dir = browserDir
	cmd.Env = append(os.Environ(), "CHROMIUM="+chromium)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("node review.test.mjs (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("the browser test failed: %v", err)
	}
	// What the page showed is what the index holds.
	var d Decision
	_, body := httpDo(t, "GET", fx.base+"/api/batches/"+fx.id, "")
	if err := json.Unmarshal([]byte(body), &d); err != nil || d.State != StateReleased || d.Change == nil || d.Change.Reason != "vendor confirmed the delivery" {
		t.Fatalf("after the browser test, %s is %s", fx.id, body)
	}
	if got := consume(t, fx.r.g.cfg.Brokers, "out", 20, 10*time.Second); len(got) != 20 {
		t.Fatalf("output has %d records after the release, want 20", len(got))
	}
	fx.r.stop(t)
}
