package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/signal"
	"strconv"
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

// benchOpts are the benchmark flags that are not part of the configuration.
type benchOpts struct {
	configFile string
	// cfg receives the flags as parsed; only which were given, and their
	// text, are used (see replayFlags).
	cfg config.Run
	// fleet: coordinator mode (--fleet-size; see fleet.go).
	fleet fleetOpts
}

func (a *app) benchmarkCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "benchmark",
		Short: "Benchmark an endpoint: offline (max throughput), online (Poisson or constant rate) or concurrency (closed loop)",
		Long: "Benchmark an endpoint: offline (max throughput), online (Poisson or constant rate) or concurrency (closed loop).\n\n" +
			exitCodesHelp,
	}
	for _, mode := range []struct {
		use, short string
		mode       loadgen.Mode
	}{
		{"offline", "Issue every request as fast as the in-flight bound allows", loadgen.ModeOffline},
		{"online", "Issue requests at --target-qps (Poisson arrivals, or --arrival constant)", loadgen.ModePoisson},
		{"concurrency", "Keep --concurrency requests in flight (closed loop)", loadgen.ModeConcurrency},
		{"replay", "Replay a recorded trace (--trace): each request at its recorded time, prompts synthesized to the recorded lengths", loadgen.ModeReplay},
	} {
		var o benchOpts
		sub := &cobra.Command{
			Use:   mode.use,
			Short: mode.short,
			Long:  mode.short + ".\n\n" + modeHelp(mode.mode) + exitCodesHelp,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				isFleet, err := o.fleet.enabled(cmd.Flags())
				if err != nil {
					return err
				}
				cfg, err := resolveBenchConfig(cmd.Flags(), o.configFile, mode.mode)
				if err != nil {
					return err
				}
				var fo *fleetOpts
				if isFleet {
					fo = &o.fleet
				}
				return a.runBenchmark(cmd.Context(), cfg, fo)
			},
		}
		f := sub.Flags()
		f.StringVarP(&o.configFile, "config", "c", "", "YAML configuration file (flags override it; see inferbench init)")
		o.cfg = config.Default()
		benchFlags(f, &o.cfg)
		fleetFlags(f, &o.fleet)
		if mode.mode == loadgen.ModeReplay {
			traceFlags(f, &o.cfg)
		}
		cmd.AddCommand(sub)
	}
	return cmd
}

