package reference

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/fields"
)

// Verifier asks an HTTP service about each sampled record; the package
// documentation describes the protocol.
type Verifier struct {
	url     string
	compare []string
	client  *http.Client
	timeout time.Duration
	budget  time.Duration
	retries int
	backoff time.Duration
	slots   chan struct{} // requests in flight
	breaker *breaker
}

// ErrBreakerOpen is the failure of a request not sent because the
// verifier has been failing.
var ErrBreakerOpen = errors.New("circuit breaker open")

// maxAnswer bounds the size of an answer read.
const maxAnswer = 64 << 10

// NewVerifier posts samples to cfg.URL.
func NewVerifier(cfg config.Reference, opts ...Option) (*Verifier, error) {
	return newVerifier(cfg, newOptions(opts))
}

func newVerifier(cfg config.Reference, o options) (*Verifier, error) {
	if cfg.URL == "" {
		return nil, errors.New("cannot open verifier: no url")
	}
	timeout := time.Duration(cfg.Timeout)
	if timeout <= 0 {
		timeout = time.Duration(config.DefaultReferenceTimeout)
	}
	v := &Verifier{
		url: cfg.URL, compare: cfg.Compare, client: o.client, timeout: timeout,
		budget: o.budget, retries: o.retries, backoff: o.backoff,
		slots:   make(chan struct{}, o.concurrency),
		breaker: &breaker{limit: o.breakerFailures, coolDown: o.breakerCoolDown},
	}
	if v.budget <= 0 {
		v.budget = 5 * timeout
	}
	if v.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = o.concurrency
		v.client = &http.Client{Transport: tr}
	}
	return v, nil
}

// Check asks the verifier about every sample, Concurrency at a time,
// within the budget. Samples it could not judge stay Unchecked and make
// the error.
func (v *Verifier) Check(ctx context.Context, samples []detectors.Sample) error {
	ctx, cancel := context.WithTimeout(ctx, v.budget)
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
		first  error
	)
	for i := range samples {
		if i == 0 && !v.breaker.closed() {
			// The first sample goes alone, as the half-open breaker's
			// probe: the rest would be refused while it is in flight.
			if err := v.verify(ctx, &samples[0]); err != nil {
				samples[0].Outcome = detectors.Unchecked
				failed, first = 1, err
			}
			continue
		}
		select {
		case v.slots <- struct{}{}:
		case <-ctx.Done():
			mu.Lock()
			failed += len(samples) - i
			first = cmpErr(first, fmt.Errorf("out of time: %w", ctx.Err()))
			mu.Unlock()
			wg.Wait()
			return v.failure(failed, len(samples), first)
		}
		wg.Add(1)
		go func(s *detectors.Sample) {
			defer func() { <-v.slots; wg.Done() }()
			if err := v.verify(ctx, s); err != nil {
				s.Outcome = detectors.Unchecked
				mu.Lock()
				failed++
				first = cmpErr(first, err)
				mu.Unlock()
			}
		}(&samples[i])
	}
	wg.Wait()
	return v.failure(failed, len(samples), first)
}

// cmpErr keeps the first error, preferring one that says more than the
// breaker being open.
func cmpErr(first, err error) error {
	if first == nil || errors.Is(first, ErrBreakerOpen) && !errors.Is(err, ErrBreakerOpen) {
		return err
	}
	return first
}

func (v *Verifier) failure(failed, n int, err error) error {
	if failed == 0 {
		return nil
	}
	return fmt.Errorf("verifier could not judge %d of %d samples: %w", failed, n, err)
}

// Close releases idle connections.
func (v *Verifier) Close() error {
	v.client.CloseIdleConnections()
	return nil
}

// verify asks about one sample, retrying what may pass with time.
func (v *Verifier) verify(ctx context.Context, s *detectors.Sample) error {
	body := v.request(s)
	wait := v.backoff
	var err error
	for try := 0; try < v.retries; try++ {
		if try > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return fmt.Errorf("%w (after %v)", ctx.Err(), err)
			}
			wait *= 2
		}
		var retry bool
		retry, err = v.ask(ctx, body, s)
		if err == nil || !retry {
			return err
		}
	}
	return err
}

