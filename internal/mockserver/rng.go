package mockserver

import "math"

// rng is a small splitmix64 generator. Each request gets its own, seeded from
// (Config.Seed, request sequence number), so draws are deterministic for a
// seed and request order without a lock shared by all requests.
type rng struct{ s uint64 }

func newRNG(seed, seq uint64) rng {
	r := rng{s: seed ^ (seq+1)*0x9e3779b97f4a7c15}
	r.next() // decorrelate neighbouring sequence numbers
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float64 returns a value in [0, 1).
func (r *rng) float64() float64 { return float64(r.next()>>11) / (1 << 53) }

// uint64n returns a value in [0, n); n > 0. The modulo bias is negligible
// for the small n used here.
func (r *rng) uint64n(n uint64) uint64 { return r.next() % n }

// norm returns a standard normal value (Box-Muller).
func (r *rng) norm() float64 {
	u := 1 - r.float64() // (0, 1]: log is finite
	v := r.float64()
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*v)
}
