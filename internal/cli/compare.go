package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/inferbench/inferbench/internal/compare"
	"github.com/inferbench/inferbench/internal/report"
)

func init() { extraCommands = append(extraCommands, (*app).compareCmd) }

func (a *app) compareCmd() *cobra.Command {
	var asJSON bool
	var bounds []string
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

Exit codes: 0 no bound broken; 2 bad usage or input; 3 a regression bound was broken.`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("compare: want at least two runs (RUN_A RUN_B ...), got %d", len(args))
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
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
	cmd.Flags().StringArrayVar(&bounds, "fail-on-regression", nil, "METRIC:STAT:PCT or RATE:PCT, e.g. ttft:p50:10% or qps:5% (repeatable): exit 3 when a later run is worse than RUN_A by more")
	return cmd
}
