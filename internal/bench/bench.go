// Package bench runs one benchmark end to end in one process: it wires the
// load generator to an in-process event bus, feeds the aggregator and the
// event log from it, publishes snapshots over ZeroMQ, and writes the run
// directory:
//
//	<report_dir>/config.yaml                  the resolved configuration
//	<report_dir>/events.jsonl                 every event record
//	<report_dir>/metrics/final_snapshot.json  the exact terminal snapshot
//	<report_dir>/result_summary.json          the report as JSON
//	<report_dir>/report.txt                   the report as text
//	<report_dir>/metrics.sock                 the snapshot socket, while running
//
// [Runner.Stop] is the first Ctrl-C: stop issuing, let in-flight requests
// finish within the grace period, end as interrupted. [Runner.Abort] is the
// second: cancel in-flight requests and finalize without waiting for token
// counts. Either way every issued request is accounted for: the aggregator
// and the event log both read the event stream to its end, so the final
// snapshot counts the cancelled requests as completed and failed.
package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/client"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
)

// File names in a run directory.
const (
	ConfigFile = "config.yaml"
	EventsFile = "events.jsonl"
	SocketFile = "metrics.sock"
)

// ErrUnreachable is returned when the endpoint does not accept connections
// before the run starts.
var ErrUnreachable = errors.New("endpoint unreachable")

// Outcome is what a finished run produced.
type Outcome struct {
	Dir     string
	Final   metrics.Snapshot
	Report  *report.Report
	Loadgen loadgen.Result
	Events  int64 // records in events.jsonl
}

// Runner runs one benchmark. Its Stop and Abort methods are safe to call
// from a signal handler goroutine.
type Runner struct {
	cfg    config.Run
	ds     *dataset.Dataset
	tok    aggregator.TokenCounter
	log    *slog.Logger
	dir    string
	addr   string
	client *client.Client
	snaps  *bus.ZMQPublisher[metrics.Snapshot]
	tmpDir string // holds the socket when the run directory's path is too long

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool

	// OnSnapshot, when set before Run, receives every snapshot the aggregator
	// publishes (live ticks and the terminal one), on the aggregator's
	// goroutine: it must not block.
	OnSnapshot func(metrics.Snapshot)
	// OnComplete, when set before Run, is passed to the load generator.
	OnComplete func(index int, out *event.Output, err error)

	mu      sync.Mutex
	session *loadgen.Session
	abort   context.CancelFunc
	stopReq bool
}

// New prepares a run: it validates the configuration, creates the run
// directory and binds the snapshot socket. tok may be nil.
func New(cfg config.Run, ds *dataset.Dataset, tok aggregator.TokenCounter, log *slog.Logger) (*Runner, error) {
	if err := validateRun(&cfg); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	dir := cfg.ReportDir
	if dir == "" {
		dir = filepath.Join("reports", time.Now().Format("20060102-150405"))
	}
	if err := os.MkdirAll(filepath.Join(dir, report.MetricsDir), 0o755); err != nil {
		return nil, fmt.Errorf("report_dir %s: %w", dir, err)
	}
	cfg.ReportDir = dir
	resolved, err := cfg.Marshal()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), resolved, 0o644); err != nil {
		return nil, fmt.Errorf("report_dir %s: %w", dir, err)
	}
	addr, tmpDir := cfg.Metrics.Addr, ""
	if addr == "" {
		abs, _ := filepath.Abs(dir)
		if addr, err = bus.IPCAddr(abs, SocketFile); err != nil {
			// The run directory's path is too long for a unix socket.
			tmp, terr := os.MkdirTemp("", "inferbench")
			if terr != nil {
				return nil, terr
			}
			addr, _ = bus.IPCAddr(tmp, SocketFile)
			tmpDir = tmp
		}
	}
	removeTmp := func() {
		if tmpDir != "" {
			_ = os.RemoveAll(tmpDir)
		}
	}
	cl, err := client.New(ClientConfig(cfg.Endpoint))
	if err != nil {
		removeTmp()
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	snaps, err := bus.NewZMQPublisher[metrics.Snapshot](addr, metrics.SnapshotCodec{}, bus.SnapshotPublisherOptions())
	if err != nil {
		cl.Close()
		removeTmp()
		return nil, fmt.Errorf("metrics.addr %s: %w", addr, err)
	}
	return &Runner{cfg: cfg, ds: ds, tok: tok, log: log, dir: dir, addr: snaps.Endpoint(), client: cl, snaps: snaps, tmpDir: tmpDir}, nil
}

// Close releases what New acquired: the snapshot socket (and its file), the
// client's connections, and the temporary directory of a socket whose run
// directory's path was too long. Run closes the runner when it ends; a
// caller closes it too, so that a runner that never runs (a failed
// Preflight) releases them as well. It is idempotent and returns the first
// call's error; call it after Run has returned, not during.
func (r *Runner) Close() error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		r.closeErr = r.snaps.Close()
		r.client.Close()
		if r.tmpDir != "" {
			if err := os.RemoveAll(r.tmpDir); err != nil && r.closeErr == nil {
				r.closeErr = err
			}
		}
	})
	return r.closeErr
}

