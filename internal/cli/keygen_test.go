package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"

	"github.com/inferbench/inferbench/internal/zcurve"
)

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKeygen_RoundTrip runs the real binary as the README says: a
// coordinator and a worker key, the allow-list built by copying files, and
// a CURVE connection between the two key directories.
func TestKeygen_RoundTrip(t *testing.T) {
	tmp := t.TempDir()
	coord, worker := filepath.Join(tmp, "coord"), filepath.Join(tmp, "w0")
	code, stdout, stderr := runInferbench(t, "keygen", "--out", coord, "--role", "coordinator")
	if code != 0 || !strings.Contains(stdout, "public key ") {
		t.Fatalf("keygen coordinator: exit %d\n%s%s", code, stdout, stderr)
	}
	if st, err := os.Stat(filepath.Join(coord, "allowed")); err != nil || !st.IsDir() {
		t.Errorf("no allowed/ directory: %v", err)
	}
	code, stdout, stderr = runInferbench(t, "keygen", "--out", worker, "--name", "w0")
	if code != 0 {
		t.Fatalf("keygen worker: exit %d\n%s%s", code, stdout, stderr)
	}
	st, err := os.Stat(filepath.Join(worker, "key.secret"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key.secret: %v, mode %v", err, st.Mode())
	}
	copyFile(t, filepath.Join(worker, "w0.public"), filepath.Join(coord, "allowed", "w0.public"))
	copyFile(t, filepath.Join(coord, "key.public"), filepath.Join(worker, "coordinator.public"))

	cSelf, allow, _, err := zcurve.LoadDir(coord)
	if err != nil {
		t.Fatal(err)
	}
	wSelf, _, server, err := zcurve.LoadDir(worker)
	if err != nil {
		t.Fatal(err)
	}
	if len(allow) != 1 || allow[0] != wSelf.Public || server != cSelf.Public {
		t.Fatalf("allow %v, server %q: the copied files do not pair the keys", allow, server)
	}
	code, stdout, _ = runInferbench(t, "keygen", "--check", coord)
	if code != 0 || !strings.Contains(stdout, cSelf.Public) || !strings.Contains(stdout, "allowed workers 1") {
		t.Errorf("keygen --check: exit %d: %s", code, stdout)
	}

	// The two directories talk over CURVE.
	srv, err := zmq.NewSocket(zmq.PULL)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	_ = srv.SetLinger(0)
	if err := zcurve.ApplyServer(srv, cSelf, allow); err != nil {
		t.Fatal(err)
	}
	if err := srv.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	ep, _ := srv.GetLastEndpoint()
	cli, err := zmq.NewSocket(zmq.PUSH)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	_ = cli.SetLinger(0)
	if err := zcurve.ApplyClient(cli, wSelf, server); err != nil {
		t.Fatal(err)
	}
	if err := cli.Connect(ep); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Send("job please", 0); err != nil {
		t.Fatal(err)
	}
	_ = srv.SetRcvtimeo(10 * time.Second)
	if m, err := srv.Recv(0); err != nil || m != "job please" {
		t.Fatalf("coordinator got %q, %v", m, err)
	}

	// An existing secret is kept without --force (exit 2), replaced with it.
	before, _ := os.ReadFile(filepath.Join(worker, "key.secret"))
	code, _, stderr = runInferbench(t, "keygen", "--out", worker)
	if code != 2 || !strings.Contains(stderr, "--force") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("keygen over a key: exit %d, stderr %q; want 2 and one line naming --force", code, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(worker, "key.secret")); string(after) != string(before) {
		t.Error("the secret was replaced without --force")
	}
	if code, _, stderr = runInferbench(t, "keygen", "--out", worker, "--force"); code != 0 {
		t.Fatalf("keygen --force: exit %d: %s", code, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(worker, "key.secret")); string(after) == string(before) {
		t.Error("--force kept the old secret")
	}
}

func TestKeygen_BadInput(t *testing.T) {
	tmp := t.TempDir()
	notKey := filepath.Join(tmp, "bad")
	if code, _, stderr := runInferbench(t, "keygen", "--out", notKey); code != 0 {
		t.Fatalf("keygen: %d %s", code, stderr)
	}
	secret := filepath.Join(notKey, "key.secret")
	if err := os.WriteFile(secret, []byte("this is not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	worldReadable := filepath.Join(tmp, "open")
	if code, _, stderr := runInferbench(t, "keygen", "--out", worldReadable); code != 0 {
		t.Fatalf("keygen: %d %s", code, stderr)
	}
	if err := os.Chmod(filepath.Join(worldReadable, "key.secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no --out", []string{"keygen"}, "--out DIR is required"},
		{"bad role", []string{"keygen", "--out", filepath.Join(tmp, "x"), "--role", "boss"}, `--role "boss"`},
		{"name with a path", []string{"keygen", "--out", filepath.Join(tmp, "x"), "--name", "../evil"}, `--name "../evil"`},
		{"reserved name", []string{"keygen", "--out", filepath.Join(tmp, "x"), "--name", "coordinator"}, "reserved"},
		{"key file that is not a key", []string{"keygen", "--check", notKey}, secret + ": zcurve: not a CURVE key"},
		{"world-readable secret", []string{"keygen", "--check", worldReadable}, "chmod 600"},
		{"missing key dir", []string{"keygen", "--check", filepath.Join(tmp, "nope")}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runInferbench(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("exit %d, stderr %q; want 2 and one line containing %q", code, stderr, tc.want)
			}
		})
	}
}
