#!/usr/bin/env python3
"""Measures inferbench's start-up: from just before the process is spawned to
the first HTTP request bytes arriving at a server, with a 1000-row dataset.

usage: scripts/startup.py [DATASET] [RUNS]   (run from the repository root,
after `go build -o bin/inferbench ./cmd/inferbench`)

The server is a bare socket in this script; both timestamps come from the
same monotonic clock. Prints each run and the median in milliseconds.
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

dataset = sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/ShareGPT_V3_filtered_1000.json"
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10


def one_run():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    port = srv.getsockname()[1]
    first = {}
    got = threading.Event()

    def serve():
        while not got.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=read, args=(conn,), daemon=True).start()

    def read(conn):
        try:
            data = conn.recv(4096)
        except OSError:
            return
        if data and not got.is_set():
            first["t"] = time.monotonic_ns()
            got.set()

    threading.Thread(target=serve, daemon=True).start()
    out = tempfile.mkdtemp(prefix="ibstart")
    t0 = time.monotonic_ns()
    p = subprocess.Popen(["bin/inferbench", "benchmark", "offline", "--endpoint", f"http://127.0.0.1:{port}",
                          "--model", "m", "--dataset", dataset, "--streaming", "off", "--no-tui",
                          "--report-dir", out, "--timeout", "5s"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = got.wait(10)
    p.kill()
    p.wait()
    srv.close()
    if not ok:
        raise SystemExit("no request arrived within 10 s")
    return (first["t"] - t0) / 1e6


times = [one_run() for _ in range(runs)]
print("start-up to first request (ms):", " ".join(f"{t:.1f}" for t in times))
print(f"median {statistics.median(times):.1f} ms, min {min(times):.1f} ms over {runs} runs ({dataset})")
