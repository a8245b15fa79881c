package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/client"
)

// TestServe_ConfigAndFlags runs `inferbench serve` with a config file and a
// flag that overrides it, and checks both took effect, then stops it with
// SIGTERM.
func TestServe_ConfigAndFlags(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(cfg, []byte("model: from-file\noutput_tokens: 5\nttft: 30ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := startInferbench(t, "serve", "--addr", "127.0.0.1:0", "--config", cfg, "--output-tokens", "7")
	urlRx := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	waitFor(t, "the server to listen", 10*time.Second, func() bool { return urlRx.MatchString(s.stderr.String()) })
	cc := client.DefaultConfig()
	cc.Endpoint, cc.Model, cc.Streaming = urlRx.FindString(s.stderr.String()), "x", true
	c, err := client.New(cc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	models, err := c.Models(context.Background())
	if err != nil || len(models) != 1 || models[0] != "from-file" {
		t.Errorf("models %v, %v: want the file's model", models, err)
	}
	start := time.Now()
	out, err := c.Do(context.Background(), &client.Request{Prompt: "hi", MaxTokens: 64}, nil)
	if err != nil || out.Usage == nil || out.Usage.CompletionTokens != 7 {
		t.Errorf("output %+v, %v: want the flag's 7 tokens", out, err)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Errorf("answered in %v: the file's 30ms TTFT was ignored", time.Since(start))
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}
