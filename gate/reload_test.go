package gate

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

func rateConfig(rate string) string {
	return fmt.Sprintf(`
group: g1
feeds:
  - name: sponsors
    input: in
    output: out
    quarantine: quar
    key: email
    batch: {max_records: 10, max_wait: 60s}
    detectors:
      - name: valid
        type: rules
        rules: [{field: email, required: true, regex: '^[^@\s]+@[^@\s]+$'}]
        max_violation_rate: %s
`, rate)
}

// batchOf makes 10 records starting at n, of which bad break the rule.
func batchOf(n, bad int) []*kgo.Record {
	var out []*kgo.Record
	for i := n; i < n+10; i++ {
		email := fmt.Sprintf("u%d@example.com", i)
		if i-n < bad {
			email = "broken"
		}
		out = append(out, jsonRec("in", 0, i, email))
	}
	return out
}

func TestReloadAppliesAtTheNextBatchBoundary(t *testing.T) {
	brokers := cluster(t, 1, "in")
	lenient := parseConfig(t, brokers, rateConfig("0.5"))
	g := startGate(t, lenient, Options{})
	produce(t, brokers, batchOf(0, 2)...)
	if out := consume(t, brokers, "out", 10, 20*time.Second); len(out) != 10 {
		t.Fatalf("lenient: %d records passed, want 10", len(out))
	}
	// Half a batch is open when the strict config arrives: it is judged
	// by the config it started under.
	produce(t, brokers, batchOf(10, 2)[:5]...)
	time.Sleep(500 * time.Millisecond)
	if err := g.g.Reload(parseConfig(t, brokers, rateConfig("0.01"))); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the loop picks the reload up between polls
	produce(t, brokers, batchOf(10, 2)[5:]...)
	if out := consume(t, brokers, "out", 20, 20*time.Second); len(out) != 20 {
		t.Fatalf("the open batch was not judged by its own config: output %d, want 20", len(out))
	}
	produce(t, brokers, batchOf(20, 2)...)
	if q := consume(t, brokers, "quar", 10, 20*time.Second); len(q) != 10 {
		t.Fatalf("strict: quarantine has %d records, want the next batch's 10", len(q))
	}
	if v := testutil.ToFloat64(g.g.met.configReload); v != 1 {
		t.Fatalf("sluice_config_reload_success = %v", v)
	}
	g.stop(t)
}

func TestReloadRefusedKeepsRunningConfig(t *testing.T) {
	brokers := cluster(t, 1, "in")
	cfg := parseConfig(t, brokers, rateConfig("0.5"))
	g := startGate(t, cfg, Options{})
	other := parseConfig(t, brokers, rateConfig("0.01"))
	other.Feeds[0].Output = "elsewhere"
	if err := g.g.Reload(other); err == nil {
		t.Fatal("a reload that changes a topic was taken")
	}
	if v := testutil.ToFloat64(g.g.met.configReload); v != 0 {
		t.Fatalf("sluice_config_reload_success = %v, want 0", v)
	}
	produce(t, brokers, batchOf(0, 2)...)
	if out := consume(t, brokers, "out", 10, 20*time.Second); len(out) != 10 {
		t.Fatalf("the running config did not stay: %d passed", len(out))
	}
	g.stop(t)
}

func TestReloadMidStreamLosesNothing(t *testing.T) {
	brokers := cluster(t, 1, "in")
	g := startGate(t, parseConfig(t, brokers, rateConfig("0.5")), Options{})
	var all []*kgo.Record
	for b := 0; b < 30; b++ {
		recs := batchOf(b*10, b%3)
		all = append(all, recs...)
		produce(t, brokers, recs...)
		if b%5 == 4 {
			rate := []string{"0.5", "0.15"}[b/5%2]
			if err := g.g.Reload(parseConfig(t, brokers, rateConfig(rate))); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	var out, q []*kgo.Record
	waitFor(t, "every record decided", 30*time.Second, func() bool {
		out = consume(t, brokers, "out", len(all), 200*time.Millisecond)
		q = consume(t, brokers, "quar", len(all)-len(out), 200*time.Millisecond)
		return len(out)+len(q) >= len(all)
	})
	seen := map[string]int{}
	for _, r := range append(out, q...) {
		seen[string(r.Value)]++
	}
	for _, r := range all {
		if seen[string(r.Value)] != 1 {
			t.Fatalf("record %s seen %d times", r.Value, seen[string(r.Value)])
		}
	}
	if len(q) == 0 {
		t.Fatal("no batch was quarantined: the strict config never applied")
	}
	g.stop(t)
}