// benchFlags defines the benchmark flags, each bound to its field of c, with
// the field's current value as its default. It is called twice: on the
// command (c holds config.Default(), so --help shows the defaults), and on a
// scratch set bound to the configuration read from --config, over which the
// given flags are replayed (see replayFlags).
func benchFlags(fs *pflag.FlagSet, c *config.Run) {
	fs.StringVar(&c.Endpoint.Endpoint, "endpoint", c.Endpoint.Endpoint, "base URL of the server, e.g. http://127.0.0.1:8000")
	fs.StringVar(&c.Endpoint.Model, "model", c.Endpoint.Model, "model name sent in every request (default: the server's only model, from /v1/models)")
	fs.StringVar(&c.Endpoint.API, "api", c.Endpoint.API, "API: chat (/v1/chat/completions) or completions (/v1/completions)")
	fs.Var(funcValue{kind: "int",
		set: func(s string) error {
			n, err := strconv.ParseInt(s, 0, 0)
			c.Endpoint.MaxTokens, c.Load.MaxTokens = int(n), int(n)
			return err
		},
		get: func() string { return strconv.Itoa(c.Endpoint.MaxTokens) },
	}, "max-tokens", "output tokens requested per sample (unless the dataset sets them)")
	fs.IntVar(&c.Endpoint.MaxConnections, "max-connections", c.Endpoint.MaxConnections, "HTTP connections to the server at most")
	fs.Var(optFloatValue{&c.Endpoint.Temperature}, "temperature", "sampling temperature sent in every request (default: not sent)")
	fs.Var(&jsonObjectValue{p: &c.Endpoint.ExtraBody}, "extra-body", `JSON object merged into every request body, e.g. '{"ignore_eos": true}'`)
	fs.Var(&headerValue{p: &c.Endpoint.Headers}, "header", "extra HTTP header NAME:VALUE (repeatable)")
	fs.StringVar(&c.Endpoint.APIKeyEnv, "api-key-env", c.Endpoint.APIKeyEnv, "environment variable holding an API key, sent as a bearer token")
	fs.DurationVar(&c.Endpoint.TotalTimeout, "timeout", c.Endpoint.TotalTimeout, "per-request timeout")
	fs.DurationVar(&c.Endpoint.ConnectTimeout, "connect-timeout", c.Endpoint.ConnectTimeout, "TCP connect timeout")
	fs.DurationVar(&c.Endpoint.ReadTimeout, "read-timeout", c.Endpoint.ReadTimeout, "longest wait for the next byte of a response (the first included)")
	fs.Var(onOffValue{&c.Endpoint.RetryClosedConn}, "retry-closed-conn", "send a request once more on a new connection when the server closed the reused one before answering (counted as retried_requests): on or off")
	fs.StringVar(&c.Endpoint.TLSCA, "tls-ca", c.Endpoint.TLSCA, "https: PEM bundle of the CA certificates to verify the server with (instead of the system's)")
	fs.BoolVar(&c.Endpoint.InsecureSkipVerify, "insecure-skip-verify", c.Endpoint.InsecureSkipVerify, "https: accept any server certificate (self-signed test servers; still encrypted)")
	fs.Var(onOffValue{&c.Endpoint.Streaming}, "streaming", "stream responses (SSE): on or off")
	fs.Var(funcValue{kind: "string",
		set: func(s string) error { c.Dataset.Path, c.Dataset.Synthetic = s, nil; return nil },
		get: func() string { return c.Dataset.Path },
	}, "dataset", "prompts: .jsonl, .json (incl. ShareGPT), .csv or .parquet")
	fs.StringVar(&c.Dataset.Options.Format, "dataset-format", c.Dataset.Options.Format, "dataset format when the extension does not tell (jsonl, json, csv, parquet, sharegpt)")
	fs.StringVar(&c.Dataset.Options.PromptColumn, "prompt-column", c.Dataset.Options.PromptColumn, "dataset column holding the prompt")
	fs.Var(syntheticValue(c, "synthetic"), "synthetic", "generate N synthetic prompts instead of a dataset")
	fs.Var(syntheticValue(c, "input-len"), "input-len", "synthetic prompt length in tokens: N, uniform:MIN:MAX or normal:MEAN:STDDEV")
	fs.Var(syntheticValue(c, "output-len"), "output-len", "synthetic output length in tokens: N, uniform:MIN:MAX or normal:MEAN:STDDEV")
	fs.Var(syntheticValue(c, "shared-prefix-len"), "shared-prefix-len", "synthetic: start every prompt with one of --num-prefixes fixed prefixes of this many tokens (below the shortest --input-len)")
	fs.Var(syntheticValue(c, "num-prefixes"), "num-prefixes", "synthetic: how many distinct shared prefixes; prompt i takes prefix i mod N (default 1)")
	fs.Float64Var(&c.Load.TargetQPS, "target-qps", c.Load.TargetQPS, "online: requests per second (at least one expected within --duration; without one, the samples must issue within 24h)")
	fs.Var(funcValue{kind: "string",
		set: func(s string) error {
			switch s {
			case "poisson":
				c.Load.Mode = string(loadgen.ModePoisson)
			case "constant":
				c.Load.Mode = string(loadgen.ModeConstant)
			default:
				return errors.New("want poisson or constant")
			}
			return nil
		},
		get: func() string {
			if c.Load.Mode == string(loadgen.ModeConstant) {
				return "constant"
			}
			return "poisson"
		},
	}, "arrival", "online: arrival law, poisson or constant")
	fs.Var(funcValue{kind: "float",
		set: func(s string) error {
			k, err := strconv.ParseFloat(s, 64)
			if err != nil || !(k > 0) || math.IsInf(k, 0) {
				return errors.New("want a shape K > 0 (1 is Poisson, below 1 burstier, above 1 smoother)")
			}
			c.Load.Burstiness = k
			return nil
		},
		get: func() string { return strconv.FormatFloat(c.Load.Burstiness, 'g', -1, 64) },
	}, "burstiness", "online: gamma inter-arrival shape K with the --target-qps mean (1 = Poisson, <1 burstier, >1 smoother; default 1)")
	fs.DurationVar(&c.Load.RampUp, "ramp-up", c.Load.RampUp, "online: grow the rate linearly from 0 to --target-qps over this long, then hold it; concurrency: grow the workers linearly from 1 to --concurrency")
	fs.Var(funcValue{kind: "string",
		set: func(s string) error {
			if _, err := loadgen.ParseStages(s); err != nil {
				return err
			}
			c.Load.Stages = s
			return nil
		},
		get: func() string { return c.Load.Stages },
	}, "stages", "online: piecewise-constant rate QPS:DURATION,… (e.g. 10:30s,20:30s,40:60s) instead of --target-qps; concurrency: workers N:DURATION,… instead of --concurrency; issuing ends after the last stage")
	fs.Var(funcValue{kind: "int",
		set: func(s string) error {
			n, err := strconv.ParseInt(s, 0, 0)
			if err != nil || n < 1 {
				return errors.New("want a number of requests >= 1")
			}
			c.Load.MaxConcurrency = int(n)
			return nil
		},
		get: func() string { return strconv.Itoa(c.Load.MaxConcurrency) },
	}, "max-concurrency", "online, replay: at most N requests in flight; a request whose time has come waits FIFO for a slot, measured as queue_wait_ns (never in TTFT) (default: no cap)")
	fs.BoolVar(&c.Dataset.MultiTurn, "multi-turn", c.Dataset.MultiTurn, "the dataset's rows are conversations (ShareGPT conversations, OpenAI messages, or {conversation_id, turns}): run each as a session, turn k+1 after turn k's reply; --target-qps and --concurrency then count conversations")
	fs.Var(funcValue{kind: "string",
		set: func(s string) error {
			if _, err := loadgen.ParseThinkTime(s); err != nil {
				return err
			}
			c.Load.TurnDelay = s
			return nil
		},
		get: func() string { return c.Load.TurnDelay },
	}, "turn-delay", "multi-turn: think time before each later turn: 2s, exp:2s, uniform:1s-3s, or dataset (the dataset's delay_ms; the default)")
	fs.Var(funcValue{kind: "string",
		set: func(s string) error {
			if s != bench.HistoryServer && s != bench.HistoryRecorded {
				return errors.New("want server or recorded")
			}
			c.Load.History = s
			return nil
		},
		get: func() string { return c.Load.History },
	}, "history", "multi-turn: the history carries the server's replies (server, the default) or the dataset's recorded ones (recorded)")
	fs.IntVar(&c.Load.Concurrency, "concurrency", c.Load.Concurrency, "concurrency: requests kept in flight")
	fs.IntVar(&c.Load.MaxInFlight, "max-in-flight", c.Load.MaxInFlight, "offline: requests in flight at most")
	fs.IntVar(&c.Load.NumSamples, "num-samples", c.Load.NumSamples, "requests to issue (default: one pass over the dataset, or unlimited with --duration)")
	fs.DurationVar(&c.Load.Duration, "duration", c.Load.Duration, "stop issuing after this long")
	fs.DurationVar(&c.Load.MinDuration, "min-duration", c.Load.MinDuration, "keep issuing (cycling the dataset) for at least this long")
	fs.IntVar(&c.Load.WarmupSamples, "warmup", c.Load.WarmupSamples, "untracked warmup requests before the measured phase")
	fs.Var(funcValue{kind: "uint64",
		set: func(s string) error {
			n, err := strconv.ParseUint(s, 0, 64)
			c.Load.Seed, c.Load.SampleSeed = n, n
			return err
		},
		get: func() string { return strconv.FormatUint(c.Load.Seed, 10) },
	}, "seed", "seed of the arrival times and the sample order")
	fs.DurationVar(&c.Load.GracePeriod, "grace-period", c.Load.GracePeriod, "after Ctrl-C, how long in-flight requests may finish")
	fs.StringVar(&c.ReportDir, "report-dir", c.ReportDir, "run directory (default reports/<date>-<time>)")
	fs.BoolVar(&c.Overwrite, "overwrite", c.Overwrite, "replace a finished run in --report-dir (refused without it; a running one is always refused)")
	fs.DurationVar(&c.Metrics.PublishInterval, "publish-interval", c.Metrics.PublishInterval, "live snapshot period")
	fs.DurationVar(&c.Metrics.DrainTimeout, "drain-timeout", c.Metrics.DrainTimeout, "wait this long for pending token counts at the end")
	fs.StringVar(&c.Metrics.Addr, "metrics-addr", c.Metrics.Addr, "snapshot publish address (default ipc://<report-dir>/metrics.sock)")
	fs.StringVar(&c.Metrics.Tokenizer, "tokenizer", c.Metrics.Tokenizer, "tokenizer.json, its directory, or a Hugging Face model name, for exact ISL/OSL/TPOT (default: server usage)")
	fs.StringVar(&c.Metrics.TokenSource, "token-source", c.Metrics.TokenSource, "token counts from: auto (tokenizer if given, else server usage), tokenizer, or usage")
	fs.StringVar(&c.Metrics.PrometheusAddr, "prometheus-addr", c.Metrics.PrometheusAddr, "serve live metrics at http://HOST:PORT/metrics in the Prometheus text format")
	fs.DurationVar(&c.Metrics.PrometheusLinger, "prometheus-linger", c.Metrics.PrometheusLinger, "with --prometheus-addr: keep serving the final metrics this long after the run (so the last scrape sees them; Ctrl-C ends it)")
	fs.StringVar(&c.Metrics.EventsAddr, "events-addr", c.Metrics.EventsAddr, "also publish the run's events over ZeroMQ at this address (ipc://PATH or tcp://HOST:PORT), for inferbench aggregate or any subscriber")
	fs.IntVar(&c.Metrics.EventsSubscribers, "events-subscribers", c.Metrics.EventsSubscribers, "with --events-addr: wait for this many subscribers before the first request")
	fs.StringVar(&c.EventLog, "event-log", c.EventLog, "event log: compact (requests.jsonl, one short record per request), full (also every chunk-level event, events.jsonl.zst) or off")
	fs.BoolVar(&c.Metrics.KeepRaw, "keep-raw", c.Metrics.KeepRaw, "keep the raw values (metrics/raw/*.bin) after the run, for report --recompute")
	fs.Var(&listValue{p: &c.Metrics.ServerMetrics}, "server-metrics", "Prometheus /metrics URL scraped every --publish-interval for the report's server view (repeatable: the server's and a GPU exporter's, e.g. DCGM for energy per token); default: the endpoint's /metrics when it answers; off: none")
	fs.Var(boolFuncValue{funcValue{kind: "bool",
		set: func(s string) error {
			b, err := strconv.ParseBool(s)
			if b {
				c.UI = "plain"
			}
			return err
		},
		get: func() string { return strconv.FormatBool(c.UI == "plain") },
	}}, "no-tui", "print progress lines instead of the dashboard")
	fs.Lookup("no-tui").NoOptDefVal = "true"
	verdictFlags(fs, c)
}

