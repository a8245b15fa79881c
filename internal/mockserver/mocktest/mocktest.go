// Package mocktest serves the mock server on a real 127.0.0.1 listener for
// the tests of other packages, until the test ends.
package mocktest

import (
	"context"
	"net"
	"testing"

	"github.com/inferbench/inferbench/internal/mockserver"
)

// Start serves cfg on 127.0.0.1 (a free port) until the test ends, and
// returns its base URL and the server.
func Start(t testing.TB, cfg mockserver.Config) (url string, srv *mockserver.Server) {
	t.Helper()
	srv, err := mockserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + ln.Addr().String(), srv
}
