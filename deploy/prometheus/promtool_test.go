// Package prometheus_test checks the alerting rules in this directory with
// promtool: `promtool check rules alerts.yaml` and the unit test
// `promtool test rules alerts_test.yaml`. promtool comes with Prometheus
// (Debian: apt-get install -y prometheus). Without it the test skips,
// except in CI (CI set), where it fails.
package prometheus_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

func TestPromtoolRules(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set and promtool is missing: install it with `apt-get install -y prometheus`")
		}
		t.Skip("skipping: no promtool on PATH; install it with `apt-get install -y prometheus` (Debian) or from a Prometheus release")
	}
	for _, args := range [][]string{
		{"check", "rules", "alerts.yaml"},
		{"test", "rules", "alerts_test.yaml"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		out, err := exec.CommandContext(ctx, promtool, args...).CombinedOutput()
		cancel()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
