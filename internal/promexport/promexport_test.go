package promexport_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/promexport"
)

// snapshots returns a live and a terminal snapshot of a registry laid out as
// the aggregator lays out its own, with two error classes.
func snapshots(t testing.TB) []metrics.Snapshot {
	t.Helper()
	reg := metrics.NewRegistry()
	c := map[string]*metrics.Counter{}
	for _, n := range []string{metrics.TotalIssued, metrics.TotalCompleted, metrics.TotalFailed,
		metrics.TrackedIssued, metrics.TrackedCompleted, metrics.TrackedFailed,
		metrics.TrackedDuration, metrics.TotalDuration, metrics.RetriedRequests, "errors.timeout", "errors.http_503",
		metrics.WarmupErrorCounterPrefix + "http_503", metrics.OtherErrorCounterPrefix + "DecodeError",
		metrics.TrackedGood, metrics.TrackedGoodTokens} {
		var err error
		if c[n], err = reg.NewCounter(n, false); err != nil {
			t.Fatal(err)
		}
	}
	timeOpts := metrics.SeriesOpts{Low: metrics.TimeLow, High: metrics.TimeHigh}
	tpotOpts := timeOpts
	tpotOpts.Float = true
	ttft, _ := reg.NewSeries(metrics.SeriesTTFT, timeOpts)
	tpot, _ := reg.NewSeries(metrics.SeriesTPOT, tpotOpts)
	osl, err := reg.NewSeries(metrics.SeriesOSL, metrics.SeriesOpts{Low: metrics.TokenLow, High: metrics.TokenHigh})
	if err != nil {
		t.Fatal(err)
	}
	step := func(n int) {
		for i := range n {
			ttft.Record(int64(10_000_000 + 137_000*i))
			tpot.RecordFloat(4.5e6 + float64(i)*1234.5)
			osl.Record(int64(20 + i%50))
		}
		c[metrics.TotalIssued].Add(int64(n + 3))
		c[metrics.TrackedIssued].Add(int64(n + 2))
		c[metrics.TotalCompleted].Add(int64(n))
		c[metrics.TrackedCompleted].Add(int64(n))
		c[metrics.TotalFailed].Add(1)
		c[metrics.TrackedFailed].Add(1)
		c["errors.timeout"].Add(1)
		c[metrics.RetriedRequests].Add(2)
		c[metrics.TrackedGood].Add(int64(n / 2))
		c[metrics.TrackedGoodTokens].Add(int64(n * 10))
		c[metrics.TrackedDuration].Add(1_234_567_891)
		c[metrics.TotalDuration].Add(1_300_000_000)
	}
	step(200)
	live := reg.Snapshot(metrics.StateLive, 4, 1e9)
	step(300)
	c["errors.http_503"].Add(2)
	c[metrics.WarmupErrorCounterPrefix+"http_503"].Add(3)
	c[metrics.OtherErrorCounterPrefix+"DecodeError"].Add(1)
	final := reg.Snapshot(metrics.StateComplete, 0, 2e9)
	return []metrics.Snapshot{live, final}
}

func serve(t *testing.T, e *promexport.Exporter) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + promexport.Path
}

func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the official parser rejects the output: %v", err)
	}
	return fams
}

func one(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, labels ...string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("no family %s", name)
	}
	if f.GetType() != typ {
		t.Fatalf("%s is a %v, want %v", name, f.GetType(), typ)
	}
	for _, m := range f.GetMetric() {
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
			}
			match = match && found
		}
		if match {
			return m
		}
	}
	t.Fatalf("%s has no metric with labels %v", name, labels)
	return nil
}

