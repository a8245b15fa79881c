package metrics_test

import (
	"fmt"

	"github.com/inferbench/inferbench/internal/metrics"
)

// A registry holds counters and series; a terminal snapshot carries exact
// percentiles (the observed value at sorted index ⌊(n−1)·p/100⌋).
func ExampleRegistry() {
	r := metrics.NewRegistry()
	done, _ := r.NewCounter("completed", false)
	lat, _ := r.NewSeries("latency_ns", metrics.SeriesOpts{Percentiles: []float64{99, 50}})
	for v := int64(1); v <= 100; v++ {
		lat.Record(v * 1_000_000)
		done.Add(1)
	}
	snap := r.Snapshot(metrics.StateComplete, 0, 0)
	m, _ := snap.Find("latency_ns")
	p50, _ := m.Percentile("50.0")
	p99, _ := m.Percentile("99.0")
	fmt.Println(snap.CounterInt("completed"), m.Count, m.Total, p50, p99)
	// Output: 100 100 5050000000 5e+07 9.9e+07
}
