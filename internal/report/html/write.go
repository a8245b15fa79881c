package html

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/inferbench/inferbench/internal/atomicfile"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/rundir"
	"github.com/inferbench/inferbench/internal/timeseries"
)

// WriteRunDir writes report.html into the run directory dir (atomically),
// from the run's report and configuration (cfg may be nil) and the time
// series the directory holds.
func WriteRunDir(dir string, rep *report.Report, cfg *config.Run) error {
	in := Run{Report: rep, Config: cfg, Dir: dir}
	in.Timeseries, in.TimeseriesNote = LoadTimeseries(dir)
	return WriteFile(rundir.HTML(dir), RenderRun(in))
}

// LoadTimeseries reads a run directory's time series; when there is none
// (or it is unreadable) it returns a note saying so for the page.
func LoadTimeseries(dir string) ([]timeseries.Line, string) {
	path := rundir.Timeseries(dir)
	lines, skipped, err := timeseries.Read(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "This run has no time series (" + path + " does not exist: a run of an older version, or a rebuilt one)."
	case err != nil:
		return nil, "The time series could not be read: " + err.Error()
	case len(lines) == 0:
		return nil, "The time series is empty: the run ended before its first publish interval."
	case skipped > 0:
		return lines, fmt.Sprintf("%d lines of the time series could not be read and were left out.", skipped)
	}
	return lines, ""
}

// WriteFile writes a page atomically (a failure leaves no partial file).
func WriteFile(path string, page []byte) error {
	if err := atomicfile.WriteFile(path, page, 0o644); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	return nil
}

// fileExists reports whether path names a regular file.
func fileExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}
