package detectors

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/config"
)

// briefDegree is the brief's example degree detector.
func briefDegree() config.Detector {
	return config.Detector{
		Name: "supernodes", Type: "degree", Neighbor: "profile_id",
		MaxDegree:    50,
		OverBaseline: &config.OverBaseline{Quantile: 0.999, Factor: 4},
		MaxRepeat:    3, MaxShare: 0.001, OnFail: "quarantine",
	}
}

// graphBatch is how big the graph tests cut their batches.
const graphBatch = 2000

// TestDegreeIncident000 is incident 000 on real data at the brief's
// example settings: 1,000 clean batches of the Facebook graph pass, natural
// hubs included, and one batch where 60% of the records are replaced by
// 5-fold repeats of the others' connections is quarantined.
func TestDegreeIncident000(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxKeys int
		batches int
		mode    string
	}{
		{"exact", 0, 1000, "exact"},
		// Beyond max_keys (a batch has about 1,300 keys): the sketches.
		{"sketch", 300, 150, "sketch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := loadGraph(t)
			cfg := briefDegree()
			cfg.MaxKeys = tc.maxKeys
			p := newPipe(t, false, cfg)
			d := p.ds[0].(*Degree)
			feed := newGraphFeed(g, graphBatch, 1)
			rng := rand.New(rand.NewPCG(5, 5))
			incident := tc.batches / 2
			var falseAlarms, largest, keys int
			for i := range tc.batches + 1 {
				b := feed.batch()
				if i == incident {
					repeatIncident(b, 0.6, 5, rng)
				}
				p.observeGraph(g, b)
				fs, v := p.close(&Batch{})
				f := fs[0]
				if f.Mode != tc.mode {
					t.Fatalf("batch %d: mode %q, want %q: %+v", i, f.Mode, tc.mode, fs)
				}
				if i == incident {
					t.Logf("incident: %s %s %v (%s)", v, f.Metric, f.Examples, f.Message)
					if v != Quarantine || f.Metric != "max_repeat" || f.Observed < 5 || len(f.Examples) != 3 ||
						!strings.HasSuffix(f.Examples[0], "@fb.example") {
						t.Errorf("the repeat incident: %+v", fs)
					}
					continue
				}
				if v != Pass {
					falseAlarms++
					t.Errorf("clean batch %d: %+v", i, fs)
				}
				largest = max(largest, int(d.batch.Max())) // the batch's largest degree
				keys += int(d.batch.Count())               // the batch's keys, as learned
			}
			b := d.baseline()
			t.Logf("%d clean batches of %d records, %d keys on average: %d false quarantines; largest degree in a batch %d (max_degree 50); "+
				"learned p99.9 %.2f, baseline threshold %.1f; %d shuffles of the graph",
				tc.batches, graphBatch, keys/tc.batches, falseAlarms, largest, b.quantile, b.threshold, feed.epochs)
			if tc.mode == "exact" && (largest >= 50 || b.threshold <= float64(largest)) {
				t.Errorf("natural hubs reach %d: the brief's settings are not honest at %d records a batch", largest, graphBatch)
			}
		})
	}
}

// TestDegreeMaxDegreeAtBriefBatchSize shows why the brief's max_degree 50
// does not carry to its batch size: in a 50,000-record batch of the graph
// about 100 keys naturally have more than 50 neighbors, far over a
// max_share of 0.1%, so every batch would be quarantined.
func TestDegreeMaxDegreeAtBriefBatchSize(t *testing.T) {
	g := loadGraph(t)
	cfg := briefDegree()
	cfg.OverBaseline = nil
	p := newPipe(t, true, cfg)
	p.observeGraph(g, newGraphFeed(g, 50000, 2).batch())
	fs, v := p.close(&Batch{})
	t.Logf("one 50,000-record batch: %s: %s", v, fs[0].Message)
	if v != Quarantine || fs[0].Metric != "supernode_share" || fs[0].Observed < 0.01 {
		t.Errorf("want natural hubs over max_degree 50 in a 50,000-record batch: %+v", fs)
	}
}

