package tokenizer_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/tokenizer"
)

func TestResolve_LocalPath(t *testing.T) {
	t.Parallel()
	path := writeTokenizer(t, spTokenizer(true))
	for _, p := range []string{path, filepath.Dir(path)} {
		got, err := tokenizer.Resolve(context.Background(), p, t.TempDir())
		if err != nil || got != p {
			t.Errorf("Resolve(%q) = %q, %v; want the path itself", p, got, err)
		}
	}
}

func TestResolver_Download(t *testing.T) {
	t.Parallel()
	tokJSON, err := os.ReadFile(writeTokenizer(t, spTokenizer(true)))
	if err != nil {
		t.Fatal(err)
	}
	var requests atomic.Int32
	var authOK atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		authOK.Store(r.Header.Get("Authorization") == "Bearer secret")
		switch r.URL.Path {
		case "/acme/tiny/resolve/main/tokenizer.json":
			w.Write(tokJSON)
		case "/acme/tiny/resolve/main/tokenizer_config.json":
			w.Write([]byte(`{"add_bos_token": true}`))
		case "/acme/noconfig/resolve/main/tokenizer.json":
			w.Write(tokJSON)
		case "/acme/gated/resolve/main/tokenizer.json":
			http.Error(w, "gated", http.StatusUnauthorized)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	r := &tokenizer.Resolver{BaseURL: srv.URL, Token: "secret", Client: &http.Client{Timeout: 5 * time.Second}}
	cache := t.TempDir()
	ctx := context.Background()

	dir, err := r.Resolve(ctx, "acme/tiny", cache)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cache, "acme", "tiny"); dir != want {
		t.Errorf("dir = %q, want %q", dir, want)
	}
	if !authOK.Load() {
		t.Error("the bearer token was not sent")
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer_config.json")); err != nil {
		t.Errorf("tokenizer_config.json not saved: %v", err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := tok.Count("ab", false); n != 1 {
		t.Errorf("downloaded tokenizer counts %d tokens for \"ab\", want 1", n)
	}
	before := requests.Load()
	if again, err := r.Resolve(ctx, "acme/tiny", cache); err != nil || again != dir {
		t.Errorf("second Resolve = %q, %v", again, err)
	}
	if requests.Load() != before {
		t.Error("second Resolve downloaded again instead of using the cache")
	}

	if _, err := r.Resolve(ctx, "acme/noconfig", cache); err != nil {
		t.Errorf("a model without tokenizer_config.json: %v", err)
	}
	for _, name := range []string{"acme/missing", "acme/gated"} {
		_, err := r.Resolve(ctx, name, cache)
		if !errors.Is(err, tokenizer.ErrDownload) || !strings.Contains(err.Error(), name) {
			t.Errorf("Resolve(%q) error = %v, want ErrDownload naming it", name, err)
		}
		if _, serr := os.Stat(filepath.Join(cache, name, "tokenizer.json")); serr == nil {
			t.Errorf("Resolve(%q) left a tokenizer.json behind", name)
		}
	}
}

func TestResolver_Offline(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	r := &tokenizer.Resolver{BaseURL: url, Client: &http.Client{Timeout: 5 * time.Second}}
	_, err := r.Resolve(context.Background(), "acme/tiny", t.TempDir())
	if !errors.Is(err, tokenizer.ErrDownload) {
		t.Fatalf("error = %v, want ErrDownload", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "acme/tiny") || !strings.Contains(msg, "local path") {
		t.Errorf("error %q should be one line naming the model and suggesting a local path", msg)
	}
}

func TestResolve_BadName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"../etc/passwd", "/no/such/file.json", "a/b/c", ""} {
		if _, err := tokenizer.Resolve(context.Background(), name, t.TempDir()); err == nil {
			t.Errorf("Resolve(%q) succeeded", name)
		}
	}
}
