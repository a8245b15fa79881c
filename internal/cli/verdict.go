package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/metrics"
	"github.com/inferbench/inferbench/internal/report"
	"github.com/inferbench/inferbench/internal/verdict"
)

// verdictError marks a run that completed but failed its verdict (an SLO,
// or an undelivered load with --strict-load): exit code 3.
type verdictError struct{ msg string }

func (e verdictError) Error() string { return e.msg }

// exitCodesHelp documents the exit codes in --help.
const exitCodesHelp = `Exit codes: 0 the run completed and met every --slo; 1 the run failed (interrupted, every
request failed, or it could not run); 2 bad usage or input (flags, config, dataset);
3 the run completed but an --slo failed, or --strict-load and the load was not delivered.`

// verdictFlags defines the flags of the run's verdict (bound to c).
func verdictFlags(fs *pflag.FlagSet, c *config.Run) {
	fs.Var(&sloValue{p: &c.SLO}, "slo", "threshold on the final snapshot, METRIC:STAT OP VALUE or RATE OP VALUE, e.g. ttft:p99<=200ms, error_rate<=1%, qps>=20 (repeatable; adds to the file's slo list; a failure exits 3)")
	fs.Var(funcValue{kind: "rule",
		set: func(s string) error {
			if _, err := verdict.ParseGoodput(s); err != nil {
				return err
			}
			c.Goodput = s
			return nil
		},
		get: func() string { return c.Goodput },
	}, metrics.GoodputName, "count good requests: succeeded and within every bound, e.g. ttft<=200ms,tpot<=50ms,latency<=5s")
	fs.DurationVar(&c.MaxLateness, "max-lateness", c.MaxLateness, "load-delivered check: scheduler lateness p99 at most this")
	fs.BoolVar(&c.StrictLoad, "strict-load", c.StrictLoad, "exit 3 when the load was not delivered (issue rate below 95% of --target-qps, or lateness over --max-lateness)")
}

// sloValue is the repeatable --slo: each occurrence is parsed at once (so a
// bad expression is a one-line usage error naming the flag) and added.
type sloValue struct {
	p     *[]string
	given []string
}

func (v *sloValue) Set(s string) error {
	if _, err := verdict.ParseSLO(s); err != nil {
		return err
	}
	*v.p = append(*v.p, s)
	v.given = append(v.given, s)
	return nil
}

// String is "" when none was given, so that --help shows no default.
func (v *sloValue) String() string {
	if len(v.given) == 0 {
		return ""
	}
	return "[" + strings.Join(v.given, ",") + "]"
}

func (v *sloValue) Type() string { return "EXPR" }

// GetSlice, Append and Replace make sloValue a pflag.SliceValue, so that
// replayFlags replays every occurrence.
func (v *sloValue) GetSlice() []string    { return append([]string(nil), v.given...) }
func (v *sloValue) Append(s string) error { return v.Set(s) }
func (v *sloValue) Replace(ss []string) error {
	*v.p, v.given = nil, nil
	for _, s := range ss {
		if err := v.Set(s); err != nil {
			return err
		}
	}
	return nil
}

// verdictOutcome turns a finished run's verdict into exit code 3 (nil when
// it passed or there was none).
func verdictOutcome(r *report.Report) error {
	v := r.Verdict
	if v == nil || v.Pass {
		return nil
	}
	var failed []string
	for _, c := range v.Checks {
		if !c.Pass {
			failed = append(failed, c.Expr)
		}
	}
	var parts []string
	if len(failed) > 0 {
		parts = append(parts, fmt.Sprintf("SLO failed: %s", strings.Join(failed, ", ")))
	}
	if l := v.Load; l != nil && !l.Delivered && l.Strict {
		parts = append(parts, report.LoadNotDelivered+" (--strict-load)")
	}
	if len(parts) == 0 {
		return errors.New("verdict failed")
	}
	return verdictError{strings.Join(parts, "; ")}
}
