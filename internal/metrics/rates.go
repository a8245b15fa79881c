package metrics

import "math"

// Rates holds what the run's throughput figures are computed from, read from
// one snapshot. QPS and TPS are defined here once, as the Python tool
// defines them:
//
//	QPS = (tracked_samples_completed − tracked_samples_failed) / tracked_duration
//	TPS = Σ osl / tracked_duration
//
// with tracked_duration in seconds. The report, the dashboard, the
// Prometheus exporter and the progress line all use them.
type Rates struct {
	TrackedNS    int64   // tracked_duration_ns
	Succeeded    int64   // tracked successful completions
	OutputTokens float64 // the osl series' total
	OutputCount  int64   // the osl series' count: TPS exists only when > 0
}

// RatesOf reads the rate inputs of s; missing metrics count as zero.
func RatesOf(s *Snapshot) Rates {
	r := Rates{
		TrackedNS: s.CounterInt(TrackedDuration),
		Succeeded: s.CounterInt(TrackedCompleted) - s.CounterInt(TrackedFailed),
	}
	if m, ok := s.Find(SeriesOSL); ok && m.Kind == KindSeries {
		r.OutputTokens, r.OutputCount = m.Total.Float64(), m.Count
	}
	return r
}

// QPS returns tracked successful completions per second of tracked duration;
// ok is false (and the value 0) while there is no tracked duration.
func (r Rates) QPS() (qps float64, ok bool) {
	if r.TrackedNS <= 0 {
		return 0, false
	}
	return float64(r.Succeeded) / (float64(r.TrackedNS) / 1e9), true
}

// TPS returns output tokens per second of tracked duration; ok is false (and
// the value 0) while there is no tracked duration or no osl value.
func (r Rates) TPS() (tps float64, ok bool) {
	if r.TrackedNS <= 0 || r.OutputCount <= 0 {
		return 0, false
	}
	return r.OutputTokens / (float64(r.TrackedNS) / 1e9), true
}

// Sub returns the inputs of the interval from prev to r, whose QPS and TPS
// are the rates over that interval (the dashboard's sparklines).
func (r Rates) Sub(prev Rates) Rates {
	return Rates{
		TrackedNS:    r.TrackedNS - prev.TrackedNS,
		Succeeded:    r.Succeeded - prev.Succeeded,
		OutputTokens: r.OutputTokens - prev.OutputTokens,
		OutputCount:  r.OutputCount - prev.OutputCount,
	}
}

// InFlight returns the requests issued and not completed in s, warmup
// included (never negative).
func InFlight(s *Snapshot) int64 {
	return max(s.CounterInt(TotalIssued)-s.CounterInt(TotalCompleted), 0)
}

// Goodput returns the goodput rates of s: good requests and their output
// tokens per second of tracked duration (tracked_samples_good and
// tracked_good_output_tokens over tracked_duration_ns). ok is false when the
// run had no goodput rule (no tracked_samples_good counter); the rates are
// NaN while there is no tracked duration.
func Goodput(s *Snapshot) (goodput, goodTPS float64, ok bool) {
	good, ok := s.Find(TrackedGood)
	if !ok {
		return 0, 0, false
	}
	secs := float64(s.CounterInt(TrackedDuration)) / 1e9
	if secs <= 0 {
		return math.NaN(), math.NaN(), true
	}
	return good.Value.Float64() / secs, float64(s.CounterInt(TrackedGoodTokens)) / secs, true
}
