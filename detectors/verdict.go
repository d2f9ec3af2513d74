package detectors

import "fmt"

// Verdict is what a batch's findings call for, ordered from mild to severe.
type Verdict uint8

const (
	Pass       Verdict = iota // forward the batch
	Warn                      // forward it, flagged
	Quarantine                // divert it to the quarantine topic
	Halt                      // divert it and pause the partition
)

var verdictNames = [...]string{"pass", "warn", "quarantine", "halt"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", v)
}

// ParseVerdict parses pass, warn, quarantine or halt.
func ParseVerdict(s string) (Verdict, error) {
	for i, n := range verdictNames {
		if n == s {
			return Verdict(i), nil
		}
	}
	return 0, fmt.Errorf("unknown verdict %q (want pass, warn, quarantine or halt)", s)
}

// Passes reports whether a batch with this verdict is forwarded.
func (v Verdict) Passes() bool { return v <= Warn }

// MarshalText writes the verdict's name.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses a verdict's name.
func (v *Verdict) UnmarshalText(b []byte) error {
	p, err := ParseVerdict(string(b))
	if err != nil {
		return err
	}
	*v = p
	return nil
}

// Finding is the evidence one detector gives on one batch.
type Finding struct {
	Detector  string    `json:"detector"`
	Type      string    `json:"type"`
	Verdict   Verdict   `json:"verdict"`
	Metric    string    `json:"metric"`
	Observed  float64   `json:"observed"`
	Threshold float64   `json:"threshold"`
	Interval  []float64 `json:"interval,omitempty"`
	Samples   int       `json:"samples,omitempty"`
	// Confidence is the confidence level of Interval, when there is one.
	Confidence float64 `json:"confidence,omitempty"`
	// Examples are a few offending keys (hashed unless the feed says not to).
	Examples []string `json:"examples,omitempty"`
	// Mode says how the value was computed where that matters
	// ("exact" or "sketch" for degree, "warmup" before a baseline is ready).
	Mode string `json:"mode,omitempty"`
	// Message says what was found, in words.
	Message string `json:"message,omitempty"`
}

// shadow turns findings into what a detector in shadow mode reports: each
// says what it would have done, and none fails the batch.
func shadow(fs []Finding) {
	for i := range fs {
		f := &fs[i]
		f.Mode = "shadow"
		if f.Verdict != Pass {
			f.Message = "would " + f.Verdict.String() + ": " + f.Message
		}
		f.Verdict = Pass
	}
}
