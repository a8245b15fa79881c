package metrics

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/tinylib/msgp/msgp"

	"github.com/inferbench/inferbench/internal/msgpskip"
)

// The server's own view of a run: what the scraper (package scrape) read
// from the inference server's Prometheus endpoint and from a GPU exporter.
// Two shapes: [ServerGauges], the latest values, carried at the end of live
// snapshots for the dashboard; and [ServerView], the summary over the
// tracking window that the report shows beside the client's numbers.

// ServerGauges are the server-side values of the latest scrape. A value the
// server does not export is NaN.
//
// On the wire it is the optional seventh element of the snapshot array
// (after the fleet section, nil outside fleet runs): a msgpack map from the
// keys below to numbers (nil for NaN). Decoders that read five elements
// (the Python tool, older versions) ignore it; this one ignores keys it
// does not know. The dict/JSON form adds "server": {…}.
type ServerGauges struct {
	Running float64 // requests being generated (sum over servers)
	Waiting float64 // requests queued (sum over servers)
	KVCache float64 // KV-cache use, a fraction in [0, 1] (mean over servers)
	GPUUtil float64 // GPU utilisation in percent (mean over GPUs)
	PowerW  float64 // GPU power in watts (sum over GPUs)
	// Failures counts the scrapes that failed so far.
	Failures int64
}

// NewServerGauges returns gauges with every value missing.
func NewServerGauges() *ServerGauges {
	nan := math.NaN()
	return &ServerGauges{Running: nan, Waiting: nan, KVCache: nan, GPUUtil: nan, PowerW: nan}
}

// serverKeys are the wire keys of ServerGauges, in wire order.
var serverKeys = []string{"running", "waiting", "kv_cache_usage", "gpu_util_pct", "gpu_power_w", "scrape_failures"}

func (g *ServerGauges) fields() []*float64 {
	return []*float64{&g.Running, &g.Waiting, &g.KVCache, &g.GPUUtil, &g.PowerW}
}

// appendServerMsgp appends the map form of g.
func appendServerMsgp(b []byte, g *ServerGauges) []byte {
	b = msgp.AppendMapHeader(b, uint32(len(serverKeys)))
	for i, p := range g.fields() {
		b = msgp.AppendString(b, serverKeys[i])
		if math.IsNaN(*p) || math.IsInf(*p, 0) {
			b = msgp.AppendNil(b)
		} else {
			b = msgp.AppendFloat64(b, *p)
		}
	}
	b = msgp.AppendString(b, serverKeys[len(serverKeys)-1])
	return msgp.AppendInt64(b, g.Failures)
}

// maxServerKeys bounds the map a decoder accepts (hostile frames).
const maxServerKeys = 64

// decodeServerMsgp reads the map form; unknown keys are skipped.
func decodeServerMsgp(p []byte) (*ServerGauges, []byte, error) {
	if msgp.NextType(p) == msgp.NilType {
		p, err := msgp.ReadNilBytes(p)
		return nil, p, err
	}
	n, p, err := msgp.ReadMapHeaderBytes(p)
	if err != nil {
		return nil, p, err
	}
	if n > maxServerKeys {
		return nil, p, fmt.Errorf("server gauges: %d keys, at most %d", n, maxServerKeys)
	}
	g := NewServerGauges()
	fields := g.fields()
	for range n {
		var k []byte
		if k, p, err = msgp.ReadStringZC(p); err != nil {
			return nil, p, err
		}
		i := slices.Index(serverKeys, string(k))
		switch {
		case i < 0:
			if p, err = msgpskip.Skip(p); err != nil {
				return nil, p, err
			}
		case i == len(serverKeys)-1:
			var v Num
			if v, p, err = readNumMsgp(p); err != nil {
				return nil, p, err
			}
			g.Failures, _ = v.Int64()
		default:
			var v Num
			if v, p, err = readNumMsgp(p); err != nil {
				return nil, p, err
			}
			*fields[i] = v.Float64()
		}
	}
	return g, p, nil
}

// appendServerJSON appends `,"server":{…}` (null for a missing value).
func appendServerJSON(b []byte, g *ServerGauges) []byte {
	b = append(b, `,"server":{`...)
	for i, p := range g.fields() {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, serverKeys[i])
		b = append(b, ':')
		b = appendJSONFloat(b, *p)
	}
	b = append(b, ',')
	b = strconv.AppendQuote(b, serverKeys[len(serverKeys)-1])
	b = append(b, ':')
	b = strconv.AppendInt(b, g.Failures, 10)
	return append(b, '}')
}

// parseServerJSON reads the "server" object of the dict form.
func parseServerJSON(v any) *ServerGauges {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	g := NewServerGauges()
	fields := g.fields()
	for i, k := range serverKeys {
		x, ok := obj[k]
		if !ok || x == nil {
			continue
		}
		if i == len(serverKeys)-1 {
			g.Failures = intOf(x)
			continue
		}
		*fields[i] = anyNum(x).Float64()
	}
	return g
}

