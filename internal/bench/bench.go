// Package bench runs one benchmark end to end in one process: it wires the
// load generator to an in-process event bus, feeds the aggregator and the
// event log from it, publishes snapshots over ZeroMQ, and writes the run
// directory:
//
//	<report_dir>/...  its layout is package rundir's: the resolved configuration,
//	                  the event log, the exact terminal snapshot, the report as
//	                  JSON and as text, and the snapshot socket while running
//
// The run directory is claimed by [Runner.Open], after every check that can
// fail at the start ([New], [Runner.Preflight]), and held under an
// exclusive flock on the directory until the run's results are written: two
// runs never share a directory, and one holding a finished run is only
// reused with config.Run.Overwrite.
//
// [Runner.Stop] is the first Ctrl-C: stop issuing, let in-flight requests
// finish within the grace period, end as interrupted. [Runner.Abort] is the
// second: cancel in-flight requests and finalize without waiting for token
// counts. Either way every issued request is accounted for: the aggregator
// and the event log both read the event stream to its end, so the final
// snapshot counts the cancelled requests as completed and failed.
//
// A write failure of the event log (disk full, an unwritable file) stops the
// run as the first Ctrl-C does: the run ends interrupted, the final snapshot
// and the report are still produced, and Run returns the failure.
package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/atomicfile"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/client"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/report/html"
	"github.com/inferbench/inferbench/internal/rundir"
	"github.com/inferbench/inferbench/internal/scrape"
	"github.com/inferbench/inferbench/internal/timeseries"
	"github.com/inferbench/inferbench/internal/verdict"
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
	// Requests is the number of records in requests.jsonl, Events the number
	// of records in events.jsonl.zst (0 unless the event log is full).
	Requests int64
	Events   int64
}

// Runner runs one benchmark. Its Stop and Abort methods are safe to call
// from a signal handler goroutine.
type Runner struct {
	cfg     config.Run
	ds      *dataset.Dataset
	tok     aggregator.TokenCounter
	log     *slog.Logger
	dir     string
	autoDir bool // dir was chosen here, not given
	addr    string
	client  *client.Client
	snaps   *bus.ZMQPublisher[metrics.Snapshot]
	events  *bus.ZMQPublisher[event.Record] // nil without metrics.events_addr
	claim   *dirClaim
	tmpDir  string // holds the socket when dir's path is too long for one
	probed  string // the model Preflight found, when none was configured
	// serverKinds are the kinds of the server metrics Preflight probed.
	serverKinds []scrape.Kind
	ran         bool // Run started: the directory is a run's, keep it

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool

	// OnSnapshot, when set before Run, receives every snapshot the aggregator
	// publishes (live ticks and the terminal one), on the aggregator's
	// goroutine: it must not block.
	OnSnapshot func(metrics.Snapshot)
	// Arrivals and Samples, set before Run, are a replay's issue times,
	// one per dataset sample, and the function that builds each sample's
	// prompt when it is due (see [LoadTrace]).
	Arrivals []time.Duration
	Samples  func(index int) dataset.Sample
	// OnComplete, when set before Run, is passed to the load generator.
	OnComplete func(index int, out *event.Output, err error)
	// WrapLogWriter, when set before Run, wraps the event log's file writers
	// (fault injection in tests).
	WrapLogWriter func(name string, w io.Writer) io.Writer

	// NewSource, when set before Run, replaces the load generator: the run's
	// events come from the Source it returns, published on pub (a fleet
	// coordinator; see [Source]).
	NewSource func(pub bus.Publisher[event.Record]) (Source, error)

	mu      sync.Mutex
	session Source
	abort   context.CancelFunc
	stopReq bool
}

