package bench_test

import (
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
)

// inFlightIn returns the most requests in flight at once during [from, to)
// (offsets from session.started), and their time average over it, from the
// send and completion times of requests.jsonl.
func inFlightIn(rs []eventlog.Request, from, to int64) (hi int, avg float64) {
	var busy int64 // Σ over requests of their time in flight inside the window
	for _, r := range rs {
		end := to
		if r.Lat != nil {
			end = min(end, r.Iss+*r.Lat)
		}
		if b, e := max(r.Iss, from), end; e > b {
			busy += e - b
		}
		// In flight is highest right after a send, or at the window start.
		if t := max(r.Iss, from); t < to && t < end {
			n := 0
			for _, o := range rs {
				if o.Iss <= t && (o.Lat == nil || o.Iss+*o.Lat > t) {
					n++
				}
			}
			hi = max(hi, n)
		}
	}
	return hi, float64(busy) / float64(to-from)
}

// TestRun_ConcurrencyShaped runs the closed loop with a ramp and with stages
// against a mock server of known service time, and checks from the event
// log that the requests in flight follow the level: within each step, once
// the requests of a lowered level have finished (one service time), exactly
// the step's level is in flight at every send, and never more.
func TestRun_ConcurrencyShaped(t *testing.T) {
	const service = 40 * time.Millisecond
	url, _ := startMock(t, mockserver.Config{TTFT: service, TPOT: 0, OutputTokens: 1})
	type step struct {
		level    int
		from, to time.Duration // offsets from the tracking start
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		stages string
		ramp   time.Duration
		conc   int
		dur    time.Duration
		steps  []step
	}{
		// --duration beyond the stages: no sample count ends the run first.
		{name: "stages", stages: "1:300ms,4:300ms,2:300ms,3:300ms", dur: 5 * time.Second, steps: []step{
			{1, 0, 300 * ms}, {4, 300 * ms, 600 * ms}, {2, 600 * ms, 900 * ms}, {3, 900 * ms, 1200 * ms}}},
		// Worker k starts at 600ms·k/3: levels 1, 2, 3 then 4.
		{name: "ramp", ramp: 600 * ms, conc: 4, dur: 1000 * ms, steps: []step{
			{1, 0, 200 * ms}, {2, 200 * ms, 400 * ms}, {3, 400 * ms, 600 * ms}, {4, 600 * ms, 1000 * ms}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig(t, url)
			cfg.Load.Mode = string(loadgen.ModeConcurrency)
			cfg.Load.Stages, cfg.Load.RampUp, cfg.Load.Concurrency, cfg.Load.Duration = tc.stages, tc.ramp, tc.conc, tc.dur
			out := run(t, cfg, synthetic(t, 50), nil)
			rs, err := eventlog.ReadRequests(rundir.Requests(out.Dir))
			if err != nil {
				t.Fatal(err)
			}
			var base, start int64 = -1, -1
			for _, m := range rs.Marks {
				switch m.Ev {
				case event.SessionStarted.Topic():
					base = m.TS
				case event.SessionStartTracking.Topic():
					start = m.TS
				}
			}
			if base < 0 || start < 0 {
				t.Fatalf("marks %+v: no session start or tracking start", rs.Marks)
			}
			start -= base
			last := tc.steps[len(tc.steps)-1]
			for _, r := range rs.Requests {
				if r.Iss-start > int64(last.to)+int64(5*ms) {
					t.Errorf("request sent %v after the start, past the last step", time.Duration(r.Iss-start))
				}
			}
			top := 0
			for _, st := range tc.steps {
				top = max(top, st.level)
				from, to := start+int64(st.from), start+int64(st.to)
				// No worker above the level sends: of the requests sent
				// during the step (past a little slack for a worker that
				// read the level just before it began), at most the level
				// are in flight at once.
				var sent []eventlog.Request
				for _, r := range rs.Requests {
					if r.Iss >= from+int64(10*ms) && r.Iss < to {
						sent = append(sent, r)
					}
				}
				if hi, _ := inFlightIn(sent, from, to); hi > st.level {
					t.Errorf("level %d: %d of the requests sent in its step in flight at once", st.level, hi)
				}
				// Once the requests of a higher level have finished (a
				// lower level) or the new workers have woken (a higher
				// one), exactly the level is in flight, all the time but
				// for the instants between a completion and the next send.
				settle := from + int64(15*ms)
				for _, r := range rs.Requests {
					if r.Iss < from && r.Lat != nil && r.Iss+*r.Lat > from {
						settle = max(settle, r.Iss+*r.Lat+int64(ms))
					}
				}
				if to-settle < int64(100*ms) {
					t.Logf("level %d: only %v left after the previous level drained", st.level, time.Duration(to-settle))
					continue
				}
				hi, avg := inFlightIn(rs.Requests, settle, to)
				if hi != st.level || avg < float64(st.level)-0.5 {
					t.Errorf("level %d from %v to %v: at most %d requests in flight, %.2f on average", st.level, time.Duration(settle-start), st.to, hi, avg)
				}
			}
			if hi, _ := inFlightIn(rs.Requests, 0, start+int64(last.to)+int64(time.Second)); hi != top {
				t.Errorf("at most %d requests in flight over the run, want the top level %d", hi, top)
			}
		})
	}
}
