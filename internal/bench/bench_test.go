package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/mockserver/mocktest"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/rundir"
)

// startMock serves cfg on a loopback port until the test ends.
func startMock(t *testing.T, cfg mockserver.Config) (url string, srv *mockserver.Server) {
	t.Helper()
	return mocktest.Start(t, cfg)
}

// shortDir is a run directory short enough for its unix socket.
func shortDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "ibb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func baseConfig(t *testing.T, url string) config.Run {
	cfg := config.Default()
	cfg.Endpoint.Endpoint = url
	cfg.Endpoint.Model = "mock-model"
	cfg.Endpoint.MaxTokens = 64
	cfg.Load.MaxTokens = 64
	cfg.Metrics.PublishInterval = 50 * time.Millisecond
	cfg.Metrics.DrainTimeout = 5 * time.Second
	cfg.ReportDir = shortDir(t)
	return cfg
}

func synthetic(t testing.TB, n int) *dataset.Dataset {
	t.Helper()
	ds, err := dataset.Synthetic(dataset.SyntheticConfig{N: n, Input: dataset.Dist{Kind: dataset.DistFixed, Value: 16},
		Output: dataset.Dist{Kind: dataset.DistFixed, Value: 64}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)) }

func run(t *testing.T, cfg config.Run, ds *dataset.Dataset, tweak func(*bench.Runner)) *bench.Outcome {
	t.Helper()
	r, err := bench.New(cfg, ds, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(r)
	}
	if err := r.Preflight(context.Background()); err != nil {
		t.Fatal(err)
	}
	out, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func section(t *testing.T, rep *report.Report, name string) *report.Section {
	t.Helper()
	for i := range rep.Sections {
		if rep.Sections[i].Name == name {
			return &rep.Sections[i]
		}
	}
	t.Fatalf("report has no %s section", name)
	return nil
}

func within(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol*want {
		t.Errorf("%s = %.3f, want %.3f ± %.0f%%", what, got, want, tol*100)
	}
}

// TestRun_MatchesServerTruth runs a streamed benchmark against a mock server
// and checks every request's client-measured times against what the server
// actually did (recorded around its handler, on the same clock), not
// against the injected delays: on a busy machine the server's timers fire
// late and the injected values are no longer the truth.
//
// Each server timestamp is taken before the bytes it describes can reach
// the client, so client ≥ server holds exactly for every request, under any
// load: a stamp taken too early (the issue stamped after sending, a chunk
// before reading it) fails at once.
//
// What client − server adds is lag: the loopback and the wakeups of the
// reading goroutines. Load makes it large (medians of 1-60 ms were measured
// with -race on this 2-core machine under four busy loops and eight builds),
// but it delays the first and the last chunk alike. So a stamp taken at the
// wrong place shows as skew: the first chunk's lag minus the last chunk's
// lag, whose median stays near 0 under any load, moves by a whole token
// interval when the first chunk is stamped one chunk late; likewise the
// inter-chunk gaps and TPOT, which are differences of two lags. Those are
// held within maxSkew, half a token interval. The lag itself is only held
// under maxLag, a whole request's duration: a client whose stamps trail the
// server's by more than a request is broken, whatever the load.
func TestRun_MatchesServerTruth(t *testing.T) {
	const (
		ttft    = 60 * time.Millisecond
		tpot    = 80 * time.Millisecond
		osl     = 6
		conc    = 8
		nsamps  = 32
		maxSkew = tpot / 2
		maxLag  = ttft + (osl-1)*tpot
	)
	url, truth := startRecordedMock(t, mockserver.Config{TTFT: ttft, TPOT: tpot, OutputTokens: osl})
	cfg := baseConfig(t, url)
	cfg.Load.Mode = string(loadgen.ModeConcurrency)
	cfg.Load.Concurrency = conc
	ds := synthetic(t, nsamps)
	out := run(t, cfg, ds, nil)
	rep := out.Report
	if !rep.Complete || rep.Completed != nsamps || rep.Failed != 0 {
		t.Fatalf("complete %v completed %d failed %d", rep.Complete, rep.Completed, rep.Failed)
	}
	if truth.dups != 0 {
		t.Fatalf("%d prompts reached the server twice: requests cannot be matched", truth.dups)
	}

	reqs, err := eventlog.ReadRequests(filepath.Join(out.Dir, rundir.RequestsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs.Requests) != nsamps {
		t.Fatalf("requests.jsonl has %d requests, want %d", len(reqs.Requests), nsamps)
	}
	var (
		oFirst, oLast, oDone []float64 // client − server, ns
		cTTFT, sTPOT, cTPOT  []float64
		sGaps                []float64
		sumLat               float64
	)
	for _, rq := range reqs.Requests {
		if rq.Idx == nil || rq.TTFT == nil || rq.Last == nil || rq.Lat == nil {
			t.Fatalf("request %s lacks idx/ttft/last/lat: %+v", rq.ID, rq)
		}
		st := truth.byP[ds.Samples[*rq.Idx].Prompt]
		if st == nil {
			t.Fatalf("request %s (sample %d) never reached the server", rq.ID, *rq.Idx)
		}
		if rq.Chunks != osl {
			t.Errorf("request %s: %d chunks, want %d", rq.ID, rq.Chunks, osl)
		}
		sFirst, sLast := st.first(), st.last()
		if time.Duration(*rq.TTFT) < sFirst || time.Duration(*rq.Last) < sLast || time.Duration(*rq.Lat) < sLast {
			t.Errorf("request %s: client ttft %v last %v latency %v, below the server's ttft %v last %v",
				rq.ID, time.Duration(*rq.TTFT), time.Duration(*rq.Last), time.Duration(*rq.Lat), sFirst, sLast)
		}
		oFirst = append(oFirst, float64(*rq.TTFT)-float64(sFirst))
		oLast = append(oLast, float64(*rq.Last)-float64(sLast))
		oDone = append(oDone, float64(*rq.Lat)-float64(sLast))
		cTTFT = append(cTTFT, float64(*rq.TTFT))
		sTPOT = append(sTPOT, float64(sLast-sFirst)/(osl-1))
		if dec := rq.DecodeTokens(); dec > 0 { // the aggregator's divisor
			cTPOT = append(cTPOT, float64(*rq.Lat-*rq.TTFT)/float64(dec))
		}
		for i := 1; i < len(st.flushes); i++ {
			sGaps = append(sGaps, float64(st.flushes[i].Sub(st.flushes[i-1])))
		}
		sumLat += float64(*rq.Lat)
	}
	skew := make([]float64, len(oFirst))
	for i := range oFirst {
		skew[i] = oFirst[i] - oLast[i]
	}
	t.Logf("median client − server: ttft %v, last chunk %v, completion %v, skew %v", time.Duration(median(oFirst)),
		time.Duration(median(oLast)), time.Duration(median(oDone)), time.Duration(median(skew)))
	if m := median(skew); math.Abs(m) > float64(maxSkew) {
		t.Errorf("median lag of the first chunk − lag of the last %v, want within ±%v", time.Duration(m), maxSkew)
	}
	if m := median(oFirst); m > float64(maxLag) {
		t.Errorf("median client − server TTFT %v, want ≤ %v", time.Duration(m), maxLag)
	}
	if m := median(oLast); m > float64(maxLag) {
		t.Errorf("median client − server last chunk %v, want ≤ %v", time.Duration(m), maxLag)
	}
	// The completion waits for the end of the body, which net/http writes
	// after the handler returns: one more wakeup of a busy server.
	if m := median(oDone); m > float64(maxLag) {
		t.Errorf("median client completion − server last chunk %v, want ≤ %v", time.Duration(m), maxLag)
	}
	// The report is built from the same requests: its TTFT median is the
	// requests' median (exact order statistic, shown in ms).
	within(t, "report TTFT median (ms)", float64(section(t, rep, "ttft_ns").Median), median(cTTFT)/1e6, 0.01)
	// TPOT runs from the first chunk to the completion: below the
	// server's by at most the skew spread over the decode tokens, above it
	// by at most the completion's lag so spread.
	tpotMed, sTPOTMed := float64(section(t, rep, "tpot_ns").Median), median(sTPOT)/1e6
	if tpotMed < sTPOTMed-ms(maxSkew)/(osl-1) || tpotMed > sTPOTMed+ms(maxLag)/(osl-1) {
		t.Errorf("TPOT median %.3f ms, server's %.3f ms", tpotMed, sTPOTMed)
	}
	// The chunk gaps differ from the server's flush gaps by a difference
	// of two lags.
	within(t, "report TPOT median (ms)", float64(section(t, rep, "tpot_ns").Median), median(cTPOT)/1e6, 0.01)
	if len(sGaps) > 0 {
		if d := math.Abs(float64(section(t, rep, "chunk_delta_ns").Median) - median(sGaps)/1e6); d > ms(maxSkew) {
			t.Errorf("inter-chunk median %v ms, server's flush gaps %.3f ms", section(t, rep, "chunk_delta_ns").Median, median(sGaps)/1e6)
		}
	}
	o := section(t, rep, "osl")
	if o.Min != osl || o.Max != osl || o.Count != nsamps {
		t.Errorf("osl min %v max %v count %d, want exactly %d for all %d", o.Min, o.Max, o.Count, osl, nsamps)
	}
	// Little's law with the measured latency: conc requests always in
	// flight, each taking the mean latency.
	within(t, "QPS", float64(rep.QPS), conc/(sumLat/nsamps/1e9), 0.3)
	within(t, "TPS", float64(rep.TPS), float64(rep.QPS)*osl, 0.01)

	// The run directory holds everything docs/design.md §7 lists, and the events log
	// is valid line by line.
	for _, f := range []string{rundir.ConfigFile, rundir.RequestsFile, rundir.SummaryFile, rundir.TextFile, rundir.HTMLFile, filepath.Join(rundir.MetricsDir, rundir.FinalFile)} {
		if _, err := os.Stat(filepath.Join(out.Dir, f)); err != nil {
			t.Errorf("run directory lacks %s", f)
		}
	}
	if n := countRequests(t, filepath.Join(out.Dir, rundir.RequestsFile)); n != out.Requests || n != nsamps {
		t.Errorf("requests.jsonl has %d request lines, writer counted %d, want %d", n, out.Requests, nsamps)
	}
}

// median is the lower median (the report's order statistic ⌊(n−1)/2⌋).
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// countRequests checks that every line of requests.jsonl is JSON and
// returns the number of request lines.
func countRequests(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var n, line int64
	for sc.Scan() {
		line++
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s line %d is not JSON: %v", path, line, err)
		}
		if _, ok := rec["id"].(string); ok {
			n++
		}
	}
	return n
}

// TestRun_Oracle checks that every response equals the expected output of
// its sample: prompts reach the server intact and responses are reassembled
// exactly from the stream.
func TestRun_Oracle(t *testing.T) {
	ds := &dataset.Dataset{Name: "oracle"}
	oracle := map[string]string{}
	for i := range 40 {
		p := fmt.Sprintf("question %d: what is \"%d\" squared?\nanswer in words", i, i)
		a := fmt.Sprintf("the answer to %d is %d, naïvely — ✓", i, i*i)
		ds.Samples = append(ds.Samples, dataset.Sample{Prompt: p, Expected: a})
		oracle[p] = a
	}
	for _, streaming := range []bool{true, false} {
		t.Run(fmt.Sprintf("streaming=%v", streaming), func(t *testing.T) {
			url, _ := startMock(t, mockserver.Config{Mode: mockserver.ModeOracle, Oracle: oracle})
			cfg := baseConfig(t, url)
			cfg.Endpoint.Streaming = streaming
			var mu sync.Mutex
			seen := map[int]int{}
			out := run(t, cfg, ds, func(r *bench.Runner) {
				r.OnComplete = func(i int, o *event.Output, err error) {
					mu.Lock()
					defer mu.Unlock()
					seen[i]++
					if err != nil || o == nil || o.Text != ds.Samples[i].Expected {
						t.Errorf("sample %d: err %v, got %+v, want %q", i, err, o, ds.Samples[i].Expected)
					}
				}
			})
			if len(seen) != len(ds.Samples) || out.Report.Completed != int64(len(ds.Samples)) {
				t.Errorf("%d distinct samples answered, %d completed, want %d", len(seen), out.Report.Completed, len(ds.Samples))
			}
		})
	}
}

// TestRun_Faults checks that every fault the mock server injects is counted
// as a failed tracked request of the right class, and that none hangs the run.
func TestRun_Faults(t *testing.T) {
	tests := []struct {
		name   string
		faults mockserver.FaultRates
		class  string
	}{
		{"http 429", mockserver.FaultRates{HTTP429: 1}, "http_status"},
		{"http 500", mockserver.FaultRates{HTTP500: 1}, "http_status"},
		{"connection reset", mockserver.FaultRates{Reset: 1}, "connection_reset"},
		{"truncated stream", mockserver.FaultRates{Truncate: 1}, "truncated_stream"},
		{"malformed chunk", mockserver.FaultRates{Malformed: 1}, "malformed_response"},
		{"stalled stream", mockserver.FaultRates{Stall: 1}, "timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := startMock(t, mockserver.Config{OutputTokens: 8, TPOT: time.Millisecond, Faults: tc.faults})
			cfg := baseConfig(t, url)
			cfg.Endpoint.ReadTimeout = 300 * time.Millisecond
			const n = 12
			start := time.Now()
			out := run(t, cfg, synthetic(t, n), nil)
			if el := time.Since(start); el > 15*time.Second {
				t.Errorf("run took %v", el)
			}
			rep := out.Report
			if rep.Failed != n || rep.Completed != n {
				t.Errorf("failed %d completed %d, want %d of each", rep.Failed, rep.Completed, n)
			}
			if rep.Errors[tc.class] != n {
				t.Errorf("errors by class %v, want %d of %s", rep.Errors, n, tc.class)
			}
			if !rep.QPS.Valid() || rep.QPS != 0 {
				t.Errorf("QPS %v, want 0: failures are not throughput", rep.QPS)
			}
			if m, ok := out.Final.Find("sample_latency_ns"); !ok || m.Count != 0 {
				t.Errorf("failed requests leaked into the latency series")
			}
		})
	}
}

