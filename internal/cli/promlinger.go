package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/inferbench/inferbench/internal/promexport"
)

// lingerMetrics keeps the Prometheus endpoint up for d after the run (it
// serves the final snapshot), until ctx ends or a signal arrives: a
// scraper polling every 15–60 s would otherwise miss the final values of
// a run whose process, or pod, ends with it.
func lingerMetrics(ctx context.Context, w io.Writer, addr net.Addr, d time.Duration, sigs <-chan os.Signal) {
	fmt.Fprintf(w, "inferbench: serving the final metrics on http://%s%s for %v (Ctrl-C ends it)\n", addr, promexport.Path, d)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-sigs:
	}
}
