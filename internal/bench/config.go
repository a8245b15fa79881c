package bench

import (
	"errors"
	"fmt"

	"github.com/inferbench/inferbench/internal/client"
	"github.com/inferbench/inferbench/internal/config"
	"github.com/inferbench/inferbench/internal/dataset"
	"github.com/inferbench/inferbench/internal/loadgen"
	"github.com/inferbench/inferbench/internal/report"
)

// config is plain data that imports none of the packages it configures;
// this file turns its parts into their configurations, and checks them by
// their own rules.

// ClientConfig is the client's configuration from the endpoint section.
func ClientConfig(e config.Endpoint) client.Config {
	return client.Config{
		Endpoint:           e.Endpoint,
		API:                e.API,
		Model:              e.Model,
		Streaming:          e.Streaming,
		IncludeUsage:       e.IncludeUsage,
		MaxTokens:          e.MaxTokens,
		Temperature:        e.Temperature,
		ExtraBody:          e.ExtraBody,
		Headers:            e.Headers,
		APIKeyEnv:          e.APIKeyEnv,
		MaxConnections:     e.MaxConnections,
		ConnectTimeout:     e.ConnectTimeout,
		ReadTimeout:        e.ReadTimeout,
		TotalTimeout:       e.TotalTimeout,
		IdleTimeout:        e.IdleTimeout,
		RetryClosedConn:    e.RetryClosedConn,
		TLSCAFile:          e.TLSCA,
		InsecureSkipVerify: e.InsecureSkipVerify,
	}
}

// LoadgenConfig is the load generator's configuration from the load section.
func LoadgenConfig(l config.Loadgen) loadgen.Config {
	return loadgen.Config{
		Mode:          loadgen.Mode(l.Mode),
		TargetQPS:     l.TargetQPS,
		Concurrency:   l.Concurrency,
		MaxInFlight:   l.MaxInFlight,
		NumSamples:    l.NumSamples,
		Duration:      l.Duration,
		MinDuration:   l.MinDuration,
		WarmupSamples: l.WarmupSamples,
		MaxTokens:     l.MaxTokens,
		Seed:          l.Seed,
		SampleSeed:    l.SampleSeed,
		GracePeriod:   l.GracePeriod,
		Burstiness:    l.Burstiness,
		RampUp:        l.RampUp,
		Stages:        stages(l.Stages),

		MaxConcurrency: l.MaxConcurrency,

		TurnDelay:       turnDelay(l.TurnDelay),
		RecordedHistory: l.History == HistoryRecorded,
	}
}

// The values of load.history.
const (
	HistoryServer   = "server"
	HistoryRecorded = "recorded"
)

// turnDelay parses load.turn_delay; a bad string yields the default here
// and is reported by validateRun.
func turnDelay(s string) loadgen.ThinkTime {
	t, _ := loadgen.ParseThinkTime(s)
	return t
}

// validateMultiTurn checks the multi-turn settings; errors name the key.
func validateMultiTurn(cfg *config.Run) error {
	if _, err := loadgen.ParseThinkTime(cfg.Load.TurnDelay); err != nil {
		return fmt.Errorf("load.turn_delay: %w", err)
	}
	switch cfg.Load.History {
	case "", HistoryServer, HistoryRecorded:
	default:
		return fmt.Errorf("load.history %q: want server or recorded", cfg.Load.History)
	}
	if !cfg.Dataset.MultiTurn {
		if cfg.Load.TurnDelay != "" || cfg.Load.History != "" {
			return errors.New("load.turn_delay and load.history apply to multi-turn runs: add dataset.multi_turn (--multi-turn)")
		}
		return nil
	}
	if cfg.Dataset.Synthetic != nil || cfg.Dataset.Path == "" {
		return errors.New("dataset.multi_turn: needs a conversation dataset file (dataset.path), not synthetic prompts")
	}
	if api := cfg.Endpoint.API; api != "" && api != client.APIChat {
		return fmt.Errorf("dataset.multi_turn: needs the chat API (a conversation is a messages list), not %q", api)
	}
	if cfg.Load.MaxConcurrency > 0 {
		return errors.New("load.max_concurrency (--max-concurrency): not for multi-turn runs, whose load is in conversations (use benchmark concurrency)")
	}
	if loadgen.Mode(cfg.Load.Mode) == loadgen.ModeConcurrency && (cfg.Load.RampUp > 0 || cfg.Load.Stages != "") {
		return errors.New("load.ramp_up and load.stages (--ramp-up, --stages) of the concurrency mode: not for multi-turn runs")
	}
	return nil
}

// stages parses load.stages; a bad string yields none here and is reported
// by validateRun.
func stages(s string) []loadgen.Stage {
	if s == "" {
		return nil
	}
	st, _ := loadgen.ParseStages(s)
	return st
}

