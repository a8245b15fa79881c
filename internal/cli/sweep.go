package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/report/html"
	"github.com/inferbench/inferbench/internal/sweep"
)

func init() { extraCommands = append(extraCommands, (*app).sweepCmd) }

// sweepOpts are the sweep's own flags; the others are the benchmark's.
type sweepOpts struct {
	benchOpts
	rates, concurrencies string
	maxErrorRate         float64
	search               searchOpts
}

// searchOpts are the flags of sweep --search.
type searchOpts struct {
	on                    bool
	precision, minGoodput float64
	atBound               bool
	maxIterations         int
}

// searchFlagNames are the flags that only --search reads.
var searchFlagNames = []string{"search-precision", "search-min-goodput", "search-at-bound", "search-max-iterations"}

func (a *app) sweepCmd() *cobra.Command {
	var o sweepOpts
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Run one benchmark per load point (--rates or --concurrencies), or search the highest rate meeting the SLOs (--search); tabulate them in sweep.json and sweep.csv",
		Long: "Run one benchmark per load point: online at each of --rates (requests/s), or closed loop at each of\n" +
			"--concurrencies. Every point is a normal run directory under --report-dir (point-01-rate-2, ...);\n" +
			"sweep.json and sweep.csv there hold one row per point and are rewritten after each point.\n" +
			"The sweep stops early when the server is saturated: two rate points in a row achieving under 90 %\n" +
			"of their target rate, or a point whose error rate is above --max-error-rate. Ctrl-C ends the\n" +
			"current point gracefully and keeps every finished one.\n\n" +
			"--search finds the highest rate that still meets every --slo and the --goodput rule: a synchronous\n" +
			"point (one request at a time; its QPS is the lower end of the bracket; if it misses, no rate meets),\n" +
			"an offline point (as fast as possible; its QPS is the upper end; if it meets, it is the answer), then\n" +
			"open-loop points (the --arrival law, default poisson) at the geometric mean of the bracket until\n" +
			"(high - low) / low <= --search-precision, at most --search-max-iterations of them (when all of them\n" +
			"met the targets, the last runs at the offline rate itself). A point meets when\n" +
			"every --slo passes at its point estimate (--search-at-bound: a percentile SLO also at its 95 %\n" +
			"confidence bound), at least --search-min-goodput of its requests are good (with --goodput), and its\n" +
			"error rate is at most --max-error-rate. Every point runs the benchmark's own length (--num-samples,\n" +
			"--duration or one pass over the dataset).\n\n" +
			"Exit codes: 0 every point ran (or the sweep stopped at saturation) and met every --slo, or --search\n" +
			"found a rate; 1 a point's run failed or the sweep was interrupted; 2 bad usage or input; 3 a point\n" +
			"failed an --slo, or --search found no rate meeting the targets.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc, err := resolveSweepConfig(cmd, &o)
			if err != nil {
				return err
			}
			return a.runSweep(cmd.Context(), sc)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.configFile, "config", "c", "", "YAML configuration file (flags override it; see inferbench init)")
	o.cfg = config.Default()
	benchFlags(f, &o.cfg)
	f.StringVar(&o.rates, "rates", "", "online points: target rates in requests/s, comma-separated, e.g. 1,2,4,8")
	f.StringVar(&o.concurrencies, "concurrencies", "", "closed-loop points: concurrencies, comma-separated, e.g. 1,4,16")
	f.Float64Var(&o.maxErrorRate, "max-error-rate", sweep.DefaultMaxErrorRate, "stop the sweep after a point whose failed share of requests is above this")
	f.BoolVar(&o.search.on, "search", false, "search the highest rate meeting every --slo / --goodput target (instead of --rates or --concurrencies)")
	f.Float64Var(&o.search.precision, "search-precision", sweep.DefaultPrecision, "--search: stop once (high - low) / low of the bracket is at most this")
	f.Float64Var(&o.search.minGoodput, "search-min-goodput", sweep.DefaultMinGoodput, "--search with --goodput: the share of good requests a point needs to meet the target")
	f.BoolVar(&o.search.atBound, "search-at-bound", false, "--search: a percentile --slo must also pass at its 95% confidence bound, not only at the point estimate")
	f.IntVar(&o.search.maxIterations, "search-max-iterations", sweep.DefaultMaxIterations, "--search: bisection points at most (besides the synchronous and offline ones)")
	f.Lookup("report-dir").Usage = "sweep directory, holding one run directory per point (default reports/sweep-<date>-<time>)"
	return cmd
}

