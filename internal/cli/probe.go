package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/client"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/scrape"
)

func init() { extraCommands = append(extraCommands, (*app).probeCmd) }

func (a *app) probeCmd() *cobra.Command {
	cfg := client.DefaultConfig()
	cfg.Streaming = true
	var prompt string
	cmd := &cobra.Command{
		Use:   "probe --endpoint URL [--model M]",
		Short: "Check an endpoint: list its models, send one streamed request, report TTFT, usage support, its /metrics and any problem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runProbe(cmd.Context(), cfg, prompt)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Endpoint, "endpoint", "", "base URL of the server")
	f.StringVar(&cfg.Model, "model", "", "model to probe (default: the first one the server lists)")
	f.StringVar(&cfg.API, "api", cfg.API, "chat or completions")
	f.IntVar(&cfg.MaxTokens, "max-tokens", 32, "output tokens to request")
	f.StringVar(&cfg.APIKeyEnv, "api-key-env", "", "environment variable holding an API key")
	f.DurationVar(&cfg.TotalTimeout, "timeout", 60*time.Second, "request timeout")
	f.StringVar(&cfg.TLSCAFile, "tls-ca", "", "https: PEM bundle of the CA certificates to verify the server with (instead of the system's)")
	f.BoolVar(&cfg.InsecureSkipVerify, "insecure-skip-verify", false, "https: accept any server certificate (self-signed test servers)")
	f.StringVar(&prompt, "prompt", "Say hello in five words.", "prompt to send")
	return cmd
}

// probeObserver records when chunks arrive.
type probeObserver struct {
	first  int64
	chunks int
}

func (o *probeObserver) OnChunk(ts int64, first bool) {
	if first {
		o.first = ts
	}
	o.chunks++
}

func (a *app) runProbe(ctx context.Context, cfg client.Config, prompt string) error {
	if cfg.Endpoint == "" {
		return usagef("probe: --endpoint is required")
	}
	probeModel := cfg.Model
	if probeModel == "" {
		cfg.Model = "probe"
	}
	if err := cfg.Validate(); err != nil {
		return asUsage(fmt.Errorf("probe: %w", err))
	}
	c, err := client.New(cfg)
	if err != nil {
		return asUsage(fmt.Errorf("probe: %w", err))
	}
	defer c.Close()
	w := a.stdout
	mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	models, err := c.Models(mctx)
	cancel()
	if err != nil {
		fmt.Fprintf(w, "models:    FAILED: %v\n", err)
		var ce *client.Error
		if errors.As(err, &ce) && (ce.Class == client.ClassConnectRefused || ce.Class == client.ClassConnectTimeout) {
			return fmt.Errorf("probe: %s is not reachable: %v", cfg.Endpoint, err)
		}
	} else {
		fmt.Fprintf(w, "models:    %v\n", models)
	}
	probeMetrics(ctx, w, cfg.Endpoint)
	if probeModel == "" {
		if len(models) == 0 {
			return usagef("probe: the server lists no model; pass --model")
		}
		cfg.Model = models[0]
		c.Close()
		if c, err = client.New(cfg); err != nil {
			return err
		}
	}
	obs := &probeObserver{}
	start := event.Now()
	out, err := c.Do(ctx, &client.Request{Prompt: prompt, MaxTokens: cfg.MaxTokens}, obs)
	end := event.Now()
	fmt.Fprintf(w, "model:     %s (%s API)\n", cfg.Model, cfg.API)
	if err != nil {
		fmt.Fprintf(w, "request:   FAILED after %.1f ms: %v\n", float64(end-start)/1e6, err)
		return fmt.Errorf("probe: the streamed request failed: %w", err)
	}
	if obs.first > 0 {
		fmt.Fprintf(w, "TTFT:      %.1f ms\n", float64(obs.first-start)/1e6)
	} else {
		fmt.Fprintln(w, "TTFT:      no content chunk arrived")
	}
	fmt.Fprintf(w, "latency:   %.1f ms, %d content chunks, finish_reason %q\n", float64(end-start)/1e6, obs.chunks, out.FinishReason)
	if out.Usage != nil {
		fmt.Fprintf(w, "usage:     yes (prompt_tokens %d, completion_tokens %d)\n", out.Usage.PromptTokens, out.Usage.CompletionTokens)
	} else {
		fmt.Fprintln(w, "usage:     NO usage in the stream: token metrics need --tokenizer")
	}
	text := out.All()
	if r := []rune(text); len(r) > 80 {
		text = string(r[:80]) + "…"
	}
	fmt.Fprintf(w, "output:    %q\n", text)
	return nil
}

// serverMetricsNote says which /metrics endpoints the run scrapes.
func serverMetricsNote(w io.Writer, r *bench.Runner) {
	urls, kinds := r.ServerMetrics()
	if len(urls) == 0 {
		return
	}
	parts := make([]string, len(urls))
	for i, u := range urls {
		parts[i] = u
		if kinds[i] != "" {
			parts[i] += " (" + string(kinds[i]) + ")"
		}
	}
	fmt.Fprintf(w, "inferbench: server metrics from %s\n", strings.Join(parts, ", "))
}

// probeMetrics says whether the server exposes Prometheus metrics at its
// /metrics and which family they are (what a benchmark scrapes by default).
func probeMetrics(ctx context.Context, w io.Writer, endpoint string) {
	u, err := bench.MetricsURL(endpoint)
	if err != nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	kind, n, err := scrape.Probe(pctx, nil, u)
	if err != nil {
		fmt.Fprintf(w, "metrics:   no Prometheus metrics at %s (%v): no server view unless --server-metrics URL\n", u, err)
		return
	}
	fmt.Fprintf(w, "metrics:   %s: %s (%d families), scraped by benchmarks for the server view\n", u, kind, n)
}
