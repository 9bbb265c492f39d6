"""One execution environment: a runtime process, its Runtime API endpoint, and the invoke lifecycle.

Lifecycle, as in the service: a cold environment starts the bootstrap (init phase) and waits for its first
`GET next`; then one invocation at a time: the event goes out on `next`, the invoker's result is released when the
runtime posts a response or an error, and the invocation ends when the runtime calls `next` again. A timeout kills
the process group; a process that exits, or an init error, leaves the environment cold for the next invoke.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from . import logs as logfmt
from .config import FunctionConfig, runtime_environment
from .entrypoint import INVALID_ENTRYPOINT, EntrypointError, find_bootstrap, runtime_problem
from .aio import first_of
from .http_server import Server
from .invocation import Invocation, InvokeResult, Outcome
from .memory import peak_memory_mb
from .runtime_api import RuntimeApi
from .trace import Trace, TraceRecord

EXIT_GRACE = 2.0  # seconds to wait for a killed process group to be reaped
MEMORY_SAMPLE_EVERY = 0.25
INIT_ERROR_EXIT_GRACE = 1.0  # seconds a runtime gets to exit by itself after posting /init/error


class Environment:
    """An execution environment; ``run(invocation)`` drives one invocation through it."""

    def __init__(self, config: FunctionConfig, log_stream: logfmt.LogStream):
        self.config = config
        self.log_stream = log_stream
        self.api = RuntimeApi(self)
        self.server = Server(self.api.handle)
        self.address = ""
        self.process: asyncio.subprocess.Process | None = None
        self.bootstrap: Path | None = None
        self.pipe: logfmt.PipeReader | None = None
        self.exited: asyncio.Future[int] | None = None
        self.current: Invocation | None = None
        self.initialized = False  # the runtime called `next` at least once since it started
        self.init_error: Outcome | None = None
        self.init_started = 0.0
        self.delivery: asyncio.Future[Invocation] | None = None
        self.init_done: asyncio.Future[None] | None = None  # created on the loop by _reset
        self.invocation_ended: asyncio.Future[None] | None = None
        self.pending_logs: list[str] = []  # printed outside any invocation; goes to the next one's log
        self.pending_trace = Trace()
        self.max_memory_mb = 0
        self._memory_read_at = 0.0

    # -- setup ---------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        port = await self.server.start()
        self.address = f"127.0.0.1:{port}"
        self._reset()

    async def close(self) -> None:
        await self.kill()
        await self.server.close()

    @property
    def running(self) -> bool:
        if self.config.runtime_only:
            return self.initialized and self.init_error is None
        return self.process is not None and self.exited is not None and not self.exited.done()

    # -- logs and trace ------------------------------------------------------------------------------------------
    def log(self, line: str) -> None:
        self.log_stream.write(line)
        if self.current is not None:
            self.current.add_log(line)
        elif len(self.pending_logs) < 1000:
            self.pending_logs.append(line)

    def record(self, record: TraceRecord) -> None:
        if self.current is not None:
            self.current.add_trace(record)
        elif len(self.pending_trace) < 200:
            self.pending_trace.append(record)

    def drain_output(self) -> None:
        if self.pipe is not None:
            self.pipe.drain()

    # -- called by the Runtime API -------------------------------------------------------------------------------
    def on_next(self) -> None:
        """The runtime asked for the next event: init is over, or the current invocation has ended."""
        if not self.initialized:
            self.initialized = True
            _settle(self.init_done)
        if self.current is not None and self.current.responded:
            _settle(self.invocation_ended)
            self._forget_delivery()

    def wait_for_delivery(self) -> asyncio.Future[Invocation]:
        """The future every waiting `next` shares; it is replaced only once its invocation has ended."""
        if self.delivery is None:
            self.delivery = asyncio.get_running_loop().create_future()
        return self.delivery

    def _forget_delivery(self) -> None:
        if self.delivery is not None and self.delivery.done():
            self.delivery = None

    def on_init_error(self, outcome: Outcome) -> None:
        self.init_error = outcome
        _settle(self.init_done)

    # -- the process ---------------------------------------------------------------------------------------------
    async def _spawn(self) -> None:
        env = runtime_environment(self.config, self.address)
        assert self.bootstrap is not None
        read_fd, write_fd = os.pipe()
        self.pipe = logfmt.PipeReader(read_fd, self.log)
        loop = asyncio.get_running_loop()
        try:
            self.process = await asyncio.create_subprocess_exec(
                str(self.bootstrap), cwd=str(self.config.task_root), env=env, stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd, stderr=write_fd, start_new_session=True)
        finally:
            os.close(write_fd)
        loop.add_reader(read_fd, self._on_output)
        self.exited = asyncio.ensure_future(self.process.wait())

    def _on_output(self) -> None:
        assert self.pipe is not None
        self.pipe.drain()
        if self.pipe.closed:
            asyncio.get_running_loop().remove_reader(self.pipe.fd)

    async def kill(self) -> None:
        """Kill the whole process group (the service freezes and discards the environment)."""
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            self.max_memory_mb = max(self.max_memory_mb, peak_memory_mb(process.pid))
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                await asyncio.wait_for(process.wait(), EXIT_GRACE)
            except asyncio.TimeoutError:
                pass
        self._close_pipe()
        self._reset()

    def _close_pipe(self) -> None:
        if self.pipe is not None:
            self.pipe.drain()
            if not self.pipe.closed:
                asyncio.get_running_loop().remove_reader(self.pipe.fd)
                self.pipe.close()
            self.pipe = None

    def _reset(self) -> None:
        self.initialized = False
        self.init_error = None
        self.init_done = asyncio.get_running_loop().create_future()
        if self.delivery is not None and not self.delivery.done():
            self.delivery.cancel()
        self.delivery = None

    def _exit_description(self, code: int) -> str:
        if code >= 0:
            return f"exit status {code}"
        return f"signal: {(signal.strsignal(-code) or str(-code)).lower()}"  # as Go prints it: "signal: killed"

    # -- the invoke lifecycle ------------------------------------------------------------------------------------
    async def run(self, inv: Invocation) -> InvokeResult:
        """Run one invocation to its end and return what the invoker gets, with logs and timings."""
        if not self.running and not await self._cold_start(inv):
            return self._finish_failed_init(inv)
        return await self._invoke(inv)

    async def _cold_start(self, inv: Invocation) -> bool:
        self.current = None
        if not self.config.runtime_only:  # (runtime-only: an init error already posted is this invoke's)
            await self.kill()
        self.max_memory_mb = 0
        self.init_started = time.perf_counter()
        if not self.config.runtime_only:
            try:
                self.bootstrap = find_bootstrap(self.config.task_root, self.config.opt, self._path())
            except EntrypointError as exc:
                self._fail_entrypoint(inv, str(exc))
                return False
            try:
                await self._spawn()
            except OSError as exc:
                self._fail_entrypoint(inv, f"fork/exec {self.bootstrap}: {exc.strerror}")
                return False
        timeout = None if self.config.runtime_only else self.config.init_timeout
        done = await first_of(self.init_done, self.exited, timeout=timeout)
        if done is None:  # over the init limit: the service retries init within the invoke, under its timeout
            init_ms = (time.perf_counter() - self.init_started) * 1000
            self._adopt(inv)
            self.log(f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: init\tStatus: timeout")
            await self.kill()
            self._log_start(inv)
            return await self._retry_init(inv)
        return await self._after_init(inv, phase="init")

    async def _retry_init(self, inv: Invocation) -> bool:
        """The suppressed-init path: start a fresh runtime and give it the function's timeout to be ready."""
        self.init_started = time.perf_counter()
        await self._spawn()
        done = await first_of(self.init_done, self.exited, timeout=inv.timeout)
        if done is None:
            init_ms = (time.perf_counter() - self.init_started) * 1000
            self._adopt(inv)
            self.log(f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: invoke\tStatus: timeout")
            self._log_timeout(inv)
            inv.fail("Sandbox.Timedout",
                     f"RequestId: {inv.request_id} Error: Task timed out after {inv.timeout:.2f} seconds")
            await self.kill()
            return False
        inv.budget = max(0.001, inv.timeout - (time.perf_counter() - self.init_started))
        return await self._after_init(inv, phase="invoke")

    async def _after_init(self, inv: Invocation, phase: str) -> bool:
        init_ms = (time.perf_counter() - self.init_started) * 1000
        self._adopt(inv)
        if self.init_error is not None:
            await self._await_exit_after_init_error(inv)
            self.log(f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: {phase}\tStatus: error\t"
                     f"Error Type: {self.init_error.error_type}")
            self._log_start(inv)
            inv.resolve(self.init_error)
            await self.kill()
            return False
        if self.initialized:
            inv.init_duration_ms = init_ms
            self._measure_memory(duration_ms=init_ms)
            return True
        code = self.exited.result() if self.exited is not None else -9
        self.drain_output()
        self.log(f"INIT_REPORT Init Duration: {init_ms:.2f} ms\tPhase: {phase}\tStatus: error\t"
                 "Error Type: Runtime.ExitError")
        self._log_start(inv)
        self._fail_exit(inv, code)
        await self.kill()
        return False

    def _fail_entrypoint(self, inv: Invocation, message: str) -> None:
        self._adopt(inv)
        self._log_start(inv)
        inv.fail(INVALID_ENTRYPOINT, f"RequestId: {inv.request_id} Error: {message}")
        self.log(f"RequestId: {inv.request_id} Error: {message}")
        self.log(INVALID_ENTRYPOINT)

    def _log_start(self, inv: Invocation) -> None:
        """The START line, once per invocation: after what the init phase printed, before the invoke phase."""
        if inv.started_at is None:
            inv.started_at = time.perf_counter()
            self.log(logfmt.start_line(inv.request_id, self.config.version))

    async def _await_exit_after_init_error(self, inv: Invocation) -> None:
        """After /init/error a runtime should exit; give it a moment, then note it if it didn't."""
        if self.exited is None:
            return
        if await first_of(self.exited, timeout=INIT_ERROR_EXIT_GRACE) is None:
            inv.notes.append(f"The runtime posted /init/error but was still running {INIT_ERROR_EXIT_GRACE} s "
                             "later; a runtime should exit right after reporting an init error.")
        self.drain_output()

    def _path(self) -> str:
        return runtime_environment(self.config, self.address)["PATH"]

    def _adopt(self, inv: Invocation) -> None:
        """Make ``inv`` current; output and API calls from the init phase become part of its log and trace."""
        self.current = inv
        self.invocation_ended = asyncio.get_running_loop().create_future()
        self.drain_output()
        for line in self.pending_logs:
            inv.add_log(line)
        for record in self.pending_trace:
            inv.add_trace(record)
        self.pending_logs, self.pending_trace = [], Trace()

    def _fail_exit(self, inv: Invocation, code: int) -> None:
        self.drain_output()
        message = f"RequestId: {inv.request_id} Error: Runtime exited with error: {self._exit_description(code)}"
        problem = runtime_problem(self.bootstrap, self._path()) if self.bootstrap and not self.initialized else None
        self.log(message)
        self.log("Runtime.ExitError")
        if problem is not None:
            message += f" ({problem.problem}). Hint: {problem.hint}"
        inv.fail("Runtime.ExitError", message)

    def _finish_failed_init(self, inv: Invocation) -> InvokeResult:
        self._log_start(inv)
        return self._finish(inv, duration_ms=(time.perf_counter() - inv.started_at) * 1000)

    async def _invoke(self, inv: Invocation) -> InvokeResult:
        if self.current is not inv:
            self._adopt(inv)
        self._log_start(inv)
        self.wait_for_delivery().set_result(inv)
        # A process runtime is already waiting in `next`; a person (runtime-only) may take their time.
        await first_of(inv.handed_out, self.exited, timeout=None if self.config.runtime_only else inv.budget)
        if inv.handed_out.done():
            await first_of(inv.outcome, self.exited, timeout=max(0.0, inv.budget - inv.elapsed_ms() / 1000))
        if not inv.outcome.done():
            await self._end_without_outcome(inv)
        else:
            remaining = max(0.0, inv.budget - inv.elapsed_ms() / 1000)
            done = await first_of(self.invocation_ended, self.exited, timeout=remaining)
            if done is None:  # responded, but post-response work ran past the timeout
                self._log_timeout(inv)
                await self.kill()
            elif done is self.exited:  # exited after responding, before calling next
                self.drain_output()
                self.log(f"RequestId: {inv.request_id} Error: Runtime exited with error: "
                         f"{self._exit_description(self.exited.result())}")
                await self.kill()
        duration = inv.elapsed_ms()
        return self._finish(inv, duration)

    async def _end_without_outcome(self, inv: Invocation) -> None:
        if self.exited is not None and self.exited.done():
            self._fail_exit(inv, self.exited.result())
            await self.kill()
            return
        self._log_timeout(inv)
        inv.fail("Sandbox.Timedout",
                 f"RequestId: {inv.request_id} Error: Task timed out after {inv.timeout:.2f} seconds")
        if self.config.runtime_only:
            return
        await self.kill()

    def _log_timeout(self, inv: Invocation) -> None:
        self.drain_output()
        self.log(logfmt.timeout_line(inv.request_id, inv.timeout))

    def _measure_memory(self, duration_ms: float) -> None:
        """Read the peak RSS; on a stream of very short invocations, at most every MEMORY_SAMPLE_EVERY seconds
        (the kernel's high-water mark keeps every peak, so a skipped reading shows up in the next one)."""
        now = time.perf_counter()
        if self.process is None:
            return
        if duration_ms < 5 and now - self._memory_read_at < MEMORY_SAMPLE_EVERY and self.max_memory_mb:
            return
        self._memory_read_at = now
        self.max_memory_mb = max(self.max_memory_mb, peak_memory_mb(self.process.pid))

    def _finish(self, inv: Invocation, duration_ms: float) -> InvokeResult:
        self.drain_output()
        if self.pipe is not None:
            self.pipe.flush_partial()
        self._measure_memory(duration_ms)
        result = inv.result(duration_ms, self.max_memory_mb)
        self.log(logfmt.end_line(inv.request_id))
        self.log(logfmt.report_line(inv.request_id, duration_ms, result.billed_duration_ms, self.config.memory_mb,
                                    self.max_memory_mb, inv.init_duration_ms))
        self.current = None
        self._forget_delivery()
        inv.close_stream()
        if not inv.finished.done():
            inv.finished.set_result(result)
        return result


def _settle(future: asyncio.Future[None] | None) -> None:
    if future is not None and not future.done():
        future.set_result(None)
