// Package zcurve secures the fleet's ZeroMQ sockets with CURVE (libzmq's
// CurveZMQ, through github.com/pebbe/zmq4): key pairs, the on-disk key
// directory, the server side with an allow-list of client public keys
// checked by a ZAP handler, and the client side.
//
// Key directory layout (what [LoadDir] reads and [WriteKeyPair] writes):
//
//	DIR/key.secret          this host's secret key (Z85, 40 chars; mode 0600)
//	DIR/key.public          this host's public key (Z85; must match key.secret)
//	DIR/allowed/*.public    coordinator only: the workers' public keys it accepts
//	DIR/coordinator.public  worker only: the coordinator's public key
//
// A key file holds one key: 40 Z85 characters (surrounding white space is
// ignored) or the 32 raw bytes. Anything else is an error naming the file.
//
// Secret key files: a file readable or writable by "other" is refused, like
// ssh refuses a world-readable identity file. A group-readable secret is
// accepted with a warning, because Kubernetes mounts Secret volumes 0440
// when the pod sets fsGroup (the usual way to let a non-root user read them).
//
// Encryption is needed when traffic leaves the host: [NeedsCurve] says
// whether an endpoint is off the loopback interface.
package zcurve

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	zmq "github.com/pebbe/zmq4"
)

// File names inside a key directory.
const (
	SecretFile      = "key.secret"
	PublicFile      = "key.public"
	AllowedDir      = "allowed"
	CoordinatorFile = "coordinator.public"
	// PublicSuffix ends every file read from AllowedDir.
	PublicSuffix = ".public"
)

// maxKeyFile bounds a key file read: a key is 40 characters (or 32 bytes);
// a longer file is not a key, and is not read whole.
const maxKeyFile = 4096

// maxAllowed bounds the allow-list read from a directory.
const maxAllowed = 100000

// KeyPair is a CURVE key pair, both halves Z85 text of 40 characters.
type KeyPair struct{ Public, Secret string }

// Errors.
var (
	// ErrNotKey: a file or string is not a CURVE key.
	ErrNotKey = errors.New("zcurve: not a CURVE key (want 40 Z85 characters or 32 raw bytes)")
	// ErrNoCurve: the linked libzmq was built without CURVE.
	ErrNoCurve = errors.New("zcurve: libzmq has no CURVE support (build it with libsodium)")
	// ErrExists: WriteKeyPair would replace an existing secret.
	ErrExists = errors.New("zcurve: a secret key already exists (use --force to replace it)")
)

// Generate returns a fresh key pair from libzmq's generator.
func Generate() (KeyPair, error) {
	if !zmq.HasCurve() {
		return KeyPair{}, ErrNoCurve
	}
	pub, sec, err := zmq.NewCurveKeypair()
	if err != nil {
		return KeyPair{}, fmt.Errorf("zcurve: generate: %w", err)
	}
	return KeyPair{Public: pub, Secret: sec}, nil
}

// z85Alphabet is ZeroMQ RFC 32's alphabet, in digit order.
const z85Alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"

// z85Value maps a character to its digit, -1 when it is not in the alphabet.
var z85Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(z85Alphabet) {
		t[z85Alphabet[i]] = int8(i)
	}
	return t
}()

// ParseKey checks that s is a 40-character Z85 key whose every 5-character
// group decodes to 32 bits (libzmq's decoder silently wraps an overflowing
// group, so a typo would become a different, valid-looking key).
func ParseKey(s string) (string, error) {
	if len(s) != 40 {
		return "", fmt.Errorf("%w: %d characters", ErrNotKey, len(s))
	}
	for g := 0; g < 40; g += 5 {
		var v uint64
		for i := g; i < g+5; i++ {
			d := z85Value[s[i]]
			if d < 0 {
				return "", fmt.Errorf("%w: character %q at %d", ErrNotKey, s[i], i+1)
			}
			v = v*85 + uint64(d)
		}
		if v > 0xFFFFFFFF {
			return "", fmt.Errorf("%w: characters %d-%d overflow 32 bits", ErrNotKey, g+1, g+5)
		}
	}
	return s, nil
}

// encodeZ85 encodes 32 raw bytes (len multiple of 4) as Z85.
func encodeZ85(b []byte) string {
	out := make([]byte, 0, len(b)/4*5)
	for i := 0; i < len(b); i += 4 {
		v := uint32(b[i])<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])
		var g [5]byte
		for j := 4; j >= 0; j-- {
			g[j] = z85Alphabet[v%85]
			v /= 85
		}
		out = append(out, g[:]...)
	}
	return string(out)
}

// ReadKeyFile reads one key from path: 40 Z85 characters (white space
// around them ignored) or exactly 32 raw bytes. Errors name the file.
func ReadKeyFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	buf, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	n := len(buf)
	if n > maxKeyFile {
		return "", fmt.Errorf("%s: %w: the file is over %d bytes", path, ErrNotKey, maxKeyFile)
	}
	if n == 32 && !isText(buf) {
		return encodeZ85(buf), nil
	}
	k, err := ParseKey(strings.TrimSpace(string(buf)))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// isText reports whether b is all Z85 characters (a 32-byte file of those
// is a truncated text key, not binary).
func isText(b []byte) bool {
	for _, c := range b {
		if z85Value[c] < 0 {
			return false
		}
	}
	return true
}

