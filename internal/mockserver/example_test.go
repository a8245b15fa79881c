package mockserver_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/inferbench/inferbench/internal/mockserver"
)

func Example() {
	srv, err := mockserver.New(mockserver.Config{OutputTokens: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	body := `{"messages":[{"role":"user","content":"Say hi"}],"stream":true,"stream_options":{"include_usage":true}}`
	resp, err := http.Post("http://"+ln.Addr().String()+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	events, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, ev := range strings.Split(strings.TrimSpace(string(events)), "\n\n") {
		// Hide the per-request id and timestamp.
		if i := strings.Index(ev, `"choices"`); i >= 0 {
			ev = "data: {..." + ev[i:]
		}
		fmt.Println(ev)
	}
	cancel()
	fmt.Println("serve:", <-served, "requests:", srv.Stats().Requests)
	// Output:
	// data: {..."choices":[{"index":0,"delta":{"role":"assistant","content":" tok"},"finish_reason":null}]}
	// data: {..."choices":[{"index":0,"delta":{"content":" tok"},"finish_reason":null}]}
	// data: {..."choices":[{"index":0,"delta":{"content":" tok"},"finish_reason":null}]}
	// data: {..."choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}
	// data: {..."choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}
	// data: [DONE]
	// serve: <nil> requests: 1
}
