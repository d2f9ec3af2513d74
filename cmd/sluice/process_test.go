package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// binary builds the sluice binary once for the tests that run it as a
// process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sluice-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "sluice")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// start runs the binary; its output lines arrive on the returned channel.
func start(t *testing.T, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return cmd, lines
}

// waitLine waits for a line that contains s, or that starts with the rest
// of s when s starts with '^'.
func waitLine(t *testing.T, lines <-chan string, s string) string {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("process ended before printing %q", s)
			}
			if strings.Contains(l, s) || strings.HasPrefix(s, "^") && strings.HasPrefix(l, s[1:]) {
				return l
			}
		case <-timeout:
			t.Fatalf("no line with %q", s)
		}
	}
}

func stopProcess(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30s of SIGTERM")
	}
}

func TestDevBrokerKeepsTopicsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	cmd, sc := start(t, "dev-broker", "--listen", "127.0.0.1:0", "--data-dir", dir)
	addr := waitLine(t, sc, "^127.0.0.1:")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "kept", Value: []byte("survives")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()
	stopProcess(t, cmd)

	_, sc = start(t, "dev-broker", "--listen", addr, "--data-dir", dir)
	waitLine(t, sc, "^"+addr)
	cl, err = kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics("kept"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var got []string
	for len(got) == 0 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if len(got) != 1 || got[0] != "survives" {
		t.Fatalf("after restart the topic holds %q", got)
	}
}

func TestRunWithoutBrokersStartsEmbeddedAndStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(`
admin: {listen: "127.0.0.1:0"}
feeds:
  - name: f
    input: in
    output: out
    quarantine: quar
    format: raw
    batch: {max_wait: 200ms}
`), 0o644)
	cmd, sc := start(t, "run", "-c", cfg, "--embedded-listen", "127.0.0.1:0", "--log-format", "json")
	line := waitLine(t, sc, "started the embedded broker")
	if !strings.Contains(line, `"brokers":"127.0.0.1:`) {
		t.Fatalf("the log does not say where the broker listens: %s", line)
	}
	waitLine(t, sc, "gate running")
	stopProcess(t, cmd)
}

func TestRunReloadsOnChangeAndRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "sluice.yaml")
	good := `
admin: {listen: "127.0.0.1:0"}
feeds:
  - name: f
    input: in
    output: out
    quarantine: quar
    batch: {max_wait: 200ms}
    detectors:
      - name: valid
        type: rules
        rules: [{field: email, required: true}]
`
	os.WriteFile(cfg, []byte(good), 0o644)
	cmd, sc := start(t, "run", "-c", cfg, "--embedded-listen", "127.0.0.1:0")
	waitLine(t, sc, "gate running")
	// A broken edit: the errors are logged with their positions, the gate
	// keeps running.
	os.WriteFile(cfg, []byte(strings.Replace(good, "max_wait: 200ms", "max_wait: soon", 1)), 0o644)
	line := waitLine(t, sc, "config rejected")
	if !strings.Contains(line, "sluice.yaml:8:") || !strings.Contains(line, "feeds[0].batch.max_wait") {
		t.Fatalf("the rejection does not say where: %s", line)
	}
	os.WriteFile(cfg, []byte(strings.Replace(good, "required: true", "required: true, type: string", 1)), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	waitLine(t, sc, "config reloaded")
	stopProcess(t, cmd)
}
