package aggregator

import (
	"fmt"

	"github.com/inferbench/inferbench/internal/atomicfile"
	"github.com/inferbench/inferbench/internal/metrics"
)

// WriteFinal writes the dict form of snap to path atomically (see
// atomicfile): on failure path is untouched and no temporary file remains.
func WriteFinal(path string, snap *metrics.Snapshot) error {
	data, err := snap.MarshalJSON()
	if err != nil {
		return fmt.Errorf("aggregator: encode final snapshot: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("aggregator: %w", err)
	}
	return nil
}
