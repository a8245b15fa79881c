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

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/sweep"
)

func init() { extraCommands = append(extraCommands, (*app).sweepCmd) }

// sweepOpts are the sweep's own flags; the others are the benchmark's.
type sweepOpts struct {
	benchOpts
	rates, concurrencies string
	maxErrorRate         float64
}

func (a *app) sweepCmd() *cobra.Command {
	var o sweepOpts
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Run one benchmark per load point (--rates or --concurrencies) and tabulate them in sweep.json and sweep.csv",
		Long: "Run one benchmark per load point: online at each of --rates (requests/s), or closed loop at each of\n" +
			"--concurrencies. Every point is a normal run directory under --report-dir (point-01-rate-2, ...);\n" +
			"sweep.json and sweep.csv there hold one row per point and are rewritten after each point.\n" +
			"The sweep stops early when the server is saturated: two rate points in a row achieving under 90 %\n" +
			"of their target rate, or a point whose error rate is above --max-error-rate. Ctrl-C ends the\n" +
			"current point gracefully and keeps every finished one.\n\n" +
			"Exit codes: 0 every point ran (or the sweep stopped at saturation) and met every --slo; 1 a point's\n" +
			"run failed or the sweep was interrupted; 2 bad usage or input; 3 a point failed an --slo.",
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

// resolveSweepConfig checks the sweep flags and resolves the benchmark
// flags as benchmark does, with the first point's load.
func resolveSweepConfig(cmd *cobra.Command, o *sweepOpts) (sweep.Config, error) {
	var sc sweep.Config
	fs := cmd.Flags()
	hasRates, hasConc := fs.Changed("rates"), fs.Changed("concurrencies")
	switch {
	case hasRates == hasConc:
		return sc, usagef("give exactly one of --rates (online points) or --concurrencies (closed-loop points)")
	case fs.Changed("target-qps"), fs.Changed("concurrency"):
		return sc, usagef("--target-qps and --concurrency are set per point by --rates or --concurrencies")
	case fs.Changed("prometheus-addr"):
		return sc, usagef("--prometheus-addr is not supported by sweep (each point is its own run): watch a point with inferbench watch")
	case o.maxErrorRate < 0 || o.maxErrorRate > 1 || math.IsNaN(o.maxErrorRate):
		return sc, usagef("--max-error-rate %v: want a share in [0, 1]", o.maxErrorRate)
	}
	mode := loadgen.ModePoisson
	sc.Kind = sweep.KindRate
	var err error
	if hasRates {
		sc.Loads, err = parseLoads("rates", o.rates, false)
	} else {
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
	if !hasRates {
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
	ds, err := bench.LoadDataset(sc.Base.Dataset)
	if err != nil {
		return asUsage(err)
	}
	tok, err := a.loadTokenCounter(ctx, sc.Base.Metrics.Tokenizer)
	if err != nil {
		return err
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
		load := strconv.FormatFloat(cfg.Load.TargetQPS, 'g', -1, 64) + " requests/s"
		if sc.Kind == sweep.KindConcurrency {
			load = strconv.Itoa(cfg.Load.Concurrency) + " in flight"
		}
		fmt.Fprintf(a.stderr, "inferbench: sweep point %d/%d: %s; run directory %s\n", i+1, len(sc.Loads), load, dir)
	}
	sc.OnPoint = func(p sweep.Point) {
		fmt.Fprintf(a.stdout, "point %d: target %g, achieved %s, QPS %s, TPS %s, TTFT p50 %s ms, latency p99 %s ms, errors %.1f%%%s\n",
			p.Index, p.Target, fmtValue(float64(p.Achieved)), fmtValue(float64(p.QPS)), fmtValue(float64(p.TPS)),
			fmtValue(float64(p.TTFTP50)), fmtValue(float64(p.LatencyP99)), 100*p.ErrorRate, sloNote(p.SLO))
	}
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
