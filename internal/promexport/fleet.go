package promexport

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/inferbench/inferbench/internal/metrics"
)

// workerLabel labels the per-worker series of a fleet run.
const workerLabel = "worker"

// workerDesc is the description of one per-worker family: its dictionary
// name mapped as BaseName maps any name, with _total for a counter.
func workerDesc(name string) (*prometheus.Desc, float64) {
	base, div := BaseName(name)
	if d, ok := metrics.Lookup(name); ok && d.Kind == metrics.KindCounter {
		base += "_total"
	}
	return prometheus.NewDesc(base, help(name), []string{workerLabel}, nil), div
}

// workerFamily is one per-worker figure: its description, its Prometheus
// type, and its value in base units.
type workerFamily struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	div  float64
}

func newWorkerFamily(name string, typ prometheus.ValueType) workerFamily {
	d, div := workerDesc(name)
	return workerFamily{d, typ, div}
}

// The per-worker families: the names are fixed, so their descriptions are
// built once rather than at every scrape.
var (
	fleetIssued      = newWorkerFamily(metrics.FleetWorkerIssued, prometheus.CounterValue)
	fleetCompleted   = newWorkerFamily(metrics.FleetWorkerCompleted, prometheus.CounterValue)
	fleetFailed      = newWorkerFamily(metrics.FleetWorkerFailed, prometheus.CounterValue)
	fleetLost        = newWorkerFamily(metrics.FleetWorkerLost, prometheus.GaugeValue)
	fleetInFlight    = newWorkerFamily(metrics.FleetWorkerInFlight, prometheus.GaugeValue)
	fleetQPS         = newWorkerFamily(metrics.FleetWorkerQPS, prometheus.GaugeValue)
	fleetLateness    = newWorkerFamily(metrics.FleetWorkerLatenessP99, prometheus.GaugeValue)
	fleetOffset      = newWorkerFamily(metrics.FleetWorkerClockOffset, prometheus.GaugeValue)
	fleetUncertainty = newWorkerFamily(metrics.FleetWorkerClockUncertainty, prometheus.GaugeValue)
)

// collectFleet emits the per-worker series of a fleet table (nothing
// outside fleet runs); see the package doc for what a lost worker keeps.
// A name seen twice in one table is emitted once: two series with one
// label set would fail the whole scrape.
func collectFleet(ws []metrics.FleetWorker, emit func(*prometheus.Desc, prometheus.ValueType, float64, ...string)) {
	if len(ws) == 0 {
		return
	}
	seen := make(map[string]bool, len(ws))
	put := func(f workerFamily, v float64, name string) { emit(f.desc, f.typ, v/f.div, name) }
	for i := range ws {
		w := &ws[i]
		if seen[w.Name] {
			continue
		}
		seen[w.Name] = true
		put(fleetIssued, float64(w.Issued), w.Name)
		put(fleetCompleted, float64(w.Completed), w.Name)
		put(fleetFailed, float64(w.Failed), w.Name)
		lost := 0.0
		if w.Lost {
			lost = 1
		}
		put(fleetLost, lost, w.Name)
		if w.Lost {
			continue
		}
		put(fleetInFlight, float64(w.InFlight), w.Name)
		put(fleetQPS, w.QPS, w.Name)
		put(fleetLateness, float64(w.LatenessP99NS), w.Name)
		if w.ClockUncertaintyNS > 0 {
			put(fleetOffset, float64(w.ClockOffsetNS), w.Name)
			put(fleetUncertainty, float64(w.ClockUncertaintyNS), w.Name)
		}
	}
}