// parseLoads parses a comma-separated list of positive numbers; integer
// requires whole numbers.
func parseLoads(flag, s string, integer bool) ([]float64, error) {
	var out []float64
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		v, err := strconv.ParseFloat(part, 64)
		switch {
		case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
			return nil, usagef("--%s %q: %q is not a number", flag, s, part)
		case v <= 0:
			return nil, usagef("--%s %q: %s must be positive", flag, s, part)
		case integer && (v != math.Trunc(v) || v > math.MaxInt32):
			return nil, usagef("--%s %q: %s must be a whole number", flag, s, part)
		}
		out = append(out, v)
	}
	return out, nil
}

// checkSearchFlags refuses --search with fixed points, the search's own
// flags without --search, and bounds out of range.
func checkSearchFlags(fs *pflag.FlagSet, so searchOpts, fixedPoints bool) error {
	if !so.on {
		for _, name := range searchFlagNames {
			if fs.Changed(name) {
				return usagef("--%s applies to --search only", name)
			}
		}
		return nil
	}
	switch {
	case fixedPoints:
		return usagef("--search chooses its own rates: give it without --rates or --concurrencies")
	case !(so.precision > 0 && so.precision < 1):
		return usagef("--search-precision %v: want a share between 0 and 1 (exclusive), e.g. 0.05", so.precision)
	case !(so.minGoodput > 0 && so.minGoodput <= 1):
		return usagef("--search-min-goodput %v: want a share in (0, 1], e.g. 0.95", so.minGoodput)
	case so.maxIterations < 1:
		return usagef("--search-max-iterations %d: want at least 1", so.maxIterations)
	}
	return nil
}

// resolveSweepConfig checks the sweep flags and resolves the benchmark
// flags as benchmark does, with the first point's load.
func resolveSweepConfig(cmd *cobra.Command, o *sweepOpts) (sweep.Config, error) {
	var sc sweep.Config
	fs := cmd.Flags()
	hasRates, hasConc := fs.Changed("rates"), fs.Changed("concurrencies")
	so := o.search
	if err := checkSearchFlags(fs, so, hasRates || hasConc); err != nil {
		return sc, err
	}
	switch {
	case !so.on && hasRates == hasConc:
		return sc, usagef("give exactly one of --rates (online points), --concurrencies (closed-loop points) or --search")
	case fs.Changed("target-qps"), fs.Changed("concurrency"):
		return sc, usagef("--target-qps and --concurrency are set per point by --rates, --concurrencies or --search")
	case fs.Changed("prometheus-addr"), fs.Changed("prometheus-linger"):
		return sc, usagef("--prometheus-addr is not supported by sweep (each point is its own run): watch a point with inferbench watch")
	case o.maxErrorRate < 0 || o.maxErrorRate > 1 || math.IsNaN(o.maxErrorRate):
		return sc, usagef("--max-error-rate %v: want a share in [0, 1]", o.maxErrorRate)
	}
	mode := loadgen.ModePoisson
	sc.Kind = sweep.KindRate
	var err error
	switch {
	case so.on:
		// The search sets every point's rate; 1 request/s stands for them
		// while the benchmark flags are checked.
		sc.Kind, sc.Loads = sweep.KindSearch, []float64{1}
		sc.Search = &sweep.Search{Precision: so.precision, MinGoodput: so.minGoodput, AtBound: so.atBound, MaxIterations: so.maxIterations}
	case hasRates:
		sc.Loads, err = parseLoads("rates", o.rates, false)
	default:
		mode, sc.Kind = loadgen.ModeConcurrency, sweep.KindConcurrency
		sc.Loads, err = parseLoads("concurrencies", o.concurrencies, true)
	}
	if err != nil {
		return sc, err
	}
	// The first point's load is replayed as if given, so that the
	// benchmark's validation sees a complete configuration.
	first := strconv.FormatFloat(sc.Loads[0], 'g', -1, 64)
	name := "target-qps"
	if hasConc {
		name = "concurrency"
	}
	if err := fs.Set(name, first); err != nil {
		return sc, asUsage(err)
	}
	if sc.Base, err = resolveBenchConfig(fs, o.configFile, mode); err != nil {
		return sc, err
	}
	if sc.Base.Load.Stages != "" {
		return sc, usagef("--stages (or load.stages) sets its own rates: a sweep's points take theirs from --rates")
	}
	if so.on {
		sc.Loads = nil
		if len(sc.Base.SLO) == 0 && sc.Base.Goodput == "" {
			return sc, usagef("--search needs a target to meet: give --slo (e.g. --slo 'latency:p99<=2s') or --goodput")
		}
	}
	sc.Dir = sc.Base.ReportDir
	if sc.Dir == "" {
		sc.Dir = filepath.Join("reports", "sweep-"+time.Now().Format("20060102-150405"))
	}
	if _, err := os.Stat(filepath.Join(sc.Dir, sweep.JSONFile)); err == nil && !sc.Base.Overwrite {
		return sc, usagef("--report-dir %s already holds a sweep (%s): choose another directory or give --overwrite", sc.Dir, sweep.JSONFile)
	}
	sc.MaxErrorRate = o.maxErrorRate
	return sc, nil
}

