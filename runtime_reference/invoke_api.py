"""The Lambda Invoke API, `POST /2015-03-31/functions/{name}/invocations`, for curl (RIE's style) and boto3."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from collections.abc import AsyncIterator
from urllib.parse import unquote

from .function import Function
from .http_server import Request, Response
from .invocation import MAX_REQUEST_BYTES, Invocation

INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")


def _aws_error(status: int, error_type: str, message: str) -> Response:
    """An error the way AWS JSON APIs send it (botocore reads the x-amzn-ErrorType header)."""
    return Response.json(status, {"Type": "User", "message": message}, {"x-amzn-ErrorType": error_type})


class InvokeApi:
    """HTTP handlers for one function."""

    def __init__(self, function: Function):
        self.function = function

    def _resolve_name(self, raw: str, query_qualifier: str | None) -> tuple[str | None, str | None]:
        """(qualifier, None) when the name designates our function, else (None, why not)."""
        name = unquote(raw)
        qualifier = query_qualifier
        match = re.fullmatch(r"arn:aws:lambda:[^:]+:\d{12}:function:([^:]+)(?::(.+))?", name)
        if match:
            name, qualifier = match[1], match[2] or qualifier
        elif ":" in name:
            name, qualifier = name.split(":", 1)
        known = {"function", self.function.config.function_name}
        if name not in known:
            return None, f"Function not found: {self.function.config.arn()} has no function named '{name}' " \
                         f"(use '{self.function.config.function_name}' or 'function')."
        return qualifier if qualifier not in (None, "$LATEST") else None, None

    async def handle(self, request: Request) -> Response:
        match = INVOKE_PATH.match(request.path)
        if not match:
            return _aws_error(404, "UnknownOperationException",
                              f"Only POST /2015-03-31/functions/<name>/invocations is served here, not "
                              f"{request.method} {request.path}.")
        if request.method != "POST":
            return _aws_error(405, "MethodNotAllowed", "Invoke with POST.")
        qualifier, problem = self._resolve_name(match["name"], request.query.get("Qualifier"))
        if problem:
            return _aws_error(404, "ResourceNotFoundException", problem)
        invocation_type = request.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type not in INVOCATION_TYPES:
            return _aws_error(400, "InvalidParameterValueException",
                              f"X-Amz-Invocation-Type must be one of {', '.join(INVOCATION_TYPES)}.")
        body = await request.read()
        if len(body) > MAX_REQUEST_BYTES:
            return _aws_error(413, "RequestTooLargeException",
                              f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction "
                              "operation")
        if body.strip():
            try:
                json.loads(body)
            except ValueError:
                return _aws_error(400, "InvalidRequestContentException", "Could not parse request body into json")
        try:
            client_context = _client_context(request.headers.get("X-Amz-Client-Context"))
        except ValueError as exc:
            return _aws_error(400, "InvalidRequestContentException", str(exc))
        if invocation_type == "DryRun":
            return Response(204, b"", {"x-amzn-RequestId": "dry-run"})
        inv = self.function.new_invocation(body, qualifier=qualifier, client_context=client_context,
                                           trace_id=_trace_id(request.headers.get("X-Amzn-Trace-Id")))
        await self.function.submit(inv)
        if invocation_type == "Event":
            return Response(202, b"", {"x-amzn-RequestId": inv.request_id})
        return await self._respond(inv, tail=request.headers.get("X-Amz-Log-Type") == "Tail")

    async def _respond(self, inv: Invocation, tail: bool) -> Response:
        await inv.answered
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": self.function.config.version,
                   "x-amzn-RequestId": inv.request_id}
        if inv.stream is not None:  # the chunks wait in the queue even when the stream is already over
            return Response(200, _chunks(inv), headers, trailers=lambda: _stream_trailers(inv))
        outcome = inv.outcome.result()
        if outcome.function_error:
            headers["X-Amz-Function-Error"] = outcome.function_error
        if tail:
            result = await asyncio.shield(inv.finished)
            headers["X-Amz-Log-Result"] = result.log_result_header
        return Response(200, outcome.payload, headers)


async def _chunks(inv: Invocation) -> AsyncIterator[bytes]:
    assert inv.stream is not None
    while (chunk := await inv.stream.get()) is not None:
        yield chunk


def _stream_trailers(inv: Invocation) -> dict[str, str]:
    if not inv.outcome.done():
        return {}
    outcome = inv.outcome.result()
    if not outcome.error_type:
        return {}
    body = outcome.stream_error_body or outcome.payload
    return {"Lambda-Runtime-Function-Error-Type": outcome.error_type,
            "Lambda-Runtime-Function-Error-Body": base64.b64encode(body).decode()}


def _client_context(header: str | None) -> str | None:
    """The Invoke API carries the client context as base64 JSON; the runtime gets the JSON itself."""
    if not header:
        return None
    try:
        decoded = base64.b64decode(header, validate=True).decode()
        json.loads(decoded)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("X-Amz-Client-Context must be base64-encoded JSON") from exc
    return decoded


def _trace_id(header: str | None) -> str | None:
    return header if header and header.startswith("Root=") else None
