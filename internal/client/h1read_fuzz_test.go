package client

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
)

// h1Result is what a response reader made of a byte stream: the final
// (non-1xx) response's status, the headers the client acts on, and the
// decoded body.
type h1Result struct {
	status  int
	sse     bool // Content-Type is text/event-stream
	keep    bool // the connection may carry another request
	encoded bool // a Content-Encoding other than identity
	body    string
}

// readOurs reads data with the h1 transport's reader.
func readOurs(data []byte) (h1Result, error) {
	cn := &h1Conn{br: bufio.NewReaderSize(bytes.NewReader(data), h1BufSize)}
	cn.body.br = cn.br
	resp, err := cn.readHead()
	if err != nil {
		return h1Result{}, err
	}
	body, err := io.ReadAll(&cn.body)
	if err != nil {
		return h1Result{}, err
	}
	return h1Result{status: resp.status, sse: resp.sse, keep: cn.keep, encoded: resp.encoding != "", body: string(body)}, nil
}

// readStd reads data with net/http.ReadResponse, skipping 1xx interim
// responses as net/http's Transport does.
func readStd(data []byte) (h1Result, *http.Response, error) {
	br := bufio.NewReader(bytes.NewReader(data))
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodPost})
		if err != nil {
			return h1Result{}, nil, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode <= 199 && resp.StatusCode != 101 {
			continue
		}
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return h1Result{body: string(body)}, resp, err // the body read so far
		}
		encoded := false
		for _, v := range resp.Header.Values("Content-Encoding") {
			encoded = encoded || !isIdentity([]byte(v))
		}
		return h1Result{status: resp.StatusCode, sse: isEventStream(resp.Header.Get("Content-Type")),
			keep: !resp.Close, encoded: encoded, body: string(body)}, resp, nil
	}
}

// FuzzH1Read is a differential test of the h1 transport's response reader
// against net/http.ReadResponse: for the same bytes both give the same
// status, framing, keep-alive, Content-Type and Content-Encoding verdicts and
// body, or both fail. Where they differ on purpose, ours is the stricter or
// follows RFC 9112 where net/http does not support a case:
//   - a status below 100, or 101: not a final response to a POST (net/http
//     returns it);
//   - a version other than HTTP/1.x (net/http parses any HTTP/d.d);
//   - a Transfer-Encoding other than a lone "chunked": net/http refuses it,
//     ours reads the body to the connection's end (RFC 9112 §6.3);
//   - trailers: ours skips them to their blank line without parsing them,
//     net/http validates them.
func FuzzH1Read(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n5\r\ndata:\r\n3;ext=1\r\n \n\n\r\n0\r\nTrailer: x\r\n\r\n",
		"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end",
		"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nclose-delimited",
		"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n1\r\na\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc",
		"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops",
		"HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 200 OK\nContent-Length: 1\n\nx",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n  b\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nConnection: close\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nno colon trailer\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: a\n\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2 ;ext\r\nok\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\r\n0\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x01b\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nConnection: keep-alive,\r\n close\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 02\r\n\r\nok",
		"garbage\r\n\r\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ours, oerr := readOurs(data)
		std, resp, serr := readStd(data)
		// Deliberately refused by ours: a status below 100 or 101, and a
		// version other than HTTP/1.x (net/http may refuse such a
		// response for another reason, or accept it).
		var e *Error
		if errors.As(oerr, &e) && strings.HasPrefix(e.Err.Error(), "unexpected status") {
			return
		}
		if resp != nil && (resp.ProtoMajor != 1 || resp.StatusCode < 100 || resp.StatusCode == 101) {
			return
		}
		if len(data) > 5 && string(data[:5]) == "HTTP/" && data[5] != '1' {
			return
		}
		if serr != nil && strings.Contains(serr.Error(), "transfer encoding") {
			// net/http refuses any Transfer-Encoding but one "chunked";
			// ours reads such a body to the connection's end.
			if oerr != nil || !ours.keep {
				return
			}
			t.Fatalf("net/http: %v; ours kept the connection after %+v; want a body read to the end", serr, ours)
		}
		// Trailers are skipped up to their blank line, unparsed (a benchmark
		// never reads them); net/http parses and validates them.
		var pe textproto.ProtocolError
		if oerr == nil && serr != nil && resp != nil && std.body == ours.body &&
			(strings.Contains(serr.Error(), "trailer") || errors.As(serr, &pe)) {
			return
		}
		switch {
		case oerr != nil && serr != nil:
		case oerr != nil:
			t.Fatalf("ours failed (%v), net/http read %+v", oerr, std)
		case serr != nil:
			t.Fatalf("net/http failed (%v), ours read %+v", serr, ours)
		case ours != std:
			t.Fatalf("ours read %+v\nnet/http read %+v", ours, std)
		}
	})
}
