package scrape

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/inferbench/inferbench/internal/metrics"
)

// BoundaryTimeout bounds the scrapes that open and close the tracking
// window, when Config.Timeout is shorter.
const BoundaryTimeout = 2 * time.Second

// Config configures a [Scraper].
type Config struct {
	// Targets are the /metrics URLs scraped at every interval.
	Targets []string
	// Interval is the scrape period (the run's publish interval).
	Interval time.Duration
	// Timeout bounds one scrape; 0 means 90 % of Interval. It is kept
	// below Interval so that a slow server cannot pile scrapes up.
	Timeout time.Duration
	// MaxBody bounds a response; 0 means DefaultMaxBody.
	MaxBody int64
	// Out receives server.jsonl, one line per scrape per target; nil
	// writes nothing.
	Out io.Writer
	// Client is the HTTP client; nil means a private one.
	Client *http.Client
}

// Scraper scrapes the targets every interval while [Scraper.Run] runs,
// records each scrape as a server.jsonl line, keeps the latest gauges for
// the dashboard ([Scraper.Live]) and folds the scrapes inside the tracking
// window into a summary ([Scraper.Summary]).
//
// A failed scrape (refused, timed out, not 200, too large, not the text
// format) is counted and never stops anything. Live, StartWindow and
// StopWindow are safe for concurrent use; Summary is read after Run
// returned.
type Scraper struct {
	cfg     Config
	hc      *http.Client
	targets []*target
	marks   chan markReq
	ended   chan struct{} // closed when Run returns
	live    atomic.Pointer[metrics.ServerGauges]
	begin   time.Time

	open     bool // the tracking window is open
	buf      []byte
	writeErr error
	ran      atomic.Bool
}

// target is one scraped URL and its state (owned by Run's goroutine).
type target struct {
	url               string
	kind              Kind
	scrapes, failures int64
	lastErr           string
	last              *reading // the latest successful reading
	acc               *accumulator
	body, filtered    bytes.Buffer // reused by the target's scrapes
}

func (t *target) kindOrUnknown() Kind {
	if t.kind == "" {
		return KindUnknown
	}
	return t.kind
}

// New checks cfg and returns a scraper.
func New(cfg Config) (*Scraper, error) {
	if len(cfg.Targets) == 0 {
		return nil, errors.New("scrape: no target")
	}
	if cfg.Interval <= 0 {
		return nil, fmt.Errorf("scrape: interval %v must be positive", cfg.Interval)
	}
	if cfg.Timeout <= 0 || cfg.Timeout >= cfg.Interval {
		cfg.Timeout = cfg.Interval * 9 / 10
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	hc := cfg.Client
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 2,
			IdleConnTimeout:     time.Minute,
			// Uncompressed: the server under test should not spend CPU
			// compressing a page for us (nor we decompressing it); a few
			// hundred KB/s is nothing on the links benchmarks run over.
			DisableCompression: true,
			Proxy:              http.ProxyFromEnvironment,
		}}
	}
	s := &Scraper{cfg: cfg, hc: hc, marks: make(chan markReq, 8), ended: make(chan struct{})}
	for _, u := range cfg.Targets {
		s.targets = append(s.targets, &target{url: u, acc: newAccumulator()})
	}
	s.live.Store(metrics.NewServerGauges())
	return s, nil
}

// markReq asks Run for a window scrape; done, when set, is closed once the
// scrape is recorded.
type markReq struct {
	w    window
	done chan struct{}
}

// StartWindow opens the tracking window: a scrape is taken at once and the
// summary counts from it. It never blocks.
func (s *Scraper) StartWindow() { s.mark(opening, nil) }

// StopWindow closes the tracking window with one more scrape. It never
// blocks.
func (s *Scraper) StopWindow() { s.mark(closing, nil) }

// StartWindowWait is StartWindow that returns once the opening scrape is
// recorded (or ctx ends, or Run has returned): called before the first
// tracked request is sent, the counter deltas cover exactly the tracked
// requests. It waits at most about BoundaryTimeout plus a tick scrape.
func (s *Scraper) StartWindowWait(ctx context.Context) { s.markWait(ctx, opening) }

