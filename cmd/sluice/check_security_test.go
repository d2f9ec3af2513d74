package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestCheckSecurityFiles: check reads the files tls and sasl name, as the
// gate will, and reports each problem at its setting; a password file's
// content never reaches the output.
func TestCheckSecurityFiles(t *testing.T) {
	t.Chdir("../../testdata/check")
	var stdout, stderr bytes.Buffer
	code := run([]string{"check", "-c", "security_files.yaml"}, &stdout, &stderr)
	want, err := os.ReadFile("security_files.yaml.err")
	if err != nil {
		t.Fatal(err)
	}
	if code != 1 || stderr.String() != string(want) {
		t.Fatalf("exit %d, stderr:\n%s\nwant:\n%s", code, stderr.String(), want)
	}

	t.Chdir("../config")
	for _, name := range []string{"security.good.yaml", "security_plain.good.yaml"} {
		stdout.Reset()
		stderr.Reset()
		if code := run([]string{"check", "-c", name}, &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, stderr.String())
		}
		if strings.Contains(stdout.String()+stderr.String(), "not-a-secret") {
			t.Fatalf("%s: the password reached the output", name)
		}
	}
}
