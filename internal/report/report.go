// Package report turns a metrics snapshot (normally the run's
// final_snapshot.json) into what a person reads: a summary (issued, completed
// = succeeded + failed, errors by class, finish reasons, the warmup and the
// errors that failed no sample apart, duration, QPS, TPS, and warnings for
// interrupted or incomplete runs) and a per-series breakdown (min, max, median, mean, sample standard
// deviation, histogram, percentiles), as text ([Report.WriteText]) and as
// result_summary.json ([Report.JSON]).
//
// Partial or malformed snapshots never make it fail: missing values print N/A.
package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/inferbench/inferbench/internal/atomicfile"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/rundir"
	"github.com/inferbench/inferbench/internal/verdict"
)

// Version is the tool version written into reports; the CLI sets it.
var Version = "dev"

// Value is a number that may be missing (NaN); JSON writes it as null and
// text as N/A.
type Value float64

// NA is the missing value.
var NA = Value(math.NaN())

// Valid reports whether v holds a number.
func (v Value) Valid() bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }

// MarshalJSON writes null for a missing value.
func (v Value) MarshalJSON() ([]byte, error) {
	if !v.Valid() {
		return []byte("null"), nil
	}
	return json.Marshal(float64(v))
}

// Percentile is one row of a series' percentile table. CI95 is its
// distribution-free 95 % confidence interval (from the terminal snapshot; a
// null side: too few samples), absent from a live snapshot's report.
type Percentile struct {
	Key   string    `json:"key"`
	Value Value     `json:"value"`
	CI95  *[2]Value `json:"ci95,omitempty"`
}

// Histogram is a series' histogram in display units.
type Histogram struct {
	Buckets [][2]Value `json:"buckets"`
	Counts  []int64    `json:"counts"`
}

// Section is the breakdown of one series, in display units.
type Section struct {
	Name        string       `json:"name"` // the series name, e.g. ttft_ns
	Title       string       `json:"title"`
	Unit        string       `json:"unit"`
	Count       int64        `json:"count"`
	Total       Value        `json:"total"`
	Min         Value        `json:"min"`
	Max         Value        `json:"max"`
	Median      Value        `json:"median"`
	Avg         Value        `json:"avg"`
	StdDev      Value        `json:"std_dev"`
	Percentiles []Percentile `json:"percentiles"`
	// EarlyStopping holds MLPerf LoadGen's early-stopping estimates (a 99 %
	// upper bound of each percentile ≥ 50; null below the minimum sample
	// count), as the Python tool writes them, for TTFT, TPOT and latency.
	EarlyStopping map[string]Value `json:"early_stopping_percentiles,omitempty"`
	Histogram     Histogram        `json:"histogram"`
	// Approximate: the percentiles and histogram are HDR estimates (±0.1 %),
	// not exact order statistics (the raw values could not be spilled).
	Approximate bool `json:"percentiles_approximate,omitempty"`
}

// Report is the content of result_summary.json.
//
// The sample counts are of tracked samples, as in the Python tool:
// n_samples_completed includes the failed ones (completed = succeeded +
// failed), and errors (by class) sums to n_samples_failed. Warmup samples,
// issued outside the tracking window, are reported apart in Warmup, and
// error records that failed no sample (an undecodable event, a session
// error) in OtherErrors, so that every sum in the report adds up.
type Report struct {
	Version       string `json:"version"`
	Source        string `json:"source,omitempty"` // the file it was built from
	Run           *Run   `json:"run,omitempty"`
	State         string `json:"state"`
	Complete      bool   `json:"complete"`
	NPendingTasks int64  `json:"n_pending_tasks"`
	Issued        int64  `json:"n_samples_issued"`
	Completed     int64  `json:"n_samples_completed"` // succeeded + failed
	Succeeded     int64  `json:"n_samples_succeeded"`
	Failed        int64  `json:"n_samples_failed"`
	TotalIssued   int64  `json:"n_samples_issued_total"` // tracked and warmup
	DurationNS    Value  `json:"duration_ns"`
	QPS           Value  `json:"qps"`
	TPS           Value  `json:"tps"`
	// Errors counts the tracked failures by class; it sums to Failed.
	Errors map[string]int64 `json:"errors,omitempty"`
	// FinishReasonCounts counts the tracked completions by finish_reason
	// (stop, length, tool_calls, content_filter, function_call, other),
	// zeros included; nil when the snapshot has no such counters.
	FinishReasonCounts map[string]int64 `json:"finish_reason_counts,omitempty"`
	// Warmup describes the samples issued outside the tracking window.
	Warmup *Samples `json:"warmup,omitempty"`
	// OtherErrors counts, by class, the error records that failed no sample.
	OtherErrors map[string]int64 `json:"other_errors,omitempty"`
	// RetriedRequests counts requests the client sent a second time because
	// the server closed a reused connection before answering (warmup
	// included); nil when the snapshot has no such counter.
	RetriedRequests *int64 `json:"retried_requests,omitempty"`
	// Queued counts the tracked samples that waited for a free
	// --max-concurrency slot (their waits are the queue_wait_ns section);
	// nil for a run without a cap.
	Queued *int64 `json:"queued_samples,omitempty"`
	// OSLAgreement compares the tokenizer's output counts with the server's
	// usage, when a run had both.
	OSLAgreement *Agreement `json:"osl_agreement,omitempty"`
	Warnings     []string   `json:"warnings,omitempty"`
	// RebuiltFrom names the event-log files the snapshot was rebuilt from
	// (see MarkRebuilt); NotRebuilt lists the series they could not give.
	RebuiltFrom []string `json:"rebuilt_from,omitempty"`
	NotRebuilt  []string `json:"series_not_rebuilt,omitempty"`
	// Goodput is the requests that met the goodput rule (--goodput).
	Goodput *verdict.GoodputStats `json:"goodput,omitempty"`
	// Verdict holds the SLO checks, the goodput rule's numbers and the
	// load-delivered check; see SetVerdict.
	Verdict *verdict.Result `json:"verdict,omitempty"`
	// Server is the server's own view of the run, from its Prometheus
	// metrics (and a GPU exporter's) scraped over the tracking window,
	// beside the client's numbers; nil when nothing was scraped.
	Server   *metrics.ServerView `json:"server,omitempty"`
	Sections []Section           `json:"metrics"`
	// Conversations summarizes a multi-turn run (counters, TTFT by turn).
	Conversations *Conversations `json:"conversations,omitempty"`
}

