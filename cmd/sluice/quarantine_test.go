package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/gate"
)

// quarantined starts a broker and a gate, sends one failing batch, and
// returns the config file that reaches them.
func quarantined(t *testing.T) (cfgPath string, values [][]byte) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "in"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfgPath = filepath.Join(t.TempDir(), "sluice.yaml")
	yaml := fmt.Sprintf(`brokers: [%s]
group: q
feeds:
  - name: sponsors
    input: in
    output: out
    quarantine: quar
    key: email
    batch: {max_records: 10, max_wait: 200ms}
    detectors:
      - name: valid
        type: rules
        rules: [{field: email, required: true}]
`, c.ListenAddrs()[0])
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(cfg.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < 10; i++ {
		v := []byte(fmt.Sprintf(`{"email":"user%d@example.com","n":%d}`, i, i))
		if i == 3 {
			v = []byte(`{"n":3}`)
		}
		values = append(values, v)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "in", Key: []byte(fmt.Sprint(i)), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	runUntilHeld(t, cfg, cfgPath, "sponsors:0:0")
	return cfgPath, values
}

// runUntilHeld runs a gate for the test's length and waits until batch is
// in `sluice quarantine list`.
func runUntilHeld(t *testing.T, cfg *config.Config, cfgPath, batch string) {
	t.Helper()
	g, err := gate.New(cfg, gate.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { g.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out bytes.Buffer
		if run([]string{"quarantine", "list", "-c", cfgPath}, &out, &out) == 0 && strings.Contains(out.String(), batch) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the batch never showed in quarantine list: %s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func sluice(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := run(args, &out, &out)
	return code, out.String()
}

func TestQuarantineCommands(t *testing.T) {
	cfg, values := quarantined(t)
	code, out := sluice(t, "quarantine", "show", "sponsors:0:0", "-c", cfg)
	if code != 0 || !strings.Contains(out, "quarantined") || !strings.Contains(out, "valid:") || !strings.Contains(out, "sample (5 of 10") {
		t.Fatalf("show: exit %d\n%s", code, out)
	}
	if strings.Contains(out, "user1@example.com") || !strings.Contains(out, "redacted:") {
		t.Fatalf("show prints keys although redact_keys is on:\n%s", out)
	}
	file := filepath.Join(t.TempDir(), "batch.jsonl")
	if code, out := sluice(t, "quarantine", "export", "sponsors:0:0", "--format", "jsonl", "-o", file, "-c", cfg); code != 0 {
		t.Fatalf("export: exit %d\n%s", code, out)
	}
	f, _ := os.Open(file)
	defer f.Close()
	sc := bufio.NewScanner(f)
	i := 0
	for ; sc.Scan(); i++ {
		var e struct {
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || !bytes.Equal(e.Value, values[i]) {
			t.Fatalf("export line %d: %s (want value %s)", i, sc.Text(), values[i])
		}
	}
	if i != 10 {
		t.Fatalf("export has %d lines, want 10", i)
	}
	if code, out := sluice(t, "quarantine", "drop", "sponsors:0:0", "-c", cfg); code == 0 || !strings.Contains(out, "--reason") {
		t.Fatalf("drop without a reason: exit %d %s", code, out)
	}
	if code, out := sluice(t, "quarantine", "release", "sponsors:0:0", "-c", cfg); code != 0 || !strings.Contains(out, "released") {
		t.Fatalf("release: exit %d %s", code, out)
	}
	if code, out := sluice(t, "quarantine", "release", "-c", cfg, "sponsors:0:0"); code != 1 || !strings.Contains(out, "already released") {
		t.Fatalf("second release: exit %d %s", code, out)
	}
	if code, out := sluice(t, "quarantine", "list", "--all", "-c", cfg); code != 0 || !strings.Contains(out, "released") {
		t.Fatalf("list --all: exit %d %s", code, out)
	}
}
