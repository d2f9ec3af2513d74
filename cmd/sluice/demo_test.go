package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/bench"
	"github.com/sluicehq/sluice/detectors"
)

// TestDemoReconciles runs the demo's code path with a short schedule: every
// record is accounted for, and the incidents the shipped detectors can see
// are caught.
func TestDemoReconciles(t *testing.T) {
	o := defaultDemo()
	o.batches, o.every, o.mean, o.timeout = 8, 50*time.Millisecond, 150, 60*time.Second
	o.schedule = []bench.Incident{{Kind: bench.Rename, Batch: 3}, {Kind: bench.Malformed, Batch: 6}}
	var out bytes.Buffer
	s, err := runDemo(context.Background(), o, &out, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	if s.produced == 0 || s.held() != 0 || s.passed+s.quarantined+s.dropped != s.produced {
		t.Fatalf("does not reconcile: in %d, passed %d, quarantined %d, dropped %d", s.produced, s.passed, s.quarantined, s.dropped)
	}
	if len(s.incidents) != 2 {
		t.Fatalf("%d incidents logged, want 2", len(s.incidents))
	}
	for _, inc := range s.incidents {
		if !inc.decided || inc.verdict < detectors.Quarantine {
			t.Errorf("incident %s at delivery %d not caught (batch %s, verdict %v)", inc.Kind, inc.Batch, inc.gateBatch, inc.verdict)
		}
	}
	if !strings.Contains(out.String(), "(reconciles)") {
		t.Fatalf("summary does not say it reconciles:\n%s", out.String())
	}
}
