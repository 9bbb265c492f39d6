"""One invocation: what the caller sent, its journey through an environment, and what the caller gets back."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .trace import Trace, TraceRecord

# 6 MiB + 100 bytes: the largest synchronous response the service accepts (exactly this many is fine).
MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
MAX_REQUEST_BYTES = 6 * 1024 * 1024  # synchronous invoke payload
MAX_TRACE_RECORDS = 200  # per invocation; a runtime spinning on `next` must not grow memory without bound
MAX_LOG_LINES = 10_000  # per invocation
LOG_TAIL_BYTES = 4096


def new_trace_id() -> str:
    """An X-Ray trace header as the service sends it on `next`."""
    random = os.urandom(20).hex()
    return f"Root=1-{int(time.time()):08x}-{random[:24]};Parent={random[24:]};Sampled=0"


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


@dataclass
class InvokeResult:
    """What the invoker receives, plus what the emulator observed (logs, timings, protocol trace)."""

    request_id: str
    payload: bytes
    function_error: str | None = None  # "Unhandled" when the invocation failed, like X-Amz-Function-Error
    error_type: str | None = None
    log_lines: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    billed_duration_ms: int = 0
    init_duration_ms: float | None = None
    max_memory_used_mb: int = 0
    trace: Trace = field(default_factory=Trace)
    streamed: bool = False
    stream_error_body: bytes | None = None
    notes: list[str] = field(default_factory=list)  # the emulator's remarks for the learner

    def json(self) -> Any:
        """The payload decoded as JSON."""
        return json.loads(self.payload)

    @property
    def ok(self) -> bool:
        return self.function_error is None

    @property
    def log_tail(self) -> str:
        """The last 4 KB of the invocation's log, as `X-Amz-Log-Type: Tail` returns it (before base64)."""
        text = "\n".join(self.log_lines) + "\n"
        data = text.encode()[-LOG_TAIL_BYTES:]
        return data.decode("utf-8", "ignore")

    @property
    def log_result_header(self) -> str:
        return base64.b64encode(self.log_tail.encode()).decode()

    def _repr_html_(self) -> str:
        from html import escape

        status = "✅ success" if self.ok else f"❌ {escape(self.error_type or 'error')}"
        payload = escape(self.payload[:2000].decode("utf-8", "replace"))
        logs = escape("\n".join(self.log_lines[-40:]))
        return (f"<div><b>{status}</b> request id <code>{self.request_id}</code><br>"
                f"<b>payload</b><pre>{payload}</pre><b>log</b><pre>{logs}</pre>"
                f"<details><summary>protocol trace</summary>{self.trace._repr_html_()}</details></div>")


@dataclass
class Outcome:
    """How an invocation ended for the invoker."""

    payload: bytes
    function_error: str | None = None
    error_type: str | None = None
    stream_error_body: bytes | None = None  # a streamed response's error, from the trailers


