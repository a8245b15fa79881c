package bench

import (
	"fmt"
	"time"

	"github.com/inferbench/inferbench/internal/loadgen"
)

// MaxScheduleSpan bounds how long an open-loop schedule without --duration
// may take to issue its samples at the target rate: beyond it the run would
// look hung for days. A longer run says so with --duration.
const MaxScheduleSpan = 24 * time.Hour

// CheckSchedule rejects a target rate that could never issue within the run:
// with a time limit (duration, or min_duration without num_samples), the
// run must expect at least one arrival in it (target_qps × limit ≥ 1; below
// that a Poisson run most likely ends with nothing issued); without one,
// issuing the samples (num_samples, or one pass over datasetLen) at that
// rate must fit in [MaxScheduleSpan]. Other modes pass.
func CheckSchedule(load loadgen.Config, datasetLen int) error {
	if load.Mode != loadgen.ModePoisson && load.Mode != loadgen.ModeConstant {
		return nil
	}
	if load.RampUp > 0 || len(load.Stages) > 0 {
		return checkShaped(load, datasetLen)
	}
	qps := load.TargetQPS
	if !(qps > 0) {
		return nil // loadgen.Config.Validate names this one
	}
	// The run's time limit: --duration, or --min-duration alone (with no
	// sample count the run issues until then).
	limit, flag := load.Duration, "duration"
	if limit == 0 && load.NumSamples == 0 && load.MinDuration > 0 {
		limit, flag = load.MinDuration, "min-duration"
	}
	if limit > 0 {
		if qps*limit.Seconds() < 1 {
			return fmt.Errorf("load.target_qps %g: at that rate the first request is expected after %s, beyond the %s %v: raise --target-qps to at least %.3g or lengthen --%s",
				qps, fmtSpan(1/qps), flag, limit, 1/limit.Seconds(), flag)
		}
		return nil
	}
	n := load.NumSamples
	if n == 0 {
		n = datasetLen
	}
	if span := float64(n) / qps; span > MaxScheduleSpan.Seconds() {
		return fmt.Errorf("load.target_qps %g: issuing %d samples at that rate takes %s, longer than %v: raise --target-qps, lower --num-samples, or bound the run with --duration",
			qps, n, fmtSpan(span), MaxScheduleSpan)
	}
	return nil
}

// checkShaped is CheckSchedule for a ramped or staged rate, from the
// schedule's cumulative rate.
func checkShaped(load loadgen.Config, datasetLen int) error {
	what := fmt.Sprintf("load.target_qps %g with ramp_up %v", load.TargetQPS, load.RampUp)
	if len(load.Stages) > 0 {
		what = "load.stages"
	}
	limit, flag := load.Duration, "duration"
	if limit == 0 && load.NumSamples == 0 && load.MinDuration > 0 {
		limit, flag = load.MinDuration, "min-duration"
	}
	if limit > 0 {
		if e := loadgen.ExpectedArrivals(load, limit); e < 1 {
			return fmt.Errorf("%s: %.2g requests expected within the %s %v, less than one: raise the rate, shorten --ramp-up or lengthen --%s",
				what, e, flag, limit, flag)
		}
		return nil
	}
	n := load.NumSamples
	if n == 0 {
		n = datasetLen
	}
	if span, ok := loadgen.ExpectedSpan(load, n); ok && span > MaxScheduleSpan.Seconds() {
		return fmt.Errorf("%s: issuing %d samples takes %s, longer than %v: raise --target-qps, shorten --ramp-up, or bound the run with --duration",
			what, n, fmtSpan(span), MaxScheduleSpan)
	}
	return nil
}

// fmtSpan renders a span in seconds readably, however large.
func fmtSpan(sec float64) string {
	if sec >= float64(1<<62)/1e9 {
		return fmt.Sprintf("%.3g years", sec/(365.25*24*3600))
	}
	d := time.Duration(sec * float64(time.Second))
	if d > time.Minute {
		return d.Round(time.Second).String()
	}
	return d.Round(time.Millisecond).String()
}
