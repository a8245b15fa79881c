// Package mockserver is an OpenAI-compatible mock inference server with
// controllable timing and injected faults. Tests, the README demo and raw
// speed comparisons (wrk, hey) run against it.
//
// Routes: POST /v1/chat/completions, POST /v1/completions, GET /v1/models,
// GET /health, and GET /metrics: the server's own Prometheus metrics under
// vLLM's names (requests running and waiting, token counters, TTFT and
// end-to-end histograms), for the benchmark's server view. A request with "stream": true gets server-sent events, one
// "data: {json}\n\n" event per chunk, flushed as it is written:
//
//	data: {...,"choices":[{"index":0,"delta":{"role":"assistant","content":" tok"},"finish_reason":null}]}
//	data: {...,"choices":[{"index":0,"delta":{"content":" tok"},"finish_reason":null}]}
//	data: {...,"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}
//	data: {...,"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}
//	data: [DONE]
//
// The usage event is sent only when stream_options.include_usage is true;
// /v1/completions uses choices[0].text instead of the delta. Without
// streaming the body is the usual chat.completion or text_completion object
// with usage. prompt_tokens counts the whitespace-separated words of the
// prompt (chat: of all message contents; a token-id prompt counts its ids).
// finish_reason is "length" when max_tokens (or max_completion_tokens) cut
// the output, else "stop".
//
// Timing is measured from the request's arrival: token k is due at
// TTFT + k×TPOT (each delay jittered), and a chunk goes out when its last
// token is due; a non-streaming answer goes out when its last token is due.
//
// Example:
//
//	srv, err := mockserver.New(mockserver.Config{TTFT: 50 * time.Millisecond, TPOT: 10 * time.Millisecond})
//	if err != nil { ... }
//	ln, _ := net.Listen("tcp", "127.0.0.1:8000")
//	err = srv.Serve(ctx, ln) // returns after ctx ends and requests drain
//
// A [Server] is safe for concurrent use. Its hot path decodes the request
// into a small struct (goccy/go-json, prompt words counted without copying)
// and builds responses with append-style encoders into pooled buffers.
package mockserver
