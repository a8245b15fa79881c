package fleet

import (
	"fmt"
	"time"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
)

// A trace replay on a fleet: the coordinator reads the trace and
// synthesizes every prompt once, in replay order, as a single-host replay
// would (so requests sharing hash_ids send the same bytes whichever worker
// issues them); each worker's job carries the requests it issues (at their
// dataset indices, the others left empty, as for any count-bounded run)
// and the whole list of issue times. Worker i issues requests i, i+n, … of
// the replay order, each at its trace time from the coordinated start of
// the tracked phase (loadgen's Share on a replay, Session.TrackStart), so
// the merged run is the trace once, on the coordinator's one timeline.
// A worker needs nothing on disk; the cost is that the coordinator holds
// the replayed prompts in memory while it sends the jobs.

// Replay is what a trace replay adds to a fleet run (see bench.Replay).
type Replay struct {
	// Arrivals are the issue times, one per dataset sample, from the start
	// of the tracked phase.
	Arrivals []time.Duration
	// Sample builds sample i with its prompt (nil: the dataset's own).
	Sample func(i int) dataset.Sample
}

// ReplaySource is [Coordinator.Source] for a trace replay: ds holds the
// replay's samples in replay order (cfg's mode is replay) and rp their
// issue times and prompts.
func (c *Coordinator) ReplaySource(cfg config.Run, ds *dataset.Dataset, rp Replay, pub bus.Publisher[event.Record]) (*Run, error) {
	if len(rp.Arrivals) != ds.Len() {
		return nil, fmt.Errorf("fleet: replay: %d issue times for %d samples", len(rp.Arrivals), ds.Len())
	}
	r, err := c.Source(cfg, ds, pub)
	if err != nil {
		return nil, err
	}
	r.replay = &rp
	for i := range r.parts {
		r.parts[i].Load.Arrivals = rp.Arrivals
	}
	return r, nil
}

// replaySlices is the samples of each worker's job: the replay positions
// its share issues (all of them when a time limit bounds the run, else its
// first NumSamples) and the warmup draws of its sample order, each prompt
// built once, in replay order.
func (r *Run) replaySlices() [][]dataset.Sample {
	size := len(r.ds.Samples)
	n := len(r.parts)
	// owners[p] lists the workers whose job carries sample p.
	owners := make([][]int, size)
	for w, part := range r.parts {
		l := part.Load
		if part.Idle {
			continue
		}
		count := size
		if l.NumSamples > 0 && l.Duration == 0 && l.MinDuration == 0 {
			count = l.NumSamples
		}
		for k, p := 0, w; k < count && p < size; k, p = k+1, p+n {
			owners[p] = append(owners[p], w)
		}
		if l.WarmupSamples > 0 {
			for _, p := range l.Share.Indices(size, l.SampleSeed, l.WarmupSamples) {
				if o := owners[p]; len(o) == 0 || o[len(o)-1] != w {
					owners[p] = append(owners[p], w)
				}
			}
		}
	}
	out := make([][]dataset.Sample, n)
	for w := range out {
		out[w] = make([]dataset.Sample, size)
	}
	for p, ws := range owners {
		if len(ws) == 0 {
			continue
		}
		smp := r.ds.Samples[p]
		if r.replay.Sample != nil {
			smp = r.replay.Sample(p)
		}
		for _, w := range ws {
			out[w][p] = smp
		}
	}
	return out
}
