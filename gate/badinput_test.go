package gate

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

const badInputFeed = `
group: g1
feeds:
  - name: sponsors
    input: in
    output: out
    quarantine: quar
    key: email
    on_decode_error: %s
    batch: {max_records: %d, max_wait: 500ms, max_bytes: %s}
    detectors:
      - name: valid
        type: rules
        rules: [{field: email, required: true, type: string, regex: '^[^@\s]+@[^@\s]+$'}]
        max_violation_rate: 0.01
        on_fail: quarantine
`

// goodRec is a valid record of partition 0, unique by i.
func goodRec(i int) *kgo.Record {
	return jsonRec("in", 0, i, fmt.Sprintf("user%d@example.com", i))
}

// withValue is goodRec(i) with another value.
func withValue(i int, v []byte) *kgo.Record {
	r := goodRec(i)
	r.Value = v
	return r
}

// TestBadInput feeds the gate records a vendor should not send, each case
// on its own broker: each is passed, quarantined with its batch, or
// dropped and counted, as the README says; no record is lost or
// duplicated, and nothing panics.
func TestBadInput(t *testing.T) {
	big := func(n int) []byte { // a valid record of about n bytes that does not compress
		return []byte(fmt.Sprintf(`{"email":"big@example.com","pad":%q}`, noise(n)))
	}
	deep := func(depth int) []byte {
		return []byte(`{"email":"deep@example.com","d":` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + "}")
	}
	type recs = []*kgo.Record
	// around puts bad records at 12.. among good ones (30 in all): with
	// max_records 10 they fall in the batch 10..19.
	around := func(bad ...*kgo.Record) recs {
		var in recs
		for i := 0; i < 30; i++ {
			r := goodRec(i)
			if k := i - 12; k >= 0 && k < len(bad) {
				r = bad[k]
			}
			in = append(in, r)
		}
		return in
	}
	second := func(i int) bool { return i >= 10 && i < 20 }
	cases := []struct {
		name string
		// broker options; inputMax creates the input topic with that
		// max.message.bytes instead of the broker's default.
		broker   []kfake.Opt
		inputMax int
		onDecode string
		records  int    // max_records; default 10
		maxBytes string // max_bytes; default 64KiB
		// producerMax is the test producer's batch limit for large records.
		producerMax int
		in          recs
		// quarantined says which input records end in quarantine;
		// dropped which ones are dropped (and counted).
		quarantined, dropped func(i int) bool
	}{
		{name: "larger than max_bytes", in: around(withValue(12, big(200<<10))), quarantined: none},
		{name: "larger than the broker's default max message (broker allows 4MiB)", in: around(withValue(12, big(2<<20))), quarantined: none,
			broker: []kfake.Opt{kfake.BrokerConfigs(map[string]string{"message.max.bytes": "4194304"})}},
		{name: "larger than the broker's default, which only the input raises to 4MiB", in: around(withValue(12, big(2<<20))), quarantined: none,
			inputMax: 4 << 20},
		{name: "larger than 16MiB (the broker allows 32MiB)", in: around(withValue(12, big(17<<20))), quarantined: none,
			broker: []kfake.Opt{kfake.BrokerConfigs(map[string]string{"message.max.bytes": "33554432"})}, producerMax: 32 << 20},
		{name: "very large batch", records: 50000, maxBytes: "64MiB", in: largeBatch(20000, 300), quarantined: none},
		// 500KB: past max_bytes, it closes its batch (10..12).
		{name: "deeply nested JSON", in: around(withValue(12, deep(100000))), quarantined: func(i int) bool { return i >= 10 && i <= 12 }},
		{name: "nested JSON within limits", in: around(withValue(12, deep(50))), quarantined: none},
		{name: "invalid UTF-8", in: around(withValue(12, []byte("{\"email\":\"a\xff\xfe@example.com\",\"n\":12}")),
			withValue(13, []byte("\xff\xfe{\"email\""))), quarantined: second},
		{name: "field of the wrong type", in: around(withValue(12, []byte(`{"email":42,"n":12}`))), quarantined: second},
		{name: "empty value", in: around(withValue(12, []byte{})), quarantined: second},
		{name: "tombstone", in: around(withValue(12, nil)), quarantined: second},
		{name: "not an object", in: around(withValue(12, []byte(`["x@y.z"]`)), withValue(13, []byte(`"x@y.z"`))), quarantined: second},
		{name: "tombstone and empty value dropped", onDecode: "drop", in: around(withValue(12, nil), withValue(13, []byte{})),
			quarantined: none, dropped: func(i int) bool { return i == 12 || i == 13 }},
		{name: "undecodable records halt", onDecode: "fail", in: around(withValue(12, []byte("<html>"))),
			quarantined: second},
		{name: "binary key and no key", in: around(func() *kgo.Record { r := goodRec(12); r.Key = []byte{0, 0xff, 0xfe}; return r }(),
			func() *kgo.Record { r := goodRec(13); r.Key = nil; return r }()), quarantined: none},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each on its own broker
			if tc.dropped == nil {
				tc.dropped = none
			}
			topics := []string{"in"}
			if tc.inputMax > 0 {
				topics = nil
			}
			c := fakeCluster(t, 1, topics, tc.broker...)
			brokers := c.ListenAddrs()
			kopts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
			if tc.inputMax > 0 {
				createTopicWith(t, kopts, "in", 1, map[string]*string{"max.message.bytes": kadm.StringPtr(fmt.Sprint(tc.inputMax))})
			}
			if tc.inputMax > 0 || len(tc.broker) > 0 {
				kopts = append(kopts, kgo.ProducerBatchMaxBytes(int32(max(tc.producerMax, 4<<20)))) // the large records' producer
			}
			produceWith(t, kopts, tc.in...)
			onDecode, n := tc.onDecode, tc.records
			if onDecode == "" {
				onDecode = "quarantine"
			}
			if n == 0 {
				n = 10
			}
			if tc.maxBytes == "" {
				tc.maxBytes = "64KiB"
			}
			cfg := parseConfig(t, brokers, fmt.Sprintf(badInputFeed, onDecode, n, tc.maxBytes))
			logger, logs := captureLogs(t)
			r := startGate(t, cfg, Options{Logger: logger, TransactionTimeout: 20 * time.Second})
			if onDecode == "fail" {
				// The halt holds the rest of the partition until resumed.
				waitFor(t, "the halt", 30*time.Second, func() bool {
					return testutil.ToFloat64(r.g.met.partitionHalted.WithLabelValues("sponsors", "0")) == 1
				})
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if _, err := Resume(ctx, cfg, "sponsors", 0, "test"); err != nil {
					t.Fatal(err)
				}
			}
			var kept []*kgo.Record
			for i, rec := range tc.in {
				if !tc.dropped(i) {
					kept = append(kept, rec)
				}
			}
			_, quar := exactlyOnce(t, kopts, kept, 60*time.Second)
			want := map[string]bool{}
			for i, rec := range tc.in {
				if tc.quarantined(i) {
					want[recordID(rec)] = true
				}
			}
			for _, q := range quar {
				if !want[recordID(q)] {
					t.Errorf("record %.60q was quarantined", q.Value)
				}
			}
			if len(quar) != len(want) {
				t.Errorf("quarantine holds %d records, want %d", len(quar), len(want))
			}
			// Byte-identical, a tombstone included: nil stays nil.
			byID := map[string]*kgo.Record{}
			for _, rec := range tc.in {
				byID[recordID(rec)] = rec
			}
			for _, q := range quar {
				if in := byID[recordID(q)]; (in.Value == nil) != (q.Value == nil) || !bytes.Equal(in.Key, q.Key) {
					t.Errorf("quarantined record changed: value nil %v→%v, key %q→%q", in.Value == nil, q.Value == nil, in.Key, q.Key)
				}
			}
			m := r.g.feeds["in"].m
			dropped := 0
			for i := range tc.in {
				if tc.dropped(i) {
					dropped++
				}
			}
			waitFor(t, "the counters", 10*time.Second, func() bool {
				return testutil.ToFloat64(m.dropped) == float64(dropped) &&
					testutil.ToFloat64(m.in) == float64(len(tc.in)) &&
					testutil.ToFloat64(m.passed)+testutil.ToFloat64(m.quarantined)+testutil.ToFloat64(m.dropped) == float64(len(tc.in))
			})
			aborts := testutil.ToFloat64(r.g.met.txnAborts)
			r.stop(t)
			if strings.Contains(logs.String(), "panic") {
				t.Fatal("a panic was logged")
			}
			t.Logf("%d records: %d quarantined, %d dropped, %v transaction aborts", len(tc.in), len(quar), dropped, aborts)
		})
	}
}

