package detectors

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// varianceStateVersion is the first byte of a variance state. A new
// layout gets a new version; an old one is rejected and the detector warms
// up again.
const varianceStateVersion = 1

// ErrVarianceStateMismatch means a saved state was learned with other
// metrics, another method, window, alpha or seasonality.
var ErrVarianceStateMismatch = errors.New("variance state is for other metrics or another baseline")

// AppendState appends the learned baselines: version, fingerprint of the
// configuration they mean something under, then for each season (1, or
// 24 with seasonality) and each metric the history: a uvarint count, then
// for robust that many float32 values oldest first, for ewma the mean and
// variance as float64. At the defaults (robust, window 48) that is
// 10 + 193 bytes per metric once the window is full, ×24 with seasonality.
func (d *Variance) AppendState(dst []byte) ([]byte, error) {
	dst = append(dst, varianceStateVersion)
	dst = binary.LittleEndian.AppendUint64(dst, d.fingerprint())
	for s := range d.hist {
		for m := range d.hist[s] {
			dst = d.hist[s][m].append(dst, d.method)
		}
	}
	return dst, nil
}

// UnmarshalState restores what AppendState saved. Empty input is a fresh
// detector. On error the detector is fresh: every baseline warms up again.
func (d *Variance) UnmarshalState(b []byte) error {
	d.forget()
	if len(b) == 0 {
		return nil
	}
	r := &stateReader{b: b}
	if v := r.byte(); r.err == nil && v != varianceStateVersion {
		return fmt.Errorf("cannot restore variance detector %q: state version %d, want %d", d.name, v, varianceStateVersion)
	}
	if fp := r.uint64(); r.err == nil && fp != d.fingerprint() {
		return fmt.Errorf("cannot restore variance detector %q: %w", d.name, ErrVarianceStateMismatch)
	}
	for s := range d.hist {
		for m := range d.hist[s] {
			d.hist[s][m].parse(r, d.method)
		}
	}
	if err := r.done(); err != nil {
		d.forget()
		return fmt.Errorf("cannot restore variance detector %q: %w", d.name, err)
	}
	return nil
}

// forget empties every baseline.
func (d *Variance) forget() {
	for s := range d.hist {
		for m := range d.hist[s] {
			h := &d.hist[s][m]
			clear(h.vals)
			*h = varHistory{vals: h.vals}
		}
	}
}
