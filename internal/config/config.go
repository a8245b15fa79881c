// Package config holds the configuration of a benchmark run: what the YAML
// file (--config) and the command-line flags fill in, its defaults, its
// validation, and the resolved form written to the run directory.
//
// It is plain data and imports no other package of inferbench: the packages
// that run a benchmark convert their part of it (bench does, into
// client.Config, loadgen.Config, dataset options and the aggregator's
// settings) and check it with their own rules (bench.Validate). The defaults
// here equal the consumers' exported defaults; a test in bench holds them
// equal.
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
//	  # shared prefixes: add shared_prefix_len: 64, num_prefixes: 4
//	  trace: {path: mooncake.jsonl, speedup: 2}  # with load.mode replay
//	load:            # see loadgen.Config
//	  mode: poisson        # offline | poisson | constant | concurrency | replay
//	  target_qps: 10
//	  burstiness: 0.5      # gamma shape of the gaps (poisson; 1 = Poisson)
//	  ramp_up: 30s         # or stages: "10:30s,20:30s,40:60s"
//	  max_concurrency: 64  # cap on requests in flight (online; 0 = none)
//	  num_samples: 1000
//	metrics:
//	  publish_interval: 250ms
//	  drain_timeout: 60s
//	  tokenizer: ./tokenizer.json
//	  server_metrics: [http://127.0.0.1:8000/metrics, http://127.0.0.1:9400/metrics]
//	report_dir: reports/run1
//	overwrite: false       # replace a finished run in report_dir
//	event_log: compact   # compact | full | off
//	slo: ["ttft:p99<=200ms", "error_rate<=1%"]
//	goodput: ttft<=200ms,tpot<=50ms
//	max_lateness: 1ms
//	strict_load: false
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
)

// Run is the whole configuration of a benchmark run.
type Run struct {
	Endpoint  Endpoint `yaml:"endpoint"`
	Dataset   Dataset  `yaml:"dataset"`
	Load      Loadgen  `yaml:"load"`
	Metrics   Metrics  `yaml:"metrics"`
	ReportDir string   `yaml:"report_dir"`
	// Overwrite lets a run replace a finished run in ReportDir (its files
	// are removed first); without it such a directory is refused. A
	// directory a running benchmark holds is refused either way.
	Overwrite bool `yaml:"overwrite,omitempty"`
	// EventLog is what the run logs besides its metrics: compact (the
	// per-request records requests.jsonl, the default), full (also every
	// chunk-level event, zstd-compressed, events.jsonl.zst) or off.
	EventLog string `yaml:"event_log"`
	// UI is "auto" (dashboard on a terminal, progress lines otherwise),
	// "tui" or "plain".
	UI string `yaml:"ui"`

	// SLO lists thresholds checked on the final snapshot, in the syntax of
	// verdict.ParseSLO (e.g. "ttft:p99<=200ms", "error_rate<=1%"); a failed
	// one makes the run exit with code 3.
	SLO []string `yaml:"slo"`
	// Goodput is the per-request goodput rule of verdict.ParseGoodput (e.g.
	// "ttft<=200ms,tpot<=50ms,latency<=5s"); "" counts no goodput.
	Goodput string `yaml:"goodput"`
	// MaxLateness bounds the scheduler's lateness p99 for the
	// load-delivered check.
	MaxLateness time.Duration `yaml:"max_lateness"`
	// StrictLoad makes an undelivered load fail the run (exit code 3).
	StrictLoad bool `yaml:"strict_load"`
}

// Dataset says where prompts come from: a file, or a synthetic generator.
type Dataset struct {
	Path    string         `yaml:"path"`
	Options DatasetOptions `yaml:"options"`
	// Synthetic generates prompts instead.
	Synthetic *Synthetic `yaml:"synthetic"`
	// Trace replays a recorded trace instead (load.mode replay).
	Trace *Trace `yaml:"trace,omitempty"`
	// SHA256 is the hex sha256 of the file at Path (or Trace.Path), recorded by the run in
	// its config.yaml so that the per-request records, which reference
	// prompts by dataset index, identify the prompts. It is not read back.
	SHA256 string `yaml:"sha256,omitempty"`
	// MultiTurn reads the file's rows as conversations (ShareGPT
	// conversations, OpenAI messages or {conversation_id, turns}) and runs
	// them as multi-turn sessions (see dataset.LoadConversations).
	MultiTurn bool `yaml:"multi_turn,omitempty"`
}

