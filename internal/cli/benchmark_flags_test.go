package cli

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/loadgen"
)

// overrideYAML sets many keys, so that each case can check that a flag
// replaces its key and leaves the others as the file says.
const overrideYAML = `
endpoint:
  endpoint: http://file.example:8000
  model: file-model
  api: completions
  streaming: false
  max_tokens: 300
  max_connections: 64
  temperature: 0.5
  extra_body: {top_p: 0.9, ignore_eos: false}
  headers: {X-File: from-file, X-Both: file}
  total_timeout: 90s
dataset:
  synthetic: {n: 40, input: "uniform:10:20", output: "30", seed: 9}
load:
  mode: constant
  target_qps: 7
  num_samples: 25
  duration: 1m
  warmup_samples: 3
  seed: 11
  sample_seed: 11
  grace_period: 5s
metrics:
  publish_interval: 100ms
  drain_timeout: 2s
  token_source: usage
report_dir: /tmp/from-file
ui: tui
`

// fileConfig is what overrideYAML resolves to without flags.
func fileConfig(t *testing.T) config.Run {
	t.Helper()
	c := config.Default()
	c.Endpoint.Endpoint, c.Endpoint.Model, c.Endpoint.API = "http://file.example:8000", "file-model", "completions"
	c.Endpoint.Streaming, c.Endpoint.MaxTokens, c.Endpoint.MaxConnections = false, 300, 64
	temp := 0.5
	c.Endpoint.Temperature = &temp
	c.Endpoint.ExtraBody = map[string]any{"top_p": 0.9, "ignore_eos": false}
	c.Endpoint.Headers = map[string]string{"X-File": "from-file", "X-Both": "file"}
	c.Endpoint.TotalTimeout = 90 * time.Second
	c.Dataset.Synthetic = &config.Synthetic{N: 40, Input: "uniform:10:20", Output: "30", Seed: 9}
	c.Load.Mode, c.Load.TargetQPS, c.Load.NumSamples, c.Load.Duration = string(loadgen.ModeConstant), 7, 25, time.Minute
	c.Load.WarmupSamples, c.Load.Seed, c.Load.SampleSeed, c.Load.GracePeriod = 3, 11, 11, 5*time.Second
	c.Load.MaxTokens = 300 // from endpoint.max_tokens
	c.Metrics.PublishInterval, c.Metrics.DrainTimeout, c.Metrics.TokenSource = 100*time.Millisecond, 2*time.Second, "usage"
	c.ReportDir, c.UI = "/tmp/from-file", "tui"
	return c
}

// resolve parses args with the real `benchmark <sub>` command and resolves
// the configuration as the command does.
func resolve(t *testing.T, sub string, args ...string) (config.Run, error) {
	t.Helper()
	a := &app{stdout: &strings.Builder{}, stderr: &strings.Builder{}}
	bench := a.benchmarkCmd()
	cmd, _, err := bench.Find([]string{sub})
	if err != nil || cmd == bench {
		t.Fatalf("no benchmark %s: %v", sub, err)
	}
	if err := cmd.ParseFlags(args); err != nil {
		return config.Run{}, err
	}
	file, _ := cmd.Flags().GetString("config")
	modes := map[string]loadgen.Mode{"offline": loadgen.ModeOffline, "online": loadgen.ModePoisson, "concurrency": loadgen.ModeConcurrency}
	return resolveBenchConfig(cmd.Flags(), file, modes[sub])
}

