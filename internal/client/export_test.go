package client

import "crypto/tls"

// Hooks for the black-box tests and benchmarks.

// StaleCheckAfter is staleCheckAfter.
const StaleCheckAfter = staleCheckAfter

// UseNetHTTP makes c send http:// requests through net/http, as before the
// h1 transport, so the two can be compared.
func UseNetHTTP(c *Client) { c.h1 = nil }

// Waiters returns the number of requests waiting for a connection.
func Waiters(c *Client) int {
	c.h1.mu.Lock()
	defer c.h1.mu.Unlock()
	return len(c.h1.waiters)
}

// SetTLSClientConfig makes c's https:// requests use cfg (a test server's
// trusted certificate).
func SetTLSClientConfig(c *Client, cfg *tls.Config) { c.tr.TLSClientConfig = cfg }
