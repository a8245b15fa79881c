#!/usr/bin/env bash
# Optional, manual: builds the repository's Dockerfile with podman on a clean
# clone of HEAD and runs the image: --help, worker --help, the mock server
# (inferbench serve) in one container, an offline benchmark against it from
# another, and a 2-worker fleet run (coordinator and workers in their own
# containers). Neither CI nor scripts/test.sh runs it: it needs root, podman
# and a few minutes.
#
# Hosts that cannot pull from Docker Hub get local stand-ins for the two base
# images, built only when missing: debian:trixie-slim from a debootstrap
# --variant=minbase rootfs (with the apt/dpkg settings Debian's container
# images carry, so layer sizes compare), and golang:1.26-trixie = that plus
# the packages the official golang image adds and a Go 1.26 toolchain
# (GOTOOLCHAIN, default: the local go; `go env GOROOT` downloads it through
# the module proxy when it is not the local one). The locally added CAs of
# this host (EXTRA_CA_DIR, default /usr/local/share/ca-certificates) go into
# the golang stand-in, for networks whose egress re-signs TLS.
#
#   apt-get install podman debootstrap runc     # once
#   ./scripts/docker-verify.sh                  # prints the image size, build time, results
#
# The images stay (podman rmi localhost/inferbench:verify and the stand-ins
# to remove them). Environment: DOCKER_VERIFY_DIR (scratch, default /tmp/inferbench-docker-verify,
# removed at the end unless KEEP=1), PORT (first of two local TCP ports, default
# 18090), PODMAN_OPTS and RUN_OPTS (defaults suit VMs whose crun refuses
# hybrid cgroups and that may not raise rlimits: --runtime runc; host network
# and lowered ulimits), BUILD_OPTS (default --isolation chroot, same reason).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=${DOCKER_VERIFY_DIR:-/tmp/inferbench-docker-verify}
port=${PORT:-18090}
image=localhost/inferbench:verify
read -r -a podman_opts <<<"${PODMAN_OPTS---runtime runc}"
read -r -a run_opts <<<"${RUN_OPTS:---network host --ulimit nofile=4096:4096 --ulimit nproc=4096:4096}"
read -r -a build_opts <<<"${BUILD_OPTS:---isolation chroot}"

die() { echo "docker-verify: $*" >&2; exit 1; }
step() { echo "docker-verify: $*" >&2; }
[[ $(id -u) -eq 0 ]] || die "run as root (podman's storage and debootstrap need it)"
for c in podman git go; do command -v "$c" >/dev/null || die "$c not found (apt-get install podman debootstrap runc)"; done

mkdir -p "$work"
containers=()
cleanup() {
  for c in "${containers[@]}"; do podman rm -f "$c" >/dev/null 2>&1 || true; done
  if [[ "${KEEP:-0}" != 1 ]]; then chmod -R u+w "$work" 2>/dev/null || true; rm -rf "$work"; fi
}
trap cleanup EXIT
run() { podman "${podman_opts[@]}" run "${run_opts[@]}" "$@"; }