// ServerView is the server's own view of a run over the tracking window,
// beside the client's numbers (the report's "Server view"; its JSON is the
// "server" object of result_summary.json). Values the servers do not export
// are absent (nil).
type ServerView struct {
	// Targets are the scraped endpoints, each with the family detected.
	Targets []ServerTarget `json:"targets"`
	// WindowS is the span of the scrapes inside the tracking window, in
	// seconds: the time base of the counter deltas and of the energy.
	WindowS  float64 `json:"window_s"`
	Scrapes  int64   `json:"scrapes"`
	Failures int64   `json:"scrape_failures"`
	// LastError is the latest failed scrape's error, if any.
	LastError string `json:"last_error,omitempty"`

	Running *GaugeStat `json:"requests_running,omitempty"`
	Waiting *GaugeStat `json:"requests_waiting,omitempty"`
	// KVCache is the KV-cache use as a fraction of its capacity (0–1).
	KVCache *GaugeStat `json:"kv_cache_usage,omitempty"`
	// PrefixHitRate is the prefix-cache hit rate over the window: hits ÷
	// queries from counter deltas (vLLM), else the mean of the server's own
	// hit-rate gauge (SGLang, vLLM V0).
	PrefixHitRate *float64 `json:"prefix_cache_hit_rate,omitempty"`

	// Token counts over the window: the server's counter deltas beside the
	// client's tracked totals (ISL and OSL sums).
	PromptTokens     *TokenCount `json:"prompt_tokens,omitempty"`
	GenerationTokens *TokenCount `json:"generation_tokens,omitempty"`

	// Latencies from the server's own histograms (bucket deltas over the
	// window, interpolated within a bucket as Prometheus'
	// histogram_quantile does) beside the client's exact percentiles.
	TTFT    *LatencyCompare `json:"ttft,omitempty"`
	TPOT    *LatencyCompare `json:"tpot,omitempty"`
	Latency *LatencyCompare `json:"e2e_latency,omitempty"`

	// GPUs come from a DCGM exporter's families, one entry per GPU.
	GPUs []GPUStat `json:"gpus,omitempty"`
	// EnergyJ is ∫ power dt over the window summed over GPUs (trapezoids
	// between scrapes; a GPU whose readings miss an end of the window is
	// held at its nearest reading), and EnergyPerTokenJ that ÷ the
	// client's tracked output tokens.
	EnergyJ         *float64 `json:"energy_j,omitempty"`
	EnergyPerTokenJ *float64 `json:"energy_per_output_token_j,omitempty"`
}

// ServerTarget is one scraped endpoint.
type ServerTarget struct {
	URL      string `json:"url"`
	Family   string `json:"family"` // vllm, sglang, llamacpp, tgi, dcgm, unknown
	Scrapes  int64  `json:"scrapes"`
	Failures int64  `json:"failures"`
}

// GaugeStat is a gauge over the window: the mean and the maximum of its
// scraped values.
type GaugeStat struct {
	Mean float64 `json:"mean"`
	Max  float64 `json:"max"`
}

// TokenCount is a token count over the window by the server and by the
// client (nil when the client has none).
type TokenCount struct {
	Server float64  `json:"server"`
	Client *float64 `json:"client,omitempty"`
}

// LatencyCompare is a latency's p50 and p99 in seconds by the server's
// histogram and by the client (nil where one side has none). Count is the
// number of observations in the server's histogram over the window.
type LatencyCompare struct {
	Count     float64  `json:"server_count"`
	ServerP50 *float64 `json:"server_p50_s,omitempty"`
	ServerP99 *float64 `json:"server_p99_s,omitempty"`
	ClientP50 *float64 `json:"client_p50_s,omitempty"`
	ClientP99 *float64 `json:"client_p99_s,omitempty"`
}

// GPUStat is one GPU over the window.
type GPUStat struct {
	GPU     string     `json:"gpu"` // the exporter's gpu label (or UUID)
	Target  string     `json:"target"`
	UtilPct *GaugeStat `json:"util_pct,omitempty"`
	MemMiB  *GaugeStat `json:"mem_used_mib,omitempty"`
	PowerW  *GaugeStat `json:"power_w,omitempty"`
	EnergyJ *float64   `json:"energy_j,omitempty"`
}

// SetClient fills in the client's side from the run's final snapshot: the
// tracked token totals, the TTFT, TPOT and latency percentiles, and the
// energy per output token.
func (v *ServerView) SetClient(s *Snapshot) {
	total := func(name string) *float64 {
		if m, ok := s.Find(name); ok && m.Kind == KindSeries && m.Count > 0 {
			f := m.Total.Float64()
			return &f
		}
		return nil
	}
	if v.PromptTokens != nil {
		v.PromptTokens.Client = total(SeriesISL)
	}
	if v.GenerationTokens != nil {
		v.GenerationTokens.Client = total(SeriesOSL)
	}
	for _, c := range []struct {
		l    *LatencyCompare
		name string
	}{{v.TTFT, SeriesTTFT}, {v.TPOT, SeriesTPOT}, {v.Latency, SeriesLatency}} {
		if c.l == nil {
			continue
		}
		m, ok := s.Find(c.name)
		if !ok || m.Kind != KindSeries || m.Count == 0 {
			continue
		}
		if p, ok := m.Percentile("50.0"); ok {
			p /= 1e9
			c.l.ClientP50 = &p
		}
		if p, ok := m.Percentile("99.0"); ok {
			p /= 1e9
			c.l.ClientP99 = &p
		}
	}
	if out := total(SeriesOSL); v.EnergyJ != nil && out != nil && *out > 0 {
		e := *v.EnergyJ / *out
		v.EnergyPerTokenJ = &e
	}
}