// New prepares a run without touching the disk: it validates the
// configuration and the schedule against the dataset, builds the client and
// checks that the run directory could be claimed (not held by another run,
// no finished run in it unless cfg.Overwrite). [Runner.Open] creates the
// directory; so a start that fails before it leaves nothing behind.
// tok may be nil. Call Run, or Close when the run will not happen.
func New(cfg config.Run, ds *dataset.Dataset, tok aggregator.TokenCounter, log *slog.Logger) (*Runner, error) {
	if err := validateRun(&cfg); err != nil {
		return nil, err
	}
	if err := CheckSchedule(LoadgenConfig(cfg.Load), ds.Len()); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	dir, auto := cfg.ReportDir, false
	if dir == "" {
		dir, auto = autoDir(time.Now()), true
	}
	if err := checkDir(dir, cfg.Overwrite); err != nil {
		return nil, err
	}
	// config.yaml records the dataset's hash: the per-request records
	// reference prompts by their index in it.
	if path := datasetFile(&cfg); path != "" {
		sum, err := fileSHA256(path)
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", path, err)
		}
		cfg.Dataset.SHA256 = sum
	}
	cl, err := client.New(ClientConfig(cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	return &Runner{cfg: cfg, ds: ds, tok: tok, log: log, dir: dir, autoDir: auto, client: cl}, nil
}

// Open claims the run directory (creating it, and holding an exclusive lock
// on it until the run ends), writes config.yaml and binds the snapshot
// socket. Run calls it when it was not called; calling it first lets the
// caller show the directory and the address before the run starts. A failed
// Open leaves nothing behind.
func (r *Runner) Open() (err error) {
	if r.claim != nil {
		return nil
	}
	// A TCP address is bound first: a busy port is a usage error that must
	// not leave a directory behind. An ipc path may lie in the directory.
	if addr := r.cfg.Metrics.Addr; strings.HasPrefix(addr, "tcp://") {
		if err := r.bind(addr); err != nil {
			return err
		}
	}
	defer func() {
		if err != nil {
			_ = r.closeSocket()
		}
	}()
	// So is the event stream's address.
	if addr := r.cfg.Metrics.EventsAddr; addr != "" && r.events == nil {
		if r.events, err = newEventPublisher(addr); err != nil {
			return err
		}
	}
	claim, err := claimDir(r.dir, r.cfg.Overwrite)
	for r.autoDir && (errors.Is(err, ErrDirHoldsRun) || errors.Is(err, ErrDirInUse)) {
		// A run started in the same second took the default name.
		r.dir = autoDir(time.Now())
		claim, err = claimDir(r.dir, false)
	}
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = r.closeSocket()
			claim.undo()
		}
	}()
	cfg := r.cfg
	cfg.ReportDir = r.dir
	cfg.Overwrite = false // a replayed config.yaml must not overwrite on its own
	resolved, err := cfg.Marshal()
	if err != nil {
		return err
	}
	path := rundir.Config(r.dir)
	claim.wrote(path)
	if err := atomicfile.WriteFile(path, resolved, 0o644); err != nil {
		return fmt.Errorf("report_dir %s: %w", r.dir, err)
	}
	if r.snaps == nil {
		addr := r.cfg.Metrics.Addr
		var aerr error
		if addr == "" {
			abs, _ := filepath.Abs(r.dir)
			addr, aerr = bus.IPCAddr(abs, rundir.SocketFile)
		}
		if aerr != nil {
			// The run directory's path is too long for a unix socket: the
			// socket goes to a temporary directory, removed at the end.
			if r.tmpDir, err = os.MkdirTemp("", "inferbench"); err != nil {
				return err
			}
			addr, _ = bus.IPCAddr(r.tmpDir, rundir.SocketFile)
		}
		if err := r.bind(addr); err != nil {
			return err
		}
	}
	r.claim = claim
	return nil
}

// bind starts the snapshot publisher on addr.
func (r *Runner) bind(addr string) error {
	snaps, err := bus.NewZMQPublisher[metrics.Snapshot](addr, metrics.SnapshotCodec{}, bus.SnapshotPublisherOptions())
	if err != nil {
		return fmt.Errorf("metrics.addr %s: %w", addr, err)
	}
	r.snaps, r.addr = snaps, snaps.Endpoint()
	return nil
}

// closeSocket closes the publishers (which removes their socket files) and
// the temporary directory that held the snapshot socket, if any; it returns
// the first error.
func (r *Runner) closeSocket() error {
	var err error
	if r.snaps != nil {
		err = r.snaps.Close()
		r.snaps = nil
	}
	if r.events != nil {
		if cerr := r.events.Close(); cerr != nil && err == nil {
			err = cerr
		}
		r.events = nil
	}
	if r.tmpDir != "" {
		if rerr := os.RemoveAll(r.tmpDir); rerr != nil && err == nil {
			err = rerr
		}
		r.tmpDir = ""
	}
	return err
}

// Close releases what the Runner holds: the snapshot socket (its file is
// removed), the client's connections, the temporary directory of a socket
// whose run directory's path was too long, and the run directory's lock.
// Without a Run it also removes what Open created, so a start that fails
// after Open (or a caller that never runs) leaves nothing behind. Run closes
// the runner when it ends; a caller closes it too. It is idempotent and
// returns the first call's error; call it after Run has returned, not
// during.
func (r *Runner) Close() error {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		r.closeErr = r.closeSocket()
		r.client.Close()
		if r.claim != nil {
			if r.ran {
				r.claim.release()
			} else {
				r.claim.undo()
			}
		}
	})
	return r.closeErr
}

// EventsAddr returns the address the run's events are published on (with
// the port picked for tcp://…:0) once Open succeeded, or "" without
// metrics.events_addr.
func (r *Runner) EventsAddr() string {
	if r.events == nil {
		return ""
	}
	return r.events.Endpoint()
}

// Dir returns the run directory (final once Open succeeded).
func (r *Runner) Dir() string { return r.dir }

