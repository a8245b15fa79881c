package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/inferbench/inferbench/internal/metrics"
)

// Default frame size, used until the terminal reports its own.
const (
	DefaultWidth  = 100
	DefaultHeight = 40
)

// Options configures a dashboard. The zero value is a standalone dashboard
// with no progress target.
type Options struct {
	// Target is the number of tracked samples the run will complete, for the
	// progress bar and the ETA; 0 means none.
	Target int
	// Duration is the run's planned tracked duration, used when Target is 0.
	Duration time.Duration
	// Title names the run in the header (e.g. the endpoint).
	Title string
	// Embedded marks the dashboard built into `inferbench benchmark`: the
	// first quit key calls OnQuit and the dashboard keeps drawing until the
	// terminal snapshot; a second one calls OnAbort, or quits at once when
	// OnAbort is nil.
	Embedded bool
	// OnQuit asks the run to stop gracefully (bench.Runner.Stop). It runs on a
	// command goroutine and must not block for long.
	OnQuit func()
	// OnAbort asks the run to finalize at once (bench.Runner.Abort).
	OnAbort func()
	// Note is shown while no snapshot has arrived (e.g. the address watched);
	// a [WaitingMsg] replaces it.
	Note string
	// StaleAfter, when positive, shows a warning once no snapshot arrived for
	// that long after a live one (publisher gone or restarting).
	StaleAfter time.Duration
}

// WaitingMsg sets the note shown while no snapshot has arrived yet: e.g.
// "connecting to ipc:///run/metrics.sock".
type WaitingMsg struct{ Note string }

// snapshotMsg carries one snapshot into Update.
type snapshotMsg struct{ snap metrics.Snapshot }

// closedMsg tells Update that the snapshot channel was closed.
type closedMsg struct{}

// tickMsg drives the staleness check.
type tickMsg time.Time

// quitDoneMsg follows the OnQuit/OnAbort command.
type quitDoneMsg struct{}

// Model is the dashboard's state: the latest snapshot plus the history that
// the sparklines need. Build it with [New].
type Model struct {
	opts          Options
	in            <-chan metrics.Snapshot
	width, height int

	snap      metrics.Snapshot
	have      bool
	frames    int       // snapshots received
	lastFrame time.Time // wall time of the latest snapshot, for StaleAfter
	stale     time.Duration
	note      string
	selected  string // series shown in the histogram, by name

	qps, tps         history   // per-interval rates over the run
	qpsView, tpsView sparkView // their sparklines, drawn in Update
	// prev holds the rate inputs at the previous frame, its TrackedNS the
	// sparklines' clock: the tracked duration, or (derived) the timestamp.
	prev        metrics.Rates
	prevDerived bool  // the previous frame's rates were derived (no tracked duration)
	rateSrc     Rates // QPS, TPS and elapsed time of the latest frame
	rv          RateView

	stopping bool // embedded: OnQuit was called
	aborting bool // embedded: OnAbort was called
	final    bool // the terminal snapshot arrived
	quit     bool // the user quit before the end
	closed   bool // the channel closed before the terminal snapshot
}

// New returns a dashboard waiting for its first snapshot.
func New(opts Options) Model {
	return Model{opts: opts, width: DefaultWidth, height: DefaultHeight, note: opts.Note}
}

// Last returns the latest snapshot and whether one arrived.
func (m Model) Last() (metrics.Snapshot, bool) { return m.snap, m.have }

// Final reports whether the terminal snapshot arrived.
func (m Model) Final() bool { return m.final }

// Quit reports whether the user quit before the terminal snapshot.
func (m Model) Quit() bool { return m.quit }

// Selected returns the name of the series whose histogram is shown.
func (m Model) Selected() string { return m.selectedName() }

// Init starts waiting for snapshots and, with StaleAfter, the staleness tick.
func (m Model) Init() tea.Cmd {
	return tea.Batch(m.waitForSnapshot(), m.tick())
}

// waitForSnapshot is the realtime bridge: it waits for one value of the
// channel and is issued again after each one.
func (m Model) waitForSnapshot() tea.Cmd {
	if m.in == nil {
		return nil
	}
	in := m.in
	return func() tea.Msg {
		s, ok := <-in
		if !ok {
			return closedMsg{}
		}
		return snapshotMsg{s}
	}
}

func (m Model) tick() tea.Cmd {
	if m.opts.StaleAfter <= 0 {
		return nil
	}
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Update applies one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case snapshotMsg:
		m.apply(msg.snap, time.Now())
		if m.final {
			return m, tea.Quit
		}
		return m, m.waitForSnapshot()
	case closedMsg:
		m.closed = true
		return m, tea.Quit
	case WaitingMsg:
		m.note = msg.Note
	case tickMsg:
		if m.have && !m.lastFrame.IsZero() {
			if d := time.Time(msg).Sub(m.lastFrame); d >= m.opts.StaleAfter {
				m.stale = d.Truncate(time.Second)
			}
		}
		return m, m.tick()
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.redrawSparks()
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m Model) key(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch k.String() {
	case "tab", "right", "l":
		m.selected = m.cycle(+1)
	case "shift+tab", "left", "h":
		m.selected = m.cycle(-1)
	case "q", "ctrl+c", "esc":
		if !m.opts.Embedded || m.final {
			m.quit = !m.final
			return m, tea.Quit
		}
		switch {
		case !m.stopping:
			m.stopping = true
			return m, call(m.opts.OnQuit)
		case m.opts.OnAbort != nil && !m.aborting:
			m.aborting = true
			return m, call(m.opts.OnAbort)
		case m.opts.OnAbort == nil:
			m.quit = true
			return m, tea.Quit
		}
	}
	return m, nil
}

