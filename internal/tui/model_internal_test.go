package tui

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/inferbench/inferbench/internal/metrics"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

func TestMain(m *testing.M) {
	// Golden frames are plain text: no colours, no bold.
	lipgloss.SetColorProfile(termenv.Ascii)
	os.Exit(m.Run())
}

// run simulates a session with the aggregator's metric names and returns its
// snapshots: live frames, a draining one, then the terminal one.
type run struct {
	reg      *metrics.Registry
	c        map[string]*metrics.Counter
	s        map[string]*metrics.Series
	rng      *rand.Rand
	ts       int64
	inflight int64
}

func newRun(t testing.TB, errClasses ...string) *run {
	t.Helper()
	r := &run{reg: metrics.NewRegistry(), c: map[string]*metrics.Counter{}, s: map[string]*metrics.Series{}, rng: rand.New(rand.NewPCG(1, 2))}
	for _, n := range []string{metrics.TotalIssued, metrics.TotalCompleted, metrics.TotalFailed,
		metrics.TrackedIssued, metrics.TrackedCompleted, metrics.TrackedFailed,
		metrics.TrackedDuration, metrics.TotalDuration} {
		c, err := r.reg.NewCounter(n, false)
		if err != nil {
			t.Fatal(err)
		}
		r.c[n] = c
	}
	for _, cl := range errClasses {
		c, err := r.reg.NewCounter(metrics.ErrorCounterPrefix+cl, false)
		if err != nil {
			t.Fatal(err)
		}
		r.c[cl] = c
	}
	timeOpts := metrics.SeriesOpts{Low: metrics.TimeLow, High: metrics.TimeHigh}
	tokOpts := metrics.SeriesOpts{Low: metrics.TokenLow, High: metrics.TokenHigh}
	tpot := timeOpts
	tpot.Float = true
	for _, d := range []struct {
		n string
		o metrics.SeriesOpts
	}{{metrics.SeriesTTFT, timeOpts}, {metrics.SeriesLatency, timeOpts}, {metrics.SeriesFailedLatency, timeOpts},
		{metrics.SeriesChunkDelta, timeOpts}, {metrics.SeriesTPOT, tpot}, {metrics.SeriesISL, tokOpts},
		{metrics.SeriesOSL, tokOpts}, {metrics.SeriesLateness, timeOpts}} {
		s, err := r.reg.NewSeries(d.n, d.o)
		if err != nil {
			t.Fatal(err)
		}
		r.s[d.n] = s
	}
	return r
}

// step issues n samples, completes done of them (failed of which fail) and
// advances the clock by 250 ms.
func (r *run) step(issued, done, failed int) {
	r.c[metrics.TotalIssued].Add(int64(issued))
	r.c[metrics.TrackedIssued].Add(int64(issued))
	for i := range done {
		r.c[metrics.TotalCompleted].Add(1)
		r.c[metrics.TrackedCompleted].Add(1)
		if i < failed {
			r.c[metrics.TotalFailed].Add(1)
			r.c[metrics.TrackedFailed].Add(1)
			r.s[metrics.SeriesFailedLatency].Record(2_000_000 + r.rng.Int64N(1_000_000))
			continue
		}
		ttft := 20_000_000 + r.rng.Int64N(30_000_000)
		osl := 50 + r.rng.Int64N(200)
		tpot := 5e6 + r.rng.Float64()*10e6
		r.s[metrics.SeriesTTFT].Record(ttft)
		r.s[metrics.SeriesTPOT].RecordFloat(tpot)
		r.s[metrics.SeriesLatency].Record(ttft + int64(tpot*float64(osl-1)))
		r.s[metrics.SeriesISL].Record(100 + r.rng.Int64N(900))
		r.s[metrics.SeriesOSL].Record(osl)
		for range 4 {
			r.s[metrics.SeriesChunkDelta].Record(3_000_000 + r.rng.Int64N(12_000_000))
		}
	}
	for range issued {
		r.s[metrics.SeriesLateness].Record(10_000 + r.rng.Int64N(200_000))
	}
	r.inflight += int64(issued - done)
	r.ts += 250_000_000
	r.c[metrics.TrackedDuration].Set(r.ts)
	r.c[metrics.TotalDuration].Set(r.ts)
}