// defaultSyntheticLen is the prompt and output length of synthetic prompts
// when --input-len or --output-len is not given.
const defaultSyntheticLen = "128"

// syntheticValue is --synthetic N, --input-len or --output-len: each selects
// the synthetic generator (dropping a dataset path) and sets its part of it,
// so that the other parts keep the file's values.
func syntheticValue(c *config.Run, name string) funcValue {
	ensure := func() *config.Synthetic {
		if c.Dataset.Synthetic == nil {
			c.Dataset.Synthetic = &config.Synthetic{Input: defaultSyntheticLen, Output: defaultSyntheticLen, Seed: loadgen.DefaultSeed}
		}
		c.Dataset.Path = ""
		return c.Dataset.Synthetic
	}
	v := funcValue{kind: "string"}
	switch name {
	case "synthetic":
		v.kind = "int"
		v.set = func(s string) error {
			n, err := strconv.ParseInt(s, 0, 0)
			ensure().N = int(n)
			return err
		}
		v.get = func() string {
			if c.Dataset.Synthetic == nil {
				return "0"
			}
			return strconv.Itoa(c.Dataset.Synthetic.N)
		}
	case "shared-prefix-len", "num-prefixes":
		v.kind = "int"
		v.set = func(s string) error {
			n, err := strconv.ParseInt(s, 0, 0)
			if err != nil || n < 1 {
				return errors.New("want a number >= 1")
			}
			if name == "num-prefixes" {
				ensure().NumPrefixes = int(n)
			} else {
				ensure().SharedPrefixLen = int(n)
			}
			return nil
		}
		v.get = func() string {
			switch {
			case c.Dataset.Synthetic == nil:
				return "0"
			case name == "num-prefixes":
				return strconv.Itoa(c.Dataset.Synthetic.NumPrefixes)
			}
			return strconv.Itoa(c.Dataset.Synthetic.SharedPrefixLen)
		}
	case "input-len", "output-len":
		v.set = func(s string) error {
			d, err := dataset.ParseDist(s)
			if err != nil {
				return err
			}
			// The file's lengths are checked by bench.Validate; the
			// flag's here, so that the error names the flag.
			if name == "input-len" {
				ensure().Input = d.String()
			} else {
				ensure().Output = d.String()
			}
			return nil
		}
		v.get = func() string {
			switch {
			case c.Dataset.Synthetic == nil:
				return defaultSyntheticLen
			case name == "input-len":
				return c.Dataset.Synthetic.Input
			}
			return c.Dataset.Synthetic.Output
		}
	}
	return v
}

