package bench_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
)

// BenchmarkReplayMooncake replays the 500-request Mooncake-format trace of
// package trace's testdata (3.3 s) through a whole run against the mock
// server, at speed-up 1 and 10, and reports the run's scheduler lateness
// (issue time − the trace's time ÷ speed-up) from its final snapshot: p50,
// p99 and max in microseconds, the medians over b.N runs. On a shared
// machine run rounds of -benchtime 1x in a shell loop, so that its load
// falls on replay and Poisson alike.
func BenchmarkReplayMooncake(b *testing.B) {
	srv, err := mockserver.New(mockserver.Config{TTFT: time.Millisecond, TPOT: 100 * time.Microsecond})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	// Each replay is followed by a Poisson run at the trace's mean rate
	// (500 requests over 3.294 s ÷ speed-up) with prompts of the trace's
	// mean length, through the same pipeline: the reference to read the
	// replay's lateness against.
	for _, speedup := range []float64{1, 10} {
		for _, kind := range []string{"replay", "poisson"} {
			b.Run(fmt.Sprintf("%s/speedup=%g", kind, speedup), func(b *testing.B) {
				var p50, p99, pmax []float64
				for i := 0; i < b.N; i++ {
					m := replayRun(b, "http://"+ln.Addr().String(), kind, speedup)
					v50, _ := m.Percentile("50")
					v99, _ := m.Percentile("99")
					p50, p99, pmax = append(p50, v50), append(p99, v99), append(pmax, m.Max.Float64())
				}
				b.ReportMetric(median(p50)/1e3, "p50-us")
				b.ReportMetric(median(p99)/1e3, "p99-us")
				b.ReportMetric(median(pmax)/1e3, "max-us")
			})
		}
	}
}

// replayRun runs the trace (kind "replay") or its Poisson equivalent and
// returns the lateness series of the final snapshot.
func replayRun(b *testing.B, url, kind string, speedup float64) *metrics.Metric {
	dir, err := os.MkdirTemp("/tmp", "ibr")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.Endpoint.Endpoint = url
	cfg.Endpoint.Model = "mock-model"
	cfg.ReportDir = dir
	cfg.UI = "plain"
	rp, err := bench.LoadTrace(&config.Run{Dataset: config.Dataset{Trace: &config.Trace{Path: "../trace/testdata/mooncake_500.jsonl", Speedup: speedup}}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer rp.Close()
	ds := rp.Dataset
	if kind == "replay" {
		cfg.Load.Mode = "replay"
		cfg.Dataset.Trace = &config.Trace{Path: "../trace/testdata/mooncake_500.jsonl", Speedup: speedup}
	} else {
		cfg.Load.Mode = "poisson"
		cfg.Load.TargetQPS = 500 / 3.294 * speedup
		total := 0
		for _, r := range rp.Trace.Requests {
			total += r.InputLen
		}
		ds, err = dataset.Synthetic(dataset.SyntheticConfig{N: 500, Input: dataset.Dist{Kind: dataset.DistFixed, Value: total / 500},
			Output: dataset.Dist{Kind: dataset.DistFixed, Value: 32}, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
	}
	r, err := bench.New(cfg, ds, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	if kind == "replay" {
		r.Arrivals, r.Samples = rp.Arrivals, rp.Sample
	}
	out, err := r.Run(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	m, ok := out.Final.Find(metrics.SeriesLateness)
	if !ok || m.Count != 500 {
		b.Fatalf("lateness series %+v, want 500 values", m)
	}
	return m
}
