"""A warm nbgrader: one process imports nbgrader once (about 3 s here), then runs each command in a forked child,
which starts in milliseconds.

Protocol (JSON lines on the server's stdin/stdout, one job at a time): the parent writes
``{"argv": [...], "cwd": ..., "env": {...}, "log": ..., "limits": {...}}``; the server forks, answers
``{"pid": N}`` at once, and ``{"returncode": R}`` when the child has ended (negative: killed by that signal).
The child starts a session of its own, takes the limits (:func:`grader.sandbox.apply_limits`), the environment,
the working directory and the log file, then runs ``argv`` — ``python -m MODULE ARGS`` or ``python -c CODE`` —
as that interpreter would, without starting one. The parent enforces the rest (wall clock,
process count) on the child's pid, exactly as for a command it started itself (:mod:`grader.sandbox`).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import IO

PRELOAD = ("nbgrader.apps.nbgraderapp", "nbgrader.converters.autograde", "nbgrader.converters.generate_assignment",
           "nbgrader.api", "nbgrader.preprocessors", "nbclient", "jupyter_client.manager", "nbconvert.exporters")


def _run_argv(argv: list[str]) -> None:
    """``[python, "-m", module, *args]`` or ``[python, "-c", code, *args]``, in this process."""
    import runpy

    if argv[1:2] == ["-m"]:
        sys.argv = [argv[2], *argv[3:]]
        runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
    elif argv[1:2] == ["-c"]:
        sys.argv = ["-c", *argv[3:]]
        exec(compile(argv[2], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102 - it is the job
    else:
        raise ValueError(f"the fork server runs `python -m ...` or `python -c ...`, not {argv[:2]}")


def _child(job: dict) -> None:
    """In the forked child: limits, environment, files, then the job, ending like the interpreter would (an
    uncaught exception prints its traceback and exits 1). Never returns."""
    code = 70
    try:
        from .sandbox import apply_limits

        os.setsid()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # the server ignores Ctrl-C; a job must not
        apply_limits(job["limits"])
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        for fd in os.listdir("/proc/self/fd"):
            if int(fd) > 2:
                try:
                    os.close(int(fd))
                except OSError:
                    pass
        os.chdir(job["cwd"])
        os.environ.clear()
        os.environ.update(job["env"])
    except BaseException as exc:  # noqa: BLE001 - the child must end here, never return into the server loop
        _say(f"fork server: could not start the job: {type(exc).__name__}: {exc}\n")
        os._exit(code)
    try:
        _run_argv(job["argv"])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if not isinstance(exc.code, int) and exc.code is not None:
            _say(f"{exc.code}\n")
    except BaseException:  # noqa: BLE001
        code = 1
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001 - e.g. MemoryError again
            _say("uncaught exception (its traceback could not be printed)\n")
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001, S110
                pass
        os._exit(code)


def _say(text: str) -> None:
    try:
        os.write(2, text.encode())
    except OSError:
        pass


def serve(jobs: IO[str], answers: IO[str]) -> None:
    """The server loop (``python -m grader.forkserver``): preload, then one job at a time until stdin closes."""
    import importlib

    import gc

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the instructor's terminal is the parent's to handle
    for name in PRELOAD:
        importlib.import_module(name)
    gc.freeze()  # the children share the preloaded objects instead of copying the pages a collection touches
    answers.write(json.dumps({"ready": True}) + "\n")
    answers.flush()
    for line in jobs:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(job)
        answers.write(json.dumps({"pid": pid}) + "\n")
        answers.flush()
        _, status = os.waitpid(pid, 0)
        answers.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
        answers.flush()


class ForkServer:
    """The parent's handle on one server process (one job at a time; use one per worker thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spawn()

    def _spawn(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "grader.forkserver"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1,
                                        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        self._ready = False

    def _answer(self, timeout: float | None = None) -> dict | None:
        """The next answer line; None when ``timeout`` passes first."""
        if timeout is not None:
            readable, _, _ = select.select([self.process.stdout], [], [], timeout)
            if not readable:
                return None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the nbgrader fork server ended (exit {self.process.poll()})")
        return json.loads(line)

    def wait_ready(self) -> None:
        """Block until the server has preloaded nbgrader."""
        with self._lock:
            if not self._ready:
                self._ready = bool(self._answer())

    def start(self, argv: list[str], cwd: Path, env: dict[str, str], log: Path, limits: dict) -> int:
        """Start ``argv`` (``[python, "-m" | "-c", ...]``) in a forked child; returns its pid."""
        with self._lock:
            if self.process.poll() is not None:  # it died (killed, out of memory...): a new one takes over
                self._spawn()
            if not self._ready:
                self._ready = bool(self._answer())
            job = {"argv": argv, "cwd": str(cwd), "env": env, "log": str(log), "limits": limits}
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
            return self._answer()["pid"]

    def poll(self, timeout: float = 0.0) -> int | None:
        """The child's return code once it has ended, else None (waits up to ``timeout`` seconds)."""
        answer = self._answer(timeout)
        return None if answer is None else answer["returncode"]

    def close(self) -> None:
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
