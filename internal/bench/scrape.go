package bench

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/rundir"
	"github.com/inferbench/inferbench/internal/scrape"
)

// The server's own metrics (config metrics.server_metrics): Preflight
// resolves the targets (by default the endpoint's /metrics when it answers),
// Run scrapes them beside the load generator (package scrape), stamps the
// latest gauges on every published snapshot, marks the tracking window from
// the session's records and puts the summary into the report.

// serverProbeTimeout bounds the default /metrics probe before a run.
const serverProbeTimeout = 2 * time.Second

// MetricsURL returns the /metrics URL of an endpoint's server: its scheme
// and host with path /metrics (an endpoint given as …/v1 serves it at the
// root).
func MetricsURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("endpoint %q: not a URL", endpoint)
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: "/metrics"}).String(), nil
}

// resolveServerMetrics fills in the default: the endpoint's /metrics when a
// probe finds Prometheus text there, else off. Explicit URLs are kept as
// given (a URL that fails is a warning during the run, not a failed start).
func (r *Runner) resolveServerMetrics(ctx context.Context) {
	m := &r.cfg.Metrics
	if len(m.ServerMetrics) > 0 {
		return
	}
	m.ServerMetrics = []string{config.ServerMetricsOff}
	u, err := MetricsURL(r.cfg.Endpoint.Endpoint)
	if err != nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, serverProbeTimeout)
	defer cancel()
	kind, _, err := scrape.Probe(pctx, nil, u)
	if err != nil {
		r.log.Debug("no server metrics", "url", u, "err", err)
		return
	}
	m.ServerMetrics = []string{u}
	r.serverKinds = []scrape.Kind{kind}
}

// ServerMetrics returns the /metrics URLs the run scrapes (none when off),
// and for each the kind of server the probe found ("" when not probed).
func (r *Runner) ServerMetrics() (urls []string, kinds []scrape.Kind) {
	for i, u := range r.cfg.Metrics.ServerMetrics {
		if u == config.ServerMetricsOff {
			return nil, nil
		}
		urls = append(urls, u)
		var k scrape.Kind
		if i < len(r.serverKinds) {
			k = r.serverKinds[i]
		}
		kinds = append(kinds, k)
	}
	return urls, kinds
}

// serverScrape is a running scraper and its file.
type serverScrape struct {
	s    *scrape.Scraper
	file *os.File
	stop context.CancelFunc
	done chan error

	once sync.Once
	err  error // of writing the file
}

// close stops the scraper and closes its file; it is idempotent (a run that
// fails after the scraper started closes it through a defer).
func (ss *serverScrape) close() error {
	ss.once.Do(func() {
		ss.stop()
		ss.err = <-ss.done
		if ss.file != nil {
			if err := ss.file.Close(); err != nil && ss.err == nil {
				ss.err = err
			}
		}
	})
	return ss.err
}

// startServerScrape starts scraping the configured targets, or returns nil
// when there are none. A file that cannot be created is a warning: the
// scrapes still feed the report and the dashboard.
func (r *Runner) startServerScrape(ctx context.Context) *serverScrape {
	urls, _ := r.ServerMetrics()
	if len(urls) == 0 {
		return nil
	}
	f, err := os.OpenFile(rundir.ServerMetrics(r.dir), os.O_CREATE|os.O_WRONLY|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		r.log.Warn("server metrics are not written to disk", "err", err)
		f = nil
	}
	cfg := scrape.Config{Targets: urls, Interval: r.cfg.Metrics.PublishInterval}
	if f != nil {
		cfg.Out = f
	}
	s, err := scrape.New(cfg)
	if err != nil {
		r.log.Warn("no server metrics", "err", err)
		if f != nil {
			_ = f.Close()
		}
		return nil
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	ss := &serverScrape{s: s, file: f, stop: stop, done: make(chan error, 1)}
	go func() { ss.done <- s.Run(sctx) }()
	return ss
}

// finish stops the scraper (closing the window with a last scrape if the
// run ended inside it) and returns the summary with the client's side
// filled in from the final snapshot, and the warnings for the report.
func (ss *serverScrape) finish(final *metrics.Snapshot) (*metrics.ServerView, []string) {
	ss.s.StopWindow()
	werr := ss.close()
	var warns []string
	if werr != nil {
		warns = append(warns, fmt.Sprintf("server metrics: %s could not be written (%v)", rundir.ServerMetricsFile, werr))
	}
	v := ss.s.Summary()
	v.SetClient(final)
	return v, append(warns, serverWarnings(v)...)
}

// serverWarnings are the report's warnings about the scrapes.
func serverWarnings(v *metrics.ServerView) []string {
	if v.Failures == 0 {
		return nil
	}
	return []string{fmt.Sprintf("server metrics: %d of %d scrapes failed (last: %s)", v.Failures, v.Scrapes, v.LastError)}
}

// ServerView rebuilds a finished run's server view from its
// metrics/server.jsonl, with the client's side from its final snapshot,
// and the report's warnings about it; nil when the run scraped nothing.
func ServerView(dir string, final *metrics.Snapshot) (*metrics.ServerView, []string) {
	v, bad, err := scrape.ReadFile(rundir.ServerMetrics(dir))
	if err != nil {
		return nil, nil
	}
	v.SetClient(final)
	warns := serverWarnings(v)
	if bad > 0 {
		warns = append(warns, fmt.Sprintf("server metrics: %d lines of %s could not be read", bad, rundir.ServerMetricsFile))
	}
	return v, warns
}

// windowTap is the load generator's publisher, which tells the scraper when
// the tracking window opens and closes as the session's records pass.
type windowTap struct {
	bus.Publisher[event.Record]
	s   *scrape.Scraper
	ctx context.Context
}

var _ bus.Publisher[event.Record] = windowTap{}

// Publish marks the window's ends before passing the record on. The marks
// wait for their scrape: the opening one is taken before the first tracked
// request leaves, the closing one after the last tracked request ended, so
// the server's counter deltas cover exactly the tracked requests. The load
// generator's schedule starts once the start record is published, so the
// wait delays the tracked phase, never a request against its intended
// time; the start record is stamped again after the wait, so that the
// tracked duration (and every offset from the tracking start) counts from
// when tracking really began, not from before the scrape.
func (w windowTap) Publish(rec event.Record) error {
	switch rec.Type {
	case event.SessionStartTracking:
		w.s.StartWindowWait(w.ctx)
		rec.TimestampNS = event.Now()
	case event.SessionStopTracking:
		w.s.StopWindowWait(w.ctx)
	}
	return w.Publisher.Publish(rec)
}

// PublishBatch passes a batch on in one piece when the publisher takes
// batches (a fleet coordinator's ingest publishes a worker's frame at a
// time: one lock and one wake-up instead of one per record); a batch that
// holds a window end goes record by record, through Publish.
func (w windowTap) PublishBatch(recs []event.Record) error {
	b, ok := w.Publisher.(interface{ PublishBatch([]event.Record) error })
	for i := range recs {
		if t := recs[i].Type; t == event.SessionStartTracking || t == event.SessionStopTracking {
			ok = false
			break
		}
	}
	if ok {
		return b.PublishBatch(recs)
	}
	for _, rec := range recs {
		if err := w.Publish(rec); err != nil {
			return err
		}
	}
	return nil
}

// stampServer puts the scraper's latest gauges on every snapshot published.
type stampServer struct {
	bus.Publisher[metrics.Snapshot]
	s *scrape.Scraper
}

func (p stampServer) Publish(s metrics.Snapshot) error {
	s.Server = p.s.Live()
	return p.Publisher.Publish(s)
}
