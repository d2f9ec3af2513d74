package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// Validate reports every problem of a config whose defaults are in place
// (as Load and Parse leave it), each placed by Errorf. The error is Errors.
func (c *Config) Validate() error {
	errs := c.validate(nil)
	errs.Sort()
	return errs.Err()
}

// report collects validation errors.
type report struct {
	c *Config
	// skip is true for paths whose value did not decode: their zero value
	// is not what the file says, so what validation thinks of it is noise.
	skip func(path string) bool
	errs Errors
}

func (r *report) add(path, format string, args ...any) {
	if r.skip != nil && r.skip(path) {
		return
	}
	r.errs = append(r.errs, r.c.Errorf(path, format, args...))
}

// set reports whether the file sets path, or, for a Config built in code,
// whether v is not zero.
func (r *report) set(path string, v any) bool {
	return r.c.given(path) || !reflect.ValueOf(v).IsZero()
}

// oneOf checks that v is one of the allowed values.
func (r *report) oneOf(path, what, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	r.add(path, "unknown %s %q (want %s)", what, v, orList(allowed))
}

// orList renders "a, b or c".
func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func (c *Config) validate(skip func(string) bool) Errors {
	r := &report{c: c, skip: skip}
	for i, b := range c.Brokers {
		if err := checkHostPort(b); err != nil {
			r.add("brokers["+strconv.Itoa(i)+"]", "%v", err)
		}
	}
	if err := checkTopicPrefix(c.Group); err != nil {
		r.add("group", "%v", err)
	}
	c.validateSecurity(r)
	c.Admin.validate(r, "admin")
	if len(c.Feeds) == 0 {
		r.add("feeds", "at least one feed is required")
	}
	names := map[string]int{}
	for i := range c.Feeds {
		f, path := &c.Feeds[i], "feeds["+strconv.Itoa(i)+"]"
		f.validate(r, path)
		if f.Name == "" {
			continue
		}
		if j, dup := names[f.Name]; dup {
			r.add(path+".name", "duplicate feed name %q (first at line %d)", f.Name, c.PosOf("feeds["+strconv.Itoa(j)+"].name").Line)
			continue
		}
		names[f.Name] = i
	}
	c.validateTopics(r)
	return r.errs
}

// validateTopics checks the topics feeds share: each topic belongs to one
// feed. A feed writing into another's topics would judge its own output or
// mix two feeds in one quarantine; two feeds reading one input would share
// the group's committed offsets.
func (c *Config) validateTopics(r *report) {
	type use struct {
		feed int
		role string
	}
	own := map[string]string{
		c.DecisionsTopic(): "decisions",
		c.StateTopic():     "state",
	}
	uses := map[string]use{}
	for i, f := range c.Feeds {
		for _, t := range []struct{ role, topic string }{
			{"input", f.Input}, {"output", f.Output}, {"quarantine", f.Quarantine},
		} {
			if t.topic == "" {
				continue
			}
			path := "feeds[" + strconv.Itoa(i) + "]." + t.role
			if kind, ok := own[t.topic]; ok {
				r.add(path, "topic %q is sluice's %s topic (group %q)", t.topic, kind, c.Group)
				continue
			}
			u, ok := uses[t.topic]
			if !ok {
				uses[t.topic] = use{i, t.role}
				continue
			}
			if u.feed == i {
				continue // the feed's own checks report this
			}
			r.add(path, "topic %q is already the %s of feed %s", t.topic, u.role, c.feedName(u.feed))
		}
	}
}

// feedName names feed i in messages: its name, or its path when it has none.
func (c *Config) feedName(i int) string {
	if c.Feeds[i].Name != "" {
		return strconv.Quote(c.Feeds[i].Name)
	}
	return "feeds[" + strconv.Itoa(i) + "]"
}