// checkSecretMode refuses a secret file other users can read or write and
// warns about a group-readable one (see the package doc for why).
func checkSecretMode(path string, log *slog.Logger) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	m := st.Mode().Perm()
	if m&0o007 != 0 {
		return fmt.Errorf("%s: secret key file has mode %04o, readable or writable by other users; run: chmod 600 %s", path, m, path)
	}
	if m&0o070 != 0 {
		log.Warn("zcurve: secret key file is accessible to its group; chmod 600 unless a Kubernetes fsGroup needs it", "file", path, "mode", fmt.Sprintf("%04o", m))
	}
	return nil
}

// LoadDir reads a key directory (layout in the package doc). self is this
// host's pair from key.secret (whose public half is checked against
// key.public when that exists); allow holds the keys of allowed/*.public,
// sorted, nil when the directory has none; server is coordinator.public, ""
// when absent. Which of allow and server a role needs is the caller's rule.
func LoadDir(dir string) (self KeyPair, allow []string, server string, err error) {
	return loadDir(dir, slog.Default())
}

func loadDir(dir string, log *slog.Logger) (self KeyPair, allow []string, server string, err error) {
	if !zmq.HasCurve() {
		return KeyPair{}, nil, "", ErrNoCurve
	}
	st, err := os.Stat(dir)
	if err != nil {
		return KeyPair{}, nil, "", fmt.Errorf("key directory %s: %w", dir, err)
	}
	if !st.IsDir() {
		return KeyPair{}, nil, "", fmt.Errorf("key directory %s: not a directory", dir)
	}
	secPath := filepath.Join(dir, SecretFile)
	if err := checkSecretMode(secPath, log); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return KeyPair{}, nil, "", fmt.Errorf("key directory %s: no %s (write one with: inferbench keygen --out %s)", dir, SecretFile, dir)
		}
		return KeyPair{}, nil, "", err
	}
	if self.Secret, err = ReadKeyFile(secPath); err != nil {
		return KeyPair{}, nil, "", err
	}
	derived, err := zmq.AuthCurvePublic(self.Secret)
	if err != nil {
		return KeyPair{}, nil, "", fmt.Errorf("%s: derive the public key: %w", secPath, err)
	}
	self.Public = derived
	pubPath := filepath.Join(dir, PublicFile)
	pub, err := ReadKeyFile(pubPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return KeyPair{}, nil, "", err
	case subtle.ConstantTimeCompare([]byte(pub), []byte(derived)) != 1:
		return KeyPair{}, nil, "", fmt.Errorf("%s: does not match %s (the pair was mixed up; run keygen again)", pubPath, SecretFile)
	}
	allowDir := filepath.Join(dir, AllowedDir)
	entries, err := os.ReadDir(allowDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return KeyPair{}, nil, "", fmt.Errorf("%s: %w", allowDir, err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), PublicSuffix) {
			continue
		}
		if len(allow) >= maxAllowed {
			return KeyPair{}, nil, "", fmt.Errorf("%s: more than %d keys", allowDir, maxAllowed)
		}
		k, err := ReadKeyFile(filepath.Join(allowDir, e.Name()))
		if err != nil {
			return KeyPair{}, nil, "", err
		}
		allow = append(allow, k)
	}
	slices.Sort(allow)
	allow = slices.Compact(allow)
	server, err = ReadKeyFile(filepath.Join(dir, CoordinatorFile))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return KeyPair{}, nil, "", err
		}
		server = ""
	}
	return self, allow, server, nil
}

// WriteKeyPair writes kp into dir as key.public (0644) and key.secret
// (0600), creating dir (0700) when missing. An existing key.secret is
// replaced only with force; otherwise the error wraps [ErrExists]. The
// secret is written to a temporary file first, so a crash never leaves a
// half-written key.
func WriteKeyPair(dir string, kp KeyPair, force bool) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	secPath := filepath.Join(dir, SecretFile)
	if _, err := os.Lstat(secPath); err == nil && !force {
		return fmt.Errorf("%s: %w", secPath, ErrExists)
	}
	if err := writeFile(secPath, kp.Secret+"\n", 0o600); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, PublicFile), kp.Public+"\n", 0o644)
}

// writeFile writes data to path through a temporary file and a rename; the
// temporary file is created with perm, so a secret is never readable by
// others, even for an instant.
func writeFile(path, data string, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after the rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(name, path)
}

// NeedsCurve reports whether traffic to or from endpoint leaves the host:
// true unless the endpoint is tcp:// on a loopback host (127.0.0.0/8, ::1,
// localhost). ipc:// and inproc:// never leave the host; any other
// transport (or an endpoint that does not parse) needs CURVE, to fail safe.
func NeedsCurve(endpoint string) bool {
	scheme, rest, ok := strings.Cut(endpoint, "://")
	if !ok {
		return true
	}
	switch scheme {
	case "ipc", "inproc":
		return false
	case "tcp":
	default:
		return true
	}
	// tcp://[iface;]host:port: a connect endpoint may name a source
	// interface before ';'; the destination is what counts.
	if i := strings.LastIndexByte(rest, ';'); i >= 0 {
		rest = rest[i+1:]
	}
	host, _, err := net.SplitHostPort(rest)
	if err != nil {
		return true
	}
	if strings.EqualFold(host, "localhost") {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}