// resolveBenchConfig reads --config over the defaults, fixes the mode from
// the subcommand, and replays the given flags over that.
func resolveBenchConfig(given *pflag.FlagSet, configFile string, mode loadgen.Mode) (config.Run, error) {
	cfg := config.Default()
	if configFile != "" {
		var err error
		if cfg, err = config.Load(configFile); err != nil {
			return cfg, asUsage(err)
		}
	}
	// online takes its arrival law from the file unless --arrival says.
	if m := loadgen.Mode(cfg.Load.Mode); mode != loadgen.ModePoisson || (m != loadgen.ModePoisson && m != loadgen.ModeConstant) {
		cfg.Load.Mode = string(mode)
	}
	if err := checkDatasetFlags(given, &cfg); err != nil {
		return cfg, err
	}
	scratch := pflag.NewFlagSet("benchmark", pflag.ContinueOnError)
	benchFlags(scratch, &cfg)
	traceFlags(scratch, &cfg)
	if err := replayFlags(given, scratch); err != nil {
		return cfg, asUsage(err)
	}
	if cfg.Load.MaxTokens == 0 {
		cfg.Load.MaxTokens = cfg.Endpoint.MaxTokens
	}
	if err := bench.Validate(&cfg); err != nil {
		return cfg, asUsage(err)
	}
	return cfg, nil
}