// validateSecurity checks tls and sasl. Whether their files exist and
// parse is for `sluice check` and the clients that read them.
func (c *Config) validateSecurity(r *report) {
	if t := c.TLS; t != nil {
		if len(c.Brokers) == 0 {
			r.add("tls", "needs brokers: the embedded broker (no brokers configured) speaks plaintext")
		}
		if t.CertFile != "" && t.KeyFile == "" {
			r.add("tls.key_file", "required with cert_file: the client certificate's private key")
		}
		if t.KeyFile != "" && t.CertFile == "" {
			r.add("tls.cert_file", "required with key_file: the client certificate")
		}
		if t.InsecureSkipVerify && t.CAFile != "" {
			r.add("tls.insecure_skip_verify", "verifies nothing, so ca_file would be ignored: set one of them")
		}
	}
	if s := c.SASL; s != nil {
		if len(c.Brokers) == 0 {
			r.add("sasl", "needs brokers: the embedded broker (no brokers configured) does not authenticate")
		}
		if s.Mechanism == "" {
			r.add("sasl.mechanism", "required (%s)", orList(SASLMechanisms))
		} else {
			r.oneOf("sasl.mechanism", "SASL mechanism", s.Mechanism, SASLMechanisms...)
		}
		if s.Username == "" {
			r.add("sasl.username", "required")
		}
		if s.PasswordFile == "" {
			r.add("sasl.password_file", "required: a file holding the password (never the password itself)")
		}
	}
}

func (a *Admin) validate(r *report, path string) {
	if a.Listen == "off" {
		return
	}
	if err := checkListen(a.Listen); err != nil {
		r.add(path+".listen", "%v (or \"off\")", err)
	}
}

func (f *Feed) validate(r *report, path string) {
	if f.Name == "" {
		r.add(path+".name", "required")
	} else if err := checkName(f.Name); err != nil {
		r.add(path+".name", "%v", err)
	}
	for _, t := range []struct{ field, topic string }{
		{"input", f.Input}, {"output", f.Output}, {"quarantine", f.Quarantine},
	} {
		if t.topic == "" {
			r.add(path+"."+t.field, "required")
		} else if err := checkTopic(t.topic); err != nil {
			r.add(path+"."+t.field, "%v", err)
		}
	}
	if f.Output != "" && f.Output == f.Input {
		r.add(path+".output", "must not be the input topic")
	}
	if f.Quarantine != "" && f.Quarantine == f.Input {
		r.add(path+".quarantine", "must not be the input topic")
	}
	if f.Quarantine != "" && f.Quarantine == f.Output {
		r.add(path+".quarantine", "must not be the output topic")
	}
	r.oneOf(path+".format", "format", f.Format, "json", "arrow", "raw")
	if f.Key != "" {
		if err := checkFieldPath(f.Key); err != nil {
			r.add(path+".key", "%v", err)
		}
	}
	r.oneOf(path+".on_decode_error", "action", f.OnDecodeError, "quarantine", "fail", "drop")
	switch {
	case f.Format == "arrow":
		r.oneOf(path+".on_schema_change", "action", f.OnSchemaChange, "warn", "quarantine", "halt")
	case r.set(path+".on_schema_change", f.OnSchemaChange):
		r.add(path+".on_schema_change", "on_schema_change applies to format arrow only")
	}
	f.Batch.validate(r, path+".batch")
	names := map[string]int{}
	for i := range f.Detectors {
		d, dpath := &f.Detectors[i], path+".detectors["+strconv.Itoa(i)+"]"
		d.validate(r, dpath)
		if d.Name == "" {
			continue
		}
		if j, dup := names[d.Name]; dup {
			r.add(dpath+".name", "duplicate detector name %q in this feed (first at line %d)",
				d.Name, r.c.PosOf(path+".detectors["+strconv.Itoa(j)+"].name").Line)
			continue
		}
		names[d.Name] = i
	}
}

func (b *Batch) validate(r *report, path string) {
	if b.MaxRecords <= 0 {
		r.add(path+".max_records", "must be > 0")
	}
	if b.MaxBytes <= 0 {
		r.add(path+".max_bytes", "must be > 0")
	}
	if b.MaxWait <= 0 {
		r.add(path+".max_wait", "must be > 0")
	}
	if b.MaxMemory <= 0 {
		r.add(path+".max_memory", "must be > 0")
	}
}