// DatasetOptions select a dataset file's format and columns (see
// dataset.Options; "" means inferred).
type DatasetOptions struct {
	Format          string `yaml:"format"`
	PromptColumn    string `yaml:"prompt_column"`
	SystemColumn    string `yaml:"system_column"`
	MaxTokensColumn string `yaml:"max_tokens_column"`
	ExpectedColumn  string `yaml:"expected_column"`
	TokenIDsColumn  string `yaml:"token_ids_column"`
	// Limit keeps only the first Limit samples; 0 keeps all.
	Limit int `yaml:"limit"`
}

// Synthetic configures generated prompts (see dataset.SyntheticConfig).
// Input and Output are length distributions in the text form of
// dataset.ParseDist: "128", "uniform:64:256", "normal:128:32".
type Synthetic struct {
	N      int    `yaml:"n"`
	Input  string `yaml:"input"`
	Output string `yaml:"output"`
	Seed   uint64 `yaml:"seed"`
	// SharedPrefixLen and NumPrefixes start every prompt with one of N
	// fixed prefixes of that many tokens (see dataset.SyntheticConfig).
	SharedPrefixLen int `yaml:"shared_prefix_len,omitempty"`
	NumPrefixes     int `yaml:"num_prefixes,omitempty"`
}

// Trace is a recorded trace to replay (see package trace): its requests are
// issued at their recorded times with prompts synthesized to their lengths.
type Trace struct {
	Path string `yaml:"path"`
	// Format is mooncake, azure or jsonl; "" tells it from the file.
	Format string `yaml:"format"`
	// Speedup divides the recorded times (2: twice as fast); 0 means 1.
	Speedup float64 `yaml:"speedup"`
	// Limit replays at most this many requests; 0 all.
	Limit int `yaml:"limit"`
	// Start skips the requests recorded within Start of the first.
	Start time.Duration `yaml:"start"`
	// BlockSize is the tokens per hash_id block; 0 means 512 (Mooncake's).
	BlockSize int `yaml:"block_size"`
}