// Samples counts a group of samples (the warmup): completed = succeeded +
// failed, and Errors sums to Failed.
type Samples struct {
	Issued    int64            `json:"n_samples_issued"`
	Completed int64            `json:"n_samples_completed"`
	Succeeded int64            `json:"n_samples_succeeded"`
	Failed    int64            `json:"n_samples_failed"`
	Errors    map[string]int64 `json:"errors,omitempty"`
}

// Run describes what was measured, when the caller knows (the benchmark, or
// the run directory's config.yaml).
type Run struct {
	Endpoint    string  `json:"endpoint"`
	Model       string  `json:"model"`
	API         string  `json:"api"`
	Streaming   bool    `json:"streaming"`
	Mode        string  `json:"mode"`
	TargetQPS   float64 `json:"target_qps,omitempty"`
	Concurrency int     `json:"concurrency,omitempty"`
	Dataset     string  `json:"dataset"`
	// MaxConcurrency is the cap on requests in flight of an online run
	// (--max-concurrency); Stages the rates or worker counts of a staged
	// run ("10:30s,20:30s"); RampUp its ramp ("60s").
	MaxConcurrency int    `json:"max_concurrency,omitempty"`
	Stages         string `json:"stages,omitempty"`
	RampUp         string `json:"ramp_up,omitempty"`
	// MultiTurn: the dataset's rows are conversations, and TargetQPS and
	// Concurrency count conversations.
	MultiTurn bool `json:"multi_turn,omitempty"`
	// Burstiness is the shape K of the gamma inter-arrival times of a
	// poisson run when one was given (--burstiness; 1 is Poisson, below 1
	// burstier, above 1 smoother).
	Burstiness float64 `json:"burstiness,omitempty"`
}

// Agreement compares two token counts of the same samples.
type Agreement struct {
	Compared    int64 `json:"compared"`
	Differ      int64 `json:"differ"`
	DifferShare Value `json:"differ_share"`
	MeanRelDiff Value `json:"mean_relative_difference"`
}

// sections are the series the report breaks down, in order; their titles,
// display units and scales come from the metric dictionary.
var sections = []string{
	metrics.SeriesTTFT,
	metrics.SeriesTPOT,
	metrics.SeriesChunkDelta,
	metrics.SeriesLatency,
	metrics.SeriesFailedLatency,
	metrics.SeriesISL,
	metrics.SeriesOSL,
	metrics.SeriesOSLUsage,
	metrics.SeriesLateness,
	metrics.SeriesQueueWait,
	metrics.SeriesConversationLatency,
}

