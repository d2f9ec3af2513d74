// Package config holds Sluice's configuration: plain structs decoded strictly
// from YAML, their defaults, and validation whose every error carries the
// file, line and column it is about.
package config

import "time"

// Config is one sluice.yaml. Every replica of a gate uses the same file; only
// Admin.Listen may differ between them.
type Config struct {
	// Brokers are the Kafka seed brokers. Empty starts the embedded broker.
	Brokers []string `yaml:"brokers"`
	// Group is the consumer group, the transactional id prefix and the prefix
	// of the decisions and state topics. Default "sluice".
	Group string `yaml:"group"`
	// CreateTopics creates missing output, quarantine, decisions and state
	// topics. Default true.
	CreateTopics *bool `yaml:"create_topics"`
	// TLS encrypts the connections to the brokers; nil speaks plaintext.
	TLS *TLS `yaml:"tls"`
	// SASL authenticates to the brokers; nil does not.
	SASL  *SASL  `yaml:"sasl"`
	Admin Admin  `yaml:"admin"`
	Feeds []Feed `yaml:"feeds"`

	// File is the path the config was loaded from; Pos maps a field path
	// ("feeds[0].detectors[1].max_z") to where it stands in File, so that
	// checks made after loading can still point at a line.
	File string         `yaml:"-"`
	Pos  map[string]Pos `yaml:"-"`
}

