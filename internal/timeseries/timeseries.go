// Package timeseries keeps a run's live snapshots as a compact time series:
// metrics/timeseries.jsonl in the run directory, one JSON line per publish
// interval with the counters, the requests in flight, the rates so far and
// over the interval, and the live p50/p90/p99 of the main series, for plots
// over time. A line is at most [MaxLine] bytes whatever the snapshot holds.
//
// A [Writer] is a snapshot subscriber beside the event log: it reads only
// snapshots (never the aggregator), takes them without blocking the
// publisher (a full queue drops a line and counts it), and writes each line
// with one append-only write, so that a killed run leaves every line but
// possibly a torn last one. Close drains the queue and syncs the file.
package timeseries

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/rundir"
)

// FileName is the time series' name inside the run's metrics directory.
const FileName = rundir.TimeseriesFile

// MaxLine bounds the length of one line, newline included.
const MaxLine = 2048

// queueLen is how many snapshots may wait for the writer (about 16 s at the
// default 250 ms interval).
const queueLen = 64

// Series are the series whose live percentiles each line carries, by the
// short name used in the line.
var Series = []struct{ Short, Name string }{
	{"ttft", metrics.SeriesTTFT},
	{"tpot", metrics.SeriesTPOT},
	{"latency", metrics.SeriesLatency},
	{"chunk_gap", metrics.SeriesChunkDelta},
	{"lateness", metrics.SeriesLateness},
}

// keys are the percentiles each line carries.
var keys = []string{"50.0", "90.0", "99.0"}

// Writer appends snapshots to a time series file; see the package doc. A nil
// *Writer discards what it is offered, so a run without a time series needs
// no special case.
type Writer struct {
	f       *os.File
	queue   chan metrics.Snapshot
	done    chan struct{}
	dropped atomic.Int64
	lines   atomic.Int64
	err     error // the first write error (owned by the writing goroutine until done)
	once    sync.Once
	mu      sync.Mutex // guards closed and sends on queue
	closed  bool
}

// Create opens path for appending (creating it) and starts the writer.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("timeseries: %w", err)
	}
	w := &Writer{f: f, queue: make(chan metrics.Snapshot, queueLen), done: make(chan struct{})}
	go w.run()
	return w, nil
}

// Offer queues a snapshot for writing; it never blocks (a full queue drops
// it). It is safe from any goroutine, and a no-op after Close.
func (w *Writer) Offer(s metrics.Snapshot) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	select {
	case w.queue <- s:
	default:
		w.dropped.Add(1)
	}
}

func (w *Writer) run() {
	defer close(w.done)
	var prev *metrics.Snapshot
	buf := make([]byte, 0, MaxLine)
	for s := range w.queue {
		buf = AppendLine(buf[:0], &s, prev)
		if w.err == nil {
			if _, err := w.f.Write(buf); err != nil {
				w.err = fmt.Errorf("timeseries: %w", err)
			} else {
				w.lines.Add(1)
			}
		}
		prev = &s
	}
}

// Lines returns the number of lines written so far.
func (w *Writer) Lines() int64 {
	if w == nil {
		return 0
	}
	return w.lines.Load()
}

// Dropped returns the number of snapshots dropped because the queue was full.
func (w *Writer) Dropped() int64 {
	if w == nil {
		return 0
	}
	return w.dropped.Load()
}

// Close writes what is queued, syncs and closes the file. It is idempotent
// and returns the first write, sync or close error.
func (w *Writer) Close() error {
	if w == nil {
		return nil
	}
	w.once.Do(func() {
		w.mu.Lock()
		w.closed = true
		close(w.queue)
		w.mu.Unlock()
		<-w.done
		errs := []error{w.err}
		if err := w.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("timeseries: %w", err))
		}
		if err := w.f.Close(); err != nil {
			errs = append(errs, fmt.Errorf("timeseries: %w", err))
		}
		w.err = errors.Join(errs...)
	})
	return w.err
}

