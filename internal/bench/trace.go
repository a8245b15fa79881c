package bench

import (
	"fmt"
	"strconv"
	"time"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/trace"
)

// Replay is what a trace replay sends: one sample per recorded request in
// replay order (set Dataset, Arrivals and Sample on the [Runner]), its
// prompt built by a [trace.Feed] when due. Close it after the run.
type Replay struct {
	Dataset  *dataset.Dataset
	Arrivals []time.Duration
	Trace    *trace.Trace
	// Words is how many distinct words the synthesized prompts use.
	Words int
	feed  *trace.Feed
}

// Sample returns sample i with its prompt (for [Runner.Samples]).
func (r *Replay) Sample(i int) dataset.Sample { return r.feed.Sample(i) }

// Close stops building prompts.
func (r *Replay) Close() { r.feed.Close() }

// LoadTrace reads dataset.trace and prepares its replay: prompts exact in
// tokens when tok is given (a sample of them is counted here, before the
// run), their block texts seeded by load.seed.
func LoadTrace(cfg *config.Run, tok aggregator.TokenCounter) (*Replay, error) {
	tc := cfg.Dataset.Trace
	if tc == nil {
		return nil, fmt.Errorf("dataset.trace: none configured")
	}
	tr, err := trace.Load(tc.Path, trace.Options{Format: tc.Format, Start: tc.Start, Limit: tc.Limit})
	if err != nil {
		return nil, err
	}
	syn, err := trace.NewSynthesizer(trace.SynthOptions{Tokenizer: tok, Seed: cfg.Load.Seed, BlockSize: tc.BlockSize})
	if err != nil {
		return nil, err
	}
	if err := syn.Check(tr); err != nil {
		return nil, err
	}
	ds := syn.Samples(tr)
	feed := syn.Feed(tr, ds, 0)
	// The replay starts with its first prompts built (a trace of moderate
	// size: all of them), so that building them cannot make it late.
	feed.Wait()
	return &Replay{Dataset: ds, Arrivals: tr.Arrivals(tc.Speedup), Trace: tr, Words: syn.Words(), feed: feed}, nil
}

// datasetFile is the file the run's prompts come from ("" for synthetic ones).
func datasetFile(cfg *config.Run) string {
	switch {
	case cfg.Dataset.Synthetic != nil:
		return ""
	case cfg.Dataset.Trace != nil:
		return cfg.Dataset.Trace.Path
	}
	return cfg.Dataset.Path
}

// traceLabel names a replayed trace in the report's header.
func traceLabel(t *config.Trace) string {
	s := "trace " + t.Path
	if t.Speedup > 0 && t.Speedup != 1 {
		s += " at " + strconv.FormatFloat(t.Speedup, 'g', -1, 64) + "x"
	}
	return s
}