// detectorFieldTypes names the detector type each type-specific field of
// Detector belongs to; the fields not listed apply to every type.
var detectorFieldTypes = map[string]string{
	"neighbor": "degree", "max_degree": "degree", "over_baseline": "degree",
	"max_repeat": "degree", "max_share": "degree", "max_keys": "degree",

	"metrics": "variance", "baseline": "variance", "max_z": "variance",
	"max_change": "variance", "seasonality": "variance",

	"sample": "accuracy", "reference": "accuracy", "min_accuracy": "accuracy",
	"confidence": "accuracy", "sequential": "accuracy", "on_unavailable": "accuracy",

	"rules": "rules", "max_violation_rate": "rules",
}

// detectorTypes are the detector types, in the order messages list them.
var detectorTypes = []string{"degree", "variance", "accuracy", "rules"}

func (d *Detector) validate(r *report, path string) {
	if d.Name == "" {
		r.add(path+".name", "required")
	} else if err := checkName(d.Name); err != nil {
		r.add(path+".name", "%v", err)
	}
	r.oneOf(path+".on_fail", "action", d.OnFail, "warn", "quarantine", "halt")
	r.oneOf(path+".warmup", "warmup verdict", d.Warmup, "pass", "warn", "quarantine")
	switch d.Type {
	case "":
		r.add(path+".type", "required (%s)", orList(detectorTypes))
		return
	case "degree":
		d.validateDegree(r, path)
	case "variance":
		d.validateVariance(r, path)
	case "accuracy":
		d.validateAccuracy(r, path)
	case "rules":
		d.validateRules(r, path)
	default:
		r.add(path+".type", "unknown detector type %q (want %s)", d.Type, orList(detectorTypes))
		return
	}
	v := reflect.ValueOf(d).Elem()
	fields := fieldsOf(v.Type())
	for _, name := range fields.names {
		typ, ok := detectorFieldTypes[name]
		if !ok || typ == d.Type {
			continue
		}
		fpath := path + "." + name
		if r.set(fpath, v.Field(fields.index[name]).Interface()) {
			r.add(fpath, "%s does not apply to %s %s detector", name, article(d.Type), d.Type)
		}
	}
}

func article(word string) string {
	if strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}

func (d *Detector) validateDegree(r *report, path string) {
	if d.Neighbor == "" {
		r.add(path+".neighbor", "required: the field path of the key's neighbor")
	} else if err := checkFieldPath(d.Neighbor); err != nil {
		r.add(path+".neighbor", "%v", err)
	}
	hasDegree := r.set(path+".max_degree", d.MaxDegree)
	hasOver := r.set(path+".over_baseline", d.OverBaseline)
	hasRepeat := r.set(path+".max_repeat", d.MaxRepeat)
	hasShare := r.set(path+".max_share", d.MaxShare)
	if !hasDegree && !hasOver && !hasRepeat && !hasShare {
		r.add(path, "a degree detector needs max_degree, over_baseline, max_repeat or max_share")
	}
	if hasDegree && d.MaxDegree < 1 {
		r.add(path+".max_degree", "must be >= 1")
	}
	if o := d.OverBaseline; o != nil {
		if !(o.Quantile > 0 && o.Quantile < 1) {
			r.add(path+".over_baseline.quantile", "must be in (0, 1)")
		}
		if !(o.Factor >= 1) {
			r.add(path+".over_baseline.factor", "must be >= 1")
		}
	}
	if hasRepeat && d.MaxRepeat < 1 {
		r.add(path+".max_repeat", "must be >= 1")
	}
	if hasShare && !(d.MaxShare > 0 && d.MaxShare <= 1) {
		r.add(path+".max_share", "must be in (0, 1]")
	}
	if d.MaxKeys <= 0 {
		r.add(path+".max_keys", "must be > 0")
	}
}