// Build derives a report from a snapshot.
func Build(s *metrics.Snapshot) *Report {
	r := &Report{
		Version:       Version,
		State:         string(s.State),
		Complete:      s.Complete(),
		NPendingTasks: s.NPendingTasks,
		Issued:        s.CounterInt(metrics.TrackedIssued),
		Completed:     s.CounterInt(metrics.TrackedCompleted),
		Failed:        s.CounterInt(metrics.TrackedFailed),
		TotalIssued:   s.CounterInt(metrics.TotalIssued),
		DurationNS:    NA,
		QPS:           NA,
		TPS:           NA,
	}
	if r.State == "" {
		r.State = string(metrics.StateInterrupted)
	}
	r.Succeeded = r.Completed - r.Failed
	rates := metrics.RatesOf(s)
	if rates.TrackedNS > 0 {
		r.DurationNS = Value(rates.TrackedNS)
	}
	if qps, ok := rates.QPS(); ok {
		r.QPS = Value(qps)
	}
	if tps, ok := rates.TPS(); ok {
		r.TPS = Value(tps)
	}
	var warmupErrors map[string]int64
	add := func(dst *map[string]int64, key string, m *metrics.Metric) {
		if *dst == nil {
			*dst = map[string]int64{}
		}
		v, _ := m.Value.Int64()
		(*dst)[key] += v
	}
	for i := range s.Metrics {
		m := &s.Metrics[i]
		if m.Kind != metrics.KindCounter {
			continue
		}
		if class, ok := strings.CutPrefix(m.Name, metrics.ErrorCounterPrefix); ok && class != "" {
			add(&r.Errors, class, m)
		} else if class, ok := strings.CutPrefix(m.Name, metrics.WarmupErrorCounterPrefix); ok && class != "" {
			add(&warmupErrors, class, m)
		} else if class, ok := strings.CutPrefix(m.Name, metrics.OtherErrorCounterPrefix); ok && class != "" {
			add(&r.OtherErrors, class, m)
		} else if reason, ok := strings.CutPrefix(m.Name, metrics.FinishReasonPrefix); ok && slices.Contains(metrics.FinishReasons, reason) {
			add(&r.FinishReasonCounts, reason, m)
		}
	}
	if r.FinishReasonCounts != nil {
		for _, reason := range metrics.FinishReasons {
			r.FinishReasonCounts[reason] += 0
		}
	}
	if w := r.TotalIssued - r.Issued; w > 0 || warmupErrors != nil {
		// Clamped: a snapshot may lack the total counters (a hand-made one).
		completed := max(s.CounterInt(metrics.TotalCompleted)-r.Completed, 0)
		failed := min(max(s.CounterInt(metrics.TotalFailed)-r.Failed, 0), completed)
		r.Warmup = &Samples{Issued: w, Completed: completed, Succeeded: completed - failed, Failed: failed, Errors: warmupErrors}
	}
	if m, ok := s.Find(metrics.RetriedRequests); ok && m.Kind == metrics.KindCounter {
		v, _ := m.Value.Int64()
		r.RetriedRequests = &v
	}
	if m, ok := s.Find(metrics.TrackedQueued); ok && m.Kind == metrics.KindCounter {
		v, _ := m.Value.Int64()
		r.Queued = &v
	}
	if n := s.CounterInt(metrics.OSLCompared); n > 0 {
		rel, _ := s.Find(metrics.OSLRelDiffSum)
		ag := &Agreement{Compared: n, Differ: s.CounterInt(metrics.OSLMismatched), MeanRelDiff: NA}
		ag.DifferShare = Value(float64(ag.Differ) / float64(n))
		if rel != nil {
			ag.MeanRelDiff = Value(rel.Value.Float64() / float64(n))
		}
		r.OSLAgreement = ag
	}
	switch {
	case r.State == string(metrics.StateInterrupted):
		r.Warnings = append(r.Warnings, "run was interrupted (SIGTERM/SIGINT): the metrics are what was recorded until then")
	case r.State != string(metrics.StateComplete):
		r.Warnings = append(r.Warnings, fmt.Sprintf("no final snapshot: this report comes from a %s snapshot and its percentiles are estimates", r.State))
	case r.NPendingTasks > 0:
		r.Warnings = append(r.Warnings, fmt.Sprintf("report is incomplete: the drain timed out with %d token counts pending, so ISL/OSL/TPOT miss some samples", r.NPendingTasks))
	}
	for _, name := range sections {
		m, ok := s.Find(name)
		if !ok || m.Kind != metrics.KindSeries || m.Count == 0 {
			continue
		}
		d, _ := metrics.Lookup(name)
		r.Sections = append(r.Sections, section(m, d.Title, d.DisplayUnit, d.DisplayScale))
	}
	r.buildConversations(s)
	for _, m := range s.Metrics {
		if m.Kind == metrics.KindSeries && m.Approximate {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s: percentiles and histogram are approximate (HDR, ±0.1 %%): its raw values could not be written to disk", m.Name))
		}
	}
	return r
}

