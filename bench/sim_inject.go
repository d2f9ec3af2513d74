package bench

import (
	"math"
)

// repeatWrongShare is the share of repeats that link the email to a wrong
// profile, as in the original incident's false updates.
const repeatWrongShare = 0.2

// apply runs a row-level incident on the batch and records its effect.
func (w *batchWork) apply(r *prng, inc *Injected) {
	switch inc.Kind {
	case Repeat:
		inc.Records = w.repeat(r, inc.Share, inc.Factor)
	case Supernode:
		inc.Records, inc.Key = w.supernode(r, inc.Factor)
	case Wrong:
		inc.Records = w.wrong(r, inc.Share, inc.Field)
	case Nulls:
		inc.Records = w.mark(r, inc.Share, func(row *feedRow) { row.nulls |= 1 << fieldIndex(inc.Field) })
	case Rename:
		f := fieldIndex(inc.Field)
		w.enc.rename(f, inc.To)
		inc.Records = w.mark(r, inc.Share, func(row *feedRow) { row.renamed |= 1 << f })
	case Shift:
		inc.Records, inc.Delta = w.shift(inc.Factor)
	}
}

// shareOf returns how many of n records a share is, rounded.
func shareOf(s float64, n int) int { return min(n, int(math.Round(s*float64(n)))) }

// repeat replaces a share of the records with copies of the connections
// left: each of those is sent about fold times in all, a fifth of the
// copies pointing at a wrong profile. With the defaults (0.8, 5) every email
// left in the batch is repeated, as in the vendor incident.
func (w *batchWork) repeat(r *prng, s, fold float64) int {
	n := len(w.rows)
	k := min(shareOf(s, n), n-1) // keep a connection to repeat
	if k <= 0 {
		return 0
	}
	order := r.perm(n)
	replaced, kept := order[:k], order[k:]
	sources := min(len(kept), int(math.Ceil(float64(k)/(fold-1))))
	for j, pos := range replaced {
		row := w.rows[kept[j%sources]]
		row.changed = w.t - int64(r.intn(int(w.s.stepSec))) // a false update, not a resend
		if r.chance(repeatWrongShare) {
			p := w.otherProfile(r, row.profile)
			row.profile, row.company = p, w.s.u.profiles[p].company
		}
		w.rows[pos] = row
	}
	return k
}

// otherProfile is a random profile other than p.
func (w *batchWork) otherProfile(r *prng, p int32) int32 {
	n := len(w.s.u.profiles)
	return int32((int(p) + 1 + r.intn(n-1)) % n)
}

// supernode links one ordinary email to factor × the batch's largest
// degree distinct profiles, replacing records at random places.
func (w *batchWork) supernode(r *prng, factor float64) (int, string) {
	u := w.s.u
	deg := int(math.Ceil(factor * float64(w.maxDegree())))
	deg = min(max(deg, 2), len(u.profiles)/2)
	e := int32(r.intn(len(u.emails)))
	if len(u.singles) > 0 {
		e = u.singles[r.intn(len(u.singles))]
	}
	seen := map[int32]bool{}
	for p := range u.emails[e].n {
		seen[u.emails[e].first+p] = true
	}
	pos := r.perm(len(w.rows))
	for j := range deg {
		p := int32(r.intn(len(u.profiles)))
		for seen[p] {
			p = int32(r.intn(len(u.profiles)))
		}
		seen[p] = true
		row := w.row(r, p)
		row.email = e
		if j < len(pos) {
			w.rows[pos[j]] = row
		} else {
			w.rows = append(w.rows, row)
		}
	}
	return deg, u.emails[e].addr
}

// maxDegree is the most distinct profiles any email has in the batch.
func (w *batchWork) maxDegree() int {
	pairs := make(map[[2]int32]struct{}, len(w.rows))
	deg := make(map[int32]int)
	best := 1
	for _, row := range w.rows {
		k := [2]int32{row.email, row.profile}
		if _, ok := pairs[k]; ok {
			continue
		}
		pairs[k] = struct{}{}
		deg[row.email]++
		best = max(best, deg[row.email])
	}
	return best
}

// wrong corrupts a share of the records the truth covers and still match
// it, so a reference check sees that share wrong. field picks profile_id
// or company; empty mixes both and either.
func (w *batchWork) wrong(r *prng, s float64, field string) int {
	u := w.s.u
	var ok []int
	for j, row := range w.rows {
		e := &u.emails[row.email]
		if e.kind == emailSingle && row.profile == e.first && row.company == u.profiles[e.first].company {
			ok = append(ok, j)
		}
	}
	picked := r.pick(len(ok), shareOf(s, len(ok)))
	for _, i := range picked {
		row := &w.rows[ok[i]]
		mode := r.intn(3) // 0 profile, 1 company, 2 both
		switch field {
		case "profile_id":
			mode = 0
		case "company":
			mode = 1
		}
		if mode != 1 {
			row.profile = w.otherProfile(r, row.profile)
		}
		if mode != 0 {
			n := len(u.companies)
			row.company = int32((int(row.company) + 1 + r.intn(n-1)) % n)
		}
	}
	return len(picked)
}

// mark applies fn to a share of the records chosen at random.
func (w *batchWork) mark(r *prng, s float64, fn func(*feedRow)) int {
	picked := r.pick(len(w.rows), shareOf(s, len(w.rows)))
	for _, j := range picked {
		fn(&w.rows[j])
	}
	return len(picked)
}

// shift moves every score by sigmas standard errors of the batch mean
// (sd/√n, measured on the batch), the unit a variance detector's z-score of
// the mean is in.
func (w *batchWork) shift(sigmas float64) (int, float64) {
	var n, sum, sq float64
	for _, row := range w.rows {
		if row.nulls&(1<<fScore) == 0 {
			n++
			sum += row.score
			sq += row.score * row.score
		}
	}
	if n < 2 {
		return 0, 0
	}
	mean := sum / n
	sd := math.Sqrt(max(0, (sq-n*mean*mean)/(n-1)))
	delta := sigmas * sd / math.Sqrt(n)
	for j := range w.rows {
		if w.rows[j].nulls&(1<<fScore) == 0 {
			w.rows[j].score = math.Round((w.rows[j].score+delta)*100) / 100
		}
	}
	return int(n), delta
}

// Bodies a broken vendor endpoint sends instead of records. None holds a
// newline, so JSON lines stay one record a line.
const gatewayError = `<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>`

// malform replaces a share of the encoded records (at least one) with
// truncated JSON, an HTML error page or binary junk, in turn.
func malform(r *prng, recs []Record, inc *Injected) {
	picked := r.pick(len(recs), max(1, shareOf(inc.Share, len(recs))))
	for i, j := range picked {
		v := recs[j].Value
		switch i % 3 {
		case 0: // cut before the closing brace: never valid
			cut := 1 + r.intn(len(v)-1)
			recs[j].Value = v[:cut:cut]
		case 1:
			recs[j].Value = []byte(gatewayError)
		default:
			junk := make([]byte, 16+r.intn(48))
			junk[0] = 0xff // no JSON starts with it
			for b := 1; b < len(junk); b++ {
				junk[b] = byte(r.intn(256))
				if junk[b] == '\n' || junk[b] == '\r' {
					junk[b] = 0xfe
				}
			}
			recs[j].Value = junk
		}
	}
	inc.Records = len(picked)
}
