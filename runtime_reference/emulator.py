"""The Python front door: start the emulator from a notebook or a script, invoke, read logs and traces.

The emulator's event loop runs in a background thread, so a notebook kernel stays free: in runtime-only mode the
learner's own code (in the kernel) plays the runtime with `requests` while events are queued with ``send``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .config import INIT_TIMEOUT, FunctionConfig
from .aio import first_of
from .function import Function
from .http_server import Server
from .invocation import Invocation, InvokeResult
from .invoke_api import InvokeApi
from .logs import LogStream

END_GRACE = 1.0  # seconds invoke() waits after the response for the invocation's END and REPORT
RUNTIME_ONLY_TIMEOUT = 900.0  # a person playing the runtime needs time; 900 s is the service's maximum


class PendingInvoke:
    """An invocation sent with ``Emulator.send``; ``result()`` waits for it."""

    def __init__(self, request_id: str, future: concurrent.futures.Future):
        self.request_id = request_id
        self._future = future

    def done(self) -> bool:
        return self._future.done()

    def result(self, timeout: float | None = None) -> InvokeResult:
        try:
            return self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(
                f"Invocation {self.request_id} has no result after {timeout} s: has the runtime called next "
                "and posted a response or an error for it?") from None

    def __repr__(self) -> str:
        return f"<PendingInvoke {self.request_id} {'done' if self.done() else 'waiting'}>"


class Emulator:
    """A local Lambda function: ``with Emulator("my_function/") as emu: emu.invoke({"x": 1})``."""

    def __init__(self, task_root: str | Path | None = None, *, layers: Iterable[str | Path] = (),
                 handler: str = "function.handler", timeout: float | None = None, memory_mb: int = 128,
                 env: dict[str, str] | None = None, function_name: str = "function", max_environments: int = 1,
                 runtime_only: bool = False, region: str = "us-east-1", invoke_port: int | None = None,
                 log_sink: Callable[[str], None] | None = None, init_timeout: float = INIT_TIMEOUT):
        if task_root is None and not runtime_only:
            raise ValueError("Give the function's task root (a directory or a .zip), or runtime_only=True.")
        self._task_root_source = Path(task_root) if task_root is not None else None
        self._layers = [Path(p) for p in layers]
        self._settings = dict(handler=handler, memory_mb=memory_mb, env=dict(env or {}),
                              function_name=function_name, region=region, runtime_only=runtime_only,
                              init_timeout=init_timeout,
                              timeout=timeout if timeout is not None else (
                                  RUNTIME_ONLY_TIMEOUT if runtime_only else 3.0))
        self.max_environments = max_environments
        self.invoke_port = invoke_port
        self.log_stream = LogStream(log_sink)
        self.config: FunctionConfig | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._function: Function | None = None
        self._invoke_server: Server | None = None
        self._workdir: Path | None = None

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def start(self) -> Emulator:
        if self._loop is not None:
            return self
        from .packaging import prepare_opt, prepare_task_root

        self._workdir = Path(tempfile.mkdtemp(prefix="lambda-emulator-"))
        try:
            task_root = (prepare_task_root(self._task_root_source, self._workdir) if self._task_root_source
                         else self._workdir / "task")
            task_root.mkdir(exist_ok=True)
            runtime_dir = self._workdir / "runtime"
            runtime_dir.mkdir()
            self.config = FunctionConfig(task_root=task_root, opt=prepare_opt(self._layers, self._workdir),
                                         runtime_dir=runtime_dir, **self._settings)
        except Exception:
            shutil.rmtree(self._workdir, ignore_errors=True)
            raise
        self._loop = _new_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="lambda-emulator", daemon=True)
        self._thread.start()
        try:
            self._call(self._astart())
        except BaseException:
            self.stop()
            raise
        return self

    async def _astart(self) -> None:
        assert self.config is not None
        self._function = Function(self.config, self.log_stream, self.max_environments)
        await self._function.start()
        if self.invoke_port is not None:
            self._invoke_server = Server(InvokeApi(self._function).handle)
            self.invoke_port = await self._invoke_server.start(self.invoke_port)

    def stop(self) -> None:
        """Kill every runtime process, close the servers, remove the temporary files."""
        if self._loop is None:
            return
        try:
            self._call(self._astop(), timeout=15)
        except Exception:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loop.close()
        self._loop = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)

    async def _astop(self) -> None:
        if self._invoke_server is not None:
            await self._invoke_server.close()
        if self._function is not None:
            await self._function.close()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Any, timeout: float | None = None) -> Any:
        if self._loop is None:
            coro.close()
            raise RuntimeError("The emulator is not running: use `with Emulator(...) as emu:` or call start().")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- addresses -----------------------------------------------------------------------------------------------
    @property
    def runtime_api(self) -> str:
        """The value of AWS_LAMBDA_RUNTIME_API for the first environment: `127.0.0.1:PORT`."""
        assert self._function is not None, "start the emulator first"
        return self._function.environments[0].address

    @property
    def invoke_url(self) -> str | None:
        if self._invoke_server is None:
            return None
        return f"http://127.0.0.1:{self.invoke_port}/2015-03-31/functions/function/invocations"

    @property
    def logs(self) -> list[str]:
        """The function's log stream so far (the newest 10,000 lines)."""
        if self._loop is None:
            return list(self.log_stream.lines)
        return self._call(self._snapshot_logs())

    async def _snapshot_logs(self) -> list[str]:
        return list(self.log_stream.lines)

    # -- invoking ------------------------------------------------------------------------------------------------
    def send(self, event: Any = None, **options: Any) -> PendingInvoke:
        """Queue an invocation and return at once; ``.result()`` waits for it. Options as for ``invoke``."""
        inv = self._call(self._submit(event if event is not None else {}, options))
        assert self._loop is not None
        grace = 0.0 if self._settings["runtime_only"] else END_GRACE
        future = asyncio.run_coroutine_threadsafe(_wait_result(inv, grace), self._loop)
        return PendingInvoke(inv.request_id, future)

    def invoke(self, event: Any = None, *, timeout: float | None = None, **options: Any) -> InvokeResult:
        """Invoke synchronously and return the result with logs and timings.

        Options: ``qualifier``, ``client_context`` (dict or JSON string), ``cognito_identity`` (dict or JSON),
        ``trace_id``, ``tenant_id``. ``timeout`` bounds the wait here (the function's own timeout applies anyway).
        """
        if self._settings["runtime_only"]:
            raise RuntimeError(
                "In runtime-only mode your code is the runtime, so invoke() would wait for itself. Use "
                "`pending = emu.send(event)`, then call next and post a response, then `pending.result()`.")
        return self.send(event, **options).result(timeout)

    async def _submit(self, event: Any, options: dict[str, Any]) -> Invocation:
        assert self._function is not None
        for key in ("client_context", "cognito_identity"):
            if isinstance(options.get(key), (dict, list)):
                options[key] = json.dumps(options[key])
        inv = self._function.new_invocation(event, **options)
        await self._function.submit(inv)
        return inv


async def _wait_result(inv: Invocation, grace: float) -> InvokeResult:
    """The result once the invoker's answer is there (as on Lambda), with END and REPORT when the runtime asks
    for its next event within ``grace`` seconds (it usually does at once); otherwise a result without them."""
    await asyncio.shield(inv.outcome)
    if not inv.finished.done():
        await first_of(inv.finished, timeout=grace)
    if inv.finished.done():
        return inv.finished.result()
    return inv.partial_result()


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (about twice as fast on the invoke path), else the standard loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
