package tui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/inferbench/inferbench/internal/metrics"
)

// TestModel_View_retried: the samples line shows the retried requests
// (retried_requests) once there are any, and says nothing of them before.
func TestModel_View_retried(t *testing.T) {
	r := newRun(t)
	retried, err := r.reg.NewCounter(metrics.RetriedRequests, false)
	if err != nil {
		t.Fatal(err)
	}
	r.step(20, 10, 0)
	m, _ := feed(t, New(Options{}), tea.WindowSizeMsg{Width: 100, Height: 40}, snapshotMsg{r.snap(metrics.StateLive, 0)})
	if v := m.View(); strings.Contains(v, "retried") {
		t.Errorf("a run with no resends shows them:\n%s", v)
	}
	retried.Add(3)
	r.step(5, 5, 0)
	m, _ = feed(t, m, snapshotMsg{r.snap(metrics.StateLive, 0)})
	if v := m.View(); !strings.Contains(v, "in flight 10   retried 3\n") {
		t.Errorf("the samples line lacks the 3 retried requests:\n%s", v)
	}
}
