package promexport_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/promexport"
)

// fleetFamilies are the per-worker families: their Prometheus names and
// types, and whether a lost worker keeps them.
var fleetFamilies = []struct {
	name     string
	typ      dto.MetricType
	keptLost bool
	value    func(w metrics.FleetWorker) float64
}{
	{"inferbench_fleet_worker_samples_issued_total", dto.MetricType_COUNTER, true, func(w metrics.FleetWorker) float64 { return float64(w.Issued) }},
	{"inferbench_fleet_worker_samples_completed_total", dto.MetricType_COUNTER, true, func(w metrics.FleetWorker) float64 { return float64(w.Completed) }},
	{"inferbench_fleet_worker_samples_failed_total", dto.MetricType_COUNTER, true, func(w metrics.FleetWorker) float64 { return float64(w.Failed) }},
	{"inferbench_fleet_worker_lost", dto.MetricType_GAUGE, true, func(w metrics.FleetWorker) float64 {
		if w.Lost {
			return 1
		}
		return 0
	}},
	{"inferbench_fleet_worker_in_flight", dto.MetricType_GAUGE, false, func(w metrics.FleetWorker) float64 { return float64(w.InFlight) }},
	{"inferbench_fleet_worker_qps", dto.MetricType_GAUGE, false, func(w metrics.FleetWorker) float64 { return w.QPS }},
	{"inferbench_fleet_worker_issue_lateness_p99_seconds", dto.MetricType_GAUGE, false, func(w metrics.FleetWorker) float64 { return float64(w.LatenessP99NS) / 1e9 }},
	{"inferbench_fleet_worker_clock_offset_seconds", dto.MetricType_GAUGE, false, func(w metrics.FleetWorker) float64 { return float64(w.ClockOffsetNS) / 1e9 }},
	{"inferbench_fleet_worker_clock_uncertainty_seconds", dto.MetricType_GAUGE, false, func(w metrics.FleetWorker) float64 { return float64(w.ClockUncertaintyNS) / 1e9 }},
}

// workerValue returns the value of family name for worker, and whether the
// scrape has it.
func workerValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, worker string) (float64, bool) {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		return 0, false
	}
	if f.GetType() != typ {
		t.Fatalf("%s is a %v, want %v", name, f.GetType(), typ)
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetName() != "worker" {
			t.Fatalf("%s has labels %v, want worker only", name, m.GetLabel())
		}
		if m.GetLabel()[0].GetValue() == worker {
			if typ == dto.MetricType_COUNTER {
				return m.GetCounter().GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// TestExporter_Fleet scrapes a fleet run's snapshot: every figure of the
// table is one series per worker with the table's value in base units, a
// lost worker keeps its counters and lost=1 but no live gauge, a worker
// without a clock estimate has no clock series, the HELP texts are the
// dictionary's, and a snapshot without a fleet has no per-worker family.
func TestExporter_Fleet(t *testing.T) {
	e := promexport.New()
	url := serve(t, e)
	s := snapshots(t)[0]
	s.Fleet = []metrics.FleetWorker{
		{Name: "w0", Issued: 120, Completed: 110, Failed: 2, InFlight: 10, QPS: 55.5, LatenessP99NS: 1_250_000,
			ClockOffsetNS: -3_400_000, ClockUncertaintyNS: 45_000},
		{Name: "pod-1.inferbench-worker", Issued: 90, Completed: 90, Failed: 7, Lost: true, QPS: 12,
			LatenessP99NS: 9e6, ClockOffsetNS: 1e6, ClockUncertaintyNS: 2e3},
		{Name: "w2", Issued: 5, Completed: 1, InFlight: 4, QPS: 0.5},
	}
	e.Update(s)
	fams := scrape(t, url)
	for _, w := range s.Fleet {
		for _, f := range fleetFamilies {
			got, ok := workerValue(t, fams, f.name, f.typ, w.Name)
			want := (f.keptLost || !w.Lost) && (!strings.Contains(f.name, "clock") || w.ClockUncertaintyNS > 0)
			if ok != want {
				t.Errorf("worker %s (lost %v): %s served %v, want %v", w.Name, w.Lost, f.name, ok, want)
				continue
			}
			if ok && got != f.value(w) {
				t.Errorf("worker %s: %s = %v, want %v", w.Name, f.name, got, f.value(w))
			}
		}
	}
	for _, f := range fleetFamilies {
		fam := fams[f.name]
		if fam == nil {
			t.Fatalf("no family %s", f.name)
		}
		d, ok := metrics.Lookup(strings.TrimPrefix(strings.TrimSuffix(strings.NewReplacer("_seconds", "_ns").Replace(f.name), "_total"), "inferbench_"))
		if !ok || !d.PerWorker || fam.GetHelp() != d.Help {
			t.Errorf("%s: HELP %q, want the dictionary's per-worker entry (%+v)", f.name, fam.GetHelp(), d)
		}
	}

	// A table naming one worker twice (never produced, but a snapshot is
	// data) still scrapes, with one series per name.
	s.Fleet = append(s.Fleet, metrics.FleetWorker{Name: "w0", Issued: 1})
	e.Update(s)
	fams = scrape(t, url)
	if n := len(fams["inferbench_fleet_worker_samples_issued_total"].GetMetric()); n != 3 {
		t.Errorf("%d issued series for 3 distinct names", n)
	}

	s.Fleet = nil
	e.Update(s)
	for name := range scrape(t, url) {
		if strings.HasPrefix(name, "inferbench_fleet_worker_") {
			t.Errorf("a run without a fleet serves %s", name)
		}
	}
}

// BenchmarkExporter_Scrape is the cost of one scrape (gather and text
// encoding) of the live snapshot, without a fleet and with a table of 32
// workers: the difference is what the per-worker series cost.
func BenchmarkExporter_Scrape(b *testing.B) {
	base := snapshots(b)[0]
	for _, n := range []int{0, 32} {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			s := base
			s.Fleet = make([]metrics.FleetWorker, n)
			for i := range s.Fleet {
				s.Fleet[i] = metrics.FleetWorker{Name: fmt.Sprintf("inferbench-worker-%d", i), Issued: 1000 + int64(i), Completed: 990,
					Failed: 3, InFlight: 10, QPS: 512.25, LatenessP99NS: 120_000, ClockOffsetNS: 1_500_000, ClockUncertaintyNS: 40_000}
			}
			e := promexport.New()
			e.Update(s)
			h := e.Handler()
			req := httptest.NewRequest(http.MethodGet, promexport.Path, nil)
			b.ReportAllocs()
			var size int
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/scrape")
		})
	}
}