func section(m *metrics.Metric, title, unit string, scale float64) Section {
	sc := func(f float64) Value { return Value(f * scale) }
	n := m.Count
	sec := Section{
		Name: m.Name, Title: title, Unit: unit, Count: n,
		Total: sc(m.Total.Float64()), Min: sc(m.Min.Float64()), Max: sc(m.Max.Float64()),
		Avg: sc(m.Total.Float64() / float64(n)), StdDev: Value(stdDev(m) * scale),
		Approximate: m.Approximate,
	}
	if med, ok := m.Percentile("50.0"); ok {
		sec.Median = sc(med)
	} else {
		sec.Median = sc((m.Min.Float64() + m.Max.Float64()) / 2)
	}
	for _, p := range m.Percentiles {
		row := Percentile{Key: p.Key, Value: sc(p.Value)}
		if m.Bounds {
			row.CI95 = &[2]Value{sc(p.Lo), sc(p.Hi)}
		}
		sec.Percentiles = append(sec.Percentiles, row)
	}
	if m.Bounds && earlyStoppingSeries[m.Name] {
		sec.EarlyStopping = map[string]Value{}
		for _, p := range m.Percentiles {
			if k, err := strconv.ParseFloat(p.Key, 64); err == nil && k >= 50 {
				sec.EarlyStopping[p.Key] = sc(p.ES)
			}
		}
	}
	for _, b := range m.Histogram {
		sec.Histogram.Buckets = append(sec.Histogram.Buckets, [2]Value{sc(b.Lo), sc(b.Hi)})
		sec.Histogram.Counts = append(sec.Histogram.Counts, b.Count)
	}
	return sec
}

// stdDev is the sample standard deviation (n−1). For integer rollups it uses
// the exact integer numerator n·Σx² − (Σx)², which does not cancel
// catastrophically for nanosecond-scale values.
func stdDev(m *metrics.Metric) float64 {
	n := m.Count
	if n < 2 {
		return 0
	}
	if tb, sb := m.Total.Big(), m.SumSq.Big(); tb != nil && sb != nil {
		num := new(big.Int).Mul(big.NewInt(n), sb)
		num.Sub(num, new(big.Int).Mul(tb, tb))
		if num.Sign() <= 0 {
			return 0
		}
		f, _ := new(big.Float).SetInt(num).Float64()
		return math.Sqrt(f) / math.Sqrt(float64(n)*float64(n-1))
	}
	total, sumSq := m.Total.Float64(), m.SumSq.Float64()
	v := (sumSq - total*total/float64(n)) / float64(n-1)
	if !(v > 0) {
		return 0
	}
	return math.Sqrt(v)
}

// JSON returns the report as indented JSON (result_summary.json).
func (r *Report) JSON() ([]byte, error) {
	// Not HTML-escaped: SLO expressions keep their < and >.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ErrNoSnapshot is returned when a path holds no snapshot to report on.
var ErrNoSnapshot = errors.New("report: no metrics snapshot")

// Load reads a snapshot from a final_snapshot.json file or from a run
// directory (its metrics/final_snapshot.json). It returns the file it read.
func Load(path string) (*metrics.Snapshot, string, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, path, fmt.Errorf("%w: %s does not exist", ErrNoSnapshot, path)
		}
		return nil, path, fmt.Errorf("report: %w", err)
	}
	file := path
	if st.IsDir() {
		file = rundir.Final(path)
		if _, err := os.Stat(file); err != nil {
			if alt := filepath.Join(path, rundir.FinalFile); fileExists(alt) {
				file = alt
			} else {
				return nil, file, fmt.Errorf("%w: %s holds no %s/%s", ErrNoSnapshot, path, rundir.MetricsDir, rundir.FinalFile)
			}
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, file, fmt.Errorf("report: %w", err)
	}
	s, err := metrics.ParseJSON(data)
	if err != nil {
		return nil, file, fmt.Errorf("%w: %s: %v", ErrNoSnapshot, file, err)
	}
	if !hasMetricsList(data) {
		// ParseJSON takes any object (partial snapshots are still
		// reported); a file without the list is some other JSON.
		return nil, file, fmt.Errorf("%w: %s is JSON but not a metrics snapshot (no \"metrics\" list)", ErrNoSnapshot, file)
	}
	return s, file, nil
}

// hasMetricsList reports whether a JSON object has a "metrics" array, as
// every snapshot (ours and the Python tool's) does.
func hasMetricsList(data []byte) bool {
	var top struct {
		Metrics json.RawMessage `json:"metrics"`
	}
	if json.Unmarshal(data, &top) != nil {
		return false
	}
	m := bytes.TrimSpace(top.Metrics)
	return len(m) > 0 && m[0] == '['
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// WriteFiles writes result_summary.json and report.txt into dir, each
// atomically (a failure leaves no partial file).
func (r *Report) WriteFiles(dir string) error {
	data, err := r.JSON()
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(rundir.Summary(dir), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := atomicfile.Write(rundir.Text(dir), 0o644, r.WriteText); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
