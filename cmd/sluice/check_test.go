package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckTestdata runs `sluice check` on every file of testdata/config:
// good files exit 0, bad ones exit 1 with exactly the lines of their .err
// file, each FILE:LINE:COL: path: message.
func TestCheckTestdata(t *testing.T) {
	dir, err := filepath.Abs("../../testdata/config")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) < 25 {
		t.Fatalf("only %d config files in testdata", len(files))
	}
	t.Chdir(dir)
	bad := 0
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run([]string{"check", "-c", name}, &stdout, &stderr)
			if strings.HasSuffix(name, ".good.yaml") {
				if code != 0 || !strings.HasPrefix(stdout.String(), name+": ok") {
					t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout.String(), stderr.String())
				}
				return
			}
			bad++
			want, err := os.ReadFile(f + ".err")
			if err != nil {
				t.Fatal(err)
			}
			if code != 1 {
				t.Fatalf("exit %d, want 1", code)
			}
			if got := stderr.String(); got != string(want) {
				t.Fatalf("stderr:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	if bad < 20 {
		t.Fatalf("only %d bad config files", bad)
	}
}

// TestCheckBuildsDetectors: check goes beyond the file and builds every
// detector, so a reference that is missing or does not parse is reported at
// its place in the config.
func TestCheckBuildsDetectors(t *testing.T) {
	t.Chdir("../../testdata/check")
	for _, name := range []string{"missing_reference.yaml", "broken_reference.yaml"} {
		var stdout, stderr bytes.Buffer
		code := run([]string{"check", "-c", name}, &stdout, &stderr)
		if code != 1 || !strings.HasPrefix(stderr.String(), name+":11:20: feeds[0].detectors[0].reference: cannot open reference") &&
			!strings.HasPrefix(stderr.String(), name+":12:20: feeds[0].detectors[0].reference: cannot open reference") {
			t.Errorf("%s: exit %d, stderr %q", name, code, stderr.String())
		}
		if want, err := os.ReadFile(name + ".err"); err == nil && stderr.String() != string(want) {
			t.Errorf("%s: stderr %q, want %q", name, stderr.String(), want)
		}
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	for _, c := range commands {
		var stdout, stderr bytes.Buffer
		if code := run([]string{c.name, "--help"}, &stdout, &stderr); code != 0 {
			t.Errorf("sluice %s --help: exit %d", c.name, code)
		}
		if out := stdout.String() + stderr.String(); !strings.Contains(out, "Usage: sluice "+c.name) {
			t.Errorf("sluice %s --help printed %q", c.name, out)
		}
	}
}
