package aggregator_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/rundir"
)

// ev builds a record; data may be nil.
func ev(t event.Type, ts int64, uuid string, data event.Data) event.Record {
	return event.Record{Type: t, TimestampNS: ts, SampleUUID: uuid, Data: data}
}

func newAgg(t *testing.T, cfg aggregator.Config, pub bus.Publisher[metrics.Snapshot]) *aggregator.Aggregator {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	}
	a, err := aggregator.New(cfg, pub)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func series(t *testing.T, s metrics.Snapshot, name string) *metrics.Metric {
	t.Helper()
	m, ok := s.Find(name)
	if !ok {
		t.Fatalf("no series %q", name)
	}
	return m
}

func TestAggregator_Tracking(t *testing.T) {
	tests := []struct {
		name   string
		events []event.Record
		check  func(t *testing.T, s metrics.Snapshot)
	}{
		{
			name: "issued before first start-tracking gets no row",
			events: []event.Record{
				ev(event.SessionStarted, 0, "", nil),
				ev(event.SampleIssued, 10, "a", nil),
				ev(event.SessionStartTracking, 20, "", nil),
				ev(event.SampleRecvFirst, 30, "a", nil),
				ev(event.SampleComplete, 40, "a", nil),
			},
			check: func(t *testing.T, s metrics.Snapshot) {
				if n := series(t, s, metrics.SeriesLatency).Count; n != 0 {
					t.Errorf("latency count %d, want 0", n)
				}
				if s.CounterInt(metrics.TotalIssued) != 1 || s.CounterInt(metrics.TrackedIssued) != 0 {
					t.Errorf("issued total %d tracked %d", s.CounterInt(metrics.TotalIssued), s.CounterInt(metrics.TrackedIssued))
				}
			},
		},
		{
			name: "issued between windows gets no row; in-window sample completing after stop records",
			events: []event.Record{
				ev(event.SessionStarted, 0, "", nil),
				ev(event.SessionStartTracking, 0, "", nil),
				ev(event.SampleIssued, 100, "in", nil),
				ev(event.SessionStopTracking, 200, "", nil),
				ev(event.SampleIssued, 250, "between", nil),
				ev(event.SampleRecvFirst, 300, "in", nil),
				ev(event.SampleRecvFirst, 310, "between", nil),
				ev(event.SampleComplete, 500, "in", nil),
				ev(event.SampleComplete, 510, "between", nil),
			},
			check: func(t *testing.T, s metrics.Snapshot) {
				ttft, lat := series(t, s, metrics.SeriesTTFT), series(t, s, metrics.SeriesLatency)
				if ttft.Count != 1 || ttft.Total.String() != "200" || lat.Count != 1 || lat.Total.String() != "400" {
					t.Errorf("ttft %d/%v latency %d/%v, want 1/200 and 1/400", ttft.Count, ttft.Total, lat.Count, lat.Total)
				}
				if d := s.CounterInt(metrics.TrackedDuration); d != 500 {
					t.Errorf("tracked duration %d, want 500 (window runs to the last tracked completion)", d)
				}
			},
		},
		{
			name: "two windows 0→700 and 800→1000 give 900",
			events: []event.Record{
				ev(event.SessionStarted, 0, "", nil),
				ev(event.SessionStartTracking, 0, "", nil),
				ev(event.SampleIssued, 100, "a", nil),
				ev(event.SampleComplete, 700, "a", nil),
				ev(event.SessionStopTracking, 750, "", nil),
				ev(event.SampleIssued, 760, "between", nil),
				ev(event.SessionStartTracking, 800, "", nil),
				ev(event.SampleIssued, 850, "b", nil),
				ev(event.SampleComplete, 1000, "b", nil),
				ev(event.SampleComplete, 1100, "between", nil),
				ev(event.SessionStopTracking, 1200, "", nil),
			},
			check: func(t *testing.T, s metrics.Snapshot) {
				if d := s.CounterInt(metrics.TrackedDuration); d != 900 {
					t.Errorf("tracked duration %d, want 900", d)
				}
				if n := s.CounterInt(metrics.TrackedCompleted); n != 2 {
					t.Errorf("tracked completed %d, want 2", n)
				}
				if n := s.CounterInt(metrics.TotalCompleted); n != 3 {
					t.Errorf("total completed %d, want 3", n)
				}
			},
		},
		{
			name: "timing series of interleaved streamed samples",
			events: []event.Record{
				ev(event.SessionStarted, 0, "", nil),
				ev(event.SessionStartTracking, 0, "", nil),
				ev(event.SampleIssued, 1000, "a", nil),
				ev(event.SampleIssued, 1100, "b", nil),
				ev(event.SampleRecvFirst, 2000, "a", nil),
				ev(event.SampleRecvNonFirst, 3000, "a", nil),
				ev(event.SampleRecvFirst, 2600, "b", nil),
				ev(event.SampleRecvNonFirst, 4500, "a", nil),
				ev(event.SampleComplete, 5000, "a", nil),
				ev(event.SampleComplete, 3600, "b", nil),
				ev(event.SampleRecvFirst, 9000, "unknown", nil),
			},
			check: func(t *testing.T, s metrics.Snapshot) {
				ttft, cd, lat := series(t, s, metrics.SeriesTTFT), series(t, s, metrics.SeriesChunkDelta), series(t, s, metrics.SeriesLatency)
				if ttft.Count != 2 || ttft.Total.String() != "2500" {
					t.Errorf("ttft %d/%v, want 2/2500", ttft.Count, ttft.Total)
				}
				if cd.Count != 2 || cd.Total.String() != "2500" {
					t.Errorf("chunk deltas %d/%v, want 2/2500", cd.Count, cd.Total)
				}
				if lat.Count != 2 || lat.Total.String() != "6500" {
					t.Errorf("latency %d/%v, want 2/6500", lat.Count, lat.Total)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgg(t, aggregator.Config{Streaming: true}, nil)
			a.Process(tc.events)
			a.Process([]event.Record{ev(event.SessionEnded, 5000, "", nil)})
			s, err := a.Finalize(metrics.StateComplete)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestAggregator_ErrorOrder(t *testing.T) {
	errData := &event.ErrorData{Type: "http_status", Message: "500"}
	tests := []struct {
		name                      string
		tail                      []event.Record
		wantTotal, wantTracked    int64
		wantLatency, wantFailedLt int64
	}{
		// The session publishes the error before the completion because the
		// completion removes the tracked row: an error after it cannot be
		// attributed to a tracked sample.
		{"error then complete", []event.Record{ev(event.ErrorGeneric, 20, "u", errData), ev(event.SampleComplete, 30, "u", nil)}, 1, 1, 0, 1},
		{"complete then error", []event.Record{ev(event.SampleComplete, 30, "u", nil), ev(event.ErrorGeneric, 40, "u", errData)}, 1, 0, 1, 0},
		// An error without a sample fails no sample (unlike the Python tool,
		// which counts it in total_samples_failed): it is an "other" error.
		{"error without uuid, rest of batch processed", []event.Record{ev(event.ErrorGeneric, 20, "", nil), ev(event.SampleComplete, 1010, "u", nil)}, 0, 0, 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAgg(t, aggregator.Config{}, nil)
			a.Process(append([]event.Record{
				ev(event.SessionStarted, 0, "", nil),
				ev(event.SessionStartTracking, 0, "", nil),
				ev(event.SampleIssued, 10, "u", nil),
			}, tc.tail...))
			s := a.Snapshot()
			if got := s.CounterInt(metrics.TotalFailed); got != tc.wantTotal {
				t.Errorf("total failed %d, want %d", got, tc.wantTotal)
			}
			if got := s.CounterInt(metrics.TrackedFailed); got != tc.wantTracked {
				t.Errorf("tracked failed %d, want %d", got, tc.wantTracked)
			}
			if got := series(t, s, metrics.SeriesLatency).Count; got != tc.wantLatency {
				t.Errorf("latency count %d, want %d", got, tc.wantLatency)
			}
			if got := series(t, s, metrics.SeriesFailedLatency).Count; got != tc.wantFailedLt {
				t.Errorf("failed latency count %d, want %d (failed samples kept apart)", got, tc.wantFailedLt)
			}
		})
	}
}

func TestAggregator_SessionEvents(t *testing.T) {
	var logs bytes.Buffer
	a := newAgg(t, aggregator.Config{Streaming: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, nil)
	ended := a.Process([]event.Record{
		ev(event.SessionStarted, 42, "", nil),
		ev(event.SessionStarted, 99, "", nil),
		ev(event.SessionStartTracking, 50, "", nil),
		ev(event.SampleIssued, 60, "a", nil),
		ev(event.SessionEnded, 70, "", nil),
		ev(event.SampleRecvFirst, 80, "a", nil),
	})
	if !ended {
		t.Fatal("ended not reported")
	}
	if a.Process([]event.Record{ev(event.SampleComplete, 90, "a", nil)}) != true {
		t.Error("a batch after ended was processed")
	}
	s := a.Snapshot()
	if n := series(t, s, metrics.SeriesTTFT).Count; n != 0 {
		t.Errorf("ttft recorded from an event after ended")
	}
	if s.State != metrics.StateDraining {
		t.Errorf("state %s, want draining", s.State)
	}
	if d := s.CounterInt(metrics.TotalDuration); d != 57 {
		t.Errorf("total duration %d, want 57 = 99 − 42: the first started stays the session start", d)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 || !strings.Contains(logs.String(), "42") || !strings.Contains(logs.String(), "99") {
		t.Errorf("want one error naming both timestamps, got:\n%s", logs.String())
	}
}

func TestAggregator_TokensFromIDsAndUsage(t *testing.T) {
	a := newAgg(t, aggregator.Config{Streaming: true}, nil)
	a.Process([]event.Record{
		ev(event.SessionStarted, 0, "", nil),
		ev(event.SessionStartTracking, 0, "", nil),
		ev(event.SampleIssued, 1000, "ids", &event.PromptData{TokenIDs: []int32{1, 2, 3, 4, 5}}),
		ev(event.SampleIssued, 1000, "text", &event.PromptData{Text: "hello world"}),
		ev(event.SampleRecvFirst, 2000, "text", nil),
		ev(event.SampleComplete, 5000, "text", &event.Output{Text: "aaaa bbbb cccc", Streamed: true, FirstChunkLen: 4,
			Usage: &event.Usage{PromptTokens: 7, CompletionTokens: 4}}),
	})
	s := a.Snapshot()
	isl, osl, tpot := series(t, s, metrics.SeriesISL), series(t, s, metrics.SeriesOSL), series(t, s, metrics.SeriesTPOT)
	if isl.Count != 2 || isl.Total.String() != "12" {
		t.Errorf("isl %d/%v, want 2/12 (5 ids + 7 from usage)", isl.Count, isl.Total)
	}
	if osl.Count != 1 || osl.Total.String() != "4" {
		t.Errorf("osl %d/%v, want 1/4", osl.Count, osl.Total)
	}
	// 4 tokens, the first chunk holds ~1 of them: 3000 ns / 3 tokens.
	if tpot.Count != 1 || tpot.Total.Float64() != 1000 {
		t.Errorf("tpot %d/%v, want 1/1000", tpot.Count, tpot.Total)
	}
}

// wordCounter counts whitespace-separated words, optionally slowly.
type wordCounter struct{ delay time.Duration }

func (w wordCounter) Count(s string) int {
	time.Sleep(w.delay)
	return len(strings.Fields(s))
}

func TestAggregator_TokenizerAndDrain(t *testing.T) {
	events := []event.Record{
		ev(event.SessionStarted, 0, "", nil),
		ev(event.SessionStartTracking, 0, "", nil),
		ev(event.SampleIssued, 1000, "a", &event.PromptData{Text: "hello world foo bar"}),
		ev(event.SampleRecvFirst, 2000, "a", nil),
		ev(event.SampleComplete, 5000, "a", &event.Output{Text: "hello world foo", Streamed: true, FirstChunkLen: 5}),
		ev(event.SessionEnded, 6000, "", nil),
	}
	t.Run("drained", func(t *testing.T) {
		a := newAgg(t, aggregator.Config{Streaming: true, Tokenizer: wordCounter{}}, nil)
		s, err := a.Run(context.Background(), feed(events))
		if err != nil {
			t.Fatal(err)
		}
		if !s.Complete() {
			t.Errorf("state %s pending %d, want a clean complete", s.State, s.NPendingTasks)
		}
		isl, osl, tpot := series(t, s, metrics.SeriesISL), series(t, s, metrics.SeriesOSL), series(t, s, metrics.SeriesTPOT)
		if isl.Total.String() != "4" || osl.Total.String() != "3" || tpot.Total.Float64() != 1500 {
			t.Errorf("isl %v osl %v tpot %v, want 4, 3, 3000/2", isl.Total, osl.Total, tpot.Total)
		}
	})
	t.Run("drain timeout", func(t *testing.T) {
		a := newAgg(t, aggregator.Config{Streaming: true, Tokenizer: wordCounter{delay: 2 * time.Second}, TokenWorkers: 1,
			DrainTimeout: 50 * time.Millisecond}, nil)
		s, err := a.Run(context.Background(), feed(events))
		if err != nil {
			t.Fatal(err)
		}
		if s.State != metrics.StateComplete || s.NPendingTasks == 0 || s.Complete() {
			t.Errorf("state %s pending %d, want complete with pending > 0", s.State, s.NPendingTasks)
		}
	})
	// A second Ctrl-C: the stream is still read to its end (every sample is
	// counted) but the final snapshot does not wait an hour for the tokenizer.
	t.Run("hurried", func(t *testing.T) {
		a := newAgg(t, aggregator.Config{Streaming: true, Tokenizer: wordCounter{delay: 2 * time.Second}, TokenWorkers: 1,
			DrainTimeout: time.Hour}, nil)
		a.Hurry()
		a.Hurry() // idempotent
		s, err := a.Run(context.Background(), feed(events))
		if err != nil {
			t.Fatal(err)
		}
		if s.NPendingTasks == 0 || s.CounterInt(metrics.TrackedCompleted) != 1 || s.CounterInt(metrics.TotalIssued) != 1 {
			t.Errorf("pending %d, tracked completed %d, issued %d: want pending > 0 and the sample counted",
				s.NPendingTasks, s.CounterInt(metrics.TrackedCompleted), s.CounterInt(metrics.TotalIssued))
		}
	})
}

// feed returns a subscriber that yields events then io.EOF.
func feed(events []event.Record) bus.Subscriber[event.Record] {
	b := bus.NewInProc[event.Record](0)
	sub := b.Subscribe()
	_ = b.PublishBatch(events)
	_ = b.Close()
	return sub
}

// recorder is a snapshot publisher that keeps what it is given.
type recorder struct {
	mu    sync.Mutex
	snaps []metrics.Snapshot
	fail  bool
}

func (r *recorder) Publish(s metrics.Snapshot) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("publish failed")
	}
	r.snaps = append(r.snaps, s)
	return nil
}
func (r *recorder) Flush() error { return nil }
func (r *recorder) Close() error { return nil }
func (r *recorder) all() []metrics.Snapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]metrics.Snapshot(nil), r.snaps...)
}

func TestAggregator_Finalize(t *testing.T) {
	start := []event.Record{ev(event.SessionStarted, event.Now(), "", nil), ev(event.SessionStartTracking, event.Now(), "", nil)}
	t.Run("ticks then one terminal frame, idempotent", func(t *testing.T) {
		rec := &recorder{}
		path := filepath.Join(t.TempDir(), rundir.FinalFile)
		a := newAgg(t, aggregator.Config{PublishInterval: 10 * time.Millisecond, FinalPath: path}, rec)
		a.Process(start)
		time.Sleep(80 * time.Millisecond)
		s1, err1 := a.Finalize(metrics.StateComplete)
		s2, err2 := a.Finalize(metrics.StateInterrupted)
		if err1 != nil || err2 != nil || s1.Counter != s2.Counter || s2.State != metrics.StateComplete {
			t.Fatalf("second finalize not a no-op: %v %v %d %d %s", err1, err2, s1.Counter, s2.Counter, s2.State)
		}
		time.Sleep(30 * time.Millisecond)
		snaps := rec.all()
		if len(snaps) < 3 {
			t.Fatalf("%d frames, want several live ticks and a terminal one", len(snaps))
		}
		for i, s := range snaps[:len(snaps)-1] {
			if s.State != metrics.StateLive {
				t.Errorf("frame %d state %s, want live", i, s.State)
			}
		}
		if last := snaps[len(snaps)-1]; last.State != metrics.StateComplete {
			t.Errorf("last frame %s, want complete", last.State)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fs, err := metrics.ParseJSON(data)
		if err != nil || fs.State != metrics.StateComplete || !fs.Complete() {
			t.Errorf("file: %v %+v", err, fs)
		}
	})
	t.Run("unwritable directory: frame still published, no temp file", func(t *testing.T) {
		rec := &recorder{}
		dir := t.TempDir()
		parent := filepath.Join(dir, "file")
		if err := os.WriteFile(parent, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		a := newAgg(t, aggregator.Config{FinalPath: filepath.Join(parent, rundir.FinalFile)}, rec)
		a.Process(start)
		if _, err := a.Finalize(metrics.StateComplete); err == nil {
			t.Error("no error for an unwritable path")
		}
		if snaps := rec.all(); len(snaps) != 1 || snaps[0].State != metrics.StateComplete {
			t.Errorf("frames %v, want one terminal", len(snaps))
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("left files behind: %v", entries)
		}
	})
	t.Run("failing publish: file still written", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), rundir.FinalFile)
		a := newAgg(t, aggregator.Config{FinalPath: path}, &recorder{fail: true})
		a.Process(start)
		if _, err := a.Finalize(metrics.StateInterrupted); err == nil {
			t.Error("no error for a failing publish")
		}
		if s := readFinal(t, path); s.State != metrics.StateInterrupted {
			t.Errorf("state %s, want interrupted", s.State)
		}
	})
	t.Run("context cancelled: interrupted", func(t *testing.T) {
		b := bus.NewInProc[event.Record](0)
		sub := b.Subscribe()
		_ = b.PublishBatch(start)
		a := newAgg(t, aggregator.Config{}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		var done atomic.Bool
		go func() { time.Sleep(20 * time.Millisecond); done.Store(true); cancel() }()
		s, _ := a.Run(ctx, sub)
		if !done.Load() || s.State != metrics.StateInterrupted {
			t.Errorf("state %s", s.State)
		}
	})
}

func TestAggregator_LiveTrackedDurationAdvances(t *testing.T) {
	a := newAgg(t, aggregator.Config{}, nil)
	now := event.Now()
	a.Process([]event.Record{ev(event.SessionStarted, now, "", nil), ev(event.SessionStartTracking, now, "", nil)})
	d1 := a.Snapshot().CounterInt(metrics.TrackedDuration)
	time.Sleep(5 * time.Millisecond)
	d2 := a.Snapshot().CounterInt(metrics.TrackedDuration)
	if d2 <= d1 || d2 < int64(5*time.Millisecond) {
		t.Errorf("live tracked duration %d then %d: not advancing", d1, d2)
	}
}

// readFinal reads the final snapshot file at path.
func readFinal(t *testing.T, path string) *metrics.Snapshot {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := metrics.ParseJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAggregator_ErrorFamilies checks that every error record lands in exactly
// one family and that each family adds up to its sample counter: tracked
// errors to tracked_samples_failed, tracked + warmup to total_samples_failed,
// and errors that fail no sample apart.
func TestAggregator_ErrorFamilies(t *testing.T) {
	e := func(class string) *event.ErrorData { return &event.ErrorData{Type: class} }
	a := newAgg(t, aggregator.Config{}, nil)
	a.Process([]event.Record{
		ev(event.SessionStarted, 0, "", nil),
		ev(event.SampleIssued, 1, "w1", nil), // warmup: no tracking window yet
		ev(event.SampleIssued, 1, "w2", nil),
		ev(event.ErrorClient, 2, "w1", e("http_500")),
		ev(event.SampleComplete, 2, "w1", nil),
		ev(event.SampleComplete, 3, "w2", nil),
		ev(event.SessionStartTracking, 10, "", nil),
		ev(event.SampleIssued, 11, "t1", nil),
		ev(event.SampleIssued, 11, "t2", nil),
		ev(event.SampleIssued, 11, "t3", nil),
		ev(event.ErrorClient, 12, "t1", e("http_500")),
		ev(event.ErrorClient, 12, "t1", e("timeout")), // a second error of a failed sample
		ev(event.SampleComplete, 12, "t1", nil),
		ev(event.ErrorClient, 13, "t2", e("timeout")),
		ev(event.SampleComplete, 13, "t2", nil),
		ev(event.SampleComplete, 14, "t3", nil),
		ev(event.ErrorGeneric, 15, "", e("DecodeError")), // an undecodable frame
		ev(event.ErrorGeneric, 15, "", nil),
	})
	s := a.Snapshot()
	want := map[string]int64{
		metrics.TotalIssued: 5, metrics.TotalCompleted: 5, metrics.TotalFailed: 3,
		metrics.TrackedIssued: 3, metrics.TrackedCompleted: 3, metrics.TrackedFailed: 2,
		"errors.http_500": 1, "errors.timeout": 1,
		"warmup_errors.http_500": 1,
		"other_errors.timeout":   1, "other_errors.DecodeError": 1, "other_errors.generic": 1,
	}
	sums := map[string]int64{}
	for _, m := range s.Metrics {
		if m.Kind != metrics.KindCounter {
			continue
		}
		for _, p := range []string{metrics.ErrorCounterPrefix, metrics.WarmupErrorCounterPrefix, metrics.OtherErrorCounterPrefix} {
			if strings.HasPrefix(m.Name, p) {
				sums[p] += s.CounterInt(m.Name)
				if _, ok := want[m.Name]; !ok {
					t.Errorf("unexpected counter %s = %d", m.Name, s.CounterInt(m.Name))
				}
			}
		}
	}
	for name, n := range want {
		if got := s.CounterInt(name); got != n {
			t.Errorf("%s = %d, want %d", name, got, n)
		}
	}
	if sums[metrics.ErrorCounterPrefix] != s.CounterInt(metrics.TrackedFailed) {
		t.Errorf("tracked errors by class sum to %d, tracked failed %d", sums[metrics.ErrorCounterPrefix], s.CounterInt(metrics.TrackedFailed))
	}
	if sums[metrics.ErrorCounterPrefix]+sums[metrics.WarmupErrorCounterPrefix] != s.CounterInt(metrics.TotalFailed) {
		t.Errorf("tracked + warmup errors sum to %d, total failed %d", sums[metrics.ErrorCounterPrefix]+sums[metrics.WarmupErrorCounterPrefix], s.CounterInt(metrics.TotalFailed))
	}
}

// TestAggregator_FinishReasons counts finish reasons of tracked completions as
// the Python tool does: by name, unknown ones as other, none not at all.
func TestAggregator_FinishReasons(t *testing.T) {
	out := func(reason string) *event.Output { return &event.Output{Text: "x", FinishReason: reason} }
	a := newAgg(t, aggregator.Config{}, nil)
	recs := []event.Record{
		ev(event.SessionStarted, 0, "", nil),
		ev(event.SampleIssued, 1, "warm", nil),
		ev(event.SampleComplete, 2, "warm", out("stop")), // untracked: not counted
		ev(event.SessionStartTracking, 10, "", nil),
	}
	reasons := []string{"length", "length", "stop", "tool_calls", "content_filter", "function_call", "future_reason", ""}
	for i, r := range reasons {
		u := fmt.Sprintf("s%d", i)
		recs = append(recs, ev(event.SampleIssued, 11, u, nil), ev(event.SampleComplete, 12, u, out(r)))
	}
	// A failed completion that still carries a finish reason counts too.
	recs = append(recs, ev(event.SampleIssued, 11, "f", nil), ev(event.ErrorClient, 12, "f", &event.ErrorData{Type: "truncated"}),
		ev(event.SampleComplete, 12, "f", out("stop")), ev(event.SampleIssued, 11, "nil", nil), ev(event.SampleComplete, 12, "nil", nil))
	a.Process(recs)
	s := a.Snapshot()
	for name, n := range map[string]int64{
		metrics.FinishReasonStop: 2, metrics.FinishReasonLength: 2, metrics.FinishReasonToolCalls: 1,
		metrics.FinishReasonContentFilter: 1, metrics.FinishReasonFunctionCall: 1, metrics.FinishReasonOther: 1,
	} {
		if m, ok := s.Find(name); !ok || m.Kind != metrics.KindCounter {
			t.Errorf("no counter %s in the live snapshot", name)
		} else if got := s.CounterInt(name); got != n {
			t.Errorf("%s = %d, want %d", name, got, n)
		}
	}
}
