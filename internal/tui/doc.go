// Package tui is inferbench's live dashboard: a bubbletea program that renders
// the metrics snapshots an aggregator publishes.
//
// A [Model] is fed snapshots one at a time and shows the session state and
// elapsed time; progress toward a sample count or a duration with an ETA;
// issued, completed, failed and in-flight samples; QPS and TPS with sparklines
// over the whole run; p50/p90/p99 of TTFT, TPOT, latency, inter-chunk gap and
// scheduler lateness; the log-spaced histogram of a selected series, rebuilt
// from the snapshot's (lo, hi, count) buckets every frame; and warnings
// (pending token counts, errors by class).
//
// [Run] drives a Model from a channel of snapshots, whichever way they arrive
// (a ZeroMQ subscriber for `inferbench watch`, the benchmark runner's
// OnSnapshot callback for the built-in dashboard):
//
//	snaps := make(chan metrics.Snapshot, 1)
//	runner.OnSnapshot = func(s metrics.Snapshot) { tui.Offer(snaps, s) }
//	go func() { final, err := tui.Run(ctx, snaps, tui.Options{OnQuit: func() { runner.Stop() }, Embedded: true}, os.Stdin, os.Stdout) }()
//
// The program ends on the first terminal snapshot (complete or interrupted)
// after drawing it, so the final state stays on the screen. Keys: tab, → and
// l select the next series, shift+tab, ← and h the previous one; q and ctrl+c
// quit, or, in an embedded dashboard, ask to stop the run (Options.OnQuit) and
// keep drawing until the terminal snapshot arrives.
//
// The package depends on metrics only (DESIGN §2); metric names, labels,
// units and the QPS/TPS formulas come from the metric dictionary there
// ([metrics.Lookup], [metrics.RatesOf]). A Model changes only in Update, on
//
// The package depends on metrics only (docs/design.md §2); it knows the aggregator's
// metric names as constants of its own. A Model changes only in Update, on
// the program's goroutine; it is not safe for concurrent use.
package tui
