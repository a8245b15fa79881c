package tui

import (
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// BenchmarkView renders a live frame of a 120×40 terminal, without colours
// (as in CI logs and goldens) and in true colour; the budget is 2 ms.
func BenchmarkView(b *testing.B) {
	for _, p := range []struct {
		name    string
		profile termenv.Profile
	}{{"ascii", termenv.Ascii}, {"truecolor", termenv.TrueColor}} {
		b.Run(p.name, func(b *testing.B) {
			defer lipgloss.SetColorProfile(lipgloss.ColorProfile())
			lipgloss.SetColorProfile(p.profile)
			seq := sessions(b)["complete"]
			m := New(Options{Target: 150, Title: "bench"})
			tm, _ := m.Update(tea.WindowSizeMsg{Width: 120, Height: 40})
			m = tm.(Model)
			for _, s := range seq[:6] {
				tm, _ = m.Update(snapshotMsg{s})
				m = tm.(Model)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// BenchmarkUpdate folds one snapshot into the model.
func BenchmarkUpdate(b *testing.B) {
	seq := sessions(b)["complete"]
	m := New(Options{Target: 150})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tm, _ := m.Update(snapshotMsg{seq[i%6]})
		m = tm.(Model)
	}
}
