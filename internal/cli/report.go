package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/report/html"
	"github.com/inferbench/inferbench/internal/rundir"
)

func (a *app) reportCmd() *cobra.Command {
	var asJSON, write, recompute, asHTML bool
	var gridFlag string
	cmd := &cobra.Command{
		Use:   "report PATH",
		Short: "Render the report of a run from its final snapshot (a run directory or a final_snapshot.json)",
		Long: `Render the report of a run from its final snapshot (a run directory or a final_snapshot.json).
A run directory without metrics/final_snapshot.json (the run was killed) is
reported from a snapshot rebuilt from its requests.jsonl (and events.jsonl.zst
for the inter-chunk gaps); the report says so.
With --recompute PATH must be a run directory whose raw values were kept
(--keep-raw) or left behind by a killed run (metrics/raw/*.bin): every series
found there is recomputed from them, exactly, over --percentiles when given.
With --html the run directory's report.html is (re)written and its path printed;
PATH may then also be a sweep directory (holding sweep.json), whose report.html
is rewritten from sweep.json.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asHTML && asJSON {
				return usagef("report: give one of --html and --json")
			}
			if html.IsSweepDir(args[0]) {
				if !asHTML {
					return usagef("report: %s is a sweep directory (it holds sweep.json): give --html to write its report.html, or report one of its point directories", args[0])
				}
				if err := html.WriteSweepDir(args[0]); err != nil {
					return asUsage(err)
				}
				_, err := fmt.Fprintln(a.stdout, filepath.Join(args[0], rundir.HTMLFile))
				return err
			}
			var grid []float64
			if gridFlag != "" {
				if !recompute {
					return usagef("report: --percentiles needs --recompute (the snapshot holds its own grid)")
				}
				var err error
				if grid, err = parseGrid(gridFlag); err != nil {
					return err
				}
			}
			snap, file, err := report.Load(args[0])
			var rebuilt *eventlog.Rebuilt
			if errors.Is(err, report.ErrNoSnapshot) && !recompute {
				// A run killed before its final snapshot: rebuild it from
				// the event log, when there is one.
				if rebuilt, err = rebuildRun(args[0], err); err == nil {
					snap, file = &rebuilt.Snapshot, rebuilt.From[0]
				}
			}
			if err != nil {
				if !(recompute && errors.Is(err, report.ErrNoSnapshot) && isDir(args[0])) {
					if errors.Is(err, report.ErrNoSnapshot) {
						return asUsage(err)
					}
					return err
				}
				snap, file = nil, ""
			}
			var notes []string
			if recompute {
				runDir := args[0]
				if file != "" {
					runDir = dirOfRun(args[0], file)
				}
				if snap, notes, err = recomputeRaw(runDir, snap, grid); err != nil {
					return err
				}
			}
			a.logger().Info("report source", "file", file)
			rep := report.Build(snap)
			rep.Source = file
			if rebuilt != nil {
				rep.MarkRebuilt(rebuilt.From, rebuilt.Missing, rebuilt.Notes)
			}
			rep.Warnings = append(rep.Warnings, notes...)
			// Its server.jsonl, what the server said about the run.
			if v, warns := bench.ServerView(dirOfRun(args[0], file), snap); v != nil {
				rep.Server = v
				rep.Warnings = append(rep.Warnings, warns...)
			}
			// The run directory's config.yaml says what was measured.
			if cfg, err := config.Load(rundir.Config(dirOfRun(args[0], file))); err == nil {
				rep.Run = bench.ReportRun(&cfg)
				if v, err := bench.Verdict(&cfg, snap); err == nil {
					rep.SetVerdict(v)
				}
			}
			if write || asHTML {
				// Writing into a run directory: not while a benchmark or an
				// aggregator writes there.
				unlock, err := bench.LockDir(dirOfRun(args[0], file))
				if errors.Is(err, bench.ErrDirInUse) {
					return asUsage(fmt.Errorf("report: %w; wait until it ends", err))
				}
				if err != nil {
					return asUsage(fmt.Errorf("report: %w", err))
				}
				defer unlock()
			}
			if write {
				if err := rep.WriteFiles(dirOfRun(args[0], file)); err != nil {
					return err
				}
			}
			if asHTML {
				dir := dirOfRun(args[0], file)
				var cfgp *config.Run
				if cfg, err := config.Load(rundir.Config(dir)); err == nil {
					cfgp = &cfg
				}
				if err := html.WriteRunDir(dir, rep, cfgp); err != nil {
					return err
				}
				_, err := fmt.Fprintln(a.stdout, rundir.HTML(dir))
				return err
			}
			if asJSON {
				data, err := rep.JSON()
				if err != nil {
					return err
				}
				_, err = a.stdout.Write(append(data, '\n'))
				return err
			}
			return rep.WriteText(a.stdout)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print result_summary.json instead of the text report")
	cmd.Flags().BoolVar(&write, "write", false, "also (re)write result_summary.json and report.txt next to the snapshot's run directory")
	cmd.Flags().BoolVar(&asHTML, "html", false, "write report.html (a self-contained page with charts) into the run or sweep directory and print its path")
	cmd.Flags().BoolVar(&recompute, "recompute", false, "recompute exact percentiles and histograms from the run's raw values (metrics/raw/*.bin)")
	cmd.Flags().StringVar(&gridFlag, "percentiles", "", "with --recompute: percentile grid, e.g. 99.99,99.9,99,50 (50 is always added)")
	return cmd
}

// dirOfRun returns the run directory of a report source: the argument when it
// is a directory, else the directory holding the run's metrics/ folder.
func dirOfRun(arg, file string) string {
	if file == arg {
		d := filepath.Dir(file)
		if filepath.Base(d) == rundir.MetricsDir {
			return filepath.Dir(d)
		}
		return d
	}
	return arg
}

// rebuildRun rebuilds the final snapshot of the run directory dir from its
// event log. Without one it returns noSnap, the error of the missing
// snapshot; a corrupt log is an input error naming the file.
func rebuildRun(dir string, noSnap error) (*eventlog.Rebuilt, error) {
	if st, err := os.Stat(filepath.Join(dir, rundir.RequestsFile)); err != nil || st.IsDir() {
		return nil, noSnap
	}
	// The run's configuration holds what the log does not: its goodput rule.
	var opts eventlog.RebuildOptions
	cfgPath := rundir.Config(dir)
	if cfg, err := config.Load(cfgPath); err == nil {
		if opts, err = bench.RebuildOptions(&cfg); err != nil {
			return nil, asUsage(fmt.Errorf("%s: %w", cfgPath, err))
		}
	}
	rb, err := eventlog.RebuildWith(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot rebuild from the event log: %v", report.ErrNoSnapshot, err)
	}
	return rb, nil
}
