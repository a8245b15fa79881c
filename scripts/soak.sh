#!/usr/bin/env bash
# Soak test: a long streamed online benchmark against the mock server
# (`inferbench serve`), sampling the benchmark process every INTERVAL seconds:
# RSS (/proc/PID/status VmRSS), Go live heap after the latest GC (from the
# runtime's own GODEBUG=gctrace=1 lines), open file descriptors
# (/proc/PID/fd), the requests completed so far (requests/s since the last
# sample) and the bytes of raw values spilled to <run>/metrics/raw. At the end
# it prints the table and the RSS and heap slopes (least squares, MB per hour
# and % per hour of the mean) over the samples after the warm-up.
#
# Usage: scripts/soak.sh DURATION [QPS] [OUTPUT_TOKENS]
#   DURATION       e.g. 10m, 1h (Go duration syntax)
#   QPS            target requests/s (default 200)
#   OUTPUT_TOKENS  streamed chunks per response (default 250)
# Environment: INTERVAL (seconds between samples, default 60), WARMUP
# (seconds excluded from the slope, default 300 or a fifth of the run if
# shorter), PORT (mock server port, default 18890), OUT (run directory,
# default /tmp/inferbench-soak-<time>), EXTRA (more benchmark flags).
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:?usage: scripts/soak.sh DURATION [QPS] [OUTPUT_TOKENS]}
qps=${2:-200}
tokens=${3:-250}
interval=${INTERVAL:-60}
port=${PORT:-18890}
out=${OUT:-/tmp/inferbench-soak-$(date +%Y%m%d-%H%M%S)}

secs=$(python3 - "$dur" <<'EOF'
import re, sys
m = re.fullmatch(r'(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?', sys.argv[1])
if not m or not any(m.groups()):
    sys.exit("soak: DURATION %r: want e.g. 90s, 45m, 1h" % sys.argv[1])
h, mi, s = (int(x or 0) for x in m.groups())
print(h * 3600 + mi * 60 + s)
EOF
)
warmup=${WARMUP:-$((secs / 5 < 300 ? secs / 5 : 300))}

mkdir -p bin "$(dirname "$out")"
go build -o bin/inferbench ./cmd/inferbench
work=$(mktemp -d)
server="" bench=""
cleanup() {
  [[ -n "$bench" ]] && kill "$bench" 2>/dev/null || true
  [[ -n "$server" ]] && kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

./bin/inferbench serve --addr "127.0.0.1:$port" --ttft 20ms --tpot 1ms --jitter 0.3 \
  --output-tokens "$tokens" 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.05; done

# The request count is unbounded: --duration stops issuing.
# shellcheck disable=SC2086
GODEBUG=gctrace=1 ./bin/inferbench benchmark online --endpoint "http://127.0.0.1:$port" \
  --model mock-model --synthetic 1000 --input-len 64 --output-len "$tokens" \
  --target-qps "$qps" --duration "$dur" --no-tui --report-dir "$out" ${EXTRA:-} \
  >"$work/bench.out" 2>"$work/bench.err" &
bench=$!

sample() { # t -> one table row into $work/samples
  local t=$1 rss fds heap done raw
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$bench/status" 2>/dev/null || true)
  [[ -n "$rss" ]] || return 0 # the process just exited
  fds=$(ls "/proc/$bench/fd" 2>/dev/null | wc -l || true)
  # gctrace: "gc N @T s P%: ... A->B->C MB, D MB goal, ..." — C is the live heap.
  heap=$(grep -aoE '[0-9]+->[0-9]+->[0-9]+ MB' "$work/bench.err" | tail -1 | sed -E 's/.*->([0-9]+) MB/\1/' || true)
  done=$(grep -aoE 'completed [0-9]+' "$work/bench.err" | tail -1 | awk '{print $2}' || true)
  raw=$(du -sk "$out/metrics/raw" 2>/dev/null | awk '{print $1}' || true)
  echo "$t ${rss:-0} ${heap:-0} $fds ${done:-0} ${raw:-0}" >>"$work/samples"
}

start=$(date +%s)
: >"$work/samples"
sample 0
while kill -0 "$bench" 2>/dev/null; do
  for _ in $(seq "$interval"); do
    kill -0 "$bench" 2>/dev/null || break
    sleep 1
  done
  kill -0 "$bench" 2>/dev/null || break
  sample $(($(date +%s) - start))
done
rc=0
wait "$bench" || rc=$?
bench=""

echo "soak: $dur at $qps req/s target, $tokens chunks per response; run dir $out; exit $rc"
python3 - "$work/samples" "$warmup" "$tokens" <<'EOF'
import sys
rows = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
warm = int(sys.argv[2])
tokens = int(sys.argv[3])
print(f"{'t_s':>6} {'rss_MB':>8} {'heap_MB':>8} {'fds':>5} {'completed':>10} {'req/s':>8} {'raw_MB':>8}")
prev = None
for t, rss, heap, fds, done, raw in rows:
    rate = (done - prev[4]) / (t - prev[0]) if prev and t > prev[0] else 0.0
    print(f"{t:>6} {rss/1024:>8.1f} {heap:>8} {fds:>5} {done:>10} {rate:>8.1f} {raw/1024:>8.1f}")
    prev = (t, rss, heap, fds, done)
def slope(col):
    pts = [(r[0], r[col]) for r in rows if r[0] >= warm and r[col] > 0]
    if len(pts) < 3:
        return None
    n = len(pts); mx = sum(p[0] for p in pts) / n; my = sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    b = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx  # units per second
    return b * 3600, (b * 3600 / my * 100 if my else 0.0), n
after = [r for r in rows if r[0] >= warm] or rows
print(f"RSS max {max(r[1] for r in rows)/1024:.1f} MB; after warm-up min {min(r[1] for r in after)/1024:.1f}, "
      f"max {max(r[1] for r in after)/1024:.1f} MB")
# The raw files are removed once the final snapshot is written: use the last
# sample that saw them.
last = ([r for r in rows if r[5] > 0] or rows)[-1]
gaps = last[4] * (tokens - 1)
if gaps > 0 and last[5] > 0:
    print(f"raw values on disk at {last[0]} s: {last[5]/1024:.1f} MB for ~{gaps/1e6:.1f} M chunk gaps "
          f"({last[5]*1024/gaps:.2f} B per gap)")
for name, col, scale in (("RSS", 1, 1024.0), ("heap", 2, 1.0)):
    s = slope(col)
    if s is None:
        print(f"{name} slope: not enough samples after the {warm} s warm-up")
    else:
        print(f"{name} slope after {warm} s warm-up ({s[2]} samples): {s[0]/scale:+.2f} MB/h ({s[1]:+.2f}%/h of the mean)")
EOF
tail -n 40 "$work/bench.out"
exit "$rc"
