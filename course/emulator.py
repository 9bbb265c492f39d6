"""One-line start and stop of the emulator for a chapter; one emulator per kernel, so re-running a cell never
leaves a runtime process or a port behind."""

from __future__ import annotations

import atexit
from pathlib import Path
from typing import Any

from runtime_reference import Emulator, InvokeResult

_current: Emulator | None = None


def start(task_root: str | Path | None = None, **options: Any) -> Emulator:
    """Start an emulator (stopping the one this kernel started before) and return it.

    ``start(runtime_only=True)`` when your code plays the runtime; ``start("my_function")`` to run a bootstrap.
    Options are those of ``runtime_reference.Emulator`` (timeout, memory_mb, env, layers, handler...).
    """
    global _current
    stop()
    _current = Emulator(task_root, **options).start()
    return _current


def stop() -> None:
    """Stop the kernel's emulator, if any: its runtime processes are killed and its ports closed."""
    global _current
    if _current is not None:
        emulator, _current = _current, None
        emulator.stop()


def current() -> Emulator:
    if _current is None:
        raise RuntimeError("No emulator is running: run the chapter's setup cell (course.start(...)) first.")
    return _current


def show_trace(result: InvokeResult) -> Any:
    """The protocol trace of an invocation as a table (in a notebook) or text (elsewhere)."""
    try:
        from IPython.display import HTML
    except ImportError:
        return str(result.trace)
    return HTML(result.trace._repr_html_())


atexit.register(stop)
