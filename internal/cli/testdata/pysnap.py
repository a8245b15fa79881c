"""Subscribe to inferbench metrics snapshots the way the Python tool does and
print each one in its dict form (snapshot_to_dict) as a JSON line, until a
terminal snapshot (complete or interrupted) arrives.

usage: pysnap.py ADDR

Frames are a 40-byte NUL-padded topic ("MET") then a msgpack array
[counter, timestamp_ns, state, n_pending_tasks, metrics]; a metric is
["counter", name, value] or ["series", name, count, total, min, max, sum_sq,
{percentile: value}, [[[lo, hi], count], ...]], and for a terminal series
appended fields: {percentile: early-stopping estimate or None} (as the
Python tool appends it), the approximate mark, and [[lo, hi], ...], the 95 %
intervals in grid order. NaN and infinities become null.
"""
import json
import math
import sys

import msgpack
import zmq

TOPIC_SIZE = 40


def scrub(v):
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def to_dict(s):
    counter, ts, state, pending, metrics = s[:5]
    out = []
    for m in metrics:
        if m[0] == "counter":
            out.append({"type": "counter", "name": m[1], "value": scrub(m[2])})
        else:
            d = {
                "type": "series", "name": m[1], "count": m[2], "total": scrub(m[3]),
                "min": scrub(m[4]), "max": scrub(m[5]), "sum_sq": scrub(m[6]),
                "percentiles": {k: scrub(v) for k, v in m[7].items()},
                "histogram": [[[scrub(lo), scrub(hi)], c] for (lo, hi), c in m[8]],
            }
            if len(m) > 11:
                d["percentile_ci95"] = {k: [scrub(lo), scrub(hi)] for k, (lo, hi) in zip(m[7].keys(), m[11])}
                d["early_stopping_percentiles"] = {k: scrub(v) for k, v in m[9].items()}
            out.append(d)
    return {"counter": counter, "timestamp_ns": ts, "state": state,
            "n_pending_tasks": pending, "metrics": out}


def main():
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 30000)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(sys.argv[1])
    print(json.dumps({"ready": True}), flush=True)
    while True:
        frame = sock.recv()
        if len(frame) <= TOPIC_SIZE:
            continue
        topic = frame[:TOPIC_SIZE].rstrip(b"\0").decode()
        if topic != "MET":
            continue
        d = to_dict(msgpack.unpackb(frame[TOPIC_SIZE:], raw=False))
        print(json.dumps(d), flush=True)
        if d["state"] in ("complete", "interrupted"):
            return


main()
