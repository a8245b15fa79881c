package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/rundir"
)

// recomputeRaw replaces every series of snap that has a raw file in
// runDir/metrics/raw with one recomputed from it (exact percentiles over
// grid, nil meaning the default grid), adding series the snapshot lacks. A
// nil snap (a killed run: no snapshot at all) starts from an empty
// interrupted one. It returns the snapshot and what the reader should know.
func recomputeRaw(runDir string, snap *metrics.Snapshot, grid []float64) (*metrics.Snapshot, []string, error) {
	dir := rundir.Raw(runDir)
	files, err := filepath.Glob(filepath.Join(dir, "*"+metrics.RawExt))
	if err != nil || len(files) == 0 {
		return nil, nil, asUsage(fmt.Errorf("report --recompute: %s holds no raw values (*%s): the run must keep them (--keep-raw), or have been killed before removing them", dir, metrics.RawExt))
	}
	var notes []string
	if snap == nil {
		snap = &metrics.Snapshot{State: metrics.StateInterrupted}
		notes = append(notes, "no snapshot: the series below are rebuilt from the raw values alone (values still in memory when the run was killed are missing)")
	}
	for _, f := range files {
		base := filepath.Base(f)
		var old *metrics.Metric
		name := strings.TrimSuffix(base, metrics.RawExt)
		for i := range snap.Metrics {
			if m := &snap.Metrics[i]; m.Kind == metrics.KindSeries && metrics.RawFileName(m.Name) == base {
				old, name = m, m.Name
				break
			}
		}
		buckets := 0
		if old != nil {
			buckets = len(old.Histogram)
		}
		m, info, err := metrics.RecomputeRaw(f, name, grid, buckets)
		if err != nil {
			if errors.Is(err, metrics.ErrRawFile) {
				return nil, nil, asUsage(fmt.Errorf("report --recompute: %w", err))
			}
			return nil, nil, err
		}
		if info.Torn != nil {
			notes = append(notes, fmt.Sprintf("%s: the raw file ends in a torn block (ignored): %v", name, info.Torn))
		}
		if old != nil && old.Count != m.Count {
			notes = append(notes, fmt.Sprintf("%s: the raw file holds %d values, the snapshot counted %d", name, m.Count, old.Count))
		}
		if old != nil {
			*old = m
		} else {
			snap.Metrics = append(snap.Metrics, m)
		}
	}
	return snap, notes, nil
}

// parseGrid reads a comma-separated percentile list ("99.99,99,50").
func parseGrid(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		var p float64
		if _, err := fmt.Sscan(f, &p); err != nil || p < 0 || p > 100 || p != p {
			return nil, usagef("--percentiles %q: want numbers in [0, 100] separated by commas, e.g. 99.99,99,50", s)
		}
		out = append(out, p)
	}
	return out, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
