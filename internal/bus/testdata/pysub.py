"""Subscribe to an inferbench event stream the way the Python tool (MLCommons
endpoints, current version) does and print every record as one JSON line.

usage: pysub.py ADDR N

Connects a SUB socket to ADDR, subscribes to everything, and decodes single
frames (40-byte NUL-padded topic, msgpack record) and batch frames (topic
"batch", msgpack list of record payloads) until N records were read.

It checks each record against the Python tool's structs, as msgspec would
decode them, independently of inferbench's decoder: the record is a map whose
known keys have the Python types (unknown keys are ignored, as msgspec does);
the payload is a tagged array mapped to named fields by position, never longer
than the struct, with every known field of its Python type. A violation exits
with status 3 and a message. Payload arrays are printed as objects of named
fields (missing trailing fields are None).
"""
import json
import sys

import msgpack
import zmq

TOPIC_SIZE = 40


def opt(*types):
    return lambda v: v is None or isinstance(v, types)


def str_or_chunks(v):
    return isinstance(v, str) or (isinstance(v, list) and all(isinstance(c, str) for c in v))


def int_list(v):
    return v is None or (isinstance(v, list) and all(isinstance(i, int) for i in v))


# The Python tool's payload structs: field names in array order, with the
# type each field must have.
FIELDS = {
    "PromptData": [
        ("text", opt(str)),
        ("token_ids", int_list),
        ("messages", opt(list)),
        ("tools", opt(list)),
        ("chat_template_kwargs", opt(dict)),
        ("chat_template", opt(str)),
        ("tool_choice", opt(str, dict)),
    ],
    "TextModelOutput": [
        ("output", str_or_chunks),
        ("reasoning", lambda v: v is None or str_or_chunks(v)),
        # A field the Python tool's frames carry as nil; inferbench never sets it.
        ("field_3", lambda v: v is None),
    ],
    "ErrorData": [
        ("error_type", opt(str)),
        ("error_message", opt(str)),
    ],
}

# The keys of the Python tool's record map and their types.
RECORD_KEYS = {
    "event_type": lambda v: isinstance(v, str),
    "timestamp_ns": lambda v: isinstance(v, int),
    "sample_uuid": lambda v: isinstance(v, str),
    "conversation_id": lambda v: isinstance(v, str),
    "turn": opt(int),
    "data": opt(list),
    "finish_reason": opt(str),
    "worker_id": opt(int),
}


def fail(msg):
    print("layout violation: " + msg, file=sys.stderr)
    sys.exit(3)


def named(data):
    if data is None:
        return None
    if not data or data[0] not in FIELDS:
        fail("unknown payload %r" % (data[:1],))
    tag, values = data[0], list(data[1:])
    fields = FIELDS[tag]
    if len(values) > len(fields):
        fail("%s of %d fields, the struct has %d" % (tag, len(values), len(fields)))
    values += [None] * (len(fields) - len(values))
    out = {"tag": tag}
    for (name, ok), v in zip(fields, values):
        if not ok(v):
            fail("%s.%s = %r" % (tag, name, v))
        out[name] = v
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
            if not isinstance(rec, dict):
                fail("record is a %s, not a map" % type(rec).__name__)
            for key, ok in RECORD_KEYS.items():
                if key in rec and not ok(rec[key]):
                    fail("record key %s = %r" % (key, rec[key]))
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
