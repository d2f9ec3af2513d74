package detectors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/sluicehq/sluice/sketch"
)

// degreeStateVersion is the first byte of a degree state. A new layout
// gets a new version; an old one is rejected and the detector warms up
// again.
const degreeStateVersion = 1

// ErrDegreeStateMismatch means a saved state counted degrees over another
// neighbor field, which do not carry over.
var ErrDegreeStateMismatch = errors.New("degree state is for another neighbor field")

// AppendState appends the learned degree distribution: version, the
// fingerprint of the neighbor field, the batch counts of the current and
// the previous epoch as uvarints, then each epoch's sketch.Quantiles
// encoding, length first. At most 2 × (about 40 + the occupied bins)
// bytes: a few hundred for degrees up to 10^3.
func (d *Degree) AppendState(dst []byte) ([]byte, error) {
	h := &d.learned
	dst = append(dst, degreeStateVersion)
	dst = binary.LittleEndian.AppendUint64(dst, degreeFingerprint(d.neighbor))
	dst = binary.AppendUvarint(dst, uint64(h.nRecent))
	dst = binary.AppendUvarint(dst, uint64(h.nOlder))
	for _, q := range []*sketch.Quantiles{h.recent, h.older} {
		enc, err := q.MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("cannot save degree state: %w", err)
		}
		dst = binary.AppendUvarint(dst, uint64(len(enc)))
		dst = append(dst, enc...)
	}
	return dst, nil
}

// UnmarshalState restores what AppendState saved. Empty input is a fresh
// detector. On error the detector is fresh: it warms up again.
func (d *Degree) UnmarshalState(b []byte) error {
	d.learned.reset()
	if len(b) == 0 {
		return nil
	}
	recent, older, nRecent, nOlder, err := d.parseState(b)
	if err != nil {
		return err
	}
	h := &d.learned
	h.recent, h.older, h.nRecent, h.nOlder = recent, older, nRecent, nOlder
	return nil
}

func (d *Degree) parseState(b []byte) (recent, older *sketch.Quantiles, nRecent, nOlder int, err error) {
	r := &stateReader{b: b}
	if v := r.byte(); r.err == nil && v != degreeStateVersion {
		return nil, nil, 0, 0, fmt.Errorf("cannot restore degree detector %q: state version %d, want %d", d.name, v, degreeStateVersion)
	}
	if fp := r.uint64(); r.err == nil && fp != degreeFingerprint(d.neighbor) {
		return nil, nil, 0, 0, fmt.Errorf("cannot restore degree detector %q: %w", d.name, ErrDegreeStateMismatch)
	}
	nr, no := r.uvarint(), r.uvarint()
	qs := [2]*sketch.Quantiles{newDegreeQuantiles(), newDegreeQuantiles()}
	for i, q := range qs {
		enc := r.bytes()
		if r.err != nil {
			break
		}
		if err := q.UnmarshalBinary(enc); err != nil {
			r.fail("epoch %d: %v", i, err)
			break
		}
		// Merge needs our parameters: other ones are someone else's.
		if q.Alpha() != degreeAlpha || q.MaxBins() != degreeBins {
			r.fail("epoch %d: sketch alpha %v, %d bins; want %v, %d", i, q.Alpha(), q.MaxBins(), degreeAlpha, degreeBins)
			break
		}
	}
	if err := r.done(); err != nil {
		return nil, nil, 0, 0, fmt.Errorf("cannot restore degree detector %q: %w", d.name, err)
	}
	// Degrees are at least 1.
	for _, q := range qs {
		if q.Count() > 0 && !(q.Min() >= 1) {
			return nil, nil, 0, 0, fmt.Errorf("cannot restore degree detector %q: a learned degree of %v", d.name, q.Min())
		}
	}
	// A learned batch always holds keys; the previous epoch is full or empty.
	switch {
	case nr >= degreeEpoch, no != 0 && no != degreeEpoch,
		(nr == 0) != (qs[0].Count() == 0), (no == 0) != (qs[1].Count() == 0),
		qs[0].Count() > math.MaxInt64/2, qs[1].Count() > math.MaxInt64/2:
		return nil, nil, 0, 0, fmt.Errorf("cannot restore degree detector %q: inconsistent counts (%d, %d batches; %d, %d keys)",
			d.name, nr, no, qs[0].Count(), qs[1].Count())
	}
	return qs[0], qs[1], int(nr), int(no), nil
}