// StopWindowWait is StopWindow that returns once the closing scrape is
// recorded (or ctx ends, or Run has returned).
func (s *Scraper) StopWindowWait(ctx context.Context) { s.markWait(ctx, closing) }

func (s *Scraper) markWait(ctx context.Context, w window) {
	done := make(chan struct{})
	if !s.mark(w, done) {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	case <-s.ended:
	}
}

func (s *Scraper) mark(w window, done chan struct{}) bool {
	select {
	case s.marks <- markReq{w, done}:
		return true
	default:
		return false
	}
}

// Live returns the gauges of the latest scrapes (values NaN until a target
// exports them). The value is shared: do not modify it.
func (s *Scraper) Live() *metrics.ServerGauges { return s.live.Load() }

// Run scrapes every interval until ctx ends. If the tracking window is
// still open then (an interrupted run), it closes it with a last scrape.
// Run returns the first error writing server.jsonl, if any (the scrapes go
// on without the file).
func (s *Scraper) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("scrape: Run called twice")
	}
	defer close(s.ended)
	s.begin = time.Now()
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	s.scrapeAll(ctx, outside)
	for {
		select {
		case <-ctx.Done():
			// Marks sent before the end still count, in order.
			for {
				select {
				case m := <-s.marks:
					s.markScrape(ctx, m)
					continue
				default:
				}
				break
			}
			if s.open {
				s.scrapeAll(ctx, closing)
			}
			return s.writeErr
		case m := <-s.marks:
			s.markScrape(ctx, m)
		case <-tick.C:
			s.scrapeAll(ctx, inside)
		}
	}
}

func (s *Scraper) markScrape(ctx context.Context, m markReq) {
	s.scrapeAll(ctx, m.w)
	if m.done != nil {
		close(m.done)
	}
}

// result is one target's scrape.
type result struct {
	at   time.Time
	r    *reading
	keep []*dto.MetricFamily
	err  error
}

// scrapeAll scrapes every target at once, then records the results; w says
// what the scrape means to the window (inside means "inside if open").
func (s *Scraper) scrapeAll(ctx context.Context, w window) {
	switch {
	case w == opening && s.open, w == closing && !s.open:
		return // a repeated mark
	case w == inside && !s.open:
		w = outside
	}
	timeout := s.cfg.Timeout
	if w == opening || w == closing {
		// The window's two ends carry the counter deltas: a busy server
		// gets longer to answer them (a tick scrape is simply skipped).
		timeout = max(timeout, BoundaryTimeout)
	}
	// One time for the round: every target's reading of it counts at the
	// same instant, so the targets share the window's span.
	at := time.Now()
	results := make([]result, len(s.targets))
	var wg sync.WaitGroup
	for i, t := range s.targets {
		// Histograms are read at the window's ends, and inside it until a
		// target has given one (its opening scrape failed).
		hists := w == opening || w == closing || w == inside && len(t.acc.histFirst) == 0
		wg.Go(func() {
			// A scrape is bounded by its timeout, not cut by the end of
			// Run: one under way when the run ends is not a failure.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
			defer cancel()
			results[i] = s.scrapeOne(sctx, t, hists)
			results[i].at = at
		})
	}
	wg.Wait()
	for i, t := range s.targets {
		res := &results[i]
		t.scrapes++
		var errText string
		if res.err != nil {
			t.failures++
			t.lastErr = res.err.Error()
			errText = t.lastErr
		} else {
			if t.kind == "" {
				t.kind = res.r.kind
			}
			t.last = res.r
			if w != outside {
				t.acc.add(res.at, res.r)
			}
		}
		s.write(res.at, t, w, errText, res.keep, res.err == nil)
	}
	switch w {
	case opening:
		s.open = true
	case closing:
		s.open = false
	}
	s.updateLive()
}

