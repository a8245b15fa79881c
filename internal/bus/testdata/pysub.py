"""Subscribe to an inferbench event stream the way the Python tool does and
print every record as one JSON line.

usage: pysub.py ADDR N

Connects a SUB socket to ADDR, subscribes to everything, and decodes single
frames (40-byte NUL-padded topic, msgpack record) and batch frames (topic
"batch", msgpack list of record payloads) until N records were read. Tagged
payload arrays are mapped to named fields positionally, as msgspec does for
array-like structs, with missing trailing fields set to None.
"""
import json
import sys

import msgpack
import zmq

TOPIC_SIZE = 40
FIELDS = {
    "PromptData": ["text", "token_ids", "scheduled_ns"],
    "TextModelOutput": ["output", "reasoning", "usage", "finish_reason"],
    "ErrorData": ["error_type", "error_message"],
}


def named(data):
    if data is None:
        return None
    tag, values = data[0], list(data[1:])
    names = FIELDS[tag]
    values += [None] * (len(names) - len(values))
    out = {"tag": tag}
    out.update(zip(names, values))
    return out


def main():
    addr, want = sys.argv[1], int(sys.argv[2])
    ctx = zmq.Context()
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 30000)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(addr)
    print(json.dumps({"ready": True}), flush=True)
    got = 0
    while got < want:
        frame = sock.recv()
        if len(frame) <= TOPIC_SIZE:
            continue
        topic = frame[:TOPIC_SIZE].rstrip(b"\0").decode()
        body = frame[TOPIC_SIZE:]
        if topic == "batch":
            payloads = [p for p in msgpack.unpackb(body, raw=False) if p]
            kind = "batch"
        else:
            payloads = [body]
            kind = "single"
        for p in payloads:
            rec = msgpack.unpackb(p, raw=False)
            rec["data"] = named(rec.get("data"))
            rec["frame"] = kind
            if kind == "single":
                rec["topic"] = topic
            print(json.dumps(rec, ensure_ascii=False))
            got += 1
    sys.stdout.flush()
    sock.close()
    ctx.term()


if __name__ == "__main__":
    main()
