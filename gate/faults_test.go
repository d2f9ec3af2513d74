package gate

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// faultCase is one broker fault injected into a running gate.
type faultCase struct {
	name string
	// opts are extra cluster options (an older protocol, persistence).
	opts []kfake.Opt
	// inject starts the fault once the gate is committing; it returns a
	// function that waits until the fault has happened and ends it.
	inject func(t *testing.T, fc *faultCluster) (wait func())
	// trouble is what /readyz must say while the fault lasts ("" when the
	// client rides it out without the gate noticing).
	trouble string
	// txnTimeout is the gate's transaction timeout; default 20s.
	txnTimeout time.Duration
}

// faultCluster is a kfake cluster that a test may restart on the same
// address.
type faultCluster struct {
	mu      sync.Mutex
	c       *kfake.Cluster
	opts    []kfake.Opt
	brokers []string
}

// restart closes the cluster and starts it again on the same port with the
// same data directory after down.
func (fc *faultCluster) restart(down time.Duration) error {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.c.Close()
	time.Sleep(down)
	_, port, _ := net.SplitHostPort(fc.brokers[0])
	var p int
	if _, err := fmt.Sscan(port, &p); err != nil {
		return err
	}
	var err error
	for i := 0; i < 50; i++ { // the port may take a moment to be free
		if fc.c, err = kfake.NewCluster(append(fc.opts, kfake.Ports(p))...); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("restart: %w", err)
}

func (fc *faultCluster) close() {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.c.Close()
}

// fault installs f and returns a wait that needs it to answer at least
// hits requests within 30s, then removes it.
func fault(fc *faultCluster, hits int, f kfake.Fault) func(t *testing.T) func() {
	return func(t *testing.T) func() {
		h := fc.c.Fault(f)
		return func() {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := h.Wait(ctx, hits); err != nil {
				t.Fatalf("the fault answered %d requests, want %d: %v", h.Hits(), hits, err)
			}
			h.Remove()
		}
	}
}

// TestBrokerFaults injects broker faults into a gate that is committing a
// feed: produce, transaction coordinator and fetch errors, a broker
// restart and a slow broker. The gate retries, or aborts and judges again;
// afterwards output and quarantine, read read_committed, hold every input
// record exactly once, in order, and /readyz said what was wrong while it
// lasted and is ready again after.
func TestBrokerFaults(t *testing.T) {
	kafka38 := kfake.MaxVersions(kversion.V3_8_0()) // before KIP-890: AddPartitionsToTxn and AddOffsetsToTxn
	cases := []faultCase{
		{name: "produce/retriable", trouble: "",
			inject: func(t *testing.T, fc *faultCluster) func() {
				return fault(fc, 3, kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: kerr.NotLeaderForPartition, Count: 3})(t)
			}},
		{name: "produce/fatal", trouble: "transaction aborted",
			inject: func(t *testing.T, fc *faultCluster) func() {
				return fault(fc, 2, kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: kerr.InvalidRecord, Count: 2})(t)
			}},
		{name: "produce/quarantine-topic", trouble: "transaction aborted",
			inject: func(t *testing.T, fc *faultCluster) func() {
				return fault(fc, 1, kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "quar", Err: kerr.CorruptMessage, Count: 1})(t)
			}},
		{name: "produce/decisions-topic", trouble: "transaction aborted",
			inject: func(t *testing.T, fc *faultCluster) func() {
				return fault(fc, 1, kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "g1.decisions", Err: kerr.InvalidRecord, Count: 1})(t)
			}},
		{name: "EndTxn/unknown-server-error", trouble: "transaction aborted",
			inject: func(t *testing.T, fc *faultCluster) func() {
				return fault(fc, 1, kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.UnknownServerError, Count: 1})(t)
			}},
		{name: "EndTxn/coordinator-moving", trouble: "",
			inject: func(t *testing.T, fc *faultCluster) func() {
				return fault(fc, 3, kfake.Fault{Keys: []kmsg.Key{kmsg.EndTxn}, Err: kerr.CoordinatorNotAvailable, Count: 3})(t)
			}},
		{name: "TxnOffsetCommit/unknown-server-error", trouble: "transaction aborted",
			inject: func(t *testing.T, fc *faultCluster) func() {
				return fault(fc, 1, kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.UnknownServerError, Count: 1})(t)
			}},
		{name: "TxnOffsetCommit/fatal", trouble: "transaction aborted",
			inject: func(t *testing.T, fc *faultCluster) func() {
				return fault(fc, 1, kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.InvalidCommitOffsetSize, Count: 1})(t)
			}},
		{name: "AddPartitionsToTxn/kafka-3.8", opts: []kfake.Opt{kafka38}, trouble: "transaction aborted",
			inject: func(t *testing.T, fc *faultCluster) func() {
				return fault(fc, 1, kfake.Fault{Keys: []kmsg.Key{kmsg.AddPartitionsToTxn}, Topic: "out", Err: kerr.UnknownServerError, Count: 1})(t)
			}},
		{name: "AddOffsetsToTxn/kafka-3.8", opts: []kfake.Opt{kafka38}, trouble: "transaction aborted",
			inject: func(t *testing.T, fc *faultCluster) func() {
				return fault(fc, 1, kfake.Fault{Keys: []kmsg.Key{kmsg.AddOffsetsToTxn}, Err: kerr.UnknownServerError, Count: 1})(t)
			}},
		{name: "fetch/retriable", trouble: "",
			inject: func(t *testing.T, fc *faultCluster) func() {
				return fault(fc, 3, kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "in", Err: kerr.NotLeaderForPartition, Count: 3})(t)
			}},
		{name: "fetch/fatal", trouble: "fetching in/",
			inject: func(t *testing.T, fc *faultCluster) func() {
				return fault(fc, 5, kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "in", Err: kerr.TopicAuthorizationFailed, Count: 5})(t)
			}},
		{name: "broker-restart/idle", trouble: "brokers unreachable",
			inject: func(t *testing.T, fc *faultCluster) func() {
				if err := fc.restart(2 * time.Second); err != nil {
					t.Fatal(err)
				}
				return func() {}
			}},
		{name: "broker-restart/during-EndTxn", trouble: "",
			inject: func(t *testing.T, fc *faultCluster) func() {
				// The broker goes down as it takes the next EndTxn:
				// the commit's outcome is unknown to the gate.
				restarted := make(chan error, 1)
				var once sync.Once
				fc.c.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
					once.Do(func() { go func() { restarted <- fc.restart(time.Second) }() })
					return nil, nil, false
				})
				return func() {
					select {
					case err := <-restarted:
						if err != nil {
							t.Fatal(err)
						}
					case <-time.After(30 * time.Second):
						t.Fatal("no EndTxn came")
					}
				}
			}},
		{name: "slow-broker/beyond-transaction-timeout", trouble: "transaction aborted", txnTimeout: 3 * time.Second,
			inject: func(t *testing.T, fc *faultCluster) func() {
				// One EndTxn of the gate waits 5s, longer than the
				// transaction timeout: the broker aborts the transaction
				// and bumps the producer's epoch before it sees it.
				var slowed atomic.Bool
				fc.c.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
					if slowed.Swap(true) {
						fc.c.DropControl()
						return nil, nil, false
					}
					fc.c.SleepControl(func() { time.Sleep(5 * time.Second) })
					return nil, nil, false
				})
				return func() { waitFor(t, "the slow EndTxn", 30*time.Second, slowed.Load) }
			}},
		{name: "slow-broker", trouble: "",
			inject: func(t *testing.T, fc *faultCluster) func() {
				// Every produce and EndTxn waits 300ms, for 4s.
				var slowed atomic.Int32
				until := time.Now().Add(4 * time.Second)
				for _, key := range []kmsg.Key{kmsg.Produce, kmsg.EndTxn} {
					fc.c.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
						if time.Now().After(until) {
							fc.c.DropControl()
							return nil, nil, false
						}
						fc.c.KeepControl()
						slowed.Add(1)
						fc.c.SleepControl(func() { time.Sleep(300 * time.Millisecond) })
						return nil, nil, false
					})
				}
				return func() {
					time.Sleep(time.Until(until))
					if slowed.Load() == 0 {
						t.Fatal("no request was slowed")
					}
					t.Logf("%d requests slowed by 300ms", slowed.Load())
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each on its own broker; at most -parallel (GOMAXPROCS) at once
			runFault(t, tc)
		})
	}
}