// Dir returns the run directory.
func (r *Runner) Dir() string { return r.dir }

// MetricsAddr returns the address snapshots are published on, for
// `inferbench watch`.
func (r *Runner) MetricsAddr() string { return r.addr }

// Preflight checks that the endpoint accepts TCP connections, so that a run
// against a closed port fails at once with a clear message.
func (r *Runner) Preflight(ctx context.Context) error {
	u, err := url.Parse(r.cfg.Endpoint.Endpoint)
	if err != nil {
		return fmt.Errorf("endpoint %q: %w", r.cfg.Endpoint.Endpoint, err)
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	d := net.Dialer{Timeout: r.cfg.Endpoint.ConnectTimeout}
	if d.Timeout <= 0 || d.Timeout > 5*time.Second {
		d.Timeout = 5 * time.Second
	}
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("%w: %s: %v (is the server running?)", ErrUnreachable, r.cfg.Endpoint.Endpoint, err)
	}
	return conn.Close()
}

// Stop is the graceful stop (first Ctrl-C); it returns true the first time.
func (r *Runner) Stop() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := !r.stopReq
	r.stopReq = true
	if r.session != nil {
		r.session.Stop()
	}
	return first
}

// Abort cancels in-flight requests and finalizes at once (second Ctrl-C).
func (r *Runner) Abort() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopReq = true
	if r.session != nil {
		r.session.Stop()
	}
	if r.abort != nil {
		r.abort()
	}
}

// Run executes the benchmark and writes the run directory, then closes the
// runner (Run is called once). The error is non-nil only when the run could
// not produce its results.
func (r *Runner) Run(ctx context.Context) (*Outcome, error) {
	if r.closed.Load() {
		return nil, errors.New("bench: Run after Close")
	}
	// The close error is the caller's to see through Close; the run's
	// results are complete by then.
	defer func() { _ = r.Close() }()

	events := bus.NewInProc[event.Record](0)
	aggSub, logSub := events.Subscribe(), events.Subscribe()
	elog, err := eventlog.Create(filepath.Join(r.dir, EventsFile))
	if err != nil {
		return nil, err
	}
	var pub bus.Publisher[metrics.Snapshot] = r.snaps
	if r.OnSnapshot != nil {
		pub = tee{r.snaps, r.OnSnapshot}
	}
	agg, err := aggregator.New(aggregator.Config{
		PublishInterval: r.cfg.Metrics.PublishInterval,
		DrainTimeout:    r.cfg.Metrics.DrainTimeout,
		Streaming:       r.cfg.Endpoint.Streaming,
		FinalPath:       filepath.Join(r.dir, report.MetricsDir, aggregator.FinalFile),
		Tokenizer:       r.tok,
		TokenSource:     r.cfg.Metrics.TokenSource,
		Logger:          r.log,
	}, pub)
	if err != nil {
		elog.Close()
		return nil, err
	}
	session, err := loadgen.New(LoadgenConfig(r.cfg.Load), r.ds, r.client, events)
	if err != nil {
		elog.Close()
		return nil, err
	}
	session.OnComplete = r.OnComplete

	runCtx, abort := context.WithCancel(ctx)
	defer abort()
	r.mu.Lock()
	r.session, r.abort = session, abort
	stopNow := r.stopReq
	r.mu.Unlock()
	if stopNow {
		session.Stop()
	}

	var wg sync.WaitGroup
	var final metrics.Snapshot
	var finalErr, logErr error
	// An abort (or the end of ctx) cuts short only the aggregator's wait
	// for token counts; it keeps reading the bus to session.ended, because
	// the aborted requests' errors and completions are published after the
	// abort and must be counted. The bus closes once the session returns,
	// so the aggregator cannot outlive it.
	stopHurry := context.AfterFunc(runCtx, agg.Hurry)
	defer stopHurry()
	wg.Add(2)
	go func() {
		defer wg.Done()
		final, finalErr = agg.Run(context.WithoutCancel(ctx), aggSub)
		_ = aggSub.Close()
	}()
	go func() {
		defer wg.Done()
		// The log is drained to the end of the bus even after an abort:
		// nothing received is lost.
		logErr = elog.Run(context.Background(), logSub)
	}()

	res, runErr := session.Run(runCtx)
	_ = events.Close()
	wg.Wait()
	if err := elog.Close(); err != nil && logErr == nil {
		logErr = err
	}

	rep := report.Build(&final)
	rep.Source = filepath.Join(r.dir, report.MetricsDir, aggregator.FinalFile)
	rep.Run = ReportRun(&r.cfg)
	out := &Outcome{Dir: r.dir, Final: final, Report: rep, Loadgen: res, Events: elog.Records()}
	errs := []error{runErr, finalErr, logErr}
	if err := rep.WriteFiles(r.dir); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// tee publishes to a publisher and hands every snapshot to a callback.
type tee struct {
	bus.Publisher[metrics.Snapshot]
	fn func(metrics.Snapshot)
}

func (t tee) Publish(s metrics.Snapshot) error {
	t.fn(s)
	return t.Publisher.Publish(s)
}