// TestBenchmarkFlags_OverrideConfig gives a config file and flags: the
// resolved configuration has each given flag's value, and the file's value
// everywhere else; repeatable --header and --extra-body add to the file's.
func TestBenchmarkFlags_OverrideConfig(t *testing.T) {
	file := filepath.Join(t.TempDir(), "run.yaml")
	if err := os.WriteFile(file, []byte(overrideYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sub  string
		args []string
		want func(c *config.Run) // edits fileConfig into the expectation
	}{
		{"no flags", "online", nil, func(c *config.Run) {}},
		{"endpoint and model", "online", []string{"--endpoint", "http://flag.example:1", "--model", "flag-model"}, func(c *config.Run) {
			c.Endpoint.Endpoint, c.Endpoint.Model = "http://flag.example:1", "flag-model"
		}},
		{"api", "online", []string{"--api", "chat"}, func(c *config.Run) { c.Endpoint.API = "chat" }},
		{"max-tokens sets both caps", "online", []string{"--max-tokens", "77"}, func(c *config.Run) {
			c.Endpoint.MaxTokens, c.Load.MaxTokens = 77, 77
		}},
		{"max-connections", "online", []string{"--max-connections", "8"}, func(c *config.Run) { c.Endpoint.MaxConnections = 8 }},
		{"temperature", "online", []string{"--temperature", "0"}, func(c *config.Run) {
			zero := 0.0
			c.Endpoint.Temperature = &zero
		}},
		{"extra-body merges", "online", []string{"--extra-body", `{"ignore_eos": true, "seed": 1}`}, func(c *config.Run) {
			c.Endpoint.ExtraBody = map[string]any{"top_p": 0.9, "ignore_eos": true, "seed": float64(1)}
		}},
		{"header repeats merge", "online", []string{"--header", "X-Both: flag", "--header", "X-New:1", "--header", "X-New:2"}, func(c *config.Run) {
			c.Endpoint.Headers = map[string]string{"X-File": "from-file", "X-Both": "flag", "X-New": "2"}
		}},
		{"timeout", "online", []string{"--timeout", "3s"}, func(c *config.Run) { c.Endpoint.TotalTimeout = 3 * time.Second }},
		{"connect and read timeouts", "online", []string{"--connect-timeout", "2s", "--read-timeout", "7s"}, func(c *config.Run) {
			c.Endpoint.ConnectTimeout, c.Endpoint.ReadTimeout = 2*time.Second, 7*time.Second
		}},
		{"retry-closed-conn off", "online", []string{"--retry-closed-conn", "off"}, func(c *config.Run) { c.Endpoint.RetryClosedConn = false }},
		{"streaming on", "online", []string{"--streaming", "on"}, func(c *config.Run) { c.Endpoint.Streaming = true }},
		{"dataset drops synthetic", "online", []string{"--dataset", "p.jsonl", "--prompt-column", "q"}, func(c *config.Run) {
			c.Dataset.Path, c.Dataset.Synthetic, c.Dataset.Options.PromptColumn = "p.jsonl", nil, "q"
		}},
		{"synthetic N keeps file lengths", "online", []string{"--synthetic", "5"}, func(c *config.Run) { c.Dataset.Synthetic.N = 5 }},
		{"input-len keeps file N", "online", []string{"--input-len", "normal:64:8"}, func(c *config.Run) {
			c.Dataset.Synthetic.Input = "normal:64:8"
		}},
		{"output-len", "online", []string{"--output-len", "uniform:1:9"}, func(c *config.Run) {
			c.Dataset.Synthetic.Output = "uniform:1:9"
		}},
		{"shared prefix", "online", []string{"--shared-prefix-len", "4", "--num-prefixes", "3"}, func(c *config.Run) {
			c.Dataset.Synthetic.SharedPrefixLen, c.Dataset.Synthetic.NumPrefixes = 4, 3
		}},
		{"target-qps keeps file's constant arrival", "online", []string{"--target-qps", "2.5"}, func(c *config.Run) { c.Load.TargetQPS = 2.5 }},
		{"arrival", "online", []string{"--arrival", "poisson"}, func(c *config.Run) { c.Load.Mode = string(loadgen.ModePoisson) }},
		{"subcommand sets the mode", "concurrency", []string{"--concurrency", "4"}, func(c *config.Run) {
			c.Load.Mode, c.Load.Concurrency = string(loadgen.ModeConcurrency), 4
		}},
		{"offline", "offline", []string{"--max-in-flight", "9"}, func(c *config.Run) {
			c.Load.Mode, c.Load.MaxInFlight = string(loadgen.ModeOffline), 9
		}},
		{"counts and durations", "online", []string{"--num-samples", "6", "--duration", "0s", "--min-duration", "2s", "--warmup", "0"}, func(c *config.Run) {
			c.Load.NumSamples, c.Load.Duration, c.Load.MinDuration, c.Load.WarmupSamples = 6, 0, 2*time.Second, 0
		}},
		{"arrival shaping", "online", []string{"--arrival", "poisson", "--burstiness", "0.5", "--ramp-up", "30s"}, func(c *config.Run) {
			c.Load.Mode, c.Load.Burstiness, c.Load.RampUp = string(loadgen.ModePoisson), 0.5, 30*time.Second
		}},
		{"stages", "online", []string{"--stages", "10:30s,20:1m"}, func(c *config.Run) { c.Load.Stages = "10:30s,20:1m" }},
		{"max concurrency", "online", []string{"--target-qps", "5", "--max-concurrency", "8"}, func(c *config.Run) { c.Load.TargetQPS, c.Load.MaxConcurrency = 5, 8 }},
		{"seed sets both seeds", "online", []string{"--seed", "99"}, func(c *config.Run) { c.Load.Seed, c.Load.SampleSeed = 99, 99 }},
		{"grace-period", "online", []string{"--grace-period", "1s"}, func(c *config.Run) { c.Load.GracePeriod = time.Second }},
		{"report-dir", "online", []string{"--report-dir", "/tmp/flag"}, func(c *config.Run) { c.ReportDir = "/tmp/flag" }},
		{"metrics flags", "online", []string{"--publish-interval", "1s", "--drain-timeout", "0s", "--metrics-addr", "tcp://127.0.0.1:1",
			"--tokenizer", "tok.json", "--token-source", "tokenizer", "--prometheus-addr", "127.0.0.1:2", "--prometheus-linger", "30s"}, func(c *config.Run) {
			c.Metrics.PublishInterval, c.Metrics.DrainTimeout, c.Metrics.Addr = time.Second, 0, "tcp://127.0.0.1:1"
			c.Metrics.Tokenizer, c.Metrics.TokenSource, c.Metrics.PrometheusAddr = "tok.json", "tokenizer", "127.0.0.1:2"
			c.Metrics.PrometheusLinger = 30 * time.Second
		}},
		{"no-tui", "online", []string{"--no-tui"}, func(c *config.Run) { c.UI = "plain" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := resolve(t, tc.sub, append([]string{"--config", file}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			want := fileConfig(t)
			tc.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("resolved\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// TestBenchmarkFlags_NoConfig checks that without --config the flags apply
// over the defaults, and that a synthetic flag alone brings the default
// lengths.
func TestBenchmarkFlags_NoConfig(t *testing.T) {
	got, err := resolve(t, "offline", "--endpoint", "http://127.0.0.1:1", "--synthetic", "3", "--header", "A:b")
	if err != nil {
		t.Fatal(err)
	}
	want := config.Default()
	want.Endpoint.Endpoint = "http://127.0.0.1:1"
	want.Endpoint.Headers = map[string]string{"A": "b"}
	want.Load.MaxTokens = want.Endpoint.MaxTokens
	want.Dataset.Synthetic = &config.Synthetic{N: 3, Input: defaultSyntheticLen, Output: defaultSyntheticLen, Seed: loadgen.DefaultSeed}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resolved\n%+v\nwant\n%+v", got, want)
	}
}

// TestBenchmarkFlags_Errors checks that a bad flag value is a one-line
// usage error naming the flag.
func TestBenchmarkFlags_Errors(t *testing.T) {
	for _, args := range [][]string{
		{"--streaming", "maybe"}, {"--extra-body", "[1]"}, {"--header", ":x"}, {"--temperature", "hot"},
		{"--input-len", "uniform:5"}, {"--output-len", "x"}, {"--arrival", "burst"}, {"--synthetic", "many"},
		{"--seed", "-1"}, {"--max-tokens", "lots"}, {"--no-tui=maybe"},
	} {
		_, err := resolve(t, "online", args...)
		if err == nil || !strings.Contains(err.Error(), strings.SplitN(args[0], "=", 2)[0]) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: err %v, want one line naming the flag", args, err)
		}
	}
}
