package metrics_test

import (
	"bytes"
	"errors"
	"log/slog"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/inferbench/inferbench/internal/metrics"
)

func newSeries(t testing.TB, r *metrics.Registry, name string, o metrics.SeriesOpts) *metrics.Series {
	t.Helper()
	s, err := r.NewSeries(name, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func seriesOf(t *testing.T, snap metrics.Snapshot, name string) *metrics.Metric {
	t.Helper()
	m, ok := snap.Find(name)
	if !ok {
		t.Fatalf("no metric %q", name)
	}
	return m
}

func histSum(m *metrics.Metric) int64 {
	var n int64
	for _, b := range m.Histogram {
		n += b.Count
	}
	return n
}

func TestSeries_Rollups(t *testing.T) {
	r := metrics.NewRegistry()
	s := newSeries(t, r, "x", metrics.SeriesOpts{})
	for _, v := range []int64{10, 20, 30, 40, 50} {
		s.Record(v)
	}
	for _, state := range []metrics.State{metrics.StateLive, metrics.StateComplete} {
		m := seriesOf(t, r.Snapshot(state, 0, 1), "x")
		got := []string{m.Total.String(), m.Min.String(), m.Max.String(), m.SumSq.String()}
		if m.Count != 5 || !cmp.Equal(got, []string{"150", "10", "50", "5500"}) {
			t.Errorf("%s: count %d total/min/max/sum_sq %v, want 5 [150 10 50 5500]", state, m.Count, got)
		}
	}
}

func TestSeries_Percentiles(t *testing.T) {
	r := metrics.NewRegistry()
	s := newSeries(t, r, "lat", metrics.SeriesOpts{})
	for v := int64(1000); v <= 100000; v += 1000 {
		s.Record(v)
	}
	live := seriesOf(t, r.Snapshot(metrics.StateLive, 0, 1), "lat")
	for key, want := range map[string]float64{"50.0": 50000, "99.0": 99000} {
		got, _ := live.Percentile(key)
		if math.Abs(got-want)/want > 0.01 {
			t.Errorf("live p%s = %v, want within 1%% of %v", key, got, want)
		}
	}
	final := seriesOf(t, r.Snapshot(metrics.StateComplete, 0, 2), "lat")
	for key, want := range map[string]float64{"50.0": 50000, "99.0": 99000, "99.9": 99000, "1.0": 1000} {
		if got, _ := final.Percentile(key); got != want {
			t.Errorf("final p%s = %v, want exactly %v", key, got, want)
		}
	}
}

func TestSeries_HistogramSumsToCount(t *testing.T) {
	bimodal := func(s *metrics.Series) {
		for range 60 {
			s.Record(10_000)
		}
		for range 40 {
			s.Record(100_000_000)
		}
	}
	tests := []struct {
		name   string
		fill   func(*metrics.Series)
		nonEmp int // expected non-empty buckets; -1 = don't check
	}{
		{"empty", func(*metrics.Series) {}, 0},
		{"one value", func(s *metrics.Series) { s.Record(42) }, 1},
		{"zeros", func(s *metrics.Series) { s.Record(0); s.Record(0); s.Record(5) }, -1},
		{"bimodal", bimodal, 2},
		{"spread", func(s *metrics.Series) {
			for v := int64(1); v < 1_000_000; v = v*3 + 1 {
				s.Record(v)
			}
		}, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := metrics.NewRegistry()
			s := newSeries(t, r, "x", metrics.SeriesOpts{})
			tc.fill(s)
			live := seriesOf(t, r.Snapshot(metrics.StateLive, 0, 1), "x")
			final := seriesOf(t, r.Snapshot(metrics.StateComplete, 0, 2), "x")
			for _, m := range []*metrics.Metric{live, final} {
				if got := histSum(m); got != s.Count() {
					t.Errorf("histogram sums to %d, want %d", got, s.Count())
				}
			}
			var liveNE, finalNE []int
			for i := range final.Histogram {
				if live.Histogram[i].Count > 0 {
					liveNE = append(liveNE, i)
				}
				if final.Histogram[i].Count > 0 {
					finalNE = append(finalNE, i)
				}
			}
			if tc.nonEmp >= 0 {
				if len(finalNE) != tc.nonEmp {
					t.Errorf("final non-empty buckets %v, want %d of them", finalNE, tc.nonEmp)
				}
				if !cmp.Equal(liveNE, finalNE) {
					t.Errorf("live non-empty buckets %v != final %v", liveNE, finalNE)
				}
			}
		})
	}
}

func TestSeries_HistogramEdgesFollowData(t *testing.T) {
	r := metrics.NewRegistry()
	s := newSeries(t, r, "x", metrics.SeriesOpts{Buckets: 5})
	for _, v := range []int64{100, 200, 300, 5000} {
		s.Record(v)
	}
	m := seriesOf(t, r.Snapshot(metrics.StateComplete, 0, 1), "x")
	if len(m.Histogram) != 5 {
		t.Fatalf("%d buckets, want 5", len(m.Histogram))
	}
	if lo, hi := m.Histogram[0].Lo, m.Histogram[4].Hi; lo != 100 || hi != 5000 {
		t.Errorf("edges [%v, %v], want [100, 5000]", lo, hi)
	}
	if m.Histogram[4].Count != 1 {
		t.Errorf("max value not in the closed last bucket: %v", m.Histogram)
	}
}

func TestSeries_FloatAndBigSums(t *testing.T) {
	r := metrics.NewRegistry()
	f := newSeries(t, r, "tpot", metrics.SeriesOpts{Float: true})
	for _, v := range []float64{1.5, 2.5, 3.5} {
		f.RecordFloat(v)
	}
	big1 := newSeries(t, r, "big", metrics.SeriesOpts{})
	const v = int64(5_000_000_000_000) // 5e12: v² overflows int64 and uint64
	big1.Record(v)
	big1.Record(v)
	snap := r.Snapshot(metrics.StateComplete, 0, 1)
	if m := seriesOf(t, snap, "tpot"); m.Count != 3 || m.Total.Float64() != 7.5 || !m.Total.IsFloat() {
		t.Errorf("float series count %d total %v", m.Count, m.Total)
	}
	m := seriesOf(t, snap, "big")
	want := new(big.Int).Mul(big.NewInt(v), big.NewInt(v))
	want.Lsh(want, 1)
	if m.SumSq.Big().Cmp(want) != 0 {
		t.Errorf("sum_sq %v, want %v", m.SumSq, want)
	}
	// The JSON form keeps it exact; msgpack falls back to a float.
	parsed, err := metrics.ParseJSON(snap.AppendJSON(nil))
	if err != nil {
		t.Fatal(err)
	}
	if pm, _ := parsed.Find("big"); pm.SumSq.Big().Cmp(want) != 0 {
		t.Errorf("JSON sum_sq %v, want %v", pm.SumSq, want)
	}
}

func TestRegistry_Errors(t *testing.T) {
	r := metrics.NewRegistry()
	if _, err := r.NewCounter("a", false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.NewSeries("s", metrics.SeriesOpts{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "s"} {
		if _, err := r.NewCounter(name, false); !errors.Is(err, metrics.ErrDuplicate) {
			t.Errorf("counter %q: err %v, want ErrDuplicate", name, err)
		}
		if _, err := r.NewSeries(name, metrics.SeriesOpts{}); !errors.Is(err, metrics.ErrDuplicate) {
			t.Errorf("series %q: err %v, want ErrDuplicate", name, err)
		}
	}
	tests := []struct {
		opts    metrics.SeriesOpts
		wantErr string
	}{
		{metrics.SeriesOpts{Low: 6, High: 10}, "high (10) must be >= 2 * low (6)"},
		{metrics.SeriesOpts{Low: 5, High: 10}, ""},
		{metrics.SeriesOpts{Low: 0, High: 2}, ""}, // low 0 → 1
		{metrics.SeriesOpts{SigFigs: 6}, "significant figures"},
		{metrics.SeriesOpts{Percentiles: []float64{99, 90}}, "must contain 50"},
		{metrics.SeriesOpts{SigFigs: 1}, ""},
		{metrics.SeriesOpts{SigFigs: 5, High: 1_000_000}, ""},
	}
	for i, tc := range tests {
		_, err := metrics.NewRegistry().NewSeries("x", tc.opts)
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("case %d: err %v, want %q", i, err, tc.wantErr)
		}
	}
}

func TestSeries_ClampWarnsOncePerSampler(t *testing.T) {
	var logs bytes.Buffer
	r := metrics.NewRegistry()
	r.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	a := newSeries(t, r, "a", metrics.SeriesOpts{Low: 10, High: 100})
	b := newSeries(t, r, "b", metrics.SeriesOpts{Low: 10, High: 100})
	a.Record(10)
	a.Record(100)
	if a.Clamped() {
		t.Fatal("values at the bounds were clamped")
	}
	a.Record(5)
	a.Record(1000)
	a.RecordFloat(9.5)
	b.Record(1)
	if n := strings.Count(logs.String(), "clamped"); n != 2 {
		t.Errorf("%d warnings, want one per sampler (2):\n%s", n, logs.String())
	}
	m := seriesOf(t, r.Snapshot(metrics.StateComplete, 0, 1), "a")
	if m.Min.String() != "5" || m.Max.String() != "1000" || m.Count != 5 {
		t.Errorf("rollups lost raw values: min %v max %v count %d", m.Min, m.Max, m.Count)
	}
	if histSum(m) != 5 {
		t.Errorf("histogram sum %d", histSum(m))
	}
}

func TestSnapshot_CountersAndEmitCounter(t *testing.T) {
	r := metrics.NewRegistry()
	c, _ := r.NewCounter("n", false)
	f, _ := r.NewCounter("f", true)
	c.Add(2)
	c.Add(3)
	f.AddFloat(0.5)
	s1 := r.Snapshot(metrics.StateLive, 0, 1)
	c.Set(2)
	s2 := r.Snapshot(metrics.StateComplete, 2, 2)
	if s1.Counter != 1 || s2.Counter != 2 {
		t.Errorf("emit counters %d, %d", s1.Counter, s2.Counter)
	}
	if s1.CounterInt("n") != 5 || s2.CounterInt("n") != 2 {
		t.Errorf("counter values %d, %d", s1.CounterInt("n"), s2.CounterInt("n"))
	}
	if s2.State != metrics.StateComplete || s2.NPendingTasks != 2 || s2.Complete() {
		t.Errorf("state %s pending %d complete %v", s2.State, s2.NPendingTasks, s2.Complete())
	}
}

func TestSnapshot_CompletePredicate(t *testing.T) {
	tests := []struct {
		state   metrics.State
		pending int64
		want    bool
	}{
		{metrics.StateLive, 0, false}, {metrics.StateLive, 3, false}, {metrics.StateDraining, 5, false},
		{metrics.StateComplete, 0, true}, {metrics.StateComplete, 1, false}, {metrics.StateInitialize, 0, false},
		{metrics.StateInterrupted, 0, false}, {metrics.StateInterrupted, 7, false},
	}
	for _, tc := range tests {
		s := metrics.Snapshot{State: tc.state, NPendingTasks: tc.pending}
		if s.Complete() != tc.want {
			t.Errorf("(%s, %d) complete = %v", tc.state, tc.pending, !tc.want)
		}
	}
}

func sampleRegistry(t testing.TB) *metrics.Registry {
	r := metrics.NewRegistry()
	c, _ := r.NewCounter("total_samples_issued", false)
	c.Add(7)
	fc, _ := r.NewCounter("ratio", true)
	fc.AddFloat(1.25)
	s := newSeries(t, r, "ttft_ns", metrics.SeriesOpts{})
	for v := int64(1); v <= 1000; v += 7 {
		s.Record(v * 1000)
	}
	newSeries(t, r, "empty", metrics.SeriesOpts{})
	tp := newSeries(t, r, "tpot_ns", metrics.SeriesOpts{Float: true})
	tp.RecordFloat(1.5e6)
	return r
}

var numCmp = cmp.Comparer(func(a, b metrics.Num) bool {
	return a.IsFloat() == b.IsFloat() && a.String() == b.String()
})

func TestSnapshot_WireRoundTrip(t *testing.T) {
	for _, state := range []metrics.State{metrics.StateInitialize, metrics.StateLive, metrics.StateComplete, metrics.StateInterrupted} {
		snap := sampleRegistry(t).Snapshot(state, 3, 12345)
		topic, payload, err := metrics.SnapshotCodec{}.Encode(nil, &snap)
		if err != nil || topic != "MET" {
			t.Fatalf("encode: %q %v", topic, err)
		}
		got, err := metrics.SnapshotCodec{}.Decode(payload)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(snap, got, numCmp, cmpopts.EquateEmpty(), cmpopts.EquateNaNs()); d != "" {
			t.Errorf("%s round trip (-want +got):\n%s", state, d)
		}
	}
	if _, keep := (metrics.SnapshotCodec{}).OnDecodeError([]byte{0xff, 0}, errors.New("x")); keep {
		t.Error("malformed snapshot not dropped")
	}
	if _, err := metrics.DecodeSnapshot([]byte{0xff, 0x00}); !errors.Is(err, metrics.ErrSnapshot) {
		t.Errorf("malformed: %v", err)
	}
}

func TestSnapshot_JSONRoundTrip(t *testing.T) {
	snap := sampleRegistry(t).Snapshot(metrics.StateComplete, 0, 99)
	data, err := snap.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	got, err := metrics.ParseJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(&snap, got, numCmp, cmpopts.EquateEmpty(), cmpopts.EquateNaNs()); d != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", d)
	}
}

func TestSnapshot_JSONNullsAndPartial(t *testing.T) {
	snap := metrics.Snapshot{State: metrics.StateLive, Metrics: []metrics.Metric{
		{Kind: metrics.KindCounter, Name: "c", Value: metrics.Float(math.NaN())},
		{Kind: metrics.KindSeries, Name: "s", Count: 1, Total: metrics.Float(math.Inf(1)),
			Min: metrics.Int(1), Max: metrics.Int(1), SumSq: metrics.Int(1),
			Percentiles: []metrics.Percentile{{Key: "50.0", Value: math.NaN()}}},
	}}
	data := snap.AppendJSON(nil)
	if strings.Contains(string(data), "NaN") || strings.Contains(string(data), "Inf") || strings.Count(string(data), "null") != 3 {
		t.Errorf("non-finite floats not written as null: %s", data)
	}
	tests := []struct {
		in      string
		wantErr bool
		state   metrics.State
		n       int
	}{
		{`{}`, false, metrics.StateInterrupted, 0},
		{`{"state":"complete","metrics":[{"type":"counter"},{"name":"x"},{"type":"counter","name":"ok","value":3},7]}`, false, metrics.StateComplete, 1},
		{`[1,2]`, true, "", 0},
		{`not json`, true, "", 0},
	}
	for _, tc := range tests {
		got, err := metrics.ParseJSON([]byte(tc.in))
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err %v", tc.in, err)
			continue
		}
		if err == nil && (got.State != tc.state || len(got.Metrics) != tc.n) {
			t.Errorf("%s: state %s, %d metrics", tc.in, got.State, len(got.Metrics))
		}
	}
}

