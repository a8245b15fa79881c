package zcurve_test

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	zmq "github.com/pebbe/zmq4"

	"github.com/inferbench/inferbench/internal/zcurve"
)

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
}

func TestReadKeyFile(t *testing.T) {
	kp := genKey(t)
	raw := []byte(zmq.Z85decode(kp.Public))
	for _, tc := range []struct {
		name    string
		data    []byte
		want    string // "" = an error naming the file
		errPart string
	}{
		{"z85", []byte(kp.Public), kp.Public, ""},
		{"z85 with newline and spaces", []byte("  " + kp.Public + "\n"), kp.Public, ""},
		{"32 raw bytes", raw, kp.Public, ""},
		{"empty", nil, "", "0 characters"},
		{"too short", []byte(kp.Public[:39]), "", "39 characters"},
		{"too long", []byte(kp.Public + "x"), "", "41 characters"},
		{"character outside Z85", []byte(kp.Public[:10] + "~" + kp.Public[11:]), "", `character '~' at 11`},
		{"group over 32 bits", []byte("#####" + kp.Public[5:]), "", "overflow 32 bits"},
		{"a PEM file", []byte("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n"), "", "not a CURVE key"},
		{"a huge file", bytes.Repeat([]byte("a"), 10000), "", "over 4096 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "some.public")
			writeFile(t, path, tc.data, 0o600)
			got, err := zcurve.ReadKeyFile(path)
			if tc.want != "" {
				if err != nil || got != tc.want {
					t.Fatalf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted %q as key %q", tc.data, got)
			}
			msg := err.Error()
			if !strings.Contains(msg, path) || !strings.Contains(msg, tc.errPart) || !errors.Is(err, zcurve.ErrNotKey) {
				t.Errorf("error %q: want the file name, %q and ErrNotKey", msg, tc.errPart)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
		})
	}
}

func TestWriteKeyPair_LoadDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "coord")
	kp, w1, w2 := genKey(t), genKey(t), genKey(t)
	if err := zcurve.WriteKeyPair(dir, kp, false); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, zcurve.SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if m := st.Mode().Perm(); m != 0o600 {
		t.Errorf("key.secret mode %04o, want 0600", m)
	}
	other := genKey(t)
	if err := zcurve.WriteKeyPair(dir, other, false); !errors.Is(err, zcurve.ErrExists) {
		t.Errorf("overwrite without force: %v, want ErrExists", err)
	}
	// Allowed workers (listed twice, and a non-key file name ignored) and a
	// coordinator key.
	writeFile(t, filepath.Join(dir, "allowed", "w2.public"), []byte(w2.Public+"\n"), 0o644)
	writeFile(t, filepath.Join(dir, "allowed", "w1.public"), []byte(w1.Public+"\n"), 0o644)
	writeFile(t, filepath.Join(dir, "allowed", "w1-copy.public"), []byte(w1.Public), 0o644)
	writeFile(t, filepath.Join(dir, "allowed", "README"), []byte("not a key"), 0o644)
	self, allow, server, err := zcurve.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if self != kp {
		t.Errorf("self = %+v, want %+v", self, kp)
	}
	want := []string{w1.Public, w2.Public}
	if w2.Public < w1.Public {
		want = []string{w2.Public, w1.Public}
	}
	if strings.Join(allow, ",") != strings.Join(want, ",") {
		t.Errorf("allow = %v, want %v (sorted, deduplicated)", allow, want)
	}
	if server != "" {
		t.Errorf("server = %q without coordinator.public", server)
	}
	writeFile(t, filepath.Join(dir, zcurve.CoordinatorFile), []byte(w1.Public), 0o644)
	if _, _, server, err = zcurve.LoadDir(dir); err != nil || server != w1.Public {
		t.Errorf("server = %q, %v", server, err)
	}
	// --force replaces the pair.
	if err := zcurve.WriteKeyPair(dir, other, true); err != nil {
		t.Fatal(err)
	}
	if self, _, _, err = zcurve.LoadDir(dir); err != nil || self != other {
		t.Errorf("after --force: %+v, %v", self, err)
	}
}

