package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/rundir"
	"github.com/inferbench/inferbench/internal/tui"
)

func init() { extraCommands = append(extraCommands, (*app).watchCmd) }

// defaultGoneAfter is how many publish intervals without a frame, after a
// live or draining one, make watch take the publisher as gone.
const defaultGoneAfter = 8

type watchOpts struct {
	noTUI     bool
	interval  time.Duration
	goneAfter int
	every     time.Duration
	target    int
	duration  time.Duration
}

func (a *app) watchCmd() *cobra.Command {
	o := watchOpts{interval: aggregator.DefaultPublishInterval, goneAfter: defaultGoneAfter, every: progressEvery}
	cmd := &cobra.Command{
		Use:   "watch ADDR|RUN_DIR",
		Short: "Show the live metrics of a running benchmark or aggregator",
		Long: `watch subscribes to the metrics snapshots of a run: ADDR is the address the
benchmark printed (ipc://PATH or tcp://HOST:PORT), or the run directory, whose
metrics.sock it watches. It waits for the first snapshot, survives a publisher
that starts late or restarts, and exits 0 once the run ended. When the
publisher is gone without a terminal snapshot and the run directory is known,
it shows metrics/final_snapshot.json instead; when there is none and no
benchmark holds the directory, the run died: watch says so and exits 1. Without a terminal on stdout, or
with --no-tui, it prints plain progress lines.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.interval <= 0 || o.goneAfter <= 0 || o.every < 0 || o.target < 0 || o.duration < 0 {
				return usagef("watch: --publish-interval and --gone-after must be positive; --every, --target and --duration not negative")
			}
			return a.watch(cmd.Context(), args[0], o)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.noTUI, "no-tui", false, "print progress lines instead of the dashboard")
	fs.DurationVar(&o.interval, "publish-interval", o.interval, "the run's snapshot period")
	fs.IntVar(&o.goneAfter, "gone-after", o.goneAfter, "publish intervals without a frame after which the publisher counts as gone")
	fs.DurationVar(&o.every, "every", o.every, "period of plain progress lines (0: every frame)")
	fs.IntVar(&o.target, "target", 0, "samples the run completes, for the progress bar (default: from the run directory's config.yaml)")
	fs.DurationVar(&o.duration, "duration", 0, "the run's duration, for the progress bar (default: from config.yaml)")
	return cmd
}

// watchAddr resolves the argument of watch to a snapshot address and, when
// it can tell, the run directory.
func watchAddr(arg string) (addr, runDir string, err error) {
	switch {
	case strings.HasPrefix(arg, "tcp://"):
		return arg, "", nil
	case strings.HasPrefix(arg, "ipc://"):
		return arg, filepath.Dir(strings.TrimPrefix(arg, "ipc://")), nil
	}
	if scheme, _, ok := strings.Cut(arg, "://"); ok && !strings.Contains(scheme, "/") {
		return "", "", usagef("watch: %q: unknown scheme %q: want ipc://PATH, tcp://HOST:PORT or a run directory", arg, scheme+"://")
	}
	// A path that does not exist yet is a run directory to come: watch may
	// start before the benchmark does.
	if st, err := os.Stat(arg); err == nil && !st.IsDir() {
		return "", "", usagef("watch: %q is neither ipc://PATH, tcp://HOST:PORT nor a run directory", arg)
	}
	abs, err := filepath.Abs(arg)
	if err != nil {
		return "", "", usagef("watch: %s: %w", arg, err)
	}
	addr, err = bus.IPCAddr(abs, rundir.SocketFile)
	if err != nil {
		return "", "", asUsage(fmt.Errorf("watch: %w", err))
	}
	return addr, abs, nil
}

func (a *app) watch(ctx context.Context, arg string, o watchOpts) error {
	addr, runDir, err := watchAddr(arg)
	if err != nil {
		return err
	}
	if runDir != "" && o.target == 0 && o.duration == 0 {
		// The run's own config tells what "done" means, when it is there.
		if cfg, err := config.Load(rundir.Config(runDir)); err == nil {
			o.target, o.duration = cfg.Load.NumSamples, cfg.Load.Duration
		}
	}
	file, isFile := a.stdout.(*os.File)
	tuiOn := isFile && !o.noTUI && term.IsTerminal(int(file.Fd()))
	// Frames from the socket are hostile: a bad one is skipped and logged
	// once per kind; while the dashboard draws, the log waits.
	subOpts := bus.SnapshotSubOptions()
	subOpts.Logger = a.logger()
	if tuiOn {
		held := &lockedBuffer{}
		subOpts.Logger = slog.New(slog.NewTextHandler(held, &slog.HandlerOptions{Level: slog.LevelWarn}))
		defer func() { _, _ = a.stderr.Write(held.Bytes()) }()
	}
	sub, err := bus.NewZMQSubscriber[metrics.Snapshot](addr, metrics.SnapshotCodec{}, subOpts)
	if err != nil {
		return asUsage(fmt.Errorf("watch: %w", err))
	}
	defer sub.Close()
	defer func() {
		var n int64
		for _, c := range sub.BadFrames() {
			n += c
		}
		if n > 0 {
			fmt.Fprintf(a.stderr, "inferbench: watch: skipped %d bad frames\n", n)
		}
	}()

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	f := &watchFeed{sub: sub, runDir: runDir, gone: time.Duration(o.goneAfter) * o.interval,
		out: make(chan metrics.Snapshot, 1), log: a.logger()}
	go f.run(ctx)

	var final metrics.Snapshot
	var ended bool
	if tuiOn {
		m, err := tui.Run(ctx, f.out, tui.Options{Target: o.target, Duration: o.duration, Title: "watch " + addr,
			Note: "(" + addr + ")", StaleAfter: f.gone}, os.Stdin, file)
		if err != nil && ctx.Err() == nil {
			return err
		}
		final, _ = m.Last()
		ended = m.Final()
	} else {
		final, ended = a.watchPlain(f.out, addr, o)
	}
	if dead := f.dead.Load(); dead != nil && !ended {
		return errors.New(*dead)
	}
	if p := f.fromFile.Load(); p != nil && ended {
		fmt.Fprintf(a.stderr, "inferbench: watch: the terminal frame was missed; showed %s\n", *p)
	}
	if !ended {
		fmt.Fprintf(a.stderr, "inferbench: watch: stopped before the run ended (last state %q)\n", final.State)
	}
	return nil
}

// watchPlain prints a progress line for the first frame, then at most every
// o.every, and the final state and report on the terminal frame.
func (a *app) watchPlain(in <-chan metrics.Snapshot, addr string, o watchOpts) (last metrics.Snapshot, ended bool) {
	fmt.Fprintf(a.stdout, "inferbench: watching %s: waiting for the first snapshot\n", addr)
	var printed time.Time
	var rates tui.Rates
	for s := range in {
		last = s
		v := rates.Observe(s)
		if s.State.Terminal() {
			fmt.Fprintln(a.stdout, progressLine(s, o.target, o.duration, v))
			fmt.Fprintf(a.stdout, "inferbench: run ended: %s\n", finalState(s))
			if err := report.Build(&s).WriteText(a.stdout); err != nil {
				a.logger().Warn("watch: cannot write the report", "err", err)
			}
			return s, true
		}
		if now := time.Now(); printed.IsZero() || now.Sub(printed) >= o.every {
			fmt.Fprintln(a.stdout, progressLine(s, o.target, o.duration, v))
			printed = now
		}
	}
	return last, false
}

func finalState(s metrics.Snapshot) string {
	switch {
	case s.Complete():
		return "complete"
	case s.State == metrics.StateComplete:
		return fmt.Sprintf("complete with an incomplete drain (%d token counts pending)", s.NPendingTasks)
	}
	return string(s.State)
}

// watchFeed moves snapshots from the subscriber to out, newest first, and
// stands in the final snapshot file for a terminal frame that never came.
type watchFeed struct {
	sub      *bus.ZMQSubscriber[metrics.Snapshot]
	runDir   string
	gone     time.Duration
	out      chan metrics.Snapshot
	log      *slog.Logger
	fromFile atomic.Pointer[string]
	dead     atomic.Pointer[string] // why the run is known to be over without a final snapshot
}

// run feeds out until the terminal snapshot was delivered or ctx ends, then
// closes out.
func (f *watchFeed) run(ctx context.Context) {
	defer close(f.out)
	start, lastFrame := time.Now(), time.Time{}
	check := min(f.gone/2, time.Second)
	for {
		nctx, cancel := context.WithTimeout(ctx, check)
		batch, err := f.sub.Next(nctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if len(batch) > 0 {
			// Conflation keeps one frame per subscriber, but a batch may still
			// hold more than one: only the newest matters.
			s := batch[len(batch)-1]
			lastFrame = time.Now()
			tui.Offer(f.out, s)
			if s.State.Terminal() {
				return
			}
			continue
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			f.log.Warn("watch: receive failed", "err", err)
			return
		}
		// No frame for a while: the publisher may be gone for good (its
		// terminal frame missed, or a run that ended before watch started).
		since := start
		if !lastFrame.IsZero() {
			since = lastFrame
		}
		if f.runDir == "" || time.Since(since) < f.gone {
			continue
		}
		if f.final() {
			return
		}
		// A benchmark holds its directory's lock from before it writes
		// config.yaml until its results are written: config.yaml with no
		// holder and no final snapshot is a run that died.
		if !fileExists(rundir.Config(f.runDir)) || bench.DirInUse(f.runDir) {
			continue // a run to come, or one still running: keep waiting
		}
		if f.final() { // it may have ended between the two looks
			return
		}
		msg := fmt.Sprintf("watch: the run in %s is not running and left no final snapshot: it died or was killed (no snapshot for %v)",
			f.runDir, time.Since(since).Truncate(100*time.Millisecond))
		f.dead.Store(&msg)
		return
	}
}

// final offers the run directory's final snapshot, when it is there.
func (f *watchFeed) final() bool {
	s, path, err := report.Load(f.runDir)
	if err != nil || !s.State.Terminal() {
		return false // not written (yet): keep waiting for a restarted publisher
	}
	f.fromFile.Store(&path)
	tui.Offer(f.out, *s)
	return true
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
