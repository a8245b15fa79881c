package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/mockserver"
)

func init() { extraCommands = append(extraCommands, (*app).serveCmd) }

type serveOpts struct {
	addr       string
	configFile string
	cfg        mockserver.Config
	oracle     string
	promptKey  string
	answerKey  string
	outputDist string
}

func (a *app) serveCmd() *cobra.Command {
	var o serveOpts
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a mock OpenAI-compatible API with controllable timing and faults (for demos, tests and tool overhead)",
		Long: `serve answers /v1/chat/completions, /v1/completions, /v1/models and /health like an
inference server: streamed (SSE, with a usage chunk when asked) or not, after --ttft, one
token every --tpot, --output-tokens long (capped by max_tokens), and injects faults at the
given rates. GET /metrics exports its own state under vLLM's metric names (requests
running and waiting, token counters, TTFT and latency histograms). It stops on SIGINT/SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runServe(cmd, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8000", "listen address")
	f.StringVarP(&o.configFile, "config", "c", "", "YAML file with the server settings (flags override it)")
	serverFlags(f, &o.cfg)
	f.StringVar(&o.outputDist, "output-dist", "", "output length distribution: uniform:MIN:MAX or normal:MEAN:STDDEV")
	f.StringVar(&o.oracle, "oracle", "", "JSONL file of prompts and answers, for --mode oracle")
	f.StringVar(&o.promptKey, "oracle-prompt-key", "prompt", "oracle file: prompt field")
	f.StringVar(&o.answerKey, "oracle-answer-key", "expected", "oracle file: answer field")
	return cmd
}

// serverFlags defines the flags that map to mockserver.Config fields. It is
// called twice: on the command, and on a scratch set bound to the config
// read from --config, so that the given flags can be replayed over the file.
func serverFlags(f *pflag.FlagSet, c *mockserver.Config) {
	f.StringVar(&c.Model, "model", mockserver.DefaultModel, "model name")
	f.StringVar(&c.Mode, "mode", mockserver.ModeSynthetic, "answers: synthetic, echo (the prompt) or oracle (--oracle file)")
	f.DurationVar(&c.TTFT, "ttft", 0, "time to first token")
	f.DurationVar(&c.TPOT, "tpot", 0, "time per output token after the first")
	f.Float64Var(&c.Jitter, "jitter", 0, "relative jitter of every delay, in [0, 1)")
	f.Float64Var(&c.SlowRate, "slow-rate", 0, "share of requests, in [0, 1], whose time to first token is --slow-ttft (a bimodal TTFT)")
	f.DurationVar(&c.SlowTTFT, "slow-ttft", 0, "time to first token of a slow request (see --slow-rate)")
	f.IntVar(&c.MaxConcurrent, "max-concurrent-requests", 0, "generate at most N requests at once; the others wait in a FIFO queue (0 = no limit)")
	f.IntVar(&c.OutputTokens, "output-tokens", 0, "output length in tokens (default: the request's max_tokens)")
	f.IntVar(&c.ReasoningTokens, "reasoning-tokens", 0, "stream this many reasoning tokens before the content (chat)")
	f.IntVar(&c.TokensPerChunk, "tokens-per-chunk", mockserver.DefaultTokensPerChunk, "tokens per streamed chunk")
	f.Uint64Var(&c.Seed, "seed", 1, "seed of faults, lengths and jitter")
	f.Float64Var(&c.Faults.HTTP429, "fault-429", 0, "rate of HTTP 429 answers")
	f.Float64Var(&c.Faults.HTTP500, "fault-500", 0, "rate of HTTP 500 answers")
	f.Float64Var(&c.Faults.Reset, "fault-reset", 0, "rate of connection resets")
	f.Float64Var(&c.Faults.Truncate, "fault-truncate", 0, "rate of truncated responses (no finish, no [DONE])")
	f.Float64Var(&c.Faults.Malformed, "fault-malformed", 0, "rate of malformed chunks")
	f.Float64Var(&c.Faults.Stall, "fault-stall", 0, "rate of stalled responses")
	f.BoolVar(&c.CheckHistory, "check-history", false, "verify multi-turn histories: every assistant message must be the reply sent for the messages before it, complete before the request arrived (violations are printed at exit)")
}

func (a *app) runServe(cmd *cobra.Command, o serveOpts) error {
	// The flags' defaults, then the file over them, then the given flags.
	var cfg mockserver.Config
	scratch := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	serverFlags(scratch, &cfg)
	if o.configFile != "" {
		data, err := os.ReadFile(o.configFile)
		if err != nil {
			return usagef("serve: --config: %v", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil {
			return usagef("serve: --config %s: %v", o.configFile, config.OneLine(err))
		}
	}
	if err := replayFlags(cmd.Flags(), scratch); err != nil {
		return asUsage(fmt.Errorf("serve: %w", err))
	}
	if o.outputDist != "" {
		d, err := parseOutputDist(o.outputDist)
		if err != nil {
			return usagef("serve: --output-dist %q: %v", o.outputDist, err)
		}
		cfg.OutputDist = d
	}
	if o.oracle != "" {
		m, err := mockserver.LoadOracle(o.oracle, o.promptKey, o.answerKey)
		if err != nil {
			return asUsage(fmt.Errorf("serve: --oracle: %w", err))
		}
		cfg.Oracle = m
		if cfg.Mode == "" || cfg.Mode == mockserver.ModeSynthetic {
			cfg.Mode = mockserver.ModeOracle
		}
	}
	srv, err := mockserver.New(cfg)
	if err != nil {
		return asUsage(fmt.Errorf("serve: %w", err))
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return asUsage(fmt.Errorf("serve: --addr %s: %w", o.addr, err))
	}
	fmt.Fprintf(a.stderr, "inferbench serve: listening on http://%s (model %q, mode %s)\n", ln.Addr(), modelName(cfg.Model), modeName(cfg.Mode))
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := srv.Serve(ctx, ln); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	st := srv.Stats()
	fmt.Fprintf(a.stderr, "inferbench serve: served %d requests (%d faults injected)\n", st.Requests, st.TotalFaults())
	if h, ok := srv.History(); ok {
		fmt.Fprintf(a.stderr, "inferbench serve: history check: %d chat requests, %d assistant messages verified, %d violations\n",
			h.Requests, h.Messages, h.Violations)
		for _, ex := range h.Examples {
			fmt.Fprintf(a.stderr, "inferbench serve: history violation: %s\n", ex)
		}
	}
	return nil
}

// parseOutputDist reads the same length grammar as --input-len/--output-len.
func parseOutputDist(s string) (mockserver.OutputDist, error) {
	d, err := dataset.ParseDist(s)
	if err != nil {
		return mockserver.OutputDist{}, err
	}
	switch d.Kind {
	case dataset.DistUniform:
		return mockserver.OutputDist{Kind: mockserver.DistUniform, Min: d.Min, Max: d.Max}, nil
	case dataset.DistNormal:
		return mockserver.OutputDist{Kind: mockserver.DistNormal, Mean: d.Mean, Stddev: d.StdDev, Min: max(d.Min, 1), Max: d.Max}, nil
	}
	return mockserver.OutputDist{Kind: mockserver.DistFixed, Mean: float64(d.Value)}, nil
}

func modelName(m string) string {
	if m == "" {
		return mockserver.DefaultModel
	}
	return m
}

func modeName(m string) string {
	if m == "" {
		return mockserver.ModeSynthetic
	}
	return m
}
