// Package scrape reads an inference server's own Prometheus metrics during a
// run, beside the client's measurements: every publish interval it GETs each
// /metrics URL (the server's, and optionally a GPU exporter's), parses the
// text format with prometheus/common/expfmt and keeps only the families that
// matter, listed in one table ([Families]) per server kind: vLLM, SGLang,
// llama.cpp, TGI and the NVIDIA DCGM exporter. An unknown server keeps every
// gauge and counter, up to [MaxUnknownSeries] series per scrape.
//
// Only those families reach the parser: the page is cut to them line by
// line first, and histograms (needed only as bucket deltas) are read at the
// tracking window's two ends and left out of the scrapes between.
//
// Each scrape becomes one line of the run's metrics/server.jsonl (bounded by
// [MaxLine]; [Read] rebuilds the summary from it); the latest values feed the dashboard ([Scraper.Live], carried
// in live snapshots as [metrics.ServerGauges]); the scrapes inside the
// tracking window fold into a [metrics.ServerView]: requests running and
// waiting, KV-cache use, prefix-cache hit rate, token counts (counter
// deltas), the server's TTFT/TPOT/latency percentiles (histogram bucket
// deltas) and, with DCGM families, GPU utilisation, memory, power and the
// energy over the window (trapezoids of power between scrapes).
//
// A scrape that fails is counted and reported, never fatal: the benchmark
// is the client's, the server's view is a bonus. A response is bounded
// ([DefaultMaxBody]) and a scrape's time is bounded below the interval (the
// window's two ends get [BoundaryTimeout]).
package scrape
