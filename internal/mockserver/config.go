package mockserver

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Defaults applied by [New] to zero-valued [Config] fields.
const (
	// DefaultModel is the model name served when Config.Model is empty.
	DefaultModel = "mock-model"
	// DefaultOutputTokens is the output length when neither Config.OutputTokens,
	// Config.OutputDist nor the request's max_tokens says otherwise.
	DefaultOutputTokens = 16
	// DefaultTokensPerChunk is the number of tokens per SSE chunk.
	DefaultTokensPerChunk = 1
	// DefaultShutdownGrace is how long [Server.Serve] lets in-flight requests
	// finish after its context ends before closing their connections.
	DefaultShutdownGrace = 5 * time.Second
)

// Modes for Config.Mode.
const (
	// ModeSynthetic answers with the word "tok", one per token, each preceded
	// by a space, so a whitespace word count equals the token count.
	ModeSynthetic = "synthetic"
	// ModeEcho answers with the words of the prompt (chat: the last user
	// message), keeping the prompt's whitespace.
	ModeEcho = "echo"
	// ModeOracle answers with Config.Oracle[prompt] (chat: the last user
	// message); a prompt without an answer gets HTTP 400.
	ModeOracle = "oracle"
)

// Kinds for OutputDist.Kind.
const (
	// DistFixed always yields OutputDist.Mean tokens.
	DistFixed = "fixed"
	// DistUniform yields an integer uniformly in [OutputDist.Min, OutputDist.Max].
	DistUniform = "uniform"
	// DistNormal yields round(N(Mean, Stddev)) clamped to [max(Min,1), Max]
	// (Max 0 = no upper bound).
	DistNormal = "normal"
)

// ErrInvalidConfig is wrapped by every error [New] returns for a bad [Config].
var ErrInvalidConfig = errors.New("mockserver: invalid config")

// Config controls what the server answers, how fast, and which faults it
// injects. The zero value is valid: a synthetic model that answers instantly
// with max_tokens tokens (or DefaultOutputTokens), one token per chunk.
//
// Durations are time.Duration (YAML: "20ms", "1.5s"); rates are
// probabilities in [0, 1].
type Config struct {
	// Model is the model name in responses and GET /v1/models; default
	// DefaultModel. The request's model field is not checked.
	Model string `yaml:"model"`
	// Mode is ModeSynthetic (default), ModeEcho or ModeOracle.
	Mode string `yaml:"mode"`
	// Oracle maps a prompt to its answer in ModeOracle; see [LoadOracle].
	Oracle map[string]string `yaml:"-"`

	// TTFT is the time from request arrival to the first token (duration).
	TTFT time.Duration `yaml:"ttft"`
	// TPOT is the time between consecutive output tokens (duration per token).
	TPOT time.Duration `yaml:"tpot"`
	// Jitter scales every TTFT and per-token delay by a factor drawn
	// uniformly from [1-Jitter, 1+Jitter]; dimensionless, in [0, 1).
	Jitter float64 `yaml:"jitter"`
	// SlowRate is the probability in [0, 1] that a request is slow: its
	// time to first token is SlowTTFT instead of TTFT (a bimodal TTFT, so
	// that the share of requests within a bound is known).
	SlowRate float64 `yaml:"slow_rate"`
	// SlowTTFT is the time to first token of a slow request (duration).
	SlowTTFT time.Duration `yaml:"slow_ttft"`
	// MaxConcurrent, when > 0, is how many requests the server generates
	// at once (count); the others wait in a FIFO queue, their timing
	// starting when they leave it, so that latency grows with load past
	// capacity like a real server's. Injected 429 and 500 answers do not
	// queue.
	MaxConcurrent int `yaml:"max_concurrent_requests"`

	// OutputTokens is the synthetic output length in tokens. When 0 and
	// OutputDist is unset, the request's max_tokens is used (like a server
	// ignoring EOS), else DefaultOutputTokens. Echo and oracle modes use the
	// answer's word count instead. Always capped by max_tokens.
	OutputTokens int `yaml:"output_tokens"`
	// OutputDist, when its Kind is set, draws the synthetic output length per
	// request instead of OutputTokens.
	OutputDist OutputDist `yaml:"output_dist"`
	// ReasoningTokens, when > 0, makes chat responses first emit that many
	// tokens as reasoning_content (counted in completion_tokens and against
	// max_tokens) before the content. Ignored by /v1/completions.
	ReasoningTokens int `yaml:"reasoning_tokens"`
	// TokensPerChunk is the number of tokens per streamed chunk (count);
	// default DefaultTokensPerChunk.
	TokensPerChunk int `yaml:"tokens_per_chunk"`

	// Seed seeds the per-request random draws (faults, output length,
	// jitter): the same seed and request order give the same behaviour.
	Seed uint64 `yaml:"seed"`
	// Faults are the per-request fault probabilities.
	Faults FaultRates `yaml:"faults"`

	// CheckHistory makes the server verify the history of multi-turn chat
	// requests: every assistant message must be the reply it sent for the
	// messages before it, complete before the request arrived (see
	// Server.History). It remembers every chat reply, so it is for tests
	// and demos, not for long runs.
	CheckHistory bool `yaml:"check_history"`

	// ShutdownGrace bounds how long Serve waits for in-flight requests after
	// its context ends (duration); default DefaultShutdownGrace.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
}

