package gate

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicehq/sluice/config"
)

// KafkaOpts are the client options every Kafka client of a config needs:
// the seed brokers, TLS and SASL. It is the one place they are built; the
// gate, the operator commands (ReadIndex, Resume, Release, Drop,
// BatchRecords) and topic references all start from it, and callers add
// their own options after it. It reads the files tls and sasl name, each
// time it is called; an error names the setting, never a secret.
func KafkaOpts(cfg *config.Config) ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(cfg.Brokers...)}
	if t := cfg.TLS; t != nil {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify} //nolint:gosec // the user's explicit choice
		pool, err := loadCA(cfg)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		tc.RootCAs = pool
		cert, err := loadCert(cfg)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file: %w", err)
		}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if cfg.SASL != nil {
		m, err := saslMechanism(cfg)
		if err != nil {
			return nil, fmt.Errorf("sasl.password_file: %w", err)
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// CheckKafka reads and parses the files tls and sasl name, as KafkaOpts
// does, without a broker, and places each problem at its setting: for
// `sluice check`.
func CheckKafka(cfg *config.Config) config.Errors {
	var errs config.Errors
	if cfg.TLS != nil {
		if _, err := loadCA(cfg); err != nil {
			errs = append(errs, cfg.Errorf("tls.ca_file", "%v", err))
		}
		if _, err := loadCert(cfg); err != nil {
			errs = append(errs, cfg.Errorf("tls.cert_file", "%v", err))
		}
	}
	if cfg.SASL != nil {
		if _, err := saslMechanism(cfg); err != nil {
			errs = append(errs, cfg.Errorf("sasl.password_file", "%v", err))
		}
	}
	return errs
}

// clientOptsOf is KafkaOpts(cfg) followed by extra.
func clientOptsOf(cfg *config.Config, extra []kgo.Opt) ([]kgo.Opt, error) {
	opts, err := KafkaOpts(cfg)
	if err != nil {
		return nil, err
	}
	return append(opts, extra...), nil
}

// loadCA reads tls.ca_file; nil (the system's roots) when it is not set.
func loadCA(cfg *config.Config) (*x509.CertPool, error) {
	if cfg.TLS.CAFile == "" {
		return nil, nil
	}
	pem, err := os.ReadFile(cfg.Resolve(cfg.TLS.CAFile))
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", cfg.TLS.CAFile)
	}
	return pool, nil
}

// loadCert loads tls.cert_file and tls.key_file; nil when they are not set.
func loadCert(cfg *config.Config) (*tls.Certificate, error) {
	t := cfg.TLS
	if t.CertFile == "" && t.KeyFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.Resolve(t.CertFile), cfg.Resolve(t.KeyFile))
	if err != nil {
		// Its errors name files and PEM problems, never key material.
		return nil, fmt.Errorf("cannot load the client certificate and key_file: %w", err)
	}
	return &cert, nil
}

// saslMechanism builds the mechanism of cfg.SASL. The password is read from
// its file now, to fail early, and again at each authentication, so that a
// rotated file (a mounted secret) takes effect on the next connection
// without a restart; a read that fails then keeps the last good password.
func saslMechanism(cfg *config.Config) (sasl.Mechanism, error) {
	s := cfg.SASL
	path := cfg.Resolve(s.PasswordFile)
	read := func() (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("cannot read: %w", err)
		}
		pass := string(bytes.TrimRight(b, "\r\n"))
		if pass == "" {
			return "", fmt.Errorf("%s is empty", s.PasswordFile)
		}
		return pass, nil
	}
	first, err := read()
	if err != nil {
		return nil, err
	}
	var last atomic.Pointer[string]
	last.Store(&first)
	current := func() string {
		if p, err := read(); err == nil {
			last.Store(&p)
		}
		return *last.Load()
	}
	switch s.Mechanism {
	case "SCRAM-SHA-256":
		return scram.Sha256(func(context.Context) (scram.Auth, error) {
			return scram.Auth{User: s.Username, Pass: current()}, nil
		}), nil
	case "SCRAM-SHA-512":
		return scram.Sha512(func(context.Context) (scram.Auth, error) {
			return scram.Auth{User: s.Username, Pass: current()}, nil
		}), nil
	case "PLAIN":
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			return plain.Auth{User: s.Username, Pass: current()}, nil
		}), nil
	}
	return nil, fmt.Errorf("unknown SASL mechanism %q (want %s)", s.Mechanism, strings.Join(config.SASLMechanisms, ", "))
}

// Operator commands (sluice resume, sluice quarantine) talk to Kafka, not to
// a running gate: the decisions and state topics are the index and the
// control channel, so they work whichever replica owns a partition, or
// when none runs.

// Index is what the decisions and state topics say: every batch that was
// not simply passed, and the latest resume request per partition.
type Index struct {
	Batches map[string]*Decision
	resumes map[string]resumeRequest
	topics  *topicInfo
}

// Halted is the batch that halted a feed partition, or "" when it is not
// halted.
func (ix *Index) Halted(feed string, part int32) string {
	return haltedIn(ix.Batches, ix.resumes, feed, part)
}

