package scrape

import (
	"strings"
)

// Kind is the family of server (or exporter) a /metrics endpoint belongs to,
// told by its metric names' prefixes.
type Kind string

// The kinds the table knows; KindUnknown keeps every gauge and counter,
// capped at MaxUnknownSeries series.
const (
	KindVLLM     Kind = "vllm"
	KindSGLang   Kind = "sglang"
	KindLlamaCpp Kind = "llamacpp"
	KindTGI      Kind = "tgi"
	KindDCGM     Kind = "dcgm"
	KindUnknown  Kind = "unknown"
)

// Role is what a family means to the summary, whatever a server calls it.
type Role uint8

// The roles. RoleKeep families are recorded in server.jsonl but not
// summarised.
const (
	RoleKeep             Role = iota
	RoleRunning               // gauge: requests being generated
	RoleWaiting               // gauge: requests queued
	RoleKVCache               // gauge: KV-cache use as a fraction (0–1)
	RolePrefixHits            // counter: prefix-cache hits (tokens or blocks)
	RolePrefixQueries         // counter: prefix-cache lookups, same unit
	RolePrefixHitRate         // gauge: the server's own hit rate (0–1)
	RolePromptTokens          // counter: prompt tokens processed
	RoleGenTokens             // counter: tokens generated
	RolePromptTokensHist      // histogram of prompt tokens per request: its sum counts them (TGI)
	RoleGenTokensHist         // histogram of generated tokens per request (TGI)
	RoleTTFT                  // histogram, seconds
	RoleTPOT                  // histogram, seconds (time per output token or inter-token latency)
	RoleE2E                   // histogram, seconds
	RoleGPUUtil               // gauge per GPU, percent
	RoleGPUMem                // gauge per GPU, MiB
	RoleGPUPower              // gauge per GPU, watts
	// RoleCachedPromptTokens counts prompt tokens reused from the cache,
	// not in RolePromptTokens (llama.cpp): the hit rate is cached ÷
	// (cached + processed), and the server's prompt tokens their sum.
	RoleCachedPromptTokens
)

// Family is one row of the table: a metric family that matters, its server
// and what it means.
type Family struct {
	Name string
	Kind Kind
	Role Role
}

