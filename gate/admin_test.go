package gate

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func startAdmin(t *testing.T, g *Gate) string {
	t.Helper()
	a, err := NewAdmin(g)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go a.Serve(ctx)
	return "http://" + a.Addr()
}

func httpDo(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(`{"reason":"test"}`))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitFor(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAdminReadinessMetricsAndResume(t *testing.T) {
	brokers := cluster(t, 2, "in")
	in := input(2, 30, func(p int32, i int) bool { return p == 1 && i == 12 })
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, feedConfig("", "halt"))
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Admin.TokenFile = tokenFile
	r := startGate(t, cfg, Options{})
	base := startAdmin(t, r.g)

	if code, _ := httpDo(t, "GET", base+"/healthz", ""); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	waitFor(t, "/readyz 200", 20*time.Second, func() bool { code, _ := httpDo(t, "GET", base+"/readyz", ""); return code == 200 })
	waitFor(t, "the halt", 20*time.Second, func() bool {
		_, body := httpDo(t, "GET", base+"/api/batches?state=halted", "")
		return strings.Contains(body, `"sponsors:1:10"`)
	})
	_, metrics := httpDo(t, "GET", base+"/metrics", "")
	for _, m := range []string{"sluice_records_total", "sluice_batches_total", "sluice_batch_duration_seconds", "sluice_detector_findings_total",
		"sluice_detector_score", `sluice_quarantine_held_batches{feed="sponsors"} 1`, "sluice_quarantine_oldest_age_seconds",
		`sluice_partition_halted{feed="sponsors",partition="1"} 1`, "sluice_config_reload_success 1", "sluice_build_info"} {
		if !strings.Contains(metrics, m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	resume := base + "/api/feeds/sponsors/partitions/1/resume"
	if code, body := httpDo(t, "POST", resume, ""); code != 401 {
		t.Fatalf("resume without a token: %d %s", code, body)
	}
	if code, body := httpDo(t, "POST", resume, "wrong"); code != 401 {
		t.Fatalf("resume with a wrong token: %d %s", code, body)
	}
	if code, body := httpDo(t, "POST", resume, "s3cret"); code != 202 {
		t.Fatalf("resume: %d %s", code, body)
	}
	if out := consume(t, brokers, "out", 50, 20*time.Second); len(out) != 50 {
		t.Fatalf("output has %d records after resume, want 50", len(out))
	}
	var d Decision
	_, body := httpDo(t, "GET", base+"/api/batches/sponsors:1:10", "")
	if err := json.Unmarshal([]byte(body), &d); err != nil || d.State != StateHalted {
		t.Fatalf("GET /api/batches/sponsors:1:10: %s", body)
	}
	r.stop(t)
}

func TestAdminRefusesMutationsWithoutAToken(t *testing.T) {
	// A gate that has not started: not ready, and no token configured.
	g, err := New(parseConfig(t, []string{"127.0.0.1:1"}, feedConfig("", "halt")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := startAdmin(t, g)
	code, body := httpDo(t, "POST", base+"/api/feeds/sponsors/partitions/0/resume", "anything")
	if code != 403 || !strings.Contains(body, "admin.token_file") {
		t.Fatalf("got %d %s; want 403 saying how to configure a token", code, body)
	}
	if code, body := httpDo(t, "GET", base+"/readyz", ""); code != 503 || !strings.Contains(body, "reasons") {
		t.Fatalf("/readyz of a gate not started: %d %s", code, body)
	}
}