func TestLoadDir_Errors(t *testing.T) {
	kp, other := genKey(t), genKey(t)
	good := func(t *testing.T) string {
		dir := t.TempDir()
		if err := zcurve.WriteKeyPair(dir, kp, false); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) (dir, file string)
		want  string
	}{
		{"missing dir", func(t *testing.T) (string, string) {
			d := filepath.Join(t.TempDir(), "nope")
			return d, d
		}, "no such file"},
		{"no secret", func(t *testing.T) (string, string) {
			d := t.TempDir()
			return d, d
		}, "inferbench keygen --out"},
		{"world-readable secret", func(t *testing.T) (string, string) {
			d := good(t)
			f := filepath.Join(d, zcurve.SecretFile)
			if err := os.Chmod(f, 0o644); err != nil {
				t.Fatal(err)
			}
			return d, f
		}, "chmod 600"},
		{"secret not a key", func(t *testing.T) (string, string) {
			d := good(t)
			f := filepath.Join(d, zcurve.SecretFile)
			writeFile(t, f, []byte("hunter2\n"), 0o600)
			return d, f
		}, "not a CURVE key"},
		{"public does not match secret", func(t *testing.T) (string, string) {
			d := good(t)
			f := filepath.Join(d, zcurve.PublicFile)
			writeFile(t, f, []byte(other.Public), 0o644)
			return d, f
		}, "does not match"},
		{"allowed file not a key", func(t *testing.T) (string, string) {
			d := good(t)
			f := filepath.Join(d, zcurve.AllowedDir, "w0.public")
			writeFile(t, f, []byte("ssh-ed25519 AAAAC3Nza worker0"), 0o644)
			return d, f
		}, "not a CURVE key"},
		{"coordinator.public not a key", func(t *testing.T) (string, string) {
			d := good(t)
			f := filepath.Join(d, zcurve.CoordinatorFile)
			writeFile(t, f, []byte(other.Public[:20]), 0o644)
			return d, f
		}, "20 characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, file := tc.setup(t)
			_, _, _, err := zcurve.LoadDir(dir)
			if err == nil {
				t.Fatal("accepted")
			}
			if msg := err.Error(); !strings.Contains(msg, file) || !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line naming %s and saying %q", msg, file, tc.want)
			}
		})
	}
}

func TestLoadDir_GroupReadableSecretWarns(t *testing.T) {
	dir := t.TempDir()
	kp := genKey(t)
	if err := zcurve.WriteKeyPair(dir, kp, false); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, zcurve.SecretFile), 0o440); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	defer slog.SetDefault(prev)
	self, _, _, err := zcurve.LoadDir(dir)
	if err != nil || self != kp {
		t.Fatalf("group-readable secret (a Kubernetes fsGroup mount): %v", err)
	}
	if !strings.Contains(buf.String(), "accessible to its group") {
		t.Errorf("no warning logged: %q", buf.String())
	}
}

func TestNeedsCurve(t *testing.T) {
	t.Parallel()
	for ep, want := range map[string]bool{
		"tcp://127.0.0.1:5557":          false,
		"tcp://127.1.2.3:5557":          false,
		"tcp://localhost:5557":          false,
		"tcp://LOCALHOST:5557":          false,
		"tcp://[::1]:5557":              false,
		"tcp://eth0;127.0.0.1:5557":     false,
		"ipc:///tmp/x.sock":             false,
		"inproc://x":                    false,
		"tcp://0.0.0.0:5557":            true,
		"tcp://*:5557":                  true,
		"tcp://10.0.0.5:5557":           true,
		"tcp://[::]:5557":               true,
		"tcp://coordinator.default.svc": true,
		"tcp://coord.example.com:5557":  true,
		"tcp://127.0.0.1.evil.com:5557": true,
		"tcp://127.0.0.1;10.0.0.5:5557": true,
		"ws://127.0.0.1:5557":           true,
		"127.0.0.1:5557":                true,
		"":                              true,
	} {
		if got := zcurve.NeedsCurve(ep); got != want {
			t.Errorf("NeedsCurve(%q) = %v, want %v", ep, got, want)
		}
	}
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	kp := genKey(t)
	for _, k := range []string{kp.Public, kp.Secret} {
		if _, err := zcurve.ParseKey(k); err != nil {
			t.Errorf("ParseKey(%q): %v", k, err)
		}
	}
	// The largest 5-character group that fits 32 bits is "%nSc0" (2^32-1).
	if _, err := zcurve.ParseKey(strings.Repeat("%nSc0", 8)); err != nil {
		t.Errorf("max group: %v", err)
	}
	if _, err := zcurve.ParseKey(strings.Repeat("%nSc1", 8)); err == nil {
		t.Error("2^32 accepted")
	}
}