// TestDegreeNewHub: a key new to the feed at more than factor (4) × the
// learned p99.9 fails the batch on its own, whatever max_share; an old hub
// at its usual degree, and a new key at 3.9 × the quantile, do not.
func TestDegreeNewHub(t *testing.T) {
	g := loadGraph(t)
	p := newPipe(t, false, briefDegree())
	d := p.ds[0].(*Degree)
	feed := newGraphFeed(g, graphBatch, 3)
	const hub = 107 // the graph's largest hub: degree 1045
	usual := 0
	for range 100 {
		b := feed.batch()
		p.observeGraph(g, b)
		if _, v := p.close(&Batch{}); v != Pass {
			t.Fatalf("a clean batch failed")
		}
		n := 0
		for _, e := range b {
			if e[0] == hub {
				n++
			}
		}
		usual = max(usual, n)
	}
	base := d.baseline()
	if !base.ready {
		t.Fatalf("baseline not ready after 100 batches: %+v", base)
	}
	t.Logf("learned p99.9 %.2f, threshold %.1f; hub %d's most in a batch: %d", base.quantile, base.threshold, hub, usual)

	// run judges a clean batch in which key has extra distinct neighbors;
	// it teaches nothing, so every case sees the same baseline.
	run := func(key []byte, extra int, b [][2]int32) []Finding {
		p.observeGraph(g, b)
		for i := range extra {
			p.observeField(key, 0, []byte("new-profile-"+strconv.Itoa(i)))
		}
		fs := d.Judge(nil, &Batch{})
		d.Reset()
		return fs
	}
	over := int(math.Floor(4*base.quantile)) + 1
	newKey := []byte("new.hub@fb.example")
	fs := run(newKey, over, feed.batch())
	if f := fs[0]; f.Verdict != Quarantine || f.Metric != "over_baseline" || f.Observed != float64(over)/base.quantile ||
		f.Threshold != 4 || len(f.Examples) != 1 || f.Examples[0] != string(newKey) {
		t.Errorf("new hub at %d > 4 × %.2f: %+v", over, base.quantile, fs)
	} else {
		t.Logf("new hub: %s", f.Message)
	}
	if fs := run(newKey, int(3.9*base.quantile), feed.batch()); fs[0].Verdict != Pass {
		t.Errorf("new key at 3.9 × the quantile: %+v", fs)
	}
	// The old hub at the most it had in any learned batch: records of
	// others become its connections until it has that many.
	b := feed.batch()
	has := map[int32]bool{}
	for _, e := range b {
		if e[0] == hub {
			has[e[1]] = true
		}
	}
	for i, nb := len(b)-1, int32(0); len(has) < usual; i-- {
		if b[i][0] == hub {
			continue
		}
		for has[nb] || nb == hub {
			nb++
		}
		b[i] = [2]int32{hub, nb}
		has[nb] = true
	}
	if fs := run(nil, 0, b); fs[0].Verdict != Pass || d.batch.Max() < float64(usual) {
		t.Errorf("old hub at its usual %d: %+v", usual, fs)
	}
}

// degreeBatch feeds the detector keys with the given degrees (key i has
// degrees[i] distinct neighbors, each once) and repeats (key i's first
// connection occurs repeats[i] times in all), and judges.
func degreeBatch(p *pipe, degrees, repeats []int) []Finding {
	var kb, nb []byte
	for i, deg := range degrees {
		kb = strconv.AppendInt(append(kb[:0], "k"...), int64(i), 10)
		for j := range deg {
			nb = strconv.AppendInt(append(nb[:0], "n"...), int64(j), 10)
			p.observeField(kb, 0, nb)
		}
		if i < len(repeats) {
			for range repeats[i] - 1 {
				p.observeField(kb, 0, []byte("n0"))
			}
		}
	}
	fs, _ := p.close(&Batch{})
	return fs
}

// ones returns n degrees of 1, then the given ones.
func ones(n int, then ...int) []int {
	d := make([]int, n, n+len(then))
	for i := range d {
		d[i] = 1
	}
	return append(d, then...)
}

