package reference_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/fields"
	"github.com/sluicehq/sluice/reference"
)

// truthServer is a verifier that knows profiles by email. fail makes it
// answer 503, delay makes it slow.
type truthServer struct {
	*httptest.Server
	truth    map[string]map[string]string
	fail     atomic.Bool
	delay    atomic.Int64 // nanoseconds
	requests atomic.Int64
	inFlight atomic.Int64
	peak     atomic.Int64
	mu       sync.Mutex
	bodies   []string
}

func newTruthServer(t *testing.T) *truthServer {
	s := &truthServer{truth: map[string]map[string]string{
		"a@x.com": {"profile_id": "p1", "company": "Acme"},
		"b@x.com": {"profile_id": "p2", "company": "Beta"},
	}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *truthServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, string(body))
	s.mu.Unlock()
	if d := time.Duration(s.delay.Load()); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if s.fail.Load() {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
		return
	}
	var req struct {
		Key    string         `json:"key"`
		Fields map[string]any `json:"fields"`
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &req) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	truth, ok := s.truth[req.Key]
	if !ok {
		io.WriteString(w, `{"found": false}`)
		return
	}
	ans := map[string]bool{}
	for name, want := range truth {
		ans[name] = req.Fields[name] == want
	}
	json.NewEncoder(w).Encode(map[string]any{"found": true, "fields": ans})
}

func verifierConfig(url string, timeout time.Duration) config.Reference {
	return config.Reference{URL: url, Key: "email", Compare: []string{"profile_id", "company"}, Timeout: config.Duration(timeout)}
}

func TestVerifierProtocol(t *testing.T) {
	srv := newTruthServer(t)
	ref, err := reference.NewVerifier(verifierConfig(srv.URL, time.Second), reference.WithConcurrency(2))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	samples := []detectors.Sample{
		sample("a@x.com", "p1", "Acme"),
		sample("b@x.com", "p2", "Gamma"),
		sample("z@x.com", "p9", "Zeta"),
	}
	for range 20 {
		samples = append(samples, sample("a@x.com", "p1", "Acme"))
	}
	got := outcomes(t, ref, samples...)
	if got[0] != detectors.Correct || got[1] != detectors.Wrong || got[2] != detectors.NotInReference || samples[1].WrongFields != 2 {
		t.Errorf("outcomes %v, wrong fields %b", got[:3], samples[1].WrongFields)
	}
	if p := srv.peak.Load(); p > 2 {
		t.Errorf("%d requests in flight, limit 2", p)
	}

	// The request as the package documentation shows it; JSON kinds kept.
	srv.bodies = nil
	s := detectors.Sample{Key: []byte(`q"@x.com`), Fields: []detectors.SampleValue{
		{Kind: fields.Number, Text: []byte("12.5")},
		{Kind: fields.Null},
	}}
	outcomes(t, ref, s)
	if want := `{"key":"q\"@x.com","fields":{"profile_id":12.5,"company":null}}`; srv.bodies[0] != want {
		t.Errorf("request %s, want %s", srv.bodies[0], want)
	}
}

// judgeWith runs one batch of good records through an accuracy detector
// checking against ref.
func judgeWith(t *testing.T, ref detectors.Reference) []detectors.Finding {
	t.Helper()
	cfg := accuracy(verifierConfig("http://unused", time.Second))
	cfg.Sample.Min = 0
	h := newHarness(t, cfg, "email", func(config.Reference) (detectors.Reference, error) { return ref, nil })
	for range 300 {
		h.observe([]byte(`{"email":"a@x.com","profile_id":"p1","company":"Acme"}`))
	}
	return h.judge()
}

// unavailable asserts that the batch was not passed for want of evidence.
func unavailable(t *testing.T, fs []detectors.Finding, cause string) {
	t.Helper()
	if len(fs) == 0 || fs[0].Metric != "reference_unavailable" || fs[0].Verdict != detectors.Warn || worst(fs) == detectors.Pass {
		t.Fatalf("findings %+v, want reference_unavailable (warn)", fs)
	}
	if !strings.Contains(fs[0].Message, cause) {
		t.Errorf("message %q, want it to say %q", fs[0].Message, cause)
	}
	t.Log(fs[0].Message)
}