func (d *Detector) validateVariance(r *report, path string) {
	if len(d.Metrics) == 0 {
		r.add(path+".metrics", "at least one metric is required")
	}
	seen := map[string]int{}
	for i, s := range d.Metrics {
		mpath := path + ".metrics[" + strconv.Itoa(i) + "]"
		m, err := ParseMetric(s)
		if err != nil {
			r.add(mpath, "%v", err)
			continue
		}
		if j, dup := seen[m.String()]; dup {
			r.add(mpath, "metric %q is listed twice (first as metrics[%d])", s, j)
			continue
		}
		seen[m.String()] = i
	}
	hasZ := r.set(path+".max_z", d.MaxZ)
	hasChange := r.set(path+".max_change", d.MaxChange)
	if !hasZ && !hasChange {
		r.add(path, "a variance detector needs max_z, max_change or both")
	}
	if hasZ && !(d.MaxZ > 0) {
		r.add(path+".max_z", "must be > 0")
	}
	if hasChange && !(d.MaxChange > 0) {
		r.add(path+".max_change", "must be > 0")
	}
	if b, bpath := d.Baseline, path+".baseline"; b != nil {
		if b.Window < 2 {
			r.add(bpath+".window", "must be >= 2")
		}
		if b.MinHistory < 2 {
			r.add(bpath+".min_history", "must be >= 2")
		} else if b.Window >= 2 && b.MinHistory > b.Window {
			r.add(bpath+".min_history", "must be <= window (%d)", b.Window)
		}
		r.oneOf(bpath+".method", "method", b.Method, "robust", "ewma")
		if !(b.Alpha > 0 && b.Alpha <= 1) {
			r.add(bpath+".alpha", "must be in (0, 1]")
		} else if b.Method == "robust" && r.c.given(bpath+".alpha") {
			r.add(bpath+".alpha", "alpha applies only to method ewma")
		}
	}
	if d.Seasonality != "" && d.Seasonality != "hour" {
		r.add(path+".seasonality", "unknown seasonality %q (want hour, or leave it out)", d.Seasonality)
	}
}

func (d *Detector) validateAccuracy(r *report, path string) {
	if s, spath := d.Sample, path+".sample"; s != nil {
		if !(s.Rate > 0 && s.Rate <= 1) {
			r.add(spath+".rate", "must be in (0, 1]")
		}
		if s.Min < 0 {
			r.add(spath+".min", "must be >= 0")
		}
	}
	if ref := d.Reference; ref == nil {
		r.add(path+".reference", "required: a file, topic or url to check sampled records against")
	} else {
		ref.validate(r, path+".reference")
	}
	if !r.set(path+".min_accuracy", d.MinAccuracy) {
		r.add(path+".min_accuracy", "required: the lowest acceptable share of accurate records, in (0, 1)")
	} else if !(d.MinAccuracy > 0 && d.MinAccuracy < 1) {
		r.add(path+".min_accuracy", "must be in (0, 1)")
	}
	if !(d.Confidence > 0 && d.Confidence < 1) {
		r.add(path+".confidence", "must be in (0, 1)")
	}
	r.oneOf(path+".on_unavailable", "action", d.OnUnavailable, "warn", "quarantine", "halt")
}

