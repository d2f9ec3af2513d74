package detectors

import (
	"bytes"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/bench"
	"github.com/sluicehq/sluice/config"
)

func newSim(t testing.TB, cfg bench.Config) *bench.Sim {
	t.Helper()
	s, err := bench.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSimulatorDegreeVariance runs the simulated vendor feed (Poisson
// volumes with a daily rhythm, hubs, resends, an hourly batch) through
// both detectors at the simulator settings, as one feed: 288 warm-up
// batches (12 days: min_history 12 for each hour of the day), then 1,005
// clean batches and 7 incidents, each caught in its batch by the detector
// meant for it, and no clean batch failed. A third detector, in shadow,
// shows what the brief's degree settings would do on this feed.
func TestSimulatorDegreeVariance(t *testing.T) {
	const warmup, total = 288, 1300
	incidents := map[int]struct {
		inc      bench.Incident
		detector string
		metric   string
	}{
		400:  {bench.Incident{Kind: bench.Spike}, "volume", "count"},
		500:  {bench.Incident{Kind: bench.Drop}, "volume", "count"},
		600:  {bench.Incident{Kind: bench.Nulls}, "volume", "null_rate(company)"},
		700:  {bench.Incident{Kind: bench.Shift, Factor: 4}, "", "mean(score)"}, // see TestVarianceShiftPower
		800:  {bench.Incident{Kind: bench.Shift, Factor: 8}, "volume", "mean(score)"},
		900:  {bench.Incident{Kind: bench.Repeat}, "supernodes", "max_repeat"},
		1000: {bench.Incident{Kind: bench.Supernode}, "supernodes", "over_baseline"},
	}
	var schedule []bench.Incident
	for i, c := range incidents {
		c.inc.Batch = i
		schedule = append(schedule, c.inc)
	}
	sim := newSim(t, bench.Config{Seed: 1, Schedule: schedule})
	brief := briefDegree()
	brief.Name, brief.Shadow = "brief", true
	p := newPipe(t, true, simDegree(), simVariance(), brief)
	vd := p.ds[1].(*Variance)
	maxZ := map[string]float64{}
	var clean, falseAlarms, briefWould int
	briefWhy := map[string]int{}
	for i := range total {
		b := sim.Next()
		p.observeSim(&b)
		fs, v := p.close(simBatch(&b))
		if c, ok := incidents[i]; ok {
			var z string
			for _, s := range vd.scores {
				z += fmt.Sprintf(" %s %.1f", s.m.name, s.z)
			}
			t.Logf("batch %d (%02dh) %s: %s; supernodes %s; volume %s; z:%s", i, b.Time.Hour(), c.inc.Kind, v,
				findingOf(fs, "supernodes").Message, findingOf(fs, "volume").Message, z)
			if c.detector == "" {
				continue
			}
			if f := findingOf(fs, c.detector); f.Verdict != Quarantine || f.Metric != c.metric {
				t.Errorf("batch %d, %s: %s gave %+v", i, c.inc.Kind, c.detector, f)
			}
			continue
		}
		if i >= warmup {
			clean++
			for _, s := range vd.scores {
				maxZ[s.m.name] = max(maxZ[s.m.name], math.Abs(s.z))
			}
		}
		for _, name := range []string{"supernodes", "volume"} {
			if verdictOf(fs, name) != Pass {
				falseAlarms++
				t.Errorf("clean batch %d: %+v", i, fs)
			}
		}
		if f := findingOf(fs, "brief"); strings.HasPrefix(f.Message, "would") {
			briefWould++
			briefWhy[f.Metric]++
		}
	}
	t.Logf("%d clean batches after warm-up: %d false alarms; max |z| by metric: %v", clean, falseAlarms, maxZ)
	t.Logf("the brief's degree settings (max_degree 50, max_share 0.001) would quarantine %d clean batches: %v", briefWould, briefWhy)
	if clean < 1000 {
		t.Errorf("only %d clean batches judged", clean)
	}
	if briefWould == 0 {
		t.Error("the brief's settings pass every clean batch: the README's warning about them is wrong")
	}
}

// TestVarianceShiftPower measures how often a shift of mean(score) by k
// standard errors of the batch mean is caught in its batch, at max_z 6.
// The batch's own noise is ±1 standard error and the robust scale comes
// out a little above the standard error (it is the larger of 1.4826·MAD
// of 48 batch means and the batch's own standard error), so a 4σ shift
// scores z ≈ 3.5 ± 1 and is rarely caught: below what one batch can show
// at a max_z that keeps clean batches clean. 10σ is caught nearly always.
func TestVarianceShiftPower(t *testing.T) {
	cfg := simVariance()
	cfg.Seasonality = "" // a flat feed
	sim := newSim(t, bench.Config{Seed: 2, Flat: true})
	p := newPipe(t, true, cfg)
	d := p.ds[0].(*Variance)
	factors := []float64{0, 4, 6, 8, 10}
	caught := map[float64]int{}
	tries := map[float64]int{}
	zs := map[float64][]float64{}
	for i := range 770 {
		factor := 0.0
		if i >= 20 {
			factor = factors[i%len(factors)]
		}
		if factor != 0 {
			if err := sim.Inject(bench.Incident{Kind: bench.Shift, Factor: factor}); err != nil {
				t.Fatal(err)
			}
		}
		b := sim.Next()
		p.observeSim(&b)
		fs := d.Judge(nil, simBatch(&b))
		v := worstOf(fs)
		if factor != 0 {
			// Measure every shift against the same clean baseline: a
			// shift that passed would otherwise teach it.
			d.Learn(Quarantine)
		} else {
			d.Learn(v)
		}
		d.Reset()
		switch {
		case factor != 0:
			tries[factor]++
			if v == Quarantine && fs[0].Metric == "mean(score)" {
				caught[factor]++
			}
			zs[factor] = append(zs[factor], d.scoreOf("mean(score)").z)
		case v != Pass:
			t.Errorf("clean batch %d: %+v", i, fs)
		}
	}
	for _, f := range factors[1:] {
		z := zs[f]
		slices.Sort(z)
		t.Logf("%2.0fσ shift: caught in %3d of %d batches; z median %.2f, 10%%–90%% %.2f–%.2f",
			f, caught[f], tries[f], z[len(z)/2], z[len(z)/10], z[len(z)*9/10])
	}
	if caught[10] < tries[10]*95/100 {
		t.Errorf("a 10σ shift was caught in %d of %d batches", caught[10], tries[10])
	}
	if med := zs[4][len(zs[4])/2]; med < 2.5 || med > 4.5 {
		t.Errorf("a 4σ shift scores a median z of %.2f", med)
	}
}

// scoreOf returns the last judged score of metric name.
func (d *Variance) scoreOf(name string) varScore {
	for _, s := range d.scores {
		if s.m.name == name {
			return s
		}
	}
	return varScore{}
}

// TestVarianceEWMA: the ewma baseline on a flat feed: clean batches pass,
// a spike and a null burst are caught.
func TestVarianceEWMA(t *testing.T) {
	cfg := simVariance()
	cfg.Seasonality = ""
	cfg.Baseline = &config.Baseline{Method: "ewma", Alpha: 0.05, Window: 48, MinHistory: 12}
	sim := newSim(t, bench.Config{Seed: 3, Flat: true, Schedule: []bench.Incident{
		{Kind: bench.Spike, Batch: 150, Factor: 1.5}, {Kind: bench.Nulls, Batch: 200, Share: 0.05},
	}})
	p := newPipe(t, true, cfg)
	for i := range 250 {
		b := sim.Next()
		p.observeSim(&b)
		fs, v := p.close(simBatch(&b))
		switch {
		case len(b.Incidents) > 0:
			t.Logf("batch %d %s: %s", i, b.Incidents[0].Kind, fs[0].Message)
			if v != Quarantine || fs[0].Mode != "ewma" {
				t.Errorf("batch %d %s: %+v", i, b.Incidents[0].Kind, fs)
			}
		case v != Pass:
			t.Errorf("clean batch %d: %+v", i, fs)
		}
	}
}

// varBatch feeds a batch of JSON records (key, value) and judges it.
func varBatch(p *pipe, b *Batch, recs ...string) ([]Finding, Verdict) {
	for _, r := range recs {
		k, v, _ := strings.Cut(r, " ")
		p.observe([]byte(k), []byte(v))
	}
	return p.close(b)
}

// repeatRec returns n copies of r.
func repeatRec(r string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = r
	}
	return out
}

func TestVarianceMetrics(t *testing.T) {
	cfg := config.Detector{Name: "v", Type: "variance", MaxZ: 6,
		Metrics: []string{"count", "distinct_keys", "mean_degree(p)", "null_rate(p)", "mean(x)", "duplicate_rate"}}
	p := newPipe(t, true, cfg)
	d := p.ds[0].(*Variance)
	for _, r := range []string{
		`a {"p":"1","x":1}`,
		`a {"p":"1","x":1}`, // a duplicate
		`a {"p":"2","x":"7"}`,
		`b {"p":"1","x":4}`,
		`b {"p":null,"x":4}`,
		`c {"x":null}`,
		`c {"p":"\u0031","x":7}`,  // the same text as "1"
		`a {"p":"1","x":1,"y":2}`, // y is not read: a duplicate
	} {
		k, v, _ := strings.Cut(r, " ")
		p.observe([]byte(k), []byte(v))
	}
	want := map[string]float64{
		"count": 8, "distinct_keys": 3, "mean_degree(p)": 4.0 / 3, "null_rate(p)": 2.0 / 8,
		"mean(x)": (1 + 1 + 4 + 4 + 7 + 1) / 6.0, "duplicate_rate": 2.0 / 8,
	}
	for i := range d.metrics {
		got, ok := d.value(&d.metrics[i])
		if w := want[d.metrics[i].name]; !ok || math.Abs(got-w) > 1e-12 {
			t.Errorf("%s = %v, %v; want %v", d.metrics[i].name, got, ok, w)
		}
	}
	fs, _ := p.close(&Batch{})
	if f := fs[0]; f.Verdict != Pass || f.Mode != "warmup" || f.Message != "warming up: no baseline yet (0 of 12 batches)" {
		t.Errorf("first batch: %+v", f)
	}
	// An empty batch defines only count and distinct_keys (0 both).
	d.judge(nil, &Batch{})
	for i := range d.metrics {
		if _, ok := d.value(&d.metrics[i]); ok != (d.metrics[i].name == "count" || d.metrics[i].name == "distinct_keys") {
			t.Errorf("empty batch: %s defined %v", d.metrics[i].name, ok)
		}
	}
}

// TestVarianceFloor: a history of no nulls at all (MAD 0) is not a scale of
// 0: one stray null passes, a burst fails.
func TestVarianceFloor(t *testing.T) {
	cfg := config.Detector{Name: "v", Type: "variance", MaxZ: 6, Metrics: []string{"null_rate(p)"},
		Baseline: &config.Baseline{Window: 10, MinHistory: 5, Method: "robust"}}
	p := newPipe(t, true, cfg)
	ok := repeatRec(`k {"p":1}`, 1000)
	for range 5 {
		varBatch(p, &Batch{}, ok...)
	}
	one := append(slices.Clone(ok[1:]), `k {"p":null}`)
	if fs, v := varBatch(p, &Batch{}, one...); v != Pass || math.Abs(fs[0].Observed-1) > 0.01 {
		t.Errorf("one null in 1000: %+v", fs)
	}
	burst := append(slices.Clone(ok[10:]), repeatRec(`k {"p":null}`, 10)...)
	fs, v := varBatch(p, &Batch{}, burst...)
	if v != Quarantine || fs[0].Metric != "null_rate(p)" || math.Abs(fs[0].Observed-10) > 0.1 {
		t.Errorf("10 nulls in 1000: %+v", fs)
	}
	t.Log(fs[0].Message)
}

func TestVarianceMaxChange(t *testing.T) {
	cfg := config.Detector{Name: "v", Type: "variance", MaxChange: 0.5, Metrics: []string{"count"},
		Baseline: &config.Baseline{Window: 10, MinHistory: 3, Method: "robust"}}
	p := newPipe(t, true, cfg)
	for _, n := range []int{100, 110, 90} {
		varBatch(p, &Batch{}, repeatRec(`k {}`, n)...)
	}
	if fs, v := varBatch(p, &Batch{}, repeatRec(`k {}`, 140)...); v != Pass || fs[0].Observed != 0.4 || fs[0].Threshold != 0.5 {
		t.Errorf("+40%%: %+v", fs)
	}
	// The +40% batch passed, so it is learned: the median is now 105.
	fs, v := varBatch(p, &Batch{}, repeatRec(`k {}`, 40)...)
	if v != Quarantine || fs[0].Observed != (40-105)/105.0 {
		t.Errorf("-60%%: %+v", fs)
	}
	t.Log(fs[0].Message)
	// Both limits: either fails the batch; the finding reports the one
	// that failed.
	cfg.MaxZ = 100
	p = newPipe(t, true, cfg)
	for _, n := range []int{100, 110, 90} {
		varBatch(p, &Batch{}, repeatRec(`k {}`, n)...)
	}
	if fs, v := varBatch(p, &Batch{}, repeatRec(`k {}`, 200)...); v != Quarantine || fs[0].Observed != 1 || fs[0].Threshold != 0.5 {
		t.Errorf("+100%%, z under 100: %+v", fs)
	}
}

// TestVarianceWarmup: before min_history a metric judges provisionally
// from 2 batches on, its failures taking the warmup verdict; before that
// it does not judge.
func TestVarianceWarmup(t *testing.T) {
	for _, warmup := range []string{"pass", "warn", "quarantine"} {
		cfg := config.Detector{Name: "v", Type: "variance", MaxZ: 6, Metrics: []string{"count"}, Warmup: warmup,
			Baseline: &config.Baseline{Window: 10, MinHistory: 5, Method: "robust"}}
		p := newPipe(t, true, cfg)
		varBatch(p, &Batch{}, repeatRec(`k {}`, 100)...)
		if fs, v := varBatch(p, &Batch{}, repeatRec(`k {}`, 1000)...); v != Pass || fs[0].Mode != "warmup" {
			t.Errorf("%s, 1 batch learned: %+v", warmup, fs) // learned, with warmup pass or warn
		}
		p = newPipe(t, true, cfg)
		varBatch(p, &Batch{}, repeatRec(`k {}`, 100)...)
		varBatch(p, &Batch{}, repeatRec(`k {}`, 104)...)
		fs, v := varBatch(p, &Batch{}, repeatRec(`k {}`, 1000)...)
		want, _ := ParseVerdict(warmup)
		if v != want || fs[0].Mode != "warmup" || !strings.Contains(fs[0].Message, "warming up (2 of 5 batches)") {
			t.Errorf("%s, 2 batches learned: %+v", warmup, fs)
		}
		t.Log(fs[0].Message)
	}
}

func TestVarianceShadow(t *testing.T) {
	cfg := config.Detector{Name: "v", Type: "variance", MaxZ: 6, Metrics: []string{"count"}, Shadow: true,
		Baseline: &config.Baseline{Window: 10, MinHistory: 2, Method: "robust"}}
	p := newPipe(t, true, cfg)
	varBatch(p, &Batch{}, repeatRec(`k {}`, 100)...)
	varBatch(p, &Batch{}, repeatRec(`k {}`, 100)...)
	if fs, v := varBatch(p, &Batch{}, repeatRec(`k {}`, 1000)...); v != Pass || fs[0].Mode != "shadow" || !strings.HasPrefix(fs[0].Message, "would quarantine: ") {
		t.Errorf("%+v", fs)
	}
}

func TestVarianceConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  config.Detector
		want string
	}{
		{config.Detector{Metrics: []string{"count"}}, "set max_z, max_change or both"},
		{config.Detector{MaxZ: 3}, "no metrics"},
		{config.Detector{MaxZ: 3, Metrics: []string{"volume"}}, "unknown metric"},
		{config.Detector{MaxZ: 3, Metrics: []string{"count", "count"}}, "listed twice"},
		{config.Detector{MaxZ: -1, Metrics: []string{"count"}}, "must be > 0"},
		{config.Detector{MaxZ: 3, Metrics: []string{"count"}, Seasonality: "day"}, "seasonality"},
		{config.Detector{MaxZ: 3, Metrics: []string{"count"}, Baseline: &config.Baseline{Window: 1}}, "window"},
		{config.Detector{MaxZ: 3, Metrics: []string{"count"}, Baseline: &config.Baseline{Window: 10, MinHistory: 11}}, "min_history"},
		{config.Detector{MaxZ: 3, Metrics: []string{"count"}, Baseline: &config.Baseline{Method: "mean"}}, "method"},
		{config.Detector{MaxZ: 3, Metrics: []string{"count"}, Baseline: &config.Baseline{Alpha: 2}}, "alpha"},
		{config.Detector{MaxZ: 3, Metrics: []string{"count"}, OnFail: "pass"}, "on_fail"},
	} {
		tc.cfg.Name, tc.cfg.Type = "v", "variance"
		_, err := New(tc.cfg, &Env{Binder: &Binder{}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

// TestVarianceState: detectors restored from the state of batches 1..N
// judge N+1..M exactly as the ones that ran on; robust with seasonality
// (with degree alongside), and ewma.
func TestVarianceState(t *testing.T) {
	seasonal := simVariance()
	ewma := simVariance()
	ewma.Seasonality = ""
	ewma.Baseline = &config.Baseline{Method: "ewma", Alpha: 0.1, Window: 48, MinHistory: 12}
	for _, tc := range []struct {
		name    string
		cfgs    []config.Detector
		sim     bench.Config
		n, m    int
		failing int // batches that must fail after the restart
	}{
		{"robust hourly", []config.Detector{simDegree(), seasonal}, bench.Config{Seed: 4, Schedule: []bench.Incident{
			{Kind: bench.Spike, Batch: 340}, {Kind: bench.Nulls, Batch: 350}, {Kind: bench.Repeat, Batch: 360}, {Kind: bench.Supernode, Batch: 370},
		}}, 330, 380, 4},
		{"ewma", []config.Detector{ewma}, bench.Config{Seed: 5, Flat: true, Schedule: []bench.Incident{
			{Kind: bench.Drop, Batch: 60}, {Kind: bench.Nulls, Batch: 70},
		}}, 50, 80, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim := newSim(t, tc.sim)
			a := newPipe(t, true, tc.cfgs...)
			var b *pipe
			failing := 0
			for i := range tc.m {
				if i == tc.n {
					b = newPipe(t, true, tc.cfgs...)
					for j, d := range a.ds {
						st, err := d.AppendState(nil)
						if err != nil {
							t.Fatal(err)
						}
						t.Logf("%s state after %d batches: %d bytes", d.Type(), tc.n, len(st))
						if err := b.ds[j].UnmarshalState(st); err != nil {
							t.Fatal(err)
						}
						if again, _ := b.ds[j].AppendState(nil); !bytes.Equal(st, again) {
							t.Fatalf("%s state does not round-trip", d.Type())
						}
					}
				}
				batch := sim.Next()
				a.observeSim(&batch)
				fa, _ := a.close(simBatch(&batch))
				if b == nil {
					continue
				}
				b.observeSim(&batch)
				fb, v := b.close(simBatch(&batch))
				if !reflect.DeepEqual(fa, fb) {
					t.Fatalf("batch %d: uninterrupted %+v\nrestored %+v", i, fa, fb)
				}
				if v != Pass {
					failing++
				}
			}
			if failing < tc.failing {
				t.Errorf("%d batches failed after the restart, want %d", failing, tc.failing)
			}
		})
	}
}

// TestVarianceStateSize reports the state at the defaults once every
// history is full: the brief's four metrics, robust, window 48.
func TestVarianceStateSize(t *testing.T) {
	cfg := config.Detector{Name: "v", Type: "variance", MaxZ: 6,
		Metrics: []string{"count", "distinct_keys", "mean_degree(profile_id)", "null_rate(company)"}}
	for _, season := range []string{"", "hour"} {
		cfg.Seasonality = season
		d := newPipe(t, true, cfg).ds[0].(*Variance)
		for s := range d.hist {
			for m := range d.hist[s] {
				for range 60 {
					d.hist[s][m].add(1234.5, d.method, d.alpha)
				}
			}
		}
		st, _ := d.AppendState(nil)
		t.Logf("seasonality %q: %d bytes", season, len(st))
		if want := 9 + len(d.hist)*4*(1+48*4); len(st) != want {
			t.Errorf("seasonality %q: %d bytes, want %d", season, len(st), want)
		}
	}
}

func TestVarianceStateRejected(t *testing.T) {
	cfg := config.Detector{Name: "v", Type: "variance", MaxZ: 6, Metrics: []string{"count"},
		Baseline: &config.Baseline{Window: 10, MinHistory: 2, Method: "robust"}}
	p := newPipe(t, true, cfg)
	for range 3 {
		varBatch(p, &Batch{}, repeatRec(`k {}`, 100)...)
	}
	d := p.ds[0]
	st, _ := d.AppendState(nil)
	other := cfg
	other.Metrics = []string{"count", "distinct_keys"}
	q := newPipe(t, true, other).ds[0]
	nan := bytes.Clone(st)
	copy(nan[len(nan)-4:], []byte{0, 0, 0xc0, 0x7f})
	for name, b := range map[string][]byte{
		"version": append([]byte{9}, st[1:]...), "truncated": st[:len(st)-1], "trailing": append(bytes.Clone(st), 0),
		"nan": nan, "metrics": st,
	} {
		d := d
		if name == "metrics" {
			d = q
		} else if err := d.UnmarshalState(st); err != nil {
			t.Fatal(err)
		}
		if err := d.UnmarshalState(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
		if fs := d.Judge(nil, &Batch{}); fs[0].Mode != "warmup" {
			t.Errorf("%s: a rejected state left a baseline: %+v", name, fs)
		}
		d.Reset()
	}
}
