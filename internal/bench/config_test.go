package bench_test

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/bench"
	"github.com/inferbench/inferbench/internal/client"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/loadgen"
)

// TestDefaults_MatchConsumers holds config's copies of the defaults equal
// to the constants of the packages that use them (config imports none).
func TestDefaults_MatchConsumers(t *testing.T) {
	d := config.Default()
	wantClient := client.DefaultConfig()
	wantClient.Streaming = true // a benchmark streams unless told not to
	if got := bench.ClientConfig(d.Endpoint); !reflect.DeepEqual(got, wantClient) {
		t.Errorf("endpoint defaults\n%+v\nwant client's\n%+v", got, wantClient)
	}
	wantLoad := loadgen.Config{Mode: loadgen.ModeOffline, MaxInFlight: loadgen.DefaultMaxInFlight,
		Seed: loadgen.DefaultSeed, SampleSeed: loadgen.DefaultSeed, GracePeriod: loadgen.DefaultGracePeriod}
	if got := bench.LoadgenConfig(d.Load); !reflect.DeepEqual(got, wantLoad) {
		t.Errorf("load defaults %+v, want loadgen's %+v", got, wantLoad)
	}
	if d.Metrics.PublishInterval != aggregator.DefaultPublishInterval || d.Metrics.DrainTimeout != aggregator.DefaultDrainTimeout ||
		d.Metrics.TokenSource != aggregator.TokenSourceAuto {
		t.Errorf("metrics defaults %+v differ from the aggregator's", d.Metrics)
	}
}

// TestValidate_ConsumerRules checks that bench.Validate applies the rules
// of the packages config feeds, naming the key, on one line.
func TestValidate_ConsumerRules(t *testing.T) {
	base := func() config.Run {
		c := config.Default()
		c.Endpoint.Endpoint = "http://127.0.0.1:1"
		c.Dataset.Synthetic = &config.Synthetic{N: 3, Input: "8", Output: "8"}
		return c
	}
	if c := base(); bench.Validate(&c) != nil {
		t.Fatalf("base config invalid: %v", bench.Validate(&c))
	}
	tests := []struct {
		name string
		edit func(*config.Run)
		want string
	}{
		{"client rule", func(c *config.Run) { c.Endpoint.API = "bogus" }, "endpoint: client: api"},
		{"loadgen rule", func(c *config.Run) { c.Load.Mode = "poisson" }, "load: target_qps"},
		{"synthetic input", func(c *config.Run) { c.Dataset.Synthetic.Input = "uniform:9" }, "dataset.synthetic.input"},
		{"synthetic output", func(c *config.Run) { c.Dataset.Synthetic.Output = "" }, "dataset.synthetic.output"},
		{"config's own", func(c *config.Run) { c.UI = "web" }, "ui"},
		{"no dataset", func(c *config.Run) { c.Dataset.Synthetic = nil }, "dataset"},
	}
	for _, tc := range tests {
		c := base()
		tc.edit(&c)
		err := bench.Validate(&c)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err %v, want one line starting %q", tc.name, err, tc.want)
		}
	}
}

// TestVerdictSpec_ShapedRate checks that the load-delivered check compares
// a ramped or staged run with its mean expected rate, not the peak.
func TestVerdictSpec_ShapedRate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*config.Loadgen)
		want float64
	}{
		{"plain rate", func(l *config.Loadgen) { l.Duration = 10 * time.Second }, 100},
		// Λ(10 s) = 100·4/2 + 100·6 = 800 over 10 s.
		{"ramp with duration", func(l *config.Loadgen) { l.RampUp, l.Duration = 4*time.Second, 10*time.Second }, 80},
		// 800 samples take 10 s with that ramp.
		{"ramp with num_samples", func(l *config.Loadgen) { l.RampUp, l.NumSamples = 4*time.Second, 800 }, 80},
		{"ramp over a dataset pass", func(l *config.Loadgen) { l.RampUp = 4 * time.Second }, 0},
		// (10·10 + 40·10) / 20 s; the duration beyond the stages does not count.
		{"stages", func(l *config.Loadgen) { l.Stages, l.Duration = "10:10s,40:10s", time.Minute }, 25},
	}
	for _, tc := range tests {
		cfg := config.Default()
		cfg.Load.Mode, cfg.Load.TargetQPS = string(loadgen.ModePoisson), 100
		tc.mod(&cfg.Load)
		spec, err := bench.VerdictSpec(&cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := spec.Load.TargetQPS; math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: load check target %v req/s, want %v", tc.name, got, tc.want)
		}
	}
}
