"""The Runtime API (`/2018-06-01/runtime/...`) that a bootstrap talks to, for one execution environment.

Status codes and error bodies follow the service (see runtime-api.md); the error messages add what a learner needs
to fix the call. Every call is recorded in the protocol trace.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from typing import TYPE_CHECKING

from .aio import first_of
from .http_server import BodyTruncated, Request, Response
from .invocation import MAX_RESPONSE_BYTES, Invocation, Outcome
from .trace import TraceRecord, pick_headers

if TYPE_CHECKING:
    from .environment import Environment

PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY_TRAILER = "Lambda-Runtime-Function-Error-Body"
RESPONSE_MODE_HEADER = "Lambda-Runtime-Function-Response-Mode"
ERROR_CAUSE_CONTENT_TYPE = "application/vnd.aws.lambda.error.cause+json"
VALID_ERROR_TYPE = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")
INVOCATION_PATH = re.compile(rf"^{PREFIX}/invocation/(?P<id>[^/]*)/(?P<kind>response|error)$")
KNOWN_PATHS = {f"{PREFIX}/invocation/next": "GET", f"{PREFIX}/init/error": "POST"}
CLOCK0 = time.perf_counter()


def _error(status: int, error_type: str, message: str) -> Response:
    return Response.json(status, {"errorMessage": message, "errorType": error_type})


ACCEPTED = Response.json(202, {"status": "OK"})


def normalize_error_type(value: str | None) -> str:
    """What the service records for the error-type header: a `Category.Reason` value, else Runtime.Unknown."""
    if value and VALID_ERROR_TYPE.fullmatch(value):
        return value
    if value and value.startswith("Function."):
        return "Function.Unknown"
    return "Runtime.Unknown"


class RuntimeApi:
    """HTTP handlers bound to one environment."""

    def __init__(self, env: Environment):
        self.env = env

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        inv = self.env.current
        note = ""
        try:
            response, note = await self._route(request)
        except BodyTruncated:
            response = _error(400, "TruncatedHTTPRequest", "The request body ended before its declared length.")
            note = "the connection closed mid-body"
        record = TraceRecord(
            method=request.method, path=request.path, status=response.status,
            request_headers=pick_headers(request.headers.pairs, request.trailers.pairs),
            response_headers=pick_headers(response.headers.items()),
            started_ms=(started - CLOCK0) * 1000, duration_ms=(time.perf_counter() - started) * 1000, note=note)
        if request.path.endswith("/next") and response.status == 200:
            inv = self.env.current
        if inv is not None and inv is self.env.current:
            inv.add_trace(record)
        else:
            self.env.record(record)
        return response

    async def _route(self, request: Request) -> tuple[Response, str]:
        path, method = request.path, request.method
        match = INVOCATION_PATH.match(path)
        if match:
            if method != "POST":
                return _error(405, "MethodNotAllowed", f"{path} accepts POST only."), "wrong method"
            if match["kind"] == "response":
                return await self.post_response(request, match["id"])
            return await self.post_error(request, match["id"])
        if path in KNOWN_PATHS:
            if method != KNOWN_PATHS[path]:
                return _error(405, "MethodNotAllowed", f"{path} accepts {KNOWN_PATHS[path]} only."), "wrong method"
            if path.endswith("/next"):
                return await self.next(request)
            return await self.post_init_error(request)
        if path.startswith("/2020-01-01/extension") or path.startswith("/2020-08-15/logs"):
            return _error(404, "NotFound", "The Extensions and Telemetry APIs are not emulated (yet)."), ""
        return _error(404, "NotFound", f"No such Runtime API path: {path}. The paths start with {PREFIX}/ "
                      "(invocation/next, invocation/<id>/response, invocation/<id>/error, init/error)."), \
            "unknown path"

    # -- GET next ------------------------------------------------------------------------------------------------
    async def next(self, request: Request) -> tuple[Response, str]:
        env = self.env
        if env.init_error is not None:
            return _error(403, "InvalidStateTransition",
                          "An init error was posted: the runtime should exit now, not ask for events."), \
                "next after init/error"
        env.on_next()
        current = env.current
        if current is not None and current.delivered_at is not None and not current.responded:
            return self._event_response(current), "the invocation is still open: same event again"
        delivery = env.wait_for_delivery()
        await first_of(delivery, request.disconnected)
        if request.disconnected.done():  # the client gave up waiting: the event stays for the next `next`
            return _error(500, "ClientGone", "The runtime closed the connection."), "the runtime stopped waiting"
        if not delivery.done() or delivery.cancelled():
            return _error(500, "ServiceShutdown", "The environment is shutting down."), "runtime went away"
        inv = delivery.result()
        if inv.delivered_at is None:
            inv.deliver()  # handed out now: the deadline counts from here
        return self._event_response(inv), ""

    def _event_response(self, inv: Invocation) -> Response:
        headers = {"Content-Type": "application/json", **inv.next_headers()}
        return Response(200, inv.event, headers)

    # -- the current invocation, or why not ---------------------------------------------------------------------
    def _invocation_for(self, request_id: str) -> tuple[Invocation | None, Response | None]:
        current = self.env.current
        if current is not None and current.delivered_at is not None and current.request_id == request_id:
            return current, None
        if not request_id:
            why = "The request id in the path is empty."
        elif current is None or current.delivered_at is None:
            why = (f"No invocation is in progress, so '{request_id}' can't be answered. Call GET "
                   f"{PREFIX}/invocation/next first and use its Lambda-Runtime-Aws-Request-Id header.")
        else:
            why = (f"'{request_id}' is not the current invocation (that is '{current.request_id}'). Use the "
                   "Lambda-Runtime-Aws-Request-Id header of the latest GET next, not an old or made-up id.")
        return None, _error(400, "InvalidRequestID", f"Invalid request ID. {why}")

    def _already_answered(self, inv: Invocation) -> Response:
        return _error(403, "InvalidStateTransition",
                      f"Invocation {inv.request_id} already has a response or an error: each invocation gets "
                      "exactly one. Call GET next for the next event.")

    # -- POST response -------------------------------------------------------------------------------------------
    async def post_response(self, request: Request, request_id: str) -> tuple[Response, str]:
        inv, problem = self._invocation_for(request_id)
        if inv is None:
            return problem, "wrong or stale request id"
        if inv.responded:
            return self._already_answered(inv), "second answer for one invocation"
        mode = request.headers.get(RESPONSE_MODE_HEADER)
        if mode is not None and mode != "streaming":
            return _error(400, "InvalidFunctionResponseMode",
                          f"{RESPONSE_MODE_HEADER} must be exactly 'streaming' (got '{mode}')."), "bad response mode"
        if mode == "streaming":
            return await self._stream_response(request, inv)
        declared = request.headers.get("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
            return self._too_large(inv, int(declared)), "response too large"
        body, size = await _read_limited(request, MAX_RESPONSE_BYTES)
        if body is None:
            return self._too_large(inv, size), "response too large"
        inv.resolve(Outcome(body))
        await asyncio.sleep(0)  # let the invoker's answer go out first: it is what someone is waiting for
        return ACCEPTED, ""

    def _too_large(self, inv: Invocation, size: int) -> Response:
        message = (f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
                   f"({MAX_RESPONSE_BYTES} bytes).")
        inv.fail("Function.ResponseSizeTooLarge", message)
        return _error(413, "RequestEntityTooLarge", message)

    async def _stream_response(self, request: Request, inv: Invocation) -> tuple[Response, str]:
        inv.start_stream()
        parts: list[bytes] = []
        async for chunk in request.iter_body():
            parts.append(chunk)
            inv.push_chunk(chunk)
        payload = b"".join(parts)
        error_type = request.trailers.get(ERROR_TYPE_HEADER)
        if error_type:
            encoded = request.trailers.get(ERROR_BODY_TRAILER) or ""
            try:
                error_body = base64.b64decode(encoded, validate=True)
            except ValueError:
                error_body = encoded.encode()
            inv.resolve(Outcome(payload, "Unhandled", normalize_error_type(error_type), error_body))
            inv.close_stream()
            return ACCEPTED, f"stream ended with error {error_type}"
        inv.resolve(Outcome(payload))
        inv.close_stream()
        return ACCEPTED, f"streamed {len(payload)} bytes"

    # -- POST error ----------------------------------------------------------------------------------------------
    async def post_error(self, request: Request, request_id: str) -> tuple[Response, str]:
        inv, problem = self._invocation_for(request_id)
        if inv is None:
            return problem, "wrong or stale request id"
        if inv.responded:
            return self._already_answered(inv), "error after the invocation was answered"
        body, size = await _read_limited(request, MAX_RESPONSE_BYTES)
        if body is None:
            return self._too_large(inv, size), "error body too large"
        body, note = _error_body(request, body)
        error_type = normalize_error_type(request.headers.get(ERROR_TYPE_HEADER))
        if request.headers.get(ERROR_TYPE_HEADER) is None:
            note = _join(note, f"no {ERROR_TYPE_HEADER} header: recorded as Runtime.Unknown")
        inv.resolve(Outcome(body, "Unhandled", error_type))
        return ACCEPTED, note

    # -- POST init/error -----------------------------------------------------------------------------------------
    async def post_init_error(self, request: Request) -> tuple[Response, str]:
        env = self.env
        body = await request.read()
        if env.initialized or env.init_error is not None:
            why = ("init is over (the runtime already called next): report errors of an invocation to "
                   "invocation/<id>/error" if env.initialized else "an init error was already posted")
            return _error(403, "InvalidStateTransition", f"Can't post an init error now: {why}."), "too late"
        body, note = _error_body(request, body)
        env.on_init_error(Outcome(body, "Unhandled", normalize_error_type(request.headers.get(ERROR_TYPE_HEADER))))
        return ACCEPTED, _join(note, "init failed: the runtime should exit now")


async def _read_limited(request: Request, limit: int) -> tuple[bytes | None, int]:
    """The body, or (None, its size) when it is over ``limit`` (the rest is read and discarded)."""
    parts, size = [], 0
    async for chunk in request.iter_body():
        size += len(chunk)
        if size <= limit:
            parts.append(chunk)
        else:
            parts.clear()
    return (b"".join(parts), size) if size <= limit else (None, size)


def _error_body(request: Request, body: bytes) -> tuple[bytes, str]:
    """Pass the body through (re-encoded when sent as an error cause); note what a learner should fix."""
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if parsed is not None and (request.headers.get("Content-Type") or "").startswith(ERROR_CAUSE_CONTENT_TYPE):
        body = json.dumps(parsed).encode()
    if not isinstance(parsed, dict) or not {"errorMessage", "errorType"} <= parsed.keys():
        return body, ("error body is not a JSON object with errorMessage and errorType: the invoker gets it "
                      "as is")
    return body, ""


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)
