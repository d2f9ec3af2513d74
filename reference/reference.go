// Package reference opens what the accuracy detector checks sampled
// records against: the truth about each key. Three kinds implement
// detectors.Reference:
//
//   - File: JSON lines (.jsonl, .ndjson, .json: one object a line) or CSV
//     (.csv, whose header row names the columns), keyed by reference.key
//     and holding the reference.compare fields. It is loaded when opened
//     and reloaded when its modification time or size changes (looked at
//     most once a second, when a batch is checked); an edit that does not
//     load keeps the last good data, is logged once, and makes Stale say so.
//   - Topic: a compacted Kafka topic kept in memory: record key = the
//     reference key, value = a JSON object holding the compared fields,
//     the latest value per key, a tombstone (null value) deletes the key.
//     It reads every partition from the start, read_committed, and is
//     unavailable until it has caught up with the end offsets it saw when
//     it started.
//   - Verifier: an HTTP service that judges each sampled record itself.
//
// # The verifier protocol
//
// For each sampled record the verifier is sent
//
//	POST <reference.url>
//	Content-Type: application/json
//
//	{"key": "a@example.com", "fields": {"profile_id": "prf_1", "company": "Acme"}}
//
// where key is the text of the record's reference.key field, and fields
// holds every reference.compare field as it stands in the record: strings
// as strings, numbers, booleans, objects and arrays as they are, null when
// the record lacks the field or it is null. It answers 200 with
//
//	{"found": true, "fields": {"profile_id": true, "company": false}}
//
// naming every compared field, true when the record's value is right; or
// {"found": false} when it does not know the key. The verifier compares as
// it sees fit (reference.match does not apply). Any other answer is a
// failure: 429 and 5xx are retried with exponential backoff, other
// statuses, malformed answers and answers that leave out a field are not.
// Each request has reference.timeout; at most Concurrency requests are in
// flight per verifier; a batch's checks take at most Budget in all. After
// BreakerFailures failures in a row the circuit breaker opens: requests
// fail at once for BreakerCoolDown, then one probe is let through, and a
// success closes the breaker again. Samples the verifier could not judge
// make the batch's reference unavailable: never a pass.
//
// # Wiring
//
// A detectors.Env asks for references through Env.Reference; package
// detectors cannot open them itself (this package imports it, and a topic
// needs Kafka). Every caller that builds detectors, the gate and replay
// alike, sets
//
//	op := reference.NewOpener(cfg.Dir(), reference.WithBrokers(brokers...), reference.WithLogger(log))
//	defer op.Close()
//	env.Reference = op.Open
//
// The Opener shares one reference among the detectors of every partition
// that ask for the same one, so that a topic is consumed and a file held
// once. Without brokers, topic references fail to open and files and URLs
// work: what replay needs.
package reference

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
)

// Defaults of the options.
const (
	DefaultReloadEvery     = time.Second
	DefaultConcurrency     = 8
	DefaultRetries         = 3
	DefaultBackoff         = 50 * time.Millisecond
	DefaultBreakerFailures = 5
	DefaultBreakerCoolDown = 10 * time.Second
)

// options are what Option sets.
type options struct {
	logger          *slog.Logger
	brokers         []string
	kafka           []kgo.Opt
	reloadEvery     time.Duration
	client          *http.Client
	concurrency     int
	retries         int
	backoff         time.Duration
	budget          time.Duration // 0: 5 × reference.timeout
	breakerFailures int
	breakerCoolDown time.Duration
}

// Option configures how references are opened.
type Option func(*options)

// WithLogger logs reloads and failed reloads of files; default none.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithBrokers are the seed brokers topic references read from. Without
// them a topic reference cannot be opened.
func WithBrokers(brokers ...string) Option { return func(o *options) { o.brokers = brokers } }

// WithKafka adds client options for topic references (TLS, SASL, ...).
func WithKafka(opts ...kgo.Opt) Option {
	return func(o *options) { o.kafka = append(o.kafka, opts...) }
}

// WithReloadEvery is how often at most a file is looked at for changes;
// default DefaultReloadEvery.
func WithReloadEvery(d time.Duration) Option { return func(o *options) { o.reloadEvery = d } }

