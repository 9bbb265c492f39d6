"""Finding the `bootstrap` the way Lambda does, and explaining why one can't start.

Used by the emulator (a broken bootstrap fails the invoke with `Runtime.InvalidEntrypoint`, as on Lambda, plus a
hint) and by the conformance suite (its first check reads the file the same way).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

INVALID_ENTRYPOINT = "Runtime.InvalidEntrypoint"
UTF8_BOM = b"\xef\xbb\xbf"


class EntrypointError(Exception):
    """The bootstrap can't be started.

    ``message`` reads like the service's error, ``problem`` says in words what is wrong with the file, ``hint``
    says what to do.
    """

    def __init__(self, message: str, problem: str, hint: str):
        super().__init__(message)
        self.message = message
        self.problem = problem
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.problem}). Hint: {self.hint}"


def candidates(task_root: Path, opt: Path) -> list[Path]:
    """Where Lambda looks, in order: the function package, then the layers (extracted into /opt)."""
    return [task_root / "bootstrap", opt / "bootstrap"]


def find_bootstrap(task_root: Path, opt: Path, path_env: str) -> Path:
    """The bootstrap to run, or EntrypointError saying which problem stops it."""
    found = next((c for c in candidates(task_root, opt) if c.is_file()), None)
    if found is None:
        listed = " ".join(str(c) for c in candidates(task_root, opt))
        raise EntrypointError(
            f"Couldn't find valid bootstrap(s): [{listed}]", "no file named `bootstrap` in either place",
            "put an executable file named exactly 'bootstrap' at the top of your function package "
            "(not in a sub-folder) or of a layer.")
    problem = diagnose(found, path_env)
    if problem is not None:
        raise problem
    return found


def shebang_words(head: bytes) -> list[str] | None:
    """The words of the `#!` line (a trailing CR kept), or None when the file has no `#!` line."""
    if not head.startswith(b"#!"):
        return None
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace")
    return [word for word in re.split(r"[ \t]+", line.strip(" \t")) if word]  # the kernel splits at blanks


def interpreter(words: list[str]) -> str | None:
    """The program a `#!` line runs (through /usr/bin/env when used)."""
    if not words:
        return None
    if os.path.basename(words[0]) != "env":
        return words[0]
    rest = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
    return rest[0] if rest else None


def _read_head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(65536)


def diagnose(path: Path, path_env: str) -> EntrypointError | None:
    """Problems that make exec fail: not executable, a BOM or no shebang, CRLF on the `#!` line, a missing
    interpreter. None when the kernel can start the file."""
    mode = path.stat().st_mode
    if not mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH) or not os.access(path, os.X_OK):
        return EntrypointError(
            f"fork/exec {path}: permission denied",
            f"bootstrap is not executable (mode {stat.filemode(mode)}, {mode & 0o777:04o})",
            "run `chmod +x bootstrap` (in Python: `os.chmod(path, 0o755)`), and keep the bit when you zip it "
            "(`zip` keeps it; some zip tools don't).")
    head = _read_head(path)
    if head.startswith(b"\x7fELF"):
        return None
    if head.startswith(UTF8_BOM):
        return EntrypointError(
            f"fork/exec {path}: exec format error",
            "bootstrap starts with a UTF-8 byte-order mark, so the kernel does not see `#!`",
            "save the file as UTF-8 without a BOM.")
    words = shebang_words(head)
    if words is None:
        first = head.split(b"\n", 1)[0][:60].decode("utf-8", "replace") if head else "(empty file)"
        return EntrypointError(
            f"fork/exec {path}: exec format error",
            f"missing shebang: the first line is {first!r}, not `#!...`, so the kernel cannot run it",
            "make the very first line name the interpreter, e.g. `#!/bin/bash` or `#!/usr/bin/env python3`.")
    if words and words[0].endswith("\r"):
        return EntrypointError(
            f"fork/exec {path}: no such file or directory",
            f"CRLF (Windows) line endings: the kernel looks for the interpreter {' '.join(words)!r}",
            r"convert the file to Unix line endings: `sed -i 's/\r$//' bootstrap` or `dos2unix bootstrap`.")
    program = interpreter(words)
    if program is None:
        return EntrypointError(f"fork/exec {path}: exec format error", "the `#!` line names no interpreter",
                               "write e.g. `#!/bin/bash`.")
    if not os.access(words[0], os.X_OK):
        return _interpreter_missing(path, words, path_env, f"fork/exec {path}: no such file or directory")
    return None


def _interpreter_missing(path: Path, words: list[str], path_env: str, message: str) -> EntrypointError:
    program = interpreter(words) or words[0]
    where = "" if "/" in program else f" on the runtime's PATH ({path_env})"
    return EntrypointError(
        message, f"interpreter not found: `#!{' '.join(words)}` runs {program!r}, which does not exist{where}",
        "on Lambda's OS-only runtimes only what Amazon Linux ships is there: bundle the interpreter in a layer "
        "(it lands in /opt/bin, which is on PATH) or point the `#!` line at one that exists.")


def runtime_problem(path: Path, path_env: str) -> EntrypointError | None:
    """Problems that let the file start but make it fail at once: an interpreter that `env` can't find on the
    runtime's PATH (exit status 127), CRLF line endings after the first line."""
    try:
        head = _read_head(path)
    except OSError:
        return None
    words = shebang_words(head) or []
    program = interpreter(words)
    if b"\r\n" in head:
        return EntrypointError(
            "Runtime exited with error",
            f"CRLF (Windows) line endings: every line ends with a carriage return, so `#!{' '.join(words)}` "
            f"looks for {program!r}" if program else "CRLF (Windows) line endings",
            r"convert the file to Unix line endings: `sed -i 's/\r$//' bootstrap` or `dos2unix bootstrap`.")
    if words and os.path.basename(words[0]) == "env" and program and "/" not in program:
        if shutil.which(program, path=path_env) is None:
            return _interpreter_missing(path, words, path_env, "Runtime exited with error: exit status 127")
    return None
