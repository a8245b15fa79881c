package report

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/inferbench/inferbench/internal/metrics"
)

// barWidth is the length of the longest histogram bar.
const barWidth = 30

func (v Value) text(unit string) string {
	if !v.Valid() {
		return "N/A"
	}
	if unit == "" {
		return fmt.Sprintf("%.2f", float64(v))
	}
	return fmt.Sprintf("%.2f %s", float64(v), unit)
}

// short formats a histogram edge with about four significant digits, so
// that edges below 0.01 do not all print as 0.00.
func (v Value) short() string {
	f := float64(v)
	switch {
	case !v.Valid():
		return "N/A"
	case math.Abs(f) >= 100:
		return strconv.FormatFloat(f, 'f', 1, 64)
	case math.Abs(f) >= 1 || f == 0:
		return strconv.FormatFloat(f, 'f', 2, 64)
	}
	return strconv.FormatFloat(f, 'g', 3, 64)
}

// WriteSummary writes the summary block.
func (r *Report) WriteSummary(w io.Writer) error {
	bw := bufio.NewWriter(w)
	r.summary(bw)
	return bw.Flush()
}

func (r *Report) summary(w *bufio.Writer) {
	fmt.Fprintln(w, "----------------- Summary -----------------")
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
	fmt.Fprintf(w, "Version: %s\n", r.Version)
	if run := r.Run; run != nil {
		stream := "streaming"
		if !run.Streaming {
			stream = "not streaming"
		}
		fmt.Fprintf(w, "Endpoint: %s (model %s, %s API, %s)\n", run.Endpoint, run.Model, run.API, stream)
		load := run.Mode
		switch {
		case run.TargetQPS > 0 && run.Stages == "" && run.MultiTurn:
			load += fmt.Sprintf(" at %g conversations/s", run.TargetQPS)
		case run.TargetQPS > 0 && run.Stages == "":
			load += fmt.Sprintf(" at %g req/s", run.TargetQPS)
		case run.Concurrency > 0 && run.Stages == "" && run.MultiTurn:
			load = fmt.Sprintf("%d concurrent conversations", run.Concurrency)
		case run.Concurrency > 0 && run.Stages == "":
			load = fmt.Sprintf("%d concurrent requests", run.Concurrency)
		}
		switch {
		case run.Stages != "":
			load += " in stages " + run.Stages
		case run.RampUp != "":
			load += ", ramped up over " + run.RampUp
		}
		if run.Burstiness > 0 {
			load += fmt.Sprintf(", burstiness %g (gamma inter-arrivals)", run.Burstiness)
		}
		if run.MaxConcurrency > 0 {
			load += fmt.Sprintf(", at most %d in flight", run.MaxConcurrency)
		}
		if run.MultiTurn {
			load += " (multi-turn)"
		}
		fmt.Fprintf(w, "Load: %s; dataset %s\n", load, run.Dataset)
	}
	fmt.Fprintf(w, "State: %s\n", r.State)
	fmt.Fprintf(w, "Total samples issued: %d\n", r.Issued)
	fmt.Fprintf(w, "Total samples completed: %d (succeeded %d + failed %d)\n", r.Completed, r.Succeeded, r.Failed)
	fmt.Fprintf(w, "Total samples failed: %d\n", r.Failed)
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "Errors by class: %s\n", classes(r.Errors))
	}
	if fr := r.FinishReasonCounts; fr != nil {
		parts := make([]string, 0, len(metrics.FinishReasons)+1)
		var sum int64
		for _, reason := range metrics.FinishReasons {
			parts = append(parts, fmt.Sprintf("%s=%d", reason, fr[reason]))
			sum += fr[reason]
		}
		// Failed requests usually end without one: say how many, so that the
		// line adds up to the completed count.
		if none := r.Completed - sum; none > 0 {
			parts = append(parts, fmt.Sprintf("none=%d", none))
		}
		fmt.Fprintf(w, "Finish reasons: %s\n", strings.Join(parts, ", "))
	}
	if wu := r.Warmup; wu != nil {
		fmt.Fprintf(w, "Warmup samples (not in the counts above): issued %d, completed %d (succeeded %d + failed %d)",
			wu.Issued, wu.Completed, wu.Succeeded, wu.Failed)
		if len(wu.Errors) > 0 {
			fmt.Fprintf(w, "; errors by class: %s", classes(wu.Errors))
		}
		fmt.Fprintln(w)
	}
	if len(r.OtherErrors) > 0 {
		fmt.Fprintf(w, "Errors that failed no sample (not in the counts above): %s\n", classes(r.OtherErrors))
	}
	if n := r.RetriedRequests; n != nil {
		fmt.Fprintf(w, "Retried requests: %d (sent again after the server closed a reused connection before answering)\n", *n)
	}
	if n := r.Queued; n != nil {
		fmt.Fprintf(w, "Queued for a --max-concurrency slot: %d of %d samples (the wait is the queue wait below, never in TTFT or latency)\n", *n, r.Issued)
	}
	if r.DurationNS.Valid() {
		fmt.Fprintf(w, "Duration: %.2f seconds\n", float64(r.DurationNS)/1e9)
	} else {
		fmt.Fprintln(w, "Duration: N/A")
	}
	fmt.Fprintf(w, "%s: %s\n", metrics.Title(metrics.QPSName), r.QPS.text(""))
	fmt.Fprintf(w, "%s: %s\n", metrics.Title(metrics.TPSName), r.TPS.text(""))
	r.writeVerdict(w)
	r.writeConversations(w)
	if ag := r.OSLAgreement; ag != nil {
		fmt.Fprintf(w, "OSL tokenizer vs server usage: %d samples compared, %d differ (%.1f%%), mean relative difference %.2f%%\n",
			ag.Compared, ag.Differ, 100*float64(ag.DifferShare), 100*float64(ag.MeanRelDiff))
	}
	fmt.Fprintln(w, "----------------- End of Summary -----------------")
}