func TestPercentileKey(t *testing.T) {
	for p, want := range map[float64]string{99.9: "99.9", 99: "99.0", 50: "50.0", 1: "1.0", 0.5: "0.5"} {
		if got := metrics.PercentileKey(p); got != want {
			t.Errorf("PercentileKey(%v) = %q, want %q", p, got, want)
		}
	}
}

// TestSeries_ZeroOK records zeros in a series where 0 is ordinary: no
// clamp warning, and the live (HDR) percentiles see them as 0.
func TestSeries_ZeroOK(t *testing.T) {
	var logs bytes.Buffer
	r := metrics.NewRegistry()
	r.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s := newSeries(t, r, "q", metrics.SeriesOpts{ZeroOK: true})
	for range 3 {
		s.Record(0)
	}
	s.Record(1000)
	s.Record(-1) // below 0 still clamps
	if n := strings.Count(logs.String(), "clamped"); n != 1 {
		t.Errorf("%d warnings, want 1 (for -1 only):\n%s", n, logs.String())
	}
	m := seriesOf(t, r.Snapshot(metrics.StateLive, 0, 1), "q")
	if p50, ok := m.Percentile("50.0"); !ok || p50 != 0 {
		t.Errorf("live p50 %v, %v: want 0", p50, ok)
	}
}
