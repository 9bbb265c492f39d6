"""Chapter 01, Custom runtimes in context: the exercises' hints, the runtime table the first exercise reads, and
helpers that build function packages and layers on disk and run them in the emulator."""

from __future__ import annotations

import atexit
import os
import shutil
import stat
import tempfile
from datetime import date
from pathlib import Path

HINTS = {
    "01.1": [
        "Look the identifier up in `RUNTIMES`: it gives the kind (\"os-only\" or \"managed\") and the deprecation "
        "date, or None for a runtime that is already deprecated.",
        "An identifier that is not a key of `RUNTIMES` raises ValueError (`if identifier not in RUNTIMES`). "
        "A runtime is deprecated when its date is None or when `today >= date`.",
        "`kind, _os, deprecation = RUNTIMES[identifier]`; `today = today or date.today()`; return \"deprecated\" "
        "if `deprecation is None or today >= deprecation`, else `kind`.",
    ],
    "01.2": [
        "Lambda looks in the function package first (/var/task): only when there is no file named exactly "
        "`bootstrap` at its root does it look in /opt, where the layers are.",
        "Layers are extracted into /opt one after the other, so a later layer's `bootstrap` replaces an earlier "
        "one: search the layers from the last to the first, `for index in reversed(range(len(layers)))`. Check "
        "the number of layers before anything else.",
        "`if len(layers) > 5: raise ValueError(...)`; `if \"bootstrap\" in package_files: return "
        "(\"/var/task/bootstrap\", None, package_files[\"bootstrap\"])`; then the reversed loop returns "
        "`(\"/opt/bootstrap\", index, layers[index][\"bootstrap\"])`; after the loop, `return None`.",
    ],
    "01.3": [
        "Check in the order the kernel meets the problems: first the permission to execute, then the first bytes "
        "of the file (a `#!` line, or a compiled program), then the line endings.",
        "`mode & 0o111 == 0`: no execute bit at all. A compiled program starts with `b\"\\x7fELF\"` and needs no "
        "`#!` line. Then `data.startswith(b\"#!\")`, then `b\"\\r\\n\" in data`.",
        "`if mode & 0o111 == 0: return \"not-executable\"`; `if data.startswith(b\"\\x7fELF\"): return None`; "
        "`if not data.startswith(b\"#!\"): return \"no-shebang\"`; `if b\"\\r\\n\" in data: return \"crlf\"`; "
        "`return None`.",
    ],
}

# Runtime identifiers, as the Lambda developer guide listed them when this chapter was written (pages
# "Lambda runtimes", "When to use Lambda's OS-only runtimes", "Building Lambda functions with Go"). Dates are
# AWS's planned deprecation dates, which AWS may move: the runtimes page is the reference. None: already deprecated.
RUNTIMES: dict[str, tuple[str, str, date | None]] = {
    # identifier: (kind, operating system, deprecation date)
    "provided.al2023": ("os-only", "Amazon Linux 2023", date(2029, 6, 30)),
    "provided.al2": ("os-only", "Amazon Linux 2", date(2026, 6, 30)),
    "provided": ("os-only", "Amazon Linux", None),  # the first OS-only runtime, on Amazon Linux 1
    "go1.x": ("managed", "Amazon Linux", None),  # Go now uses provided.al2023 (or provided.al2)
    "python3.14": ("managed", "Amazon Linux 2023", date(2029, 6, 30)),
    "nodejs24.x": ("managed", "Amazon Linux 2023", date(2028, 4, 30)),
    "nodejs22.x": ("managed", "Amazon Linux 2023", date(2027, 4, 30)),
    "nodejs20.x": ("managed", "Amazon Linux 2023", date(2026, 4, 30)),
}

# A function that says which bootstrap runs it, in which process, and how many events that process has handled.
FUNCTION_PY = '''\
"""Says which bootstrap is running it, and how many events this execution environment has handled."""
import os
import sys

handled = 0  # module state: it lives as long as the runtime process, i.e. the execution environment


def handler(event, context):
    global handled
    handled += 1
    return {"bootstrap": sys.argv[0], "pid": os.getpid(), "events_handled": handled}
'''

_workdirs: list[Path] = []


def workdir() -> Path:
    """A fresh temporary folder, removed when the kernel exits."""
    path = Path(tempfile.mkdtemp(prefix="ch01-"))
    _workdirs.append(path)
    return path


@atexit.register
def _cleanup() -> None:
    for path in _workdirs:
        shutil.rmtree(path, ignore_errors=True)


def reference_bootstrap() -> bytes:
    """The bytes of the course's reference runtime (a Python program, standard library only)."""
    from runtime_reference.bootstraps import PYTHON_DIR

    return (PYTHON_DIR / "bootstrap").read_bytes()


def write_file(path: Path, data: bytes | str, mode: int) -> Path:
    """Write ``data`` to ``path`` (folders created) and set its permission bits, e.g. 0o755."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    os.chmod(path, mode)
    return path


def make_folder(root: Path, files: dict[str, tuple[bytes | str, int]]) -> Path:
    """A function package or a layer on disk: ``files`` maps a relative path to (content, mode)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for name, (data, mode) in files.items():
        write_file(root / name, data, mode)
    return root


def listing(root: Path) -> dict[str, int]:
    """The files of a folder as the exercises see a package or a layer: relative path -> permission bits."""
    root = Path(root)
    return {p.relative_to(root).as_posix(): stat.S_IMODE(p.stat().st_mode)
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


# Bootstrap files to try: (content, mode). The first runs; each of the others has one classic mistake.
SAMPLE_BOOTSTRAPS: dict[str, tuple[bytes, int]] = {
    "the reference runtime, rwxr-xr-x": (reference_bootstrap(), 0o755),
    "the reference runtime, zipped without its x bit": (reference_bootstrap(), 0o644),
    "a shell script saved with Windows line endings": (b"#!/bin/sh\r\nexec python3 runtime.py\r\n", 0o755),
    "a shell script without a #! line": (b"cd \"$LAMBDA_TASK_ROOT\"\nexec python3 runtime.py\n", 0o755),
}


def try_bootstrap(data: bytes, mode: int, event: object = None):  # noqa: ANN201 - an InvokeResult
    """Put this bootstrap (and FUNCTION_PY) in a fresh function package and invoke it once in the emulator."""
    from runtime_reference import Emulator

    task = make_folder(workdir() / "task", {"bootstrap": (data, mode), "function.py": (FUNCTION_PY, 0o644)})
    with Emulator(task) as emu:
        return emu.invoke({} if event is None else event)


def error_text(result) -> str:  # noqa: ANN001 - an InvokeResult
    """The errorMessage of a failed invoke, without its "RequestId: ... Error: " prefix."""
    if result.function_error is None:
        return ""
    try:
        message = result.json().get("errorMessage", "")
    except ValueError:
        return result.payload.decode("utf-8", "replace")
    return message.split(" Error: ", 1)[-1]


def where(result, task: Path) -> str:  # noqa: ANN001 - an InvokeResult
    """Which bootstrap ran FUNCTION_PY, in Lambda's words: /var/task/bootstrap or /opt/bootstrap."""
    ran = Path(result.json()["bootstrap"])
    return "/var/task/bootstrap" if ran.parent == Path(task).resolve() else f"/opt/bootstrap (here: {ran})"
