package cli_test

import (
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/cli"
	"github.com/inferbench/inferbench/internal/metrics"
)

// TestProgressLine renders the plain progress line from a snapshot with the
// aggregator's names and checks its figures, QPS and TPS as the metric
// dictionary defines them.
func TestProgressLine(t *testing.T) {
	reg := metrics.NewRegistry()
	set := func(name string, v int64) {
		c, err := reg.NewCounter(name, false)
		if err != nil {
			t.Fatal(err)
		}
		c.Set(v)
	}
	set(metrics.TrackedIssued, 10)
	set(metrics.TrackedCompleted, 8)
	set(metrics.TrackedFailed, 2)
	set(metrics.TrackedDuration, 2_000_000_000)
	osl, err := reg.NewSeries(metrics.SeriesOSL, metrics.SeriesOpts{Low: metrics.TokenLow, High: metrics.TokenHigh})
	if err != nil {
		t.Fatal(err)
	}
	ttft, err := reg.NewSeries(metrics.SeriesTTFT, metrics.SeriesOpts{})
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		osl.Record(100)
		ttft.Record(25_000_000)
	}
	s := reg.Snapshot(metrics.StateLive, 3, 1)
	tests := []struct {
		name     string
		target   int
		duration time.Duration
		want     string
	}{
		{"target", 20, 0, "[live    2.0s] completed 8/20, in flight 2, failed 2, 3.0 req/s, 300.0 tok/s, TTFT p50 25.0 ms, 3 token counts pending"},
		{"duration", 0, time.Minute, "[live    2.0s] completed 8 (2s of 60s), in flight 2, failed 2, 3.0 req/s, 300.0 tok/s, TTFT p50 25.0 ms, 3 token counts pending"},
		{"neither", 0, 0, "[live    2.0s] completed 8, in flight 2, failed 2, 3.0 req/s, 300.0 tok/s, TTFT p50 25.0 ms, 3 token counts pending"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cli.ProgressLine(s, tc.target, tc.duration); got != tc.want {
				t.Errorf("ProgressLine:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
