package client

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// The APIs a Client can speak.
const (
	APIChat        = "chat"        // POST /v1/chat/completions
	APICompletions = "completions" // POST /v1/completions
)

// Defaults applied by [New] to zero fields, and by [DefaultConfig].
const (
	DefaultAPI            = APIChat
	DefaultMaxTokens      = 256
	DefaultMaxConnections = 2048
	DefaultConnectTimeout = 10 * time.Second
	DefaultReadTimeout    = 60 * time.Second
	// DefaultTimeout bounds a whole request, from issue to the last byte.
	DefaultTimeout = 10 * time.Minute
	// DefaultIdleTimeout is below the 5 s keep-alive timeout of uvicorn (vLLM,
	// SGLang) and llama-server, so the client drops an idle connection before
	// the server does and the "server closed idle connection" race is rare.
	DefaultIdleTimeout = 4 * time.Second
)

// Config configures a [Client]. Start from [DefaultConfig] when decoding YAML
// so that IncludeUsage and RetryClosedConn keep their default of true; [New]
// fills every other zero field with its default.
type Config struct {
	// Endpoint is the server's base URL, http or https, with or without a
	// trailing /v1: "http://127.0.0.1:8000" and "http://host/v1" both reach
	// "/v1/chat/completions".
	Endpoint string `yaml:"endpoint"`
	// API is "chat" (default) or "completions".
	API string `yaml:"api"`
	// Model is sent as "model".
	Model string `yaml:"model"`
	// Streaming asks for an SSE stream ("stream": true).
	Streaming bool `yaml:"streaming"`
	// IncludeUsage sends "stream_options": {"include_usage": true} with
	// streaming requests. Default true (see DefaultConfig).
	IncludeUsage bool `yaml:"include_usage"`
	// MaxTokens is sent as "max_tokens" when a Request sets none. Default 256.
	MaxTokens int `yaml:"max_tokens"`
	// Temperature is sent when not nil.
	Temperature *float64 `yaml:"temperature"`
	// ExtraBody is merged into every request body; its keys replace the
	// client's own (e.g. "max_completion_tokens", "ignore_eos", "top_p").
	ExtraBody map[string]any `yaml:"extra_body"`
	// Headers are added to every request.
	Headers map[string]string `yaml:"headers"`
	// APIKeyEnv names an environment variable whose value is sent as
	// "Authorization: Bearer <value>". The variable must be set.
	APIKeyEnv string `yaml:"api_key_env"`
	// MaxConnections bounds the open connections (and so the requests in
	// flight) to the endpoint. Default 2048.
	MaxConnections int `yaml:"max_connections"`
	// ConnectTimeout bounds a TCP connect. Default 10s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ReadTimeout is the longest wait for the next byte, from issue to the
	// end of the response (so it also bounds time to first byte). Default 60s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// TotalTimeout bounds a whole request. Default 10m.
	TotalTimeout time.Duration `yaml:"total_timeout"`
	// IdleTimeout closes keep-alive connections idle this long. Default 4s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// RetryClosedConn lets the client send a request once more, on a new
	// connection, when the server closed the reused connection it was sent
	// on before answering (see [Client.Do]). Every resend is counted in the
	// Output's Retries. Default true (see DefaultConfig); false makes such a
	// request fail as connection_reset.
	RetryClosedConn bool `yaml:"retry_closed_conn"`
	// TLSCAFile is a PEM bundle of CA certificates that https:// endpoints
	// are verified against, instead of the system's roots (a private CA).
	TLSCAFile string `yaml:"tls_ca"`
	// InsecureSkipVerify accepts any certificate of an https:// endpoint
	// (self-signed test servers). The traffic is still encrypted.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// DefaultConfig returns a Config with every default set and no endpoint.
func DefaultConfig() Config {
	return Config{
		API:            DefaultAPI,
		IncludeUsage:   true,
		MaxTokens:      DefaultMaxTokens,
		MaxConnections: DefaultMaxConnections,
		ConnectTimeout: DefaultConnectTimeout,
		ReadTimeout:    DefaultReadTimeout,
		TotalTimeout:   DefaultTimeout,
		IdleTimeout:    DefaultIdleTimeout,
		// The retry is on by default: servers close kept-alive connections
		// at will (llama-server after every streamed response), and failing
		// those requests would blame the server for the client's reuse.
		RetryClosedConn: true,
	}
}

// withDefaults returns c with zero fields set to their defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.API == "" {
		c.API = d.API
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = d.MaxTokens
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = d.MaxConnections
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = d.ConnectTimeout
	}
	if c.ReadTimeout == 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.TotalTimeout == 0 {
		c.TotalTimeout = d.TotalTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	return c
}

// Validate reports the first invalid field, naming it and its value. Zero
// values are valid: they mean the default.
func (c *Config) Validate() error {
	if _, err := parseEndpoint(c.Endpoint); err != nil {
		return err
	}
	if c.API != "" && c.API != APIChat && c.API != APICompletions {
		return fmt.Errorf("client: api %q: must be %q or %q", c.API, APIChat, APICompletions)
	}
	if c.MaxTokens < 0 {
		return fmt.Errorf("client: max_tokens %d: must not be negative", c.MaxTokens)
	}
	if c.MaxConnections < 0 {
		return fmt.Errorf("client: max_connections %d: must not be negative", c.MaxConnections)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"connect_timeout", c.ConnectTimeout}, {"read_timeout", c.ReadTimeout},
		{"total_timeout", c.TotalTimeout}, {"idle_timeout", c.IdleTimeout},
	} {
		if d.v < 0 {
			return fmt.Errorf("client: %s %v: must not be negative", d.name, d.v)
		}
	}
	for k, v := range c.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n\t") {
			return fmt.Errorf("client: headers: invalid name %q", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("client: headers[%q]: value %q contains a line break", k, v)
		}
	}
	if c.APIKeyEnv != "" {
		if _, ok := os.LookupEnv(c.APIKeyEnv); !ok {
			return fmt.Errorf("client: api_key_env %q: variable is not set", c.APIKeyEnv)
		}
	}
	if _, err := c.tlsConfig(); err != nil {
		return err
	}
	return nil
}

var errNoEndpoint = errors.New("client: endpoint is empty")

// parseEndpoint checks the base URL.
func parseEndpoint(s string) (*url.URL, error) {
	if s == "" {
		return nil, errNoEndpoint
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("client: endpoint %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("client: endpoint %q: scheme must be http or https", s)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("client: endpoint %q: no host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("client: endpoint %q: must not have a query or fragment", s)
	}
	return u, nil
}

// route joins base and a route under /v1 ("chat/completions"), whether or not
// base already ends in /v1.
func route(base *url.URL, r string) *url.URL {
	u := *base
	p := strings.TrimRight(u.Path, "/")
	if !strings.HasSuffix(p, "/v1") {
		p += "/v1"
	}
	u.Path = p + "/" + r
	u.RawPath = ""
	return &u
}
