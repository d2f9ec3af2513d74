package chaos

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// memoryConfig is a gate with every detector that keeps per-key state
// (degree, variance over distinct keys) and 50,000-record batches.
const memoryConfig = `
brokers: [%s]
group: %s
admin: {listen: "127.0.0.1:0"}
feeds:
  - name: vendor
    input: %s
    output: %s.clean
    quarantine: %s.quarantine
    key: email
    batch: {max_records: 50000, max_wait: 2s}
    detectors:
      - name: valid
        type: rules
        rules: [{field: email, required: true, regex: '^[^@\s]+@[^@\s]+$'}]
        max_violation_rate: 0.01
        on_fail: quarantine
      - name: supernodes
        type: degree
        neighbor: profile_id
        max_repeat: 1000
        over_baseline: {quantile: 0.999, factor: 1000}
        on_fail: warn
      - name: volume
        type: variance
        metrics: [count, distinct_keys, "mean_degree(profile_id)", "null_rate(company)", "mean(score)"]
        baseline: {window: 48, min_history: 3}
        max_z: 6
        on_fail: warn
`

// TestMemoryBounded measures the gate's peak RSS, as a process of its own
// beside a dev-broker process, with 12 partitions and 50,000-record
// batches, twice: over a feed whose batches repeat the same 50,000 keys
// per partition, and over one whose every key is new. Each batch holds
// 50,000 distinct keys either way; only the keys seen differ. The peak
// stays under 512 MiB, and the second is no larger than the first beyond
// the noise: state is sketched beyond its caps, so memory does not follow
// the keys seen. SLUICE_MEMORY_RECORDS sets the records per run (default
// two batches a partition).
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the memory test in -short mode")
	}
	const parts = 12
	records := 2 * parts * 50_000
	if v := os.Getenv("SLUICE_MEMORY_RECORDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2*parts*50_000 {
			t.Fatalf("SLUICE_MEMORY_RECORDS=%q: want a number ≥ %d (two batches a partition)", v, 2*parts*50_000)
		}
		records = n
	}
	dir := t.TempDir()
	broker := startProc(t, dir, "broker", "dev-broker", "--listen", "127.0.0.1:0", "--partitions", strconv.Itoa(parts))
	addr := broker.waitFunc(t, "its address", func(l string) bool { return strings.HasPrefix(l, "127.0.0.1:") }, 30*time.Second)
	brokers := []string{addr}

	run := func(name string, distinct int) int64 {
		topic := "mem." + name
		createTopic(t, brokers, topic, parts)
		if err := produceDistinct(brokers, topic, parts, records, distinct); err != nil {
			t.Fatal(err)
		}
		cfg := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(cfg, fmt.Appendf(nil, memoryConfig, addr, "mem-"+name, topic, topic, topic), 0o644); err != nil {
			t.Fatal(err)
		}
		g := startProc(t, dir, "gate-"+name, "run", "-c", cfg, "--log-format", "json")
		admin := jsonField(g.waitLine(t, `"msg":"admin listening"`, 30*time.Second), "addr")
		deadline := time.Now().Add(3 * time.Minute)
		for decided(admin) < records {
			if time.Now().After(deadline) || g.exited() {
				t.Fatalf("%s: %d of %d records decided; last lines:\n%s", name, decided(admin), records, g.tail(15))
			}
			time.Sleep(200 * time.Millisecond)
		}
		peak := g.peakRSS()
		if peak == 0 {
			t.Fatalf("%s: no peak RSS: the gate exited before it was read; last lines:\n%s", name, g.tail(15))
		}
		if _, err := g.stop(20 * time.Second); err != nil {
			t.Error(err)
		}
		t.Logf("%s: %d records, %d distinct keys, 12 partitions, 50,000-record batches: peak RSS %d MiB",
			name, records, distinct, peak>>20)
		return peak
	}
	repeating := run("repeating", parts*50_000)
	distinct := run("distinct", records)
	for _, p := range []int64{repeating, distinct} {
		if p > 512<<20 {
			t.Errorf("peak RSS %d MiB, over 512 MiB", p>>20)
		}
	}
	if distinct > repeating+repeating/5 {
		t.Errorf("peak RSS grew with the keys seen: %d MiB with %d distinct keys, %d MiB with %d",
			distinct>>20, records, repeating>>20, parts*50_000)
	}
}

// decided is sluice_records_total summed over results, from /metrics.
func decided(admin string) int {
	code, body := get(admin + "/metrics")
	if code != 200 {
		return 0
	}
	n := 0
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "sluice_records_total{") && !strings.Contains(l, `result="in"`) {
			if i := strings.LastIndexByte(l, ' '); i > 0 {
				v, _ := strconv.ParseFloat(l[i+1:], 64)
				n += int(v)
			}
		}
	}
	return n
}

// produceDistinct writes records ~290-byte JSON records round robin over
// the partitions; each partition's keys cycle over distinct/parts emails
// of its own.
func produceDistinct(brokers []string, topic string, parts, records, distinct int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100_000))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	failed := make(chan error, 1)
	for i := range records {
		p, seq := i%parts, i/parts
		k := p*records + seq%(distinct/parts) // each partition its own keys
		v := fmt.Appendf(nil, `{"id":"r%d","email":"user%d@example.com","profile_id":"p%d","company":"Company %d","score":%d.5,`+
			`"contact":{"phone":"+1-555-%04d","address":{"city":"Springfield","zip":"%05d"}},"tags":["vip","newsletter"],`+
			`"created_at":"2026-11-21T10:00:00Z","source":"vendor-a","status":"active"}`,
			i, k, k%50_000, k%1000, i%100, k%10_000, k%100_000)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(p), Key: fmt.Appendf(nil, "user%d", k), Value: v},
			func(_ *kgo.Record, err error) {
				if err != nil {
					select {
					case failed <- err:
					default:
					}
				}
			})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	select {
	case err := <-failed:
		return err
	default:
		return nil
	}
}