// OutputDist is a distribution of output lengths in tokens. All fields are
// token counts except Kind.
type OutputDist struct {
	// Kind is "" (unset), DistFixed, DistUniform or DistNormal.
	Kind string `yaml:"kind"`
	// Min is the lower bound (tokens; uniform and normal).
	Min int `yaml:"min"`
	// Max is the upper bound (tokens; uniform, and normal when > 0).
	Max int `yaml:"max"`
	// Mean is the fixed value (fixed) or the mean (normal), in tokens.
	Mean float64 `yaml:"mean"`
	// Stddev is the standard deviation of the normal distribution, in tokens.
	Stddev float64 `yaml:"stddev"`
}

// FaultRates are per-request probabilities in [0, 1] of each injected
// fault; their sum must not exceed 1. Exactly one fault (or none) is chosen
// per request. Mid-stream faults strike after half of the output chunks.
type FaultRates struct {
	// HTTP429 answers 429 Too Many Requests with an OpenAI error body.
	HTTP429 float64 `yaml:"http_429"`
	// HTTP500 answers 500 Internal Server Error with an OpenAI error body.
	HTTP500 float64 `yaml:"http_500"`
	// Reset closes the TCP connection with RST (SO_LINGER 0): at once for a
	// non-streaming request, mid-stream for a streaming one.
	Reset float64 `yaml:"reset"`
	// Truncate ends the response early: a stream stops without
	// finish_reason or [DONE]; a JSON body is cut short of its Content-Length.
	// The connection is closed either way.
	Truncate float64 `yaml:"truncate"`
	// Malformed inserts a "data: {not json" event mid-stream (the stream then
	// continues normally); a JSON response becomes "{not json".
	Malformed float64 `yaml:"malformed"`
	// Stall stops writing mid-stream (non-streaming: before any byte) and
	// holds the connection until the client gives up or the server shuts down.
	Stall float64 `yaml:"stall"`
}

func (f FaultRates) rates() [numFaults]float64 {
	return [numFaults]float64{
		FaultHTTP429:   f.HTTP429,
		FaultHTTP500:   f.HTTP500,
		FaultReset:     f.Reset,
		FaultTruncate:  f.Truncate,
		FaultMalformed: f.Malformed,
		FaultStall:     f.Stall,
	}
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.Mode == "" {
		c.Mode = ModeSynthetic
	}
	if c.TokensPerChunk == 0 {
		c.TokensPerChunk = DefaultTokensPerChunk
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = DefaultShutdownGrace
	}
	return c
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
}

