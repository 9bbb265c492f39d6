"""The function's log stream: what the runtime prints, framed by the service's START / END / REPORT lines."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone

MAX_STREAM_LINES = 10_000  # the emulator keeps the newest lines only, so memory stays flat
MAX_LINE_BYTES = 256 * 1024  # a line longer than this is split (CloudWatch caps events at 256 KB too)


def start_line(request_id: str, version: str = "$LATEST") -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end_line(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report_line(request_id: str, duration_ms: float, billed_ms: int, memory_mb: int, max_used_mb: int,
                init_ms: float | None) -> str:
    fields = [f"REPORT RequestId: {request_id}", f"Duration: {duration_ms:.2f} ms",
              f"Billed Duration: {billed_ms} ms", f"Memory Size: {memory_mb} MB",
              f"Max Memory Used: {max_used_mb} MB"]
    if init_ms is not None:
        fields.append(f"Init Duration: {init_ms:.2f} ms")
    return "\t".join(fields) + "\t"


def timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def timeout_line(request_id: str, seconds: float) -> str:
    return f"{timestamp()} {request_id} Task timed out after {seconds:.2f} seconds"


class LogStream:
    """The newest lines of the function's log stream, plus an optional live sink (the CLI prints there)."""

    def __init__(self, sink: Callable[[str], None] | None = None):
        self.lines: deque[str] = deque(maxlen=MAX_STREAM_LINES)
        self.sink = sink

    def write(self, line: str) -> None:
        self.lines.append(line)
        if self.sink is not None:
            self.sink(line)


class PipeReader:
    """Reads a runtime's combined stdout/stderr pipe without blocking, splitting it into lines.

    ``drain()`` reads whatever the runtime wrote so far, synchronously: the emulator calls it before it writes END,
    so output printed before the runtime's next API call lands in the right invocation.
    """

    def __init__(self, fd: int, on_line: Callable[[str], None]):
        self.fd = fd
        self.on_line = on_line
        self._partial = b""
        self.closed = False
        os.set_blocking(fd, False)

    def drain(self) -> None:
        while not self.closed:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close()
                return
            self._feed(data)

    def _feed(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_LINE_BYTES:
            lines.append(self._partial)
            self._partial = b""
        for raw in lines:
            self.on_line(raw.rstrip(b"\r").decode("utf-8", "replace"))

    def flush_partial(self) -> None:
        """Emit an unterminated last line (at the end of an invocation or when the process exits)."""
        if self._partial:
            self.on_line(self._partial.decode("utf-8", "replace"))
            self._partial = b""

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.flush_partial()
            try:
                os.close(self.fd)
            except OSError:
                pass