class Invocation:
    """Mutable state of one invocation while it runs (lives on the emulator's event loop)."""

    def __init__(self, event: bytes, *, function_arn: str, timeout: float, client_context: str | None = None,
                 cognito_identity: str | None = None, trace_id: str | None = None, tenant_id: str | None = None):
        self.request_id = str(uuid.uuid4())
        self.event = event
        self.function_arn = function_arn
        self.timeout = timeout  # the function's timeout, as messages state it
        self.budget = timeout  # what is left of it when the event goes out (less after a retried init)
        self.notes: list[str] = []  # what the emulator wants the learner to know about this invocation
        self.client_context = client_context
        self.cognito_identity = cognito_identity
        self.trace_id = trace_id or new_trace_id()
        self.tenant_id = tenant_id
        loop = asyncio.get_running_loop()
        self.outcome: asyncio.Future[Outcome] = loop.create_future()
        self.answered: asyncio.Future[None] = loop.create_future()  # an outcome, or the start of a stream
        self.handed_out: asyncio.Future[None] = loop.create_future()  # a `next` returned it to the runtime
        self.finished: asyncio.Future[InvokeResult] = loop.create_future()
        self.stream: asyncio.Queue[bytes | None] | None = None  # set when the runtime streams its response
        self._stream_closed = False
        self.started_at: float | None = None  # perf_counter when its START line was written
        self.delivered_at: float | None = None  # perf_counter when `next` handed it out
        self.deadline_ms: int | None = None
        self.responded = False  # a response or an error was posted (or the invocation failed otherwise)
        self.init_duration_ms: float | None = None
        self.log_lines: list[str] = []
        self.trace = Trace()

    def next_headers(self) -> dict[str, str]:
        """The headers `GET /runtime/invocation/next` carries for this invocation (only those with a value)."""
        headers = {
            "Lambda-Runtime-Aws-Request-Id": self.request_id,
            "Lambda-Runtime-Deadline-Ms": str(self.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
            "Lambda-Runtime-Trace-Id": self.trace_id,
        }
        if self.client_context:
            headers["Lambda-Runtime-Client-Context"] = self.client_context
        if self.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = self.cognito_identity
        if self.tenant_id:
            headers["Lambda-Runtime-Aws-Tenant-Id"] = self.tenant_id
        return headers

    def deliver(self) -> None:
        """A `next` is handing this invocation to the runtime: its clock starts."""
        self.delivered_at = time.perf_counter()
        self.deadline_ms = int(time.time() * 1000 + self.budget * 1000)
        if not self.handed_out.done():
            self.handed_out.set_result(None)

    def elapsed_ms(self) -> float:
        return 0.0 if self.delivered_at is None else (time.perf_counter() - self.delivered_at) * 1000

    def resolve(self, outcome: Outcome) -> bool:
        """Settle what the invoker gets; the first outcome wins. Returns whether this call settled it."""
        self.responded = True
        if self.outcome.done():
            return False
        self.outcome.set_result(outcome)
        if not self.answered.done():
            self.answered.set_result(None)
        return True

    def fail(self, error_type: str, message: str) -> bool:
        return self.resolve(Outcome(error_payload(error_type, message), "Unhandled", error_type))

    def abort(self, message: str) -> None:
        """End an invocation the emulator can't finish (it is stopping): the invoker gets an error, not a hang."""
        self.fail("Runtime.Unknown", message)
        self.close_stream()
        if not self.finished.done():
            self.finished.set_result(self.result(self.elapsed_ms(), 0))

    def start_stream(self) -> None:
        self.responded = True
        self.stream = asyncio.Queue()
        if not self.answered.done():
            self.answered.set_result(None)

    def push_chunk(self, chunk: bytes) -> None:
        assert self.stream is not None
        if not self._stream_closed:
            self.stream.put_nowait(chunk)

    def close_stream(self) -> None:
        if self.stream is not None and not self._stream_closed:
            self._stream_closed = True
            self.stream.put_nowait(None)

    def add_log(self, line: str) -> None:
        if len(self.log_lines) < MAX_LOG_LINES:
            self.log_lines.append(line)
        elif len(self.log_lines) == MAX_LOG_LINES:
            self.log_lines.append(f"[emulator] more than {MAX_LOG_LINES} log lines: the rest is in emu.logs only")

    def add_trace(self, record: TraceRecord) -> None:
        if len(self.trace) < MAX_TRACE_RECORDS:
            self.trace.append(record)

    def partial_result(self) -> InvokeResult:
        """What is known once the invoker has its answer but the runtime has not asked for the next event."""
        result = self.result(self.elapsed_ms(), 0)
        result.notes = [*self.notes, "The runtime has not called next since it answered, so this invocation has "
                        "not ended: END, REPORT and the final timings will be in the log stream (emu.logs)."]
        return result

    def result(self, duration_ms: float, max_memory_mb: int) -> InvokeResult:
        outcome = self.outcome.result()
        return InvokeResult(
            request_id=self.request_id, payload=outcome.payload, function_error=outcome.function_error,
            error_type=outcome.error_type, log_lines=self.log_lines, duration_ms=duration_ms,
            billed_duration_ms=max(1, math.ceil(duration_ms)), init_duration_ms=self.init_duration_ms,
            max_memory_used_mb=max_memory_mb, trace=self.trace, streamed=self.stream is not None,
            stream_error_body=outcome.stream_error_body, notes=self.notes)
