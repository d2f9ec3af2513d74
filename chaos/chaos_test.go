package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/gate"
)

// scale is the size of a run, from the environment.
type scale struct {
	records, parts, kills, replicas int
	seed                            uint64
	mean                            int           // records per delivery, on average
	window                          time.Duration // the producer's pace: the feed arrives over this long
	logs                            string
}

func scaleFromEnv(t *testing.T) scale {
	t.Helper()
	num := func(name string, def int) int {
		s := os.Getenv(name)
		if s == "" {
			return def
		}
		n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive integer", name, s)
		}
		return n
	}
	s := scale{
		records:  num("SLUICE_CHAOS_RECORDS", 60_000),
		parts:    num("SLUICE_CHAOS_PARTITIONS", 12),
		kills:    num("SLUICE_CHAOS_KILLS", 5),
		replicas: num("SLUICE_CHAOS_REPLICAS", 3),
		seed:     uint64(num("SLUICE_CHAOS_SEED", 1)),
		logs:     os.Getenv("SLUICE_CHAOS_LOGS"),
	}
	if s.kills < 5 {
		t.Fatalf("SLUICE_CHAOS_KILLS=%d: the test kills at least 5 times", s.kills)
	}
	if s.replicas < 2 {
		t.Fatalf("SLUICE_CHAOS_REPLICAS=%d: a fleet has at least 2", s.replicas)
	}
	// About 150 deliveries per partition whatever the size, at least 50
	// records each: the number of batches (and so of transactions) grows
	// slower than the records.
	s.mean = max(50, s.records/s.parts/150)
	// The feed arrives over 20s at the CI size, longer for more records
	// (about 10,000 records a second).
	s.window = max(20*time.Second, time.Duration(s.records/10_000)*time.Second)
	if w := os.Getenv("SLUICE_CHAOS_WINDOW"); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil || d < 5*time.Second {
			t.Fatalf("SLUICE_CHAOS_WINDOW=%q: want a duration of 5s or more", w)
		}
		s.window = d
	}
	return s
}

const gateConfig = `
brokers: [%s]
group: %s
admin: {listen: "127.0.0.1:0"}
feeds:
  - name: vendor
    input: vendor.in
    output: %s
    quarantine: %s
    key: email
    batch:
      # One delivery, one batch: the boundary header closes it, max_wait
      # only the last delivery of each partition.
      boundary_header: vendor-batch-id
      max_wait: 5s
    detectors:
      - name: valid
        type: rules
        rules: [{field: email, required: true, regex: '^[^@\s]+@[^@\s]+$'}]
        max_violation_rate: 0.01
        on_fail: quarantine
      # Learned state: the usual delivery size. A lost or stale baseline
      # changes which batches it flags, so the decisions show whether
      # state moved with the partitions.
      - name: volume
        type: variance
        metrics: [count]
        baseline: {window: 8, min_history: 3}
        max_z: 4
        on_fail: warn
`

