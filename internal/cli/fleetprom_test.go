package cli_test

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/mockserver"
)

var promAddrRE = regexp.MustCompile(`Prometheus metrics on (http://[0-9.:]+/metrics)`)

// promScrape GETs a Prometheus endpoint and parses it with the official
// parser; it returns the families and the raw text, or ok false when the
// endpoint does not answer (yet, or any more).
func promScrape(t *testing.T, url string) (fams map[string]*dto.MetricFamily, raw string, ok bool) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return nil, "", false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, "", false
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err = parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("the official parser rejects the export: %v\n%s", err, body)
	}
	return fams, string(body), true
}

// promValue is the value of the family's series whose labels include
// labels (name, value pairs), and whether there is one.
func promValue(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	for _, m := range fams[name].GetMetric() {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue(), true
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// promWorkers sums a per-worker family over the workers and returns the
// workers it has.
func promWorkers(fams map[string]*dto.MetricFamily, name string) (sum float64, workers []string) {
	for _, m := range fams[name].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "worker" {
				workers = append(workers, lp.GetValue())
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum, workers
}

// TestFleet_Prometheus runs a fleet of 3 workers with --prometheus-addr on
// a port of the system's choosing and scrapes it over HTTP: while the run
// is live every worker has its series (in flight = issued − completed, not
// lost); once the run is complete (served during --prometheus-linger) the
// workers' completions, issues and failures add up to the run's counters,
// warmup included, and to the final snapshot's; Ctrl-C ends the linger at
// once, exit 0; the API key and headers never appear in the export. With a
// worker killed mid-run, that worker ends with lost 1, its counters (its
// in-flight samples failed, so the sums still hold) and no live gauge.
func TestFleet_Prometheus(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill bool
		mock mockserver.Config
		args []string
	}{
		{"complete", false, mockserver.Config{TTFT: 5 * time.Millisecond, TPOT: time.Millisecond, OutputTokens: 12}, nil},
		{"worker lost", true, mockserver.Config{TTFT: 10 * time.Millisecond, TPOT: 2 * time.Millisecond, OutputTokens: 20},
			[]string{"--fleet-timeout", "1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const apiKey, header = "sk-prom-secret-4f1c", "tenant-secret-9a7e"
			url := startMock(t, tc.mock)
			dir := filepath.Join(shortDir(t), "run")
			coord := startInferbenchEnv(t, []string{"IB_PROM_TEST_KEY=" + apiKey}, append([]string{"benchmark", "concurrency", "--endpoint", url, "--model", "mock-model",
				"--api-key-env", "IB_PROM_TEST_KEY", "--header", "X-Tenant:" + header,
				"--synthetic", "50", "--concurrency", "6", "--num-samples", "240", "--warmup", "12", "--report-dir", dir, "--no-tui",
				"--publish-interval", "100ms", "--prometheus-addr", "127.0.0.1:0", "--prometheus-linger", "2m",
				"--fleet-size", "3", "--fleet-listen", "tcp://127.0.0.1:0"}, tc.args...)...)
			procs := joinFleet(t, coord, 3, "--once", "--fleet-timeout", "5s")
			var metricsURL string
			waitFor(t, "the Prometheus address", 30*time.Second, func() bool {
				m := promAddrRE.FindStringSubmatch(coord.stderr.String())
				if m != nil {
					metricsURL = m[1]
				}
				return m != nil
			})
			workers := []string{"w0", "w1", "w2"}
			var raws []string
			scrapeUntil := func(what string, cond func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
				t.Helper()
				var fams map[string]*dto.MetricFamily
				waitFor(t, what, 60*time.Second, func() bool {
					f, raw, ok := promScrape(t, metricsURL)
					if ok {
						raws = append(raws, raw)
					}
					fams = f
					return ok && cond(f)
				})
				return fams
			}
			state := func(s metrics.State) func(map[string]*dto.MetricFamily) bool {
				return func(f map[string]*dto.MetricFamily) bool {
					v, _ := promValue(f, "inferbench_state", "state", string(s))
					return v == 1
				}
			}

			// Every worker busy past its 4 warmup samples (between warmup
			// and the tracked phase none is in flight): a worker killed
			// now has samples in flight.
			live := scrapeUntil("a live scrape with every worker issuing", func(f map[string]*dto.MetricFamily) bool {
				_, ws := promWorkers(f, "inferbench_fleet_worker_samples_issued_total")
				busy := true
				for _, w := range ws {
					v, _ := promValue(f, "inferbench_fleet_worker_in_flight", "worker", w)
					n, _ := promValue(f, "inferbench_fleet_worker_samples_issued_total", "worker", w)
					busy = busy && v > 0 && n >= 10
				}
				return state(metrics.StateLive)(f) && len(ws) == 3 && busy
			})
			for _, w := range workers {
				issued, ok1 := promValue(live, "inferbench_fleet_worker_samples_issued_total", "worker", w)
				completed, ok2 := promValue(live, "inferbench_fleet_worker_samples_completed_total", "worker", w)
				inFlight, ok3 := promValue(live, "inferbench_fleet_worker_in_flight", "worker", w)
				lost, ok4 := promValue(live, "inferbench_fleet_worker_lost", "worker", w)
				_, ok5 := promValue(live, "inferbench_fleet_worker_qps", "worker", w)
				_, ok6 := promValue(live, "inferbench_fleet_worker_issue_lateness_p99_seconds", "worker", w)
				unc, ok7 := promValue(live, "inferbench_fleet_worker_clock_uncertainty_seconds", "worker", w)
				if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 {
					t.Errorf("live: worker %s lacks a series (issued %v completed %v in flight %v lost %v qps %v lateness %v clock %v)", w, ok1, ok2, ok3, ok4, ok5, ok6, ok7)
				}
				if inFlight != issued-completed || lost != 0 || unc <= 0 {
					t.Errorf("live: worker %s issued %v completed %v in flight %v lost %v clock uncertainty %v", w, issued, completed, inFlight, lost, unc)
				}
			}
			if tc.kill {
				if err := procs[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}

			final := scrapeUntil("the final snapshot served during the linger", state(metrics.StateComplete))
			for _, c := range []struct{ worker, run string }{
				{"inferbench_fleet_worker_samples_issued_total", "inferbench_total_samples_issued_total"},
				{"inferbench_fleet_worker_samples_completed_total", "inferbench_total_samples_completed_total"},
				{"inferbench_fleet_worker_samples_failed_total", "inferbench_total_samples_failed_total"},
			} {
				sum, ws := promWorkers(final, c.worker)
				run, ok := promValue(final, c.run)
				if !ok || sum != run || strings.Join(ws, ",") != strings.Join(workers, ",") {
					t.Errorf("final: %s sums to %v over %v; %s = %v (%v)", c.worker, sum, ws, c.run, run, ok)
				}
			}
			for _, w := range workers {
				wantLost := tc.kill && w == "w1"
				lost, _ := promValue(final, "inferbench_fleet_worker_lost", "worker", w)
				_, hasInFlight := promValue(final, "inferbench_fleet_worker_in_flight", "worker", w)
				_, hasQPS := promValue(final, "inferbench_fleet_worker_qps", "worker", w)
				_, hasClock := promValue(final, "inferbench_fleet_worker_clock_offset_seconds", "worker", w)
				if (lost == 1) != wantLost || hasInFlight == wantLost || hasQPS == wantLost || hasClock == wantLost {
					t.Errorf("final: worker %s lost %v (want %v); live gauges in flight %v qps %v clock %v (want %v)",
						w, lost, wantLost, hasInFlight, hasQPS, hasClock, !wantLost)
				}
			}
			waitFor(t, "the linger", 30*time.Second, func() bool { return strings.Contains(coord.stderr.String(), "serving the final metrics") })
			if err := coord.cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			// Exit 0, and no worker declared lost while the coordinator
			// lingers (the fleet is closed first).
			if code := coord.wait(t, 20*time.Second); code != 0 || strings.Count(coord.stderr.String(), "fleet: worker lost") != map[bool]int{true: 1}[tc.kill] {
				t.Fatalf("coordinator exit code %d after Ctrl-C in the linger, want 0 and only the killed worker lost\n%s", code, coord.stderr.String())
			}
			snap := readFinalSnapshot(t, dir)
			completed, _ := promWorkers(final, "inferbench_fleet_worker_samples_completed_total")
			tracked, all := snap.CounterInt(metrics.TrackedCompleted), snap.CounterInt(metrics.TotalCompleted)
			if completed != float64(all) || all != tracked+12 || !tc.kill && tracked != 240 {
				t.Errorf("final snapshot: tracked completed %d (want 240 unless a worker was lost), all %d (want tracked + 12 warmup); the workers' completions sum to %v", tracked, all, completed)
			}
			// Killed during warmup or the tracked phase.
			lost := snap.CounterInt(metrics.ErrorCounterPrefix+metrics.ClassWorkerLost) + snap.CounterInt(metrics.WarmupErrorCounterPrefix+metrics.ClassWorkerLost)
			if tc.kill && lost == 0 {
				t.Error("the killed worker's in-flight samples are not counted worker_lost")
			}
			for _, raw := range raws {
				if strings.Contains(raw, apiKey) || strings.Contains(raw, header) {
					t.Fatalf("the export carries the API key or a header value:\n%s", raw)
				}
			}
		})
	}
}
