"""Chapter 00, Welcome: the environment check and the warm-up exercises' hints."""

from __future__ import annotations

import platform
import sys

HINTS = {
    "00.1": [
        "A handler is a plain function with two parameters: the event (here a dict) and the context (unused here).",
        "Read the name with `event.get(\"name\", \"World\")` so that a missing name falls back to World.",
        "`return {\"greeting\": f\"Hello, {event.get('name', 'World')}!\"}`",
    ],
    "00.2": [
        "_HANDLER is `module.function`: everything before the LAST dot is the module, what follows is the function.",
        "`str.rpartition(\".\")` splits at the last dot and tells you whether a dot was there at all.",
        "`module, dot, function = setting.rpartition(\".\")`; raise ValueError when `not dot or not module or not "
        "function`, else return `(module, function)`.",
    ],
    "00.3": [
        "Lambda bills in 1 ms steps, rounding the duration up: 12.01 ms is billed as 13 ms.",
        "`math.ceil` rounds up. Mind an exact value such as 12.0: it stays 12.",
        "`return max(1, math.ceil(duration_ms))`: an invocation is billed at least 1 ms.",
    ],
}


def environment_report() -> list[tuple[str, str, bool]]:
    """(what, found, ok) rows: Python, the course packages, and a real round trip through the emulator."""
    rows = [("Python", platform.python_version(), sys.version_info >= (3, 10))]
    try:
        from runtime_reference import Emulator
        from runtime_reference.bootstraps import PYTHON_DIR

        with Emulator(PYTHON_DIR) as emu:
            result = emu.invoke({"hello": "world"})
        ok = result.ok and result.json() == {"hello": "world"}
        rows.append(("emulator round trip", f"{result.duration_ms:.1f} ms, cold start "
                     f"{result.init_duration_ms or 0:.0f} ms", ok))
    except Exception as exc:  # the report must say what is wrong, not crash
        rows.append(("emulator round trip", f"failed: {exc}", False))
    try:
        import ipywidgets

        rows.append(("ipywidgets (quizzes)", ipywidgets.__version__, True))
    except ImportError:
        rows.append(("ipywidgets (quizzes)", "missing: run `make lab` from the repository", False))
    return rows


def check_environment() -> None:
    """Print the environment report; raise if something is missing."""
    from ..checks import check

    for what, found, ok in environment_report():
        check(f"{what}: {found}", ok, expected="working", actual=found,
              hint="Start JupyterLab with `make lab` from the repository: it installs everything.")


def run_handler_in_emulator(handler, event):  # noqa: ANN001, ANN201 - a learner's function, any event
    """Run a handler defined in the notebook the way Lambda would: its source in `function.py`, the reference
    Python runtime as `bootstrap`, one invoke through the emulator. Returns the InvokeResult."""
    import inspect
    import shutil
    import tempfile
    from pathlib import Path

    from runtime_reference import Emulator
    from runtime_reference.bootstraps import PYTHON_DIR

    with tempfile.TemporaryDirectory() as tmp:
        task = Path(tmp)
        shutil.copy2(PYTHON_DIR / "bootstrap", task / "bootstrap")
        (task / "function.py").write_text(inspect.getsource(handler), encoding="utf-8")
        with Emulator(task, handler=f"function.{handler.__name__}") as emu:
            return emu.invoke(event)
