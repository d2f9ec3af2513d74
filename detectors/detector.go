// Package detectors judges batches. A detector observes every record of a
// batch on the hot path and gives its findings when the batch closes. It
// knows nothing of Kafka or metrics: the gate feeds it records and acts on
// the verdict.
package detectors

import (
	"time"

	"github.com/sluicehq/sluice/fields"
)

// Record is what a detector sees of one record: the entity key and the
// values of the fields the feed's detectors asked for, extracted once.
// Everything in it aliases buffers that are reused after Observe returns.
type Record struct {
	Key     []byte
	KeyHash uint64
	// Values holds one value per field registered with the Binder, at the
	// index Binder.Field returned.
	Values []fields.Value
}

// Batch describes a closed batch to Judge.
type Batch struct {
	ID          string
	Feed        string
	Partition   int32
	FirstOffset int64
	Records     int
	Bytes       int64
	// Time is when the batch's first record was produced (its timestamp);
	// seasonal baselines use it.
	Time time.Time
}

// Detector observes records and judges the batch they make up.
//
// A detector is used by one goroutine at a time (its partition's). Observe
// is the hot path: it must not allocate. Judge is called once per batch,
// then Learn with the batch's final verdict, then Reset before the next
// batch.
type Detector interface {
	// Name is the detector's configured name.
	Name() string
	// Type is degree, variance, accuracy or rules.
	Type() string
	// Observe sees one decodable record of the open batch.
	Observe(r *Record)
	// Judge appends the detector's findings on the batch to dst. It
	// appends at least one finding, with Verdict Pass when nothing is
	// wrong, so that scores are known for every batch.
	Judge(dst []Finding, b *Batch) []Finding
	// Learn tells the detector the batch's final verdict. Baselines learn
	// only from batches that passed (Pass or Warn), so an anomaly never
	// teaches the baseline that it is normal.
	Learn(v Verdict)
	// Reset forgets the open batch (not the learned baseline).
	Reset()
	// AppendState appends the learned state (baselines, distributions) to
	// dst; UnmarshalState restores it. A detector without learned state
	// appends nothing. When UnmarshalState returns an error the detector
	// is left as a freshly built one (warming up), never half-restored.
	AppendState(dst []byte) ([]byte, error)
	UnmarshalState(b []byte) error
}

// Binder hands out the index of each field path a feed's detectors need, so
// that a field needed by several detectors is extracted once.
type Binder struct {
	paths []string
}

// Field registers path and returns its index in Record.Values.
func (b *Binder) Field(path string) int {
	for i, p := range b.paths {
		if p == path {
			return i
		}
	}
	b.paths = append(b.paths, path)
	return len(b.paths) - 1
}

// Paths returns the registered paths in index order.
func (b *Binder) Paths() []string { return b.paths }