func (ref *Reference) validate(r *report, path string) {
	var sources []string
	if ref.File != "" {
		sources = append(sources, "file")
	}
	if ref.Topic != "" {
		sources = append(sources, "topic")
		if err := checkTopic(ref.Topic); err != nil {
			r.add(path+".topic", "%v", err)
		}
	}
	if ref.URL != "" {
		sources = append(sources, "url")
		if err := checkURL(ref.URL); err != nil {
			r.add(path+".url", "%v", err)
		}
	}
	switch len(sources) {
	case 0:
		r.add(path, "needs one of file, topic or url")
	case 1:
	default:
		r.add(path, "set only one of file, topic or url (got %s)", strings.Join(sources, " and "))
	}
	if ref.Key == "" {
		r.add(path+".key", "required: the field path that joins a record to the reference")
	} else if err := checkFieldPath(ref.Key); err != nil {
		r.add(path+".key", "%v", err)
	}
	if len(ref.Compare) == 0 {
		r.add(path+".compare", "at least one field is required")
	}
	for i, f := range ref.Compare {
		if err := checkFieldPath(f); err != nil {
			r.add(path+".compare["+strconv.Itoa(i)+"]", "%v", err)
		}
	}
	r.oneOf(path+".match", "match mode", ref.Match, "exact", "fold", "numeric")
	if ref.Tolerance < 0 {
		r.add(path+".tolerance", "must be >= 0")
	} else if ref.Match != "numeric" && r.set(path+".tolerance", ref.Tolerance) {
		r.add(path+".tolerance", "tolerance applies only to match: numeric")
	}
	r.oneOf(path+".missing", "missing policy", ref.Missing, "wrong", "skip")
	if ref.Timeout <= 0 {
		r.add(path+".timeout", "must be > 0")
	}
}

func (d *Detector) validateRules(r *report, path string) {
	if len(d.Rules) == 0 {
		r.add(path+".rules", "at least one rule is required")
	}
	for i := range d.Rules {
		d.Rules[i].validate(r, path+".rules["+strconv.Itoa(i)+"]")
	}
	if !(d.MaxViolationRate >= 0 && d.MaxViolationRate <= 1) {
		r.add(path+".max_violation_rate", "must be in [0, 1]")
	}
}

// ruleTypes are the JSON types a rule can require.
var ruleTypes = []string{"string", "number", "integer", "bool", "object", "array"}

func (u *Rule) validate(r *report, path string) {
	if u.Field == "" {
		r.add(path+".field", "required")
	} else if err := checkFieldPath(u.Field); err != nil {
		r.add(path+".field", "%v", err)
	}
	if u.Type != "" {
		r.oneOf(path+".type", "rule type", u.Type, ruleTypes...)
	}
	if u.Regex != "" {
		if _, err := regexp.Compile(u.Regex); err != nil {
			r.add(path+".regex", "cannot compile: %v", err)
		}
	}
	if u.Min != nil && u.Max != nil && *u.Min > *u.Max {
		r.add(path+".min", "must be <= max (%v)", *u.Max)
	}
	if u.MinLen != nil && *u.MinLen < 0 {
		r.add(path+".min_length", "must be >= 0")
	}
	if u.MaxLen != nil && *u.MaxLen < 0 {
		r.add(path+".max_length", "must be >= 0")
	}
	if u.MinLen != nil && u.MaxLen != nil && *u.MinLen >= 0 && *u.MaxLen >= 0 && *u.MinLen > *u.MaxLen {
		r.add(path+".min_length", "must be <= max_length (%d)", *u.MaxLen)
	}
	checks := []string{"required", "type", "regex", "enum", "min", "max", "min_length", "max_length"}
	for _, c := range checks {
		if r.c.given(path + "." + c) {
			return
		}
	}
	if !u.Required && u.Type == "" && u.Regex == "" && u.Enum == nil &&
		u.Min == nil && u.Max == nil && u.MinLen == nil && u.MaxLen == nil {
		r.add(path, "the rule checks nothing: set %s", orList(checks))
	}
}

// Metric is one variance metric, parsed.
type Metric struct {
	// Name is count, distinct_keys, duplicate_rate, mean_degree, null_rate
	// or mean.
	Name string
	// Field is the field path of mean_degree, null_rate and mean; empty for
	// the others.
	Field string
}

// String renders m as it is written: "count", "mean(price)".
func (m Metric) String() string {
	if m.Field == "" {
		return m.Name
	}
	return m.Name + "(" + m.Field + ")"
}

