// Package promexport serves the latest metrics snapshot at /metrics in the
// Prometheus text format.
//
// An [Exporter] keeps the newest [metrics.Snapshot] handed to Update and
// emits it on every scrape through a custom collector, so the scrape shows
// exactly one snapshot and costs the run nothing between scrapes:
//
//   - counters become counters: inferbench_<name>_total, with nanosecond counters
//     in seconds (inferbench_tracked_duration_seconds_total), and the
//     per-class error counters as inferbench_errors_total{class="<class>"}
//     (tracked samples), inferbench_warmup_errors_total{class} (warmup
//     samples) and inferbench_other_errors_total{class} (error records that
//     failed no sample);
//   - gauges: inferbench_state{state="live"} 1 (0 for the other states),
//     inferbench_in_flight (issued − completed, warmup included),
//     inferbench_pending_token_counts (n_pending_tasks), inferbench_qps and
//     inferbench_tps (by the metric dictionary's formulas, as the report
//     computes them), inferbench_snapshot_counter, and with a goodput rule
//     inferbench_goodput and inferbench_good_tps (good requests and their
//     output tokens per second);
//   - series become summaries in base units: quantiles from the snapshot's
//     percentile grid ("99.9" → quantile="0.999"), _sum and _count; *_ns
//     series are in seconds (ttft_ns → inferbench_ttft_seconds), token series
//     keep their unit (isl → inferbench_isl).
//
// A fleet run's snapshots also carry the per-worker table (the fleet
// section the dashboard and `inferbench watch` show); each of its figures
// becomes one series per worker, labelled worker="NAME", under its
// dictionary name (the metrics.FleetWorker* constants):
//
//   - counters: inferbench_fleet_worker_samples_issued_total,
//     inferbench_fleet_worker_samples_completed_total and
//     inferbench_fleet_worker_samples_failed_total (warmup included, like
//     the table: once the run has ended the workers' completions add up to
//     inferbench_total_samples_completed_total);
//   - gauges: inferbench_fleet_worker_lost (0 or 1),
//     inferbench_fleet_worker_in_flight, inferbench_fleet_worker_qps
//     (the worker's completions per second since the start),
//     inferbench_fleet_worker_issue_lateness_p99_seconds, and, once the
//     coordinator has an estimate, inferbench_fleet_worker_clock_offset_seconds
//     and inferbench_fleet_worker_clock_uncertainty_seconds.
//
// A lost worker stays in the table, so it keeps its counters (what it did
// before it was lost, its in-flight samples counted failed: the sums over
// workers stay the run's) and inferbench_fleet_worker_lost 1; its gauges are
// no longer served, so Prometheus marks them stale instead of showing the
// last values of a worker that is gone as if they were live.
//
// Every HELP text comes from the metric dictionary (metrics.Lookup); a name
// it does not know (another producer's) is still exported, with a generic
// HELP.
//
// Before the first Update the endpoint serves no inferbench metrics. An
// Exporter is safe for concurrent use; Update never blocks on a scrape.
package promexport

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/inferbench/inferbench/internal/metrics"
)

// Namespace prefixes every metric name.
const Namespace = "inferbench"

// Path is where Handler serves the metrics.
const Path = "/metrics"

// errorFamilies are the error counter families, each exported as one
// metric labelled by class; names and help come from the metric dictionary.
var errorFamilies = []struct{ prefix, name string }{
	{metrics.ErrorCounterPrefix, Namespace + "_errors_total"},
	{metrics.WarmupErrorCounterPrefix, Namespace + "_warmup_errors_total"},
	{metrics.OtherErrorCounterPrefix, Namespace + "_other_errors_total"},
}

// states lists every state, so the state gauge always has all five series.
var states = []metrics.State{metrics.StateInitialize, metrics.StateLive, metrics.StateDraining,
	metrics.StateComplete, metrics.StateInterrupted}

// Exporter holds the latest snapshot and serves it; see the package doc.
type Exporter struct {
	latest atomic.Pointer[metrics.Snapshot]
	reg    *prometheus.Registry
}

// New returns an exporter with no snapshot yet.
func New() *Exporter {
	e := &Exporter{reg: prometheus.NewRegistry()}
	// The collector is unchecked (it describes nothing up front) because the
	// error classes are only known from the snapshots; registering it cannot fail.
	e.reg.MustRegister(collector{e})
	return e
}

// Update makes s the snapshot served from now on. It never blocks, so it
// suits bench.Runner.OnSnapshot.
func (e *Exporter) Update(s metrics.Snapshot) { e.latest.Store(&s) }

// Handler serves the metrics in the Prometheus text format (or what the
// scraper negotiates) at any path; mount it at [Path].
func (e *Exporter) Handler() http.Handler {
	return promhttp.HandlerFor(e.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Gatherer returns the registry behind Handler, for tests and for merging
// into another registry.
func (e *Exporter) Gatherer() prometheus.Gatherer { return e.reg }

// ListenAndServe listens on addr (host:port) and serves [Path] until ctx
// ends; it returns nil after a clean shutdown.
func (e *Exporter) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("promexport: listen on %s: %w", addr, err)
	}
	return e.Serve(ctx, ln)
}

