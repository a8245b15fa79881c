package loadgen

import "time"

// Share is one session's part of a benchmark that several sessions (fleet
// workers, one per host) run together, so that the union of their requests
// is the single-session run: the sessions share one seeded sample order and
// session Index of Of takes its positions Index, Index+Of, Index+2·Of, …
// (warmup first, as one session would). The rate or concurrency of each
// session is already its share (see the fleet package); Phase delays every
// intended time of a constant-rate session, so that the merged spacing of
// Of sessions at rate R/Of with phases k/R is 1/R.
type Share struct {
	Index int           `json:"index"`
	Of    int           `json:"of"`
	Phase time.Duration `json:"phase"`
}

// phase is the delay of every intended time (0 without a share).
func (s *Share) phase() int64 {
	if s == nil {
		return 0
	}
	return int64(s.Phase)
}

// share makes o yield only the positions of sh: it skips the first
// sh.Index positions and then yields every sh.Of-th one.
func (o *sampleOrder) share(sh *Share) *sampleOrder {
	if sh == nil || sh.Of <= 1 {
		return o
	}
	o.stride = sh.Of
	for range sh.Index {
		o.skip()
	}
	return o
}

// skip consumes one position of the global order (o.mu held, or o not yet
// shared).
func (o *sampleOrder) skip() {
	if o.pos == len(o.perm) {
		o.shuffle()
	}
	o.pos++
}

// Indices returns the dataset indices of the first count samples a session
// with share sh draws (over datasetLen samples, seeded by seed): what a
// fleet worker's job must carry when its run is bounded by a sample count.
func (sh *Share) Indices(datasetLen int, seed uint64, count int) []int {
	o := newSampleOrder(datasetLen, seed).share(sh)
	out := make([]int, count)
	for i := range out {
		out[i] = o.next()
	}
	return out
}
