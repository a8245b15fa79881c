package deploy_test

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY...
	args string
}

// stage is one FROM and the instructions under it.
type stage struct {
	image, name string
	body        []instruction
}

// parseDockerfile reads the instructions of path (comments dropped, "\"
// continuations joined) and expands the global ARG defaults in FROM lines.
func parseDockerfile(t *testing.T, path string) (stages []stage) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	args := map[string]string{}
	for _, l := range lines {
		cmd, rest, _ := strings.Cut(l, " ")
		cmd, rest = strings.ToUpper(cmd), strings.TrimSpace(rest)
		switch {
		case cmd == "ARG" && len(stages) == 0:
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case cmd == "FROM":
			fields := strings.Fields(os.Expand(rest, func(k string) string { return args[k] }))
			s := stage{image: fields[0]}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				s.name = fields[2]
			}
			stages = append(stages, s)
		case len(stages) == 0:
			t.Fatalf("%s: %s before the first FROM", path, cmd)
		default:
			st := &stages[len(stages)-1]
			st.body = append(st.body, instruction{cmd, rest})
		}
	}
	return stages
}

// readmeBuild returns the README's build-from-a-clone command line.
func readmeBuild(t *testing.T) (deps, build string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\./scripts/deps\.sh && (go build .*)$`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal(`README.md: no "./scripts/deps.sh && go build ..." line`)
	}
	return "./scripts/deps.sh", strings.TrimSpace(m[1])
}

func find(body []instruction, cmd, contains string) (int, bool) {
	for i, in := range body {
		if in.cmd == cmd && strings.Contains(in.args, contains) {
			return i, true
		}
	}
	return -1, false
}

// TestDockerfile checks the Dockerfile's shape; a test cannot build the
// image (no registry access, no container runtime in CI), so it holds the
// file to what the README and scripts do and to what the Kubernetes
// manifests expect. scripts/docker-verify.sh builds and runs it for real.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join("..", "Dockerfile"))
	if len(stages) != 2 {
		t.Fatalf("%d stages, want 2 (build, runtime)", len(stages))
	}
	build, run := stages[0], stages[1]

	// Build stage: Debian-based golang image of the module's Go version.
	goMod, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(goMod)
	if goLine == nil {
		t.Fatal("go.mod: no go directive")
	}
	debian := regexp.MustCompile(`^golang:` + regexp.QuoteMeta(string(goLine[1])) + `(\.\d+)?-(bookworm|trixie|forky)$`)
	m := debian.FindStringSubmatch(build.image)
	if m == nil {
		t.Errorf("build stage FROM %s: want golang:%s-<debian release>", build.image, goLine[1])
	}
	if build.name == "" {
		t.Error("build stage has no name (FROM ... AS build)")
	}
	deps, goBuild := readmeBuild(t)
	iDeps, ok := find(build.body, "RUN", deps)
	if !ok {
		t.Errorf("build stage does not RUN %s", deps)
	} else if strings.Contains(build.body[iDeps].args, "--test") {
		t.Errorf("build stage runs %q: the test dependencies do not belong in the image", build.body[iDeps].args)
	}
	if iCopy, ok := find(build.body, "COPY", "scripts/deps.sh"); !ok || iCopy > iDeps {
		t.Error("scripts/deps.sh is not copied before it runs")
	}
	iBuild, ok := find(build.body, "RUN", goBuild)
	if !ok {
		t.Errorf("build stage does not RUN the README's %q", goBuild)
	} else if iBuild < iDeps {
		t.Error("go build runs before scripts/deps.sh")
	}
	// The binary the build writes is the one the runtime stage copies.
	out := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(goBuild)
	workdir := "/"
	for _, in := range build.body[:max(iBuild, 0)] {
		if in.cmd == "WORKDIR" {
			workdir = in.args
		}
	}
	built := filepath.Join(workdir, out[1])
	if iBuild < 0 {
		built = "" // reported above
	}

	// Runtime stage: Debian slim of the same release, libzmq5, non-root.
	if m != nil && run.image != "debian:"+m[2]+"-slim" {
		t.Errorf("runtime FROM %s: want debian:%s-slim (the release the binary was linked on)", run.image, m[2])
	}
	iApt, ok := find(run.body, "RUN", "apt-get install")
	if !ok {
		t.Error("runtime stage installs no packages")
	} else {
		for _, pkg := range []string{"libzmq5", "ca-certificates", "--no-install-recommends"} {
			if !strings.Contains(run.body[iApt].args, pkg) {
				t.Errorf("runtime apt-get install lacks %s", pkg)
			}
		}
	}
	var copied, entry, user string
	for _, in := range run.body {
		switch in.cmd {
		case "COPY":
			if f := strings.Fields(in.args); len(f) == 3 && f[0] == "--from="+build.name {
				if built != "" && f[1] != built {
					t.Errorf("runtime copies %s; the build writes %s", f[1], built)
				}
				copied = f[2]
			}
		case "ENTRYPOINT":
			entry = in.args
		case "USER":
			user = in.args
		}
	}
	if copied == "" {
		t.Fatal("runtime stage copies nothing from the build stage")
	}
	if entry != `["`+copied+`"]` {
		t.Errorf(`ENTRYPOINT %s: want the exec form ["%s"]`, entry, copied)
	}
	if uid, _, _ := strings.Cut(user, ":"); user == "" || uid == "root" || uid == "0" {
		t.Errorf("USER %q: want a non-root numeric user (Kubernetes runAsNonRoot checks a number)", user)
	} else if !regexp.MustCompile(`^\d+$`).MatchString(uid) {
		t.Errorf("USER %q: want a numeric uid", user)
	}
}

// TestDockerfile_ScriptsBuildTheSameWay: the scripts that build the binary
// use the README's go build too, so the image is what users build.
func TestDockerfile_ScriptsBuildTheSameWay(t *testing.T) {
	_, goBuild := readmeBuild(t)
	pkg := strings.Fields(goBuild)
	want := pkg[len(pkg)-1] // ./cmd/inferbench
	for _, s := range []string{"demo.sh"} {
		b, err := os.ReadFile(filepath.Join("..", "scripts", s))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "./scripts/deps.sh") || !regexp.MustCompile(`go build -o \S+ `+regexp.QuoteMeta(want)).Match(b) {
			t.Errorf("scripts/%s does not build with deps.sh and go build ... %s", s, want)
		}
	}
}
