"""grader.sandbox: each limit stops a run, and nothing it started survives it (as root, too)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from grader import sandbox
from grader.forkserver import ForkServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

LIMITS = sandbox.Limits(wall_seconds=3, cpu_seconds=1, memory_mb=512, processes=20)
FORKS = "import os, time\nfor _ in range(100):\n    if os.fork() == 0:\n        time.sleep(30)\n        os._exit(0)\n"
ESCAPE = "import subprocess, time\nsubprocess.Popen(['sleep', '300'], start_new_session=True)\ntime.sleep(60)\n"


def _left() -> list[str]:
    def environ(pid: str) -> bytes:
        try:
            return Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            return b""
    return [pid for pid in sandbox._pids() if sandbox.TOKEN.encode() in environ(pid)]


@pytest.fixture(scope="module", params=["exec", "fork-server"])
def server(request):
    """Each limit is checked twice: for a command started with exec, and for one forked by the warm server."""
    if request.param == "exec":
        yield None
        return
    started = ForkServer()
    started.wait_ready()
    yield started
    started.close()


def _run(tmp_path: Path, code: str, server=None) -> sandbox.Outcome:
    return sandbox.run([sys.executable, "-c", code], tmp_path, {"PATH": "/usr/bin:/bin"}, LIMITS,
                       tmp_path / "log.txt", server)


@pytest.mark.parametrize("code, returncode, killed_for, says", [
    ("while True: pass", -signal.SIGXCPU, None, ""),
    ("x = bytearray(2**30)", 1, None, "MemoryError"),
    (FORKS + "time.sleep(30)", -signal.SIGKILL, "processes", ""),
    ("import time; time.sleep(60)", -signal.SIGKILL, "wall", ""),
    (ESCAPE, -signal.SIGKILL, "wall", ""),
], ids=["cpu", "memory", "processes", "wall", "escaped-session"])
def test_limit_stops_the_run_and_nothing_survives(tmp_path, server, code, returncode, killed_for, says) -> None:
    outcome = _run(tmp_path, code, server)
    assert (outcome.returncode, outcome.killed_for) == (returncode, killed_for), outcome.log
    assert says in outcome.log
    assert outcome.seconds < LIMITS.wall_seconds + 3
    assert not _left()


def test_fork_server_runs_a_module_with_its_environment_and_exit_code(tmp_path, server) -> None:
    code = "import os, sys; print(os.environ['ONLY'], os.getcwd(), sys.argv[1:]); sys.exit(3)"
    outcome = sandbox.run([sys.executable, "-c", code, "a", "b"], tmp_path, {"ONLY": "this"}, LIMITS,
                          tmp_path / "log.txt", server)
    assert outcome.returncode == 3, outcome.log
    assert f"this {tmp_path} ['a', 'b']" in outcome.log


def test_a_dead_fork_server_is_replaced(tmp_path) -> None:
    started = ForkServer()
    try:
        started.wait_ready()
        started.process.kill()
        started.process.wait()
        outcome = sandbox.run([sys.executable, "-c", "print('still grading')"], tmp_path, {}, LIMITS,
                              tmp_path / "log.txt", started)
        assert (outcome.returncode, outcome.killed_for) == (0, None) and "still grading" in outcome.log
    finally:
        started.close()


def test_one_fork_server_runs_jobs_side_by_side(tmp_path) -> None:
    started = ForkServer()
    try:
        spec = sandbox.limit_spec(LIMITS)
        jobs = [started.start([sys.executable, "-c", "import time; time.sleep(1.5)"], tmp_path, {},
                              tmp_path / f"log{n}.txt", spec) for n in range(2)]
        assert jobs[0].pid != jobs[1].pid
        assert all(Path(f"/proc/{job.pid}").exists() for job in jobs), "both children run at the same time"
        assert [job.poll(None) for job in jobs] == [0, 0]
    finally:
        started.close()
