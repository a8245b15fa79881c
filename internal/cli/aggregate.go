package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/bus"
	"github.com/inferbench/inferbench/internal/event"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/report/html"
	"github.com/inferbench/inferbench/internal/rundir"
)

type aggregateOpts struct {
	events          []string
	bind            bool
	metricsAddr     string
	out             string
	publishInterval time.Duration
	drainTimeout    time.Duration
	streaming       bool
	tokenizer       string
	keepRaw         bool
}

func (a *app) aggregateCmd() *cobra.Command {
	var o aggregateOpts
	cmd := &cobra.Command{
		Use:   "aggregate --events ADDR --out DIR",
		Short: "Run a standalone aggregator: subscribe to an event stream, publish snapshots, write the final snapshot and report",
		Long: `aggregate subscribes to the event stream of one or more load generators over ZeroMQ
(ipc:// or tcp://), folds it into metrics, publishes a snapshot every publish interval
on --metrics, and when session.ended arrives writes DIR/metrics/final_snapshot.json,
DIR/result_summary.json and DIR/report.txt and prints the report.
It reads the event layout of inferbench (benchmark --events-addr) and of the
Python tool, current and older. A frame that does not decode is skipped, logged
once per kind and counted (bad_frames), never taken for a failed sample.
With --tokenizer, a multi-turn turn's ISL counts its whole history, but for
a turn whose record says it carried the dataset's recorded replies
(benchmark --history recorded): its ISL is the server's usage, as in that
run's own report.
SIGTERM or SIGINT finalizes at once as "interrupted".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.runAggregate(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.events, "events", nil, "event stream address to subscribe to (repeatable), e.g. ipc:///tmp/ev.sock or tcp://127.0.0.1:5555")
	f.BoolVar(&o.bind, "bind", false, "bind the event address instead of connecting (load generators then connect to it)")
	f.StringVar(&o.metricsAddr, "metrics", "", "snapshot publish address (default ipc://DIR/metrics.sock)")
	f.StringVar(&o.out, "out", "", "run directory for the final snapshot and the report (required)")
	f.DurationVar(&o.publishInterval, "publish-interval", aggregator.DefaultPublishInterval, "live snapshot period")
	f.DurationVar(&o.drainTimeout, "drain-timeout", aggregator.DefaultDrainTimeout, "how long to wait for pending token counts after the session ends")
	f.BoolVar(&o.streaming, "streaming", true, "register the streaming series (TTFT, inter-chunk latency, TPOT)")
	f.StringVar(&o.tokenizer, "tokenizer", "", "tokenizer.json file or directory for ISL/OSL/TPOT (default: server usage)")
	f.BoolVar(&o.keepRaw, "keep-raw", false, "keep the raw values (DIR/metrics/raw/*.bin) after the run, for report --recompute")
	return cmd
}

func (a *app) runAggregate(ctx context.Context, o aggregateOpts) error {
	if len(o.events) == 0 {
		return usagef("aggregate: --events is required (an ipc:// or tcp:// address)")
	}
	if o.out == "" {
		return usagef("aggregate: --out is required (the run directory)")
	}
	if o.publishInterval <= 0 {
		return usagef("aggregate: --publish-interval %v must be positive", o.publishInterval)
	}
	if o.bind && len(o.events) > 1 {
		return usagef("aggregate: --bind takes one --events address, got %d", len(o.events))
	}
	metricsDir := rundir.Metrics(o.out)
	if err := os.MkdirAll(metricsDir, 0o755); err != nil {
		return usagef("aggregate: --out %s: %v", o.out, err)
	}
	// Held like a benchmark's run directory: two writers of one directory
	// would take each other's snapshot socket and final snapshot.
	unlock, err := bench.LockDir(o.out)
	if errors.Is(err, bench.ErrDirInUse) {
		return asUsage(fmt.Errorf("aggregate: %w; choose another --out", err))
	}
	if err != nil {
		return asUsage(fmt.Errorf("aggregate: --out %w", err))
	}
	defer unlock()
	if o.metricsAddr == "" {
		addr, err := bus.IPCAddr(o.out, rundir.SocketFile)
		if err != nil {
			return asUsage(fmt.Errorf("aggregate: %w (pass --metrics)", err))
		}
		o.metricsAddr = addr
	}
	tok, err := a.loadTokenCounter(ctx, o.tokenizer)
	if err != nil {
		return err
	}
	pub, err := bus.NewZMQPublisher[metrics.Snapshot](o.metricsAddr, metrics.SnapshotCodec{}, bus.SnapshotPublisherOptions())
	if err != nil {
		return asUsage(fmt.Errorf("aggregate: --metrics: %w", err))
	}
	defer pub.Close()
	// A frame that does not decode is a bad frame: skipped, logged once per
	// kind, and counted in the snapshot (bad_frames), never a failed sample.
	var agg *aggregator.Aggregator
	subOpts := bus.ZMQSubOptions{Bind: o.bind, Logger: a.logger(), OnBadFrame: func(string) { agg.CountBadFrame() }}
	var subs []bus.Subscriber[event.Record]
	var zsubs []*bus.ZMQSubscriber[event.Record]
	for _, addr := range o.events {
		sub, err := bus.NewZMQSubscriber[event.Record](addr, event.Codec{}, subOpts)
		if err != nil {
			return asUsage(fmt.Errorf("aggregate: --events %s: %w", addr, err))
		}
		defer sub.Close()
		subs = append(subs, sub)
		zsubs = append(zsubs, sub)
	}
	agg, err = aggregator.New(aggregator.Config{
		PublishInterval: o.publishInterval,
		DrainTimeout:    o.drainTimeout,
		Streaming:       o.streaming,
		FinalPath:       rundir.Final(o.out),
		RawDir:          rundir.Raw(o.out),
		KeepRaw:         o.keepRaw,
		Tokenizer:       tok,
		Logger:          a.logger(),
	}, pub)
	if err != nil {
		return asUsage(err)
	}
	defer agg.Close() // a no-op once Run has finalized
	fmt.Fprintf(a.stderr, "inferbench aggregate: events %v, snapshots on %s\n", o.events, pub.Endpoint())
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	snap, ferr := agg.Run(ctx, merge(subs))
	reportBadFrames(a.stderr, zsubs)
	rep := report.Build(&snap)
	rep.Source = rundir.Final(o.out)
	if err := rep.WriteFiles(o.out); err != nil {
		a.logger().Error("report files not written", "err", err)
	}
	if err := html.WriteRunDir(o.out, rep, nil); err != nil {
		a.logger().Error("report.html not written", "err", err)
	}
	if err := rep.WriteText(a.stdout); err != nil {
		return err
	}
	if ferr != nil {
		return ferr
	}
	if snap.State == metrics.StateInterrupted {
		return errors.New("aggregate: interrupted: the final snapshot holds what was recorded until then")
	}
	return nil
}

// merge returns one subscriber for several; with one it is that one.
func merge(subs []bus.Subscriber[event.Record]) bus.Subscriber[event.Record] {
	if len(subs) == 1 {
		return subs[0]
	}
	return bus.Merge(subs...)
}

// reportBadFrames says how many frames the subscribers skipped, by kind.
func reportBadFrames(w io.Writer, subs []*bus.ZMQSubscriber[event.Record]) {
	total := map[string]int64{}
	for _, s := range subs {
		for k, n := range s.BadFrames() {
			total[k] += n
		}
	}
	if len(total) == 0 {
		return
	}
	kinds := slices.Sorted(maps.Keys(total))
	var n int64
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		n += total[k]
		parts[i] = fmt.Sprintf("%s %d", k, total[k])
	}
	fmt.Fprintf(w, "inferbench aggregate: skipped %d bad frames (%s)\n", n, strings.Join(parts, ", "))
}