// AppendLine appends the line of snapshot s (prev, the one before it, gives
// the per-interval rates; nil for the first) to b, newline included:
//
//	{"t_ns":…,"elapsed_s":…,"state":"live","issued":…,"completed":…,
//	 "failed":…,"good":…,"in_flight":…,"pending":…,"qps":…,"tps":…,
//	 "goodput":…,"interval_qps":…,"interval_tps":…,
//	 "p":{"ttft":[p50,p90,p99],…}}
//
// Counts are of tracked samples (good only with a goodput rule); rates are
// per second, "qps"/"tps"/"goodput" over the tracked duration so far, the
// interval ones since prev; percentiles are in the series' native units
// (nanoseconds). Missing numbers are null.
func AppendLine(b []byte, s, prev *metrics.Snapshot) []byte {
	start := len(b)
	issued := s.CounterInt(metrics.TrackedIssued)
	completed := s.CounterInt(metrics.TrackedCompleted)
	failed := s.CounterInt(metrics.TrackedFailed)
	durNS := s.CounterInt(metrics.TrackedDuration)
	secs := float64(durNS) / 1e9
	osl := oslTotal(s)

	b = append(b, `{"t_ns":`...)
	b = strconv.AppendInt(b, s.TimestampNS, 10)
	b = append(b, `,"elapsed_s":`...)
	b = num(b, float64(s.CounterInt(metrics.TotalDuration))/1e9)
	b = append(b, `,"state":`...)
	b = strconv.AppendQuote(b, trim(string(s.State), 16))
	for _, f := range []struct {
		k string
		v int64
	}{{"issued", issued}, {"completed", completed}, {"failed", failed},
		{metrics.InFlightName, metrics.InFlight(s)},
		{"pending", s.NPendingTasks}} {
		b = append(b, `,"`...)
		b = append(b, f.k...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, f.v, 10)
	}
	good, hasGood := s.Find(metrics.TrackedGood)
	if hasGood {
		b = append(b, `,"good":`...)
		b = strconv.AppendInt(b, s.CounterInt(metrics.TrackedGood), 10)
	}
	b = append(b, `,"qps":`...)
	b = num(b, float64(completed-failed)/secs)
	b = append(b, `,"tps":`...)
	b = num(b, osl/secs)
	if hasGood {
		b = append(b, `,"goodput":`...)
		b = num(b, good.Value.Float64()/secs)
	}
	if prev != nil {
		dt := float64(durNS-prev.CounterInt(metrics.TrackedDuration)) / 1e9
		done := (completed - failed) - (prev.CounterInt(metrics.TrackedCompleted) - prev.CounterInt(metrics.TrackedFailed))
		b = append(b, `,"interval_qps":`...)
		b = num(b, float64(done)/dt)
		b = append(b, `,"interval_tps":`...)
		b = num(b, (osl-oslTotal(prev))/dt)
	}
	b = append(b, `,"p":{`...)
	first := true
	for _, sr := range Series {
		m, ok := s.Find(sr.Name)
		if !ok || m.Kind != metrics.KindSeries || m.Count == 0 {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, sr.Short...)
		b = append(b, `":[`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			v, _ := m.Percentile(k)
			b = num(b, v)
		}
		b = append(b, ']')
	}
	b = append(b, "}}\n"...)
	if len(b)-start > MaxLine {
		// Cannot happen with the fixed fields above; kept as a guard so
		// that a line never exceeds its bound.
		b = append(b[:start], `{"truncated":true}`+"\n"...)
	}
	return b
}

func oslTotal(s *metrics.Snapshot) float64 {
	if m, ok := s.Find(metrics.SeriesOSL); ok && m.Kind == metrics.KindSeries {
		return m.Total.Float64()
	}
	return 0
}

// num appends f, or null when it is not a finite number; at most 6
// significant digits keep lines short.
func num(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'g', 6, 64)
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