// classes formats error counts by class, sorted by class: "a=1, b=2".
func classes(m map[string]int64) string {
	names := make([]string, 0, len(m))
	for c := range m {
		names = append(names, c)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, c := range names {
		parts[i] = fmt.Sprintf("%s=%d", c, m[c])
	}
	return strings.Join(parts, ", ")
}

// WriteText writes the whole report: the summary and every series section.
func (r *Report) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	r.summary(bw)
	fmt.Fprintln(bw)
	r.writeServer(bw)
	fmt.Fprintln(bw, "------------------- Latency Breakdowns -------------------")
	for i := range r.Sections {
		r.Sections[i].write(bw)
	}
	fmt.Fprintln(bw, "----------------- End of Report -----------------")
	return bw.Flush()
}

func (s *Section) write(w *bufio.Writer) {
	fmt.Fprintf(w, "%s (%d samples):\n", s.Title, s.Count)
	fmt.Fprintf(w, "  Min: %s\n", s.Min.text(s.Unit))
	fmt.Fprintf(w, "  Max: %s\n", s.Max.text(s.Unit))
	fmt.Fprintf(w, "  Median: %s\n", s.Median.text(s.Unit))
	fmt.Fprintf(w, "  Avg.: %s\n", s.Avg.text(s.Unit))
	fmt.Fprintf(w, "  Std Dev.: %s\n", s.StdDev.text(s.Unit))
	if len(s.Histogram.Counts) > 0 {
		fmt.Fprintln(w)
		if s.Approximate {
			fmt.Fprintln(w, "  Histogram (approximate: from the HDR view):")
		} else {
			fmt.Fprintln(w, "  Histogram:")
		}
		// Empty buckets at either end are not printed: the log-spaced range
		// spans at least a decade, so narrow distributions leave many.
		first, last := 0, len(s.Histogram.Counts)-1
		for first < last && s.Histogram.Counts[first] == 0 {
			first++
		}
		for last > first && s.Histogram.Counts[last] == 0 {
			last--
		}
		labels := make([]string, len(s.Histogram.Buckets))
		width := 0
		for i := first; i <= last; i++ {
			b := s.Histogram.Buckets[i]
			closeB := ")"
			if i == len(s.Histogram.Buckets)-1 {
				closeB = "]"
			}
			labels[i] = fmt.Sprintf("[%s, %s%s", b[0].short(), b[1].short(), closeB)
			width = max(width, len(labels[i]))
		}
		maxCount := slices.Max(s.Histogram.Counts)
		for i := first; i <= last; i++ {
			c := s.Histogram.Counts[i]
			bar := 0
			if maxCount > 0 {
				bar = int(c * barWidth / maxCount)
			}
			fmt.Fprintf(w, "    %*s |%s %d\n", width, labels[i], strings.Repeat("#", bar), c)
		}
	}
	if len(s.Percentiles) > 0 {
		fmt.Fprintln(w)
		if s.Approximate {
			fmt.Fprintln(w, "  Percentiles (approximate: HDR, ±0.1 %; the raw values could not be kept):")
		} else {
			fmt.Fprintln(w, "  Percentiles:")
		}
		for _, p := range s.Percentiles {
			fmt.Fprintf(w, "    %6s: %s", p.Key, p.Value.text(s.Unit))
			if p.CI95 != nil {
				fmt.Fprintf(w, "  (95%% CI %s .. %s)", p.CI95[0].short(), p.CI95[1].short())
			}
			if es, ok := s.EarlyStopping[p.Key]; ok && es.Valid() {
				fmt.Fprintf(w, "  early-stopping %s", es.short())
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w)
}
