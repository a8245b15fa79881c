package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/promexport"
	"github.com/inferbench/inferbench/internal/tui"
)

func init() { extraCommands = append(extraCommands, (*app).benchmarkCmd) }

// benchFlags are the flag values before they are applied over the config.
type benchFlags struct {
	cfg        config.Run // only the fields flags write
	configFile string
	streaming  string
	synthetic  int
	inputLen   string
	outputLen  string
	arrival    string
	noTUI      bool
	temp       float64
	extraBody  string
	headers    []string
}

// flagBinding copies one given flag into the configuration.
type flagBinding struct {
	name  string
	apply func(dst *config.Run, f *benchFlags) error
}

func (a *app) benchmarkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "benchmark",
		Short: "Benchmark an endpoint: offline (max throughput), online (Poisson or constant rate) or concurrency (closed loop)",
	}
	for _, mode := range []struct {
		use, short string
		mode       loadgen.Mode
	}{
		{"offline", "Issue every request as fast as the in-flight bound allows", loadgen.ModeOffline},
		{"online", "Issue requests at --target-qps (Poisson arrivals, or --arrival constant)", loadgen.ModePoisson},
		{"concurrency", "Keep --concurrency requests in flight (closed loop)", loadgen.ModeConcurrency},
	} {
		var bf benchFlags
		bf.cfg = config.Default()
		sub := &cobra.Command{
			Use:   mode.use,
			Short: mode.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				cfg, err := a.resolveBenchConfig(cmd.Flags(), &bf, mode.mode)
				if err != nil {
					return err
				}
				return a.runBenchmark(cmd.Context(), cfg)
			},
		}
		bindBenchFlags(sub.Flags(), &bf)
		cmd.AddCommand(sub)
	}
	return cmd
}

