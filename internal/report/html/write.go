package html

import (
	"fmt"
	"os"

	"github.com/inferbench/inferbench/internal/atomicfile"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/rundir"
)

// WriteRunDir writes report.html into the run directory dir (atomically),
// from the run's report and configuration (cfg may be nil) and the time
// series the directory holds.
func WriteRunDir(dir string, rep *report.Report, cfg *config.Run) error {
	return WriteFile(rundir.HTML(dir), RenderRun(Run{Report: rep, Config: cfg, Dir: dir, TimeseriesFile: rundir.Timeseries(dir)}))
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