// TestExporter scrapes a real server after each Update and checks, through
// the official text parser, that every value equals the snapshot's.
func TestExporter(t *testing.T) {
	e := promexport.New()
	url := serve(t, e)
	if fams := scrape(t, url); len(fams) != 0 {
		t.Fatalf("metrics before the first snapshot: %v", fams)
	}
	for _, s := range snapshots(t) {
		t.Run(string(s.State), func(t *testing.T) {
			e.Update(s)
			fams := scrape(t, url)
			for _, st := range []metrics.State{metrics.StateInitialize, metrics.StateLive, metrics.StateDraining, metrics.StateComplete, metrics.StateInterrupted} {
				want := 0.0
				if st == s.State {
					want = 1
				}
				if got := one(t, fams, "inferbench_state", dto.MetricType_GAUGE, "state", string(st)).GetGauge().GetValue(); got != want {
					t.Errorf("state %s = %v, want %v", st, got, want)
				}
			}
			gauges := map[string]float64{
				"inferbench_pending_token_counts": float64(s.NPendingTasks),
				"inferbench_in_flight":            float64(s.CounterInt(metrics.TotalIssued) - s.CounterInt(metrics.TotalCompleted)),
				"inferbench_snapshot_counter":     float64(s.Counter),
				"inferbench_qps": float64(s.CounterInt(metrics.TrackedCompleted)-s.CounterInt(metrics.TrackedFailed)) /
					(float64(s.CounterInt(metrics.TrackedDuration)) / 1e9),
				"inferbench_goodput":  float64(s.CounterInt(metrics.TrackedGood)) / (float64(s.CounterInt(metrics.TrackedDuration)) / 1e9),
				"inferbench_good_tps": float64(s.CounterInt(metrics.TrackedGoodTokens)) / (float64(s.CounterInt(metrics.TrackedDuration)) / 1e9),
			}
			for name, want := range gauges {
				if got := one(t, fams, name, dto.MetricType_GAUGE).GetGauge().GetValue(); got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
			nCounters, nSeries := 0, 0
			for i := range s.Metrics {
				m := &s.Metrics[i]
				if m.Kind == metrics.KindCounter {
					nCounters++
					var got float64
					if class, ok := strings.CutPrefix(m.Name, metrics.ErrorCounterPrefix); ok {
						got = one(t, fams, "inferbench_errors_total", dto.MetricType_COUNTER, "class", class).GetCounter().GetValue()
					} else if class, ok := strings.CutPrefix(m.Name, metrics.WarmupErrorCounterPrefix); ok {
						got = one(t, fams, "inferbench_warmup_errors_total", dto.MetricType_COUNTER, "class", class).GetCounter().GetValue()
					} else if class, ok := strings.CutPrefix(m.Name, metrics.OtherErrorCounterPrefix); ok {
						got = one(t, fams, "inferbench_other_errors_total", dto.MetricType_COUNTER, "class", class).GetCounter().GetValue()
					} else {
						name := "inferbench_" + m.Name + "_total"
						if n, ok := strings.CutSuffix(m.Name, "_ns"); ok {
							name = "inferbench_" + n + "_seconds_total"
						}
						got = one(t, fams, name, dto.MetricType_COUNTER).GetCounter().GetValue()
					}
					want := m.Value.Float64()
					if strings.HasSuffix(m.Name, "_ns") {
						want /= 1e9
					}
					if got != want {
						t.Errorf("counter %s = %v, want %v", m.Name, got, want)
					}
					continue
				}
				nSeries++
				name, div := "inferbench_"+m.Name, 1.0
				if n, ok := strings.CutSuffix(m.Name, "_ns"); ok {
					name, div = "inferbench_"+n+"_seconds", 1e9
				}
				sum := one(t, fams, name, dto.MetricType_SUMMARY).GetSummary()
				if sum.GetSampleCount() != uint64(m.Count) || sum.GetSampleSum() != m.Total.Float64()/div {
					t.Errorf("%s: count %d sum %v, want %d %v", name, sum.GetSampleCount(), sum.GetSampleSum(), m.Count, m.Total.Float64()/div)
				}
				if len(sum.GetQuantile()) != len(m.Percentiles) {
					t.Fatalf("%s: %d quantiles, want %d", name, len(sum.GetQuantile()), len(m.Percentiles))
				}
				for _, p := range m.Percentiles {
					pk, _ := strconv.ParseFloat(p.Key, 64)
					found := false
					for _, q := range sum.GetQuantile() {
						if math.Abs(q.GetQuantile()-pk/100) < 1e-12 {
							found = true
							if q.GetValue() != p.Value/div {
								t.Errorf("%s p%s = %v, want %v", name, p.Key, q.GetValue(), p.Value/div)
							}
						}
					}
					if !found {
						t.Errorf("%s lacks quantile %s", name, p.Key)
					}
				}
			}
			if got, want := one(t, fams, "inferbench_retried_requests_total", dto.MetricType_COUNTER).GetCounter().GetValue(),
				float64(s.CounterInt(metrics.RetriedRequests)); got != want || want == 0 {
				t.Errorf("inferbench_retried_requests_total = %v, want %v (> 0)", got, want)
			}
			if nCounters < 11 || nSeries != 3 {
				t.Fatalf("snapshot has %d counters and %d series: fixture broken", nCounters, nSeries)
			}
		})
	}
}

func TestBaseName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		div      float64
	}{
		{"ttft_ns", "inferbench_ttft_seconds", 1e9},
		{"isl", "inferbench_isl", 1},
		{"tracked_duration_ns", "inferbench_tracked_duration_seconds", 1e9},
		{"odd-name.x", "inferbench_odd_name_x", 1},
	} {
		name, div := promexport.BaseName(tc.in)
		if name != tc.want || div != tc.div {
			t.Errorf("BaseName(%q) = %q, %v; want %q, %v", tc.in, name, div, tc.want, tc.div)
		}
	}
}

