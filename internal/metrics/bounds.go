package metrics

import "math"

// Confidence bounds of percentiles, from order statistics alone (no
// assumption on the distribution): the number of values at or below the
// true p-th percentile is Binomial(n, p/100), so a pair of ranks whose
// binomial probability mass between them is at least 95 % brackets the true
// percentile with that probability. Both computations need only ranks, which
// is why they sit next to the exact percentiles: the final snapshot selects
// the values at these ranks with the percentiles themselves.

// CIConfidence is the coverage of the percentile confidence intervals.
const CIConfidence = 0.95

// ESConfidence is the confidence of the early-stopping estimates (MLPerf
// LoadGen's, with tolerance 0).
const ESConfidence = 0.99

// CIRanks returns the 0-based ranks, in n sorted values, of a two-sided
// confidence interval of coverage conf for the p-th percentile (p in
// 0..100): P(X[lo] ≤ ξp ≤ X[hi]) ≥ conf. A side that n values cannot
// support (too few samples for that tail) is -1.
func CIRanks(n int64, p, conf float64) (lo, hi int64) {
	lo, hi = -1, -1
	if n <= 0 || !(p >= 0 && p <= 100) {
		return
	}
	q := p / 100
	tail := (1 - conf) / 2
	// j is the least k with P(B ≤ k) > tail; the (j)-th order statistic
	// (1-based) is at or below ξp with probability ≥ 1 − tail.
	j := firstCDFAbove(n, q, tail, false)
	if j >= 1 && j <= n {
		lo = j - 1
	}
	// u is the least k with P(B ≤ k) ≥ 1 − tail: X[u] (0-based) is at or
	// above ξp with probability ≥ 1 − tail.
	u := firstCDFAbove(n, q, 1-tail, true)
	if u < n {
		hi = u
	}
	return lo, hi
}

// firstCDFAbove returns the least k in [0, n] with P(B ≤ k) > t (or ≥ t when
// orEqual), B ~ Binomial(n, q); P(B ≤ n) = 1.
func firstCDFAbove(n int64, q, t float64, orEqual bool) int64 {
	above := func(k int64) bool {
		f := binomCDF(n, q, k)
		if orEqual {
			return f >= t
		}
		return f > t
	}
	lo, hi := int64(0), n
	for lo < hi {
		mid := lo + (hi-lo)/2
		if above(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// binomCDF is P(B ≤ k) for B ~ Binomial(n, q).
func binomCDF(n int64, q float64, k int64) float64 {
	switch {
	case k < 0:
		return 0
	case k >= n:
		return 1
	case q <= 0:
		return 1
	case q >= 1:
		return 0
	}
	return regIncBeta(float64(n-k), float64(k+1), 1-q)
}

// regIncBeta is the regularized incomplete beta function I_x(a, b), from its
// continued fraction (modified Lentz), evaluated on the side of the symmetry
// I_x(a, b) = 1 − I_{1−x}(b, a) where it converges fast.
func regIncBeta(a, b, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(lab - la - lb + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaFraction(a, b, x) / a
	}
	return 1 - front*betaFraction(b, a, 1-x)/b
}

// betaFraction evaluates the continued fraction of I_x(a, b): terms
// d(2m) = m(b−m)x / ((a+2m−1)(a+2m)) and d(2m+1) = −(a+m)(a+b+m)x /
// ((a+2m)(a+2m+1)).
func betaFraction(a, b, x float64) float64 {
	const tiny = 1e-300
	const eps = 1e-15
	// The number of terms grows like √max(a, b) near the mean.
	maxIter := 200 + int(4*math.Sqrt(math.Max(a, b)))
	guard := func(v float64) float64 {
		if math.Abs(v) < tiny {
			return tiny
		}
		return v
	}
	c := 1.0
	d := 1 / guard(1-(a+b)*x/(a+1))
	f := d
	for m := 1; m <= maxIter; m++ {
		fm := float64(m)
		for _, num := range [2]float64{
			fm * (b - fm) * x / ((a + 2*fm - 1) * (a + 2*fm)),
			-(a + fm) * (a + b + fm) * x / ((a + 2*fm) * (a + 2*fm + 1)),
		} {
			d = 1 / guard(1+num*d)
			c = guard(1 + num/c)
			f *= c * d
		}
		if math.Abs(c*d-1) < eps {
			break
		}
	}
	return f
}

// esOdds is the probability of at most t values above the p-th percentile
// (p = q as a fraction) among h + t: I_q(h, t+1).
func esOdds(h, t int64, q float64) float64 {
	return regIncBeta(float64(h), float64(t+1), q)
}

// esMinPassing is the least h ≥ 1 such that at most t values above the
// percentile among h + t happen with probability ≤ 1 − conf.
func esMinPassing(t int64, q, conf float64) int64 {
	target := 1 - conf
	hi := int64(2)
	for esOdds(hi, t, q) > target {
		hi *= 2
	}
	lo := int64(1)
	for lo < hi {
		mid := lo + (hi-lo)/2
		if esOdds(mid, t, q) <= target {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// ESMinSamples is the fewest values for which [ESRank] gives an estimate
// of the p-th percentile (662 for p99 at confidence 0.99).
func ESMinSamples(p, conf float64) int64 {
	return esMinPassing(1, p/100, conf) + 1
}

// ESRank returns the 0-based rank of MLPerf LoadGen's early-stopping estimate
// of the p-th percentile among n sorted values (tolerance 0): n − t, where t
// is the largest count of top values such that n ≥ h(t) + t, h(t) being the
// fewest values below the percentile that make t values above it unlikely at
// confidence conf. It is a conf-level upper bound of the percentile; -1 when
// n is below [ESMinSamples] or p is outside (0, 100).
func ESRank(n int64, p, conf float64) int64 {
	if !(p > 0 && p < 100) || n <= 0 {
		return -1
	}
	q := p / 100
	fits := func(t int64) bool { return esMinPassing(t, q, conf)+t <= n }
	if !fits(1) {
		return -1
	}
	lo, hi := int64(1), int64(2)
	for hi <= n && fits(hi) {
		lo, hi = hi, hi*2
	}
	for lo < hi-1 {
		mid := lo + (hi-lo)/2
		if fits(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return n - lo
}