// DatasetOptions are the dataset reader's options from dataset.options.
func DatasetOptions(o config.DatasetOptions) dataset.Options {
	return dataset.Options{
		Format:          o.Format,
		PromptColumn:    o.PromptColumn,
		SystemColumn:    o.SystemColumn,
		MaxTokensColumn: o.MaxTokensColumn,
		ExpectedColumn:  o.ExpectedColumn,
		TokenIDsColumn:  o.TokenIDsColumn,
		Limit:           o.Limit,
	}
}

// SyntheticConfig parses dataset.synthetic; errors name the key.
func SyntheticConfig(s config.Synthetic) (dataset.SyntheticConfig, error) {
	in, err := dataset.ParseDist(s.Input)
	if err != nil {
		return dataset.SyntheticConfig{}, fmt.Errorf("dataset.synthetic.input: %w", err)
	}
	out, err := dataset.ParseDist(s.Output)
	if err != nil {
		return dataset.SyntheticConfig{}, fmt.Errorf("dataset.synthetic.output: %w", err)
	}
	return dataset.SyntheticConfig{N: s.N, Input: in, Output: out, Seed: s.Seed,
		SharedPrefixLen: s.SharedPrefixLen, NumPrefixes: s.NumPrefixes}, nil
}

// LoadDataset reads the dataset file, or generates the synthetic prompts,
// that the dataset section names.
func LoadDataset(d config.Dataset) (*dataset.Dataset, error) {
	return LoadDatasetCounted(d, nil)
}

// LoadDatasetCounted is LoadDataset with the run's token counter (nil:
// none), with which synthetic prompts are exactly their lengths in tokens.
func LoadDatasetCounted(d config.Dataset, tok dataset.TokenCounter) (*dataset.Dataset, error) {
	if d.Synthetic != nil {
		sc, err := SyntheticConfig(*d.Synthetic)
		if err != nil {
			return nil, err
		}
		sc.Counter = tok
		return dataset.Synthetic(sc)
	}
	if d.MultiTurn {
		return dataset.LoadConversations(d.Path, DatasetOptions(d.Options))
	}
	return dataset.Load(d.Path, DatasetOptions(d.Options))
}

// Validate checks the whole configuration: the client's and the load
// generator's rules, the synthetic lengths, and config's own checks.
// Errors name the key.
func Validate(cfg *config.Run) error {
	if err := validateRun(cfg); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if s := cfg.Dataset.Synthetic; s != nil {
		sc, err := SyntheticConfig(*s)
		if err != nil {
			return err
		}
		if err := sc.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// validateRun is Validate but for the dataset source, which [New]'s caller
// brings.
func validateRun(cfg *config.Run) error {
	cc := ClientConfig(cfg.Endpoint)
	if err := cc.Validate(); err != nil {
		return fmt.Errorf("endpoint: %w", err)
	}
	if cfg.Load.Stages != "" {
		if _, err := loadgen.ParseStages(cfg.Load.Stages); err != nil {
			return fmt.Errorf("load.stages: %w", err)
		}
	}
	lc := LoadgenConfig(cfg.Load)
	if err := lc.Validate(); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if _, err := VerdictSpec(cfg); err != nil {
		return err
	}
	if err := validateMultiTurn(cfg); err != nil {
		return err
	}
	return cfg.ValidateRun()
}

// ReportRun summarizes the run for the report's header.
func ReportRun(cfg *config.Run) *report.Run {
	run := &report.Run{
		Endpoint:  cfg.Endpoint.Endpoint,
		Model:     cfg.Endpoint.Model,
		API:       cfg.Endpoint.API,
		Streaming: cfg.Endpoint.Streaming,
		Mode:      cfg.Load.Mode,
		Dataset:   cfg.Dataset.Path,
		MultiTurn: cfg.Dataset.MultiTurn,
	}
	switch loadgen.Mode(cfg.Load.Mode) {
	case loadgen.ModePoisson, loadgen.ModeConstant:
		run.TargetQPS = cfg.Load.TargetQPS
	case loadgen.ModeConcurrency:
		run.Concurrency = cfg.Load.Concurrency
	}
	run.MaxConcurrency, run.Stages = cfg.Load.MaxConcurrency, cfg.Load.Stages
	if cfg.Load.RampUp > 0 {
		run.RampUp = cfg.Load.RampUp.String()
	}
	if t := cfg.Dataset.Trace; t != nil {
		run.Dataset = traceLabel(t)
	}
	if loadgen.Mode(cfg.Load.Mode) == loadgen.ModePoisson {
		run.Burstiness = cfg.Load.Burstiness
	}
	if s := cfg.Dataset.Synthetic; s != nil {
		run.Dataset = fmt.Sprintf("synthetic (%d prompts, input %s, output %s tokens)", s.N, s.Input, s.Output)
	}
	return run
}