func (r *run) snap(st metrics.State, pending int64) metrics.Snapshot {
	return r.reg.Snapshot(st, pending, r.ts)
}

// sessions returns the snapshot sequences the golden tests replay.
func sessions(t testing.TB) map[string][]metrics.Snapshot {
	out := map[string][]metrics.Snapshot{}

	r := newRun(t)
	var seq []metrics.Snapshot
	for i := range 6 {
		r.step(25, 10+3*i, i%2)
		seq = append(seq, r.snap(metrics.StateLive, 0))
	}
	r.step(0, 40, 0)
	seq = append(seq, r.snap(metrics.StateDraining, 3))
	r.step(0, 5, 0)
	seq = append(seq, r.snap(metrics.StateComplete, 0))
	out["complete"] = seq

	r = newRun(t, "timeout", "http_503")
	seq = nil
	for range 3 {
		r.step(30, 12, 2)
		r.c["timeout"].Add(1)
		r.c["http_503"].Add(1)
		seq = append(seq, r.snap(metrics.StateLive, 2))
	}
	r.c["http_503"].Add(1)
	seq = append(seq, r.snap(metrics.StateInterrupted, 0))
	out["interrupted"] = seq
	return out
}

// golden compares got with testdata/<test>/<name>.golden, rewriting it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", strings.ReplaceAll(t.Name(), "/", "_"), name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/tui -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("frame differs from %s:\n--- got ---\n%s\n--- want ---\n%s", path, got, want)
	}
}

func feed(t *testing.T, m Model, msgs ...tea.Msg) (Model, tea.Cmd) {
	t.Helper()
	var cmd tea.Cmd
	for _, msg := range msgs {
		var tm tea.Model
		tm, cmd = m.Update(msg)
		m = tm.(Model)
	}
	return m, cmd
}

