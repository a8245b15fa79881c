package client

import (
	"context"
	"net"
	"testing"
)

// BenchmarkH1Conn_closedByPeer measures the stale-connection peek a pooled
// connection gets before reuse after staleCheckAfter idle: the price of
// checking every reuse instead.
func BenchmarkH1Conn_closedByPeer(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if conn, err := ln.Accept(); err == nil {
			defer conn.Close()
			var buf [1]byte
			conn.Read(buf[:]) // until the client closes
		}
	}()
	t := newH1(&Config{MaxConnections: 1}, ln.Addr().String(), "/", "h", nil)
	t.open = 1
	cn, err := t.dial(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer cn.close()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if cn.closedByPeer() {
			b.Fatal("open connection reported closed")
		}
	}
}

// BenchmarkH1Conn_watchCtx measures tying a connection to a request's
// context: cached when requests share one context (the loadgen's case), a
// new context.AfterFunc registration when each has its own.
func BenchmarkH1Conn_watchCtx(b *testing.B) {
	cn := &h1Conn{}
	cn.interruptFn = cn.interrupt
	parent, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.Run("shared", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cn.watchCtx(parent)
		}
	})
	b.Run("per_request", func(b *testing.B) {
		prev := func() {}
		b.ReportAllocs()
		for b.Loop() {
			ctx, cancel := context.WithCancel(parent)
			cn.watchCtx(ctx) // unregisters from the previous context
			prev()           // so canceling it does not interrupt cn
			prev = cancel
		}
		cn.stop()
		cn.stop, cn.watch = nil, nil
		prev()
	})
}
