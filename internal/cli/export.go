package cli

import (
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/inferbench/inferbench/internal/atomicfile"
	"github.com/inferbench/inferbench/internal/eventlog"
	"github.com/inferbench/inferbench/internal/rundir"
)

func init() { extraCommands = append(extraCommands, (*app).exportCmd) }

func (a *app) exportCmd() *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:   "export RUN_DIR",
		Short: "Write a run's per-request records (requests.jsonl) as CSV or Parquet, for pandas or duckdb",
		Long: `Write a run's per-request records (requests.jsonl) as CSV or Parquet: one row per
request with its dataset index, tracking, schedule/issue/first-chunk/last-chunk/
completion times (ns since the session started), TTFT, latency, TPOT, chunk
count, ISL/OSL, finish reason, error class and resends (retries). The file goes to --out (default
RUN_DIR/requests.csv or RUN_DIR/requests.parquet; "-" for standard output),
written atomically.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if format != eventlog.FormatCSV && format != eventlog.FormatParquet {
				return usagef("--format %q: want csv or parquet", format)
			}
			rs, err := eventlog.ReadRequests(filepath.Join(args[0], rundir.RequestsFile))
			if err != nil {
				return asUsage(err)
			}
			if out == "-" {
				return rs.Export(a.stdout, format)
			}
			if out == "" {
				out = filepath.Join(args[0], "requests."+format)
			}
			if err := atomicfile.Write(out, 0o644, func(w io.Writer) error { return rs.Export(w, format) }); err != nil {
				return err
			}
			a.logger().Info("exported", "file", out, "requests", len(rs.Requests))
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", eventlog.FormatCSV, "csv or parquet")
	cmd.Flags().StringVarP(&out, "out", "o", "", `output file (default RUN_DIR/requests.FORMAT; "-" for standard output)`)
	return cmd
}
