package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// The universe is the vendor's whole data set: companies, emails and the
// profiles connected to them. A batch is a sample of profile updates, so an
// email shows up in proportion to its number of profiles and a shared inbox
// is a natural high-degree key.
type universe struct {
	companies []simCompany
	emails    []simEmail
	profiles  []simProfile
	// singles are the indices of emails with exactly one profile: the only
	// ones with a well-defined truth.
	singles []int32
	maxHub  int // largest hub degree
}

type simCompany struct{ name, domain, country string }

type emailKind uint8

const (
	emailSingle emailKind = iota // one profile: the normal case
	emailMulti                   // a handful of profiles (a personal address)
	emailHub                     // a shared inbox with many profiles
)

type simEmail struct {
	addr  string
	first int32 // its profiles are profiles[first : first+n]
	n     int32
	kind  emailKind
}

type simProfile struct {
	id      string
	email   int32
	company int32
	title   int16
}

// Shares of the universe; they set how heavy the degree tail is.
const (
	multiShare = 0.03 // emails with 2..5 profiles
	hubAlpha   = 1.5  // Pareto tail of hub degrees
	hubSpread  = 10   // the largest hub is at most this many times the smallest
)

var personalDomains = []string{"gmail.com", "outlook.com", "proton.me", "yahoo.com", "icloud.com"}

func newUniverse(seed uint64, emails, hubs int) *universe {
	r := newPRNG(seed, streamUniverse, 0)
	u := &universe{}
	u.genCompanies(r, max(20, emails/25))

	taken := make(map[string]struct{}, emails)
	multis := int(math.Round(multiShare * float64(emails-hubs)))
	hubMin := max(8, emails/200)
	// Kinds in random order, so hubs and singles interleave in the truth.
	kinds := make([]emailKind, emails)
	for i := range kinds {
		switch {
		case i < hubs:
			kinds[i] = emailHub
		case i < hubs+multis:
			kinds[i] = emailMulti
		}
	}
	for i := len(kinds) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		kinds[i], kinds[j] = kinds[j], kinds[i]
	}
	for _, k := range kinds {
		switch k {
		case emailHub:
			c := r.intn(len(u.companies))
			d := int(float64(hubMin) / math.Pow(1-r.float(), 1/hubAlpha))
			d = min(d, hubMin*hubSpread)
			u.maxHub = max(u.maxHub, d)
			role := simRoles[r.intn(len(simRoles))]
			u.addEmail(r, unique(taken, role, u.companies[c].domain), k, d, func() int { return c })
		case emailMulti:
			local := localPart(r)
			dom := personalDomains[r.intn(len(personalDomains))]
			u.addEmail(r, unique(taken, local, dom), k, 2+r.intn(4), func() int { return r.intn(len(u.companies)) })
		default:
			c := u.skewedCompany(r)
			u.singles = append(u.singles, int32(len(u.emails)))
			u.addEmail(r, unique(taken, localPart(r), u.companies[c].domain), k, 1, func() int { return c })
		}
	}
	return u
}

func (u *universe) genCompanies(r *prng, n int) {
	combos := len(simCompanyHeads) * len(simCompanyTails)
	order := r.perm(combos)
	u.companies = make([]simCompany, n)
	for i := range u.companies {
		o := order[i%combos]
		name := simCompanyHeads[o%len(simCompanyHeads)] + " " + simCompanyTails[o/len(simCompanyHeads)]
		if round := i / combos; round > 0 {
			name += " " + strconv.Itoa(round+1)
		}
		u.companies[i] = simCompany{
			name:    name,
			domain:  strings.ReplaceAll(strings.ToLower(name), " ", "-") + ".com",
			country: simCountries[r.intn(len(simCountries))],
		}
	}
}

// skewedCompany favours low indices, so a few companies employ many.
func (u *universe) skewedCompany(r *prng) int {
	f := r.float()
	return int(f * f * float64(len(u.companies)))
}

func (u *universe) addEmail(r *prng, addr string, k emailKind, n int, company func() int) {
	e := int32(len(u.emails))
	u.emails = append(u.emails, simEmail{addr: addr, first: int32(len(u.profiles)), n: int32(n), kind: k})
	for range n {
		p := len(u.profiles)
		u.profiles = append(u.profiles, simProfile{
			id:      profileID(uint64(p)),
			email:   e,
			company: int32(company()),
			title:   int16(r.intn(len(simTitles))),
		})
	}
}

// profileID is a bijection of the index on 48 bits, so ids look random and
// never collide.
func profileID(i uint64) string {
	const mask = 1<<48 - 1
	x := (i*0x5851f42d4c95 + 0x2545f4914f6c) & mask
	x ^= x >> 24
	x = (x * 0x9e3779b97f4b) & mask // odd multiplier: bijective mod 2^48
	x ^= x >> 17
	s := strconv.FormatUint(x, 16)
	return "prf_" + strings.Repeat("0", 12-len(s)) + s
}

func localPart(r *prng) string {
	f := simFirstNames[r.intn(len(simFirstNames))]
	l := simLastNames[r.intn(len(simLastNames))]
	switch r.intn(4) {
	case 0:
		return f + "." + l
	case 1:
		return f[:1] + "." + l
	case 2:
		return f + l
	default:
		return f + "_" + l
	}
}

// unique returns local@domain, numbered when the address is taken.
func unique(taken map[string]struct{}, local, domain string) string {
	addr := local + "@" + domain
	for n := 2; ; n++ {
		if _, ok := taken[addr]; !ok {
			taken[addr] = struct{}{}
			return addr
		}
		addr = local + strconv.Itoa(n) + "@" + domain
	}
}

// Truth is the reference answer for one email: the profile it belongs to
// and that profile's company.
type Truth struct {
	Email     string `json:"email"`
	ProfileID string `json:"profile_id"`
	Company   string `json:"company"`
}

// Truth returns the ground truth, one entry per email with exactly one
// profile. Shared emails (hubs and the few personal addresses with several
// profiles) have no single right answer and are left out, so a reference
// check should skip keys it does not find (accuracy detector: missing:
// skip); a clean feed is then 100% accurate, with about 85% of its records
// checked at the default sizes.
func (s *Sim) Truth() []Truth {
	u := s.u
	out := make([]Truth, len(u.singles))
	for i, e := range u.singles {
		p := &u.profiles[u.emails[e].first]
		out[i] = Truth{Email: u.emails[e].addr, ProfileID: p.id, Company: u.companies[p.company].name}
	}
	return out
}

// WriteTruth writes Truth as JSON lines.
func (s *Sim) WriteTruth(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, t := range s.Truth() {
		if err := enc.Encode(t); err != nil {
			return fmt.Errorf("cannot write truth: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("cannot write truth: %w", err)
	}
	return nil
}
