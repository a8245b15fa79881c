package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/inferbench/inferbench/internal/event"
)

const (
	maxBodySize = 64 << 20 // a non-streaming body larger than this is malformed
	drainLimit  = 64 << 10 // bytes read after an error response to keep its connection
)

// Client sends requests to one OpenAI-compatible endpoint over a pool of
// keep-alive HTTP/1.1 connections. It is safe for concurrent use.
type Client struct {
	cfg       Config
	tmpl      *bodyTemplate
	url       *url.URL // the completion route
	modelsURL *url.URL
	header    http.Header // shared by every request; never modified after New
	getHeader http.Header
	host      string
	tr        *http.Transport
	h1        *h1Transport // http:// endpoints; nil for https:// (net/http)
	closed    atomic.Bool
}

// New validates cfg, fills its zero fields with defaults and builds a Client.
// The request body's fixed part (model, ExtraBody, stream options) is encoded
// here once.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	base, err := parseEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	tmpl, err := newBodyTemplate(&cfg)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, tmpl: tmpl, modelsURL: route(base, "models")}
	if cfg.API == APIChat {
		c.url = route(base, "chat/completions")
	} else {
		c.url = route(base, "completions")
	}

	c.getHeader = http.Header{}
	c.getHeader.Set("User-Agent", "inferbench")
	if cfg.APIKeyEnv != "" {
		c.getHeader.Set("Authorization", "Bearer "+os.Getenv(cfg.APIKeyEnv))
	}
	for k, v := range cfg.Headers {
		if http.CanonicalHeaderKey(k) == "Host" {
			c.host = v
			continue
		}
		c.getHeader.Set(k, v)
	}
	c.header = c.getHeader.Clone()
	c.header.Set("Content-Type", "application/json")
	if cfg.Streaming {
		c.header.Set("Accept", "text/event-stream")
	} else {
		c.header.Set("Accept", "application/json")
	}

	dialer := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: -1}
	var protocols http.Protocols
	protocols.SetHTTP1(true) // never HTTP/2: one stream per connection, as servers are measured
	c.tr = &http.Transport{
		Proxy: nil, // a benchmark talks to the endpoint, not through HTTP_PROXY
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, network, addr)
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetNoDelay(true) // Go's default, stated: small writes must not wait
			}
			return conn, err
		},
		TLSHandshakeTimeout: cfg.ConnectTimeout,
		TLSClientConfig:     tlsCfg,
		MaxIdleConns:        cfg.MaxConnections,
		MaxIdleConnsPerHost: cfg.MaxConnections,
		MaxConnsPerHost:     cfg.MaxConnections,
		IdleConnTimeout:     cfg.IdleTimeout,
		DisableCompression:  true,
		WriteBufferSize:     16 << 10,
		ReadBufferSize:      16 << 10,
		Protocols:           &protocols,
	}
	if base.Scheme == "http" {
		host := c.host
		if host == "" {
			host = c.url.Host
		}
		port := c.url.Port()
		if port == "" {
			port = "80"
		}
		c.h1 = newH1(&cfg, net.JoinHostPort(c.url.Hostname(), port), c.url.RequestURI(), host, c.header)
	}
	return c, nil
}

// Config returns the configuration in use, defaults filled in.
func (c *Client) Config() Config { return c.cfg }

// Close closes idle connections. Requests in flight finish; the Client must
// not be used afterwards. It reports whether this call closed the Client.
func (c *Client) Close() bool {
	if !c.closed.CompareAndSwap(false, true) {
		return false
	}
	c.tr.CloseIdleConnections()
	if c.h1 != nil {
		c.h1.close()
	}
	return true
}

// Do sends req and reads the response. For an SSE response every chunk with
// content or reasoning is timestamped and reported to obs (which may be nil)
// as it is parsed; see [ReadStream]. Do always returns an Output, partial on
// failure; the error, when not nil, is an [*Error] whose Class says what
// failed. The response format follows the response's Content-Type, so a
// server that ignores "stream" is still read correctly.
//
// Resends: a pooled http:// connection that the server closed while it was
// idle is replaced before the request is sent (that is no resend). With
// Config.RetryClosedConn (the default), a request sent on a reused
// connection is sent once more, on a new connection, when the server closed
// the reused one before the first byte of its answer: either the write
// failed (EPIPE, ECONNRESET) or the first read found EOF or a reset. In the
// second case the server had received the request and may have run it, so
// it may see the request twice. The returned Output's Retries counts the
// resends (0 or 1). A request is never resent after a failure on a new
// connection or after any response byte. https:// requests (net/http) are
// never resent: a closed reused connection fails them as connection_reset.
func (c *Client) Do(ctx context.Context, req *Request, obs Observer) (*event.Output, error) {
	if c.h1 != nil {
		return c.doH1(ctx, req, obs)
	}
	b := bodyPool.Get().(*body)
	b.buf = c.tmpl.append(b.buf[:0], req)

	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	dl := newDeadline(c.cfg.ReadTimeout, c.cfg.TotalTimeout, cancel)
	defer dl.stop()

	hr := (&http.Request{
		Method:        http.MethodPost,
		URL:           c.url,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        c.header,
		Body:          b,
		ContentLength: int64(len(b.buf)),
		Host:          c.host,
	}).WithContext(rctx)
	resp, err := c.tr.RoundTrip(hr)
	if err != nil {
		return &event.Output{}, fail(ctx, rctx, transportError(err))
	}
	defer resp.Body.Close()
	dl.body = resp.Body

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &event.Output{}, fail(ctx, rctx, statusError(resp.StatusCode, dl))
	}
	if enc := resp.Header.Get("Content-Encoding"); !isIdentity([]byte(enc)) {
		_, _ = io.CopyN(io.Discard, dl, drainLimit)
		return &event.Output{}, unsupportedEncoding(resp.StatusCode, enc)
	}
	st := getStream()
	defer putStream(st)
	st.br.Reset(dl)
	var out *event.Output
	if isEventStream(resp.Header.Get("Content-Type")) {
		out, err = st.read(obs)
		if err == nil {
			// Read the rest (the chunked terminator) so the connection is reused.
			_, _ = st.br.Discard(drainLimit)
		}
	} else {
		out, err = st.readBody(resp.StatusCode)
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Class: classify(err), Err: err}
		}
		if e.Status == 0 {
			e.Status = resp.StatusCode
		}
		return out, fail(ctx, rctx, e)
	}
	return out, nil
}