// Families is the one table of the metric families that matter, per server:
// only these are kept for a known server (server.jsonl stays small) and the
// summary reads them by role. Names are as the text format exposes them
// (counters with their _total suffix); several names for one role are the
// renames across versions (vLLM V0 → V1), and whichever the server exports
// is read. Sources: the servers' metrics documentation (vLLM "Production
// Metrics", SGLang "Production Metrics", llama.cpp server README, TGI
// "Metrics", NVIDIA DCGM exporter default counters).
var Families = []Family{
	// vLLM
	{"vllm:num_requests_running", KindVLLM, RoleRunning},
	{"vllm:num_requests_waiting", KindVLLM, RoleWaiting},
	{"vllm:kv_cache_usage_perc", KindVLLM, RoleKVCache},  // V1; a fraction despite the name
	{"vllm:gpu_cache_usage_perc", KindVLLM, RoleKVCache}, // V0
	{"vllm:prefix_cache_hits_total", KindVLLM, RolePrefixHits},
	{"vllm:prefix_cache_queries_total", KindVLLM, RolePrefixQueries},
	{"vllm:gpu_prefix_cache_hits_total", KindVLLM, RolePrefixHits},
	{"vllm:gpu_prefix_cache_queries_total", KindVLLM, RolePrefixQueries},
	{"vllm:gpu_prefix_cache_hit_rate", KindVLLM, RolePrefixHitRate}, // V0
	{"vllm:prompt_tokens_total", KindVLLM, RolePromptTokens},
	{"vllm:generation_tokens_total", KindVLLM, RoleGenTokens},
	{"vllm:time_to_first_token_seconds", KindVLLM, RoleTTFT},
	{"vllm:inter_token_latency_seconds", KindVLLM, RoleTPOT},
	{"vllm:time_per_output_token_seconds", KindVLLM, RoleTPOT}, // deprecated name
	{"vllm:e2e_request_latency_seconds", KindVLLM, RoleE2E},
	{"vllm:num_preemptions_total", KindVLLM, RoleKeep},
	{"vllm:request_queue_time_seconds", KindVLLM, RoleKeep},
	{"vllm:request_success_total", KindVLLM, RoleKeep},

	// SGLang
	{"sglang:num_running_reqs", KindSGLang, RoleRunning},
	{"sglang:num_queue_reqs", KindSGLang, RoleWaiting},
	{"sglang:token_usage", KindSGLang, RoleKVCache},
	{"sglang:cache_hit_rate", KindSGLang, RolePrefixHitRate},
	{"sglang:prompt_tokens_total", KindSGLang, RolePromptTokens},
	{"sglang:generation_tokens_total", KindSGLang, RoleGenTokens},
	{"sglang:time_to_first_token_seconds", KindSGLang, RoleTTFT},
	{"sglang:inter_token_latency_seconds", KindSGLang, RoleTPOT},
	{"sglang:time_per_output_token_seconds", KindSGLang, RoleTPOT},
	{"sglang:e2e_request_latency_seconds", KindSGLang, RoleE2E},
	{"sglang:num_used_tokens", KindSGLang, RoleKeep},
	{"sglang:gen_throughput", KindSGLang, RoleKeep},
	{"sglang:cached_tokens_total", KindSGLang, RoleKeep},

	// llama.cpp llama-server (--metrics); recent versions (Debian's 0.7.0)
	// no longer export the KV-cache gauges.
	{"llamacpp:requests_processing", KindLlamaCpp, RoleRunning},
	{"llamacpp:requests_deferred", KindLlamaCpp, RoleWaiting},
	{"llamacpp:kv_cache_usage_ratio", KindLlamaCpp, RoleKVCache},
	{"llamacpp:kv_cache_tokens", KindLlamaCpp, RoleKeep},
	{"llamacpp:prompt_tokens_total", KindLlamaCpp, RolePromptTokens}, // excludes cached tokens
	{"llamacpp:prompt_tokens_cached_total", KindLlamaCpp, RoleCachedPromptTokens},
	{"llamacpp:tokens_predicted_total", KindLlamaCpp, RoleGenTokens},
	{"llamacpp:prompt_seconds_total", KindLlamaCpp, RoleKeep},
	{"llamacpp:tokens_predicted_seconds_total", KindLlamaCpp, RoleKeep},
	{"llamacpp:n_decode_total", KindLlamaCpp, RoleKeep},
	{"llamacpp:n_tokens_max", KindLlamaCpp, RoleKeep},
	{"llamacpp:n_busy_slots_per_decode", KindLlamaCpp, RoleKeep},
	{"llamacpp:prompt_tokens_seconds", KindLlamaCpp, RoleKeep},
	{"llamacpp:predicted_tokens_seconds", KindLlamaCpp, RoleKeep},

	// Hugging Face TGI
	{"tgi_queue_size", KindTGI, RoleWaiting},
	{"tgi_batch_current_size", KindTGI, RoleRunning},
	{"tgi_batch_current_max_tokens", KindTGI, RoleKeep},
	{"tgi_request_count", KindTGI, RoleKeep},
	{"tgi_request_success", KindTGI, RoleKeep},
	{"tgi_request_input_length", KindTGI, RolePromptTokensHist},
	{"tgi_request_generated_tokens", KindTGI, RoleGenTokensHist},
	{"tgi_request_mean_time_per_token_duration", KindTGI, RoleTPOT},
	{"tgi_request_duration", KindTGI, RoleE2E},
	{"tgi_request_queue_duration", KindTGI, RoleKeep},

	// NVIDIA DCGM exporter, one series per GPU
	{"DCGM_FI_DEV_GPU_UTIL", KindDCGM, RoleGPUUtil},
	{"DCGM_FI_DEV_FB_USED", KindDCGM, RoleGPUMem},
	{"DCGM_FI_DEV_POWER_USAGE", KindDCGM, RoleGPUPower},
	{"DCGM_FI_DEV_FB_FREE", KindDCGM, RoleKeep},
	{"DCGM_FI_DEV_MEM_COPY_UTIL", KindDCGM, RoleKeep},
	{"DCGM_FI_DEV_SM_CLOCK", KindDCGM, RoleKeep},
	{"DCGM_FI_DEV_GPU_TEMP", KindDCGM, RoleKeep},
	{"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", KindDCGM, RoleKeep},
}

// MaxUnknownSeries caps the series kept per scrape of an unknown server.
const MaxUnknownSeries = 200

// MaxSeriesPerFamily caps the series kept per family of a known server
// (a family labelled by model, engine or GPU has a handful).
const MaxSeriesPerFamily = 64

// byName indexes Families.
var byName = func() map[string]Family {
	m := make(map[string]Family, len(Families))
	for _, f := range Families {
		m[f.Name] = f
	}
	return m
}()

// lookup finds a family of the table by its exposed name; a counter exposed
// without its _total suffix (OpenMetrics) is found too.
func lookup(name string) (Family, bool) {
	if f, ok := byName[name]; ok {
		return f, true
	}
	f, ok := byName[name+"_total"]
	return f, ok
}

// prefixes tell a server's kind by its metric names.
var prefixes = []struct {
	prefix string
	kind   Kind
}{
	{"vllm:", KindVLLM},
	{"sglang:", KindSGLang},
	{"llamacpp:", KindLlamaCpp},
	{"tgi_", KindTGI},
	{"DCGM_FI_", KindDCGM},
}

// Detect tells the kind of a /metrics endpoint from its family names: the
// kind with the most families, or KindUnknown.
func Detect(names []string) Kind {
	counts := map[Kind]int{}
	for _, n := range names {
		for _, p := range prefixes {
			if strings.HasPrefix(n, p.prefix) {
				counts[p.kind]++
			}
		}
	}
	best, bestN := KindUnknown, 0
	for _, p := range prefixes {
		if counts[p.kind] > bestN {
			best, bestN = p.kind, counts[p.kind]
		}
	}
	return best
}
