package detectors

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// evidence is a run of sequential accuracy evidence: the sampled records
// of consecutive batches of a partition since the last decision.
type evidence struct {
	correct, total uint64
	looks          uint32 // batches judged in the run
}

// stateVersion is the first byte of an accuracy state. A change of the
// layout gets a new version; old ones are rejected (the run starts over,
// which costs a few batches of evidence, nothing else).
const stateVersion = 1

// maxEvidence bounds restored counts, so that a corrupt state cannot make
// the interval arithmetic lose precision.
const maxEvidence = 1 << 52

// ErrStateMismatch means a saved state was made for another comparison
// (other compared fields, key, match or missing policy), whose evidence
// does not carry over.
var ErrStateMismatch = errors.New("accuracy state is for another comparison")

// appendState: version, fingerprint of the comparison, then the run's
// correct, total and looks as uvarints.
func (e evidence) append(dst []byte, fingerprint uint64) []byte {
	dst = append(dst, stateVersion)
	dst = binary.LittleEndian.AppendUint64(dst, fingerprint)
	dst = binary.AppendUvarint(dst, e.correct)
	dst = binary.AppendUvarint(dst, e.total)
	return binary.AppendUvarint(dst, uint64(e.looks))
}

func parseEvidence(b []byte, fingerprint uint64) (evidence, error) {
	var e evidence
	if len(b) < 9 {
		return e, errors.New("cannot read accuracy state: too short")
	}
	if b[0] != stateVersion {
		return e, fmt.Errorf("cannot read accuracy state: version %d, want %d", b[0], stateVersion)
	}
	if binary.LittleEndian.Uint64(b[1:9]) != fingerprint {
		return e, ErrStateMismatch
	}
	b = b[9:]
	var vals [3]uint64
	for i := range vals {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return e, errors.New("cannot read accuracy state: truncated")
		}
		vals[i], b = v, b[n:]
	}
	if len(b) != 0 {
		return e, errors.New("cannot read accuracy state: trailing bytes")
	}
	e = evidence{correct: vals[0], total: vals[1], looks: uint32(min(vals[2], maxRun+1))}
	if e.correct > e.total || e.total > maxEvidence || vals[2] >= maxRun || (e.looks == 0) != (e.total == 0) {
		return evidence{}, errors.New("cannot read accuracy state: inconsistent counts")
	}
	return e, nil
}