// TestFleetSurvivesKills runs replicas of the gate as processes, SIGKILLs
// and restarts them while a feed arrives, and then checks what Kafka
// holds: every input record exactly once in output plus quarantine, each
// partition in order, exactly the planted bad deliveries in quarantine,
// and the same decisions as one process that ran undisturbed beside it
// (in its own group, on the same input).
func TestFleetSurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the fleet crash test in -short mode")
	}
	sc := scaleFromEnv(t)
	started := time.Now()
	dir := t.TempDir()
	logs := sc.logs
	if logs == "" {
		logs = filepath.Join(dir, "logs")
	}
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	f := newFeed("vendor.in", "vendor", int32(sc.parts), sc.records, sc.mean, sc.seed)
	deliveries := f.all()
	planted := map[string]bool{}
	t.Logf("feed: %d records over %d partitions in %d deliveries (about %d records each), arriving over %v; %d replicas, %d kills",
		sc.records, sc.parts, len(deliveries), sc.mean, sc.window, sc.replicas, sc.kills)

	// The broker: one process, never killed, keeping its topics on disk.
	broker := startProc(t, logs, "broker", "dev-broker", "--listen", "127.0.0.1:0",
		"--data-dir", filepath.Join(dir, "broker"), "--partitions", strconv.Itoa(sc.parts))
	addr := broker.waitFunc(t, "its address", func(l string) bool { return strings.HasPrefix(l, "127.0.0.1:") }, 30*time.Second)
	brokers := []string{addr}
	createTopic(t, brokers, "vendor.in", int32(sc.parts))

	write := func(name, group, out, quar string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, fmt.Appendf(nil, gateConfig, addr, group, out, quar), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	fleetCfg := write("fleet.yaml", "chaos", "vendor.clean", "vendor.quarantine")
	soloCfg := write("solo.yaml", "solo", "solo.clean", "solo.quarantine")
	runArgs := func(cfg, id string) []string {
		return []string{"run", "-c", cfg, "--instance-id", id, "--transaction-timeout", "5s", "--log-format", "json"}
	}

	// The fleet, and one process that is never disturbed.
	gates := make([]*proc, sc.replicas)
	// Peak RSS and CPU time of the fleet's processes (every incarnation),
	// read just before each is killed or stopped; the solo process's
	// apart, since it alone owns every partition.
	var peak int64
	var cpu time.Duration
	notePeak := func(p *proc) {
		peak = max(peak, p.peakRSS())
		cpu += p.cpu()
	}
	for i := range gates {
		gates[i] = startProc(t, logs, "gate-"+strconv.Itoa(i), runArgs(fleetCfg, "gate-"+strconv.Itoa(i))...)
	}
	solo := startProc(t, logs, "solo", runArgs(soloCfg, "solo")...)
	for _, g := range append(slices.Clone(gates), solo) {
		g.waitLine(t, `"msg":"gate running"`, 60*time.Second)
	}
	failed := true
	defer func() {
		if failed {
			for _, p := range append(slices.Clone(gates), solo, broker) {
				t.Logf("--- last lines of %s (all in %s):\n%s", p.name, logs, p.tail(15))
			}
		}
	}()

	// Read what the fleet commits, as it commits it.
	tl := newTally(f, "vendor.clean", "vendor.quarantine")
	rctx, stopReading := context.WithCancel(context.Background())
	var readers sync.WaitGroup
	readers.Go(func() {
		if err := read(rctx, brokers, tl.add, "vendor.clean", "vendor.quarantine"); err != nil {
			t.Error(err)
		}
	})
	defer func() { stopReading(); readers.Wait() }()

	// The vendor sends; the replicas die and come back meanwhile.
	produced := make(chan error, 1)
	pctx, stopProducing := context.WithCancel(context.Background())
	defer stopProducing()
	produceStart := time.Now()
	go func() { produced <- f.produce(pctx, brokers, sc.window, nil) }()
	var kills []time.Time
	for k := range sc.kills {
		// Spread over the feed's arrival, from 10% to 85% of it, so that
		// every partition still has deliveries coming after the last.
		at := produceStart.Add(sc.window * time.Duration(10*(sc.kills-1)+75*k) / time.Duration(100*(sc.kills-1)))
		select {
		case err := <-produced:
			if err != nil {
				t.Fatal(err)
			}
			produced <- nil
			time.Sleep(time.Until(at))
		case <-time.After(time.Until(at)):
		}
		i := k % sc.replicas
		g := gates[i]
		if g.exited() {
			t.Fatalf("%s exited by itself before kill %d: %v", g.name, k+1, g.err)
		}
		notePeak(g)
		g.kill()
		kills = append(kills, time.Now())
		total, _, _ := tl.snapshot()
		t.Logf("kill %d at %v: SIGKILL %s (output+quarantine held %d records)", k+1, time.Since(produceStart).Round(100*time.Millisecond), g.name, total)
		// Restarted with the same instance id, as a pod's container is:
		// its transactional id fences the dead one's open transaction.
		gates[i] = startProc(t, logs, g.name, runArgs(fleetCfg, g.name)...)
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	for _, d := range deliveries {
		if d.bad {
			planted[d.batchID(f.name)] = true
		}
	}
	t.Logf("produced in %v; %d deliveries planted bad", time.Since(produceStart).Round(100*time.Millisecond), len(planted))

	// Wait for every record to be decided; on a timeout go on, so that
	// the checks below say what went wrong.
	deadline := time.Now().Add(max(60*time.Second, sc.window))
	drained := time.Duration(0)
	for drained == 0 {
		if total, _, _ := tl.snapshot(); total >= sc.records {
			drained = time.Since(produceStart)
			break
		}
		if time.Now().After(deadline) {
			total, _, _ := tl.snapshot()
			t.Errorf("after %v output+quarantine hold %d of %d records", time.Since(produceStart).Round(time.Second), total, sc.records)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	end := time.Now()
	// Anything committed twice would show up now.
	time.Sleep(2 * time.Second)
	stopReading()
	readers.Wait()

	// The replicas that run now answer their probes, and none of them
	// found a state it could not read.
	for _, g := range gates {
		addr := strings.TrimPrefix(jsonField(g.waitLine(t, `"msg":"admin listening"`, 5*time.Second), "addr"), "http://")
		// A transaction that aborted (a kill makes the others' abort
		// too) keeps a gate unready for a few seconds.
		code, body := get("http://" + addr + "/readyz")
		for wait := time.Now().Add(20 * time.Second); code != 200 && time.Now().Before(wait); {
			time.Sleep(250 * time.Millisecond)
			code, body = get("http://" + addr + "/readyz")
		}
		if code != 200 {
			t.Errorf("%s /readyz: %d %s", g.name, code, body)
		}
		if code, _ := get("http://" + addr + "/healthz"); code != 200 {
			t.Errorf("%s /healthz: %d", g.name, code)
		}
		_, metrics := get("http://" + addr + "/metrics")
		for _, l := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(l, "sluice_state_unreadable_total") && !strings.HasSuffix(l, " 0") {
				t.Errorf("%s: %s", g.name, l)
			}
		}
	}

	within := 30 * time.Second
	if drained == 0 {
		within = 5 * time.Second
	}
	fleetDecisions := readDecisions(t, brokers, "chaos.decisions", len(deliveries), within)
	soloDecisions := readDecisions(t, brokers, "solo.decisions", len(deliveries), within)
	stateBytes := readState(t, brokers, "chaos.state")

	// Stop everything with SIGTERM: each must exit 0, promptly.
	var slowest time.Duration
	soloRSS, soloCPU := solo.peakRSS(), solo.cpu()
	for _, g := range gates {
		notePeak(g)
	}
	for _, g := range append(slices.Clone(gates), solo) {
		took, err := g.stop(30 * time.Second)
		if err != nil {
			t.Error(err)
		}
		slowest = max(slowest, took)
	}
	brokerRSS := broker.peakRSS()
	if _, err := broker.stop(30 * time.Second); err != nil {
		t.Error(err)
	}

	t.Run("a restarted replica takes over at once", func(t *testing.T) {
		// Restarted with its instance id, a replica fences its dead
		// predecessor's transaction at once; the partitions it held
		// must move on within a few seconds, not wait out a session
		// timeout (45s by default) with the whole group stopped.
		var waits []string
		for k, at := range kills {
			d, p := tl.takeover(at, 250*time.Millisecond, end)
			waits = append(waits, fmt.Sprintf("%v (partition %d)", d.Round(100*time.Millisecond), p))
			if d > takeoverLimit {
				t.Errorf("kill %d: partition %d made no progress for %v after it (limit %v)", k+1, p, d.Round(100*time.Millisecond), takeoverLimit)
			}
		}
		t.Logf("every partition progressed again after each kill within: %s", strings.Join(waits, ", "))
	})

	t.Run("exactly once", func(t *testing.T) {
		tl.mu.Lock()
		defer tl.mu.Unlock()
		for _, p := range tl.problems {
			t.Error(p)
		}
		if tl.problemsN > len(tl.problems) {
			t.Errorf("... and %d more problems", tl.problemsN-len(tl.problems))
		}
		missing := 0
		for p := range tl.seen {
			for seq, n := range tl.seen[p] {
				if n == 0 {
					if missing < 10 {
						t.Errorf("record %d-%d is in neither output nor quarantine", p, seq)
					}
					missing++
				}
			}
		}
		if tl.total != sc.records || missing > 0 {
			t.Errorf("output %d + quarantine %d = %d records, want %d (%d missing)", tl.outN, tl.quarN, tl.total, sc.records, missing)
		}
	})

	t.Run("quarantine holds the planted batches", func(t *testing.T) {
		got := map[string]bool{}
		for b := range tl.quarBatch {
			got[b] = true
		}
		for _, d := range deliveries {
			id := d.batchID(f.name)
			if d.bad && tl.quarBatch[id] != d.n {
				t.Errorf("planted batch %s: %d of its %d records in quarantine", id, tl.quarBatch[id], d.n)
			}
			delete(got, id)
		}
		for b := range got {
			t.Errorf("quarantine holds batch %q, which is no delivery", b)
		}
		var quarantined []string
		for id, d := range fleetDecisions.last {
			if d.Verdict.String() == "quarantine" {
				quarantined = append(quarantined, id)
			}
		}
		if !sameSet(quarantined, slices.Collect(maps.Keys(planted))) {
			t.Errorf("the decisions quarantine %d batches, %d were planted: quarantined but not planted %v; planted but not quarantined %v",
				len(quarantined), len(planted), minus(quarantined, planted), minus(slices.Collect(maps.Keys(planted)), toSet(quarantined)))
		}
	})

	t.Run("one decision per delivery", func(t *testing.T) {
		for name, ds := range map[string]*decisions{"fleet": fleetDecisions, "solo": soloDecisions} {
			if ds.records != len(ds.last) {
				t.Errorf("%s: %d decision records for %d batches: a batch was decided twice", name, ds.records, len(ds.last))
			}
			for _, d := range deliveries {
				got, ok := ds.last[d.batchID(f.name)]
				switch {
				case !ok:
					t.Errorf("%s: no decision for delivery %s", name, d.batchID(f.name))
				case got.Records != d.n || got.LastOffset != d.firstOffset+int64(d.n)-1:
					t.Errorf("%s: batch %s has %d records to offset %d, its delivery %d to %d", name, got.Batch, got.Records, got.LastOffset, d.n, d.firstOffset+int64(d.n)-1)
				}
			}
			if len(ds.last) != len(deliveries) {
				t.Errorf("%s: %d batches decided, %d deliveries", name, len(ds.last), len(deliveries))
			}
		}
	})

	t.Run("same decisions as one process", func(t *testing.T) {
		diffs := 0
		for id, want := range soloDecisions.last {
			got, ok := fleetDecisions.last[id]
			if !ok {
				continue // reported above
			}
			if g, w := comparable(got), comparable(want); g != w {
				if diffs < 10 {
					t.Errorf("batch %s:\n fleet %s\n  solo %s", id, g, w)
				}
				diffs++
			}
		}
		if diffs > 0 {
			t.Errorf("%d of %d batches decided differently by the fleet with kills", diffs, len(soloDecisions.last))
		}
	})

	verdicts := map[string]int{}
	for _, d := range fleetDecisions.last {
		verdicts[d.Verdict.String()]++
	}
	var sizes []int
	for _, n := range stateBytes {
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	restores := 0
	for _, g := range gates {
		restores += g.count(`"msg":"partition state unreadable`)
	}
	t.Logf("records %d (output %d, quarantine %d), batches %d (verdicts %v), kills %d", tl.total, tl.outN, tl.quarN, len(fleetDecisions.last), verdicts, sc.kills)
	t.Logf("drained %v after the feed began (window %v); slowest SIGTERM exit %v",
		drained.Round(100*time.Millisecond), sc.window, slowest.Round(time.Millisecond))
	t.Logf("peak RSS (VmHWM): fleet gate %.1f MiB, solo gate %.1f MiB, broker %.1f MiB; CPU: fleet %v in all, solo %v",
		float64(peak)/(1<<20), float64(soloRSS)/(1<<20), float64(brokerRSS)/(1<<20), cpu.Round(100*time.Millisecond), soloCPU.Round(100*time.Millisecond))
	if len(sizes) > 0 {
		t.Logf("state record per partition: %d..%d bytes (%d partitions); unreadable states logged: %d", sizes[0], sizes[len(sizes)-1], len(sizes), restores)
	}
	t.Logf("whole test %v", time.Since(started).Round(100*time.Millisecond))
	failed = t.Failed()
}

// takeoverLimit bounds how long, after a replica is killed and restarted,
// any partition may go without progress: three transaction timeouts.
const takeoverLimit = 15 * time.Second

// get fetches a URL and returns the status and body; 0 when it fails.
func get(url string) (int, string) {
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// jsonField is a string field of a JSON log line.
func jsonField(line, key string) string {
	var m map[string]any
	_ = json.Unmarshal([]byte(line), &m)
	s, _ := m[key].(string)
	return s
}

// comparable is what must be the same whoever decided a batch: not when,
// and not where in quarantine its records went.
func comparable(d *gate.Decision) string {
	c := *d
	c.DecidedAt = time.Time{}
	c.Quarantine = nil
	b, _ := json.Marshal(&c)
	return string(b)
}

type decisions struct {
	last    map[string]*gate.Decision
	records int // decision records read, duplicates included
}

// readDecisions reads a decisions topic read_committed until it holds want
// batches, and a little longer for duplicates.
func readDecisions(t *testing.T, brokers []string, topic string, want int, within time.Duration) *decisions {
	t.Helper()
	ds := &decisions{last: map[string]*gate.Decision{}}
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		read(ctx, brokers, func(r *kgo.Record, _ time.Time) {
			d, err := gate.ParseDecision(r.Value)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("%s@%d: %v", topic, r.Offset, err)
				return
			}
			ds.records++
			ds.last[d.Batch] = d
		}, topic)
	}()
	deadline := time.Now().Add(within)
	for {
		mu.Lock()
		n := len(ds.last)
		mu.Unlock()
		if n >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	cancel()
	<-done
	return ds
}

// readState reads the state topic and returns the size of each key's
// latest record.
func readState(t *testing.T, brokers []string, topic string) map[string]int {
	t.Helper()
	out := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	read(ctx, brokers, func(r *kgo.Record, _ time.Time) { out[string(r.Key)] = len(r.Value) }, topic)
	return out
}

func createTopic(t *testing.T, brokers []string, topic string, parts int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, parts, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("cannot create %s: %v", topic, err)
	}
}

func toSet(s []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range s {
		m[x] = true
	}
	return m
}

func sameSet(a, b []string) bool {
	return len(toSet(a)) == len(toSet(b)) && len(minus(a, toSet(b))) == 0
}

// minus is a's elements that are not in b, sorted.
func minus(a []string, b map[string]bool) []string {
	var out []string
	for _, x := range a {
		if !b[x] {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}
