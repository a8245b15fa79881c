#!/usr/bin/env bash
# The main job: builds inferbench, starts its mock OpenAI server
# (`inferbench serve`: 30 ms to the first token, 5 ms per token, 32-128 output
# tokens), runs a short streamed online benchmark against it (Poisson, 50
# requests/s, 400 requests), prints the report and stops the server.
# Extra arguments go to `inferbench benchmark online`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
mkdir -p bin
go build -o bin/inferbench ./cmd/inferbench

log=$(mktemp)
./bin/inferbench serve --addr 127.0.0.1:0 --ttft 30ms --tpot 5ms --jitter 0.2 \
  --output-dist uniform:32:128 2>"$log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT

url=""
for _ in $(seq 100); do
  url=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
  [[ -n "$url" ]] && break
  sleep 0.05
done
[[ -n "$url" ]] || { echo "demo: the mock server did not start:" >&2; cat "$log" >&2; exit 1; }

./bin/inferbench benchmark online --endpoint "$url" --model mock-model \
  --synthetic 400 --input-len uniform:64:512 --output-len 128 \
  --target-qps 50 --report-dir "reports/demo-$(date +%Y%m%d-%H%M%S)" "$@"