// runBenchmark runs one benchmark; with fo (not nil) this process is a
// fleet coordinator and the load comes from fo.size workers.
func (a *app) runBenchmark(ctx context.Context, cfg config.Run, fo *fleetOpts) error {
	tok, err := a.loadTokenCounter(ctx, cfg.Metrics.Tokenizer)
	if err != nil {
		return err
	}
	// With a tokenizer, synthetic prompts (and a trace's) are exact in its tokens.
	ds, replay, err := a.loadWorkload(&cfg, tok)
	if err != nil {
		return asUsage(err)
	}
	if replay != nil {
		defer replay.Close()
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
	if replay != nil {
		runner.Arrivals, runner.Samples = replay.Arrivals, replay.Sample
	}
	defer func() {
		if err := runner.Close(); err != nil {
			log.Warn("closing the run", "err", err)
		}
	}()
	// Every check that can fail comes before Open creates the run
	// directory: a failed start leaves nothing behind.
	if err := runner.Preflight(ctx); err != nil {
		if errors.Is(err, bench.ErrNoModel) {
			return asUsage(err)
		}
		return err
	}
	if m := runner.ProbedModel(); m != "" {
		fmt.Fprintf(a.stderr, "inferbench: no --model given: using %q, the only model the server lists\n", m)
	}
	var fc *coordinator
	if fo != nil {
		if fc, err = listenFleet(fo, runner, log); err != nil {
			return err
		}
		defer fc.close()
	}
	var exporter *promexport.Exporter
	var promLn net.Listener
	if cfg.Metrics.PrometheusAddr != "" {
		exporter = promexport.New()
		if promLn, err = net.Listen("tcp", cfg.Metrics.PrometheusAddr); err != nil {
			return usagef("--prometheus-addr %s: %v", cfg.Metrics.PrometheusAddr, err)
		}
		defer promLn.Close()
	}
	if err := runner.Open(); err != nil {
		return asUsage(err)
	}
	inDataset := fmt.Sprintf("%d samples", ds.Len())
	if ds.Conversations != nil {
		inDataset = fmt.Sprintf("%d conversations, %d turns", len(ds.Conversations), ds.Turns)
	}
	fmt.Fprintf(a.stderr, "inferbench: %s benchmark of %s (%s in the dataset); run directory %s; live snapshots on %s\n",
		cfg.Load.Mode, cfg.Endpoint.Endpoint, inDataset, runner.Dir(), runner.MetricsAddr())
	serverMetricsNote(a.stderr, runner)
	if addr := runner.EventsAddr(); addr != "" {
		fmt.Fprintf(a.stderr, "inferbench: events on %s (waiting for %d subscribers)\n", addr, cfg.Metrics.EventsSubscribers)
	}
	if fc != nil {
		if err := fc.wait(ctx, a, runner); err != nil {
			return err
		}
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	stopRelay := sync.OnceFunc(relaySignals(sigs, runner, a.stderr))
	defer func() {
		signal.Stop(sigs)
		stopRelay()
	}()

	if exporter != nil {
		pctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() { _ = exporter.Serve(pctx, promLn) }()
		fmt.Fprintf(a.stderr, "inferbench: Prometheus metrics on http://%s%s\n", promLn.Addr(), promexport.Path)
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
		lc, n := bench.LoadgenConfig(cfg.Load), ds.Len()
		if ds.Conversations != nil {
			// Progress counts requests (turns); num_samples counts
			// conversations, so only a pass over the dataset has a known
			// number of turns.
			n = ds.Turns
			if lc.NumSamples > 0 {
				n, lc.NumSamples = 0, 0
			}
		}
		progress := newProgress(a.stderr, lc, n)
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
	if exporter != nil && cfg.Metrics.PrometheusLinger > 0 {
		// The signals end the linger now, not the run; the fleet is done
		// (its workers would be declared lost as they leave).
		stopRelay()
		fc.close()
		lingerMetrics(ctx, a.stderr, promLn.Addr(), cfg.Metrics.PrometheusLinger, sigs)
	}
	if runErr != nil {
		return runErr
	}
	switch {
	case out.Final.State == metrics.StateInterrupted:
		return errors.New("run interrupted: the report holds what was recorded until then")
	case out.Report.Completed > 0 && out.Report.Completed == out.Report.Failed:
		return fmt.Errorf("every request failed (%d); see the errors by class above", out.Report.Failed)
	}
	return verdictOutcome(out.Report)
}

// stopper is what a signal stops: the first signal stops gracefully, the
// next ones abort.
type stopper interface {
	Stop() bool
	Abort()
}

// relaySignals turns each signal received on sigs into r.Stop, or r.Abort
// after the first, until the returned function is called; that function
// returns once the relaying goroutine has ended, so none outlives the run.
func relaySignals(sigs <-chan os.Signal, r stopper, w io.Writer) (stop func()) {
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		for {
			select {
			case <-done:
				return
			case <-sigs:
				if r.Stop() {
					fmt.Fprintln(w, "\ninferbench: stopping: no new requests; in-flight ones get the grace period (Ctrl-C again to stop now)")
					continue
				}
				fmt.Fprintln(w, "\ninferbench: stopping now")
				r.Abort()
			}
		}
	}()
	return func() {
		close(done)
		<-ended
	}
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
