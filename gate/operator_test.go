package gate

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestReleaseExactlyOnceThenRefused(t *testing.T) {
	brokers := cluster(t, 1, "in")
	in := input(1, 30, func(_ int32, i int) bool { return i == 15 })
	produce(t, brokers, in...)
	cfg := parseConfig(t, brokers, feedConfig("", "quarantine"))
	g := startGate(t, cfg, Options{})
	if out := consume(t, brokers, "out", 20, 20*time.Second); len(out) != 20 {
		t.Fatalf("output has %d records before release, want 20", len(out))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const id = "sponsors:0:10"
	waitIndexed(t, ctx, cfg, id, 10*time.Second)
	d, err := Release(ctx, cfg, id, "tester", "vendor confirmed the data")
	if err != nil {
		t.Fatal(err)
	}
	if d.State != StateReleased || d.Change.By != "tester" {
		t.Fatalf("released decision: %+v", d)
	}
	out := consume(t, brokers, "out", 31, 5*time.Second)
	if len(out) != 30 {
		t.Fatalf("output has %d records after release, want 30 (each once)", len(out))
	}
	// What passed before comes first; the released batch follows, in its
	// order, byte-identical and without the sluice-* headers.
	for i := 0; i < 10; i++ {
		sameRecord(t, out[i], in[i])
		sameRecord(t, out[i+10], in[i+20])
		sameRecord(t, out[i+20], in[i+10])
		if len(out[i+20].Headers) != len(in[i+10].Headers) {
			t.Fatalf("released record carries headers %v", out[i+20].Headers)
		}
	}
	if _, err := Release(ctx, cfg, id, "tester", "again"); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("second release: %v, want ErrNotHeld", err)
	}
	if _, err := Release(ctx, cfg, "sponsors:0:999", "tester", ""); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("release of an unknown batch: %v", err)
	}
	if _, err := Drop(ctx, cfg, id, "tester", "too late"); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("drop of a released batch: %v", err)
	}
	if out := consume(t, brokers, "out", 31, 2*time.Second); len(out) != 30 {
		t.Fatalf("refused operations changed the output: %d records", len(out))
	}
	ix, err := ReadIndex(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s := ix.Batches[id].State; s != StateReleased {
		t.Fatalf("state after refused operations: %s", s)
	}
	g.stop(t)
}

func TestDropRecordsWhoWhenWhy(t *testing.T) {
	brokers := cluster(t, 1, "in")
	produce(t, brokers, input(1, 10, func(_ int32, i int) bool { return i < 5 })...)
	cfg := parseConfig(t, brokers, feedConfig("", "quarantine"))
	g := startGate(t, cfg, Options{})
	if q := consume(t, brokers, "quar", 10, 20*time.Second); len(q) != 10 {
		t.Fatalf("quarantine has %d records", len(q))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitIndexed(t, ctx, cfg, "sponsors:0:0", 10*time.Second)
	d, err := Drop(ctx, cfg, "sponsors:0:0", "tester", "vendor resent it")
	if err != nil {
		t.Fatal(err)
	}
	if d.State != StateDropped || d.Change.Reason != "vendor resent it" || d.Change.At.IsZero() {
		t.Fatalf("dropped decision: %+v", d)
	}
	if _, err := Release(ctx, cfg, "sponsors:0:0", "tester", ""); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("release of a dropped batch: %v", err)
	}
	// Nothing is deleted from Kafka.
	if q := consume(t, brokers, "quar", 10, 5*time.Second); len(q) != 10 {
		t.Fatalf("quarantine has %d records after drop, want 10", len(q))
	}
	waitFor(t, "the held gauge to drop", 10*time.Second, func() bool { return len(g.g.tailOrNil().held()) == 0 })
	g.stop(t)
}
