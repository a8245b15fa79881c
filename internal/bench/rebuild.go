package bench

import (
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/eventlog"
)

// RebuildOptions are the options of [eventlog.RebuildWith] for a run of cfg:
// its goodput rule, so that a snapshot rebuilt from requests.jsonl counts
// the good samples the aggregator counted. Errors name the key.
func RebuildOptions(cfg *config.Run) (eventlog.RebuildOptions, error) {
	spec, err := VerdictSpec(cfg)
	if err != nil {
		return eventlog.RebuildOptions{}, err
	}
	var o eventlog.RebuildOptions
	if g := spec.Goodput; g != nil {
		o.Goodput = &eventlog.GoodputBounds{TTFT: int64(g.TTFT), Latency: int64(g.Latency), TPOT: g.TPOT}
	}
	return o, nil
}
