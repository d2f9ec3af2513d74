package detectors

import "math"

// zScore is the two-sided standard normal quantile of confidence: 2.576
// for 0.99.
func zScore(confidence float64) float64 {
	return math.Sqrt2 * math.Erfinv(confidence)
}

// wilson is the Wilson score interval of correct successes in n trials.
// Unlike the normal approximation it stays inside [0, 1] and keeps close to
// its nominal coverage near 0 and 1, where accuracies live. With no trials
// it is [0, 1]: nothing is known.
func wilson(correct, n uint64, z float64) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(correct) / nf
	z2 := z * z
	d := 1 + z2/nf
	center := (p + z2/(2*nf)) / d
	half := z / d * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return max(0, center-half), min(1, center+half)
}

// lookConfidence is the confidence of the k-th look (k ≥ 1) at a run of
// sequential evidence: 1 − α/(k(k+1)) with α = 1 − confidence. The
// α/(k(k+1)) sum to α, so the chance that any look of a run decides wrongly
// stays within α however long the run (a union bound: peeking after every
// batch at the full confidence would not).
func lookConfidence(confidence float64, k uint32) float64 {
	kf := float64(k)
	return 1 - (1-confidence)/(kf*(kf+1))
}
