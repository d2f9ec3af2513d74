package gate

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The soak test runs the gate at a fixed input rate for a while and checks
// that it keeps up (consumer lag does not grow), that its memory is
// bounded, and that it leaves no goroutine behind. The broker runs in a
// child process (this test binary again, as TestSoakBrokerProcess), so
// that what this process measures is the gate (and the test's producer),
// not the broker's growing logs.
//
//	SLUICE_SOAK=5m          how long (default 15s; `make soak` runs 5m)
//	SLUICE_SOAK_RATE=2000   input records a second (default 2000)
//	SLUICE_SOAK_MAX_RSS=384 peak RSS allowed, MiB (default 384)

const soakFeed = `
group: soak
feeds:
  - name: soak
    input: in
    output: out
    quarantine: quar
    key: email
    batch: {max_records: 5000, max_wait: 1s}
    detectors:
      - name: valid
        type: rules
        rules: [{field: email, required: true, regex: '^[^@\s]+@[^@\s]+$'}]
        max_violation_rate: 0.001
      - name: supernodes
        type: degree
        neighbor: profile_id
        max_degree: 1000
`

const soakParts = 4

func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	if s := os.Getenv(name); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return d
	}
	return def
}

func envInt(t *testing.T, name string, def int) int {
	if s := os.Getenv(name); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return n
	}
	return def
}

// TestSoakBrokerProcess is the soak test's broker: it only runs as a child
// process, prints its address, and stops when its stdin closes.
func TestSoakBrokerProcess(t *testing.T) {
	if os.Getenv("SLUICE_SOAK_BROKER_PROCESS") != "1" {
		t.Skip("the soak test's broker process")
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(soakParts, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Printf("BROKER %s\n", c.ListenAddrs()[0])
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// startBrokerProcess runs TestSoakBrokerProcess in a child and returns its
// address.
func startBrokerProcess(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSoakBrokerProcess$")
	cmd.Env = append(os.Environ(), "SLUICE_SOAK_BROKER_PROCESS=1", "GOMAXPROCS=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "BROKER "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return addr
		}
	}
	t.Fatalf("the broker process printed no address: %v", sc.Err())
	return ""
}

// procStatus reads a kB field of /proc/self/status (VmRSS, VmHWM) in bytes.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10
		}
	}
	return -1
}

