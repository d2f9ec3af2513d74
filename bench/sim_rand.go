package bench

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// prng is the simulator's random source. Only the PCG stream comes from the
// standard library; every derived value (floats, ranges, normals) is computed
// here, so the feed's bytes cannot change with a Go release.
type prng struct{ pcg rand.PCG }

// Streams keep the universe, each batch and each incident independent, so
// an incident never changes the batches after it.
const (
	streamUniverse = 1
	streamBatch    = 2
	streamIncident = 3
)

func newPRNG(seed uint64, stream, index uint64) *prng {
	a := splitmix(seed ^ splitmix(stream))
	b := splitmix(a ^ splitmix(index+0x9e3779b97f4a7c15))
	return &prng{pcg: *rand.NewPCG(a, b)}
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func (r *prng) uint64() uint64 { return r.pcg.Uint64() }

// intn returns a value in [0, n); n <= 0 gives 0. Lemire's multiply keeps
// the bias below 2^-32 for the sizes used here, which is fine for a feed.
func (r *prng) intn(n int) int {
	if n <= 0 {
		return 0
	}
	hi, _ := bits.Mul64(r.uint64(), uint64(n))
	return int(hi)
}

// float returns a value in [0, 1).
func (r *prng) float() float64 { return float64(r.uint64()>>11) / (1 << 53) }

// chance reports true with probability p.
func (r *prng) chance(p float64) bool { return r.float() < p }

// normal returns a standard normal value (Box-Muller).
func (r *prng) normal() float64 {
	u := 1 - r.float() // (0, 1]: Log is finite
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*r.float())
}

// poisson draws a Poisson count: exactly for small means, by the normal
// approximation above 30, where the two are indistinguishable for a feed.
func (r *prng) poisson(mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean < 30 {
		limit, p, n := math.Exp(-mean), 1.0, 0
		for {
			p *= r.float()
			if p <= limit {
				return n
			}
			n++
		}
	}
	n := math.Round(mean + math.Sqrt(mean)*r.normal())
	if n < 0 {
		return 0
	}
	return int(n)
}

// perm returns a random permutation of [0, n) (Fisher-Yates).
func (r *prng) perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// pick returns k distinct indices of [0, n) in random order (partial
// Fisher-Yates); k is clamped to n.
func (r *prng) pick(n, k int) []int {
	k = min(max(k, 0), n)
	p := r.perm(n)
	return p[:k]
}
