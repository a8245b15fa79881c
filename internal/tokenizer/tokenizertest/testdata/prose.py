# Original texts written for inferbench's tokenizer fixtures (no third-party text).
import json
T = {}
T["prose/benchmark-howto"] = """How do I benchmark an inference server without fooling myself?

Start with the question you want answered. "How fast is it?" is not a question; "what is the 99th percentile time to first token at 20 requests per second with prompts shaped like our chat traffic?" is. Write the number down before you run anything, so the result can surprise you.

Then fix everything you can: the model revision, the server flags, the GPU clocks, the prompt set and its order, the random seed of the arrival process. Warm the server up with a few dozen requests that you do not count. Run long enough that the slowest one percent holds at least a hundred samples; for a p99 that means ten thousand requests, not two hundred.

Finally, keep the raw events. A percentile is a summary, and summaries hide the one request that waited 31 seconds behind a stuck batch."""
T["prose/email"] = """Hi Priya,

Thanks for the numbers from Tuesday's run (vLLM 0.6.3, tp=2, max_num_seqs=256). Two things look off to me:

1. TTFT p50 went from 182 ms to 411 ms between the 10 QPS and 12 QPS steps — that's a cliff, not a slope. Could the KV cache be full at 12? The server log should say "preempted" if so.
2. The output lengths don't match: the server's usage says 127.9 tokens per answer on average, our tokenizer counts 131.2. Are we sending `ignore_eos`?

I've attached report.txt and the final snapshot (metrics/final_snapshot.json, 48 kB). Can we talk at 15:30 CET?

Cheers,
Jonas

P.S. The dashboard's sparkline for TPS froze at 14:02:07 — probably my terminal, but worth a look."""
T["prose/go-code"] = """package main

import (
\t"fmt"
\t"sort"
\t"time"
)

// percentile returns the value at sorted index floor((n-1)*p/100).
func percentile(xs []time.Duration, p float64) time.Duration {
\tif len(xs) == 0 {
\t\treturn 0
\t}
\ts := append([]time.Duration(nil), xs...)
\tsort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
\treturn s[int(float64(len(s)-1)*p/100)]
}

func main() {
\tlat := []time.Duration{12 * time.Millisecond, 7 * time.Millisecond, 31 * time.Second, 9 * time.Millisecond}
\tfor _, p := range []float64{50, 90, 99, 99.9} {
\t\tfmt.Printf("p%-5g %v\\n", p, percentile(lat, p))
\t}
}
"""
T["prose/python-and-shell"] = """$ python3 -m venv .venv && . .venv/bin/activate
(.venv) $ pip install 'msgpack>=1.0' pyzmq==26.2.0
(.venv) $ python - <<'EOF'
import zmq, msgpack
ctx = zmq.Context()
s = ctx.socket(zmq.SUB)
s.connect("ipc:///tmp/run-0042/metrics.sock")
s.setsockopt(zmq.SUBSCRIBE, b"MET")
while True:
    frame = s.recv()
    counter, ts, state, pending, metrics = msgpack.unpackb(frame[40:])
    print(f"{counter:>6} {state:<12} pending={pending}")
    if state in ("complete", "interrupted"):
        break
EOF
     1 live         pending=64
     2 live         pending=64
   ...
   118 complete     pending=0"""