func isQuit(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

// TestModel_View replays whole sessions through Update and compares every
// rendered frame with its golden file.
func TestModel_View(t *testing.T) {
	opts := map[string]Options{
		"complete":    {Target: 150, Title: "http://127.0.0.1:8000/v1"},
		"interrupted": {Duration: 10 * time.Second, Title: "duration run"},
	}
	for name, seq := range sessions(t) {
		t.Run(name, func(t *testing.T) {
			m, _ := feed(t, New(opts[name]), tea.WindowSizeMsg{Width: 110, Height: 44})
			var frames []string
			frames = append(frames, m.View())
			for i, s := range seq {
				var cmd tea.Cmd
				m, cmd = feed(t, m, snapshotMsg{s})
				if got, want := isQuit(cmd), s.State.Terminal(); got != want {
					t.Fatalf("frame %d (%s): quit=%v, want %v", i, s.State, got, want)
				}
				frames = append(frames, m.View())
			}
			if !m.Final() || m.Quit() {
				t.Fatalf("after the terminal frame: Final=%v Quit=%v", m.Final(), m.Quit())
			}
			last := frames[len(frames)-1]
			if !strings.Contains(last, strings.ToUpper(string(seq[len(seq)-1].State))) {
				t.Errorf("final frame does not show state %s:\n%s", seq[len(seq)-1].State, last)
			}
			for i, f := range frames {
				golden(t, fmt.Sprintf("frame%02d", i), f)
			}
		})
	}
}

// TestModel_Frames checks properties golden files would hide: the first
// frame waits, numbers follow the snapshots, the frame fits the terminal.
func TestModel_Frames(t *testing.T) {
	seq := sessions(t)["complete"]
	m, _ := feed(t, New(Options{Target: 150}), tea.WindowSizeMsg{Width: 100, Height: 40})
	if v := m.View(); !strings.Contains(v, "waiting for the first snapshot") {
		t.Fatalf("first frame does not wait:\n%s", v)
	}
	m, _ = feed(t, m, WaitingMsg{Note: "connecting to ipc:///x"})
	if v := m.View(); !strings.Contains(v, "connecting to ipc:///x") {
		t.Fatalf("waiting note missing:\n%s", v)
	}
	for i, s := range seq {
		m, _ = feed(t, m, snapshotMsg{s})
		v := m.View()
		want := fmt.Sprintf("completed %d ", s.CounterInt(metrics.TrackedCompleted))
		if !strings.Contains(v, want) {
			t.Errorf("frame %d lacks %q:\n%s", i, want, v)
		}
		lines := strings.Split(strings.TrimRight(v, "\n"), "\n")
		if len(lines) > 40 {
			t.Errorf("frame %d has %d lines, more than the 40-row terminal", i, len(lines))
		}
		for _, l := range lines {
			if w := lipgloss.Width(l); w > 100 {
				t.Errorf("frame %d: line %q is %d cells wide", i, l, w)
			}
		}
	}
}

func TestModel_Keys(t *testing.T) {
	seq := sessions(t)["complete"]
	tab := tea.KeyMsg{Type: tea.KeyTab}
	q := tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'q'}}

	t.Run("select", func(t *testing.T) {
		m, _ := feed(t, New(Options{}), snapshotMsg{seq[2]})
		if got := m.Selected(); got != metrics.SeriesTTFT {
			t.Fatalf("default series %q, want %q", got, metrics.SeriesTTFT)
		}
		m, _ = feed(t, m, tab)
		if got := m.Selected(); got != metrics.SeriesTPOT {
			t.Fatalf("after tab %q, want %q", got, metrics.SeriesTPOT)
		}
		if v := m.View(); !strings.Contains(v, "histogram · TPOT") {
			t.Fatalf("histogram title not switched:\n%s", v)
		}
		m, _ = feed(t, m, tea.KeyMsg{Type: tea.KeyLeft}, tea.KeyMsg{Type: tea.KeyLeft})
		// Left twice from TPOT wraps past TTFT to the last series present.
		if got := m.Selected(); got != metrics.SeriesFailedLatency {
			t.Fatalf("after ←← %q, want %q", got, metrics.SeriesFailedLatency)
		}
	})

	t.Run("standalone quit", func(t *testing.T) {
		m, cmd := feed(t, New(Options{}), snapshotMsg{seq[1]}, q)
		if !isQuit(cmd) || !m.Quit() {
			t.Fatalf("q did not quit a standalone dashboard")
		}
	})

	t.Run("embedded quit waits for the terminal frame", func(t *testing.T) {
		stops, aborts := 0, 0
		m, cmd := feed(t, New(Options{Embedded: true, OnQuit: func() { stops++ }, OnAbort: func() { aborts++ }}), snapshotMsg{seq[1]}, q)
		if isQuit(cmd) || stops != 1 || m.Quit() {
			t.Fatalf("first q: quit=%v stops=%d", isQuit(cmd), stops)
		}
		if v := m.View(); !strings.Contains(v, "stopping") {
			t.Fatalf("no stopping notice:\n%s", v)
		}
		m, cmd = feed(t, m, snapshotMsg{seq[6]})
		if isQuit(cmd) {
			t.Fatal("quit on a draining frame")
		}
		m, cmd = feed(t, m, tea.KeyMsg{Type: tea.KeyCtrlC})
		if isQuit(cmd) || aborts != 1 || stops != 1 {
			t.Fatalf("second key: quit=%v stops=%d aborts=%d", isQuit(cmd), stops, aborts)
		}
		m, cmd = feed(t, m, snapshotMsg{seq[7]})
		if !isQuit(cmd) || !m.Final() || m.Quit() {
			t.Fatalf("terminal frame: quit=%v final=%v", isQuit(cmd), m.Final())
		}
	})
}

// TestModel_Stale shows the staleness warning once no snapshot came for
// StaleAfter.
func TestModel_Stale(t *testing.T) {
	seq := sessions(t)["complete"]
	m, _ := feed(t, New(Options{StaleAfter: 2 * time.Second}), snapshotMsg{seq[0]})
	m, _ = feed(t, m, tickMsg(m.lastFrame.Add(time.Second)))
	if v := m.View(); strings.Contains(v, "publisher gone") {
		t.Fatalf("stale after 1s:\n%s", v)
	}
	m, _ = feed(t, m, tickMsg(m.lastFrame.Add(3*time.Second)))
	if v := m.View(); !strings.Contains(v, "no snapshot for 3s") {
		t.Fatalf("no stale warning after 3s:\n%s", v)
	}
	m, _ = feed(t, m, snapshotMsg{seq[1]})
	if v := m.View(); strings.Contains(v, "publisher gone") {
		t.Fatalf("stale warning survives a new frame:\n%s", v)
	}
}

