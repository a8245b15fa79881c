package aggregator_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/rundir"
)

// streamedRun is a session of n streamed samples of chunks chunks each, with
// jittered gaps, issued back to back.
func streamedRun(n, chunks int) []event.Record {
	r := rand.New(rand.NewPCG(9, 9))
	evs := []event.Record{ev(event.SessionStarted, 1, "", nil), ev(event.SessionStartTracking, 1, "", nil)}
	ts := int64(10)
	for i := range n {
		id := fmt.Sprint("s", i)
		evs = append(evs, ev(event.SampleIssued, ts, id, nil))
		ts += 1_000_000 + r.Int64N(30_000_000)
		evs = append(evs, ev(event.SampleRecvFirst, ts, id, nil))
		for range chunks - 1 {
			ts += 100_000 + r.Int64N(5_000_000)
			evs = append(evs, ev(event.SampleRecvNonFirst, ts, id, nil))
		}
		ts += 1000
		evs = append(evs, ev(event.SampleComplete, ts, id, event.Data(&event.Output{Text: "x", Streamed: true,
			Usage: &event.Usage{PromptTokens: 10, CompletionTokens: int64(chunks)}, FinishReason: "stop"})))
	}
	return append(evs, ev(event.SessionEnded, ts+1, "", nil))
}

func runAgg(t *testing.T, cfg aggregator.Config, evs []event.Record) metrics.Snapshot {
	t.Helper()
	s, err := runAggErr(t, cfg, evs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runAggErr(t *testing.T, cfg aggregator.Config, evs []event.Record) (metrics.Snapshot, error) {
	t.Helper()
	cfg.Streaming = true
	a := newAgg(t, cfg, nil)
	return a.Run(context.Background(), feed(evs))
}

func sameSeries(t *testing.T, got, want metrics.Snapshot) {
	t.Helper()
	for _, w := range want.Metrics {
		if w.Kind != metrics.KindSeries {
			continue
		}
		g := series(t, got, w.Name)
		if g.Approximate || g.Count != w.Count || g.Min != w.Min || g.Max != w.Max ||
			!slices.EqualFunc(g.Percentiles, w.Percentiles, samePercentile) || !slices.Equal(g.Histogram, w.Histogram) {
			t.Errorf("%s: spilled %+v\nin memory %+v", w.Name, g, w)
		}
	}
}

// samePercentile compares two percentile rows, bounds included, a NaN (no
// bound) equal to a NaN.
func samePercentile(a, b metrics.Percentile) bool {
	same := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
	return a.Key == b.Key && same(a.Value, b.Value) && same(a.Lo, b.Lo) && same(a.Hi, b.Hi) && same(a.ES, b.ES)
}

// TestAggregator_SpillLifecycle: a spilling aggregator's final snapshot equals
// the in-memory one's for the same events; the raw files are removed once the
// final snapshot is written, kept with KeepRaw (holding every value), and
// kept when the final write fails.
func TestAggregator_SpillLifecycle(t *testing.T) {
	evs := streamedRun(40, 120) // 4,760 chunk gaps: many 512-value blocks
	want := runAgg(t, aggregator.Config{}, evs)
	for _, tc := range []struct {
		name      string
		keep      bool
		badFinal  bool
		wantFiles bool
	}{
		{"removed", false, false, false},
		{"keep-raw", true, false, true},
		{"final-write-failed", false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			raw := filepath.Join(dir, "metrics", rundir.RawDir)
			final := filepath.Join(dir, "metrics", rundir.FinalFile)
			if tc.badFinal {
				final = filepath.Join(dir, "missing", rundir.FinalFile)
			}
			got, err := runAggErr(t, aggregator.Config{FinalPath: final, RawDir: raw, KeepRaw: tc.keep, SpillBlock: 512}, evs)
			if (err != nil) != tc.badFinal {
				t.Fatalf("run: %v", err)
			}
			sameSeries(t, got, want)
			files, _ := filepath.Glob(filepath.Join(raw, "*"+metrics.RawExt))
			if tc.wantFiles != (len(files) > 0) {
				t.Fatalf("raw files %v, want some: %v", files, tc.wantFiles)
			}
			if !tc.wantFiles {
				if _, err := os.Stat(raw); !os.IsNotExist(err) {
					t.Errorf("raw directory left behind: %v", err)
				}
				return
			}
			if tc.keep {
				w := series(t, want, metrics.SeriesChunkDelta)
				m, info, err := metrics.RecomputeRaw(filepath.Join(raw, metrics.RawFileName(metrics.SeriesChunkDelta)),
					metrics.SeriesChunkDelta, nil, 0)
				if err != nil || info.Values != w.Count || !slices.EqualFunc(m.Percentiles, w.Percentiles, samePercentile) || !slices.Equal(m.Histogram, w.Histogram) {
					t.Errorf("recomputed from the kept file: %v %+v\n%+v", err, info, m)
				}
			}
		})
	}
}

// TestAggregator_SpillUnwritable: the raw directory cannot be created (its
// parent is a file); the run completes, the final snapshot is written, the
// series that lost values to the failed spill are marked approximate (the
// others stay exact), and every count is intact.
func TestAggregator_SpillUnwritable(t *testing.T) {
	evs := streamedRun(40, 120)
	want := runAgg(t, aggregator.Config{}, evs)
	dir := t.TempDir()
	blocker := filepath.Join(dir, "metrics")
	if err := os.WriteFile(blocker, []byte("not a directory"), 0o644); err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(dir, rundir.FinalFile)
	got := runAgg(t, aggregator.Config{FinalPath: final, RawDir: filepath.Join(blocker, rundir.RawDir), SpillBlock: 512}, evs)
	onDisk := readFinal(t, final)
	for _, snap := range []metrics.Snapshot{got, *onDisk} {
		for _, w := range want.Metrics {
			if w.Kind != metrics.KindSeries {
				continue
			}
			g := series(t, snap, w.Name)
			if g.Count != w.Count || g.Min.String() != w.Min.String() || g.Max.String() != w.Max.String() {
				t.Errorf("%s: rollups %d %v %v, want %d %v %v", w.Name, g.Count, g.Min, g.Max, w.Count, w.Min, w.Max)
			}
			if lost := w.Count > 512; g.Approximate != lost {
				t.Errorf("%s (%d values): approximate %v, want %v", w.Name, w.Count, g.Approximate, lost)
			}
		}
	}
	if got.CounterInt(metrics.TrackedCompleted) != 40 {
		t.Errorf("completed %d", got.CounterInt(metrics.TrackedCompleted))
	}
}