func TestVerifierSlow(t *testing.T) {
	srv := newTruthServer(t)
	srv.delay.Store(int64(time.Second))
	ref, err := reference.NewVerifier(verifierConfig(srv.URL, 30*time.Millisecond),
		reference.WithRetries(2, 10*time.Millisecond), reference.WithBudget(300*time.Millisecond), reference.WithBreaker(1000, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	start := time.Now()
	unavailable(t, judgeWith(t, ref), "deadline exceeded")
	if d := time.Since(start); d > time.Second {
		t.Errorf("a batch took %v, budget 300ms", d)
	}
}

func TestVerifierFailing(t *testing.T) {
	srv := newTruthServer(t)
	srv.fail.Store(true)
	ref, err := reference.NewVerifier(verifierConfig(srv.URL, time.Second),
		reference.WithRetries(3, time.Millisecond), reference.WithBreaker(5, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	unavailable(t, judgeWith(t, ref), "503 Service Unavailable")
	if ref.State() != "open" {
		t.Errorf("breaker %s after failures, want open", ref.State())
	}
	// While open, nothing is sent and batches fail fast.
	before := srv.requests.Load()
	srv.fail.Store(false)
	unavailable(t, judgeWith(t, ref), "circuit breaker open")
	if n := srv.requests.Load() - before; n != 0 {
		t.Errorf("%d requests sent through an open breaker", n)
	}
}

func TestVerifierFlapping(t *testing.T) {
	srv := newTruthServer(t)
	const coolDown = 100 * time.Millisecond
	ref, err := reference.NewVerifier(verifierConfig(srv.URL, time.Second),
		reference.WithRetries(2, time.Millisecond), reference.WithBreaker(3, coolDown))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if fs := judgeWith(t, ref); worst(fs) != detectors.Pass {
		t.Fatalf("healthy verifier: %+v", fs)
	}
	srv.fail.Store(true)
	unavailable(t, judgeWith(t, ref), "503")
	if ref.State() != "open" {
		t.Fatalf("breaker %s, want open", ref.State())
	}
	srv.fail.Store(false)
	unavailable(t, judgeWith(t, ref), "circuit breaker open") // still cooling down
	time.Sleep(coolDown)
	if ref.State() != "half-open" {
		t.Errorf("breaker %s after the cool-down, want half-open", ref.State())
	}
	// The probe succeeds, the breaker closes, the batch is judged.
	fs := judgeWith(t, ref)
	if worst(fs) != detectors.Pass || fs[0].Metric != "accuracy" || fs[0].Samples != 300 {
		t.Errorf("after recovery: %+v", fs)
	}
	if ref.State() != "closed" {
		t.Errorf("breaker %s after a success, want closed", ref.State())
	}
	// A failed probe opens it again at once.
	srv.fail.Store(true)
	judgeWith(t, ref)
	time.Sleep(coolDown)
	before := srv.requests.Load()
	unavailable(t, judgeWith(t, ref), "503")
	if n := srv.requests.Load() - before; n != 1 || ref.State() != "open" {
		t.Errorf("half-open: %d requests, breaker %s; want one probe, open", n, ref.State())
	}
}

func TestVerifierRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s/verify", l.Addr())
	l.Close()
	ref, err := reference.NewVerifier(verifierConfig(url, time.Second), reference.WithRetries(2, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	unavailable(t, judgeWith(t, ref), "connection refused")
	s := []detectors.Sample{sample("a@x.com", "p1", "Acme")}
	if err := ref.Check(context.Background(), s); !errors.Is(err, reference.ErrBreakerOpen) || s[0].Outcome != detectors.Unchecked || ref.State() != "open" {
		t.Errorf("Check: %v, outcome %v, breaker %s; want the open breaker", err, s[0].Outcome, ref.State())
	}
}

// TestVerifierOpen: Open picks the verifier for a url.
func TestVerifierOpen(t *testing.T) {
	srv := newTruthServer(t)
	open := opener(t, "")
	h := newHarness(t, accuracy(verifierConfig(srv.URL, time.Second)), "email", open)
	h.observe([]byte(`{"email":"b@x.com","profile_id":"p2","company":"Beta"}`))
	if fs := h.judge(); fs[0].Metric != "accuracy" || fs[0].Samples != 1 {
		t.Errorf("findings %+v", fs)
	}
}
