"""Tiny bootstraps for the emulator's tests, written into a test's tmp_path, and small helpers around them.

- ``python_runtime(dir)``: a minimal stdlib runtime whose handler obeys commands in the event (print, sleep,
  exit, allocate, start a child...) and whose init phase obeys the function's environment variables
  (INIT_LOG, INIT_SAY, INIT_SLEEP, INIT_ERROR, INIT_ERROR_STAY, INIT_CHILD).
- ``bash_runtime(path, handle)``: a bash + curl runtime in the style of the AWS tutorial; ``handle`` is bash code
  that sets REPLY_BODY (it sees EVENT and ID).
- ``write_script``, ``make_zip``: raw files and zips with explicit Unix modes.
- ``alive``, ``wait_gone``, ``poll``: process checks and polling with deadlines (nothing may hang).
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import pytest

T = TypeVar("T")

# The bash runtimes need curl; `make test` installs it, so a missing curl fails (the `curl` fixture, conftest.py).
needs_curl = pytest.mark.usefixtures("curl")

PY_RUNTIME = r'''#!/usr/bin/env python3
"""Test runtime (standard library only): the handler obeys commands found in the event."""
import http.client
import json
import os
import subprocess
import sys
import time

sys.stdout.reconfigure(line_buffering=True)
sys.stderr.reconfigure(line_buffering=True)
PREFIX = "/2018-06-01/runtime"
conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])


def call(method, path, body=None, headers=None):
    conn.request(method, PREFIX + path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.headers, response.read()


def say(pairs):
    """[["out", text], ["err", text], ["raw", text-without-newline]] in order, each flushed at once."""
    for stream, text in pairs:
        if stream == "raw":
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            print(text, file=sys.stderr if stream == "err" else sys.stdout)


def init_log(line):
    if os.environ.get("INIT_LOG"):
        with open(os.environ["INIT_LOG"], "a") as f:
            f.write(line + "\n")


# -- init, driven by the function's environment variables
init_log(f"pid {os.getpid()}")
say(json.loads(os.environ.get("INIT_SAY", "[]")))
if os.environ.get("INIT_CHILD"):
    init_log(f"child {subprocess.Popen(['sleep', '1000']).pid}")
time.sleep(float(os.environ.get("INIT_SLEEP", "0")))
if os.environ.get("INIT_ERROR"):
    body = json.dumps({"errorMessage": "bad configuration", "errorType": "ConfigError"}).encode()
    status, _, _ = call("POST", "/init/error", body, {
        "Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": os.environ["INIT_ERROR"]})
    init_log(f"init error posted: {status}")
    if os.environ.get("INIT_ERROR_STAY"):
        time.sleep(1000)
    sys.exit(1)

# -- the event loop
while True:
    status, headers, body = call("GET", "/invocation/next")
    if status != 200:
        print(f"next answered {status}: {body!r}", file=sys.stderr)
        sys.exit(1)
    rid = headers["Lambda-Runtime-Aws-Request-Id"]
    event = json.loads(body)
    cmd = event if isinstance(event, dict) else {}
    t0 = time.time()
    say(cmd.get("say", []))
    if cmd.get("child"):
        print(f"child {subprocess.Popen(['sleep', '1000']).pid}")
    blob = b"x" * (cmd.get("alloc_mb", 0) << 20)
    time.sleep(cmd.get("sleep", 0))
    if "exit" in cmd:
        os._exit(cmd["exit"])
    if "signal" in cmd:
        os.kill(os.getpid(), cmd["signal"])
        time.sleep(10)
    result = {"event": event, "pid": os.getpid(), "rid": rid, "t0": t0, "t1": time.time(), "blob": len(blob)}
    del blob
    if cmd.get("env"):
        result["env"] = dict(os.environ)
        result["cwd"] = os.getcwd()
    if "error" in cmd:
        error = {"errorMessage": cmd["error"], "errorType": "Boom"}
        call("POST", f"/invocation/{rid}/error", json.dumps(error).encode(),
             {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": "Function.Boom"})
    else:
        call("POST", f"/invocation/{rid}/response", json.dumps(result).encode())
    say(cmd.get("after", []))
    time.sleep(cmd.get("after_sleep", 0))
'''

BASH_RUNTIME = r'''#!/bin/bash
# Test runtime in bash + curl (the handle hook sets REPLY_BODY from EVENT and ID).
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
HEADERS="$LAMBDA_TASK_ROOT/.headers.$$"
while true; do
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  REPLY_BODY='"hello"'
  @HANDLE@
  curl -sS -o /dev/null --data-binary "$REPLY_BODY" "$API/invocation/$ID/response"
  @AFTER@
done
'''


def write_script(path: Path, text: str | bytes, mode: int = 0o755) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    path.chmod(mode)
    return path


def python_runtime(folder: Path, name: str = "bootstrap", mode: int = 0o755) -> Path:
    """The Python test runtime as ``folder/name``; returns ``folder``."""
    write_script(Path(folder) / name, PY_RUNTIME, mode)
    return Path(folder)


def bash_runtime(path: Path, handle: str = "", mode: int = 0o755, after: str = "") -> Path:
    """A bash + curl runtime at ``path`` (a file path); ``handle`` may set REPLY_BODY (JSON); ``after`` runs
    once the response is posted, before the next call to `next`."""
    text = BASH_RUNTIME.replace("@HANDLE@", handle or ":").replace("@AFTER@", after or ":")
    return write_script(path, text, mode)


def replying(text: str) -> str:
    """Bash code for ``bash_runtime`` that replies with the JSON string ``text``."""
    return f"REPLY_BODY={json.dumps(json.dumps(text))}"


def make_zip(zip_path: Path, files: dict[str, tuple[str | bytes, int]]) -> Path:
    """A zip whose entries carry explicit Unix modes (name -> (content, mode)), as `zip` on Linux writes them."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (content, mode) in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content.encode() if isinstance(content, str) else content)
    return zip_path


# -- processes and waiting ---------------------------------------------------------------------------------


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running process (a zombie waiting to be reaped counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(pids: Iterable[int], timeout: float = 5.0) -> list[int]:
    """Wait until none of ``pids`` runs; returns the ones still alive at the deadline."""
    pids = list(pids)
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if alive(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def poll(check: Callable[[], T], timeout: float = 5.0, what: str = "condition") -> T:
    """Call ``check`` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def read_lines(path: Path) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []


def pids_in(lines: Iterable[str], label: str) -> list[int]:
    """Numbers from lines like ``"<label> 1234"``."""
    return [int(line.split()[1]) for line in lines if line.startswith(label + " ")]


def payload(result: Any) -> Any:
    """The JSON payload of a successful invocation, with the payload in the assertion message otherwise."""
    assert result.function_error is None, (result.error_type, result.payload, result.log_lines)
    return result.json()
