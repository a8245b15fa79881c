package bench_test

import (
	"context"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/client"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
)

// BenchmarkStreamed_spillMatchesMemory streams b.N requests of 250 chunks
// each from the mock server through the real client and load generator into
// two aggregators on the same bus: one spilling raw values to disk, one
// keeping them in memory. Every final percentile and histogram bucket of every
// series must be equal (the benchmark fails otherwise). It reports the chunk
// gaps recorded, the raw bytes on disk per chunk gap and the time of each
// final snapshot. Run it with e.g. -benchtime 80000x for 20 M chunk gaps.
func BenchmarkStreamed_spillMatchesMemory(b *testing.B) {
	const chunks = 250
	srv, err := mockserver.New(mockserver.Config{OutputTokens: chunks, Jitter: 0.3, TPOT: 20 * time.Microsecond})
	if err != nil {
		b.Fatal(err)
	}
	url := serveMock(b, srv)
	ccfg := client.DefaultConfig()
	ccfg.Endpoint, ccfg.Model, ccfg.Streaming, ccfg.MaxTokens = url, "mock-model", true, chunks
	cl, err := client.New(ccfg)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ds, err := dataset.Synthetic(dataset.SyntheticConfig{N: 1000, Input: dataset.Dist{Kind: dataset.DistFixed, Value: 16},
		Output: dataset.Dist{Kind: dataset.DistFixed, Value: chunks}, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	raw := filepath.Join(b.TempDir(), "raw")
	events := bus.NewInProc[event.Record](0)
	subSpill, subMem := events.Subscribe(), events.Subscribe()
	cfg := aggregator.Config{Streaming: true, Logger: quiet(), DrainTimeout: -1}
	mem, err := aggregator.New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg.RawDir, cfg.KeepRaw = raw, true
	spill, err := aggregator.New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	s, err := loadgen.New(loadgen.Config{Mode: loadgen.ModeOffline, NumSamples: b.N, MaxInFlight: 64, MaxTokens: chunks}, ds, cl, events)
	if err != nil {
		b.Fatal(err)
	}
	type out struct {
		snap metrics.Snapshot
		took time.Duration
	}
	cs2 := make(chan out, 1)
	run := func(a *aggregator.Aggregator, sub bus.Subscriber[event.Record], c chan<- out, after <-chan out) {
		for {
			batch, err := sub.Next(context.Background())
			if err != nil || a.Process(batch) {
				break
			}
		}
		if after != nil {
			// One final snapshot at a time, so that each is timed alone.
			o := <-after
			defer func() { cs2 <- o }()
		}
		t0 := time.Now()
		snap, _ := a.Finalize(metrics.StateComplete)
		c <- out{snap, time.Since(t0)}
	}
	cs, cm := make(chan out, 1), make(chan out, 1)
	b.ResetTimer()
	go run(spill, subSpill, cs, nil)
	go run(mem, subMem, cm, cs)
	res, err := s.Run(context.Background())
	if err != nil || res.Completed != int64(b.N) {
		b.Fatalf("%v: %d of %d completed", err, res.Completed, b.N)
	}
	_ = events.Close()
	om := <-cm
	os1 := <-cs2
	b.StopTimer()
	got, want := os1.snap, om.snap
	var gaps int64
	for _, w := range want.Metrics {
		if w.Kind != metrics.KindSeries {
			continue
		}
		g, ok := got.Find(w.Name)
		if !ok || g.Approximate || g.Count != w.Count || !slices.EqualFunc(g.Percentiles, w.Percentiles, func(a, b metrics.Percentile) bool {
			same := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
			return a.Key == b.Key && same(a.Value, b.Value) && same(a.Lo, b.Lo) && same(a.Hi, b.Hi) && same(a.ES, b.ES)
		}) || !slices.Equal(g.Histogram, w.Histogram) {
			b.Fatalf("%s differs: spilled %+v\nin memory %+v", w.Name, g, w)
		}
		if w.Name == metrics.SeriesChunkDelta {
			gaps = w.Count
		}
	}
	var bytes int64
	entries, _ := os.ReadDir(raw)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && e.Name() == metrics.RawFileName(metrics.SeriesChunkDelta) {
			bytes = fi.Size()
		}
	}
	b.ReportMetric(float64(gaps), "chunk-gaps")
	b.ReportMetric(float64(bytes)/float64(max(gaps, 1)), "disk-B/gap")
	b.ReportMetric(os1.took.Seconds(), "final-spill-s")
	b.ReportMetric(om.took.Seconds(), "final-memory-s")
	b.Logf("%d requests, %s chunk gaps, all percentiles and buckets equal", b.N, strconv.FormatInt(gaps, 10))
	runtime.KeepAlive(mem)
}

// serveMock serves srv on a loopback port until the benchmark ends.
func serveMock(b *testing.B, srv *mockserver.Server) string {
	ln, err := netListen()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	b.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String()
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
