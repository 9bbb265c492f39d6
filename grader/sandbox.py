"""Run one command under resource limits, and make sure that everything it started is gone afterwards.

Limits set in the child before ``exec``: CPU time (RLIMIT_CPU), address space (RLIMIT_AS), size of a written file
(RLIMIT_FSIZE), no core dumps, and, for an ordinary user, RLIMIT_NPROC relative to the user's current count of
processes. The parent enforces the wall clock and, every ``POLL`` seconds, the number of processes of the run.

Which processes belong to a run: its process tree, plus every process whose environment holds the run's token
(``GRADER_SANDBOX``; Jupyter starts kernels in a session of their own, and a fork bomb's orphans leave the tree).
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

TOKEN = "GRADER_SANDBOX"
POLL = 0.1
_running: dict[int, tuple[subprocess.Popen, str]] = {}
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


def members(root: int, token: str) -> set[int]:
    """The run's processes: ``root``'s process tree and every process whose environment holds ``token``."""
    children: dict[int, list[int]] = {}
    found: set[int] = set()
    marker = f"{TOKEN}={token}".encode()
    for pid in _pids():
        ppid = _proc_status(pid).get("PPid", "").strip()
        if ppid.isdigit():
            children.setdefault(int(ppid), []).append(int(pid))
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


def kill_run(proc: subprocess.Popen, token: str) -> None:
    """SIGKILL the run's process group and all its processes; repeat until none is left (a fork bomb may still be
    forking while we kill)."""
    try:
        os.killpg(proc.pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
    for _ in range(100):
        left = members(proc.pid, token) - {proc.pid}
        if not left:
            return
        for pid in left:
            try:
                os.kill(pid, 9)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.02)


def _preexec(limits: Limits, nproc: int | None) -> None:
    """In the child, before exec: a new session and the limits."""
    os.setsid()
    cpu = max(1, int(limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    memory = limits.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    size = limits.file_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if nproc is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def run(command: list[str], cwd: Path, env: dict[str, str], limits: Limits, log_file: Path) -> Outcome:
    """Run ``command`` under ``limits``, its output to ``log_file``; everything it started is killed at the end."""
    nproc = None if os.geteuid() == 0 else processes_of_user(os.getuid()) + limits.processes
    token = secrets.token_hex(8)
    started = time.monotonic()
    reason = None
    with open(log_file, "wb") as log:
        proc = subprocess.Popen(command, cwd=cwd, env={**env, TOKEN: token}, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, preexec_fn=lambda: _preexec(limits, nproc))
        with _lock:
            _running[proc.pid] = (proc, token)
        try:
            while proc.poll() is None:
                if time.monotonic() - started > limits.wall_seconds:
                    reason = "wall"
                    break
                if len(members(proc.pid, token)) > limits.processes:
                    reason = "processes"
                    break
                time.sleep(POLL)
        finally:
            kill_run(proc, token)
            proc.wait()
            with _lock:
                _running.pop(proc.pid, None)
    text = log_file.read_bytes()[-20000:].decode("utf-8", "replace")
    return Outcome(proc.returncode, reason, time.monotonic() - started, text)


def kill_all() -> None:
    """Kill every run in progress (on Ctrl-C)."""
    with _lock:
        running = list(_running.values())
    for proc, token in running:
        kill_run(proc, token)
