package fleet_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/fleet"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
	"github.com/inferbench/inferbench/internal/rundir"
	"github.com/inferbench/inferbench/internal/tokenizer"
	"github.com/inferbench/inferbench/internal/tokenizer/tokenizertest"
)

// mooncakeTrace is package trace's 500-request Mooncake trace (about 3.3 s,
// 40 sessions sharing hash_ids prefixes).
const mooncakeTrace = "../trace/testdata/mooncake_500.jsonl"

// tokCount counts tokens without special tokens, as ISL is measured.
type tokCount struct{ t *tokenizer.Tokenizer }

func (c tokCount) Count(s string) int { return c.t.Count(s, false) }

type mooncakeRow struct {
	Timestamp   int64 `json:"timestamp"`
	InputLength int   `json:"input_length"`
}

func readMooncake(t *testing.T) []mooncakeRow {
	t.Helper()
	data, err := os.ReadFile(mooncakeTrace)
	if err != nil {
		t.Fatal(err)
	}
	var rows []mooncakeRow
	for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
		var r mooncakeRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return rows
}

// TestFleet_Replay replays the Mooncake trace's first 150 requests at speed-up 10 on a fleet of
// three workers against the mock server. The merged run is the trace once:
// exactly its request count, every dataset index issued once and by the
// worker the round-robin deal gives it; each request's intended time is its
// trace time ÷ speed-up from the coordinated start of the tracked phase
// (within the clock-offset estimate's movement during the run: the
// workers' schedules count from that one instant); its prompt is
// byte-for-byte the one a single-host replay synthesizes (so the trace's
// prefix sharing reaches the server whichever worker sends a request) and
// its ISL is the recorded input_length; and the full event log replayed
// through a fresh aggregator gives the coordinator's final snapshot.
func TestFleet_Replay(t *testing.T) {
	const speedup, requests = 10, 150
	rows := readMooncake(t)[:requests]
	tk, err := tokenizer.Load(tokenizertest.Dir(t, "gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	tok := tokCount{tk}
	url := startMock(t, mockserver.Config{TTFT: time.Millisecond, TPOT: 100 * time.Microsecond})
	cfg := runConfig(t, url, func(c *config.Run) {
		c.Dataset.Synthetic = nil
		c.Dataset.Trace = &config.Trace{Path: mooncakeTrace, Speedup: speedup, Limit: requests}
		c.Load.Mode = "replay"
		c.Load.NumSamples = 0
	})
	rp, err := bench.LoadTrace(&cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	// What a single host would send: the same synthesis, done apart.
	single, err := bench.LoadTrace(&cfg, tok)
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()

	names := []string{"w0", "w1", "w2"}
	c, wait := startFleet(t, 5*time.Second, 5*time.Second, names...)
	r, err := bench.New(cfg, rp.Dataset, tok, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	r.Arrivals, r.Samples = rp.Arrivals, rp.Sample
	var mu sync.Mutex
	var table []metrics.FleetWorker
	r.NewSource = func(pub bus.Publisher[event.Record]) (bench.Source, error) {
		return c.ReplaySource(r.Config(), r.Dataset(), fleet.Replay{Arrivals: r.Arrivals, Sample: r.Samples}, pub)
	}
	r.OnSnapshot = func(s metrics.Snapshot) {
		mu.Lock()
		table = s.Fleet
		mu.Unlock()
	}
	out, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range wait() {
		if err != nil {
			t.Errorf("worker %s: %v", names[i], err)
		}
	}

	n := int64(len(rows))
	if got := counter(t, &out.Final, metrics.TotalIssued); got != n {
		t.Errorf("total issued %d, want the trace's %d", got, n)
	}
	if got := counter(t, &out.Final, metrics.TrackedIssued); got != n {
		t.Errorf("tracked issued %d, want the trace's %d", got, n)
	}
	if out.Final.State != metrics.StateComplete {
		t.Errorf("state %s", out.Final.State)
	}
	// The deal: worker i (in join order) issued requests i, i+3, …:
	// ⌈(150−i)/3⌉ of them, 50 each.
	mu.Lock()
	var counts []int64
	for _, w := range table {
		counts = append(counts, w.Issued)
	}
	mu.Unlock()
	slices.Sort(counts)
	if want := []int64{(n - 2 + 2) / 3, (n - 1 + 2) / 3, (n + 2) / 3}; !slices.Equal(counts, want) {
		t.Errorf("issued per worker %v, want %v", counts, want)
	}

	// Intended times and prompts, from the full event log.
	recs := readEventLog(t, out.Dir+"/events.jsonl.zst")
	var t1 int64
	for _, rec := range recs {
		if rec.Type == event.SessionStartTracking {
			t1 = rec.TimestampNS
		}
	}
	if t1 == 0 {
		t.Fatal("no session.start_tracking in the event log")
	}
	seen := make([]bool, len(rows))
	var worst int64
	for _, rec := range recs {
		p, ok := rec.Data.(*event.PromptData)
		if rec.Type != event.SampleIssued || !ok {
			continue
		}
		i := p.Index - 1
		if i < 0 || i >= len(rows) || seen[i] {
			t.Fatalf("issued record of dataset index %d: want each of 0..%d once", i, len(rows)-1)
		}
		seen[i] = true
		want := (rows[i].Timestamp - rows[0].Timestamp) * 1e6 / speedup
		d := p.ScheduledNS - t1 - want
		worst = max(worst, d, -d)
		if d > int64(2*time.Millisecond) || d < -int64(2*time.Millisecond) {
			t.Errorf("request %d intended at +%v, want the trace's +%v", i, time.Duration(p.ScheduledNS-t1), time.Duration(want))
		}
		if s := single.Sample(i); p.Text != s.Prompt {
			t.Errorf("request %d: the prompt sent (%d bytes) is not the single-host replay's (%d bytes)", i, len(p.Text), len(s.Prompt))
		}
	}
	t.Logf("intended times: worst distance from trace time ÷ %d: %v", speedup, time.Duration(worst))

	// ISL = input_length, from requests.jsonl.
	f, err := os.Open(rundir.Requests(out.Dir))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines := 0
	for sc.Scan() {
		var l struct {
			Idx *int `json:"idx"`
			ISL int  `json:"isl"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		if l.Idx == nil {
			continue
		}
		lines++
		if *l.Idx < 0 || *l.Idx >= len(rows) || l.ISL != rows[*l.Idx].InputLength {
			t.Errorf("request line idx %d: ISL %d, want the recorded input_length", *l.Idx, l.ISL)
		}
	}
	if lines != len(rows) {
		t.Errorf("%d request lines, want %d", lines, len(rows))
	}
	checkReplayTok(t, out, tok, cfg.Metrics.TokenSource)
}
