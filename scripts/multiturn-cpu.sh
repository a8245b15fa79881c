#!/usr/bin/env bash
# Client CPU per request of multi-turn conversations against single-turn
# requests, side by side on this machine: CONVS conversations of TURNS turns
# run at once (benchmark concurrency --concurrency CONVS --multi-turn, no
# think time), and the same user messages as CONVS*TURNS independent
# single-turn prompts at the same concurrency, against `inferbench serve`
# (pinned to one core; inferbench to the other). Each is run ROUNDS times,
# interleaved; prints inferbench's CPU time (user + sys, /usr/bin/time) per
# request for each, the medians and their ratio (multi ÷ single). The
# history is sent in full every turn, so later turns carry more bytes; the
# encoded history is kept per conversation and appended to, never
# re-encoded.
#
# Needs python3, taskset and /usr/bin/time (apt: time).
# Usage: scripts/multiturn-cpu.sh [CONVS] [TURNS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
convs=${1:-1000}
turns=${2:-8}
rounds=${3:-3}
server_cpu=${SERVER_CPU:-1}
client_cpu=${CLIENT_CPU:-0}
port=${PORT:-18556}
mkdir -p bin
go build -o bin/inferbench ./cmd/inferbench
work=$(mktemp -d)
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT

python3 - "$work" "$convs" "$turns" <<'PY'
import json, random, sys
work, convs, turns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(1)
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
with open(f"{work}/convs.jsonl", "w") as c, open(f"{work}/single.jsonl", "w") as s:
    for i in range(convs):
        msgs = []
        for k in range(turns):
            text = f"conversation {i} turn {k}: " + " ".join(rng.choice(words) for _ in range(40))
            msgs.append({"role": "user", "content": text})
            # A recorded reply separates the turns (consecutive user
            # messages would join into one turn); the run sends the
            # server's replies.
            msgs.append({"role": "assistant", "content": "recorded"})
            s.write(json.dumps({"prompt": text}) + "\n")
        c.write(json.dumps({"conversation_id": f"c{i}", "turns": msgs}) + "\n")
PY

taskset -c "$server_cpu" ./bin/inferbench serve --addr "127.0.0.1:$port" --output-tokens 16 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.05
done

run() { # name, extra args...
  local name=$1; shift
  /usr/bin/time -f "%U %S" -o "$work/time" taskset -c "$client_cpu" ./bin/inferbench benchmark concurrency \
    --endpoint "http://127.0.0.1:$port" --model mock-model --concurrency "$convs" --max-tokens 16 \
    --no-tui --event-log off --report-dir "$work/$name" --overwrite "$@" >"$work/out" 2>&1 ||
    { cat "$work/out" >&2; exit 1; }
  local n
  n=$(python3 -c "import json; print(json.load(open('$work/$name/result_summary.json'))['n_samples_completed'])")
  read -r u s <"$work/time"
  python3 -c "print(f'$name: {$n} requests, {($u+$s)*1e6/$n:.1f} us CPU per request')"
  python3 -c "print(($u+$s)*1e6/$n)" >>"$work/$name.cpu"
}
for _ in $(seq "$rounds"); do
  run single --dataset "$work/single.jsonl"
  run multi --dataset "$work/convs.jsonl" --multi-turn --turn-delay 0
done
python3 - "$work" <<'PY'
import statistics, sys
w = sys.argv[1]
med = {n: statistics.median(float(x) for x in open(f"{w}/{n}.cpu")) for n in ("single", "multi")}
print(f"median CPU per request: single-turn {med['single']:.1f} us, multi-turn {med['multi']:.1f} us, ratio {med['multi']/med['single']:.2f}")
PY
