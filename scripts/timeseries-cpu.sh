#!/usr/bin/env bash
# Client CPU per request with and without the time series
# (metrics/timeseries.jsonl), side by side on this machine. There is no
# switch for it (it costs one line per publish interval, not per request), so
# the "off" binary is built from a scratch copy of this tree with the
# writer never created (internal/bench/bench.go, the one call to
# timeseries.Create). Both binaries run a streamed offline benchmark
# (REQUESTS synthetic prompts, 250 output tokens, 64 in flight, compact event
# log, no TUI) against one `inferbench serve --output-tokens 250` (pinned to
# one core; inferbench to the other), at each publish interval given (default
# 250ms, the default, and 100ms, the worst case), ROUNDS times, interleaved
# on/off then off/on so that drift in the machine's load falls on both.
# Prints CPU time (user + sys, /usr/bin/time) per request per run with the
# load average, then the medians and their ratio (on ÷ off), and the median
# of each round's own ratio (on ÷ off of adjacent runs: less exposed to the
# load drifting between rounds).
#
# Needs python3, taskset, curl and /usr/bin/time (apt: time).
# Usage: scripts/timeseries-cpu.sh [ROUNDS] [REQUESTS] [INTERVAL...]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
requests=${2:-8000}
shift $(($# < 2 ? $# : 2))
intervals=("$@")
((${#intervals[@]})) || intervals=(250ms 100ms)
server_cpu=${SERVER_CPU:-1}
client_cpu=${CLIENT_CPU:-0}
port=${PORT:-18557}
work=$(mktemp -d)
server=
trap '[[ -n $server ]] && { kill $server; wait $server; } 2>/dev/null; rm -rf "$work"' EXIT

go build -o "$work/on" ./cmd/inferbench
# The scratch copy: the working tree (tracked and untracked, not ignored),
# then the writer taken out.
git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | (mkdir "$work/src" && tar -xf - -C "$work/src")
python3 - "$work/src/internal/bench/bench.go" <<'PY'
import sys
p = sys.argv[1]
src = open(p).read()
old = "series, err := timeseries.Create(rundir.Timeseries(r.dir))"
if src.count(old) != 1:
    sys.exit(f"timeseries-cpu: {p}: expected one `{old}`; the script needs updating")
open(p, "w").write(src.replace(old, "var series *timeseries.Writer // writer off"))
PY
(cd "$work/src" && go build -o "$work/off" ./cmd/inferbench)

taskset -c "$server_cpu" "$work/on" serve --addr "127.0.0.1:$port" --output-tokens 250 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.05
done

run() { # variant, interval
  local dir="$work/run-$1-$2"
  rm -rf "$dir"
  /usr/bin/time -f "%U %S" -o "$work/time" taskset -c "$client_cpu" "$work/$1" benchmark offline \
    --endpoint "http://127.0.0.1:$port" --model mock-model --synthetic "$requests" --output-len 250 \
    --max-in-flight 64 --publish-interval "$2" --no-tui --report-dir "$dir" >"$work/out" 2>&1 ||
    { cat "$work/out" >&2; exit 1; }
  local lines=0
  [[ -f "$dir/metrics/timeseries.jsonl" ]] && lines=$(wc -l <"$dir/metrics/timeseries.jsonl")
  python3 - "$dir/result_summary.json" "$work/time" "$1" "$2" "$lines" "$work/$1-$2.cpu" <<'PY'
import json, sys
summary, timef, variant, interval, lines, out = sys.argv[1:]
r = json.load(open(summary))
n = r["n_samples_completed"] - r["n_samples_failed"]
u, s = map(float, open(timef).read().split()[-2:])
us = (u + s) * 1e6 / max(n, 1)
load = open("/proc/loadavg").read().split()[0]
print(f"{variant:3} {interval:>6}: {n} requests, {us:6.1f} us CPU per request, {lines} series lines, load {load}")
open(out, "a").write(f"{us}\n")
PY
}
for i in $(seq "$rounds"); do
  for iv in "${intervals[@]}"; do
    if ((i % 2)); then run on "$iv"; run off "$iv"; else run off "$iv"; run on "$iv"; fi
  done
done
python3 - "$work" "${intervals[@]}" <<'PY'
import statistics, sys
w = sys.argv[1]
for iv in sys.argv[2:]:
    cpu = {v: [float(x) for x in open(f"{w}/{v}-{iv}.cpu")] for v in ("on", "off")}
    med = {v: statistics.median(x) for v, x in cpu.items()}
    pairs = sorted(a / b for a, b in zip(cpu["on"], cpu["off"]))
    print(f"publish interval {iv}: median CPU per request: time series on {med['on']:.1f} us, "
          f"off {med['off']:.1f} us, ratio {med['on']/med['off']:.4f}; "
          f"median of the rounds' ratios {statistics.median(pairs):.4f} "
          f"({pairs[0]:.3f}-{pairs[-1]:.3f})")
PY