func TestDegreeThresholds(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      config.Detector
		degrees  []int
		repeats  []int
		verdicts []Verdict
		metrics  []string
		observed []float64
	}{
		{"one key over max_degree, no max_share", config.Detector{MaxDegree: 10},
			ones(199, 11), nil, []Verdict{Quarantine}, []string{"max_degree"}, []float64{11}},
		{"at max_degree passes", config.Detector{MaxDegree: 10},
			ones(199, 10), nil, []Verdict{Pass}, []string{"max_degree"}, []float64{10}},
		{"one key of 200 over, max_share 1%", config.Detector{MaxDegree: 10, MaxShare: 0.01},
			ones(199, 11), nil, []Verdict{Pass}, []string{"supernode_share"}, []float64{0.005}},
		{"two keys of 200 over, max_share 1%", config.Detector{MaxDegree: 10, MaxShare: 0.01},
			ones(198, 11, 30), nil, []Verdict{Pass}, []string{"supernode_share"}, []float64{0.01}},
		{"three keys of 200 over, max_share 1%", config.Detector{MaxDegree: 10, MaxShare: 0.01},
			ones(197, 11, 12, 30), nil, []Verdict{Quarantine}, []string{"supernode_share"}, []float64{0.015}},
		{"one repeat over max_repeat, no max_share", config.Detector{MaxRepeat: 3},
			ones(200), []int{4}, []Verdict{Quarantine}, []string{"max_repeat"}, []float64{4}},
		{"repeat at max_repeat passes", config.Detector{MaxRepeat: 3},
			ones(200), []int{3}, []Verdict{Pass}, []string{"max_repeat"}, []float64{3}},
		{"two repeating keys of 200, max_share 1%", config.Detector{MaxRepeat: 3, MaxShare: 0.01},
			ones(200), []int{9, 4}, []Verdict{Pass}, []string{"max_repeat"}, []float64{9}},
		{"three repeating keys of 200, max_share 1%", config.Detector{MaxRepeat: 3, MaxShare: 0.01, OnFail: "halt"},
			ones(200), []int{9, 4, 4}, []Verdict{Halt}, []string{"max_repeat"}, []float64{9}},
		{"both fail", config.Detector{MaxRepeat: 3, MaxDegree: 10, OnFail: "warn"},
			ones(199, 11), []int{4}, []Verdict{Warn, Warn}, []string{"max_repeat", "max_degree"}, []float64{4, 11}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Name, cfg.Type, cfg.Neighbor = "supernodes", "degree", "profile_id"
			fs := degreeBatch(newPipe(t, true, cfg), tc.degrees, tc.repeats)
			if len(fs) != len(tc.verdicts) {
				t.Fatalf("%d findings, want %d: %+v", len(fs), len(tc.verdicts), fs)
			}
			for i, f := range fs {
				if f.Verdict != tc.verdicts[i] || f.Metric != tc.metrics[i] || f.Observed != tc.observed[i] || f.Mode != "exact" {
					t.Errorf("finding %d: %s %s %v (%s), want %s %s %v", i, f.Verdict, f.Metric, f.Observed, f.Message,
						tc.verdicts[i], tc.metrics[i], tc.observed[i])
				}
			}
			t.Logf("%s", fs[0].Message)
		})
	}
}

func TestDegreeMessages(t *testing.T) {
	cfg := config.Detector{Name: "supernodes", Type: "degree", Neighbor: "profile_id", MaxRepeat: 3, MaxShare: 0.001}
	repeats := make([]int, 61)
	for i := 18; i < 61; i++ {
		repeats[i] = 4
	}
	repeats[20] = 9
	fs := degreeBatch(newPipe(t, true, cfg), ones(61), repeats)
	want := "43 of 61 keys (70%) repeat a connection more than 3 times; worst 9×; limit 0.1% of keys"
	if f := fs[0]; f.Message != want || len(f.Examples) != 3 || f.Examples[0] != KeyHashString(xxhash.Sum64String("k20")) {
		t.Errorf("got %q %v, want %q, first example k20", f.Message, f.Examples, want)
	}
}

