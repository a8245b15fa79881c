// Package rundir is the layout of a run directory: the names of the files a
// benchmark writes and the paths to them, in one place for every package
// that writes or reads one (bench, aggregator, report, cli, eventlog).
//
//	<dir>/config.yaml                  the resolved configuration
//	<dir>/requests.jsonl               one compact record per request (the default event log)
//	<dir>/events.jsonl.zst             every event record, zstd-compressed (--event-log full)
//	<dir>/metrics/final_snapshot.json  the exact terminal snapshot
//	<dir>/metrics/raw/<series>.bin     spilled raw values, while running (and when kept)
//	<dir>/metrics/timeseries.jsonl     the live snapshots' time series
//	<dir>/metrics/server.jsonl         the server's own metrics, one line per scrape (--server-metrics)
//	<dir>/result_summary.json          the report as JSON
//	<dir>/report.txt                   the report as text
//	<dir>/report.html                  the report as a self-contained web page
//	<dir>/metrics.sock                 the snapshot socket, while running
//	<dir>/.lock                        who holds the directory's lock (command, pid), while running
//
// A new file of the run directory gets its name here, a path helper, and a
// line above. The package is a leaf: it imports nothing of the project.
package rundir

import "path/filepath"

// File and directory names inside a run directory.
const (
	ConfigFile   = "config.yaml"
	RequestsFile = "requests.jsonl"
	EventsFile   = "events.jsonl.zst"
	// LegacyEventsFile is the uncompressed event log of earlier versions.
	LegacyEventsFile = "events.jsonl"
	MetricsDir       = "metrics"
	FinalFile        = "final_snapshot.json"
	RawDir           = "raw"
	// TimeseriesFile is the live snapshots' time series, in MetricsDir.
	TimeseriesFile = "timeseries.jsonl"
	// ServerMetricsFile is the scraped server metrics, in MetricsDir.
	ServerMetricsFile = "server.jsonl"
	SummaryFile       = "result_summary.json"
	TextFile          = "report.txt"
	HTMLFile          = "report.html"
	SocketFile        = "metrics.sock"
	// HolderFile names the process holding the directory's lock (the lock
	// itself is a flock on the directory), while it holds it: a hint for
	// the message that refuses a second writer.
	HolderFile = ".lock"
)

// Artifacts returns the files a run leaves in its directory, relative to
// it: any of them means the directory holds a run. The socket is not one: it
// is removed at the end, and a stale one proves nothing.
func Artifacts() []string {
	return []string{ConfigFile, filepath.Join(MetricsDir, FinalFile), filepath.Join(MetricsDir, TimeseriesFile),
		filepath.Join(MetricsDir, ServerMetricsFile),
		RequestsFile, EventsFile, LegacyEventsFile, SummaryFile, TextFile, HTMLFile}
}

// Config returns the path of the resolved configuration in dir.
func Config(dir string) string { return filepath.Join(dir, ConfigFile) }

// Requests returns the path of the per-request log in dir.
func Requests(dir string) string { return filepath.Join(dir, RequestsFile) }

// Events returns the path of the full (compressed) event log in dir.
func Events(dir string) string { return filepath.Join(dir, EventsFile) }

// Metrics returns the path of the metrics directory in dir.
func Metrics(dir string) string { return filepath.Join(dir, MetricsDir) }

// Final returns the path of the terminal snapshot in dir.
func Final(dir string) string { return filepath.Join(dir, MetricsDir, FinalFile) }

// Timeseries returns the path of the live snapshots' time series in dir.
func Timeseries(dir string) string { return filepath.Join(dir, MetricsDir, TimeseriesFile) }

// ServerMetrics returns the path of the scraped server metrics in dir.
func ServerMetrics(dir string) string { return filepath.Join(dir, MetricsDir, ServerMetricsFile) }

// Holder returns the path of the lock holder's note in dir.
func Holder(dir string) string { return filepath.Join(dir, HolderFile) }

// Raw returns the path of the spilled raw values' directory in dir.
func Raw(dir string) string { return filepath.Join(dir, MetricsDir, RawDir) }

// Summary returns the path of result_summary.json in dir.
func Summary(dir string) string { return filepath.Join(dir, SummaryFile) }

// Text returns the path of report.txt in dir.
func Text(dir string) string { return filepath.Join(dir, TextFile) }

// HTML returns the path of report.html in dir.
func HTML(dir string) string { return filepath.Join(dir, HTMLFile) }
