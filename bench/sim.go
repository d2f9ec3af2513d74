// Package bench holds Sluice's benchmarks and the vendor-feed simulator they
// and the tests run against.
//
// The simulator imitates a sponsor-tracking vendor: JSON profile updates
// keyed by email, delivered in batches that carry a vendor-batch-id header,
// with heavy-tailed email degrees (shared inboxes are natural hubs), Poisson
// batch sizes and a daily rhythm. It injects labelled incidents on schedule
// or on demand, and writes the ground truth a reference check needs. The
// same seed gives the same bytes.
package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// HeaderBatchID is the header carrying the vendor's delivery id.
const HeaderBatchID = "vendor-batch-id"

// Config shapes a simulated feed. Zero fields take their defaults.
type Config struct {
	Seed uint64
	// Emails is the number of distinct emails; default 10000. About 3%
	// have a handful of profiles, Hubs are shared inboxes, the rest have
	// one profile each.
	Emails int
	// Hubs is the number of shared inboxes; default Emails/1250 (at least
	// one); negative for none.
	Hubs int
	// MeanBatch is the mean number of records in a batch over a day;
	// default 1000.
	MeanBatch int
	// Start is the simulated time of batch 0; default 2026-01-01T00:00Z.
	Start time.Time
	// Step is the simulated time between batches; default 1h.
	Step time.Duration
	// Flat turns off the daily rhythm in volume.
	Flat bool
	// Schedule injects incidents at the batch indices they name.
	Schedule []Incident
}

// Volume follows a daily cycle peaking mid-afternoon UTC: 1.5× the mean at
// the peak, 0.5× at night.
const (
	rhythm   = 0.5
	peakHour = 14.0
)

// Noise in a clean feed.
const (
	resendShare    = 0.01 // a record sent twice in a row by the vendor
	titleNullShare = 0.03 // profiles without a title
	scoreMean      = 60.0
	scoreSD        = 12.0
)

// Sim generates a feed batch by batch. It is not safe for concurrent use.
type Sim struct {
	cfg      Config
	u        *universe
	next     int
	pending  []Incident
	schedule map[int][]Incident
	log      []Injected
	idPrefix string
	stepSec  int64
}

// Batch is one vendor delivery.
type Batch struct {
	Index     int
	ID        string // the vendor-batch-id
	Time      time.Time
	Records   []Record
	Incidents []Injected
}

// Record is one Kafka record of the feed. Key and Value are its own bytes
// (capacity-limited slices of one per-batch allocation); Headers is shared
// by the batch's records and must not be modified.
type Record struct {
	Key       []byte // the email
	Value     []byte
	Headers   []kgo.RecordHeader
	Timestamp time.Time
}

// Injected is a logged incident: the parameters it ran with (defaults
// filled) and what it did.
type Injected struct {
	Incident
	BatchID string `json:"batch_id"`
	Records int    `json:"records"` // records affected (added or removed, for volume)
	Total   int    `json:"total"`   // records in the batch
	// Key is the email made a super-node (supernode).
	Key string `json:"key,omitempty"`
	// Delta is what was added to every score (shift).
	Delta float64 `json:"delta,omitempty"`
}

// New checks cfg, fills its defaults and builds the vendor's data set.
func New(cfg Config) (*Sim, error) {
	if err := cfg.fill(); err != nil {
		return nil, fmt.Errorf("cannot configure simulator: %w", err)
	}
	s := &Sim{
		cfg:      cfg,
		schedule: make(map[int][]Incident),
		idPrefix: fmt.Sprintf("dlv-%08x-", splitmix(cfg.Seed)>>32),
		stepSec:  max(1, int64(cfg.Step/time.Second)),
	}
	for _, inc := range cfg.Schedule {
		full, err := inc.withDefaults()
		if err != nil {
			return nil, fmt.Errorf("cannot schedule incident: %w", err)
		}
		s.schedule[inc.Batch] = append(s.schedule[inc.Batch], full)
	}
	s.u = newUniverse(cfg.Seed, cfg.Emails, cfg.Hubs)
	return s, nil
}