// TestDegreeWarmup: before the learned distribution is ready the
// baseline's failures take the warmup verdict; absolute thresholds hold
// from the first batch.
func TestDegreeWarmup(t *testing.T) {
	for _, warmup := range []string{"pass", "warn", "quarantine"} {
		t.Run(warmup, func(t *testing.T) {
			cfg := config.Detector{Name: "supernodes", Type: "degree", Neighbor: "profile_id", Warmup: warmup,
				OverBaseline: &config.OverBaseline{Quantile: 0.5, Factor: 2}, MaxDegree: 100}
			p := newPipe(t, true, cfg)
			// Batch 0: nothing learned; only the ceiling applies.
			if fs := degreeBatch(p, ones(50, 101), nil); fs[0].Verdict != Quarantine || fs[0].Mode != "exact" {
				t.Fatalf("ceiling before warm-up: %+v", fs)
			}
			if fs := degreeBatch(p, ones(50, 90), nil); fs[0].Verdict != Pass {
				t.Fatalf("nothing learned: %+v", fs)
			}
			// One batch learned (median 1, threshold 2): a degree of 3 is
			// over the baseline, provisionally.
			fs := degreeBatch(p, ones(50, 3), nil)
			want, _ := ParseVerdict(warmup)
			if f := fs[0]; f.Verdict != want || f.Mode != "warmup" || f.Metric != "over_baseline" || !strings.Contains(f.Message, "warming up") {
				t.Fatalf("warm-up: %+v", fs)
			}
			for range degreeMinBatches {
				degreeBatch(p, ones(50), nil)
			}
			if fs := degreeBatch(p, ones(50, 3), nil); fs[0].Verdict != Quarantine || fs[0].Mode != "exact" {
				t.Errorf("after warm-up: %+v", fs)
			}
		})
	}
}

// TestDegreeLearnsOnlyPassing: a quarantined batch teaches nothing, a
// warned one does.
func TestDegreeLearnsOnlyPassing(t *testing.T) {
	cfg := config.Detector{Name: "supernodes", Type: "degree", Neighbor: "profile_id", MaxRepeat: 3,
		OverBaseline: &config.OverBaseline{Quantile: 0.9, Factor: 2}}
	p := newPipe(t, true, cfg)
	d := p.ds[0]
	degreeBatch(p, ones(100), nil)
	before, _ := d.AppendState(nil)
	degreeBatch(p, ones(100, 50), []int{5}) // quarantined
	if after, _ := d.AppendState(nil); !bytes.Equal(before, after) {
		t.Error("a quarantined batch changed the learned distribution")
	}
	cfg.OnFail = "warn"
	p = newPipe(t, true, cfg)
	d = p.ds[0]
	degreeBatch(p, ones(100), nil)
	before, _ = d.AppendState(nil)
	degreeBatch(p, ones(100), []int{5}) // warned
	if after, _ := d.AppendState(nil); bytes.Equal(before, after) {
		t.Error("a warned batch did not teach the learned distribution")
	}
}

func TestDegreeShadow(t *testing.T) {
	cfg := config.Detector{Name: "supernodes", Type: "degree", Neighbor: "profile_id", MaxRepeat: 3, Shadow: true}
	fs := degreeBatch(newPipe(t, true, cfg), ones(10), []int{5})
	if f := fs[0]; f.Verdict != Pass || f.Mode != "shadow" || !strings.HasPrefix(f.Message, "would quarantine: ") {
		t.Errorf("shadow: %+v", fs)
	}
}

// TestDegreeNoNeighbor: records without a neighbor connect nothing.
func TestDegreeNoNeighbor(t *testing.T) {
	cfg := config.Detector{Name: "supernodes", Type: "degree", Neighbor: "profile_id", MaxRepeat: 1}
	p := newPipe(t, true, cfg)
	for _, doc := range []string{`{"profile_id":null}`, `{}`, `{"profile_id":null}`} {
		p.observe([]byte("k"), []byte(doc))
	}
	fs, v := p.close(&Batch{})
	if v != Pass || !strings.Contains(fs[0].Message, "no connections (3 records without profile_id)") {
		t.Errorf("%+v", fs)
	}
	// A neighbor's text is what counts: an escape is the same neighbor.
	p.observe([]byte("k"), []byte(`{"profile_id":"p\u005f1"}`))
	p.observe([]byte("k"), []byte(`{"profile_id":"p_1"}`))
	if fs, _ := p.close(&Batch{}); fs[0].Observed != 2 {
		t.Errorf("escaped neighbor: %+v", fs)
	}
}