// settleGoroutines waits up to within for the goroutine count to come down
// to at most want, and returns it.
func settleGoroutines(want int, within time.Duration) int {
	deadline := time.Now().Add(within)
	for {
		runtime.GC()
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func dumpGoroutines(t *testing.T) {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	t.Log(b.String())
}

const mib = 1 << 20

type soakSample struct {
	at         time.Duration
	lag        int64
	rss, heap  int64
	goroutines int
}

func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: not with -short")
	}
	dur := envDuration(t, "SLUICE_SOAK", 15*time.Second)
	rate := envInt(t, "SLUICE_SOAK_RATE", 2000)
	maxRSS := int64(envInt(t, "SLUICE_SOAK_MAX_RSS", 384)) * mib
	broker := startBrokerProcess(t)
	brokers := []string{broker}

	// Before anything of the gate's exists.
	base := settleGoroutines(0, 0)
	// Peak RSS from here (Linux: writing 5 to clear_refs resets VmHWM).
	resetHWM := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil

	cfg := parseConfig(t, brokers, soakFeed)
	logger, logs := captureLogs(t)
	g, err := New(cfg, Options{Logger: logger, TransactionTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewAdmin(g)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gateDone := make(chan error, 1)
	go func() { gateDone <- g.Run(ctx) }()
	adminDone := make(chan error, 1)
	go func() { adminDone <- a.Serve(ctx) }()
	httpc := &http.Client{Timeout: 5 * time.Second}

	// The vendor: a steady rate, a tick every 20ms.
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	var produced, prodErrs atomic.Int64
	stopProd := make(chan struct{})
	prodDone := make(chan struct{})
	go func() {
		defer close(prodDone)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		start := time.Now()
		var seq int64
		for {
			select {
			case <-stopProd:
				return
			case <-tick.C:
			}
			due := int64(time.Since(start).Seconds() * float64(rate))
			for ; seq < due; seq++ {
				email := fmt.Sprintf("user%d@example.com", seq%100000)
				if seq%100003 == 50000 {
					email = "not-an-email" // a quarantined batch now and then
				}
				key := binary.BigEndian.AppendUint64(nil, uint64(seq))
				val := fmt.Sprintf(`{"email":%q,"profile_id":"p%d","n":%d,"company":"c%d"}`, email, seq%37, seq, seq%11)
				prod.Produce(context.Background(), &kgo.Record{Topic: "in", Partition: int32(seq % soakParts), Key: key, Value: []byte(val)},
					func(_ *kgo.Record, err error) {
						if err != nil {
							prodErrs.Add(1)
						} else {
							produced.Add(1)
						}
					})
			}
		}
	}()

	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	kadmc := kadm.NewClient(adm)
	lag := func() (int64, error) {
		lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
		defer lcancel()
		ends, err := kadmc.ListEndOffsets(lctx, "in")
		if err != nil {
			return 0, err
		}
		committed, err := kadmc.FetchOffsets(lctx, "soak")
		if err != nil {
			return 0, err
		}
		var l int64
		ends.Each(func(o kadm.ListedOffset) {
			c := int64(0)
			if co, ok := committed.Lookup(o.Topic, o.Partition); ok && co.At >= 0 {
				c = co.At
			}
			l += o.Offset - c
		})
		return l, nil
	}

	// Sample every second.
	var samples []soakSample
	start := time.Now()
	var ms runtime.MemStats
	for time.Since(start) < dur {
		time.Sleep(time.Second)
		l, err := lag()
		if err != nil {
			t.Logf("lag: %v", err)
			continue
		}
		runtime.ReadMemStats(&ms)
		samples = append(samples, soakSample{at: time.Since(start), lag: l, rss: procStatus("VmRSS"), heap: int64(ms.HeapInuse), goroutines: runtime.NumGoroutine()})
		if resp, err := httpc.Get("http://" + a.Addr() + "/metrics"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	close(stopProd)
	<-prodDone
	if err := prod.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	total := produced.Load()
	peak := procStatus("VmHWM")
	// Drain: the gate catches up with everything produced.
	drainStart := time.Now()
	waitFor(t, "the gate to catch up", 60*time.Second, func() bool { l, err := lag(); return err == nil && l == 0 })
	drain := time.Since(drainStart)
	m := g.feeds["in"].m
	waitFor(t, "the counters to reconcile", 10*time.Second, func() bool {
		return testutil.ToFloat64(m.in) == float64(total) &&
			testutil.ToFloat64(m.passed)+testutil.ToFloat64(m.quarantined) == float64(total)
	})
	aborts, fetchErrs := testutil.ToFloat64(g.met.txnAborts), testutil.ToFloat64(g.met.fetchErrors)

	// Stop everything this test started, then count goroutines.
	prod.Close()
	adm.Close()
	cancel()
	if err := <-gateDone; err != nil {
		t.Fatalf("gate: %v", err)
	}
	if err := <-adminDone; err != nil {
		t.Fatalf("admin: %v", err)
	}
	httpc.CloseIdleConnections()
	after := settleGoroutines(base, 15*time.Second)

	// Every record exactly once: counted by key, read_committed, without
	// keeping the records.
	seen := make([]uint8, total)
	dups, strays := 0, 0
	for _, topic := range []string{"out", "quar"} {
		countTopic(t, brokers, topic, func(k []byte) {
			if len(k) != 8 || binary.BigEndian.Uint64(k) >= uint64(total) {
				strays++
				return
			}
			i := binary.BigEndian.Uint64(k)
			if seen[i]++; seen[i] > 1 {
				dups++
			}
		})
	}
	lost := 0
	for _, n := range seen {
		if n == 0 {
			lost++
		}
	}

	// Report.
	if len(samples) < 4 {
		t.Fatalf("only %d samples", len(samples))
	}
	first, last, worst := samples[len(samples)/4], samples[len(samples)-1], samples[0]
	var maxHeap int64
	for _, s := range samples {
		if s.lag > worst.lag {
			worst = s
		}
		maxHeap = max(maxHeap, s.heap)
	}
	hwm := "since the process started"
	if resetHWM {
		hwm = "since the soak started"
	}
	t.Logf("SOAK %v at %d records/s: %d records in, %d lost, %d duplicated, %d strays; %v aborts, %v fetch errors, %d producer errors",
		dur, rate, total, lost, dups, strays, aborts, fetchErrs, prodErrs.Load())
	t.Logf("SOAK peak RSS %.0f MiB (VmHWM %s, limit %d MiB); heap in use %.0f MiB at %v, %.0f MiB at the end, %.0f MiB at most",
		float64(peak)/mib, hwm, maxRSS/mib, float64(first.heap)/mib, first.at.Round(time.Second), float64(last.heap)/mib, float64(maxHeap)/mib)
	t.Logf("SOAK lag %d records at %v, %d at the end, %d at most (at %v); drained in %v; goroutines %d before, %d during, %d after",
		first.lag, first.at.Round(time.Second), last.lag, worst.lag, worst.at.Round(time.Second), drain.Round(100*time.Millisecond), base, last.goroutines, after)

	// The checks.
	if lost > 0 || dups > 0 || strays > 0 {
		t.Errorf("%d lost, %d duplicated, %d strays", lost, dups, strays)
	}
	// max_wait is 1s and a transaction takes a few ms: what is behind
	// is what arrived in the last few seconds, at most.
	slack := int64(rate) * 5
	if last.lag > first.lag+slack {
		t.Errorf("lag grew from %d to %d records (slack %d): the gate does not keep up", first.lag, last.lag, slack)
	}
	if peak > maxRSS {
		t.Errorf("peak RSS %d MiB > %d MiB", peak/mib, maxRSS/mib)
	}
	if last.heap > 2*first.heap+64*mib {
		t.Errorf("heap in use grew from %d MiB to %d MiB", first.heap/mib, last.heap/mib)
	}
	if after > base {
		t.Errorf("%d goroutines before the gate, %d after it stopped", base, after)
		dumpGoroutines(t)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("errors were logged:\n%s", grepLines(logs.String(), `"level":"ERROR"`))
	}
}

// countTopic reads a topic read_committed from the start to its end and
// calls fn with each record's key.
func countTopic(t *testing.T, brokers []string, topic string, fn func([]byte)) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
		}
	})
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("reading %s: %v", topic, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				fn(r.Key)
			}
			if end, ok := want[r.Partition]; ok && r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
}