// call runs f off the event loop so that a slow stop never freezes the screen.
func call(f func()) tea.Cmd {
	if f == nil {
		return nil
	}
	return func() tea.Msg { f(); return quitDoneMsg{} }
}

// apply folds one snapshot into the model.
func (m *Model) apply(s metrics.Snapshot, now time.Time) {
	cur := metrics.RatesOf(&s)
	m.rv = m.rateSrc.Observe(s)
	// The sparklines' clock is the tracked duration; without one (the
	// Python tool's live frames) it is the frames' timestamps.
	if m.rv.Derived {
		cur.TrackedNS = s.TimestampNS
	}
	switch {
	case m.have && m.rv.Derived == m.prevDerived && (cur.Succeeded < m.prev.Succeeded || cur.TrackedNS < m.prev.TrackedNS):
		// Counters went backwards: a new session on the same address.
		m.qps, m.tps = history{}, history{}
		m.prev = metrics.Rates{}
		if m.rv.Derived {
			m.prev = cur
		}
	case m.rv.Derived != m.prevDerived:
		// The clock changed (first derived frame, or the tracked duration
		// of the end): start over from here, without a point.
		m.prev = cur
	}
	m.prevDerived = m.rv.Derived
	if d := cur.Sub(m.prev); d.TrackedNS > 0 {
		// The interval's own QPS and TPS, by the dictionary's formulas.
		qps, _ := d.QPS()
		tps, _ := d.TPS()
		m.qps.add(qps)
		m.tps.add(tps)
		m.prev = cur
	}
	m.snap, m.have = s, true
	m.redrawSparks()
	m.frames++
	m.lastFrame, m.stale = now, 0
	if s.State.Terminal() {
		m.final = true
	}
}

// selectable lists the series the histogram can show, in display order.
var selectable = []string{metrics.SeriesTTFT, metrics.SeriesTPOT, metrics.SeriesLatency, metrics.SeriesChunkDelta,
	metrics.SeriesLateness, metrics.SeriesISL, metrics.SeriesOSL, metrics.SeriesFailedLatency, metrics.SeriesQueueWait}

// present returns the selectable series in the latest snapshot.
func (m Model) present() []string {
	out := make([]string, 0, len(selectable))
	for _, n := range selectable {
		if x, ok := m.snap.Find(n); ok && x.Kind == metrics.KindSeries {
			out = append(out, n)
		}
	}
	return out
}

func (m Model) selectedName() string {
	names := m.present()
	for _, n := range names {
		if n == m.selected {
			return n
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return m.selected
}

func (m Model) cycle(step int) string {
	names := m.present()
	if len(names) == 0 {
		return m.selected
	}
	cur := m.selectedName()
	for i, n := range names {
		if n == cur {
			return names[(i+step+len(names))%len(names)]
		}
	}
	return names[0]
}

// maxHistory bounds the points kept per sparkline; beyond it pairs of points
// are averaged, so the line always spans the whole run in bounded memory.
const maxHistory = 4096

// history is a rate series over the run, halved in resolution when full.
type history struct {
	pts    []float64
	stride int     // frames per point
	acc    float64 // sum of the frames folded into the pending point
	n      int     // frames in acc
}

func (h *history) add(v float64) {
	if h.stride == 0 {
		h.stride = 1
	}
	h.acc += v
	h.n++
	if h.n < h.stride {
		return
	}
	h.pts = append(h.pts, h.acc/float64(h.n))
	h.acc, h.n = 0, 0
	if len(h.pts) >= maxHistory {
		half := make([]float64, 0, maxHistory)
		for i := 0; i+1 < len(h.pts); i += 2 {
			half = append(half, (h.pts[i]+h.pts[i+1])/2)
		}
		h.pts = half
		h.stride *= 2
	}
}

// columns averages the history into at most w columns, oldest first.
func (h history) columns(w int) []float64 {
	n := len(h.pts)
	if n <= w {
		return h.pts
	}
	out := make([]float64, w)
	for j := range w {
		lo, hi := j*n/w, (j+1)*n/w
		s := 0.0
		for _, v := range h.pts[lo:hi] {
			s += v
		}
		out[j] = s / float64(hi-lo)
	}
	return out
}

// Offer hands s to a dashboard fed by ch without ever blocking: when ch is
// full the older snapshot is replaced, so the newest one (in particular the
// terminal one) always gets through. ch must be buffered and have a single
// sender; it suits bench.Runner.OnSnapshot, which must not block.
func Offer(ch chan metrics.Snapshot, s metrics.Snapshot) {
	if cap(ch) == 0 {
		select {
		case ch <- s:
		default:
		}
		return
	}
	for {
		select {
		case ch <- s:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// Run shows the dashboard on output, reading keys from input (nil: none),
// until the terminal snapshot arrives and is drawn, the user quits, in is
// closed, or ctx ends. It returns the final model; the error wraps
// tea.ErrProgramKilled and ctx.Err() when ctx ended first.
func Run(ctx context.Context, in <-chan metrics.Snapshot, opts Options, input io.Reader, output io.Writer) (Model, error) {
	m := New(opts)
	m.in = in
	popts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithOutput(output)}
	if input == nil {
		popts = append(popts, tea.WithInput(nil))
	} else {
		popts = append(popts, tea.WithInput(input))
	}
	// Raw mode delivers ctrl+c as a key, which the model handles; the signal
	// handler would only cover a non-terminal input.
	end, err := tea.NewProgram(m, popts...).Run()
	if fm, ok := end.(Model); ok {
		m = fm
	}
	if err != nil {
		if errors.Is(err, tea.ErrInterrupted) {
			m.quit = true
			return m, nil
		}
		return m, fmt.Errorf("tui: %w", err)
	}
	return m, nil
}