func TestPreflight_ClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := baseConfig(t, "http://"+addr)
	r, err := bench.New(cfg, synthetic(t, 1), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = r.Preflight(context.Background())
	if !errors.Is(err, bench.ErrUnreachable) || time.Since(start) > 2*time.Second {
		t.Errorf("preflight: %v after %v", err, time.Since(start))
	}
}

// TestRun_Stop checks the graceful stop: a run stopped mid-way ends
// interrupted with what was recorded, and the event log is complete.
func TestRun_Stop(t *testing.T) {
	url, _ := startMock(t, mockserver.Config{OutputTokens: 10, TPOT: 10 * time.Millisecond})
	cfg := baseConfig(t, url)
	cfg.Load.Mode = string(loadgen.ModeConstant)
	cfg.Load.TargetQPS = 50
	cfg.Load.GracePeriod = 2 * time.Second
	r, err := bench.New(cfg, synthetic(t, 1000), nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	r.OnSnapshot = func(s metrics.Snapshot) {
		if s.CounterInt("tracked_samples_completed") >= 10 {
			once.Do(func() { go r.Stop() })
		}
	}
	out, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if out.Final.State != metrics.StateInterrupted {
		t.Errorf("state %s, want interrupted", out.Final.State)
	}
	if out.Report.Completed < 10 || out.Report.Completed >= 1000 || out.Report.Completed != out.Report.Issued {
		t.Errorf("issued %d completed %d: in-flight requests should finish in the grace period", out.Report.Issued, out.Report.Completed)
	}
	countRequests(t, filepath.Join(out.Dir, rundir.RequestsFile))
}