// TestGateLeavesNoGoroutine starts and stops gates with their admin
// servers (one of them through an aborted transaction, one through a
// rebalance) and checks that the goroutine count comes back to where it
// was.
func TestGateLeavesNoGoroutine(t *testing.T) {
	c := fakeCluster(t, 2, []string{"in"})
	brokers := c.ListenAddrs()
	base := settleGoroutines(0, 0)
	for round := 0; round < 3; round++ {
		in := input(2, 30, func(p int32, i int) bool { return i == 15 })
		for _, r := range in {
			r.Value = []byte(strings.Replace(string(r.Value), `"part":`, fmt.Sprintf(`"round":%d,"part":`, round), 1)) // unique across rounds
		}
		produce(t, brokers, in...)
		cfg := parseConfig(t, brokers, feedConfig("", "quarantine"))
		if round == 1 {
			c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "out", Err: kerr.InvalidRecord, Count: 1})
		}
		r := startGate(t, cfg, Options{TransactionTimeout: 10 * time.Second})
		a, err := NewAdmin(r.g)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Listen("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		actx, stopAdmin := context.WithCancel(context.Background())
		served := make(chan error, 1)
		go func() { served <- a.Serve(actx) }()
		want := 40 * (round + 1)
		waitFor(t, "the output", 30*time.Second, func() bool { return len(consume(t, brokers, "out", want, time.Second)) >= want })
		if round == 1 && testutil.ToFloat64(r.g.met.txnAborts) == 0 {
			t.Fatal("the faulted produce aborted no transaction")
		}
		if code, _ := httpDo(t, "GET", "http://"+a.Addr()+"/metrics", ""); code != 200 {
			t.Fatal("/metrics")
		}
		if round == 2 {
			// A second gate joins the group, takes partitions, leaves.
			r2 := startGate(t, cfg, Options{TransactionTimeout: 10 * time.Second})
			time.Sleep(3 * time.Second)
			r2.stop(t)
		}
		r.stop(t)
		stopAdmin()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	if after := settleGoroutines(base, 15*time.Second); after > base {
		t.Errorf("%d goroutines before, %d after three gates stopped", base, after)
		dumpGoroutines(t)
	} else {
		t.Logf("goroutines: %d before, %d after three gates stopped", base, after)
	}
}
