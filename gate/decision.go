package gate

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice/detectors"
)

// Batch states in a decision record.
const (
	StatePassed      = "passed"
	StateQuarantined = "quarantined"
	StateHalted      = "halted"
	StateReleased    = "released"
	StateDropped     = "dropped"
)

// Decision is the record of what happened to one batch: on the decisions
// topic (keyed by Batch), from the admin API, and from replay --json.
// Fields may be added; the ones here stay.
type Decision struct {
	Batch       string              `json:"batch"`
	Feed        string              `json:"feed"`
	Topic       string              `json:"topic"`
	Partition   int32               `json:"partition"`
	FirstOffset int64               `json:"first_offset"`
	LastOffset  int64               `json:"last_offset"`
	Records     int                 `json:"records"`
	Bytes       int64               `json:"bytes"`
	Verdict     detectors.Verdict   `json:"verdict"`
	State       string              `json:"state"`
	DecidedAt   time.Time           `json:"decided_at"`
	Findings    []detectors.Finding `json:"findings"`
	// Dropped counts records of the batch dropped as undecodable
	// (on_decode_error: drop); they are in neither output nor quarantine.
	Dropped int `json:"dropped,omitempty"`
	// Shadow is set when the feed is in shadow mode: the verdict was
	// recorded but the batch was passed.
	Shadow bool `json:"shadow,omitempty"`
	// Quarantine is where a diverted batch's records are.
	Quarantine *Location `json:"quarantine,omitempty"`
	// Change records a later state change (release, drop) of the batch.
	Change *Change `json:"change,omitempty"`
}

// Location is a range of records in one topic partition.
type Location struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	FirstOffset int64  `json:"first_offset"`
	LastOffset  int64  `json:"last_offset"`
	Records     int    `json:"records"`
}

// Change is who changed a batch's state after its decision, when and why.
type Change struct {
	By     string    `json:"by,omitempty"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// BatchID is "<feed>:<partition>:<first offset>": the same on every replica
// and every replay.
func BatchID(feed string, partition int32, first int64) string {
	return feed + ":" + strconv.FormatInt(int64(partition), 10) + ":" + strconv.FormatInt(first, 10)
}

// ParseBatchID splits a batch id. Feed names cannot hold ':'.
func ParseBatchID(id string) (feed string, partition int32, first int64, err error) {
	parts := strings.Split(id, ":")
	if len(parts) != 3 || parts[0] == "" {
		return "", 0, 0, fmt.Errorf("invalid batch id %q: want FEED:PARTITION:OFFSET", id)
	}
	p, err := strconv.ParseInt(parts[1], 10, 32)
	if err != nil || p < 0 {
		return "", 0, 0, fmt.Errorf("invalid batch id %q: bad partition", id)
	}
	o, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || o < 0 {
		return "", 0, 0, fmt.Errorf("invalid batch id %q: bad offset", id)
	}
	return parts[0], int32(p), o, nil
}

// ParseDecision decodes a decision record, checking the fields that must be
// there.
func ParseDecision(b []byte) (*Decision, error) {
	var d Decision
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("cannot parse decision record: %w", err)
	}
	if d.Batch == "" {
		return nil, fmt.Errorf("cannot parse decision record: no batch id")
	}
	switch d.State {
	case StatePassed, StateQuarantined, StateHalted, StateReleased, StateDropped:
	default:
		return nil, fmt.Errorf("cannot parse decision record %s: unknown state %q", d.Batch, d.State)
	}
	return &d, nil
}

// Reasons summarizes the failing findings in words, for the sluice-reasons
// header and the demo's lines.
func (d *Decision) Reasons() string {
	var b strings.Builder
	for _, f := range d.Findings {
		if f.Verdict == detectors.Pass {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(FindingText(&f))
	}
	return b.String()
}

// FindingText is one finding in words.
func FindingText(f *detectors.Finding) string {
	if f.Message != "" {
		return f.Detector + ": " + f.Message
	}
	return fmt.Sprintf("%s: %s %s (threshold %s)", f.Detector, f.Metric,
		strconv.FormatFloat(f.Observed, 'g', 4, 64), strconv.FormatFloat(f.Threshold, 'g', 4, 64))
}