T["prose/markdown-table"] = """## Results

| scenario | QPS | TTFT p50 | TTFT p99 | TPOT p50 | errors |
|----------|----:|---------:|---------:|---------:|-------:|
| offline, 1k prompts | 38.4 | 1.92 s | 7.31 s | 21.7 ms | 0 |
| online, Poisson 20/s | 19.9 | 143 ms | 612 ms | 18.2 ms | 0 |
| online, Poisson 30/s | 27.1 | 2.08 s | 11.4 s | 34.9 ms | 3 (HTTP 503) |
| concurrency 64 | 41.0 | 1.44 s | 3.02 s | 27.5 ms | 0 |

> **Note:** at 30/s the server is past saturation; the achieved rate (27.1/s) is below the target, and the queue grows for the whole run. Don't average these rows.

*Footnote*: TPOT excludes the first token; ~~inter-token latency~~ inter-chunk gaps are reported separately."""
T["prose/multilingual-faq"] = """Q: ¿Qué mide exactamente el TTFT?
R: El tiempo desde que se envía la petición hasta que llega el primer fragmento con contenido.

Q: Qu'est-ce qui distingue le mode « offline » du mode « online » ?
R: En mode offline, toutes les requêtes partent aussi vite que possible ; en mode online, elles suivent un processus de Poisson à un débit cible.

F: Warum weicht die Tokenanzahl des Servers von unserer ab?
A: Weil manche Server Sondertokens mitzählen – oder gar nichts zählen.

问：为什么第一次请求特别慢？
答：服务器可能还在编译 CUDA 图或加载权重，所以要先预热。

質問：同時実行数を上げるとスループットはどう変わりますか？
回答：ある点までは上がり、その後はキューが伸びるだけです。

질문: 결과를 어떻게 재현하나요?
답변: 같은 시드, 같은 데이터셋, 같은 서버 설정을 쓰면 됩니다.

Вопрос: Что значит «потерянный» запрос?
Ответ: Запрос, на который сервер так и не ответил до конца."""
T["prose/json-config"] = """{"model": "Qwen/Qwen3-8B", "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "List three prime numbers > 100."}], "stream": true, "stream_options": {"include_usage": true}, "max_tokens": 64, "temperature": 0.0, "extra": {"ignore_eos": false, "seed": 1234567890, "stop": ["\\n\\n", "</answer>"], "logit_bias": {"198": -100}}}"""
T["prose/story"] = """The lighthouse keeper counted ships the way other people count sheep. Not to fall asleep — he never slept much — but to keep the night in order. One freighter at 21:40, low in the water, heading north. Two fishing boats at 23:05, their lamps swinging like lanterns carried by drunk men. Then nothing until a quarter past three, when a sailboat without lights slid past the rocks so close that he could hear the sheets snapping against the mast.

He wrote it down anyway: "03:15, sailboat, no lights, one person at the helm (?), wind NW 5." The question mark bothered him for days. He was a man who liked his logbook clean.

In spring a letter came from the harbour office. They were replacing the lamp with an automatic one; the keeper's post would end in June. He read it twice, folded it into quarters and used it as a bookmark in the logbook, at the page with the sailboat.

On his last night he counted eleven ships, the most he had ever seen between dusk and dawn. He wondered, briefly, whether they had come to say goodbye. Then he laughed at himself, because ships don't do that, and wrote the eleventh one down with particular care: "05:58, ferry, on time."

The automatic lamp never missed a night. It also never wrote anything down."""
T["prose/chat-prompt"] = """<|im_start|>system
You are a helpful assistant who answers in one paragraph.<|im_end|>
<|im_start|>user
My benchmark says throughput is 2,400 tokens/s but latency p99 is 9.8 s. My manager wants both numbers better by Friday. What should I try first?<|im_end|>
<|im_start|>assistant
<think>
The user has a latency-throughput trade-off.
</think>
Lower the batch size cap first."""
T["prose/numbers-and-units"] = """Run 2026-11-30T14:02:07.123456789Z: 10,000 requests; 9,987 succeeded (99.87 %), 13 failed (0.13 %).
ISL mean 312.4 ± 88.1 tokens; OSL p50 128, p90 256, p99 512, max 1 024.
Throughput 2.41e3 tok/s ≈ 144,600 tok/min; QPS 18.73; offered load 20.00/s.
Memory: 79.6 GiB of 80 GiB (99.5%), 3×A100-SXM4, 1.41 GHz, 400 W TDP, 65 °C.
Costs: $2.18/h × 3 = $6.54/h → €6.02/h → ¥47.3/h; 0.000045 $/token.
IPv4 10.0.0.17:8000, IPv6 [fe80::1ff:fe23:4567:890a]:8000, port range 19000–19099.
Version strings: v0.6.3.post1, 1.26.0-rc.2+build.7, sha256:9f86d081884c7d65."""

# A long text: several paragraphs with lists and quotes, to exercise long pieces.
long = []
for i, topic in enumerate(["scheduling", "streaming", "aggregation", "reporting", "watching"]):
    long.append(f"""### Part {i+1}: {topic}

In the {topic} stage, every component has one job and hands its output to the next one through a narrow interface. The load generator decides *when* a request is issued; the client decides *how* it is sent and what the response looked like; the aggregator decides *what it means*. None of them knows about the terminal, the report file or the network port that publishes snapshots.

Some rules we kept while writing the {topic} code:
  - measure time with a monotonic clock, and convert to wall time once, at the edge;
  - never allocate per chunk on the hot path — reuse buffers, count instead of copying;
  - treat every byte from the network as hostile: bound lengths before allocating;
  - when in doubt, record the raw event and decide later.

"If it isn't in the event log, it didn't happen," as one reviewer put it. The log is append-only, one JSON object per line, so `grep`, `jq` and a text editor are enough to audit a run of {1000 * (i + 1):,} requests.
""")
T["prose/long-design-notes"] = "\n".join(long)

with open("prose.jsonl", "w", encoding="utf-8") as f:
    for k, v in T.items():
        f.write(json.dumps({"id": k, "text": v}, ensure_ascii=False) + "\n")
print(len(T), sum(len(v.encode()) for v in T.values()))
