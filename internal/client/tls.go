package client

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
)

// maxCABytes bounds the CA bundle read for TLSCAFile: a system bundle is
// about 200 KB; anything much larger is not a PEM bundle.
const maxCABytes = 8 << 20

// tlsConfig returns the TLS settings of https:// endpoints, or nil for
// Go's defaults (the system's roots, full verification).
func (c *Config) tlsConfig() (*tls.Config, error) {
	if c.TLSCAFile == "" && !c.InsecureSkipVerify {
		return nil, nil
	}
	tc := &tls.Config{InsecureSkipVerify: c.InsecureSkipVerify}
	if c.TLSCAFile != "" {
		pool, err := loadCAFile(c.TLSCAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// loadCAFile reads a PEM bundle of CA certificates. The bundle replaces the
// system's roots, as curl's --cacert does: a private CA is then the only
// one trusted for the endpoint.
func loadCAFile(path string) (*x509.CertPool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("client: tls_ca %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCABytes+1))
	if err != nil {
		return nil, fmt.Errorf("client: tls_ca %s: %w", path, err)
	}
	if len(b) > maxCABytes {
		return nil, fmt.Errorf("client: tls_ca %s: larger than %d MiB, not a PEM bundle of CA certificates", path, maxCABytes>>20)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("client: tls_ca %s: no PEM certificate in it (want a PEM bundle of CA certificates)", path)
	}
	return pool, nil
}