func isEventStream(ct string) bool {
	return len(ct) >= 17 && strings.EqualFold(ct[:17], "text/event-stream")
}

// statusError reads an excerpt of an error response's body.
func statusError(status int, r io.Reader) *Error {
	var buf [maxExcerpt]byte
	n, _ := io.ReadFull(r, buf[:])
	_, _ = io.CopyN(io.Discard, r, drainLimit)
	return &Error{Class: ClassHTTPStatus, Status: status, Body: excerpt(buf[:n]),
		Err: fmt.Errorf("server answered %d %s", status, http.StatusText(status))}
}

// readBody decodes a whole non-streaming JSON response from st.br.
func (st *stream) readBody(status int) (*event.Output, error) {
	return st.readBodyFrom(st.br, status)
}

// readBodyFrom reads r to its end into st.data and decodes it.
func (st *stream) readBodyFrom(r io.Reader, status int) (*event.Output, error) {
	data := st.data[:0]
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if len(data) > maxBodySize {
			st.data = data
			return &event.Output{}, &Error{Class: ClassMalformed, Status: status, Body: excerpt(data),
				Err: fmt.Errorf("response body larger than %d bytes", maxBodySize)}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			st.data = data
			return &event.Output{}, asError(err, status)
		}
	}
	st.data = data
	return st.decodeBody(data, status)
}

// decodeBody decodes a whole JSON response body.
func (st *stream) decodeBody(data []byte, status int) (*event.Output, error) {
	f := &st.f
	if err := parseResponse(data, f); err != nil {
		return &event.Output{}, &Error{Class: ClassMalformed, Status: status, Body: excerpt(data), Err: err}
	}
	if f.hasError {
		return f.output(false, 0), &Error{Class: ClassServerError, Status: status, Body: excerpt(data), Err: serverError(f.errMsg)}
	}
	return f.output(false, 0), nil
}

// fail refines a failure's class with what the contexts know: the request's
// own timer (timeout) or the caller's cancellation. Once either has fired,
// whatever failure follows is theirs: net/http may still hand over a
// response that the server produced because the client went away (an empty
// 200 over TLS), or end a body cleanly (a truncated stream).
func fail(parent, rctx context.Context, e *Error) *Error {
	cause := context.Cause(rctx)
	switch {
	case errors.Is(cause, errReadTimeout), errors.Is(cause, errTotalTimeout):
		e.Class = ClassTimeout
		if !errors.Is(e.Err, cause) {
			e.Err = fmt.Errorf("%w: %w", cause, e.Err)
		}
	case parent.Err() != nil:
		e.Class = ClassCanceled
	}
	return e
}

// deadline cancels a request when no byte arrived for the read timeout or the
// total timeout passed. It wraps the response body to see every read.
type deadline struct {
	timer  *time.Timer
	read   int64 // read timeout, ns
	end    int64 // event.Now() at which the total timeout expires
	cancel context.CancelCauseFunc
	body   io.Reader
}

func newDeadline(read, total time.Duration, cancel context.CancelCauseFunc) *deadline {
	d := &deadline{read: int64(read), end: event.Now() + int64(total), cancel: cancel}
	d.timer = time.AfterFunc(time.Duration(min(d.read, int64(total))), d.fire)
	return d
}

func (d *deadline) fire() {
	if event.Now() >= d.end {
		d.cancel(errTotalTimeout)
	} else {
		d.cancel(errReadTimeout)
	}
}

// touch restarts the read timeout after a read.
func (d *deadline) touch() {
	d.timer.Reset(time.Duration(max(min(d.read, d.end-event.Now()), 0)))
}

func (d *deadline) stop() { d.timer.Stop() }

func (d *deadline) Read(p []byte) (int, error) {
	n, err := d.body.Read(p)
	if n > 0 {
		d.touch()
	}
	return n, err
}

// Models lists the model ids the endpoint serves (GET /v1/models).
func (c *Client) Models(ctx context.Context) ([]string, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	dl := newDeadline(c.cfg.ReadTimeout, c.cfg.TotalTimeout, cancel)
	defer dl.stop()
	hr := (&http.Request{
		Method: http.MethodGet, URL: c.modelsURL, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: c.getHeader, Host: c.host,
	}).WithContext(rctx)
	resp, err := c.tr.RoundTrip(hr)
	if err != nil {
		return nil, fail(ctx, rctx, transportError(err))
	}
	defer resp.Body.Close()
	dl.body = resp.Body
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp.StatusCode, dl)
	}
	data, err := io.ReadAll(io.LimitReader(dl, maxBodySize))
	if err != nil {
		return nil, fail(ctx, rctx, &Error{Class: classify(err), Status: resp.StatusCode, Err: err})
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, &Error{Class: ClassMalformed, Status: resp.StatusCode, Body: excerpt(data), Err: err}
	}
	ids := make([]string, len(list.Data))
	for i, m := range list.Data {
		ids[i] = m.ID
	}
	return ids, nil
}
