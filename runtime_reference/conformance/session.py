"""Driving the emulator for the checks: one Emulator per handler, every wait bounded."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

HANDLER = "conformance_handler.handler"
MISSING_HANDLER = "conformance_missing.handler"
FUNCTION_NAME = "conformance"
TIMEOUT_S = 3.0
GRACE_S = 3.0
HANDLER_FILES = {"python": "conformance_handler.py", "bash": "conformance_handler.sh"}
HANDLERS_DIR = Path(__file__).parent / "handlers"


class NoResult(Exception):
    """An invoke (or emulator start/stop) that produced no InvokeResult in time."""


def encode(event: Any) -> bytes:
    """Compact UTF-8 JSON, keys in insertion order (the shell handler relies on it)."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()


def bounded(fn: Callable[[], Any], timeout: float, what: str) -> Any:
    """Run ``fn`` in a daemon thread; its value, or NoResult if it raises or overruns."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - reported, never propagated
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name=f"conformance {what}")
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise NoResult(f"{what}: no result after {timeout:.1f} s")
    if "error" in box:
        exc = box["error"]
        raise NoResult(f"{what}: {type(exc).__name__}: {exc}")
    return box.get("value")


def build_task_root(bootstrap: Path, source_dir: Path | None, kind: str | None) -> Path:
    """A temporary task root: the learner's files, the bootstrap (mode kept), our handler."""
    root = Path(tempfile.mkdtemp(prefix="conformance-"))
    task = root / "task"
    if source_dir is not None:
        shutil.copytree(source_dir, task, symlinks=True)
    else:
        task.mkdir()
        shutil.copy2(bootstrap, task / "bootstrap")
    if kind is not None:
        shutil.copy2(HANDLERS_DIR / HANDLER_FILES[kind], task / HANDLER_FILES[kind])
    return task


class Session:
    """The state the checks share: emulators by handler, cached invokes, hang counts."""

    def __init__(self, task_root: Path, bootstrap: Path, kind: str | None) -> None:
        self.task_root = task_root
        self.bootstrap = bootstrap
        self.kind = kind
        self.timeout_s = TIMEOUT_S
        self.hangs = 0
        self.successes = 0
        self._emulators: dict[str, Any] = {}
        self._cache: dict[str, Any] = {}

    @property
    def dead(self) -> bool:
        """True once invokes hang and none ever succeeded (or hangs keep piling up)."""
        return (self.hangs >= 1 and self.successes == 0) or self.hangs >= 3

    def emulator(self, handler: str = HANDLER) -> Any:
        """The running Emulator for ``handler``, started on first use."""
        if handler not in self._emulators:
            from runtime_reference import Emulator

            emu = Emulator(
                self.task_root, handler=handler, timeout=self.timeout_s, function_name=FUNCTION_NAME
            )
            self._emulators[handler] = bounded(emu.__enter__, 15.0, "starting the emulator")
        return self._emulators[handler]

    def invoke(self, event: Any, handler: str = HANDLER, **kwargs: Any) -> Any:
        """Invoke and wait at most timeout + grace; raise NoResult (and reset) otherwise."""
        wait = self.timeout_s + GRACE_S
        try:
            emu = self.emulator(handler)
            pending = bounded(lambda: emu.send(encode(event), **kwargs), wait, "sending the event")
            result = self._wait(pending, wait)
        except NoResult:
            self.hangs += 1
            self.stop(handler)
            raise
        self._count(result)
        return result

    def _wait(self, pending: Any, wait: float) -> Any:
        """The InvokeResult of ``pending``, or NoResult after ``wait`` seconds."""
        try:
            return pending.result(timeout=wait)
        except TimeoutError:
            raise NoResult(
                f"no result after {wait:g} s, although the function timeout is {self.timeout_s:g} s: the runtime "
                "never took the event (is it stuck before its first GET /runtime/invocation/next?)") from None
        except Exception as exc:  # noqa: BLE001 - the emulator failed: reported as this check's failure
            raise NoResult(f"the emulator raised {type(exc).__name__}: {exc}") from exc

    def _count(self, result: Any) -> None:
        if getattr(result, "error_type", None) == "Sandbox.Timedout":
            self.hangs += 1
        elif getattr(result, "function_error", None) is None:
            self.successes += 1

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()`` once per session; a NoResult is cached and raised again."""
        if key not in self._cache:
            try:
                self._cache[key] = make()
            except NoResult as exc:
                self._cache[key] = exc
        value = self._cache[key]
        if isinstance(value, NoResult):
            raise value
        return value

    def peek(self, key: str) -> Any:
        """A cached value or NoResult, or None when nothing was cached under ``key``."""
        return self._cache.get(key)

    def stop(self, handler: str) -> None:
        """Shut one emulator down (bounded); a stuck shutdown is abandoned."""
        emu = self._emulators.pop(handler, None)
        if emu is not None:
            try:
                bounded(lambda: emu.__exit__(None, None, None), 10.0, "stopping the emulator")
            except NoResult:
                pass

    def close(self) -> None:
        """Stop every emulator and delete the temporary task root."""
        for handler in list(self._emulators):
            self.stop(handler)
        shutil.rmtree(self.task_root.parent, ignore_errors=True)
