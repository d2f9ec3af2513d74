package gate

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/config"
)

// Admin serves /metrics /healthz /readyz /api on the admin listener.
type Admin struct {
	g     *Gate
	token string // empty: mutations are refused
	srv   *http.Server
	ln    net.Listener
}

// NewAdmin prepares the admin server of g. The token is read once, here,
// and never logged.
func NewAdmin(g *Gate) (*Admin, error) {
	a := &Admin{g: g}
	if f := g.cfg.Admin.TokenFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("cannot read admin.token_file: %w", err)
		}
		a.token = strings.TrimSpace(string(b))
		if a.token == "" {
			return nil, fmt.Errorf("admin.token_file %s is empty", f)
		}
	}
	g.opts.Registry.MustRegister(newHeldCollector(g))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.opts.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.HandleFunc("GET /api/batches", a.listBatches)
	mux.HandleFunc("GET /api/batches/{id}", a.getBatch)
	mux.HandleFunc("POST /api/feeds/{feed}/partitions/{p}/resume", a.mutation(a.resume))
	mux.HandleFunc("POST /api/batches/{id}/release", a.mutation(a.change(Release)))
	mux.HandleFunc("POST /api/batches/{id}/drop", a.mutation(a.change(Drop)))
	mux.Handle("GET /{$}", newReviewPage(a))
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return a, nil
}

// Listen binds the admin address; Addr then tells where.
func (a *Admin) Listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot listen on admin address %s: %w", addr, err)
	}
	a.ln = ln
	return nil
}

// Addr is the bound address.
func (a *Admin) Addr() string { return a.ln.Addr().String() }

// Serve serves until ctx is done.
func (a *Admin) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = a.srv.Shutdown(sctx)
	}()
	if err := a.srv.Serve(a.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (a *Admin) readyz(w http.ResponseWriter, _ *http.Request) {
	ok, reasons := a.g.Ready()
	if ok {
		writeJSON(w, http.StatusOK, map[string]any{"ready": true})
		return
	}
	writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reasons": reasons})
}

// mutation wraps a handler that changes something with the bearer token
// check: no token configured is 403 with how to set one, a wrong one 401.
func (a *Admin) mutation(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.token == "" {
			writeError(w, http.StatusForbidden, "mutations are disabled: no admin token is configured; write a token to a file and set admin.token_file in the config, then send it as \"Authorization: Bearer <token>\"")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(a.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		h(w, r)
	}
}

func (a *Admin) listBatches(w http.ResponseWriter, r *http.Request) {
	t := a.g.tailOrNil()
	if t == nil {
		writeError(w, http.StatusServiceUnavailable, "the gate has not started yet")
		return
	}
	state := r.URL.Query().Get("state")
	feed := r.URL.Query().Get("feed")
	out := []*Decision{}
	for _, d := range t.decisions() {
		if (state == "" || d.State == state) && (feed == "" || d.Feed == feed) {
			out = append(out, d)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *Admin) getBatch(w http.ResponseWriter, r *http.Request) {
	t := a.g.tailOrNil()
	if t == nil {
		writeError(w, http.StatusServiceUnavailable, "the gate has not started yet")
		return
	}
	id := r.PathValue("id")
	if d := t.decision(id); d != nil {
		writeJSON(w, http.StatusOK, d)
		return
	}
	writeError(w, http.StatusNotFound, "no quarantined, halted, released or dropped batch "+id+" (passed batches are on the decisions topic only)")
}

func (a *Admin) resume(w http.ResponseWriter, r *http.Request) {
	feed := r.PathValue("feed")
	p, err := strconv.ParseInt(r.PathValue("p"), 10, 32)
	if err != nil || p < 0 {
		writeError(w, http.StatusBadRequest, "partition must be a non-negative integer")
		return
	}
	if feedOf(a.g.current.Load(), feed+":0:0") == nil {
		writeError(w, http.StatusNotFound, "no feed "+feed)
		return
	}
	t := a.g.tailOrNil()
	if t == nil {
		writeError(w, http.StatusServiceUnavailable, "the gate has not started yet")
		return
	}
	batch := t.haltedBatch(feed, int32(p))
	if batch == "" {
		writeError(w, http.StatusConflict, fmt.Sprintf("partition %d of feed %s is not halted", p, feed))
		return
	}
	if err := writeResume(r.Context(), a.g.clientOpts(), a.g.topics, feed, int32(p), batch, "admin-api"); err != nil {
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"feed": feed, "partition": p, "batch": batch, "status": "resume requested"})
}

// change serves release and drop: body {"reason": "..."}; drop needs a
// reason.
func (a *Admin) change(fn func(context.Context, *config.Config, string, string, string, ...kgo.Opt) (*Decision, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Reason string `json:"reason"`
			By     string `json:"by"` // who, as the operator names themself
		}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&body); err != nil {
				writeError(w, http.StatusBadRequest, "body must be JSON like {\"reason\": \"...\"}: "+err.Error())
				return
			}
		}
		if strings.HasSuffix(r.URL.Path, "/drop") && strings.TrimSpace(body.Reason) == "" {
			writeError(w, http.StatusBadRequest, "drop needs a reason: {\"reason\": \"...\"}")
			return
		}
		by := "admin-api"
		if b := strings.TrimSpace(body.By); b != "" {
			by = b + " (admin-api)"
		}
		d, err := fn(r.Context(), a.g.current.Load(), r.PathValue("id"), by, body.Reason, a.g.opts.KafkaOpts...)
		switch {
		case errors.Is(err, ErrNotHeld):
			writeError(w, http.StatusConflict, err.Error())
		case err != nil:
			writeError(w, http.StatusBadGateway, err.Error())
		default:
			writeJSON(w, http.StatusOK, d)
		}
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// watchReadiness keeps Ready current: brokers reachable, group joined, the
// gate's own topics readable, no fetch or transaction failed in the last
// troubleWindow.
func (g *Gate) watchReadiness(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var reasons []string
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := g.client.Load().Ping(pctx); err != nil && ctx.Err() == nil {
			reasons = append(reasons, "brokers unreachable: "+err.Error())
		}
		cancel()
		if !g.joined.Load() {
			reasons = append(reasons, "consumer group "+g.current.Load().Group+" not joined yet")
		}
		if t := g.tailOrNil(); t != nil {
			if err := t.lastErr(); err != nil {
				reasons = append(reasons, "cannot read "+g.topics.state+"/"+g.topics.decisions+": "+err.Error())
			}
		}
		if n := g.pendingRestores.Load(); n > 0 {
			reasons = append(reasons, fmt.Sprintf("%d partitions restoring state", n))
		}
		if tr := g.recentTrouble(time.Now()); tr != "" {
			reasons = append(reasons, tr)
		}
		g.setNotReady(reasons...)
		select {
		case <-ctx.Done():
			g.setNotReady("shutting down")
			return
		case <-tick.C:
		}
	}
}
