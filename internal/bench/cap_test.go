package bench_test

import (
	"slices"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
)

// maxInFlight sweeps the send and completion times of requests.jsonl and
// returns the most requests in flight at once. A completion at the same
// nanosecond as a send counts first: the slot it frees is the one the send
// takes.
func maxInFlight(rs []eventlog.Request) int {
	type edge struct {
		at    int64
		delta int
	}
	var es []edge
	for _, r := range rs {
		es = append(es, edge{r.Iss, +1})
		if r.Lat != nil {
			es = append(es, edge{r.Iss + *r.Lat, -1})
		}
	}
	slices.SortFunc(es, func(a, b edge) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.delta - b.delta
	})
	cur, most := 0, 0
	for _, e := range es {
		cur += e.delta
		most = max(most, cur)
	}
	return most
}

// TestRun_MaxConcurrency runs open-loop schedules under a concurrency cap
// against a slow mock server and checks, from the event log, that the cap
// held, that every request's intended time + lateness + queue wait is its
// send, and that the waits are the queue's: a burst of 10 with a cap of 2
// waits about 0, 0, 1, 1, 2, 2, … service times.
func TestRun_MaxConcurrency(t *testing.T) {
	const service = 100 * time.Millisecond
	url, _ := startMock(t, mockserver.Config{TTFT: service, TPOT: time.Millisecond, OutputTokens: 2})
	for _, tc := range []struct {
		name    string
		mode    string
		qps     float64
		n, cap_ int
	}{
		// 10 arrivals 100 µs apart: a burst.
		{"burst", "constant", 1e4, 10, 2},
		// Poisson at about 2.5× what 3 slots serve.
		{"poisson", "poisson", 75, 40, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(t, url)
			cfg.Load.Mode, cfg.Load.TargetQPS, cfg.Load.NumSamples = tc.mode, tc.qps, tc.n
			cfg.Load.MaxConcurrency = tc.cap_
			out := run(t, cfg, synthetic(t, tc.n), nil)
			rs, err := eventlog.ReadRequests(rundir.Requests(out.Dir))
			if err != nil {
				t.Fatal(err)
			}
			if len(rs.Requests) != tc.n {
				t.Fatalf("%d requests logged, want %d", len(rs.Requests), tc.n)
			}
			if got := maxInFlight(rs.Requests); got > tc.cap_ {
				t.Errorf("%d requests in flight at once, cap %d", got, tc.cap_)
			} else if got < tc.cap_ {
				t.Errorf("at most %d requests in flight: the cap of %d was never reached", got, tc.cap_)
			}
			// Intended times, in release (FIFO) order.
			reqs := slices.Clone(rs.Requests)
			var queued int64
			minLat := int64(1 << 62)
			for i := range reqs {
				r := &reqs[i]
				if r.Late == nil || r.QW == nil || r.Lat == nil || r.TTFT == nil || r.Err != "" {
					t.Fatalf("request %s: want late, qw, lat and ttft and no error: %+v", r.ID, r)
				}
				if *r.QW > 0 {
					queued++
				}
				minLat = min(minLat, *r.Lat)
				if *r.TTFT > *r.Lat {
					t.Errorf("request %s: TTFT %d after its completion %d", r.ID, *r.TTFT, *r.Lat)
				}
			}
			intended := func(r *eventlog.Request) int64 { return r.Iss - *r.Late - *r.QW }
			slices.SortFunc(reqs, func(a, b eventlog.Request) int { return int(intended(&a) - intended(&b)) })
			// intended + lateness + queue wait = send: the intended times
			// so derived from the log must be the schedule's own (the same
			// seed gives the same times), to the microsecond.
			sched := loadgen.NewSchedule(bench.LoadgenConfig(cfg.Load))
			first, _ := sched.Next()
			for k := range reqs {
				if k > 0 {
					at, _ := sched.Next()
					want := int64(at) - int64(first)
					if d := intended(&reqs[k]) - intended(&reqs[0]); d < want-1000 || d > want+1000 {
						t.Errorf("request %d: intended %d ns after the first, the schedule says %d (± 1 µs)", k, d, want)
					}
				}
			}
			if tc.mode == "constant" {
				// Request k waits for k/2 requests ahead of it to finish.
				for k := range reqs {
					qw := *reqs[k].QW
					if k < tc.cap_ && qw != 0 {
						t.Errorf("request %d waited %v with a slot free", k, time.Duration(qw))
					}
					if want := int64(k/tc.cap_)*minLat - int64(5*time.Millisecond); qw < want {
						t.Errorf("request %d waited %v, want at least %v (%d service times)", k, time.Duration(qw), time.Duration(want), k/tc.cap_)
					}
				}
				if want := int64(tc.n - tc.cap_); queued != want {
					t.Errorf("%d requests queued, want %d", queued, want)
				}
			}
			// A queued request is sent by a completion: its send follows one.
			for k := range reqs {
				r := &reqs[k]
				if *r.QW == 0 {
					continue
				}
				freed := false
				for j := range reqs {
					if c := reqs[j].Iss + *reqs[j].Lat; c <= r.Iss && r.Iss-c < int64(50*time.Millisecond) {
						freed = true
					}
				}
				if !freed {
					t.Errorf("request %d was sent %v after its release, not right after a completion", k, time.Duration(*r.QW))
				}
			}
			// The achieved issue rate judges the scheduler: it runs to the
			// last release, not to the last send.
			var base, trackStart, lastRelease int64
			for _, m := range rs.Marks {
				switch m.Ev {
				case event.SessionStarted.Topic():
					base = m.TS
				case event.SessionStartTracking.Topic():
					trackStart = m.TS
				}
			}
			for _, r := range reqs {
				lastRelease = max(lastRelease, r.Iss-*r.QW)
			}
			if got, want := out.Final.CounterInt(metrics.TrackedIssueDuration), base+lastRelease-trackStart; got != want {
				t.Errorf("%s = %d, want the last release − tracking start = %d", metrics.TrackedIssueDuration, got, want)
			}
			// The snapshot and the report carry the cap's series.
			qs, ok := out.Final.Find(metrics.SeriesQueueWait)
			if !ok || qs.Count != int64(tc.n) {
				t.Fatalf("final snapshot %s: %+v, want %d values", metrics.SeriesQueueWait, qs, tc.n)
			}
			if got := out.Final.CounterInt(metrics.TrackedQueued); got != queued {
				t.Errorf("%s = %d, the log has %d waits", metrics.TrackedQueued, got, queued)
			}
			if out.Report.Queued == nil || *out.Report.Queued != queued {
				t.Errorf("report queued %v, want %d", out.Report.Queued, queued)
			}
			sec := section(t, out.Report, metrics.SeriesQueueWait)
			if sec.Count != int64(tc.n) {
				t.Errorf("report queue wait count %d", sec.Count)
			}
			if tc.mode == "constant" {
				// The waits are not in TTFT: the longest TTFT is one service
				// time, the longest wait several.
				ttft, _ := out.Final.Find(metrics.SeriesTTFT)
				if ttft.Max.Float64() >= qs.Max.Float64() {
					t.Errorf("TTFT max %v ≥ queue wait max %v: the wait leaks into TTFT", ttft.Max.Float64(), qs.Max.Float64())
				}
			}
		})
	}
}

// TestRun_NoCapNoQueueSeries checks that a run without a cap carries no
// queue series or counter, and logs no queue waits.
func TestRun_NoCapNoQueueSeries(t *testing.T) {
	url, _ := startMock(t, mockserver.Config{TTFT: time.Millisecond, OutputTokens: 2})
	cfg := baseConfig(t, url)
	cfg.Load.Mode, cfg.Load.TargetQPS, cfg.Load.NumSamples = "poisson", 500, 20
	out := run(t, cfg, synthetic(t, 20), nil)
	for _, name := range []string{metrics.SeriesQueueWait, metrics.TrackedQueued} {
		if _, ok := out.Final.Find(name); ok {
			t.Errorf("uncapped run has %s", name)
		}
	}
	rs, err := eventlog.ReadRequests(rundir.Requests(out.Dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs.Requests {
		if r.QW != nil || r.Late == nil {
			t.Fatalf("request %s: qw %v, late %v", r.ID, r.QW, r.Late)
		}
	}
	if out.Report.Queued != nil {
		t.Errorf("report queued %d", *out.Report.Queued)
	}
}
