package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inferbench/inferbench/internal/client"
)

// writeCA writes srv's certificate as a PEM bundle and returns its path.
func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeOtherCA writes a fresh self-signed CA certificate (every httptest
// server shares one certificate, so another CA must be made).
func writeOtherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "other.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestClient_TLSOptions: against a real TLS server on 127.0.0.1 with a
// certificate no system trusts, a request succeeds with the server's CA
// bundle (TLSCAFile) or with InsecureSkipVerify, and fails with class tls
// with neither (or with another CA's bundle).
func TestClient_TLSOptions(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, chunk(`{"content":"ok"}`)+finishStop+done)
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name string
		edit func(*client.Config)
		want client.Class
	}{
		{"server's CA", func(c *client.Config) { c.TLSCAFile = writeCA(t, srv) }, ""},
		{"skip verify", func(c *client.Config) { c.InsecureSkipVerify = true }, ""},
		{"system roots", nil, client.ClassTLS},
		{"another CA", func(c *client.Config) { c.TLSCAFile = writeOtherCA(t) }, client.ClassTLS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, srv.URL, func(c *client.Config) {
				c.Streaming = true
				if tc.edit != nil {
					tc.edit(c)
				}
			})
			out, err := c.Do(context.Background(), &client.Request{Prompt: "p"}, nil)
			checkClass(t, err, tc.want)
			if tc.want == "" && (out == nil || out.Text != "ok") {
				t.Errorf("output %+v, want text ok", out)
			}
		})
	}
}

// TestConfig_ValidateTLSCA: a CA bundle that cannot be read, is not PEM or
// is too large is a one-line error naming the file.
func TestConfig_ValidateTLSCA(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.pem")
	if err := os.WriteFile(huge, make([]byte, 9<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "nope.pem"), "no such file"},
		{"not PEM", notPEM, "no PEM certificate"},
		{"too large", huge, "not a PEM bundle"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := client.DefaultConfig()
			cfg.Endpoint = "https://127.0.0.1:1"
			cfg.TLSCAFile = tc.path
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Validate: %v; want one line naming %s with %q", err, tc.path, tc.want)
			}
			if _, err := client.New(cfg); err == nil {
				t.Error("New accepted the bad CA bundle")
			}
		})
	}
}