func (a *app) runSweep(ctx context.Context, sc sweep.Config) error {
	tok, err := a.loadTokenCounter(ctx, sc.Base.Metrics.Tokenizer)
	if err != nil {
		return err
	}
	// With a tokenizer, synthetic prompts are exact in its tokens, as in a
	// single benchmark.
	ds, err := bench.LoadDatasetCounted(sc.Base.Dataset, tok)
	if err != nil {
		return asUsage(err)
	}
	log := a.logger()
	sc.NewRunner = func(cfg config.Run) (sweep.Runner, error) {
		r, err := bench.New(cfg, ds, tok, log)
		if err != nil {
			return nil, asUsage(err)
		}
		return r, nil
	}
	sc.OnStart = func(i int, cfg config.Run, dir string) {
		if sc.Kind == sweep.KindSearch {
			fmt.Fprintf(a.stderr, "inferbench: search point %d: %s; run directory %s\n", i+1, searchLoad(cfg), dir)
			return
		}
		load := strconv.FormatFloat(cfg.Load.TargetQPS, 'g', -1, 64) + " requests/s"
		if sc.Kind == sweep.KindConcurrency {
			load = strconv.Itoa(cfg.Load.Concurrency) + " in flight"
		}
		fmt.Fprintf(a.stderr, "inferbench: sweep point %d/%d: %s; run directory %s\n", i+1, len(sc.Loads), load, dir)
	}
	sc.OnPoint = func(p sweep.Point) {
		if p.Phase != "" {
			fmt.Fprintf(a.stdout, "point %d (%s): target %s, QPS %s, TTFT p99 %s ms, latency p99 %s ms, errors %.1f%%, %s\n",
				p.Index, p.Phase, fmtTarget(p.Target), fmtValue(float64(p.QPS)), fmtValue(float64(p.TTFTP99)),
				fmtValue(float64(p.LatencyP99)), 100*p.ErrorRate, meetsNote(p))
			return
		}
		fmt.Fprintf(a.stdout, "point %d: target %g, achieved %s, QPS %s, TPS %s, TTFT p50 %s ms, latency p99 %s ms, errors %.1f%%%s\n",
			p.Index, p.Target, fmtValue(float64(p.Achieved)), fmtValue(float64(p.QPS)), fmtValue(float64(p.TPS)),
			fmtValue(float64(p.TTFTP50)), fmtValue(float64(p.LatencyP99)), 100*p.ErrorRate, sloNote(p.SLO))
	}
	sc.AfterWrite = func() error { return html.WriteSweepDir(sc.Dir) }
	sw, err := sweep.New(sc)
	if err != nil {
		return asUsage(err)
	}
	if err := os.MkdirAll(sc.Dir, 0o755); err != nil {
		return usagef("--report-dir %s: %v", sc.Dir, err)
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	stopRelay := relaySignals(sigs, sw, a.stderr)
	defer func() {
		signal.Stop(sigs)
		stopRelay()
	}()

	res, runErr := sw.Run(ctx)
	if sc.Kind == sweep.KindSearch {
		return a.searchOutcome(res, runErr, sc.Dir)
	}
	if res != nil {
		fmt.Fprintf(a.stderr, "inferbench: sweep %s after %d of %d points%s; results in %s\n",
			res.Stopped, len(res.Points), len(sc.Loads), detail(res.StoppedDetail), sc.Dir)
	}
	if runErr != nil {
		return runErr
	}
	if res.Stopped == sweep.ReasonInterrupted {
		return errors.New("sweep interrupted: sweep.json holds the points finished until then")
	}
	if res.SLOFailed() {
		return verdictError{"a sweep point failed an SLO (see the slo column of sweep.csv)"}
	}
	return nil
}

func fmtValue(v float64) string {
	if math.IsNaN(v) {
		return "N/A"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func sloNote(s string) string {
	if s == "" {
		return ""
	}
	return ", SLO " + s
}

func detail(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// searchLoad says what a search point runs.
func searchLoad(cfg config.Run) string {
	switch loadgen.Mode(cfg.Load.Mode) {
	case loadgen.ModeConcurrency:
		return "synchronous (one request at a time)"
	case loadgen.ModeOffline:
		return "offline (as fast as possible)"
	}
	return strconv.FormatFloat(cfg.Load.TargetQPS, 'g', -1, 64) + " requests/s (" + cfg.Load.Mode + ")"
}

func fmtTarget(t float64) string {
	if t == 0 {
		return "none"
	}
	return strconv.FormatFloat(t, 'g', -1, 64)
}

func meetsNote(p sweep.Point) string {
	if p.Meets == "yes" {
		return "meets the targets"
	}
	return "misses (" + p.Why + ")"
}

// searchOutcome prints the search's answer and turns its end into the exit
// code: 0 a rate was found, 3 none meets the targets, 1 interrupted or a
// point's run failed.
func (a *app) searchOutcome(res *sweep.Result, runErr error, dir string) error {
	if res == nil {
		return runErr
	}
	sr := res.Search
	if res.Stopped == sweep.ReasonNoRate && runErr == nil {
		return verdictError{"no rate meets the targets: " + res.StoppedDetail + "; results in " + dir}
	}
	fmt.Fprintf(a.stderr, "inferbench: search %s after %d points%s; results in %s\n", res.Stopped, len(res.Points), detail(res.StoppedDetail), dir)
	if runErr != nil {
		return runErr
	}
	if res.Stopped == sweep.ReasonInterrupted {
		return errors.New("search interrupted: sweep.json holds the points and the bracket found until then")
	}
	found := fmtRate(float64(sr.Found))
	switch {
	case !sr.High.Valid():
		fmt.Fprintf(a.stdout, "search: highest rate meeting every target: %s requests/s (point %d: the offline ceiling meets them)\n", found, sr.FoundPoint)
	default:
		fmt.Fprintf(a.stdout, "search: highest rate meeting every target: %s requests/s (point %d; the bracket %s to %s requests/s is %.1f%% wide after %d bisection points)\n",
			found, sr.FoundPoint, fmtRate(float64(sr.Low)), fmtRate(float64(sr.High)), 100*float64(sr.Width), sr.Iterations)
	}
	if !sr.Converged {
		fmt.Fprintf(a.stderr, "inferbench: the bracket is wider than --search-precision %g: raise --search-max-iterations for a more precise rate\n", sr.Precision)
	}
	return nil
}

func fmtRate(f float64) string {
	if math.IsNaN(f) {
		return "N/A"
	}
	return strconv.FormatFloat(f, 'g', 4, 64)
}
