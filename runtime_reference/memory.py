"""Measured memory of a runtime: the peak resident set (VmHWM) of its process and its descendants."""

from __future__ import annotations

import math
import os


def _read(path: str) -> str:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return ""
    try:
        return os.read(fd, 8192).decode("ascii", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def _peak_kib(pid: int) -> int:
    status = _read(f"/proc/{pid}/status")
    start = status.find("VmHWM:")
    if start < 0:
        return 0
    try:
        return int(status[start + 6:status.index("kB", start)])
    except ValueError:
        return 0


def _children(pid: int) -> list[int]:
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    kids: list[int] = []
    for tid in threads:
        kids.extend(int(p) for p in _read(f"/proc/{pid}/task/{tid}/children").split())
    return kids


def peak_memory_mb(pid: int) -> int:
    """Sum of the peak RSS of the process tree rooted at ``pid``, in MB rounded up (0 if it is gone).

    VmHWM is a high-water mark kept by the kernel, so reading it late loses no peak. Children that already
    exited are not counted: a simplification of the service, which meters the execution environment's cgroup.
    """
    total, todo, seen = 0, [pid], set()
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        total += _peak_kib(current)
        todo.extend(_children(current))
    return math.ceil(total / 1024)
