// Package client sends OpenAI-compatible requests (/v1/chat/completions and
// /v1/completions) over a pool of keep-alive HTTP/1.1 connections and times
// every streamed chunk.
//
// A [Client] is built once from a [Config] with [New]; the fixed part of every
// request body is encoded then. [Client.Do] builds the body of a [Request]
// without reflection into a pooled buffer, sends it, and decodes the response:
// an SSE stream with a hand-written reader and JSON scanner (no reflection, no
// allocation per chunk), reporting each content or reasoning chunk to an
// [Observer] with its [event.Now] timestamp, or a whole JSON body.
//
// Failures are data: Do returns the partial [event.Output] and an [*Error]
// whose [Class] (connect_refused, timeout, connection_reset, http_status,
// truncated_stream, ...) becomes the type of an error.* event record.
//
// A Client is safe for concurrent use; an Observer is called on the goroutine
// that called Do.
package client