// validate reports the first bad field of c (after defaults), by its YAML name.
func (c Config) validate() error {
	switch c.Mode {
	case ModeSynthetic, ModeEcho:
	case ModeOracle:
		if len(c.Oracle) == 0 {
			return invalid("oracle is empty but mode is %q", ModeOracle)
		}
	default:
		return invalid("mode %q is not one of synthetic, echo, oracle", c.Mode)
	}
	if c.TTFT < 0 {
		return invalid("ttft %v must be >= 0", c.TTFT)
	}
	if c.TPOT < 0 {
		return invalid("tpot %v must be >= 0", c.TPOT)
	}
	if !(c.Jitter >= 0 && c.Jitter < 1) {
		return invalid("jitter %v must be in [0, 1)", c.Jitter)
	}
	if !(c.SlowRate >= 0 && c.SlowRate <= 1) {
		return invalid("slow_rate %v must be in [0, 1]", c.SlowRate)
	}
	if c.SlowTTFT < 0 {
		return invalid("slow_ttft %v must be >= 0", c.SlowTTFT)
	}
	if c.MaxConcurrent < 0 {
		return invalid("max_concurrent_requests %d must be >= 0", c.MaxConcurrent)
	}
	if c.OutputTokens < 0 {
		return invalid("output_tokens %d must be >= 0", c.OutputTokens)
	}
	if c.ReasoningTokens < 0 {
		return invalid("reasoning_tokens %d must be >= 0", c.ReasoningTokens)
	}
	if c.TokensPerChunk < 1 {
		return invalid("tokens_per_chunk %d must be >= 1", c.TokensPerChunk)
	}
	if c.ShutdownGrace < 0 {
		return invalid("shutdown_grace %v must be >= 0", c.ShutdownGrace)
	}
	if err := c.OutputDist.validate(); err != nil {
		return err
	}
	sum := 0.0
	for i, r := range c.Faults.rates() {
		if !(r >= 0 && r <= 1) {
			return invalid("faults.%s %v must be in [0, 1]", Fault(i), r)
		}
		sum += r
	}
	if sum > 1+1e-9 {
		return invalid("faults sum to %v, must be <= 1", sum)
	}
	return nil
}

func (d OutputDist) validate() error {
	if d.Min < 0 {
		return invalid("output_dist.min %d must be >= 0", d.Min)
	}
	if d.Max < 0 {
		return invalid("output_dist.max %d must be >= 0", d.Max)
	}
	switch d.Kind {
	case "":
	case DistFixed:
		if !(d.Mean >= 1) || math.IsInf(d.Mean, 0) {
			return invalid("output_dist.mean %v must be >= 1 for kind fixed", d.Mean)
		}
	case DistUniform:
		if d.Max < 1 || d.Max < d.Min {
			return invalid("output_dist.max %d must be >= max(1, min %d) for kind uniform", d.Max, d.Min)
		}
	case DistNormal:
		if !(d.Mean >= 0) || math.IsInf(d.Mean, 0) {
			return invalid("output_dist.mean %v must be >= 0 for kind normal", d.Mean)
		}
		if !(d.Stddev >= 0) || math.IsInf(d.Stddev, 0) {
			return invalid("output_dist.stddev %v must be >= 0", d.Stddev)
		}
		if d.Max > 0 && d.Max < max(d.Min, 1) {
			return invalid("output_dist.max %d must be >= max(1, min %d) or 0", d.Max, d.Min)
		}
	default:
		return invalid("output_dist.kind %q is not one of fixed, uniform, normal", d.Kind)
	}
	return nil
}

// draw returns an output length (>= 1) from d using r.
func (d OutputDist) draw(r *rng) int {
	switch d.Kind {
	case DistFixed:
		return max(1, int(math.Round(d.Mean)))
	case DistUniform:
		lo := max(d.Min, 1)
		return lo + int(r.uint64n(uint64(d.Max-lo+1)))
	default: // DistNormal
		v := int(math.Round(d.Mean + d.Stddev*r.norm()))
		v = max(v, d.Min, 1)
		if d.Max > 0 {
			v = min(v, d.Max)
		}
		return v
	}
}