# --- base images (stand-ins only when missing) -------------------------------
if ! podman image exists docker.io/library/debian:trixie-slim; then
  command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
  step "building a stand-in debian:trixie-slim (debootstrap --variant=minbase trixie)"
  rootfs=$work/rootfs
  debootstrap --variant=minbase trixie "$rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 ||
    { tail -5 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  # What Debian's images set: apt keeps no .debs or caches, no translations;
  # dpkg installs no docs, man pages or locales (the "slim" variant).
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  mkdir -p "$rootfs/etc/dpkg/dpkg.cfg.d"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
    'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
    >"$rootfs/etc/dpkg/dpkg.cfg.d/docker"
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$rootfs"/usr/share/{man,info}/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  tar -C "$rootfs" -c . | podman import --quiet --change 'CMD ["bash"]' - docker.io/library/debian:trixie-slim >/dev/null
  rm -rf "$rootfs"
fi
if ! podman image exists docker.io/library/golang:1.26-trixie; then
  tc=${GOTOOLCHAIN:-$(go env GOVERSION)}
  [[ $tc == go1.26* ]] || die "GOTOOLCHAIN=$tc: want a go1.26.x toolchain for golang:1.26-trixie"
  goroot=$(GOTOOLCHAIN=$tc go env GOROOT) || die "cannot get toolchain $tc"
  step "building a stand-in golang:1.26-trixie ($tc from $goroot)"
  ctx=$work/golang
  mkdir -p "$ctx/ca"
  cp -r "$goroot" "$ctx/go" && chmod -R u+w "$ctx/go" # the module cache's copies are read-only
  ca_dir=${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
  if compgen -G "$ca_dir/*.crt" >/dev/null; then cp "$ca_dir"/*.crt "$ctx/ca/"; fi
  cat >"$ctx/Containerfile" <<'EOF'
FROM docker.io/library/debian:trixie-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates git curl g++ gcc libc6-dev make pkg-config \
 && rm -rf /var/lib/apt/lists/*
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
COPY go /usr/local/go
ENV GOTOOLCHAIN=local GOPATH=/go PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN mkdir -p /go/src /go/bin && chmod -R 1777 /go && go version
WORKDIR /go
EOF
  podman build --pull=never "${build_opts[@]}" -t docker.io/library/golang:1.26-trixie "$ctx" >"$work/golang-build.log" 2>&1 ||
    { tail -5 "$work/golang-build.log" >&2; die "golang stand-in build failed (log above)"; }
  rm -rf "$ctx"
fi

# --- the image, from a clean clone --------------------------------------------
rm -rf "$work/src"
git clone --quiet "$repo" "$work/src"
step "podman build of $(git -C "$work/src" rev-parse --short HEAD) (log: $work/build.log)"
start=$(date +%s)
podman build --pull=never "${build_opts[@]}" -t "$image" "$work/src" >"$work/build.log" 2>&1 ||
  { tail -15 "$work/build.log" >&2; die "podman build failed (log above)"; }
build_s=$(($(date +%s) - start))
size=$(podman image inspect --format '{{.Size}}' "$image")

# --- running it -----------------------------------------------------------------
help=$(run --rm "$image" --help) && [[ $help == *"Exit codes"* ]] || die "inferbench --help failed or printed no usage"
help=$(run --rm "$image" worker --help) && [[ $help == *"--coordinator"* ]] || die "inferbench worker --help failed or printed no usage"
[[ $(podman image inspect --format '{{.Config.User}}' "$image") == 65532:65532 ]] || die "the image does not run as 65532"

results=$work/results
mkdir -p "$results" && chown 65532:65532 "$results"
server=inferbench-verify-serve-$$
containers+=("$server")
run -d --name "$server" "$image" serve --addr "127.0.0.1:$port" --ttft 30ms --tpot 5ms --jitter 0.2 --output-dist uniform:32:128 >/dev/null
for _ in $(seq 50); do podman logs "$server" 2>&1 | grep -q listening && break; sleep 0.2; done
podman logs "$server" 2>&1 | grep -q listening || { podman logs "$server" >&2; die "the mock server did not start"; }

bench=(benchmark offline --endpoint "http://127.0.0.1:$port" --model mock-model
  --synthetic 100 --input-len 128 --output-len 64 --max-in-flight 16)
run --rm -v "$results:/results" "$image" "${bench[@]}" --report-dir /results/offline >"$work/offline.out" 2>&1 ||
  { tail -20 "$work/offline.out" >&2; die "offline benchmark failed"; }
grep -q 'completed: 100 (succeeded 100 + failed 0)' "$work/offline.out" && [[ -s $results/offline/report.txt ]] ||
  { tail -20 "$work/offline.out" >&2; die "offline benchmark: not 100 succeeded, or no report.txt"; }

fleet=$((port + 1))
for w in w1 w2; do
  containers+=("inferbench-verify-$w-$$")
  run -d --name "inferbench-verify-$w-$$" "$image" worker --coordinator "tcp://127.0.0.1:$fleet" --name "$w" --once >/dev/null
done
run --rm -v "$results:/results" "$image" "${bench[@]}" --fleet-size 2 --fleet-listen "tcp://127.0.0.1:$fleet" \
  --report-dir /results/fleet >"$work/fleet.out" 2>&1 || { tail -20 "$work/fleet.out" >&2; die "fleet benchmark failed"; }
for w in w1 w2; do
  rc=$(podman wait "inferbench-verify-$w-$$")
  [[ $rc == 0 ]] || { podman logs "inferbench-verify-$w-$$" >&2; die "worker $w exited $rc"; }
done
grep -q 'fleet ready: w1, w2' "$work/fleet.out" && grep -q 'completed: 100 (succeeded 100 + failed 0)' "$work/fleet.out" ||
  { tail -20 "$work/fleet.out" >&2; die "fleet benchmark: workers did not join, or not 100 succeeded"; }

ttft() { grep -A4 '^TTFT' "$1" | sed -n 's/^ *Median: //p'; }
echo "docker-verify: OK: $image, $((size / 1000000)) MB, built in ${build_s}s"
echo "  --help, worker --help: usage printed; runs as uid 65532"
echo "  serve + benchmark offline (100 requests): 100 succeeded, TTFT median $(ttft "$work/offline.out")"
echo "  fleet of 2 worker containers (100 requests): 100 succeeded, TTFT median $(ttft "$work/fleet.out")"
