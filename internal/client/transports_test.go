package client_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/inferbench/inferbench/internal/client"
)

// transports are the ways a Client reaches a server: its own HTTP/1.1
// transport (http://), net/http over plain HTTP (UseNetHTTP), and net/http
// over TLS (https://, always net/http).
var transports = []string{"h1", "net_http", "https"}

// startServer starts an httptest server for transport tr: a TLS one for
// "https".
func startServer(t *testing.T, tr string, h http.Handler) *httptest.Server {
	t.Helper()
	var srv *httptest.Server
	if tr == "https" {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv
}

// clientFor builds a Client for srv on transport tr, trusting srv's
// certificate for "https".
func clientFor(t *testing.T, tr string, srv *httptest.Server, edit func(*client.Config)) *client.Client {
	t.Helper()
	c := newClient(t, srv.URL, edit)
	switch tr {
	case "net_http":
		client.UseNetHTTP(c)
	case "https":
		client.SetTLSClientConfig(c, srv.Client().Transport.(*http.Transport).TLSClientConfig)
	}
	return c
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestClient_Do_unrequestedEncoding: the client asks for no encoding, so a
// 2xx response in gzip (or any other coding) is class unsupported_encoding,
// on every transport, streamed or not; "identity" is no encoding.
func TestClient_Do_unrequestedEncoding(t *testing.T) {
	tests := []struct {
		name      string
		encoding  string
		streaming bool
		want      client.Class
	}{
		{"gzip JSON", "gzip", false, client.ClassUnsupportedEncoding},
		{"gzip SSE", "gzip", true, client.ClassUnsupportedEncoding},
		{"br", "br", false, client.ClassUnsupportedEncoding},
		{"identity", "identity", false, ""},
	}
	for _, tc := range tests {
		for _, tr := range transports {
			t.Run(tr+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				var requested []string
				srv := startServer(t, tr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					requested = r.Header.Values("Accept-Encoding")
					body := okJSON
					w.Header().Set("Content-Type", "application/json")
					if tc.streaming {
						body = chunk(`{"content":"ok"}`) + finishStop + done
						w.Header().Set("Content-Type", "text/event-stream")
					}
					w.Header().Set("Content-Encoding", tc.encoding)
					if tc.encoding == "identity" {
						io.WriteString(w, body)
						return
					}
					w.Write(gzipped(t, body))
				}))
				c := clientFor(t, tr, srv, func(c *client.Config) { c.Streaming = tc.streaming })
				out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil)
				t.Logf("error: %v", err)
				checkClass(t, err, tc.want)
				if len(requested) != 0 {
					t.Errorf("request sent Accept-Encoding %q", requested)
				}
				if tc.want == "" {
					if out.Text != "ok" {
						t.Errorf("text %q, want ok", out.Text)
					}
					return
				}
				if !strings.Contains(err.Error(), tc.encoding) || !strings.Contains(err.Error(), "not requested") {
					t.Errorf("error %q does not name the encoding and say it was not requested", err)
				}
				var e *client.Error
				if errors.As(err, &e); e.Status != 200 {
					t.Errorf("Status = %d, want 200", e.Status)
				}
				// The connection stays usable for the next request.
				if _, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil); err == nil {
					t.Error("second request succeeded: the server still sends gzip")
				}
			})
		}
	}
}

// TestClient_Do_tls: https:// to a plain-HTTP port, and to a TLS server
// whose certificate is not trusted, fail as class tls, the first saying
// that the server does not speak TLS.
func TestClient_Do_tls(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, okJSON)
	})
	plain := httptest.NewServer(ok)
	defer plain.Close()
	untrusted := httptest.NewTLSServer(ok)
	defer untrusted.Close()
	tests := []struct {
		name, endpoint, wantMsg string
	}{
		{"https to a plain-HTTP port", "https://" + plain.Listener.Addr().String(), "without TLS"},
		{"untrusted certificate", untrusted.URL, "certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, tc.endpoint, nil)
			_, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil)
			t.Logf("error: %v", err)
			checkClass(t, err, client.ClassTLS)
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
			if _, err := c.Models(context.Background()); err == nil || !strings.Contains(err.Error(), string(client.ClassTLS)) {
				t.Errorf("Models: %v, want a tls error", err)
			}
		})
	}
}
