"""`make bench`: the emulator's speed, printed (no assertions: numbers for the closing note and for regressions).

Measures, with the reference Python bootstrap and a handler that echoes quietly:
- warm invoke latency (p50, p99) and invokes per second through the HTTP Invoke API, from a keep-alive client in
  this process to `python -m runtime_reference serve` in another (so client and emulator don't share a GIL);
- the same with a minimal keep-alive runtime (raw socket, no http.client), which shows the emulator's own share;
- cold start: from a running Python process, `Emulator(...).start()` + first `invoke()` until the response.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .bootstraps import PYTHON_DIR
from .emulator import Emulator

QUIET_HANDLER = "def handler(event, context):\n    return event\n"

# A keep-alive runtime with as little Python as possible between the socket and the Runtime API: an echo.
MINIMAL_BOOTSTRAP = """#!/usr/bin/env python3
import os
import socket

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
sock = socket.create_connection((host, int(port)))
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
stream = sock.makefile("rb")


def call(request):
    sock.sendall(request)
    stream.readline()
    headers = {}
    while (line := stream.readline()) not in (b"\\r\\n", b""):
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return headers, stream.read(int(headers.get(b"content-length", b"0")))


while True:
    headers, event = call(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: api\\r\\n\\r\\n")
    request_id = headers[b"lambda-runtime-aws-request-id"]
    call(b"POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\\r\\nHost: api\\r\\n"
         b"Content-Length: %d\\r\\n\\r\\n%s" % (request_id, len(event), event))
"""
INVOKE_PATH = "/2015-03-31/functions/function/invocations"


def make_task_root(where: Path) -> Path:
    task = where / "task"
    task.mkdir()
    shutil.copy2(PYTHON_DIR / "bootstrap", task / "bootstrap")
    (task / "function.py").write_text(QUIET_HANDLER)
    return task


def make_minimal_task_root(where: Path) -> Path:
    task = where / "minimal"
    task.mkdir()
    (task / "bootstrap").write_text(MINIMAL_BOOTSTRAP)
    (task / "bootstrap").chmod(0o755)
    return task


def _percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def _start_server(task: Path) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen([sys.executable, "-m", "runtime_reference", "serve", str(task), "--port", "0",
                                "--quiet"],
                               stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("Invoke URL:"):
            port = int(line.split("http://127.0.0.1:")[1].split("/")[0])
            return process, port
    raise RuntimeError("the emulator did not print its Invoke URL")


def warm_latency(task: Path, invokes: int, warmup: int) -> dict[str, float]:
    process, port = _start_server(task)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port)
        body = b'{"hello": "world"}'
        latencies = []
        for i in range(warmup + invokes):
            started = time.perf_counter()
            connection.request("POST", INVOKE_PATH, body=body)
            response = connection.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - started
            if response.status != 200 or payload != body:
                raise RuntimeError(f"invoke {i} returned {response.status} {payload[:200]!r}")
            if i >= warmup:
                latencies.append(elapsed * 1000)
        total_s = sum(latencies) / 1000
    finally:
        process.terminate()
        process.wait(timeout=10)
    latencies.sort()
    return {"p50_ms": _percentile(latencies, 0.50), "p99_ms": _percentile(latencies, 0.99),
            "mean_ms": statistics.fmean(latencies), "invokes_per_s": invokes / total_s}


def cold_start(task: Path, runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        with Emulator(task) as emu:
            result = emu.invoke({"cold": True})
            times.append((time.perf_counter() - started) * 1000)
        if not result.ok:
            raise RuntimeError(f"cold start invoke failed: {result.payload[:300]!r}")
    times.sort()
    return {"median_ms": statistics.median(times), "min_ms": times[0], "max_ms": times[-1]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m runtime_reference.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invokes", type=int, default=5000)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--cold-runs", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        task = make_task_root(Path(tmp))
        warm = warm_latency(task, args.invokes, args.warmup)
        minimal = warm_latency(make_minimal_task_root(Path(tmp)), args.invokes, args.warmup)
        cold = cold_start(task, args.cold_runs)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"warm invoke through the HTTP Invoke API ({args.invokes} invokes after {args.warmup} warm-up):")
    print(f"  p50 {warm['p50_ms']:.3f} ms   p99 {warm['p99_ms']:.3f} ms   mean {warm['mean_ms']:.3f} ms   "
          f"{warm['invokes_per_s']:.0f} invokes/s   (goal: p50 <= 1 ms)")
    print("  the same with a minimal raw-socket runtime (the emulator's own share):")
    print(f"  p50 {minimal['p50_ms']:.3f} ms   p99 {minimal['p99_ms']:.3f} ms   mean {minimal['mean_ms']:.3f} ms   "
          f"{minimal['invokes_per_s']:.0f} invokes/s")
    print(f"cold start, start() + first invoke ({args.cold_runs} runs):")
    print(f"  median {cold['median_ms']:.1f} ms   min {cold['min_ms']:.1f} ms   max {cold['max_ms']:.1f} ms   "
          "(goal: <= 150 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
