"""Chapter 02, The Runtime API by hand: the exercises' hints and a helper that keeps a check from hanging."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

HINTS = {
    "02.1": [
        "Call `requests.get(f\"http://{api}/2018-06-01/runtime/invocation/next\", timeout=timeout)`, then "
        "`response.raise_for_status()`: a 403 or a 500 must raise, not be read as an event.",
        "`response.headers` ignores case, and `.get(name)` gives None for a header that isn't there: what the "
        "optional fields (trace id, client context, Cognito identity, tenant id) need. Headers are text: the "
        "deadline needs `int(...)`. `response.content` is the body as bytes; `json.loads(response.content)` is "
        "the event.",
        "Declare the nine fields with their types (`request_id: str`, `deadline_ms: int`, ..., `body: bytes`, "
        "`event: Any`), then `return Invocation(request_id=h[\"Lambda-Runtime-Aws-Request-Id\"], "
        "deadline_ms=int(h[\"Lambda-Runtime-Deadline-Ms\"]), ..., trace_id=h.get(\"Lambda-Runtime-Trace-Id\"), "
        "..., body=response.content, event=json.loads(response.content))` with `h = response.headers`.",
    ],
    "02.2": [
        "POST to `f\"http://{api}/2018-06-01/runtime/invocation/{request_id}/response\"`, with a `timeout=`.",
        "Encode the payload yourself: `data=json.dumps(payload).encode()`. (`requests.post(url, json=None)` "
        "sends no body at all, but a handler that returns None must give the caller `null`.)",
        "`return requests.post(url, data=json.dumps(payload).encode(), headers={\"Content-Type\": "
        "\"application/json\"}, timeout=10).status_code`. No `raise_for_status()`: the caller decides what a "
        "400 or a 403 means.",
    ],
    "02.3": [
        "The body is `{\"errorMessage\": str(exc), \"errorType\": type(exc).__name__, \"stackTrace\": [...]}`, "
        "posted to `.../invocation/{request_id}/error`.",
        "`traceback.format_tb(exc.__traceback__)` is a list of strings (empty for an exception that was never "
        "raised). The header is `{\"Lambda-Runtime-Function-Error-Type\": f\"Function.{type(exc).__name__}\"}`.",
        "`name = type(exc).__name__`; `body = {\"errorMessage\": str(exc), \"errorType\": name, \"stackTrace\": "
        "traceback.format_tb(exc.__traceback__)}`; `return requests.post(url, data=json.dumps(body).encode(), "
        "headers={\"Content-Type\": \"application/json\", \"Lambda-Runtime-Function-Error-Type\": "
        "f\"Function.{name}\"}, timeout=10).status_code`.",
    ],
    "02.4": [
        "Three steps: `invocation = next_invocation(api, timeout=timeout)`, call "
        "`handler(invocation.event, invocation)`, post what came out.",
        "Keep only the handler call inside `try:`. `except Exception as exc:` reports the error with post_error; "
        "otherwise post_response. Don't catch BaseException: an interrupt must still stop the notebook.",
        "`try: result = handler(invocation.event, invocation)` / `except Exception as exc: return "
        "post_error(api, invocation.request_id, exc)` / `return post_response(api, invocation.request_id, "
        "result)`.",
    ],
}


@dataclass
class Outcome:
    """What ``run_for_at_most`` saw: the call finished (with a value or an exception) or was still running."""

    finished: bool
    value: Any = None
    error: BaseException | None = None
    seconds: float = 0.0


def run_for_at_most(seconds: float, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """Call ``function(*args, **kwargs)`` in a background thread and wait at most ``seconds``.

    A check uses it where a mistake would block forever (a long poll without a timeout): the check then fails
    instead of freezing the notebook. A call still running is left behind in its daemon thread; it ends when the
    emulator stops (the next ``course.start(...)`` does that).
    """
    outcome = Outcome(finished=False)
    started = time.monotonic()

    def call() -> None:
        try:
            outcome.value = function(*args, **kwargs)
        except BaseException as exc:  # reported through the outcome, never printed by the thread
            outcome.error = exc
        outcome.seconds = time.monotonic() - started
        outcome.finished = True

    thread = threading.Thread(target=call, name="course-check", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome.finished:
        outcome.seconds = time.monotonic() - started
    return outcome
