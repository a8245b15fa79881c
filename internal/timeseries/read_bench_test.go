package timeseries_test

import (
	"bytes"
	"testing"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/timeseries"
)

// BenchmarkDecode reads an hour of a run's time series (14 400 lines of the
// form AppendLine writes, every series present).
func BenchmarkDecode(b *testing.B) {
	r := metrics.NewRegistry()
	for _, name := range []string{metrics.TrackedIssued, metrics.TrackedCompleted, metrics.TrackedFailed, metrics.TrackedDuration, metrics.TrackedGood} {
		c, _ := r.NewCounter(name, false)
		c.Set(1000)
	}
	for _, sr := range timeseries.Series {
		s, _ := r.NewSeries(sr.Name, metrics.SeriesOpts{})
		s.Record(12345678)
	}
	s := r.Snapshot(metrics.StateLive, 0, 1e9)
	var buf []byte
	for range 14_400 {
		buf = timeseries.AppendLine(buf, &s, &s)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		lines, skipped, err := timeseries.Decode(bytes.NewReader(buf))
		if err != nil || skipped != 0 || len(lines) != 14_400 {
			b.Fatal(len(lines), skipped, err)
		}
	}
}