// benchBindings lists, for every flag, how it lands in the configuration; a
// flag only overrides the file when it was given.
var benchBindings = []flagBinding{
	{"endpoint", func(d *config.Run, f *benchFlags) error { d.Endpoint.Endpoint = f.cfg.Endpoint.Endpoint; return nil }},
	{"model", func(d *config.Run, f *benchFlags) error { d.Endpoint.Model = f.cfg.Endpoint.Model; return nil }},
	{"api", func(d *config.Run, f *benchFlags) error { d.Endpoint.API = f.cfg.Endpoint.API; return nil }},
	{"max-tokens", func(d *config.Run, f *benchFlags) error {
		d.Endpoint.MaxTokens, d.Load.MaxTokens = f.cfg.Endpoint.MaxTokens, f.cfg.Endpoint.MaxTokens
		return nil
	}},
	{"max-connections", func(d *config.Run, f *benchFlags) error {
		d.Endpoint.MaxConnections = f.cfg.Endpoint.MaxConnections
		return nil
	}},
	{"temperature", func(d *config.Run, f *benchFlags) error {
		t := f.temp
		d.Endpoint.Temperature = &t
		return nil
	}},
	{"extra-body", func(d *config.Run, f *benchFlags) error {
		var m map[string]any
		if err := json.Unmarshal([]byte(f.extraBody), &m); err != nil {
			return fmt.Errorf("--extra-body %q: want a JSON object: %v", f.extraBody, err)
		}
		if d.Endpoint.ExtraBody == nil {
			d.Endpoint.ExtraBody = map[string]any{}
		}
		for k, v := range m {
			d.Endpoint.ExtraBody[k] = v
		}
		return nil
	}},
	{"header", func(d *config.Run, f *benchFlags) error {
		if d.Endpoint.Headers == nil {
			d.Endpoint.Headers = map[string]string{}
		}
		for _, h := range f.headers {
			k, v, ok := strings.Cut(h, ":")
			if !ok || strings.TrimSpace(k) == "" {
				return fmt.Errorf("--header %q: want NAME:VALUE", h)
			}
			d.Endpoint.Headers[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		return nil
	}},
	{"api-key-env", func(d *config.Run, f *benchFlags) error { d.Endpoint.APIKeyEnv = f.cfg.Endpoint.APIKeyEnv; return nil }},
	{"timeout", func(d *config.Run, f *benchFlags) error {
		d.Endpoint.TotalTimeout = f.cfg.Endpoint.TotalTimeout
		return nil
	}},
	{"streaming", func(d *config.Run, f *benchFlags) error {
		switch f.streaming {
		case "on", "true":
			d.Endpoint.Streaming = true
		case "off", "false":
			d.Endpoint.Streaming = false
		default:
			return fmt.Errorf("--streaming %q: want on or off", f.streaming)
		}
		return nil
	}},
	{"dataset", func(d *config.Run, f *benchFlags) error {
		d.Dataset.Path, d.Dataset.Synthetic = f.cfg.Dataset.Path, nil
		return nil
	}},
	{"dataset-format", func(d *config.Run, f *benchFlags) error {
		d.Dataset.Options.Format = f.cfg.Dataset.Options.Format
		return nil
	}},
	{"prompt-column", func(d *config.Run, f *benchFlags) error {
		d.Dataset.Options.PromptColumn = f.cfg.Dataset.Options.PromptColumn
		return nil
	}},
	{"synthetic", func(d *config.Run, f *benchFlags) error {
		in, err := dataset.ParseDist(f.inputLen)
		if err != nil {
			return fmt.Errorf("--input-len %q: %w", f.inputLen, err)
		}
		out, err := dataset.ParseDist(f.outputLen)
		if err != nil {
			return fmt.Errorf("--output-len %q: %w", f.outputLen, err)
		}
		d.Dataset.Path = ""
		d.Dataset.Synthetic = &dataset.SyntheticConfig{N: f.synthetic, Input: in, Output: out, Seed: loadgen.DefaultSeed}
		return nil
	}},
	{"target-qps", func(d *config.Run, f *benchFlags) error { d.Load.TargetQPS = f.cfg.Load.TargetQPS; return nil }},
	{"arrival", func(d *config.Run, f *benchFlags) error {
		switch f.arrival {
		case "poisson":
			d.Load.Mode = loadgen.ModePoisson
		case "constant":
			d.Load.Mode = loadgen.ModeConstant
		default:
			return fmt.Errorf("--arrival %q: want poisson or constant", f.arrival)
		}
		return nil
	}},
	{"concurrency", func(d *config.Run, f *benchFlags) error { d.Load.Concurrency = f.cfg.Load.Concurrency; return nil }},
	{"max-in-flight", func(d *config.Run, f *benchFlags) error { d.Load.MaxInFlight = f.cfg.Load.MaxInFlight; return nil }},
	{"num-samples", func(d *config.Run, f *benchFlags) error { d.Load.NumSamples = f.cfg.Load.NumSamples; return nil }},
	{"duration", func(d *config.Run, f *benchFlags) error { d.Load.Duration = f.cfg.Load.Duration; return nil }},
	{"min-duration", func(d *config.Run, f *benchFlags) error { d.Load.MinDuration = f.cfg.Load.MinDuration; return nil }},
	{"warmup", func(d *config.Run, f *benchFlags) error { d.Load.WarmupSamples = f.cfg.Load.WarmupSamples; return nil }},
	{"seed", func(d *config.Run, f *benchFlags) error {
		d.Load.Seed, d.Load.SampleSeed = f.cfg.Load.Seed, f.cfg.Load.Seed
		return nil
	}},
	{"grace-period", func(d *config.Run, f *benchFlags) error { d.Load.GracePeriod = f.cfg.Load.GracePeriod; return nil }},
	{"report-dir", func(d *config.Run, f *benchFlags) error { d.ReportDir = f.cfg.ReportDir; return nil }},
	{"publish-interval", func(d *config.Run, f *benchFlags) error {
		d.Metrics.PublishInterval = f.cfg.Metrics.PublishInterval
		return nil
	}},
	{"drain-timeout", func(d *config.Run, f *benchFlags) error {
		d.Metrics.DrainTimeout = f.cfg.Metrics.DrainTimeout
		return nil
	}},
	{"metrics-addr", func(d *config.Run, f *benchFlags) error { d.Metrics.Addr = f.cfg.Metrics.Addr; return nil }},
	{"tokenizer", func(d *config.Run, f *benchFlags) error { d.Metrics.Tokenizer = f.cfg.Metrics.Tokenizer; return nil }},
	{"token-source", func(d *config.Run, f *benchFlags) error {
		d.Metrics.TokenSource = f.cfg.Metrics.TokenSource
		return nil
	}},
	{"prometheus-addr", func(d *config.Run, f *benchFlags) error {
		d.Metrics.PrometheusAddr = f.cfg.Metrics.PrometheusAddr
		return nil
	}},
	{"no-tui", func(d *config.Run, f *benchFlags) error {
		if f.noTUI {
			d.UI = "plain"
		}
		return nil
	}},
}

func bindBenchFlags(fs *pflag.FlagSet, bf *benchFlags) {
	c := &bf.cfg
	fs.StringVarP(&bf.configFile, "config", "c", "", "YAML configuration file (flags override it; see inferbench init)")
	fs.StringVar(&c.Endpoint.Endpoint, "endpoint", "", "base URL of the server, e.g. http://127.0.0.1:8000")
	fs.StringVar(&c.Endpoint.Model, "model", "", "model name sent in every request")
	fs.StringVar(&c.Endpoint.API, "api", c.Endpoint.API, "API: chat (/v1/chat/completions) or completions (/v1/completions)")
	fs.IntVar(&c.Endpoint.MaxTokens, "max-tokens", c.Endpoint.MaxTokens, "output tokens requested per sample (unless the dataset sets them)")
	fs.IntVar(&c.Endpoint.MaxConnections, "max-connections", c.Endpoint.MaxConnections, "HTTP connections to the server at most")
	fs.Float64Var(&bf.temp, "temperature", 0, "sampling temperature sent in every request (default: not sent)")
	fs.StringVar(&bf.extraBody, "extra-body", "", `JSON object merged into every request body, e.g. '{"ignore_eos": true}'`)
	fs.StringArrayVar(&bf.headers, "header", nil, "extra HTTP header NAME:VALUE (repeatable)")
	fs.StringVar(&c.Endpoint.APIKeyEnv, "api-key-env", "", "environment variable holding an API key, sent as a bearer token")
	fs.DurationVar(&c.Endpoint.TotalTimeout, "timeout", c.Endpoint.TotalTimeout, "per-request timeout")
	fs.StringVar(&bf.streaming, "streaming", "on", "stream responses (SSE): on or off")
	fs.StringVar(&c.Dataset.Path, "dataset", "", "prompts: .jsonl, .json (incl. ShareGPT), .csv or .parquet")
	fs.StringVar(&c.Dataset.Options.Format, "dataset-format", "", "dataset format when the extension does not tell (jsonl, json, csv, parquet, sharegpt)")
	fs.StringVar(&c.Dataset.Options.PromptColumn, "prompt-column", "", "dataset column holding the prompt")
	fs.IntVar(&bf.synthetic, "synthetic", 0, "generate N synthetic prompts instead of a dataset")
	fs.StringVar(&bf.inputLen, "input-len", "128", "synthetic prompt length in tokens: N, uniform:MIN:MAX or normal:MEAN:STDDEV")
	fs.StringVar(&bf.outputLen, "output-len", "128", "synthetic output length in tokens: N, uniform:MIN:MAX or normal:MEAN:STDDEV")
	fs.Float64Var(&c.Load.TargetQPS, "target-qps", 0, "online: requests per second")
	fs.StringVar(&bf.arrival, "arrival", "poisson", "online: arrival law, poisson or constant")
	fs.IntVar(&c.Load.Concurrency, "concurrency", 0, "concurrency: requests kept in flight")
	fs.IntVar(&c.Load.MaxInFlight, "max-in-flight", c.Load.MaxInFlight, "offline: requests in flight at most")
	fs.IntVar(&c.Load.NumSamples, "num-samples", 0, "requests to issue (default: one pass over the dataset, or unlimited with --duration)")
	fs.DurationVar(&c.Load.Duration, "duration", 0, "stop issuing after this long")
	fs.DurationVar(&c.Load.MinDuration, "min-duration", 0, "keep issuing (cycling the dataset) for at least this long")
	fs.IntVar(&c.Load.WarmupSamples, "warmup", 0, "untracked warmup requests before the measured phase")
	fs.Uint64Var(&c.Load.Seed, "seed", c.Load.Seed, "seed of the arrival times and the sample order")
	fs.DurationVar(&c.Load.GracePeriod, "grace-period", c.Load.GracePeriod, "after Ctrl-C, how long in-flight requests may finish")
	fs.StringVar(&c.ReportDir, "report-dir", "", "run directory (default reports/<date>-<time>)")
	fs.DurationVar(&c.Metrics.PublishInterval, "publish-interval", c.Metrics.PublishInterval, "live snapshot period")
	fs.DurationVar(&c.Metrics.DrainTimeout, "drain-timeout", c.Metrics.DrainTimeout, "wait this long for pending token counts at the end")
	fs.StringVar(&c.Metrics.Addr, "metrics-addr", "", "snapshot publish address (default ipc://<report-dir>/metrics.sock)")
	fs.StringVar(&c.Metrics.Tokenizer, "tokenizer", "", "tokenizer.json, its directory, or a Hugging Face model name, for exact ISL/OSL/TPOT (default: server usage)")
	fs.StringVar(&c.Metrics.TokenSource, "token-source", c.Metrics.TokenSource, "token counts from: auto (tokenizer if given, else server usage), tokenizer, or usage")
	fs.StringVar(&c.Metrics.PrometheusAddr, "prometheus-addr", "", "serve live metrics at http://HOST:PORT/metrics in the Prometheus text format")
	fs.BoolVar(&bf.noTUI, "no-tui", false, "print progress lines instead of the dashboard")
}

// resolveBenchConfig loads --config over the defaults, applies the given
// flags over that, and fixes the mode from the subcommand.
func (a *app) resolveBenchConfig(fs *pflag.FlagSet, bf *benchFlags, mode loadgen.Mode) (config.Run, error) {
	cfg := config.Default()
	if bf.configFile != "" {
		var err error
		if cfg, err = config.Load(bf.configFile); err != nil {
			return cfg, asUsage(err)
		}
	}
	switch {
	case mode == loadgen.ModePoisson && (cfg.Load.Mode == loadgen.ModePoisson || cfg.Load.Mode == loadgen.ModeConstant):
	default:
		cfg.Load.Mode = mode
	}
	var errs []error
	for _, b := range benchBindings {
		name := b.name
		if name == "synthetic" && !(fs.Changed("synthetic") || fs.Changed("input-len") || fs.Changed("output-len")) {
			continue
		}
		if name != "synthetic" && !fs.Changed(name) {
			continue
		}
		if name == "synthetic" && bf.synthetic == 0 && cfg.Dataset.Synthetic != nil {
			bf.synthetic = cfg.Dataset.Synthetic.N
		}
		if err := b.apply(&cfg, bf); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.Load.MaxTokens == 0 {
		cfg.Load.MaxTokens = cfg.Endpoint.MaxTokens
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, asUsage(err)
	}
	if err := cfg.Validate(); err != nil {
		return cfg, asUsage(err)
	}
	return cfg, nil
}

func loadDataset(cfg *config.Run) (*dataset.Dataset, error) {
	if cfg.Dataset.Synthetic != nil {
		return dataset.Synthetic(*cfg.Dataset.Synthetic)
	}
	return dataset.Load(cfg.Dataset.Path, cfg.Dataset.Options)
}

func (a *app) runBenchmark(ctx context.Context, cfg config.Run) error {
	ds, err := loadDataset(&cfg)
	if err != nil {
		return asUsage(err)
	}
	tok, err := a.loadTokenCounter(ctx, cfg.Metrics.Tokenizer)
	if err != nil {
		return err
	}
	// While the dashboard draws, log lines would garble it: keep them and
	// print them when it is gone.
	tuiOn := a.useTUI(cfg.UI)
	log := a.logger()
	var held *lockedBuffer
	if tuiOn {
		held = &lockedBuffer{}
		log = slog.New(slog.NewTextHandler(held, &slog.HandlerOptions{Level: slog.LevelWarn}))
		defer func() { _, _ = a.stderr.Write(held.Bytes()) }()
	}
	runner, err := bench.New(cfg, ds, tok, log)
	if err != nil {
		return asUsage(err)
	}
	if err := runner.Preflight(ctx); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "inferbench: %s benchmark of %s (%d samples in the dataset); run directory %s; live snapshots on %s\n",
		cfg.Load.Mode, cfg.Endpoint.Endpoint, ds.Len(), runner.Dir(), runner.MetricsAddr())

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		for range sigs {
			if runner.Stop() {
				fmt.Fprintln(a.stderr, "\ninferbench: stopping: no new requests; in-flight ones get the grace period (Ctrl-C again to stop now)")
				continue
			}
			fmt.Fprintln(a.stderr, "\ninferbench: stopping now")
			runner.Abort()
		}
	}()

	var exporter *promexport.Exporter
	if cfg.Metrics.PrometheusAddr != "" {
		exporter = promexport.New()
		ln, err := net.Listen("tcp", cfg.Metrics.PrometheusAddr)
		if err != nil {
			return usagef("--prometheus-addr %s: %v", cfg.Metrics.PrometheusAddr, err)
		}
		pctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() { _ = exporter.Serve(pctx, ln) }()
		fmt.Fprintf(a.stderr, "inferbench: Prometheus metrics on http://%s%s\n", ln.Addr(), promexport.Path)
	}

	target := cfg.Load.NumSamples
	if target == 0 && cfg.Load.Duration == 0 && cfg.Load.MinDuration == 0 {
		target = ds.Len()
	}
	var uiDone chan struct{}
	var stopProgress func()
	if tuiOn {
		snaps := make(chan metrics.Snapshot, 1)
		runner.OnSnapshot = func(s metrics.Snapshot) {
			tui.Offer(snaps, s)
			if exporter != nil {
				exporter.Update(s)
			}
		}
		uiDone = make(chan struct{})
		go func() {
			defer close(uiDone)
			_, err := tui.Run(ctx, snaps, tui.Options{
				Target: target, Duration: cfg.Load.Duration, Title: cfg.Endpoint.Endpoint,
				Embedded: true, OnQuit: func() { runner.Stop() }, OnAbort: runner.Abort,
				Note: "snapshots on " + runner.MetricsAddr(),
			}, os.Stdin, a.stdout)
			if err != nil {
				log.Warn("dashboard ended", "err", err)
			}
		}()
	} else {
		progress := newProgress(a.stderr, cfg.Load, ds.Len())
		runner.OnSnapshot = func(s metrics.Snapshot) {
			progress.snapshot(s)
			if exporter != nil {
				exporter.Update(s)
			}
		}
		stopProgress = progress.start()
	}

	out, runErr := runner.Run(ctx)
	if uiDone != nil {
		<-uiDone
	} else {
		stopProgress()
	}
	if out == nil {
		return runErr
	}
	if err := out.Report.WriteText(a.stdout); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "inferbench: results in %s\n", out.Dir)
	if runErr != nil {
		return runErr
	}
	switch {
	case out.Final.State == metrics.StateInterrupted:
		return errors.New("run interrupted: the report holds what was recorded until then")
	case out.Report.Completed > 0 && out.Report.Completed == out.Report.Failed:
		return fmt.Errorf("every request failed (%d); see the errors by class above", out.Report.Failed)
	}
	return nil
}

// useTUI decides whether the dashboard runs: "tui" always, "auto" when
// stdout is a terminal, "plain" never.
func (a *app) useTUI(ui string) bool {
	switch ui {
	case "tui":
		return true
	case "plain":
		return false
	}
	f, ok := a.stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressEvery is the period of plain progress lines.
const progressEvery = 2 * time.Second

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns what was written.
func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}