func (c *Config) fill() error {
	if c.Emails == 0 {
		c.Emails = 10000
	}
	if c.Emails < 10 || c.Emails > 50_000_000 {
		return fmt.Errorf("emails %d is not in [10, 50000000]", c.Emails)
	}
	switch {
	case c.Hubs == 0:
		c.Hubs = max(1, c.Emails/1250)
	case c.Hubs < 0:
		c.Hubs = 0
	case c.Hubs > c.Emails/10:
		return fmt.Errorf("hubs %d is more than a tenth of %d emails", c.Hubs, c.Emails)
	}
	if c.MeanBatch == 0 {
		c.MeanBatch = 1000
	}
	if c.MeanBatch < 1 || c.MeanBatch > 10_000_000 {
		return fmt.Errorf("mean batch %d is not in [1, 10000000]", c.MeanBatch)
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if c.Step == 0 {
		c.Step = time.Hour
	}
	if c.Step < 0 {
		return fmt.Errorf("step %v is negative", c.Step)
	}
	return nil
}

// Inject makes inc hit the next batch; several may hit the same one.
func (s *Sim) Inject(inc Incident) error {
	full, err := inc.withDefaults()
	if err != nil {
		return fmt.Errorf("cannot inject incident: %w", err)
	}
	s.pending = append(s.pending, full)
	return nil
}

// Log returns every incident injected so far, in order.
func (s *Sim) Log() []Injected { return slices.Clone(s.log) }

// WriteLog writes Log as JSON lines.
func (s *Sim) WriteLog(w io.Writer) error { return writeLog(w, s.log) }

// Expected is the mean batch size at simulated time t: the Poisson mean a
// clean batch is drawn from.
func (s *Sim) Expected(t time.Time) float64 {
	m := float64(s.cfg.MeanBatch)
	if s.cfg.Flat {
		return m
	}
	t = t.UTC()
	h := float64(t.Hour()) + float64(t.Minute())/60
	return m * (1 + rhythm*math.Cos(2*math.Pi*(h-peakHour)/24))
}

// Next generates the next batch.
func (s *Sim) Next() Batch {
	i := s.next
	s.next++
	t := s.cfg.Start.Add(time.Duration(i) * s.cfg.Step)
	b := Batch{Index: i, ID: s.idPrefix + fmt.Sprintf("%06d", i), Time: t}

	incs := append(slices.Clone(s.schedule[i]), s.pending...)
	s.pending = nil
	slices.SortStableFunc(incs, func(a, b Incident) int { return kindOrder(a.Kind) - kindOrder(b.Kind) })

	r := newPRNG(s.cfg.Seed, streamBatch, uint64(i))
	n := max(1, r.poisson(s.Expected(t)))
	w := &batchWork{s: s, t: t.Unix(), enc: newRowEncoder(s.u)}
	for k, inc := range incs {
		inc.Batch = i
		b.Incidents = append(b.Incidents, Injected{Incident: inc, BatchID: b.ID})
		if inc.Kind == Spike || inc.Kind == Drop {
			m := max(1, int(math.Round(float64(n)*inc.Factor)))
			b.Incidents[k].Records = max(m-n, n-m)
			n = m
		}
	}
	// Rows come first from the batch's stream, so a volume incident keeps
	// the clean batch's records as a prefix.
	w.rows = make([]feedRow, n)
	for j := range w.rows {
		if j > 0 && r.chance(resendShare) {
			w.rows[j] = w.rows[j-1]
			continue
		}
		w.rows[j] = w.row(r, int32(r.intn(len(s.u.profiles))))
	}
	for k := range b.Incidents {
		if kind := b.Incidents[k].Kind; kind != Spike && kind != Drop && kind != Malformed {
			w.apply(newPRNG(s.cfg.Seed, streamIncident, uint64(i)<<10|uint64(k)), &b.Incidents[k])
		}
	}
	b.Records = w.encode(b.ID, t)
	for k := range b.Incidents {
		if b.Incidents[k].Kind == Malformed {
			malform(newPRNG(s.cfg.Seed, streamIncident, uint64(i)<<10|uint64(k)), b.Records, &b.Incidents[k])
		}
		b.Incidents[k].Total = len(b.Records)
	}
	s.log = append(s.log, b.Incidents...)
	return b
}

// batchWork is a batch being built.
type batchWork struct {
	s    *Sim
	t    int64 // batch time, unix seconds
	rows []feedRow
	enc  *rowEncoder
}

// row is a clean update of profile p.
func (w *batchWork) row(r *prng, p int32) feedRow {
	pr := &w.s.u.profiles[p]
	score := math.Round(min(100, max(0, scoreMean+scoreSD*r.normal()))*100) / 100
	row := feedRow{
		email:   pr.email,
		profile: p,
		company: pr.company,
		event:   int16(r.intn(len(simEvents))),
		score:   score,
		changed: w.t - int64(r.intn(int(w.s.stepSec))),
	}
	if r.chance(titleNullShare) {
		row.nulls |= 1 << fTitle
	}
	return row
}

// encode turns rows into records. Keys and values share one arena per
// batch; each is a capacity-limited slice of its own.
func (w *batchWork) encode(id string, t time.Time) []Record {
	headers := []kgo.RecordHeader{{Key: HeaderBatchID, Value: []byte(id)}}
	recs := make([]Record, len(w.rows))
	arena := make([]byte, 0, len(w.rows)*360)
	for j := range w.rows {
		start := len(arena)
		arena = append(arena, w.s.u.emails[w.rows[j].email].addr...)
		mid := len(arena)
		arena = w.enc.append(arena, &w.rows[j])
		// A grown arena leaves earlier records in the old array, intact.
		recs[j] = Record{Key: arena[start:mid:mid], Value: arena[mid:len(arena):len(arena)], Headers: headers, Timestamp: t}
	}
	return recs
}
