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
// For http:// endpoints the Client uses its own HTTP/1.1 transport (h1.go):
// a pool of at most Config.MaxConnections connections (idle ones reused
// last-in first-out, waiters served first-come first-served), with no
// goroutine per connection: the goroutine that calls Do writes the whole
// request with one write(2) and reads the response itself. https:// goes
// through net/http. A request is sent a second time only when the server
// closed the reused connection it was sent on before answering, and every
// such resend is counted (see [Client.Do] and Config.RetryClosedConn).
//
// Failures are data: Do returns the partial [event.Output] and an [*Error]
// whose [Class] (connect_refused, timeout, connection_reset, http_status,
// truncated_stream, ...) becomes the type of an error.* event record.
//
// A Client is safe for concurrent use; an Observer is called on the goroutine
// that called Do.
package client
