package aggregator

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/inferbench/inferbench/internal/metrics"
)

// FinalFile is the name of the terminal snapshot in a run's metrics directory.
const FinalFile = "final_snapshot.json"

// RawDir is the directory of spilled raw values in a run's metrics directory
// (<run>/metrics/raw/<series>.bin).
const RawDir = "raw"

// WriteFinal writes the dict form of snap to path atomically: a temporary file
// in the same directory, fsync, rename over path, fsync of the directory. On
// failure the temporary file is removed and path is untouched.
func WriteFinal(path string, snap *metrics.Snapshot) (err error) {
	data, err := snap.MarshalJSON()
	if err != nil {
		return fmt.Errorf("aggregator: encode final snapshot: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("aggregator: write final snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("aggregator: write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("aggregator: fsync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("aggregator: close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("aggregator: rename to %s: %w", path, err)
	}
	// The rename is durable only once the directory entry is.
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
