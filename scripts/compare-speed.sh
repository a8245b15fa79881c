#!/usr/bin/env bash
# Side-by-side raw-speed comparison, in one run on this machine: offline,
# non-streaming chat completions against `inferbench serve` (pinned to one
# core) from wrk, hey, vegeta and inferbench (each pinned to the other core),
# ROUNDS times each, interleaved. Prints requests/s per tool (median of the
# rounds), inferbench's ratio to wrk, and inferbench's own CPU time (user +
# sys) per completed request.
#
# Needs curl, taskset, python3 and /usr/bin/time (apt: time); the peers are wrk (apt),
# hey (apt) and vegeta (go install
# github.com/tsenart/vegeta/v12@v12.13.0); a missing peer is skipped.
# Usage: scripts/compare-speed.sh [SECONDS_PER_RUN] [ROUNDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
conns=${3:-64}
server_cpu=${SERVER_CPU:-1}
client_cpu=${CLIENT_CPU:-0}
port=${PORT:-18555}
url="http://127.0.0.1:$port/v1/chat/completions"
export PATH="$PATH:$(go env GOPATH)/bin:${PEERS_BIN:-/tmp/peers/bin}"

./scripts/deps.sh
mkdir -p bin
go build -o bin/inferbench ./cmd/inferbench
work=$(mktemp -d)
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT

taskset -c "$server_cpu" ./bin/inferbench serve --addr "127.0.0.1:$port" --output-tokens 16 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.05; done

# The same request for every tool: 16 prompt words, 16 output tokens.
prompt="the of and to in is for on that with as was at by it from"
body="{\"model\":\"mock-model\",\"messages\":[{\"role\":\"user\",\"content\":\"$prompt\"}],\"max_tokens\":16,\"stream\":false}"
printf '%s' "$body" >"$work/body.json"
cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
EOF
printf 'POST %s\nContent-Type: application/json\n@%s\n' "$url" "$work/body.json" >"$work/targets"

declare -A results
add() { results[$1]="${results[$1]:-} $2"; }

run_wrk() {
  taskset -c "$client_cpu" wrk -t1 -c"$conns" -d"${secs}s" -s "$work/post.lua" "$url" 2>&1 |
    awk '/Requests\/sec/ {print $2}'
}
run_hey() {
  taskset -c "$client_cpu" hey -z "${secs}s" -c "$conns" -m POST -T application/json -D "$work/body.json" "$url" 2>&1 |
    awk '/Requests\/sec/ {print $2}'
}
run_vegeta() {
  taskset -c "$client_cpu" vegeta attack -targets "$work/targets" -rate 0 -max-workers "$conns" -duration "${secs}s" 2>/dev/null |
    vegeta report -type json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["throughput"])'
}
run_inferbench() {
  local dir="$work/ib-$1"
  local t0 t1
  read -r t0 < <(awk '{print $14+$15+$16+$17}' /proc/self/stat 2>/dev/null || echo 0)
  /usr/bin/env time -f "%U %S" -o "$work/ib-time" taskset -c "$client_cpu" ./bin/inferbench benchmark offline \
    --endpoint "http://127.0.0.1:$port" --model mock-model --streaming off --max-tokens 16 \
    --synthetic 1000 --input-len 16 --output-len 16 --duration "${secs}s" \
    --max-in-flight "$conns" --max-connections "$conns" --report-dir "$dir" --no-tui >/dev/null 2>"$work/ib-err" ||
    { cat "$work/ib-err" >&2; return 1; }
  python3 - "$dir/result_summary.json" "$work/ib-time" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
u, s = map(float, open(sys.argv[2]).read().split()[-2:])
done = r["n_samples_completed"] - r["n_samples_failed"]
print(r["qps"], (u + s) / max(done, 1) * 1e6)
EOF
}

have() { command -v "$1" >/dev/null 2>&1; }
command -v time >/dev/null 2>&1 || [[ -x /usr/bin/time ]] || { echo "compare-speed: needs /usr/bin/time (apt install time)" >&2; exit 1; }

for round in $(seq "$rounds"); do
  have wrk && add wrk "$(run_wrk)"
  have hey && add hey "$(run_hey)"
  have vegeta && add vegeta "$(run_vegeta)"
  read -r qps cpu < <(run_inferbench "$round")
  add inferbench "$qps"
  add inferbench-cpu-us "$cpu"
  echo "round $round done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
echo
echo "offline, non-streaming, $conns connections, ${secs}s x $rounds rounds; server on CPU $server_cpu, client on CPU $client_cpu"
printf '%-12s %12s   %s\n' tool "req/s (med)" "rounds"
for tool in wrk hey vegeta inferbench; do
  [[ -n "${results[$tool]:-}" ]] || continue
  printf '%-12s %12.0f  %s\n' "$tool" "$(echo "${results[$tool]}" | median)" "${results[$tool]}"
done
if [[ -n "${results[wrk]:-}" ]]; then
  awk -v a="$(echo "${results[inferbench]}" | median)" -v b="$(echo "${results[wrk]}" | median)" \
    'BEGIN {printf "inferbench / wrk = %.2f\n", a / b}'
fi
printf 'inferbench CPU time per completed request: %.1f us (median; rounds:%s)\n' \
  "$(echo "${results[inferbench-cpu-us]}" | median)" "${results[inferbench-cpu-us]}"
