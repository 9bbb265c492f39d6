"""Finding the `bootstrap` the way Lambda does, and explaining why one can't start."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

INVALID_ENTRYPOINT = "Runtime.InvalidEntrypoint"


class EntrypointError(Exception):
    """The bootstrap can't be started; ``message`` reads like the service's, ``hint`` says what to do."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} Hint: {self.hint}" if self.hint else self.message


def candidates(task_root: Path, opt: Path) -> list[Path]:
    """Where Lambda looks, in order: the function package, then the layers (extracted into /opt)."""
    return [task_root / "bootstrap", opt / "bootstrap"]


def find_bootstrap(task_root: Path, opt: Path, path_env: str) -> Path:
    """The bootstrap to run, or EntrypointError saying which problem stops it."""
    found = next((c for c in candidates(task_root, opt) if c.is_file()), None)
    if found is None:
        listed = " ".join(str(c) for c in candidates(task_root, opt))
        raise EntrypointError(
            f"Couldn't find valid bootstrap(s): [{listed}]",
            "put an executable file named exactly 'bootstrap' at the top of your function package "
            "(not in a sub-folder) or of a layer.")
    problem = diagnose(found, path_env)
    if problem is not None:
        raise problem
    return found


def _shebang(path: Path) -> bytes | None:
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"\x7fELF"):
        return None
    return head.split(b"\n", 1)[0] if head.startswith(b"#!") else b""


def diagnose(path: Path, path_env: str) -> EntrypointError | None:
    """Problems that make exec fail: not executable, CRLF line endings, no shebang, a missing interpreter."""
    if not os.access(path, os.X_OK):
        return EntrypointError(
            f"fork/exec {path}: permission denied",
            f"the file is not executable. Run `chmod +x {path.name}` (in a notebook: "
            f"`os.chmod(path, 0o755)`), and keep the bit when you zip it (`zip` keeps it; some zip tools don't).")
    line = _shebang(path)
    if line is None:  # a compiled binary
        return None
    if line == b"":
        return EntrypointError(
            f"fork/exec {path}: exec format error",
            "a script must start with a shebang line naming its interpreter, e.g. `#!/bin/sh` or "
            "`#!/usr/bin/env python3`, as the very first bytes of the file.")
    if line.endswith(b"\r"):
        return EntrypointError(
            f"fork/exec {path}: no such file or directory",
            "the file has Windows (CRLF) line endings, so the kernel looks for an interpreter whose name ends "
            r"with a carriage return. Convert it to LF: `sed -i 's/\r$//' bootstrap` or `dos2unix bootstrap`.")
    words = line[2:].decode("utf-8", "replace").split()
    if not words:
        return EntrypointError(f"fork/exec {path}: exec format error",
                               "the shebang line names no interpreter: write e.g. `#!/bin/sh`.")
    interpreter = words[0]
    if not os.access(interpreter, os.X_OK):
        return EntrypointError(
            f"fork/exec {path}: no such file or directory",
            f"the interpreter `{interpreter}` named on the shebang line does not exist. On Lambda's OS-only "
            "runtimes only what Amazon Linux ships (or your layers add under /opt) is there.")
    return None


def exit_hint(path: Path, path_env: str) -> str:
    """Why a script that did start may have exited at once (for the Runtime.ExitError message)."""
    try:
        line = _shebang(path)
    except OSError:
        return ""
    words = (line or b"")[2:].decode("utf-8", "replace").split()
    if len(words) > 1 and Path(words[0]).name == "env" and shutil.which(words[1], path=path_env) is None:
        return (f"`{words[1]}` (from `#!{' '.join(words)}`) is not on the runtime's PATH ({path_env}), so `env` "
                "exits with status 127. Bundle the interpreter in a layer (it lands in /opt/bin, which is on "
                "PATH) or name its full path in the shebang line.")
    return ""