// WithHTTPClient is the client a verifier posts with; default one of its
// own, keeping Concurrency connections alive.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithConcurrency caps a verifier's requests in flight; default
// DefaultConcurrency.
func WithConcurrency(n int) Option { return func(o *options) { o.concurrency = n } }

// WithRetries is how often a verifier tries a sample (at least once), and
// the first backoff, doubled after each failure; defaults DefaultRetries
// and DefaultBackoff.
func WithRetries(tries int, backoff time.Duration) Option {
	return func(o *options) { o.retries, o.backoff = tries, backoff }
}

// WithBudget bounds the time a verifier spends on one batch's sample;
// default 5 × reference.timeout.
func WithBudget(d time.Duration) Option { return func(o *options) { o.budget = d } }

// WithBreaker opens a verifier's circuit breaker after failures failures
// in a row, for coolDown; defaults DefaultBreakerFailures and
// DefaultBreakerCoolDown.
func WithBreaker(failures int, coolDown time.Duration) Option {
	return func(o *options) { o.breakerFailures, o.breakerCoolDown = failures, coolDown }
}

func newOptions(opts []Option) options {
	o := options{
		reloadEvery: DefaultReloadEvery, concurrency: DefaultConcurrency,
		retries: DefaultRetries, backoff: DefaultBackoff,
		breakerFailures: DefaultBreakerFailures, breakerCoolDown: DefaultBreakerCoolDown,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	o.concurrency = max(o.concurrency, 1)
	o.retries = max(o.retries, 1)
	o.breakerFailures = max(o.breakerFailures, 1)
	return o
}

// Open opens the reference cfg names, a file resolved against dir, a topic
// (with WithBrokers) or a URL. The caller closes it.
func Open(cfg config.Reference, dir string, opts ...Option) (detectors.Reference, error) {
	o := newOptions(opts)
	switch {
	case cfg.File != "":
		path := cfg.File
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
		}
		return openFile(path, cfg, o)
	case cfg.Topic != "":
		if len(o.brokers) == 0 {
			return nil, fmt.Errorf("cannot open topic reference %s: no brokers to read it from", cfg.Topic)
		}
		return OpenTopic(cfg, o.brokers, o.kafka...)
	case cfg.URL != "":
		return newVerifier(cfg, o)
	}
	return nil, errors.New("cannot open reference: it names no file, topic or url")
}

// Opener opens references for detectors and shares them: detectors of
// every partition asking for the same reference get the same one. Its
// Open is what Env.Reference wants; Close closes them all.
type Opener struct {
	dir  string
	opts []Option
	mu   sync.Mutex
	refs map[string]detectors.Reference
}

// NewOpener opens references with opts, resolving files against dir.
func NewOpener(dir string, opts ...Option) *Opener {
	return &Opener{dir: dir, opts: opts, refs: map[string]detectors.Reference{}}
}

// Open returns the reference cfg names, opening it on first use. The
// reference is shared: closing it is the Opener's job, so its Close does
// nothing.
func (o *Opener) Open(cfg config.Reference) (detectors.Reference, error) {
	id := identity(cfg)
	o.mu.Lock()
	defer o.mu.Unlock()
	if r, ok := o.refs[id]; ok {
		return shared{r}, nil
	}
	r, err := Open(cfg, o.dir, o.opts...)
	if err != nil {
		return nil, err
	}
	o.refs[id] = r
	return shared{r}, nil
}

// Close closes every reference opened so far.
func (o *Opener) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var errs []error
	for id, r := range o.refs {
		errs = append(errs, r.Close())
		delete(o.refs, id)
	}
	return errors.Join(errs...)
}

// identity tells references apart: everything that changes what one
// answers.
func identity(c config.Reference) string {
	return strings.Join(append([]string{c.File, c.Topic, c.URL, c.Key, c.Match,
		fmt.Sprint(c.Tolerance), c.Missing, time.Duration(c.Timeout).String()}, c.Compare...), "\x00")
}

// shared is a reference owned by an Opener.
type shared struct{ detectors.Reference }

func (shared) Close() error { return nil }

// Stale passes on the shared reference's.
func (s shared) Stale() error {
	if st, ok := s.Reference.(detectors.Stale); ok {
		return st.Stale()
	}
	return nil
}
