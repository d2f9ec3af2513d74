package reference_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/detectors"
	"github.com/sluicehq/sluice/reference"
)

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func produce(t *testing.T, cl *kgo.Client, recs ...*kgo.Record) {
	t.Helper()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func profile(key, id, company string) *kgo.Record {
	return &kgo.Record{Topic: "truth", Key: []byte(key),
		Value: fmt.Appendf(nil, `{"profile_id":%q,"company":%q,"updated":"2026-01-01"}`, id, company)}
}

// TestTopic: the reference follows a compacted topic read_committed:
// values produced, updated and deleted by tombstones, aborted
// transactions ignored; it answers only once caught up.
func TestTopic(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "truth"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	brokers := c.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("truth"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	// A thousand keys before the reference starts: it must read them all
	// before it answers.
	var recs []*kgo.Record
	for i := range 1000 {
		recs = append(recs, profile(fmt.Sprintf("k%d@x.com", i), fmt.Sprintf("p%d", i), "Old Co"))
	}
	produce(t, cl, recs...)
	produce(t, cl, profile("a@x.com", "p1", "Acme"), profile("b@x.com", "p2", "Beta"),
		&kgo.Record{Topic: "truth", Key: []byte("bad@x.com"), Value: []byte("not json")})

	cfg := config.Reference{Topic: "truth", Key: "email", Compare: []string{"profile_id", "company"}}
	ref, err := reference.OpenTopic(cfg, brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	if err := ref.Check(context.Background(), []detectors.Sample{sample("a@x.com", "p1", "Acme")}); err == nil && !ref.Ready() {
		t.Error("answered before catching up")
	}
	eventually(t, "caught up", ref.Ready)
	if ref.Len() != 1002 || ref.Malformed() != 1 {
		t.Errorf("%d keys, %d malformed; want 1002 and 1", ref.Len(), ref.Malformed())
	}
	got := outcomes(t, ref, sample("a@x.com", "p1", "Acme"), sample("b@x.com", "p2", "Acme"), sample("k7@x.com", "p7", "Old Co"), sample("c@x.com", "p3", "Gamma"))
	want := []detectors.Outcome{detectors.Correct, detectors.Wrong, detectors.Correct, detectors.NotInReference}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("outcomes %v, want %v", got, want)
	}

	// Update, delete, add: reflected without a restart.
	produce(t, cl, profile("b@x.com", "p2", "Acme"),
		&kgo.Record{Topic: "truth", Key: []byte("a@x.com")}, // tombstone
		profile("c@x.com", "p3", "Gamma"))
	eventually(t, "updates applied", func() bool {
		got := outcomes(t, ref, sample("a@x.com", "p1", "Acme"), sample("b@x.com", "p2", "Acme"), sample("c@x.com", "p3", "Gamma"))
		return fmt.Sprint(got) == fmt.Sprint([]detectors.Outcome{detectors.NotInReference, detectors.Correct, detectors.Correct})
	})

	// An aborted transaction is never seen; a committed one is.
	tx, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("truth"), kgo.TransactionalID("truth-writer"))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	for _, commit := range []kgo.TransactionEndTry{kgo.TryAbort, kgo.TryCommit} {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		key := map[kgo.TransactionEndTry]string{kgo.TryAbort: "aborted@x.com", kgo.TryCommit: "committed@x.com"}[commit]
		produce(t, tx, profile(key, "p", "Tx"))
		if err := tx.EndTransaction(context.Background(), commit); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the committed transaction applied", func() bool {
		return outcomes(t, ref, sample("committed@x.com", "p", "Tx"))[0] == detectors.Correct
	})
	if got := outcomes(t, ref, sample("aborted@x.com", "p", "Tx"))[0]; got != detectors.NotInReference {
		t.Errorf("aborted record: %v", got)
	}

	// A second reference, started after transaction markers, still
	// catches up: the markers count as read.
	again, err := reference.OpenTopic(cfg, brokers)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	eventually(t, "the second reference caught up", again.Ready)
	if again.Len() != ref.Len() {
		t.Errorf("second reference holds %d keys, first %d", again.Len(), ref.Len())
	}
}

// TestTopicUnavailable: a topic that cannot be read makes the batch's
// reference unavailable, never a pass; Open needs brokers for a topic.
func TestTopicUnavailable(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cfg := accuracy(config.Reference{Topic: "nowhere", Key: "email", Compare: []string{"profile_id", "company"}})
	h := newHarness(t, cfg, "email", opener(t, "", reference.WithBrokers(c.ListenAddrs()...)))
	for range 300 {
		h.observe([]byte(`{"email":"a@x.com","profile_id":"p1","company":"Acme"}`))
	}
	fs := h.judge()
	if fs[0].Metric != "reference_unavailable" || worst(fs) == detectors.Pass || !strings.Contains(fs[0].Message, "still loading") {
		t.Errorf("findings %+v", fs)
	}
	t.Log(fs[0].Message)

	if _, err := reference.Open(*cfg.Reference, ""); err == nil || !strings.Contains(err.Error(), "no brokers") {
		t.Errorf("topic without brokers: %v", err)
	}
}
