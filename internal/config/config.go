// Package config holds the configuration of a benchmark run: what the YAML
// file (--config) and the command-line flags fill in, its defaults, its
// validation, and the resolved form written to the run directory.
//
// YAML is decoded strictly: an unknown key is an error naming it. Flags that
// were given override the file. Every flag has a key:
//
//	endpoint:        # the client: see client.Config
//	  endpoint: http://127.0.0.1:8000
//	  model: my-model
//	  api: chat            # chat | completions
//	  streaming: true
//	  max_tokens: 256
//	  max_connections: 2048
//	dataset:
//	  path: prompts.jsonl  # or synthetic:
//	  synthetic: {n: 1000, input: "128", output: "uniform:64:256"}
//	load:            # see loadgen.Config
//	  mode: poisson        # offline | poisson | constant | concurrency
//	  target_qps: 10
//	  num_samples: 1000
//	metrics:
//	  publish_interval: 250ms
//	  drain_timeout: 60s
//	  tokenizer: ./tokenizer.json
//	report_dir: reports/run1
package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/inferbench/inferbench/internal/aggregator"
	"github.com/inferbench/inferbench/internal/client"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/report"
)

// Run is the whole configuration of a benchmark run.
type Run struct {
	Endpoint  client.Config  `yaml:"endpoint"`
	Dataset   Dataset        `yaml:"dataset"`
	Load      loadgen.Config `yaml:"load"`
	Metrics   Metrics        `yaml:"metrics"`
	ReportDir string         `yaml:"report_dir"`
	// UI is "auto" (dashboard on a terminal, progress lines otherwise),
	// "tui" or "plain".
	UI string `yaml:"ui"`
}

// Dataset says where prompts come from: a file, or a synthetic generator.
type Dataset struct {
	Path    string          `yaml:"path"`
	Options dataset.Options `yaml:"options"`
	// Synthetic generates prompts instead (lengths are dataset.ParseDist
	// specs such as "128", "uniform:64:256", "normal:128:32").
	Synthetic *dataset.SyntheticConfig `yaml:"synthetic"`
}

// Metrics configures the aggregator and the snapshot stream.
type Metrics struct {
	PublishInterval time.Duration `yaml:"publish_interval"`
	DrainTimeout    time.Duration `yaml:"drain_timeout"`
	// Addr is where snapshots are published (ipc:// or tcp://); "" means
	// ipc://<report_dir>/metrics.sock.
	Addr string `yaml:"addr"`
	// Tokenizer is a tokenizer.json file or directory, or a model name; ""
	// means token counts come from the server's usage.
	Tokenizer string `yaml:"tokenizer"`
	// TokenSource is auto (the tokenizer when given, else usage), tokenizer
	// or usage. With a tokenizer and a server that reports usage, both OSLs
	// are recorded and compared.
	TokenSource string `yaml:"token_source"`
	// PrometheusAddr serves /metrics in the Prometheus text format ("" = off).
	PrometheusAddr string `yaml:"prometheus_addr"`
}

// Default returns the defaults of every field.
func Default() Run {
	ep := client.DefaultConfig()
	ep.Streaming = true
	return Run{
		Endpoint: ep,
		Load: loadgen.Config{
			Mode:        loadgen.ModeOffline,
			MaxInFlight: loadgen.DefaultMaxInFlight,
			Seed:        loadgen.DefaultSeed,
			SampleSeed:  loadgen.DefaultSeed,
			GracePeriod: loadgen.DefaultGracePeriod,
		},
		Metrics: Metrics{
			PublishInterval: aggregator.DefaultPublishInterval,
			DrainTimeout:    aggregator.DefaultDrainTimeout,
			TokenSource:     aggregator.TokenSourceAuto,
		},
		UI: "auto",
	}
}

// Load decodes a YAML file over the defaults; unknown keys are errors.
func Load(path string) (Run, error) {
	cfg := Default()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config %s: %w", path, OneLine(err))
	}
	return cfg, nil
}

// OneLine folds a multi-line error (yaml.v3 lists each problem on its own
// line) into one line, so that bad input gets a one-line message.
func OneLine(err error) error {
	return errors.New(strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), ":\n", ":")), " "))
}

// Validate checks the whole configuration; errors name the key.
func (r *Run) Validate() error {
	if r.Dataset.Path == "" && r.Dataset.Synthetic == nil {
		return errors.New("dataset: give a file (--dataset) or synthetic prompts (--synthetic)")
	}
	if r.Dataset.Path != "" && r.Dataset.Synthetic != nil {
		return errors.New("dataset: path and synthetic exclude each other")
	}
	return r.ValidateRun()
}

// ValidateRun checks everything but the dataset source, for callers that
// bring their own dataset.
func (r *Run) ValidateRun() error {
	if err := r.Endpoint.Validate(); err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	if err := r.Load.Validate(); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	switch r.Metrics.TokenSource {
	case "", "auto", "usage":
	case "tokenizer":
		if r.Metrics.Tokenizer == "" {
			return errors.New("metrics.token_source tokenizer: give a tokenizer (--tokenizer)")
		}
	default:
		return fmt.Errorf("metrics.token_source %q: want auto, tokenizer or usage", r.Metrics.TokenSource)
	}
	if r.Metrics.PublishInterval <= 0 {
		return fmt.Errorf("metrics.publish_interval %v: must be positive", r.Metrics.PublishInterval)
	}
	switch r.UI {
	case "auto", "tui", "plain":
	default:
		return fmt.Errorf("ui %q: want auto, tui or plain", r.UI)
	}
	return nil
}

// Marshal returns the resolved configuration as YAML (config.yaml of a run).
// Header values are redacted: they often carry credentials.
func (r *Run) Marshal() ([]byte, error) {
	c := *r
	if len(c.Endpoint.Headers) > 0 {
		h := make(map[string]string, len(c.Endpoint.Headers))
		for k := range c.Endpoint.Headers {
			h[k] = "<redacted>"
		}
		c.Endpoint.Headers = h
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&c); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return buf.Bytes(), enc.Close()
}

// Example is a commented configuration with every key (inferbench init).
//
//go:embed example.yaml
var Example []byte

// ReportRun summarizes the run for the report's header.
func (r *Run) ReportRun() *report.Run {
	run := &report.Run{
		Endpoint:  r.Endpoint.Endpoint,
		Model:     r.Endpoint.Model,
		API:       r.Endpoint.API,
		Streaming: r.Endpoint.Streaming,
		Mode:      string(r.Load.Mode),
		Dataset:   r.Dataset.Path,
	}
	switch r.Load.Mode {
	case loadgen.ModePoisson, loadgen.ModeConstant:
		run.TargetQPS = r.Load.TargetQPS
	case loadgen.ModeConcurrency:
		run.Concurrency = r.Load.Concurrency
	}
	if s := r.Dataset.Synthetic; s != nil {
		run.Dataset = fmt.Sprintf("synthetic (%d prompts, input %s, output %s tokens)", s.N, s.Input, s.Output)
	}
	return run
}