// Endpoint configures the HTTP client (see client.Config, which documents
// each field and its default; zero values mean the default).
type Endpoint struct {
	Endpoint       string            `yaml:"endpoint"`
	API            string            `yaml:"api"`
	Model          string            `yaml:"model"`
	Streaming      bool              `yaml:"streaming"`
	IncludeUsage   bool              `yaml:"include_usage"`
	MaxTokens      int               `yaml:"max_tokens"`
	Temperature    *float64          `yaml:"temperature"`
	ExtraBody      map[string]any    `yaml:"extra_body"`
	Headers        map[string]string `yaml:"headers"`
	APIKeyEnv      string            `yaml:"api_key_env"`
	MaxConnections int               `yaml:"max_connections"`
	ConnectTimeout time.Duration     `yaml:"connect_timeout"`
	ReadTimeout    time.Duration     `yaml:"read_timeout"`
	TotalTimeout   time.Duration     `yaml:"total_timeout"`
	IdleTimeout    time.Duration     `yaml:"idle_timeout"`
	// RetryClosedConn: see client.Config. Default true.
	RetryClosedConn bool `yaml:"retry_closed_conn"`
	// TLSCA and InsecureSkipVerify: see client.Config (TLSCAFile,
	// InsecureSkipVerify); https:// endpoints only.
	TLSCA              string `yaml:"tls_ca"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Loadgen configures the load generator (see loadgen.Config).
type Loadgen struct {
	// Mode is offline, poisson, constant or concurrency.
	Mode          string        `yaml:"mode"`
	TargetQPS     float64       `yaml:"target_qps"`
	Concurrency   int           `yaml:"concurrency"`
	MaxInFlight   int           `yaml:"max_in_flight"`
	NumSamples    int           `yaml:"num_samples"`
	Duration      time.Duration `yaml:"duration"`
	MinDuration   time.Duration `yaml:"min_duration"`
	WarmupSamples int           `yaml:"warmup_samples"`
	MaxTokens     int           `yaml:"max_tokens"`
	Seed          uint64        `yaml:"seed"`
	SampleSeed    uint64        `yaml:"sample_seed"`
	GracePeriod   time.Duration `yaml:"grace_period"`
	// Burstiness, RampUp and Stages shape an open-loop rate: see
	// loadgen.Config. Stages is "QPS:DURATION,…" (e.g. "10:30s,20:30s").
	// RampUp and Stages also shape the worker count of the concurrency
	// mode (Stages then "WORKERS:DURATION,…").
	Burstiness float64       `yaml:"burstiness"`
	RampUp     time.Duration `yaml:"ramp_up"`
	Stages     string        `yaml:"stages"`
	// MaxConcurrency caps the requests in flight of an online run (0: no
	// cap); see loadgen.Config.
	MaxConcurrency int `yaml:"max_concurrency"`
	// TurnDelay is the think time between the turns of a multi-turn
	// conversation: "2s", "exp:2s", "uniform:1s-3s", or "" / "dataset"
	// (the dataset's delays, else none); see loadgen.ParseThinkTime.
	TurnDelay string `yaml:"turn_delay,omitempty"`
	// History is what a conversation's history carries as the assistant's
	// earlier replies: "server" (the replies received; "" means it) or
	// "recorded" (the dataset's).
	History string `yaml:"history,omitempty"`
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
	// PrometheusLinger keeps PrometheusAddr serving the final snapshot this
	// long after the run has ended, so that the last scrape sees the final
	// values (in Kubernetes the pod, and its endpoint, end with the
	// process); 0 = stop with the run.
	PrometheusLinger time.Duration `yaml:"prometheus_linger"`
	// EventsAddr, when set, publishes the run's event records over ZeroMQ
	// (ipc:// or tcp://, bound) in the Python tool's wire format: batched and
	// lossless, for `inferbench aggregate`, the Python tool's aggregator or any
	// subscriber.
	EventsAddr string `yaml:"events_addr"`
	// EventsSubscribers is how many subscribers of EventsAddr to wait for
	// before the first request (0: start at once; a subscriber that joins
	// late misses what was published before it).
	EventsSubscribers int `yaml:"events_subscribers"`
	// KeepRaw keeps the spilled raw values (metrics/raw/*.bin) after the
	// final snapshot, for `inferbench report --recompute`.
	KeepRaw bool `yaml:"keep_raw"`
	// ServerMetrics lists the Prometheus /metrics URLs scraped every publish
	// interval during the run (the server's, a GPU exporter's): empty means
	// the endpoint's own /metrics when it answers before the run, ["off"]
	// none. The run's config.yaml records what was resolved.
	ServerMetrics []string `yaml:"server_metrics"`
}

// Defaults of the consumers, repeated here so that config imports none of
// them; bench's TestDefaults_MatchConsumers holds each equal to its source.
const (
	DefaultAPI             = "chat"                 // client.DefaultAPI
	DefaultMaxTokens       = 256                    // client.DefaultMaxTokens
	DefaultMaxConnections  = 2048                   // client.DefaultMaxConnections
	DefaultConnectTimeout  = 10 * time.Second       // client.DefaultConnectTimeout
	DefaultReadTimeout     = 60 * time.Second       // client.DefaultReadTimeout
	DefaultTimeout         = 10 * time.Minute       // client.DefaultTimeout
	DefaultIdleTimeout     = 4 * time.Second        // client.DefaultIdleTimeout
	DefaultMode            = "offline"              // loadgen.ModeOffline
	DefaultMaxInFlight     = 1024                   // loadgen.DefaultMaxInFlight
	DefaultSeed            = 42                     // loadgen.DefaultSeed
	DefaultGracePeriod     = 5 * time.Second        // loadgen.DefaultGracePeriod
	DefaultPublishInterval = 250 * time.Millisecond // aggregator.DefaultPublishInterval
	DefaultDrainTimeout    = 60 * time.Second       // aggregator.DefaultDrainTimeout
	DefaultTokenSource     = "auto"                 // aggregator.TokenSourceAuto
	DefaultMaxLateness     = time.Millisecond       // the load-delivered check's bound
)

// Default returns the defaults of every field.
func Default() Run {
	return Run{
		Endpoint: Endpoint{
			API:             DefaultAPI,
			Streaming:       true,
			IncludeUsage:    true,
			MaxTokens:       DefaultMaxTokens,
			MaxConnections:  DefaultMaxConnections,
			ConnectTimeout:  DefaultConnectTimeout,
			ReadTimeout:     DefaultReadTimeout,
			TotalTimeout:    DefaultTimeout,
			IdleTimeout:     DefaultIdleTimeout,
			RetryClosedConn: true,
		},
		Load: Loadgen{
			Mode:        DefaultMode,
			MaxInFlight: DefaultMaxInFlight,
			Seed:        DefaultSeed,
			SampleSeed:  DefaultSeed,
			GracePeriod: DefaultGracePeriod,
		},
		Metrics: Metrics{
			PublishInterval: DefaultPublishInterval,
			DrainTimeout:    DefaultDrainTimeout,
			TokenSource:     DefaultTokenSource,
		},
		UI:          "auto",
		EventLog:    "compact",
		MaxLateness: DefaultMaxLateness,
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

// Validate checks what config itself knows: that there is one dataset
// source, and ValidateRun. The client's and the load generator's own rules
// are theirs: bench.Validate applies them too. Errors name the key.
func (r *Run) Validate() error {
	if err := r.validateTrace(); err != nil {
		return err
	}
	if r.Dataset.Path == "" && r.Dataset.Synthetic == nil && r.Dataset.Trace == nil {
		return errors.New("dataset: give a file (--dataset) or synthetic prompts (--synthetic)")
	}
	if r.Dataset.Path != "" && r.Dataset.Synthetic != nil {
		return errors.New("dataset: path and synthetic exclude each other")
	}
	if err := validateSynthetic(r.Dataset.Synthetic); err != nil {
		return err
	}
	return r.ValidateRun()
}

// validateTrace checks the trace section: a replay needs one, and replays
// only it.
func (r *Run) validateTrace() error {
	t := r.Dataset.Trace
	replay := r.Load.Mode == "replay"
	switch {
	case replay && (t == nil || t.Path == ""):
		return errors.New("dataset.trace.path: a replay needs a trace (--trace FILE)")
	case t == nil:
		return nil
	case !replay:
		return fmt.Errorf("dataset.trace: load.mode %q does not replay a trace: use inferbench benchmark replay (load.mode replay)", r.Load.Mode)
	case r.Dataset.Path != "" || r.Dataset.Synthetic != nil:
		return errors.New("dataset.trace: a replay takes its prompts from the trace: drop dataset.path and dataset.synthetic (--dataset, --synthetic)")
	case r.Dataset.MultiTurn:
		return errors.New("dataset.trace: a trace's requests are single turns: drop dataset.multi_turn (--multi-turn)")
	case !(t.Speedup >= 0) || t.Speedup > 1e6:
		return fmt.Errorf("dataset.trace.speedup %v: want a positive factor (2 replays twice as fast)", t.Speedup)
	case t.Limit < 0:
		return fmt.Errorf("dataset.trace.limit %d: must not be negative", t.Limit)
	case t.Start < 0:
		return fmt.Errorf("dataset.trace.start %v: must not be negative", t.Start)
	case t.BlockSize < 0 || t.BlockSize > 1_000_000:
		return fmt.Errorf("dataset.trace.block_size %d: want 1 to 1000000 tokens (0: 512)", t.BlockSize)
	}
	switch t.Format {
	case "", "mooncake", "azure", "jsonl":
	default:
		return fmt.Errorf("dataset.trace.format %q: want mooncake, azure or jsonl", t.Format)
	}
	return nil
}

// validateSynthetic names a key missing from a synthetic section, which
// would otherwise surface as an empty length or a zero count.
func validateSynthetic(s *Synthetic) error {
	if s == nil {
		return nil
	}
	const lengths = "a length in tokens: N, uniform:MIN:MAX or normal:MEAN:STDDEV"
	switch {
	case s.N == 0:
		return errors.New("dataset.synthetic.n: missing or 0: want the number of prompts (--synthetic N)")
	case s.Input == "":
		return fmt.Errorf("dataset.synthetic.input: missing key: want %s (--input-len)", lengths)
	case s.Output == "":
		return fmt.Errorf("dataset.synthetic.output: missing key: want %s (--output-len)", lengths)
	}
	return nil
}

// ValidateRun checks the metrics and ui keys, for callers that bring their
// own dataset.
func (r *Run) ValidateRun() error {
	switch r.Metrics.TokenSource {
	case "", "auto", "usage":
	case "tokenizer":
		if r.Metrics.Tokenizer == "" {
			return errors.New("metrics.token_source tokenizer: give a tokenizer (--tokenizer)")
		}
	default:
		return fmt.Errorf("metrics.token_source %q: want auto, tokenizer or usage", r.Metrics.TokenSource)
	}
	if r.MaxLateness < 0 {
		return fmt.Errorf("max_lateness %v: must not be negative", r.MaxLateness)
	}
	if r.Metrics.PublishInterval <= 0 {
		return fmt.Errorf("metrics.publish_interval %v: must be positive", r.Metrics.PublishInterval)
	}
	if r.Metrics.PrometheusLinger < 0 {
		return fmt.Errorf("metrics.prometheus_linger %v: must not be negative", r.Metrics.PrometheusLinger)
	}
	if r.Metrics.PrometheusLinger > 0 && r.Metrics.PrometheusAddr == "" {
		return errors.New("metrics.prometheus_linger: needs metrics.prometheus_addr (--prometheus-addr)")
	}
	if r.Metrics.EventsSubscribers < 0 {
		return fmt.Errorf("metrics.events_subscribers %d: must be 0 or more", r.Metrics.EventsSubscribers)
	}
	if r.Metrics.EventsSubscribers > 0 && r.Metrics.EventsAddr == "" {
		return errors.New("metrics.events_subscribers: needs metrics.events_addr (--events-addr)")
	}
	if err := validateServerMetrics(r.Metrics.ServerMetrics); err != nil {
		return err
	}
	switch r.EventLog {
	case "", "compact", "full", "off":
	default:
		return fmt.Errorf("event_log %q: want compact, full or off", r.EventLog)
	}
	switch r.UI {
	case "auto", "tui", "plain":
	default:
		return fmt.Errorf("ui %q: want auto, tui or plain", r.UI)
	}
	return nil
}

// ServerMetricsOff is the metrics.server_metrics entry that turns scraping
// off.
const ServerMetricsOff = "off"

// validateServerMetrics accepts "off" alone, or http(s) URLs.
func validateServerMetrics(urls []string) error {
	for _, u := range urls {
		switch {
		case u == ServerMetricsOff:
			if len(urls) > 1 {
				return errors.New("metrics.server_metrics: off excludes URLs (--server-metrics off)")
			}
		case strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://"):
			if len(u) <= len("https://") {
				return fmt.Errorf("metrics.server_metrics %q: want http://HOST:PORT/metrics", u)
			}
		default:
			return fmt.Errorf("metrics.server_metrics %q: want an http:// or https:// URL of a Prometheus /metrics endpoint, or off", u)
		}
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
