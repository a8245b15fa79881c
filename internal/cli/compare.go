package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/inferbench/inferbench/internal/compare"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/report/html"
)

func init() { extraCommands = append(extraCommands, (*app).compareCmd) }

func (a *app) compareCmd() *cobra.Command {
	var asJSON bool
	var bounds []string
	var htmlFile string
	cmd := &cobra.Command{
		Use:   "compare RUN_A RUN_B [RUN_C ...]",
		Short: "Compare runs side by side (run directories or final_snapshot.json files), with deltas against RUN_A",
		Long: `Compare the final snapshots of runs side by side: QPS, TPS, goodput (when counted),
error rate and the p50/p90/p99 of TTFT, TPOT, latency and chunk gap, with each later
run's absolute and relative delta against RUN_A. A percentile's delta is marked "*"
(significant) when the two runs' 95% confidence intervals do not overlap.

--fail-on-regression METRIC:STAT:PCT (e.g. ttft:p50:10%) or RATE:PCT (e.g. qps:5%)
exits 3 when a later run is worse than RUN_A by more than PCT: higher for latencies,
token counts and error_rate, lower for qps, tps and goodput.

With --html FILE it also writes a self-contained page: the table with its marks and
each series' CDFs overlaid. RUN_A RUN_B ... may instead all be sweep directories
(holding sweep.json): the page then overlays their curves (TTFT/TPOT/latency p99
against achieved QPS, goodput against offered load) and the text lists each
sweep's knee.

Exit codes: 0 no bound broken; 2 bad usage or input; 3 a regression bound was broken.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("compare: want at least two runs (RUN_A RUN_B ...), got %d", len(args))
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			if sweeps := countSweeps(args); sweeps > 0 {
				if sweeps < len(args) {
					return usagef("compare: give only run directories or only sweep directories, not both")
				}
				if len(bounds) > 0 {
					return usagef("compare: --fail-on-regression compares runs; for sweeps compare their points' run directories")
				}
				return a.compareSweeps(args, htmlFile)
			}
			var bs []compare.Bound
			for _, expr := range bounds {
				b, err := compare.ParseBound(expr)
				if err != nil {
					return asUsage(err)
				}
				bs = append(bs, b)
			}
			runs := make([]compare.Run, 0, len(args))
			for _, p := range args {
				r, err := compare.Load(p)
				if err != nil {
					if errors.Is(err, report.ErrNoSnapshot) {
						return asUsage(fmt.Errorf("compare: %w", err))
					}
					return asUsage(fmt.Errorf("compare: %s: %w", p, err))
				}
				runs = append(runs, r)
			}
			res, err := compare.Compare(runs, bs)
			if err != nil {
				return asUsage(err)
			}
			if asJSON {
				err = res.WriteJSON(a.stdout)
			} else {
				err = res.WriteText(a.stdout)
			}
			if err != nil {
				return err
			}
			if htmlFile != "" {
				if err := html.WriteFile(htmlFile, html.RenderCompare(res, runs)); err != nil {
					return asUsage(fmt.Errorf("compare: --html %s: %w", htmlFile, err))
				}
			}
			if !res.Pass {
				var broke []string
				for _, g := range res.Regressions {
					broke = append(broke, g.Bound+" ("+g.Run+")")
				}
				return verdictError{"compare: regression beyond " + strings.Join(broke, ", ")}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the comparison as JSON")
	cmd.Flags().StringVar(&htmlFile, "html", "", "also write the comparison as a self-contained HTML page to `FILE`")
	cmd.Flags().StringArrayVar(&bounds, "fail-on-regression", nil, "METRIC:STAT:PCT or RATE:PCT, e.g. ttft:p50:10% or qps:5% (repeatable): exit 3 when a later run is worse than RUN_A by more")
	return cmd
}

// countSweeps counts the arguments that are sweep directories.
func countSweeps(args []string) int {
	n := 0
	for _, p := range args {
		if html.IsSweepDir(p) {
			n++
		}
	}
	return n
}

// compareSweeps lists each sweep's knee and best throughput, and writes the
// overlaid curves to htmlFile when given.
func (a *app) compareSweeps(dirs []string, htmlFile string) error {
	sweeps := make([]*html.Sweep, len(dirs))
	for i, d := range dirs {
		s, err := html.LoadSweep(d)
		if err != nil {
			return asUsage(fmt.Errorf("compare: %w", err))
		}
		sweeps[i] = s
	}
	page := html.RenderCompareSweeps(sweeps, dirs)
	for i, s := range sweeps {
		fmt.Fprintf(a.stdout, "%s = %s: %s sweep, %d points", string(rune('A'+i%26)), dirs[i], s.Kind, len(s.Points))
		if k := s.Knee; k != nil {
			p := html.SortedPoints(s)[k.Index]
			fmt.Fprintf(a.stdout, "; knee at %g (%s req/s achieved, TTFT p99 %s ms): %s", p.Target, fmtValue(float64(p.QPS)), fmtValue(float64(p.TTFTP99)), k.Rule)
		} else {
			fmt.Fprint(a.stdout, "; no knee")
		}
		fmt.Fprintln(a.stdout)
	}
	if htmlFile != "" {
		if err := html.WriteFile(htmlFile, page); err != nil {
			return asUsage(fmt.Errorf("compare: --html %s: %w", htmlFile, err))
		}
	}
	return nil
}
