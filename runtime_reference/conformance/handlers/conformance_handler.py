"""Conformance handler for Python runtimes: the event's "action" chooses what it does.

Loaded by the bootstrap under test as ``conformance_handler.handler``. Standard library only,
and tolerant of any context shape (an object like awslambdaric's LambdaContext, or a dict).
"""

import json
import os
import time

CONTEXT_NAMES = {
    "request_id": ("aws_request_id", "request_id", "awsRequestId", "requestId"),
    "invoked_function_arn": ("invoked_function_arn", "function_arn", "invokedFunctionArn"),
    "client_context": ("client_context", "clientContext"),
    "cognito_identity": ("identity", "cognito_identity", "cognitoIdentity"),
    "deadline_ms": ("deadline_ms", "_deadline_ms", "_epoch_deadline_time_in_ms", "deadline"),
}


class ConformanceError(Exception):
    """The error raised by the "raise" action."""


def _field(context, names):
    """The first of ``names`` that ``context`` has (attribute or key), else None."""
    for name in names:
        if isinstance(context, dict) and name in context:
            return context[name]
        if not isinstance(context, dict) and hasattr(context, name):
            return getattr(context, name)
    return None


def _plain(value, depth=0):
    """A JSON-encodable copy of ``value`` (objects become dicts of their public attributes)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth > 4:
        return repr(value)[:200]
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value]
    fields = {}
    for name in dir(value):
        if name.startswith("__"):
            continue
        try:
            attr = getattr(value, name)
        except Exception as exc:  # noqa: BLE001 - a property may raise: show what, go on
            attr = f"<{type(exc).__name__}>"
        if not callable(attr):
            fields[name] = _plain(attr, depth + 1)
    return fields


def _remaining(context):
    """Remaining milliseconds as the context reports them, or None."""
    method = _field(context, ("get_remaining_time_in_millis", "remaining_time_in_millis"))
    return method() if callable(method) else method


def _context(context):
    """Every context field the handler can see, under canonical names plus a raw dump."""
    seen = {key: _plain(_field(context, names)) for key, names in CONTEXT_NAMES.items()}
    seen["remaining_ms"] = _remaining(context)
    seen["trace_id"] = os.environ.get("_X_AMZN_TRACE_ID")
    seen["pid"] = os.getpid()
    seen["raw"] = _plain(context)
    return seen


def _remaining_twice(context, sleep_ms):
    """Remaining time before and after sleeping ``sleep_ms``."""
    before = _remaining(context)
    time.sleep(sleep_ms / 1000)
    return {"before": before, "after": _remaining(context)}


def handler(event, context):
    """Dispatch on ``event["action"]``."""
    if not isinstance(event, dict):
        kind = type(event).__name__
        return {"conformance_problem": f"the handler got a {kind}, not the JSON-decoded event"}
    action = event.get("action")
    if action == "echo":
        return event.get("value")
    if action == "context":
        return _context(context)
    if action == "raise":
        raise ConformanceError(event.get("message", "conformance error"))
    if action == "env":
        return os.environ.get(event["name"])
    if action == "remaining":
        return _remaining_twice(context, event.get("sleep_ms", 0))
    if action == "pid":
        return os.getpid()
    if action == "big":
        return "x" * (int(event["size"]) - 2)
    return {"conformance_problem": "unknown action in " + json.dumps(event)[:200]}