// ask makes one request, through the breaker.
func (v *Verifier) ask(ctx context.Context, body []byte, s *detectors.Sample) (retry bool, err error) {
	if err := v.breaker.allow(); err != nil {
		return false, err // fail fast: the breaker is open for longer than a backoff
	}
	retry, err = v.post(ctx, body, s)
	v.breaker.done(err)
	return retry, err
}

type answer struct {
	Found  *bool           `json:"found"`
	Fields map[string]bool `json:"fields"`
}

func (v *Verifier) post(ctx context.Context, body []byte, s *detectors.Sample) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("cannot make request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return true, fmt.Errorf("cannot read answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return true, fmt.Errorf("verifier answered %s", resp.Status)
	default:
		return false, fmt.Errorf("verifier answered %s", resp.Status)
	}
	var a answer
	if err := json.Unmarshal(raw, &a); err != nil || a.Found == nil {
		return false, errors.New("malformed answer: want {\"found\": bool, \"fields\": {...}}")
	}
	if !*a.Found {
		s.Outcome = detectors.NotInReference
		return false, nil
	}
	s.Outcome, s.WrongFields = detectors.Correct, 0
	for i, name := range v.compare {
		ok, named := a.Fields[name]
		if !named {
			s.Outcome = detectors.Unchecked
			return false, fmt.Errorf("answer does not name field %s", name)
		}
		if !ok {
			s.Outcome = detectors.Wrong
			s.WrongFields |= 1 << i
		}
	}
	return false, nil
}

// request encodes the sample as the protocol says.
func (v *Verifier) request(s *detectors.Sample) []byte {
	b := []byte(`{"key":`)
	if s.Key == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, s.Key)
	}
	b = append(b, `,"fields":{`...)
	for i, name := range v.compare {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, []byte(name))
		b = append(b, ':')
		f := s.Fields[i]
		switch f.Kind {
		case fields.String:
			b = appendString(b, f.Text)
		case fields.Missing, fields.Null:
			b = append(b, "null"...)
		default:
			b = append(b, f.Text...) // JSON text as the record had it
		}
	}
	return append(b, "}}"...)
}

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for len(s) > 0 {
		r, n := utf8.DecodeRune(s)
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r < 0x20:
			dst = append(dst, `\u00`...)
			dst = append(dst, "0123456789abcdef"[r>>4], "0123456789abcdef"[r&0xf])
		case r == utf8.RuneError && n == 1:
			dst = append(dst, `\ufffd`...)
		default:
			dst = append(dst, s[:n]...)
		}
		s = s[n:]
	}
	return append(dst, '"')
}

// breaker stops asking a failing verifier: it opens after limit failures
// in a row, lets one probe through after coolDown (half-open), and closes
// when a request succeeds.
type breaker struct {
	limit    int
	coolDown time.Duration

	mu       sync.Mutex
	failures int
	last     error     // the last failure, for the errors of refused requests
	openedAt time.Time // zero while closed
	probing  bool
}

func (b *breaker) closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.openedAt.IsZero()
}

// allow lets a request through, or says why not.
func (b *breaker) allow() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openedAt.IsZero() {
		return nil
	}
	if b.probing || time.Since(b.openedAt) < b.coolDown {
		return fmt.Errorf("%w after %d failures in a row, the last: %w", ErrBreakerOpen, b.failures, b.last)
	}
	b.probing = true
	return nil
}

func (b *breaker) done(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err == nil {
		b.failures, b.last, b.openedAt, b.probing = 0, nil, time.Time{}, false
		return
	}
	b.failures++
	b.last = err
	if b.probing || b.failures >= b.limit {
		b.openedAt, b.probing = time.Now(), false
	}
}

// State is closed, open or half-open: for tests and status pages.
func (v *Verifier) State() string {
	b := v.breaker
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openedAt.IsZero():
		return "closed"
	case b.probing || time.Since(b.openedAt) >= b.coolDown:
		return "half-open"
	}
	return "open"
}
