#!/usr/bin/env bash
# Installs what inferbench needs to build (libzmq, pkg-config) and, with
# --test, what its tests need (Debian's python3-zmq and python3-msgpack for the
# wire-compatibility tests, tmux for the terminal tests, zstd whose zstdcat
# reads the full event log, chromium in which the HTML report's test renders
# its pages). Installs only what is
# missing. Debian/Ubuntu use apt; on macOS run: brew install zeromq pkg-config
set -euo pipefail

want=()
pkg-config --exists libzmq 2>/dev/null || want+=(libzmq3-dev)
command -v pkg-config >/dev/null 2>&1 || want+=(pkg-config)
command -v gcc >/dev/null 2>&1 || want+=(gcc libc6-dev)
if [[ "${1:-}" == "--test" ]]; then
  /usr/bin/python3 -c 'import zmq, msgpack' >/dev/null 2>&1 || want+=(python3 python3-zmq python3-msgpack)
  command -v tmux >/dev/null 2>&1 || want+=(tmux)
  command -v zstdcat >/dev/null 2>&1 || want+=(zstd)
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || want+=(chromium)
fi
((${#want[@]})) || exit 0

if [[ "$(uname -s)" == Darwin ]]; then
  echo "inferbench: missing ${want[*]}; on macOS run: brew install zeromq pkg-config" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "inferbench: missing ${want[*]} and no apt-get here; install libzmq (dev headers) and pkg-config" >&2
  exit 1
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
echo "inferbench: installing ${want[*]}" >&2
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