// TLS is how every Kafka client of Sluice speaks TLS to the brokers: the
// gate, the operator commands and topic references alike. Setting it (even
// to {}) turns TLS on. Files are PEM, relative to the config's directory,
// and read when a client is built; none is ever logged.
type TLS struct {
	// CAFile holds the CAs that sign the brokers' certificates; empty
	// trusts the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are the client's certificate and key, for
	// brokers that require one (mutual TLS). Both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the brokers' certificates must carry; empty
	// means the host of each broker's address.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any broker certificate. For tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SASL is how every Kafka client of Sluice authenticates to the brokers.
type SASL struct {
	// Mechanism is SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN. Required.
	Mechanism string `yaml:"mechanism"`
	// Username is required.
	Username string `yaml:"username"`
	// PasswordFile holds the password (a trailing newline is dropped),
	// relative to the config's directory. Required: a password is never
	// written in the config itself, and never logged.
	PasswordFile string `yaml:"password_file"`
}

// SASLMechanisms are the SASL mechanisms Sluice speaks.
var SASLMechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"}

// Admin is the admin HTTP server: /metrics /healthz /readyz /api /.
type Admin struct {
	// Listen is host:port (an empty host listens on every interface).
	// Default "127.0.0.1:9644"; "off" disables it.
	Listen string `yaml:"listen"`
	// TokenFile holds the bearer token that mutations (release, drop,
	// resume) need. Without it, mutations are refused.
	TokenFile string `yaml:"token_file"`
}

// Feed is one pipeline from an input topic to an output topic.
type Feed struct {
	// Name is [A-Za-z0-9._-]+ and unique; it is part of every batch id.
	Name string `yaml:"name"`
	// Input, Output and Quarantine are required Kafka topics, all
	// different, and no other feed's.
	Input      string `yaml:"input"`
	Output     string `yaml:"output"`
	Quarantine string `yaml:"quarantine"`
	// Format is json (default), arrow or raw.
	Format string `yaml:"format"`
	// Key is the field path of the entity key; empty means the Kafka key.
	Key string `yaml:"key"`
	// OnDecodeError is quarantine (default), fail (halt) or drop (counted).
	OnDecodeError string `yaml:"on_decode_error"`
	// OnSchemaChange is the verdict on a batch in which the Arrow schema
	// changed: warn (default), quarantine or halt. Format arrow only.
	OnSchemaChange string `yaml:"on_schema_change"`
	// RedactKeys makes findings show key hashes, not keys. Default true.
	RedactKeys *bool `yaml:"redact_keys"`
	// Shadow judges and records decisions but passes every batch.
	Shadow    bool       `yaml:"shadow"`
	Batch     Batch      `yaml:"batch"`
	Detectors []Detector `yaml:"detectors"`
}

// Batch says when a batch closes and how much of it is held in memory.
type Batch struct {
	MaxRecords int      `yaml:"max_records"` // default 50000
	MaxBytes   ByteSize `yaml:"max_bytes"`   // default 64MiB
	MaxWait    Duration `yaml:"max_wait"`    // default 30s
	// BoundaryHeader closes the batch when this header's value changes.
	BoundaryHeader string `yaml:"boundary_header"`
	// MaxMemory caps the record bytes a partition holds for its open batch;
	// records beyond it are re-read from the input topic when the batch is
	// forwarded. Default 16MiB.
	MaxMemory ByteSize `yaml:"max_memory"`
}

// Detector configures one detector. Fields apply to the types named in
// their comments; a field set for another type is an error.
type Detector struct {
	Name string `yaml:"name"`
	// Type is degree, variance, accuracy or rules.
	Type string `yaml:"type"`
	// OnFail is warn, quarantine (default) or halt.
	OnFail string `yaml:"on_fail"`
	// Warmup is the verdict before a baseline is ready: pass (default),
	// warn or quarantine.
	Warmup string `yaml:"warmup"`
	// Shadow records this detector's findings but never fails a batch.
	Shadow bool `yaml:"shadow"`

	// degree
	Neighbor     string        `yaml:"neighbor"`
	MaxDegree    int           `yaml:"max_degree"`
	OverBaseline *OverBaseline `yaml:"over_baseline"`
	MaxRepeat    int           `yaml:"max_repeat"`
	MaxShare     float64       `yaml:"max_share"`
	// MaxKeys caps exact per-key counting in a batch; beyond it the
	// detector uses sketches. Default 200000. (degree)
	MaxKeys int `yaml:"max_keys"`

	// variance
	Metrics     []string  `yaml:"metrics"`
	Baseline    *Baseline `yaml:"baseline"`
	MaxZ        float64   `yaml:"max_z"`
	MaxChange   float64   `yaml:"max_change"`
	Seasonality string    `yaml:"seasonality"` // "" or "hour"

	// accuracy
	Sample    *Sample    `yaml:"sample"`
	Reference *Reference `yaml:"reference"`
	// MinAccuracy is the lowest acceptable share of accurate records, in
	// (0, 1). Required.
	MinAccuracy float64 `yaml:"min_accuracy"`
	// Confidence is the confidence of the accuracy interval, in (0, 1).
	// Default 0.99.
	Confidence float64 `yaml:"confidence"`
	// Sequential stops sampling a batch as soon as the decision is sure.
	Sequential bool `yaml:"sequential"`
	// OnUnavailable is the verdict when the reference cannot be reached:
	// warn (default), quarantine or halt.
	OnUnavailable string `yaml:"on_unavailable"`

	// rules
	Rules            []Rule  `yaml:"rules"`
	MaxViolationRate float64 `yaml:"max_violation_rate"`
}

// OverBaseline flags a key whose degree exceeds Factor times the Quantile
// of the learned degree distribution.
type OverBaseline struct {
	Quantile float64 `yaml:"quantile"`
	Factor   float64 `yaml:"factor"`
}

// Baseline is how the variance detector learns what normal is.
type Baseline struct {
	Window     int     `yaml:"window"`      // batches kept; default 48
	MinHistory int     `yaml:"min_history"` // batches before judging; default 12 (or window, if smaller)
	Method     string  `yaml:"method"`      // robust (default) or ewma
	Alpha      float64 `yaml:"alpha"`       // ewma weight; default 0.1
}

// Sample says which records the accuracy detector checks.
type Sample struct {
	Rate float64 `yaml:"rate"` // share of keys sampled, by key hash; in (0, 1], default 0.02
	Min  int     `yaml:"min"`  // at least this many per batch when there are; default 200
	Seed uint64  `yaml:"seed"`
}

// Reference is what sampled records are checked against: exactly one of
// File, Topic or URL.
type Reference struct {
	File    string   `yaml:"file"`
	Topic   string   `yaml:"topic"`
	URL     string   `yaml:"url"`
	Key     string   `yaml:"key"`
	Compare []string `yaml:"compare"`
	// Match is exact (default), fold (case- and space-insensitive) or
	// numeric; Tolerance applies to numeric.
	Match     string   `yaml:"match"`
	Tolerance float64  `yaml:"tolerance"`
	Missing   string   `yaml:"missing"` // wrong (default) or skip
	Timeout   Duration `yaml:"timeout"` // per lookup (topic, url); default 2s
}

// Rule checks one field of every record.
type Rule struct {
	Field    string   `yaml:"field"`
	Required bool     `yaml:"required"`
	Type     string   `yaml:"type"` // string, number, integer, bool, object, array
	Regex    string   `yaml:"regex"`
	Enum     []string `yaml:"enum"`
	Min      *float64 `yaml:"min"`
	Max      *float64 `yaml:"max"`
	MinLen   *int     `yaml:"min_length"`
	MaxLen   *int     `yaml:"max_length"`
}

// Pos is a place in a config file.
type Pos struct{ Line, Col int }

// Duration is a time.Duration written as "30s" or "5m" in YAML.
type Duration time.Duration

// ByteSize is a size in bytes, written as 1048576, "64KiB", "64MiB" or
// "1GiB" in YAML. KiB, MiB, GiB and TiB are 1024-based; KB, MB, GB and TB
// are 1000-based. See ParseByteSize.
type ByteSize int64
