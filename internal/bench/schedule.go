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