// ReadIndex reads the decisions and state topics up to their last stable
// offsets.
// Its clients use KafkaOpts(cfg), then kafkaOpts.
func ReadIndex(ctx context.Context, cfg *config.Config, kafkaOpts ...kgo.Opt) (*Index, error) {
	opts, err := clientOptsOf(cfg, kafkaOpts)
	if err != nil {
		return nil, err
	}
	ti, err := lookupTopics(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	ix := &Index{Batches: map[string]*Decision{}, resumes: map[string]resumeRequest{}, topics: ti}
	err = readToEnd(ctx, opts, []string{ti.decisions, ti.state}, func(r *kgo.Record) {
		switch {
		case r.Topic == ti.decisions:
			if d, err := ParseDecision(r.Value); err == nil {
				if d.State == StatePassed {
					delete(ix.Batches, d.Batch)
				} else {
					ix.Batches[d.Batch] = d
				}
			}
		case strings.HasPrefix(string(r.Key), resumeKeyPrefix):
			if rr, err := parseResume(r.Value); err == nil {
				ix.resumes[string(r.Key)] = rr
			}
		}
	})
	return ix, err
}

// Resume asks whichever gate owns a halted partition to go on past the
// batch that halted it. It returns that batch.
func Resume(ctx context.Context, cfg *config.Config, feed string, part int32, by string, kafkaOpts ...kgo.Opt) (string, error) {
	if cfg.Feed(feed) == nil {
		return "", fmt.Errorf("no feed %q in the config", feed)
	}
	ix, err := ReadIndex(ctx, cfg, kafkaOpts...)
	if err != nil {
		return "", err
	}
	batch := ix.Halted(feed, part)
	if batch == "" {
		return "", fmt.Errorf("partition %d of feed %s is not halted", part, feed)
	}
	opts, err := clientOptsOf(cfg, kafkaOpts)
	if err != nil {
		return "", err
	}
	return batch, writeResume(ctx, opts, ix.topics, feed, part, batch, by)
}

// parseResume decodes a resume request from the state topic. One that names
// no batch lifts nothing and is refused.
func parseResume(b []byte) (resumeRequest, error) {
	var rr resumeRequest
	if err := json.Unmarshal(b, &rr); err != nil {
		return resumeRequest{}, fmt.Errorf("cannot parse resume request: %w", err)
	}
	if rr.Batch == "" {
		return resumeRequest{}, errors.New("cannot parse resume request: no batch")
	}
	return rr, nil
}

func writeResume(ctx context.Context, opts []kgo.Opt, ti *topicInfo, feed string, part int32, batch, by string) error {
	cl, err := kgo.NewClient(append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return fmt.Errorf("cannot create producer: %w", err)
	}
	defer cl.Close()
	key := ResumeKey(feed, part)
	val, _ := json.Marshal(resumeRequest{Feed: feed, Partition: part, Batch: batch, By: by, At: time.Now().UTC()})
	rec := &kgo.Record{Topic: ti.state, Partition: ti.partitionFor(ti.stateParts, key), Key: []byte(key), Value: val}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("cannot write resume request: %w", err)
	}
	return nil
}

// lookupTopics finds the gate's topics and their partition counts.
func lookupTopics(ctx context.Context, cfg *config.Config, opts []kgo.Opt) (*topicInfo, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("cannot create client: %w", err)
	}
	defer cl.Close()
	ti := &topicInfo{decisions: cfg.DecisionsTopic(), state: cfg.StateTopic()}
	tds, err := kadm.NewClient(cl).ListTopics(ctx, ti.decisions, ti.state)
	if err != nil {
		return nil, fmt.Errorf("cannot list topics: %w", err)
	}
	for _, t := range []string{ti.decisions, ti.state} {
		td, ok := tds[t]
		if !ok || td.Err != nil {
			return nil, fmt.Errorf("topic %s not found: has a gate with group %q run on these brokers?", t, cfg.Group)
		}
		if t == ti.decisions {
			ti.decisionsParts = int32(len(td.Partitions))
		} else {
			ti.stateParts = int32(len(td.Partitions))
		}
	}
	return ti, nil
}

// readToEnd reads topics from the start to their last stable offsets,
// read_committed.
func readToEnd(ctx context.Context, opts []kgo.Opt, topics []string, fn func(*kgo.Record)) error {
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("cannot create reader: %w", err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("cannot list offsets of %v: %w", topics, err)
	}
	want := map[tp]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[tp{o.Topic, o.Partition}] = o.Offset
		}
	})
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cannot read %v: %w", topics, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) { ferr = fmt.Errorf("%s/%d: %w", t, p, err) })
		if ferr != nil {
			return fmt.Errorf("cannot read: %w", ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			k := tp{r.Topic, r.Partition}
			if !r.Attrs.IsControl() {
				fn(r)
			}
			if end, ok := want[k]; ok && r.Offset+1 >= end {
				delete(want, k)
			}
		})
	}
	return nil
}
