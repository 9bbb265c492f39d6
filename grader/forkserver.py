"""A warm nbgrader: one process imports nbgrader once (about 3 s here), then runs each command in a forked child,
which starts in milliseconds.

Protocol (JSON lines on the server's stdin/stdout; jobs run side by side): the parent writes
``{"id": K, "argv": [...], "cwd": ..., "env": {...}, "log": ..., "limits": {...}}``; the server forks, answers
``{"id": K, "pid": N}`` at once, and ``{"id": K, "returncode": R}`` when the child has ended (negative: killed by
that signal). One server serves every worker of a batch: nbgrader is imported once.
The child starts a session of its own, takes the limits (:func:`grader.sandbox.apply_limits`), the environment,
the working directory and the log file, then runs ``argv`` — ``python -m MODULE ARGS`` or ``python -c CODE`` —
as that interpreter would, without starting one. The parent enforces the rest (wall clock,
process count) on the child's pid, exactly as for a command it started itself (:mod:`grader.sandbox`).
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO

REAP_EVERY = 0.02  # seconds between two looks for ended jobs
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


def serve(answers: IO[str]) -> None:
    """The server loop (``python -m grader.forkserver``): preload, then fork each job read from stdin as it comes,
    several at a time, answering its pid at once and its return code when it ends; exits when stdin is closed and
    every job has ended."""
    import gc
    import importlib

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the instructor's terminal is the parent's to handle
    for name in PRELOAD:
        importlib.import_module(name)
    gc.freeze()  # the children share the preloaded objects instead of copying the pages a collection touches

    def answer(message: dict) -> None:
        answers.write(json.dumps(message) + "\n")
        answers.flush()

    answer({"ready": True})
    running: dict[int, int] = {}  # pid -> job id
    pending, reading = b"", True
    while reading or running:
        if reading and select.select([0], [], [], REAP_EVERY)[0]:
            chunk = os.read(0, 1 << 16)
            reading = bool(chunk)
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                job = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(job)
                running[pid] = job["id"]
                answer({"id": job["id"], "pid": pid})
        elif not reading:
            time.sleep(REAP_EVERY)
        while running:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            if pid in running:
                answer({"id": running.pop(pid), "returncode": os.waitstatus_to_exitcode(status)})


class ForkedJob:
    """One job of a :class:`ForkServer`: its child's pid, and its return code once it has ended."""

    def __init__(self, number: int) -> None:
        self.id = number
        self.pid: int | None = None
        self.started = threading.Event()
        self.ended: queue.Queue = queue.Queue()

    def poll(self, timeout: float | None = 0.0) -> int | None:
        """The return code once the child has ended, else None after ``timeout`` seconds (None: wait)."""
        try:
            code = self.ended.get(block=timeout != 0.0, timeout=timeout)
        except queue.Empty:
            return None
        if code is LOST:
            raise RuntimeError("the nbgrader fork server ended while this job ran")
        return code


LOST = object()


class ForkServer:
    """The parent's handle on one server process, shared by every worker thread of a batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._numbers = itertools.count()
        self._spawn()

    def _spawn(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "grader.forkserver"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, bufsize=1,
                                        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
        self._ready = threading.Event()
        self._jobs: dict[int, ForkedJob] = {}
        threading.Thread(target=self._read, args=(self.process, self._ready, self._jobs), daemon=True).start()

    @staticmethod
    def _read(process: subprocess.Popen, ready: threading.Event, jobs: dict[int, ForkedJob]) -> None:
        """Dispatch the answers of one server process to its jobs; when it ends, its jobs are lost."""
        for line in process.stdout:
            message = json.loads(line)
            if message.get("ready"):
                ready.set()
            elif "pid" in message:
                jobs[message["id"]].pid = message["pid"]
                jobs[message["id"]].started.set()
            else:
                jobs.pop(message["id"]).ended.put(message["returncode"])
        ready.set()
        for job in list(jobs.values()):
            job.started.set()
            job.ended.put(LOST)
        jobs.clear()

    def wait_ready(self) -> None:
        """Block until the server has preloaded nbgrader."""
        self._ready.wait()

    def start(self, argv: list[str], cwd: Path, env: dict[str, str], log: Path, limits: dict) -> ForkedJob:
        """Start ``argv`` (``[python, "-m" | "-c", ...]``) in a forked child."""
        with self._lock:
            if self.process.poll() is not None:  # it died (killed, out of memory...): a new one takes over
                self._spawn()
            job = ForkedJob(next(self._numbers))
            self._jobs[job.id] = job
            self._ready.wait()
            message = {"id": job.id, "argv": argv, "cwd": str(cwd), "env": env, "log": str(log), "limits": limits}
            try:
                self.process.stdin.write(json.dumps(message) + "\n")
                self.process.stdin.flush()
            except OSError as exc:
                raise RuntimeError(f"the nbgrader fork server ended (exit {self.process.poll()})") from exc
        job.started.wait()
        if job.pid is None:
            raise RuntimeError(f"the nbgrader fork server ended (exit {self.process.poll()})")
        return job

    def close(self) -> None:
        """Close its input: the server exits once its jobs have ended (killed after 10 s)."""
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
    serve(sys.stdout)