func TestHistory(t *testing.T) {
	var h history
	for i := range 3 * maxHistory {
		h.add(float64(i))
	}
	if len(h.pts) >= maxHistory || len(h.pts) < maxHistory/2 {
		t.Fatalf("history holds %d points", len(h.pts))
	}
	// The oldest point still stands for the start of the run.
	if h.pts[0] > 2 {
		t.Fatalf("oldest point %v: the start of the run was dropped", h.pts[0])
	}
	cols := h.columns(50)
	if len(cols) != 50 || !(cols[0] < cols[49]) {
		t.Fatalf("columns %v", cols)
	}
}

// TestDictionaryNames checks that every metric the dashboard names is in the
// metric dictionary, and that a frame shows each series under its label.
func TestDictionaryNames(t *testing.T) {
	for _, name := range append(slices.Clone(tableRows), selectable...) {
		if d, ok := metrics.Lookup(name); !ok || d.Kind != metrics.KindSeries {
			t.Errorf("dashboard series %q: not a series of the metric dictionary", name)
		}
	}
	for _, name := range []string{metrics.QPSName, metrics.TPSName} {
		if !metrics.Known(name) {
			t.Errorf("dashboard rate %q: not in the metric dictionary", name)
		}
	}
	r := newRun(t)
	r.step(25, 20, 1)
	m := New(Options{})
	m.apply(r.snap(metrics.StateLive, 0), time.Now())
	view := m.View()
	for _, name := range tableRows {
		if x, ok := m.snap.Find(name); ok && x.Count > 0 && !strings.Contains(view, metrics.Label(name)) {
			t.Errorf("frame does not show %s as %q:\n%s", name, metrics.Label(name), view)
		}
	}
}

// With a goodput rule the snapshot has the goodput counters, and the frame a
// goodput line, still within the terminal.
func TestModel_Goodput(t *testing.T) {
	seq := sessions(t)["complete"]
	s := seq[len(seq)-1]
	completed := s.CounterInt(metrics.TrackedCompleted)
	s.Metrics = append(s.Metrics,
		metrics.Metric{Kind: metrics.KindCounter, Name: metrics.TrackedGood, Value: metrics.Int(completed / 2)},
		metrics.Metric{Kind: metrics.KindCounter, Name: metrics.TrackedGoodTokens, Value: metrics.Int(completed * 5)})
	m, _ := feed(t, New(Options{Target: 150}), tea.WindowSizeMsg{Width: 100, Height: 40})
	m, _ = feed(t, m, snapshotMsg{s})
	v := m.View()
	want := fmt.Sprintf("%5.1f%% of completed", 100*float64(completed/2)/float64(completed))
	if !strings.Contains(v, "Goodput") || !strings.Contains(v, want) {
		t.Errorf("no goodput line with %q:\n%s", want, v)
	}
	if n := len(strings.Split(strings.TrimRight(v, "\n"), "\n")); n > 40 {
		t.Errorf("%d lines, more than the 40-row terminal", n)
	}
}

// A run that scrapes the server's metrics carries its gauges in the
// snapshot: the frame shows them, still within the terminal; a gauge the
// server does not export shows as a dash.
func TestModel_Server(t *testing.T) {
	seq := sessions(t)["complete"]
	s := seq[len(seq)-1]
	g := metrics.NewServerGauges()
	g.Running, g.Waiting, g.KVCache, g.PowerW, g.Failures = 4, 2, 0.35, 600, 1
	s.Server = g
	m, _ := feed(t, New(Options{Target: 150}), tea.WindowSizeMsg{Width: 100, Height: 40})
	m, _ = feed(t, m, snapshotMsg{s})
	v := m.View()
	want := "Server   running 4  waiting 2  KV cache 35.0%  GPU – 600 W  (1 scrapes failed)"
	if !strings.Contains(v, want) {
		t.Errorf("no server line %q:\n%s", want, v)
	}
	if n := len(strings.Split(strings.TrimRight(v, "\n"), "\n")); n > 40 {
		t.Errorf("%d lines, more than the 40-row terminal", n)
	}
}
