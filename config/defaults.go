package config

import (
	"path/filepath"
	"strconv"
	"time"
)

// The defaults, all in one place. Each is also named in its field's comment.
const (
	DefaultGroup         = "sluice"
	DefaultAdminListen   = "127.0.0.1:9644"
	DefaultFormat        = "json"
	DefaultOnDecodeError = "quarantine"
	// DefaultOnSchemaChange applies to format arrow only.
	DefaultOnSchemaChange = "warn"

	DefaultMaxRecords = 50000
	DefaultMaxBytes   = ByteSize(64 << 20)
	DefaultMaxWait    = Duration(30 * time.Second)
	DefaultMaxMemory  = ByteSize(16 << 20)

	DefaultOnFail = "quarantine"
	DefaultWarmup = "pass"

	DefaultMaxKeys = 200000

	DefaultBaselineWindow     = 48
	DefaultBaselineMinHistory = 12
	DefaultBaselineMethod     = "robust"
	DefaultBaselineAlpha      = 0.1

	DefaultSampleRate       = 0.02
	DefaultSampleMin        = 200
	DefaultConfidence       = 0.99
	DefaultMatch            = "exact"
	DefaultMissing          = "wrong"
	DefaultReferenceTimeout = Duration(2 * time.Second)
	DefaultOnUnavailable    = "warn"
)

// setDefault sets *v to def when the file does not set path and *v is
// zero. A value the file sets, even to zero, stays: validation judges it.
// Without positions (a Config built in code) a zero value counts as unset.
func setDefault[T comparable](c *Config, v *T, path string, def T) {
	var zero T
	if *v == zero && !c.given(path) {
		*v = def
	}
}

// setDefaults fills in every default. Defaults that belong to a detector
// type are set only for detectors of that type, so that validation can
// tell a field that does not apply.
func (c *Config) setDefaults() {
	setDefault(c, &c.Group, "group", DefaultGroup)
	if c.CreateTopics == nil {
		c.CreateTopics = new(true)
	}
	setDefault(c, &c.Admin.Listen, "admin.listen", DefaultAdminListen)
	for i := range c.Feeds {
		c.Feeds[i].setDefaults(c, "feeds["+strconv.Itoa(i)+"]")
	}
}

func (f *Feed) setDefaults(c *Config, path string) {
	setDefault(c, &f.Format, path+".format", DefaultFormat)
	setDefault(c, &f.OnDecodeError, path+".on_decode_error", DefaultOnDecodeError)
	if f.Format == "arrow" {
		setDefault(c, &f.OnSchemaChange, path+".on_schema_change", DefaultOnSchemaChange)
	}
	if f.RedactKeys == nil {
		f.RedactKeys = new(true)
	}
	b, bp := &f.Batch, path+".batch"
	setDefault(c, &b.MaxRecords, bp+".max_records", DefaultMaxRecords)
	setDefault(c, &b.MaxBytes, bp+".max_bytes", DefaultMaxBytes)
	setDefault(c, &b.MaxWait, bp+".max_wait", DefaultMaxWait)
	setDefault(c, &b.MaxMemory, bp+".max_memory", DefaultMaxMemory)
	for i := range f.Detectors {
		f.Detectors[i].setDefaults(c, path+".detectors["+strconv.Itoa(i)+"]")
	}
}

func (d *Detector) setDefaults(c *Config, path string) {
	setDefault(c, &d.OnFail, path+".on_fail", DefaultOnFail)
	setDefault(c, &d.Warmup, path+".warmup", DefaultWarmup)
	switch d.Type {
	case "degree":
		setDefault(c, &d.MaxKeys, path+".max_keys", DefaultMaxKeys)
	case "variance":
		if d.Baseline == nil {
			d.Baseline = &Baseline{}
		}
		b, bp := d.Baseline, path+".baseline"
		setDefault(c, &b.Window, bp+".window", DefaultBaselineWindow)
		// A window shorter than the default history is ready when it is full.
		setDefault(c, &b.MinHistory, bp+".min_history", min(DefaultBaselineMinHistory, max(b.Window, 2)))
		setDefault(c, &b.Method, bp+".method", DefaultBaselineMethod)
		setDefault(c, &b.Alpha, bp+".alpha", DefaultBaselineAlpha)
	case "accuracy":
		if d.Sample == nil {
			d.Sample = &Sample{}
		}
		setDefault(c, &d.Sample.Rate, path+".sample.rate", DefaultSampleRate)
		setDefault(c, &d.Sample.Min, path+".sample.min", DefaultSampleMin)
		setDefault(c, &d.Confidence, path+".confidence", DefaultConfidence)
		setDefault(c, &d.OnUnavailable, path+".on_unavailable", DefaultOnUnavailable)
		if r, rp := d.Reference, path+".reference"; r != nil {
			setDefault(c, &r.Match, rp+".match", DefaultMatch)
			setDefault(c, &r.Missing, rp+".missing", DefaultMissing)
			setDefault(c, &r.Timeout, rp+".timeout", DefaultReferenceTimeout)
		}
	}
}

// DecisionsTopic is where decision records go: "<group>.decisions".
// Feed is the feed named name, or nil.
func (c *Config) Feed(name string) *Feed {
	for i := range c.Feeds {
		if c.Feeds[i].Name == name {
			return &c.Feeds[i]
		}
	}
	return nil
}

func (c *Config) DecisionsTopic() string { return c.Group + ".decisions" }

// StateTopic is where detector state goes: "<group>.state".
func (c *Config) StateTopic() string { return c.Group + ".state" }

// Dir is the directory of File, against which relative paths in the config
// (token_file, reference files) resolve.
func (c *Config) Dir() string { return filepath.Dir(c.File) }

// CreateTopicsOrDefault is CreateTopics, true when unset. After Load or
// Parse it is never unset.
func (c *Config) CreateTopicsOrDefault() bool { return c.CreateTopics == nil || *c.CreateTopics }

// RedactKeysOrDefault is RedactKeys, true when unset. After Load or Parse
// it is never unset.
func (f Feed) RedactKeysOrDefault() bool { return f.RedactKeys == nil || *f.RedactKeys }

// Resolve makes a path from the config absolute against Dir, leaving an
// absolute path or "" as it is.
func (c *Config) Resolve(path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(c.Dir(), path)
}
