package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Kind names an incident the simulator can inject.
type Kind string

// The kinds, in the order they are applied when several hit one batch:
// volume first (it sets the records the others work on), malformed last
// (it replaces encoded bytes).
const (
	Spike     Kind = "spike"     // volume × Factor (default 3)
	Drop      Kind = "drop"      // volume × Factor (default 0.3)
	Repeat    Kind = "repeat"    // Share of records replaced by Factor-fold repeats of the others' connections
	Supernode Kind = "supernode" // one email linked to Factor × the batch's max degree distinct profiles
	Wrong     Kind = "wrong"     // Share of the records the truth covers get a wrong profile_id and/or company
	Nulls     Kind = "nulls"     // Field null in Share of records
	Shift     Kind = "shift"     // mean of score moved by Factor standard errors of the batch mean
	Rename    Kind = "rename"    // Field renamed to To in Share of records
	Malformed Kind = "malformed" // Share of records truncated or not JSON
)

// Kinds lists every kind in application order.
var Kinds = []Kind{Spike, Drop, Repeat, Supernode, Wrong, Nulls, Shift, Rename, Malformed}

// Incident is one injected fault. Zero parameters take the kind's default.
type Incident struct {
	Kind Kind `json:"kind"`
	// Batch is the index of the batch it hits, for Config.Schedule; Inject
	// ignores it.
	Batch int `json:"batch"`
	// Share is the share of records affected (repeat, wrong, nulls,
	// rename, malformed).
	Share float64 `json:"share,omitempty"`
	// Factor is the volume multiplier (spike, drop), the repeat fold
	// (repeat), the degree multiple (supernode) or the shift in standard
	// errors, negative for downwards (shift).
	Factor float64 `json:"factor,omitempty"`
	// Field is the field nulled (nulls), renamed (rename), shifted (shift:
	// only score) or made wrong (wrong: profile_id, company or "" for
	// either or both).
	Field string `json:"field,omitempty"`
	// To is the new name of a renamed field.
	To string `json:"to,omitempty"`
}

// renames are the default new names, what a vendor's v2 API would say.
var renames = map[string]string{
	"email": "email_address", "profile_id": "profile", "company": "company_name",
	"title": "job_title", "score": "rating", "changed_at": "updated_at",
}

// withDefaults fills zero parameters and checks the result.
func (inc Incident) withDefaults() (Incident, error) {
	def := func(p *float64, v float64) {
		if *p == 0 {
			*p = v
		}
	}
	switch inc.Kind {
	case Spike:
		def(&inc.Factor, 3)
	case Drop:
		def(&inc.Factor, 0.3)
	case Repeat:
		def(&inc.Share, 0.8)
		def(&inc.Factor, 5)
	case Supernode:
		def(&inc.Factor, 4)
	case Wrong:
		def(&inc.Share, 0.3)
	case Nulls:
		def(&inc.Share, 0.5)
		if inc.Field == "" {
			inc.Field = "company"
		}
	case Shift:
		def(&inc.Factor, 4)
		if inc.Field == "" {
			inc.Field = "score"
		}
	case Rename:
		def(&inc.Share, 1)
		if inc.Field == "" {
			inc.Field = "email"
		}
		if inc.To == "" {
			inc.To = renames[inc.Field]
		}
		if inc.To == "" {
			inc.To = inc.Field + "_v2"
		}
	case Malformed:
		def(&inc.Share, 0.05)
	default:
		return inc, fmt.Errorf("unknown incident kind %q (want one of %s)", inc.Kind, kindList())
	}
	return inc, inc.check()
}

func (inc Incident) check() error {
	if inc.Batch < 0 {
		return fmt.Errorf("%s: batch %d is negative", inc.Kind, inc.Batch)
	}
	if inc.Share < 0 || inc.Share > 1 {
		return fmt.Errorf("%s: share %v is not in [0, 1]", inc.Kind, inc.Share)
	}
	switch inc.Kind {
	case Spike, Drop, Supernode:
		if inc.Factor <= 0 || inc.Factor > 1000 {
			return fmt.Errorf("%s: factor %v is not in (0, 1000]", inc.Kind, inc.Factor)
		}
	case Repeat:
		if inc.Factor < 2 || inc.Factor > 1000 {
			return fmt.Errorf("repeat: factor %v is not in [2, 1000]", inc.Factor)
		}
	case Shift:
		if inc.Field != "score" {
			return fmt.Errorf("shift: field %q is not numeric (only score is)", inc.Field)
		}
	case Wrong:
		if inc.Field != "" && inc.Field != "profile_id" && inc.Field != "company" {
			return fmt.Errorf("wrong: field %q is not profile_id or company", inc.Field)
		}
	case Nulls:
		if fieldIndex(inc.Field) < 0 {
			return fmt.Errorf("nulls: unknown field %q (want one of %s)", inc.Field, strings.Join(fieldNames[:], ", "))
		}
	case Rename:
		if fieldIndex(inc.Field) < 0 {
			return fmt.Errorf("rename: unknown field %q (want one of %s)", inc.Field, strings.Join(fieldNames[:], ", "))
		}
		if fieldIndex(inc.To) >= 0 {
			return fmt.Errorf("rename: %q is already a field", inc.To)
		}
	}
	return nil
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func kindOrder(k Kind) int { return slices.Index(Kinds, k) }

// ParseIncident parses the command line form KIND@BATCH[-LAST][:VALUE[:FIELD]]:
// one incident per batch of the range. VALUE is the kind's main parameter:
// the factor for spike, drop, supernode and shift, the share otherwise.
// FIELD is the field for nulls, rename (FIELD or FIELD>NEWNAME), shift and
// wrong.
func ParseIncident(s string) ([]Incident, error) {
	kind, rest, ok := strings.Cut(s, "@")
	if !ok {
		return nil, fmt.Errorf("incident %q: want KIND@BATCH[:VALUE[:FIELD]]", s)
	}
	inc := Incident{Kind: Kind(kind)}
	if kindOrder(inc.Kind) < 0 {
		return nil, fmt.Errorf("incident %q: unknown kind %q (want one of %s)", s, kind, kindList())
	}
	batches, rest, _ := strings.Cut(rest, ":")
	value, field, _ := strings.Cut(rest, ":")
	first, last, isRange := strings.Cut(batches, "-")
	lo, err := strconv.Atoi(first)
	hi := lo
	if err == nil && isRange {
		hi, err = strconv.Atoi(last)
	}
	if err != nil || lo < 0 || hi < lo {
		return nil, fmt.Errorf("incident %q: bad batch %q (want N or N-M)", s, batches)
	}
	if hi-lo >= 1_000_000 {
		return nil, fmt.Errorf("incident %q: range %q is too long", s, batches)
	}
	if value != "" {
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("incident %q: bad value %q", s, value)
		}
		switch inc.Kind {
		case Spike, Drop, Supernode, Shift:
			inc.Factor = v
		default:
			inc.Share = v
		}
	}
	inc.Field, inc.To, _ = strings.Cut(field, ">")
	if _, err := inc.withDefaults(); err != nil {
		return nil, fmt.Errorf("incident %q: %w", s, err)
	}
	out := make([]Incident, 0, hi-lo+1)
	for b := lo; b <= hi; b++ {
		inc.Batch = b
		out = append(out, inc)
	}
	return out, nil
}