// TestDegreeSketchMatchesExact: the sketch path finds what the exact one
// does on a batch with a super-node and repeats, and says so.
func TestDegreeSketchMatchesExact(t *testing.T) {
	cfg := config.Detector{Name: "supernodes", Type: "degree", Neighbor: "profile_id", MaxRepeat: 3, MaxDegree: 100}
	degrees := ones(3000, 500, 150)
	repeats := []int{7, 5}
	exact := degreeBatch(newPipe(t, true, cfg), degrees, repeats)
	cfg.MaxKeys = 1000
	sk := degreeBatch(newPipe(t, true, cfg), degrees, repeats)
	if len(exact) != 2 || len(sk) != 2 {
		t.Fatalf("exact %+v\nsketch %+v", exact, sk)
	}
	for i := range exact {
		e, s := exact[i], sk[i]
		if e.Mode != "exact" || s.Mode != "sketch" || e.Metric != s.Metric || e.Verdict != s.Verdict ||
			math.Abs(e.Observed-s.Observed) > 0.05*e.Observed || !slices.Contains(s.Examples, e.Examples[0]) {
			t.Errorf("exact %+v\nsketch %+v", e, s)
		}
	}
	t.Logf("sketch: %s; %s", sk[0].Message, sk[1].Message)
}

func TestDegreeConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  config.Detector
		want string
	}{
		{config.Detector{MaxDegree: 5}, "neighbor is required"},
		{config.Detector{Neighbor: "p"}, "it checks nothing"},
		{config.Detector{Neighbor: "p", MaxShare: 0.1}, "it checks nothing"},
		{config.Detector{Neighbor: "p", MaxShare: 0.1, OverBaseline: &config.OverBaseline{Quantile: 0.9, Factor: 2}}, "max_share applies to max_degree and max_repeat"},
		{config.Detector{Neighbor: "p", OverBaseline: &config.OverBaseline{Quantile: 1, Factor: 2}}, "over_baseline needs"},
		{config.Detector{Neighbor: "p", OverBaseline: &config.OverBaseline{Quantile: 0.5, Factor: 0.5}}, "over_baseline needs"},
		{config.Detector{Neighbor: "p", MaxRepeat: -1}, "max_repeat"},
		{config.Detector{Neighbor: "p", MaxRepeat: 2, MaxShare: 2}, "max_share"},
		{config.Detector{Neighbor: "p", MaxRepeat: 2, OnFail: "pass"}, "on_fail"},
		{config.Detector{Neighbor: "p", MaxRepeat: 2, Warmup: "halt"}, "warmup"},
		{config.Detector{Neighbor: "p", MaxRepeat: 2, MaxKeys: -5}, "max_keys"},
	} {
		tc.cfg.Name, tc.cfg.Type = "d", "degree"
		_, err := New(tc.cfg, &Env{Binder: &Binder{}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// TestDegreeState: a detector restored from the state of batches 1..N
// judges N+1..M exactly as the one that ran on, across an epoch of the
// learned distribution, with super-nodes and repeats along the way.
func TestDegreeState(t *testing.T) {
	g := loadGraph(t)
	cfg := briefDegree()
	a := newPipe(t, false, cfg)
	feed := newGraphFeed(g, graphBatch, 4)
	rng := rand.New(rand.NewPCG(6, 6))
	const n, m = 450, 620 // the epoch turns at 500
	var b *pipe
	failed := 0
	for i := range m {
		if i == n {
			st, err := a.ds[0].AppendState(nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("state after %d batches of %d records: %d bytes", n, graphBatch, len(st))
			b = newPipe(t, false, cfg)
			if err := b.ds[0].UnmarshalState(st); err != nil {
				t.Fatal(err)
			}
			again, _ := b.ds[0].AppendState(nil)
			if !bytes.Equal(st, again) {
				t.Fatal("state does not round-trip")
			}
		}
		batch := feed.batch()
		switch i % 40 {
		case 7:
			repeatIncident(batch, 0.3, 4, rng)
		case 21:
			for j := range 45 { // a new hub over the baseline
				batch[j] = [2]int32{4000, int32(j)}
			}
		}
		a.observeGraph(g, batch)
		fa, _ := a.close(&Batch{})
		if b == nil {
			continue
		}
		b.observeGraph(g, batch)
		fb, v := b.close(&Batch{})
		if !reflect.DeepEqual(fa, fb) {
			t.Fatalf("batch %d: uninterrupted %+v\nrestored %+v", i, fa, fb)
		}
		if v != Pass {
			failed++
		}
	}
	if failed < 8 {
		t.Errorf("only %d batches failed after the restart: the test shows little", failed)
	}
}

func TestDegreeStateRejected(t *testing.T) {
	cfg := config.Detector{Name: "supernodes", Type: "degree", Neighbor: "profile_id",
		OverBaseline: &config.OverBaseline{Quantile: 0.5, Factor: 2}}
	p := newPipe(t, true, cfg)
	for range degreeMinBatches {
		degreeBatch(p, ones(100), nil)
	}
	st, _ := p.ds[0].AppendState(nil)
	other := cfg
	other.Neighbor = "company"
	q := newPipe(t, true, other)
	bad := map[string][]byte{
		"version":   append([]byte{9}, st[1:]...),
		"truncated": st[:len(st)-1],
		"trailing":  append(bytes.Clone(st), 0),
		"neighbor":  st, // for the detector over company
	}
	for name, b := range bad {
		d := p.ds[0]
		if name == "neighbor" {
			d = q.ds[0]
		}
		if err := d.UnmarshalState(st); name != "neighbor" && err != nil {
			t.Fatal(err)
		}
		if err := d.UnmarshalState(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if d.(*Degree).learned.batches() != 0 {
			t.Errorf("%s: a rejected state left a learned distribution", name)
		}
	}
}

func TestDegreeObserveAllocs(t *testing.T) {
	recs := simRecords(t)
	for _, tc := range []struct {
		name    string
		maxKeys int
		redact  bool
	}{{"exact", 0, true}, {"exact keys", 0, false}, {"sketch", 10, true}, {"sketch keys", 10, false}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := simDegree()
			cfg.MaxKeys = tc.maxKeys
			p := newPipe(t, tc.redact, cfg, simVariance())
			escaped := []byte(`{"profile_id":"p\u005f1","company":"A\u0063me","score":1}`)
			batch := func() {
				for _, r := range recs {
					p.observe(r.Key, r.Value)
				}
				p.observe([]byte("k"), escaped)
			}
			batch() // grow the tables, build the sketches
			p.close(&Batch{})
			i := 0
			if n := testing.AllocsPerRun(len(recs), func() {
				if i < len(recs) {
					p.observe(recs[i].Key, recs[i].Value)
				} else {
					p.observe([]byte("k"), escaped)
				}
				i++
			}); n != 0 {
				t.Errorf("extract and observe allocate %v times per record", n)
			}
			if d := p.ds[0].(*Degree); d.sketching != (tc.maxKeys > 0) {
				t.Errorf("sketching %v", d.sketching)
			}
		})
	}
}

// TestBytesHashDistinct: bytesHash tells apart every string of up to 16
// bytes over a small alphabet (the loads overlap, so length must count),
// and the longer strings that go to xxhash, and allocates nothing.
func TestBytesHashDistinct(t *testing.T) {
	seen := map[uint64]string{}
	add := func(s string) {
		h := bytesHash([]byte(s))
		if o, dup := seen[h]; dup {
			t.Fatalf("%q and %q hash alike", o, s)
		}
		seen[h] = s
	}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		add(prefix)
		if n == 0 {
			return
		}
		for _, c := range "ab" {
			gen(prefix+string(c), n-1)
		}
	}
	gen("", 16)
	for n := 17; n <= 40; n++ {
		for i := range n {
			b := bytes.Repeat([]byte{'x'}, n)
			b[i] = 'y'
			add(string(b))
		}
	}
	p := []byte("prf_40f7cf46ed2e")
	if n := testing.AllocsPerRun(100, func() { bytesHash(p) }); n != 0 {
		t.Errorf("bytesHash allocates %v times", n)
	}
}