func runFault(t *testing.T, tc faultCase) {
	opts := append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(3, "in")}, tc.opts...)
	if strings.HasPrefix(tc.name, "broker-restart") {
		opts = append(opts, kfake.DataDir(t.TempDir()))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	fc := &faultCluster{c: c, opts: opts, brokers: c.ListenAddrs()}
	t.Cleanup(fc.close)
	if tc.txnTimeout == 0 {
		tc.txnTimeout = 20 * time.Second
	}
	brokers := fc.brokers
	kopts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	if tc.opts != nil {
		kopts = append(kopts, kgo.MaxVersions(kversion.V3_8_0()))
	}

	in := input(3, 120, func(_ int32, i int) bool { return i%50 == 7 })
	half := len(in) / 2
	produceWith(t, kopts, in[:half]...)
	logger, logs := captureLogs(t)
	cfg := parseConfig(t, brokers, feedConfig("", "quarantine"))
	r := startGate(t, cfg, Options{Logger: logger, PollRecords: 25, KafkaOpts: kopts[1:], TransactionTimeout: tc.txnTimeout,
		troubleWindow: 3 * time.Second})
	waitFor(t, "the first commits", 30*time.Second, func() bool {
		return len(consumeWith(t, kopts, "out", 20, time.Second)) >= 20
	})
	waitFor(t, "readiness", 30*time.Second, func() bool { ok, _ := r.g.Ready(); return ok })

	// Watch /readyz while the fault lasts.
	readyz := startAdmin(t, r.g) + "/readyz"
	var sawTrouble atomic.Pointer[string]
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			if resp, err := http.Get(readyz); err == nil {
				var body struct {
					Ready   bool     `json:"ready"`
					Reasons []string `json:"reasons"`
				}
				err := json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if err == nil && !body.Ready && resp.StatusCode == http.StatusServiceUnavailable {
					s := strings.Join(body.Reasons, "; ")
					if tc.trouble != "" && strings.Contains(s, tc.trouble) || sawTrouble.Load() == nil {
						sawTrouble.Store(&s)
					}
				}
			}
			select {
			case <-stopWatch:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()

	aborts0 := testutil.ToFloat64(r.g.met.txnAborts)
	wait := tc.inject(t, fc)
	produceWith(t, kopts, in[half:]...)
	wait()
	start := time.Now()
	out, quar := exactlyOnce(t, kopts, in, 60*time.Second)
	if tc.trouble != "" {
		waitFor(t, "readiness to report "+tc.trouble, 5*time.Second, func() bool {
			s := sawTrouble.Load()
			return s != nil && strings.Contains(*s, tc.trouble)
		})
	}
	close(stopWatch)
	<-watched
	aborts := testutil.ToFloat64(r.g.met.txnAborts) - aborts0
	fetchErrs := testutil.ToFloat64(r.g.met.fetchErrors)
	seen := "ready throughout"
	if s := sawTrouble.Load(); s != nil {
		seen = *s
	}
	t.Logf("output %d + quarantine %d of %d; 0 lost, 0 duplicated; %v aborts, %v fetch errors; readiness: %s",
		len(out), len(quar), len(in), aborts, fetchErrs, seen)
	if tc.trouble == "transaction aborted" && aborts == 0 {
		t.Errorf("no transaction aborted")
	}
	// Ready again once the trouble is old.
	waitFor(t, "readiness after the fault", 20*time.Second, func() bool { code, _ := httpDo(t, "GET", readyz, ""); return code == 200 })
	t.Logf("ready again %v after the output was complete", time.Since(start).Round(100*time.Millisecond))
	r.stop(t)
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `"level":"ERROR"`) {
				t.Logf("error logged: %s", l)
			}
		}
	}
}

// TestPersistentFetchErrorBacksOff: a fetch error that does not go away (an
// ACL revoked: TOPIC_AUTHORIZATION_FAILED) keeps the gate not ready and is
// logged, but neither the log nor the broker is flooded.
func TestPersistentFetchErrorBacksOff(t *testing.T) {
	t.Parallel()
	c := fakeCluster(t, 3, []string{"in"})
	h := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Fetch}, Topic: "in", Err: kerr.TopicAuthorizationFailed, Count: -1})
	defer h.Remove()
	logger, logs := captureLogs(t)
	r := startGate(t, parseConfig(t, c.ListenAddrs(), feedConfig("", "quarantine")), Options{Logger: logger})
	time.Sleep(10 * time.Second)
	ok, reasons := r.g.Ready()
	r.stop(t)
	lines, reqs := strings.Count(logs.String(), `"fetch failed"`), h.Hits()
	t.Logf("in 10s: %d fetch requests failed, %d lines logged; ready %v %v", reqs, lines, ok, reasons)
	if ok {
		t.Error("ready while every fetch fails")
	}
	if lines > 100 || reqs > 1000 {
		t.Errorf("in 10s: %d fetch requests and %d log lines; want a backoff", reqs, lines)
	}
}
