package tokenizer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/inferbench/inferbench/internal/atomicfile"
)

// DefaultBaseURL is the Hugging Face Hub that [Resolve] downloads from.
const DefaultBaseURL = "https://huggingface.co"

// ErrDownload is wrapped by the error [Resolve] returns when a model name
// could not be fetched from the Hub.
var ErrDownload = errors.New("tokenizer: download failed")

// Resolver turns a tokenizer path or Hugging Face model name into a local
// path. Its zero value uses [DefaultBaseURL], a client with a 60 s timeout
// and the HF_TOKEN environment variable.
type Resolver struct {
	// BaseURL is the Hub's base URL (tests point it at a local server).
	BaseURL string
	// Client is the HTTP client; nil means a client with a 60 s timeout.
	Client *http.Client
	// Token is sent as a bearer token; empty means $HF_TOKEN.
	Token string
}

// Resolve is [Resolver.Resolve] with the zero Resolver.
func Resolve(ctx context.Context, nameOrPath, cacheDir string) (string, error) {
	var r Resolver
	return r.Resolve(ctx, nameOrPath, cacheDir)
}

var modelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$`)

// Resolve returns nameOrPath itself when it names an existing file or
// directory. Otherwise nameOrPath is taken as a Hugging Face model name
// ("org/model"): tokenizer.json and, if the model has one,
// tokenizer_config.json are downloaded into cacheDir/<name>/ (reused when
// already there) and that directory is returned. An empty cacheDir means
// the user cache directory's inferbench/tokenizers.
func (r *Resolver) Resolve(ctx context.Context, nameOrPath, cacheDir string) (string, error) {
	if _, err := os.Stat(nameOrPath); err == nil {
		return nameOrPath, nil
	}
	if !modelName.MatchString(nameOrPath) || filepath.Clean(nameOrPath) != nameOrPath {
		return "", fmt.Errorf("tokenizer %q: no such file, and not a Hugging Face model name", nameOrPath)
	}
	if cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("tokenizer %q: no cache directory: %w", nameOrPath, err)
		}
		cacheDir = filepath.Join(base, "inferbench", "tokenizers")
	}
	dir := filepath.Join(cacheDir, filepath.FromSlash(nameOrPath))
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err == nil {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("tokenizer %q: %w", nameOrPath, err)
	}
	// The config is optional; fetch it first so that a present
	// tokenizer.json always means a complete download.
	if err := r.fetch(ctx, nameOrPath, "tokenizer_config.json", dir, true); err != nil {
		return "", err
	}
	if err := r.fetch(ctx, nameOrPath, "tokenizer.json", dir, false); err != nil {
		return "", err
	}
	return dir, nil
}

func (r *Resolver) fetch(ctx context.Context, name, file, dir string, optional bool) error {
	base := r.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	token := r.Token
	if token == "" {
		token = os.Getenv("HF_TOKEN")
	}
	url := base + "/" + name + "/resolve/main/" + file
	fail := func(reason string) error {
		return fmt.Errorf("%w: could not download %s for %q (%s); pass a local path to tokenizer.json instead",
			ErrDownload, file, name, reason)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail(err.Error())
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail(err.Error())
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound && optional:
		return nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fail(fmt.Sprintf("HTTP %d from %s: gated or private model, set HF_TOKEN", resp.StatusCode, url))
	default:
		return fail(fmt.Sprintf("HTTP %d from %s", resp.StatusCode, url))
	}
	// A reader (or a second download) never sees a partial file.
	if err := atomicfile.Write(filepath.Join(dir, file), 0o644, func(w io.Writer) error {
		_, err := io.Copy(w, resp.Body)
		return err
	}); err != nil {
		return fail(err.Error())
	}
	return nil
}
