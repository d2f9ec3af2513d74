package gate

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestKcatInterop: librdkafka, a client nobody here wrote, produces the
// feed with keys and headers; the gate judges it; kcat reads the output
// read_committed, byte-identical.
func TestKcatInterop(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		needTool(t, "kcat is not installed; install it with `apt-get install -y kcat`")
	}
	brokers := cluster(t, 1, "in")
	var in bytes.Buffer
	var want []string
	for i := 0; i < 30; i++ {
		email := fmt.Sprintf("user%d@example.com", i)
		if i >= 10 && i < 20 && i%3 == 0 {
			email = "nobody"
		}
		v := fmt.Sprintf(`{"email":%q,"profile_id":"p%d","note":"café ☕ %d"}`, email, i, i)
		// kcat -K '|' splits key and value on the first '|'.
		fmt.Fprintf(&in, "k%d|%s\n", i, v)
		if i < 10 || i >= 20 {
			want = append(want, fmt.Sprintf("k%d|%s|trace=t%d", i, v, i%2))
		}
	}
	// A kcat call a record, each with its own header.
	lines := strings.Split(strings.TrimSpace(in.String()), "\n")
	for i, l := range lines {
		cmd := exec.Command(kcat, "-b", brokers[0], "-P", "-t", "in", "-p", "0", "-K", "|", "-H", fmt.Sprintf("trace=t%d", i%2))
		cmd.Stdin = strings.NewReader(l + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("kcat produce: %v\n%s", err, out)
		}
	}
	g := startGate(t, parseConfig(t, brokers, feedConfig("", "quarantine")), Options{})
	waitFor(t, "the output", 20*time.Second, func() bool { return len(consume(t, brokers, "out", 20, time.Second)) == 20 })
	read := func(topic string) []string {
		out, err := exec.Command(kcat, "-b", brokers[0], "-C", "-t", topic, "-o", "beginning", "-e", "-q",
			"-X", "isolation.level=read_committed", "-f", "%p|%T|%k|%s|%h\n").CombinedOutput()
		if err != nil {
			t.Fatalf("kcat consume %s: %v\n%s", topic, err, out)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	// What kcat wrote, as kcat reads it back (with librdkafka's timestamps),
	// less the quarantined batch, is what the output must hold.
	input := read("in")
	var expect []string
	for i, l := range input {
		if i < 10 || i >= 20 {
			expect = append(expect, l)
		}
	}
	got := read("out")
	if len(got) != len(want) || len(expect) != len(want) {
		t.Fatalf("kcat read %d output records and %d input records, want %d", len(got), len(input), len(want))
	}
	for i := range want {
		if got[i] != expect[i] || !strings.HasSuffix(got[i], want[i]) {
			t.Fatalf("record %d:\n got %s\nwant %s", i, got[i], expect[i])
		}
	}
	if q := read("quar"); len(q) != 10 {
		t.Fatalf("quarantine holds %d records, want 10", len(q))
	}
	g.stop(t)
}
