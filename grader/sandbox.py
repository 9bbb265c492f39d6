"""Run one command under resource limits, and make sure that everything it started is gone afterwards.

Limits set in the child before ``exec``: CPU time (RLIMIT_CPU), address space (RLIMIT_AS), size of a written file
(RLIMIT_FSIZE), no core dumps, and, for an ordinary user, RLIMIT_NPROC relative to the user's current count of
processes. The parent enforces the wall clock and, every ``POLL`` seconds, the number of processes of the run.

Which processes belong to a run: its process tree (counted every ``POLL``), plus every process whose environment
holds the run's token (``GRADER_SANDBOX``; looked for every second and when killing: a fork bomb's orphans leave the
tree).
Root ignores RLIMIT_NPROC, and a sandbox uid is not usable here (the interpreter lives under /root, mode 700), so
for root the process count is enforced by that watchdog: a burst faster than ``POLL`` can overshoot before the kill.
"""

from __future__ import annotations

import os
import resource
import secrets
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .forkserver import ForkServer

TOKEN = "GRADER_SANDBOX"
POLL = 0.1
TOKEN_SCAN_EVERY = 10  # polls: the process tree is counted every POLL, processes that left it every second
_running: dict[int, str] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run. ``processes``: processes of the run (watchdog); for an ordinary user also
    RLIMIT_NPROC above the user's current count (which counts threads too)."""

    wall_seconds: float = 600.0
    cpu_seconds: int = 600
    memory_mb: int = 2048
    processes: int = 128
    file_mb: int = 256


@dataclass(frozen=True)
class Outcome:
    """How a run ended: exit code (negative: killed by that signal), which limit the parent enforced (None,
    "wall" or "processes"), how long it took, the end of its log."""

    returncode: int
    killed_for: str | None
    seconds: float
    log: str


def _proc_status(pid: str) -> dict[str, str]:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _pids() -> list[str]:
    return [entry for entry in os.listdir("/proc") if entry.isdigit()]


def processes_of_user(uid: int) -> int:
    """How many processes have real uid ``uid``."""
    return sum(1 for pid in _pids() if _proc_status(pid).get("Uid", "").split()[:1] == [str(uid)])


def _parent(pid: str) -> int | None:
    """The parent pid, from /proc/PID/stat (one short read; the name field may hold spaces or parentheses)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def members(root: int, token: str, by_token: bool = True) -> set[int]:
    """The run's processes: ``root``'s process tree and (``by_token``) every process whose environment holds
    ``token`` — the slower part of the scan, which catches processes that left the tree."""
    children: dict[int, list[int]] = {}
    found: set[int] = set()
    marker = f"{TOKEN}={token}".encode()
    for pid in _pids():
        ppid = _parent(pid)
        if ppid is not None:
            children.setdefault(ppid, []).append(int(pid))
        if by_token:
            try:
                if marker in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    found.add(int(pid))
            except OSError:
                pass
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            todo.append(child)
            found.add(child)
    found.discard(os.getpid())
    return found


def kill_run(pid: int, token: str) -> None:
    """SIGKILL the run's process group and all its processes; repeat until none is left (a fork bomb may still be
    forking while we kill)."""
    try:
        os.killpg(pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
    for _ in range(500):  # up to 10 s: a fork burst may still be forking, 300 exits take time under load
        left = members(pid, token) - {pid}
        if not left:
            return
        for other in left:
            try:
                os.kill(other, 9)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)


def limit_spec(limits: Limits) -> dict:
    """The limits a child sets on itself (JSON-able: it crosses the fork server's pipe)."""
    nproc = None if os.geteuid() == 0 else processes_of_user(os.getuid()) + limits.processes
    return {"cpu": max(1, int(limits.cpu_seconds)), "memory": limits.memory_mb * 2**20,
            "file": limits.file_mb * 2**20, "nproc": nproc}


def apply_limits(spec: dict) -> None:
    """In the child: the limits of :func:`limit_spec`, no core dumps."""
    resource.setrlimit(resource.RLIMIT_CPU, (spec["cpu"], spec["cpu"] + 5))
    resource.setrlimit(resource.RLIMIT_AS, (spec["memory"], spec["memory"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (spec["file"], spec["file"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if spec["nproc"] is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (spec["nproc"], spec["nproc"]))


def _preexec(spec: dict) -> None:
    """In a child started with subprocess, before exec: a new session and the limits."""
    os.setsid()
    apply_limits(spec)


def run(command: list[str], cwd: Path, env: dict[str, str], limits: Limits, log_file: Path,
        server: ForkServer | None = None) -> Outcome:
    """Run ``command`` under ``limits``, its output to ``log_file``; everything it started is killed at the end.
    With a fork ``server`` (``[python, "-m" | "-c", ...]`` only), the server forks it instead of an exec."""
    spec = limit_spec(limits)
    token = secrets.token_hex(8)
    env = {**env, TOKEN: token}
    started = time.monotonic()
    reason = None
    returncode: int | None = None
    if server is not None:
        log_file.touch()
        job = server.start(command, cwd, env, log_file, spec)
        pid = job.pid
        started = time.monotonic()  # not counting the wait for a server still warming up
        proc = None
    else:
        with open(log_file, "wb") as log:
            proc = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, preexec_fn=lambda: _preexec(spec))
        pid = proc.pid
    with _lock:
        _running[pid] = token
    tick = 0
    try:
        while returncode is None:
            if time.monotonic() - started > limits.wall_seconds:
                reason = "wall"
                break
            tick += 1
            if len(members(pid, token, by_token=tick % TOKEN_SCAN_EVERY == 0)) > limits.processes:
                reason = "processes"
                break
            if proc is not None:
                returncode = proc.poll()
                if returncode is None:
                    time.sleep(POLL)
            else:
                returncode = job.poll(POLL)
    finally:
        kill_run(pid, token)
        if returncode is None:
            returncode = proc.wait() if proc is not None else job.poll(None)
        with _lock:
            _running.pop(pid, None)
    text = log_file.read_bytes()[-20000:].decode("utf-8", "replace")
    return Outcome(returncode, reason, time.monotonic() - started, text)


def kill_all() -> None:
    """Kill every run in progress (on Ctrl-C)."""
    with _lock:
        running = list(_running.items())
    for pid, token in running:
        kill_run(pid, token)
