package bench_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/report"
)

// TestReportRun_arrivalShape: the report header (result_summary.json's
// "run") names the arrival shape of the configuration: burstiness, ramp,
// stages and the cap on requests in flight.
func TestReportRun_arrivalShape(t *testing.T) {
	tests := []struct {
		name string
		edit func(*config.Run)
		want map[string]any
	}{
		{"gamma with a ramp", func(c *config.Run) {
			c.Load.Mode, c.Load.TargetQPS, c.Load.Burstiness, c.Load.RampUp = string(loadgen.ModePoisson), 20, 0.5, 30*time.Second
		}, map[string]any{"burstiness": 0.5, "ramp_up": "30s", "target_qps": 20.0}},
		{"stages, capped", func(c *config.Run) {
			c.Load.Mode, c.Load.Stages, c.Load.Burstiness, c.Load.MaxConcurrency = string(loadgen.ModePoisson), "10:30s,20:30s", 2, 4
		}, map[string]any{"burstiness": 2.0, "stages": "10:30s,20:30s", "max_concurrency": 4.0}},
		{"plain poisson", func(c *config.Run) {
			c.Load.Mode, c.Load.TargetQPS = string(loadgen.ModePoisson), 5
		}, map[string]any{"burstiness": nil, "ramp_up": nil, "stages": nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			tc.edit(&cfg)
			rep := &report.Report{Run: bench.ReportRun(&cfg)}
			data, err := rep.JSON()
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Run map[string]any `json:"run"`
			}
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got.Run[k] != v {
					t.Errorf("run.%s = %v, want %v (run %v)", k, got.Run[k], v, got.Run)
				}
			}
		})
	}
}