// MetricsAddr returns the address snapshots are published on, for
// `inferbench watch`; empty before Open.
func (r *Runner) MetricsAddr() string { return r.addr }

// ProbedModel returns the model Preflight chose because none was configured
// (the server's only one), or "".
func (r *Runner) ProbedModel() string { return r.probed }

// ErrNoModel is returned by Preflight when no model was configured and the
// server does not list exactly one.
var ErrNoModel = errors.New("no model given")

// Preflight checks that the endpoint accepts TCP connections, so that a run
// against a closed port fails at once with a clear message. When no model
// was configured it asks the server (/v1/models): exactly one model is used
// (see [Runner.ProbedModel]); none, several or no answer is [ErrNoModel].
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
	_ = conn.Close()
	r.resolveServerMetrics(ctx)
	if r.cfg.Endpoint.Model != "" {
		return nil
	}
	return r.probeModel(ctx)
}

// probeModel fills in the model from the server's list when it has exactly
// one, and rebuilds the client with it (the model is in every request body).
func (r *Runner) probeModel(ctx context.Context) error {
	mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	models, err := r.client.Models(mctx)
	cancel()
	switch {
	case err != nil:
		return fmt.Errorf("%w: --model is empty and listing the server's models (/v1/models) failed: %v; pass --model", ErrNoModel, err)
	case len(models) == 0:
		return fmt.Errorf("%w: --model is empty and the server lists no model (/v1/models); pass --model", ErrNoModel)
	case len(models) > 1:
		const show = 10
		list := strings.Join(models[:min(len(models), show)], ", ")
		if len(models) > show {
			list += fmt.Sprintf(", … (%d in all)", len(models))
		}
		return fmt.Errorf("%w: --model is empty and the server serves %d models (%s); pass --model", ErrNoModel, len(models), list)
	}
	cfg := r.cfg.Endpoint
	cfg.Model = models[0]
	cl, err := client.New(ClientConfig(cfg))
	if err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	r.client.Close()
	r.client, r.cfg.Endpoint, r.probed = cl, cfg, models[0]
	return nil
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
	if err := r.Open(); err != nil {
		return nil, err
	}
	r.ran = true

	events := bus.NewInProc[event.Record](0)
	aggSub, logSub := events.Subscribe(), events.Subscribe()
	var fwdSub bus.Subscriber[event.Record]
	if r.events != nil {
		fwdSub = events.Subscribe()
	}
	// The log counts tokens as the aggregator does, with its tokenizer.
	var logTok eventlog.TokenCounter
	if r.tok != nil && r.cfg.Metrics.TokenSource != aggregator.TokenSourceUsage {
		logTok = r.tok
	}
	elog, err := eventlog.Open(eventlog.Options{
		Dir: r.dir, Mode: eventlog.Mode(r.cfg.EventLog), Streaming: r.cfg.Endpoint.Streaming,
		Tokenizer: logTok, WrapWriter: r.WrapLogWriter,
		RecordedHistory: r.cfg.Load.History == HistoryRecorded,
	})
	if err != nil {
		return nil, err
	}
	spec, err := VerdictSpec(&r.cfg)
	if err != nil {
		elog.Close()
		return nil, err
	}
	// The time series is a snapshot subscriber beside the event log.
	// It is auxiliary: a run goes on without it when it cannot be written.
	series, err := timeseries.Create(rundir.Timeseries(r.dir))
	if err != nil {
		r.log.Warn("no time series", "err", err)
		series = nil
	}
	defer func() {
		if err := series.Close(); err != nil {
			r.log.Warn("time series", "err", err)
		}
		if n := series.Dropped(); n > 0 {
			r.log.Warn("time series: snapshots dropped (the disk could not keep up)", "dropped", n)
		}
	}()
	onSnap := series.Offer
	if r.OnSnapshot != nil {
		onSnap = func(s metrics.Snapshot) {
			series.Offer(s)
			r.OnSnapshot(s)
		}
	}
	pub := &tee{Publisher: r.snaps, fn: onSnap}
	var aggPub bus.Publisher[metrics.Snapshot] = pub
	server := r.startServerScrape(ctx)
	var loadPub bus.Publisher[event.Record] = events
	if server != nil {
		defer func() { _ = server.close() }()
		aggPub = stampServer{pub, server.s}
		loadPub = windowTap{events, server.s, ctx}
	}
	agg, err := aggregator.New(aggregator.Config{
		PublishInterval: r.cfg.Metrics.PublishInterval,
		DrainTimeout:    r.cfg.Metrics.DrainTimeout,
		Streaming:       r.cfg.Endpoint.Streaming,
		FinalPath:       rundir.Final(r.dir),
		RawDir:          rundir.Raw(r.dir),
		KeepRaw:         r.cfg.Metrics.KeepRaw,
		Tokenizer:       r.tok,
		TokenSource:     r.cfg.Metrics.TokenSource,
		RecordedHistory: r.cfg.Load.History == HistoryRecorded,
		Logger:          r.log,
		Goodput:         goodputBounds(spec.Goodput),
	}, aggPub)
	if err != nil {
		elog.Close()
		return nil, err
	}
	// A run that fails before the aggregator finalizes must still stop its
	// spill writer and token workers; after a finalize Close is a no-op.
	defer func() {
		if err := agg.Close(); err != nil {
			r.log.Warn("aggregator", "err", err)
		}
	}()
	session, err := r.source(loadPub)
	if err != nil {
		elog.Close()
		return nil, err
	}
	if d, ok := session.(interface{ Decorate(*metrics.Snapshot) }); ok {
		pub.decorate = d.Decorate
	}

	runCtx, abort := context.WithCancel(ctx)
	defer abort()
	r.mu.Lock()
	r.session, r.abort = session, abort
	stopNow := r.stopReq
	r.mu.Unlock()
	if stopNow {
		session.Stop()
	}

	if r.events != nil {
		if err := waitEventSubscribers(runCtx, r.events, r.cfg.Metrics.EventsSubscribers); err != nil {
			elog.Close()
			return nil, err
		}
	}

	var wg sync.WaitGroup
	var final metrics.Snapshot
	var finalErr, logErr, fwdErr error
	if fwdSub != nil {
		// Like the log, the stream is forwarded to the end of the bus even
		// after an abort.
		wg.Go(func() { fwdErr = forwardEvents(fwdSub, r.events) })
	}
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
		if logErr != nil {
			// Stop reading (publishers never wait for this queue) and stop
			// issuing: a run whose record cannot be written is stopped.
			_ = logSub.Close()
			logErr = fmt.Errorf("%w; stopped issuing requests", logErr)
			r.log.Error("event log failed: stopping the run", "err", logErr)
			r.Stop()
		}
	}()

	res, runErr := session.Run(runCtx)
	_ = events.Close()
	wg.Wait()
	if err := elog.Close(); err != nil && logErr == nil {
		logErr = err
	}

	rep := report.Build(&final)
	rep.Source = rundir.Final(r.dir)
	rep.Run = ReportRun(&r.cfg)
	var we *eventlog.WriteError
	if errors.As(logErr, &we) {
		rep.Warnings = append([]string{fmt.Sprintf("the run was stopped: its event log %s could not be written (%v)", we.Path, we.Err)}, rep.Warnings...)
	}
	if n, ok := session.(interface{ Notes() []string }); ok {
		rep.Warnings = append(rep.Warnings, n.Notes()...)
	}
	if server != nil {
		view, warns := server.finish(&final)
		rep.Server = view
		rep.Warnings = append(rep.Warnings, warns...)
	}
	rep.SetVerdict(verdict.Evaluate(&final, spec))
	out := &Outcome{Dir: r.dir, Final: final, Report: rep, Loadgen: res, Requests: elog.Requests(), Events: elog.Events()}
	if r.events != nil {
		// Close flushes and waits until subscribers have every frame.
		if err := r.events.Close(); err != nil && fwdErr == nil {
			fwdErr = err
		}
	}
	errs := []error{runErr, finalErr, logErr, fwdErr}
	if err := rep.WriteFiles(r.dir); err != nil {
		errs = append(errs, err)
	}
	// The page plots the whole time series: close it first (the deferred
	// Close reports its error).
	_ = series.Close()
	if err := html.WriteRunDir(r.dir, rep, &r.cfg); err != nil {
		errs = append(errs, err)
	}
	return out, joinLine(errs...)
}

// joinLine joins the non-nil errors into one error of one line (a full disk
// fails several writes at once; the user gets one line naming each).
func joinLine(errs ...error) error {
	var ee lineErrors
	for _, err := range errs {
		if err != nil {
			ee = append(ee, err)
		}
	}
	switch len(ee) {
	case 0:
		return nil
	case 1:
		return ee[0]
	}
	return ee
}

type lineErrors []error

func (e lineErrors) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	return strings.Join(parts, "; ")
}

func (e lineErrors) Unwrap() []error { return e }

// tee publishes to a publisher and hands every snapshot to a callback;
// decorate, when set (before the aggregator runs), adds to each snapshot
// what the event source knows (a fleet's per-worker counters).
type tee struct {
	bus.Publisher[metrics.Snapshot]
	fn       func(metrics.Snapshot)
	decorate func(*metrics.Snapshot)
}

func (t *tee) Publish(s metrics.Snapshot) error {
	if t.decorate != nil {
		t.decorate(&s)
	}
	t.fn(s)
	return t.Publisher.Publish(s)
}

// fileSHA256 returns the hex sha256 of a file's content.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
