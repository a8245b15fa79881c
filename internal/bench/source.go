package bench

import (
	"context"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/loadgen"
)

// Source produces the event stream of a run: by default the load generator
// (a *loadgen.Session), or whatever [Runner.NewSource] returns, such as a
// fleet coordinator that publishes the merged events of its workers. The
// aggregator, the event log and the event forwarder read the stream the
// same way whichever produces it.
//
// Run publishes the whole session (session.started … session.ended) and
// returns when it has; cancelling ctx aborts (the second Ctrl-C). Stop is
// the graceful stop (the first Ctrl-C) and returns true the first time. A
// Source that also has a Notes() []string method adds those lines to the
// report's warnings.
type Source interface {
	Run(ctx context.Context) (loadgen.Result, error)
	Stop() bool
}

// source returns the run's event source, publishing on pub.
func (r *Runner) source(pub bus.Publisher[event.Record]) (Source, error) {
	if r.NewSource != nil {
		return r.NewSource(pub)
	}
	lc := LoadgenConfig(r.cfg.Load)
	lc.Arrivals = r.Arrivals
	s, err := loadgen.New(lc, r.ds, r.client, pub)
	if err != nil {
		return nil, err
	}
	s.OnComplete = r.OnComplete
	s.Sample = r.Samples
	return s, nil
}

// Config returns the run's configuration (with the model Preflight found).
func (r *Runner) Config() config.Run { return r.cfg }

// Dataset returns the run's dataset.
func (r *Runner) Dataset() *dataset.Dataset { return r.ds }