// ParseMetric parses a variance metric: count, distinct_keys,
// duplicate_rate, mean_degree(FIELD), null_rate(FIELD) or mean(FIELD).
func ParseMetric(s string) (Metric, error) {
	name, arg, call := strings.Cut(s, "(")
	if call {
		var ok bool
		if arg, ok = strings.CutSuffix(arg, ")"); !ok {
			return Metric{}, fmt.Errorf("metric %q lacks a closing \")\"", s)
		}
	}
	switch name {
	case "count", "distinct_keys", "duplicate_rate":
		if call {
			return Metric{}, fmt.Errorf("metric %s takes no field: write %s", name, name)
		}
	case "mean_degree", "null_rate", "mean":
		if !call {
			return Metric{}, fmt.Errorf("metric %s needs a field: %s(FIELD)", name, name)
		}
		if err := checkFieldPath(arg); err != nil {
			return Metric{}, fmt.Errorf("metric %q: %w", s, err)
		}
	default:
		return Metric{}, fmt.Errorf("unknown metric %q (want count, distinct_keys, duplicate_rate, mean_degree(FIELD), null_rate(FIELD) or mean(FIELD))", s)
	}
	return Metric{Name: name, Field: arg}, nil
}

// checkFieldPath reports whether p is a well-formed field path:
// dot-separated non-empty segments without spaces ("contact.email").
func checkFieldPath(p string) error {
	if p == "" {
		return errors.New("empty field path")
	}
	if strings.ContainsFunc(p, unicode.IsSpace) {
		return fmt.Errorf("invalid field path %q: contains a space", p)
	}
	for seg := range strings.SplitSeq(p, ".") {
		if seg == "" {
			return fmt.Errorf("invalid field path %q: empty segment", p)
		}
	}
	return nil
}

// maxTopicLen is Kafka's limit on a topic name's length.
const maxTopicLen = 249

func legalTopicChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// checkTopic checks a topic name as Kafka does.
func checkTopic(t string) error {
	switch {
	case t == "." || t == "..":
		return fmt.Errorf("invalid topic name %q", t)
	case len(t) > maxTopicLen:
		return fmt.Errorf("topic name is %d characters long; Kafka allows %d", len(t), maxTopicLen)
	}
	if i := strings.IndexFunc(t, func(c rune) bool { return !legalTopicChar(c) }); i >= 0 {
		return fmt.Errorf("invalid topic name %q: Kafka allows only letters, digits, '.', '_' and '-'", t)
	}
	return nil
}

// checkTopicPrefix checks a group, which prefixes the decisions and state
// topics.
func checkTopicPrefix(g string) error {
	const longest = ".decisions"
	switch {
	case g == "":
		return errors.New("must not be empty")
	case len(g) > maxTopicLen-len(longest):
		return fmt.Errorf("is %d characters long; at most %d leave room for %q", len(g), maxTopicLen-len(longest), longest)
	case strings.IndexFunc(g, func(c rune) bool { return !legalTopicChar(c) }) >= 0:
		return fmt.Errorf("invalid group %q: it prefixes topic names, which allow only letters, digits, '.', '_' and '-'", g)
	}
	return nil
}

// checkName checks a feed or detector name, which appears in batch ids,
// metric labels and URLs.
func checkName(n string) error {
	if strings.IndexFunc(n, func(c rune) bool { return !legalTopicChar(c) }) >= 0 {
		return fmt.Errorf("invalid name %q: use only letters, digits, '.', '_' and '-'", n)
	}
	return nil
}

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port, not %q", s)
	}
	if host == "" {
		return fmt.Errorf("want host:port, not %q: the host is missing", s)
	}
	return checkPort(s, port)
}

// checkListen checks a listen address: host:port, where the host may be
// empty for every interface.
func checkListen(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("want host:port, not %q", s)
	}
	return checkPort(s, port)
}

func checkPort(s, port string) error {
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 && port != "0" {
		return fmt.Errorf("want host:port, not %q: the port is not a number from 0 to 65535", s)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("cannot parse url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("want an http or https URL, not %q", s)
	}
	return nil
}
