package cli

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/trace"
)

// replayHelp is the long help of benchmark replay.
const replayHelp = `Trace formats (--trace-format; by default told from the file):
  mooncake  JSONL: {"timestamp": MS, "input_length": N, "output_length": N, "hash_ids": [ID, ...]}
            hash_ids name the prompt's 512-token blocks (--trace-block-size); requests naming
            the same block send the same text for it, so the server sees the trace's prefix sharing.
  azure     CSV with a header: TIMESTAMP (e.g. 2023-11-16 18:15:46.6805900), ContextTokens,
            GeneratedTokens (names matched case-insensitively; other columns ignored).
  jsonl     JSONL: {"timestamp": MS, "prompt": "..." (or "messages": [...]), "max_tokens": N}
            timestamps in milliseconds, like mooncake; the prompt is sent as written.
Each request is issued at its recorded time minus the first replayed request's, divided by
--trace-speedup; lateness is measured against those times. Rows out of timestamp order are
sorted (a warning names the first) and replayed in time order. --trace-start skips by recorded
time; --trace-limit stops reading a trace in time order once it has enough requests.
Prompts are synthesized to the recorded input length: exactly in tokens with --tokenizer, else
one word per token (exact for the common BPE vocabularies). max_tokens is the recorded output
length (a recorded 0: --max-tokens); add --extra-body '{"ignore_eos": true}' so that servers generate all of it. The text
depends on --seed: change it to defeat a prefix cache warmed by an earlier run.

`

// modeHelp is the part of a benchmark subcommand's long help that only it has.
func modeHelp(m loadgen.Mode) string {
	if m == loadgen.ModeReplay {
		return replayHelp
	}
	return ""
}

// traceFlags defines the flags of a replay, bound to c's trace section.
func traceFlags(fs *pflag.FlagSet, c *config.Run) {
	ensure := func() *config.Trace {
		if c.Dataset.Trace == nil {
			c.Dataset.Trace = &config.Trace{}
		}
		return c.Dataset.Trace
	}
	get := func(f func(t *config.Trace) string) func() string {
		return func() string {
			if c.Dataset.Trace == nil {
				return ""
			}
			return f(c.Dataset.Trace)
		}
	}
	fs.Var(funcValue{kind: "file",
		set: func(s string) error {
			// The trace brings the prompts: a file's dataset gives way.
			ensure().Path, c.Dataset.Path, c.Dataset.Synthetic = s, "", nil
			return nil
		},
		get: get(func(t *config.Trace) string { return t.Path }),
	}, "trace", "the trace to replay (mooncake or plain JSONL, or an Azure CSV)")
	fs.Var(funcValue{kind: "string",
		set: func(s string) error {
			switch s {
			case trace.FormatMooncake, trace.FormatAzure, trace.FormatJSONL:
				ensure().Format = s
				return nil
			}
			return errors.New("want mooncake, azure or jsonl")
		},
		get: get(func(t *config.Trace) string { return t.Format }),
	}, "trace-format", "trace format: mooncake, azure or jsonl (default: told from the file)")
	fs.Var(funcValue{kind: "float",
		set: func(s string) error {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || !(x > 0) || x > 1e6 || math.IsInf(x, 0) {
				return errors.New("want a factor > 0 (2 replays twice as fast)")
			}
			ensure().Speedup = x
			return nil
		},
		get: get(func(t *config.Trace) string { return strconv.FormatFloat(t.Speedup, 'g', -1, 64) }),
	}, "trace-speedup", "divide the recorded times by this factor (default 1)")
	fs.Var(funcValue{kind: "int",
		set: func(s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return errors.New("want a count >= 0 (0: all)")
			}
			ensure().Limit = n
			return nil
		},
		get: get(func(t *config.Trace) string { return strconv.Itoa(t.Limit) }),
	}, "trace-limit", "replay at most this many requests (default: all)")
	fs.Var(funcValue{kind: "duration",
		set: func(s string) error {
			d, err := time.ParseDuration(s)
			if err != nil || d < 0 {
				return errors.New("want a duration >= 0, e.g. 10m")
			}
			ensure().Start = d
			return nil
		},
		get: get(func(t *config.Trace) string { return t.Start.String() }),
	}, "trace-start", "skip the requests recorded within this long of the trace's first")
	fs.Var(funcValue{kind: "int",
		set: func(s string) error {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > trace.MaxTokens {
				return fmt.Errorf("want 1 to %d tokens", trace.MaxTokens)
			}
			ensure().BlockSize = n
			return nil
		},
		get: get(func(t *config.Trace) string { return strconv.Itoa(t.BlockSize) }),
	}, "trace-block-size", "tokens per hash_id block of a mooncake trace (default 512)")
}

// loadWorkload loads the run's samples: the dataset, the synthetic prompts,
// or a replayed trace (then also returned; Close it after the run). A
// trace's prompts are synthesized with tok, so that they are exact in its
// tokens.
func (a *app) loadWorkload(cfg *config.Run, tok aggregator.TokenCounter) (*dataset.Dataset, *bench.Replay, error) {
	if cfg.Dataset.Trace == nil {
		ds, err := bench.LoadDatasetCounted(cfg.Dataset, tok)
		return ds, nil, err
	}
	rp, err := bench.LoadTrace(cfg, tok)
	if err != nil {
		return nil, nil, err
	}
	tr := rp.Trace
	if tr.Reordered > 0 {
		fmt.Fprintf(a.stderr, "inferbench: warning: trace %s line %d: recorded before a row above it (%d rows out of order): replaying in timestamp order\n",
			tr.Path, tr.FirstReordered, tr.Reordered)
	}
	speed := cfg.Dataset.Trace.Speedup
	if speed == 0 {
		speed = 1
	}
	fmt.Fprintf(a.stderr, "inferbench: replaying %d requests of %s (%s) over %v (recorded %v, speed-up %g)\n",
		len(tr.Requests), tr.Path, tr.Format, rp.Arrivals[len(rp.Arrivals)-1].Round(time.Millisecond), tr.Span().Round(time.Millisecond), speed)
	return rp.Dataset, rp, nil
}