func (s *Scraper) scrapeOne(ctx context.Context, t *target, hists bool) result {
	body, err := fetch(ctx, s.hc, t.url, s.cfg.MaxBody, &t.body)
	if err != nil {
		return result{err: err}
	}
	kind := t.kind
	if kind == "" {
		kind = Detect(familyNames(body))
	}
	var f []byte
	if kind == KindUnknown {
		f = prefilterUnknown(t.filtered.AvailableBuffer(), body)
	} else {
		f = prefilter(t.filtered.AvailableBuffer(), body, hists)
	}
	t.filtered.Write(f) // keeps the grown buffer for the next scrape
	t.filtered.Reset()
	if len(f) == 0 && len(bytes.TrimSpace(body)) > 0 {
		what := "gauge or counter sample"
		if kind != KindUnknown {
			what = string(kind) + " metric family"
		}
		return result{err: fmt.Errorf("%s: no %s in the response (not the Prometheus text format?)", t.url, what)}
	}
	body = f
	fams, err := Parse(body)
	if err != nil {
		return result{err: fmt.Errorf("%s: %w", t.url, err)}
	}
	r, keep := reduce(fams, kind)
	return result{r: r, keep: keep}
}

// write appends the scrape's line to Out; the first write error stops the
// file (the scrapes go on).
func (s *Scraper) write(at time.Time, t *target, w window, errText string, keep []*dto.MetricFamily, ok bool) {
	if s.cfg.Out == nil || s.writeErr != nil {
		return
	}
	if ok && keep == nil {
		keep = []*dto.MetricFamily{}
	}
	s.buf = appendLine(s.buf[:0], at, at.Sub(s.begin), t.url, t.kind, w.String(), errText, keep)
	if _, err := s.cfg.Out.Write(s.buf); err != nil {
		s.writeErr = fmt.Errorf("server metrics file: %w", err)
	}
	if cap(s.buf) > 4*MaxLine {
		s.buf = nil
	}
}

// updateLive publishes the gauges of every target's latest reading.
func (s *Scraper) updateLive() {
	g := metrics.NewServerGauges()
	var kvSum, kvN, utilSum, utilN float64
	for _, t := range s.targets {
		g.Failures += t.failures
		r := t.last
		if r == nil {
			continue
		}
		if v, ok := r.values[RoleRunning]; ok {
			g.Running = nanAdd(g.Running, v)
		}
		if v, ok := r.values[RoleWaiting]; ok {
			g.Waiting = nanAdd(g.Waiting, v)
		}
		if v, ok := r.values[RoleKVCache]; ok {
			kvSum += v
			kvN++
		}
		for _, gpu := range r.gpus {
			if !math.IsNaN(gpu.util) {
				utilSum += gpu.util
				utilN++
			}
			if !math.IsNaN(gpu.power) {
				g.PowerW = nanAdd(g.PowerW, gpu.power)
			}
		}
	}
	if kvN > 0 {
		g.KVCache = kvSum / kvN
	}
	if utilN > 0 {
		g.GPUUtil = utilSum / utilN
	}
	s.live.Store(g)
}

// nanAdd adds v to a sum that starts as NaN (missing).
func nanAdd(sum, v float64) float64 {
	if math.IsNaN(sum) {
		return v
	}
	return sum + v
}

// Summary returns the view over the tracking window; call it after Run
// returned. The client's side is the caller's to fill in
// ([metrics.ServerView.SetClient]).
func (s *Scraper) Summary() *metrics.ServerView { return summarize(s.targets) }

// Kinds returns the kind detected for each target, in order ("" for a
// target never scraped successfully); call it after Run returned.
func (s *Scraper) Kinds() []Kind {
	out := make([]Kind, len(s.targets))
	for i, t := range s.targets {
		out[i] = t.kind
	}
	return out
}

// Probe scrapes url once: it returns the kind of server behind it and the
// number of families it declares, or the error of the scrape. Like a
// scrape, it parses only the families it would keep. A nil hc is a client
// that leaves no connection open behind it.
func Probe(ctx context.Context, hc *http.Client, url string) (Kind, int, error) {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: http.ProxyFromEnvironment}}
	}
	body, err := Fetch(ctx, hc, url, DefaultMaxBody)
	if err != nil {
		return "", 0, err
	}
	names := familyNames(body)
	kind := Detect(names)
	var f []byte
	if kind == KindUnknown {
		f = prefilterUnknown(nil, body)
	} else {
		f = prefilter(nil, body, true)
	}
	fams, err := Parse(f)
	if err != nil {
		return "", 0, err
	}
	n := max(len(names), len(fams))
	if n == 0 {
		return "", 0, errors.New("no metric family")
	}
	return kind, n, nil
}
