package report

import (
	"fmt"
	"strings"
)

// MarkRebuilt records that the report's snapshot was rebuilt from the run's
// event log (the run left no final_snapshot.json) rather than written by the
// aggregator: from names the files, missing the series that could not be
// rebuilt, notes anything else a reader must know. The text report says so
// in its warnings.
func (r *Report) MarkRebuilt(from []string, missing, notes []string) {
	r.RebuiltFrom = append([]string(nil), from...)
	r.NotRebuilt = append([]string(nil), missing...)
	warn := []string{fmt.Sprintf("no final snapshot: this report was rebuilt from %s; requests still in flight when the run died are not counted",
		strings.Join(from, " and "))}
	if len(missing) > 0 {
		warn = append(warn, fmt.Sprintf("not rebuilt: %s (needs the chunk-level log, --event-log full)", strings.Join(missing, ", ")))
	}
	warn = append(warn, notes...)
	for _, w := range r.Warnings {
		// A rebuilt run that did not end was most likely killed, not
		// stopped by a signal it could handle.
		if strings.HasPrefix(w, "run was interrupted") {
			w = "the run did not end cleanly (killed, or stopped): the metrics are what its log holds"
		}
		warn = append(warn, w)
	}
	r.Warnings = warn
}