func none(int) bool { return false }

// largeBatch is n valid records of about size bytes for partition 0.
func largeBatch(n, size int) []*kgo.Record {
	out := make([]*kgo.Record, n)
	pad := noise(n * size)
	for i := range out {
		out[i] = withValue(i, []byte(fmt.Sprintf(`{"email":"user%d@example.com","n":%d,"pad":%q}`, i, i, pad[i*size:(i+1)*size])))
	}
	return out
}

// noise is n base64 characters that do not compress: the client
// compresses what it produces, and a size limit is about what it sends.
func noise(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)[:n]
}

func createTopicWith(t *testing.T, kopts []kgo.Opt, topic string, parts int32, configs map[string]*string) {
	t.Helper()
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(context.Background(), parts, -1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestOutputSmallerThanInput: the output topic already exists and takes
// smaller records than the input. A record that fits only the input stops
// its partition, loudly (a warning at start, an error, the reason in
// /readyz), with nothing lost or passed beyond it, while the other
// partition goes on; once the operator raises the output's
// max.message.bytes, the record goes through and its partition carries on.
func TestOutputSmallerThanInput(t *testing.T) {
	t.Parallel()
	c := fakeCluster(t, 1, nil)
	kopts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	createTopicWith(t, kopts, "in", 2, map[string]*string{"max.message.bytes": kadm.StringPtr(fmt.Sprint(4 << 20))})
	createTopicWith(t, kopts, "out", 2, nil) // the broker's default, 1 MiB
	var in []*kgo.Record
	for i := 0; i < 30; i++ {
		r := goodRec(i)
		if i == 12 {
			r.Value = []byte(fmt.Sprintf(`{"email":"big@example.com","pad":%q}`, noise(2<<20)))
		}
		in = append(in, r, jsonRec("in", 1, i, fmt.Sprintf("user%d@example.com", i)))
	}
	produceWith(t, append(kopts, kgo.ProducerBatchMaxBytes(4<<20)), in...)
	cfg := parseConfig(t, c.ListenAddrs(), fmt.Sprintf(badInputFeed, "quarantine", 10, "64KiB"))
	logger, logs := captureLogs(t)
	r := startGate(t, cfg, Options{Logger: logger, TransactionTimeout: 20 * time.Second})

	waitFor(t, "readiness to name the fix", 30*time.Second, func() bool {
		ok, reasons := r.g.Ready()
		return !ok && strings.Contains(strings.Join(reasons, ";"), "raise their max.message.bytes")
	})
	for _, want := range []string{"topic takes smaller records than its input", "partition stopped: a record is larger"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("nothing logged saying %q", want)
		}
	}
	out := consumeWith(t, kopts, "out", 60, 2*time.Second)
	for _, rec := range out {
		if rec.Partition == 0 {
			t.Errorf("record %d of the stopped partition 0 passed", rec.Offset)
		}
	}
	if len(out) != 30 {
		t.Errorf("output holds %d records, want partition 1's 30", len(out))
	}

	resp, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "max.message.bytes", Value: kadm.StringPtr(fmt.Sprint(4 << 20))}}, "out")
	if err == nil {
		_, err = resp.On("out", nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	out, quar := exactlyOnce(t, kopts, in, 60*time.Second)
	t.Logf("after raising the output's limit: output %d + quarantine %d of %d, 0 lost, 0 duplicated", len(out), len(quar), len(in))
	if len(quar) != 0 {
		t.Errorf("%d records quarantined, want none", len(quar))
	}
	r.stop(t)
}