// Serve serves [Path] on ln until ctx ends, then closes ln; it returns nil
// after a clean shutdown.
func (e *Exporter) Serve(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle(Path, e.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("promexport: serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("promexport: shut down %s: %w", ln.Addr(), err)
	}
	return nil
}

// collector emits the exporter's latest snapshot.
type collector struct{ e *Exporter }

// Describe sends nothing: the collector is unchecked.
func (collector) Describe(chan<- *prometheus.Desc) {}

// Collect emits every metric of the latest snapshot.
func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.e.latest.Load()
	if s == nil {
		return
	}
	emit := func(desc *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		m, err := prometheus.NewConstMetric(desc, t, v, labels...)
		if err != nil {
			m = prometheus.NewInvalidMetric(desc, err)
		}
		ch <- m
	}
	stateDesc := prometheus.NewDesc(Namespace+"_state", "Session state of the latest snapshot (1 for the current one).", []string{"state"}, nil)
	for _, st := range states {
		v := 0.0
		if s.State == st {
			v = 1
		}
		emit(stateDesc, prometheus.GaugeValue, v, string(st))
	}
	emit(prometheus.NewDesc(Namespace+"_"+metrics.InFlightName, help(metrics.InFlightName), nil, nil),
		prometheus.GaugeValue, float64(metrics.InFlight(s)))
	emit(prometheus.NewDesc(Namespace+"_pending_token_counts", "Token counts not yet recorded (n_pending_tasks).", nil, nil),
		prometheus.GaugeValue, float64(s.NPendingTasks))
	emit(prometheus.NewDesc(Namespace+"_snapshot_counter", "Emit count of the latest snapshot.", nil, nil),
		prometheus.GaugeValue, float64(s.Counter))
	rates := metrics.RatesOf(s)
	qps, _ := rates.QPS()
	tps, _ := rates.TPS()
	emit(prometheus.NewDesc(Namespace+"_"+metrics.QPSName, help(metrics.QPSName), nil, nil),
		prometheus.GaugeValue, qps)
	emit(prometheus.NewDesc(Namespace+"_"+metrics.TPSName, help(metrics.TPSName), nil, nil),
		prometheus.GaugeValue, tps)
	if goodput, goodTPS, ok := metrics.Goodput(s); ok {
		emit(prometheus.NewDesc(Namespace+"_"+metrics.GoodputName, help(metrics.GoodputName), nil, nil),
			prometheus.GaugeValue, goodput)
		emit(prometheus.NewDesc(Namespace+"_"+metrics.GoodTPSName, help(metrics.GoodTPSName), nil, nil),
			prometheus.GaugeValue, goodTPS)
	}

	collectFleet(s.Fleet, emit)

	errDescs := make([]*prometheus.Desc, len(errorFamilies))
	for i, f := range errorFamilies {
		errDescs[i] = prometheus.NewDesc(f.name, help(f.prefix), []string{"class"}, nil)
	}
metricsLoop:
	for i := range s.Metrics {
		m := &s.Metrics[i]
		switch m.Kind {
		case metrics.KindCounter:
			for j, f := range errorFamilies {
				if class, ok := strings.CutPrefix(m.Name, f.prefix); ok {
					emit(errDescs[j], prometheus.CounterValue, m.Value.Float64(), class)
					continue metricsLoop
				}
			}
			name, div := BaseName(m.Name)
			emit(prometheus.NewDesc(name+"_total", help(m.Name), nil, nil),
				prometheus.CounterValue, m.Value.Float64()/div)
		case metrics.KindSeries:
			name, div := BaseName(m.Name)
			q := make(map[float64]float64, len(m.Percentiles))
			for _, p := range m.Percentiles {
				f, err := strconv.ParseFloat(p.Key, 64)
				if err != nil {
					continue
				}
				// Rounded so that "99.9" gives quantile 0.999, not 0.9990000000000001.
				q[math.Round(f*1e4)/1e6] = p.Value / div
			}
			desc := prometheus.NewDesc(name, help(m.Name)+" Quantiles from the snapshot's percentile grid.", nil, nil)
			sm, err := prometheus.NewConstSummary(desc, uint64(max(m.Count, 0)), m.Total.Float64()/div, q)
			if err != nil {
				sm = prometheus.NewInvalidMetric(desc, err)
			}
			ch <- sm
		}
	}
}

// help is the HELP text of a snapshot metric: its dictionary help, or a
// generic line for a name the dictionary does not know (a snapshot from
// another producer).
func help(name string) string {
	if d, ok := metrics.Lookup(name); ok {
		return d.Help
	}
	return "inferbench metric " + name + "."
}

// BaseName maps a snapshot metric name to its Prometheus name and the
// divisor that turns its values into the base unit: "ttft_ns" →
// ("inferbench_ttft_seconds", 1e9), "isl" → ("inferbench_isl", 1).
// Characters Prometheus does not allow become '_'.
func BaseName(name string) (string, float64) {
	div := 1.0
	if n, ok := strings.CutSuffix(name, "_ns"); ok {
		name, div = n+"_seconds", 1e9
	}
	b := []byte(Namespace + "_" + name)
	for i, c := range b {
		if !(c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b), div
}
