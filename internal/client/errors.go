package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"
)

// Class is the kind of a failed request. Its value is the error type written
// into error.* event records.
type Class string

// The error classes.
const (
	// ClassConnectRefused: nothing listens on the endpoint's port.
	ClassConnectRefused Class = "connect_refused"
	// ClassConnectTimeout: the TCP connect took longer than Config.ConnectTimeout.
	ClassConnectTimeout Class = "connect_timeout"
	// ClassTimeout: no byte for Config.ReadTimeout, or the request exceeded
	// Config.TotalTimeout.
	ClassTimeout Class = "timeout"
	// ClassConnectionReset: the connection broke (RST, EPIPE, EOF before or in
	// the middle of a response, a keep-alive connection closed by the server).
	ClassConnectionReset Class = "connection_reset"
	// ClassHTTPStatus: the server answered with a non-2xx status.
	ClassHTTPStatus Class = "http_status"
	// ClassServerError: a 2xx response (or an SSE chunk) carrying an "error" object.
	ClassServerError Class = "server_error"
	// ClassTruncated: a 2xx stream that ended without finish_reason and without [DONE].
	ClassTruncated Class = "truncated_stream"
	// ClassMalformed: a chunk or body that is not the expected JSON.
	ClassMalformed Class = "malformed_response"
	// ClassTLS: the TLS handshake failed: the server does not speak TLS on
	// that port (an https:// endpoint on a plain-HTTP port), or its
	// certificate was rejected.
	ClassTLS Class = "tls"
	// ClassUnsupportedEncoding: a 2xx response with a Content-Encoding (gzip,
	// br, ...) the client did not ask for; the client asks for none.
	ClassUnsupportedEncoding Class = "unsupported_encoding"
	// ClassCanceled: the caller's context was canceled.
	ClassCanceled Class = "canceled"
	// ClassOther: anything else.
	ClassOther Class = "other"
)

// maxExcerpt bounds Error.Body.
const maxExcerpt = 512

// Error is a failed request, as data: the loadgen turns it into an error.*
// event record with Class as the type.
type Error struct {
	Class  Class
	Status int    // the HTTP status, when a response arrived
	Body   string // at most 512 bytes of the response body or offending chunk
	Err    error  // the cause, if any
}

// Error returns "class: [HTTP status: ]cause[: body]".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Class))
	if e.Status != 0 {
		b.WriteString(": HTTP ")
		b.WriteString(strconv.Itoa(e.Status))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	if e.Body != "" {
		b.WriteString(": ")
		b.WriteString(strconv.Quote(e.Body))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// excerpt returns at most maxExcerpt bytes of b, cut at a rune boundary.
func excerpt(b []byte) string {
	if len(b) <= maxExcerpt {
		return string(b)
	}
	n := maxExcerpt
	for n > maxExcerpt-utf8.UTFMax && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n])
}

// serverError is the cause of a ClassServerError.
func serverError(msg []byte) error {
	if len(msg) == 0 {
		return errors.New("server sent an error object")
	}
	return errors.New("server error: " + excerpt(msg))
}

// Timeout causes, set on the request context by the request's timer.
var (
	errReadTimeout  = errors.New("no data within read_timeout")
	errTotalTimeout = errors.New("request exceeded total_timeout")
)

// classify maps a transport error to its class with typed checks. The one
// string comparison covers net/http's unexported errServerClosedIdle, which
// has no type to check.
func classify(err error) Class {
	var e *Error
	var op *net.OpError
	var ne net.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Class
	case errors.Is(err, errReadTimeout), errors.Is(err, errTotalTimeout):
		return ClassTimeout
	case errors.Is(err, context.Canceled):
		return ClassCanceled
	case isTLS(err):
		return ClassTLS
	case errors.Is(err, syscall.ECONNREFUSED):
		return ClassConnectRefused
	case errors.As(err, &op) && op.Op == "dial" && op.Timeout():
		return ClassConnectTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return ClassConnectionReset
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return ClassTimeout
	case strings.Contains(err.Error(), "server closed idle connection"):
		return ClassConnectionReset
	}
	return ClassOther
}

// isTLS reports whether err is a failed TLS handshake.
func isTLS(err error) bool {
	var (
		rh    tls.RecordHeaderError
		alert tls.AlertError
		cv    *tls.CertificateVerificationError
		ua    x509.UnknownAuthorityError
		hn    x509.HostnameError
		ci    x509.CertificateInvalidError
	)
	return errors.As(err, &rh) || errors.As(err, &alert) || errors.As(err, &cv) ||
		errors.As(err, &ua) || errors.As(err, &hn) || errors.As(err, &ci)
}

// transportError classifies an error of net/http's RoundTrip. A failed TLS
// handshake says what probably went wrong.
func transportError(err error) *Error {
	e := &Error{Class: classify(err), Err: err}
	if e.Class != ClassTLS {
		return e
	}
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		e.Err = fmt.Errorf("TLS handshake failed: the server answered without TLS (a plain-HTTP port? use http://): %w", err)
	} else {
		e.Err = fmt.Errorf("TLS handshake failed: %w", err)
	}
	return e
}

// unsupportedEncoding is the error of a response with a Content-Encoding
// that was not asked for.
func unsupportedEncoding(status int, enc string) *Error {
	return &Error{Class: ClassUnsupportedEncoding, Status: status,
		Err: fmt.Errorf("server sent Content-Encoding %q, which was not requested (the client sends no Accept-Encoding)", excerpt([]byte(enc)))}
}

// isIdentity reports whether a Content-Encoding value means no encoding: it
// is empty or lists only "identity".
func isIdentity(v []byte) bool {
	for len(v) > 0 {
		i := 0
		for i < len(v) && v[i] != ',' {
			i++
		}
		if tok := trimOWS(v[:i]); len(tok) > 0 && !asciiEqualFold(tok, "identity") {
			return false
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return true
}