func TestListenAndServe(t *testing.T) {
	e := promexport.New()
	e.Update(snapshots(t)[0])
	// A port taken by another listener is an error naming the address.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = e.ListenAndServe(context.Background(), ln.Addr().String())
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("ListenAndServe on a taken port: %v", err)
	}
	// A free port serves until the context ends.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.ListenAndServe(ctx, addr) }()
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(fmt.Sprintf("http://%s%s", addr, promexport.Path)); err == nil {
			resp.Body.Close()
			fams = scrape(t, "http://"+addr+promexport.Path)
			break
		}
	}
	if fams["inferbench_state"] == nil {
		t.Fatal("server never answered with the state gauge")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ListenAndServe after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ListenAndServe did not return after cancel")
	}
}

// TestExporter_DictionaryHelp checks that every family the exporter serves
// for the aggregator's metrics takes its HELP from the metric dictionary, and
// that a metric the dictionary does not know (another producer's) still
// gets exported, under a generic HELP.
func TestExporter_DictionaryHelp(t *testing.T) {
	e := promexport.New()
	url := serve(t, e)
	snaps := snapshots(t)
	s := snaps[len(snaps)-1]
	e.Update(s)
	fams := scrape(t, url)
	helps := map[string]bool{}
	for _, d := range metrics.Dictionary() {
		helps[d.Help] = true
	}
	for name, f := range fams {
		h := f.GetHelp()
		if name == "inferbench_state" || name == "inferbench_pending_token_counts" || name == "inferbench_snapshot_counter" {
			continue // snapshot fields, not metrics
		}
		if !helps[strings.TrimSuffix(h, " Quantiles from the snapshot's percentile grid.")] {
			t.Errorf("%s: HELP %q is not a metric dictionary entry's", name, h)
		}
	}

	s.Metrics = append(s.Metrics, metrics.Metric{Kind: metrics.KindCounter, Name: "python_only_counter", Value: metrics.Int(7)})
	e.Update(s)
	fams = scrape(t, url)
	f, ok := fams["inferbench_python_only_counter_total"]
	if !ok {
		t.Fatal("a counter unknown to the dictionary is not exported")
	}
	if h := f.GetHelp(); helps[h] || !strings.Contains(h, "python_only_counter") {
		t.Errorf("unknown counter's HELP %q: want a generic line naming it", h)
	}
}

// TestExporter_QueueWait exports a capped run's queue wait (in seconds, with
// its zeros) and queued count under their dictionary names.
func TestExporter_QueueWait(t *testing.T) {
	reg := metrics.NewRegistry()
	reg.Vet = metrics.VetName
	c, err := reg.NewCounter(metrics.TrackedQueued, false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := reg.NewSeries(metrics.SeriesQueueWait, metrics.SeriesOpts{ZeroOK: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []int64{0, 0, 100e6, 200e6} {
		s.Record(v)
		if v > 0 {
			c.Add(1)
		}
	}
	e := promexport.New()
	url := serve(t, e)
	e.Update(reg.Snapshot(metrics.StateLive, 0, 1))
	fams := scrape(t, url)
	if v := one(t, fams, "inferbench_tracked_samples_queued_total", dto.MetricType_COUNTER).GetCounter().GetValue(); v != 2 {
		t.Errorf("queued %v, want 2", v)
	}
	sum := one(t, fams, "inferbench_queue_wait_seconds", dto.MetricType_SUMMARY).GetSummary()
	if sum.GetSampleCount() != 4 || math.Abs(sum.GetSampleSum()-0.3) > 1e-9 {
		t.Errorf("queue wait count %d sum %v, want 4 and 0.3 s", sum.GetSampleCount(), sum.GetSampleSum())
	}
	for _, q := range sum.GetQuantile() {
		if q.GetQuantile() == 0.5 && q.GetValue() != 0 {
			t.Errorf("median queue wait %v s, want 0", q.GetValue())
		}
	}
}
