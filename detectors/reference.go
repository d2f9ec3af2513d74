package detectors

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fields"
)

// Reference is the truth an accuracy detector checks sampled records
// against: a file, a compacted topic, or an HTTP verifier (package
// reference implements all three; this package never opens one itself,
// see Env.Reference).
//
// One Reference may serve the detectors of every partition of a feed at
// once, so Check must be safe for concurrent use.
type Reference interface {
	// Check judges sampled records: it sets each Sample's Outcome and, for
	// Wrong ones, WrongFields. It returns an error when it could not judge
	// every sample (unreachable, not loaded yet, out of time); the
	// samples it did judge keep their outcomes, the rest stay Unchecked.
	// The detector then gives a reference_unavailable finding, never a
	// pass. Error texts must not quote record keys or values.
	Check(ctx context.Context, samples []Sample) error
	// Close releases what the reference holds.
	Close() error
}

// Stale is implemented by a reference that can answer from data it knows
// to be out of date: a file whose last edit does not parse keeps its last
// good contents. Stale returns why, or nil while the data is current. The
// accuracy finding repeats it, so an operator learns that the truth is old.
type Stale interface {
	Stale() error
}

// Sample is one sampled record as the reference sees it. Key and the
// Fields' Text alias the detector's buffers: valid during Check only.
type Sample struct {
	// Key is the text of the record's reference.key field, which joins it
	// to the reference; nil when the record lacks it (or it is null), and
	// then the reference says NotInReference.
	Key []byte
	// Fields holds the compared fields in the order of config
	// Reference.Compare.
	Fields []SampleValue
	// Outcome is set by Reference.Check.
	Outcome Outcome
	// WrongFields has bit i set when Fields[i] differs from the
	// reference (at most 64 compared fields).
	WrongFields uint64
}

// SampleValue is one compared field of a sampled record.
type SampleValue struct {
	Kind fields.Kind
	// Text is a String's text (unescaped), or the JSON text of the other
	// kinds; empty when Missing or Null. A missing or null field compares
	// as empty text: a CSV reference cannot tell them apart.
	Text []byte
}

// Outcome is what a reference says of one sampled record.
type Outcome uint8

const (
	Unchecked      Outcome = iota // the reference could not say
	Correct                       // every compared field matches
	Wrong                         // some compared field differs (see WrongFields)
	NotInReference                // the key is not in the reference
)

// MaxCompared is how many fields an accuracy detector may compare.
const MaxCompared = 64

// Matcher compares a record's field text with the reference's, as config
// reference.match says: exact (byte for byte), fold (trimmed, runs of
// white space as one space, case-folded) or numeric (both parse as
// numbers within Tolerance; text that does not parse must match exactly).
// It allocates nothing.
type Matcher struct {
	mode      matchMode
	tolerance float64
}

type matchMode uint8

const (
	matchExact matchMode = iota
	matchFold
	matchNumeric
)

// NewMatcher builds the matcher cfg asks for; "" means exact.
func NewMatcher(cfg config.Reference) (Matcher, error) {
	m := Matcher{tolerance: cfg.Tolerance}
	switch cfg.Match {
	case "", "exact":
		m.mode = matchExact
	case "fold":
		m.mode = matchFold
	case "numeric":
		m.mode = matchNumeric
	default:
		return Matcher{}, fmt.Errorf("unknown match mode %q (want exact, fold or numeric)", cfg.Match)
	}
	if !(cfg.Tolerance >= 0) {
		return Matcher{}, fmt.Errorf("tolerance must be >= 0, not %v", cfg.Tolerance)
	}
	return m, nil
}

// Match reports whether got (the record's) matches want (the reference's).
func (m Matcher) Match(got, want []byte) bool {
	switch m.mode {
	case matchFold:
		return foldEqual(got, want)
	case matchNumeric:
		if bytes.Equal(got, want) {
			return true
		}
		a, errA := strconv.ParseFloat(string(bytes.TrimSpace(got)), 64)
		b, errB := strconv.ParseFloat(string(bytes.TrimSpace(want)), 64)
		return errA == nil && errB == nil && math.Abs(a-b) <= m.tolerance
	default:
		return bytes.Equal(got, want)
	}
}

// foldEqual compares a and b as words: leading and trailing white space
// ignored, inner runs of it as one space, letters case-folded.
func foldEqual(a, b []byte) bool {
	var i, j int
	for {
		ra, na, spaceA := nextFolded(a, i)
		rb, nb, spaceB := nextFolded(b, j)
		if na == 0 || nb == 0 {
			return na == 0 && nb == 0
		}
		if spaceA != spaceB || !runeFold(ra, rb) {
			return false
		}
		i, j = na, nb
	}
}

// nextFolded reads the rune of s at or after i, with space set when white
// space stood between it and the previous rune (never before the first).
// It returns n == 0 at the end, trailing white space included.
func nextFolded(s []byte, i int) (r rune, n int, space bool) {
	start := i
	for i < len(s) {
		r, size := utf8.DecodeRune(s[i:])
		if !unicode.IsSpace(r) {
			return r, i + size, i > start && start > 0
		}
		i += size
	}
	return 0, 0, false
}

// runeFold reports whether a and b are equal under Unicode simple case
// folding, as strings.EqualFold does.
func runeFold(a, b rune) bool {
	if a == b {
		return true
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}
