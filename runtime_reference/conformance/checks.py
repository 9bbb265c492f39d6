"""The named checks: one function per behaviour, registered with its level, description and hint."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import entrypoint
from ..config import runtime_path
from .session import MISSING_HANDLER, Session

LEVELS = ("basic", "standard", "full")
SHELLS = {"sh", "bash", "dash", "ash", "ksh", "zsh"}
EXEC_RE = re.compile(r"""^[ \t]*(?:\w+=\S*[ \t]+)*exec[ \t]+["']?([^\s"']+)""", re.MULTILINE)
PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
ERROR_TYPE_RE = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")
MAX_RESPONSE = 6_291_556
SEQUENTIAL_INVOKES = 50

ECHO_VALUE = {"message": "hello", "numbers": [1, 2.5, -3], "nested": {"ok": True, "none": None},
              "quoted": 'a "quoted" \\ string'}
UNICODE_VALUE = {"latin": "héllo wörld, naïve café", "symbols": "✓ — ∑ Ω", "cjk": "日本語のテキスト",
                 "emoji": "🚀👍🏽🦄", "astral": "𝄞 clef"}
CLIENT_CONTEXT = {"client": {"installation_id": "conformance-install", "app_title": "conformance"},
                  "custom": {"probe": "conformance-custom-value"}, "env": {"platform": "conformance"}}
COGNITO = {"cognitoIdentityId": "us-east-1:conformance-identity-id",
           "cognitoIdentityPoolId": "us-east-1:conformance-pool-id"}
QUALIFIER = "conformance"
TRACE_IDS = ("Root=1-65f0a1b2-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=1",
             "Root=1-65f0a1b3-fedcba9876543210fedcba98;Parent=fedcba9876543210;Sampled=0")
ERROR_MESSAGE = "conformance handler failure"


@dataclass
class Verdict:
    """What a check function returns; the runner adds name, description and default hint."""

    passed: bool
    expected: str
    actual: str
    hint: str = ""


class CheckFailed(Exception):
    """Raised by a helper to fail the current check with this message as 'actual'."""


@dataclass(frozen=True)
class Check:
    """A registered check. ``live`` checks are skipped once the runtime is known to hang."""

    name: str
    level: str
    description: str
    hint: str
    run: Callable[[Session], Verdict]
    live: bool = True


REGISTRY: list[Check] = []


def check(name: str, level: str, description: str, hint: str, live: bool = True) -> Callable:
    """Register the decorated function as the check ``name``."""

    def register(fn: Callable[[Session], Verdict]) -> Callable[[Session], Verdict]:
        REGISTRY.append(Check(name, level, description, hint, fn, live))
        return fn

    return register


def checks_for(level: str) -> list[Check]:
    """The checks a level runs, in order."""
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    upto = LEVELS.index(level)
    return [c for c in REGISTRY if LEVELS.index(c.level) <= upto]


# ---------------------------------------------------------------- helpers


def short(data: Any, limit: int = 300) -> str:
    """A printable excerpt of bytes or text."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} chars)"


def decoded(result: Any) -> tuple[bool, Any]:
    """(True, value) when the payload is JSON, else (False, None)."""
    try:
        return True, json.loads(result.payload)
    except (ValueError, UnicodeDecodeError):
        return False, None


def log_excerpt(result: Any, count: int = 4) -> str:
    """The last lines the runtime printed during this invoke (START/END/REPORT left out)."""
    platform = ("START RequestId", "END RequestId", "REPORT RequestId")
    lines = [line for line in getattr(result, "log_lines", []) or [] if not line.startswith(platform)]
    return "\n".join(short(line, 200) for line in lines[-count:])


def describe(result: Any) -> str:
    """One readable sentence about an invoke's outcome."""
    if result.function_error is None:
        return f"payload {short(result.payload)}"
    ok, body = decoded(result)
    message = body.get("errorMessage") if ok and isinstance(body, dict) else short(result.payload)
    text = f"function error {result.error_type}: {message}"
    logs = log_excerpt(result)
    return f"{text}\nlog: {logs}" if logs else text


def header(headers: dict | None, name: str) -> str | None:
    """A header value, looked up case-insensitively."""
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def calls(result: Any, method: str, suffix: str = "") -> list[Any]:
    """Trace records of ``method`` whose path ends with ``suffix``."""
    return [t for t in result.trace if t.method == method and t.path.endswith(suffix)]


def invocation_posts(result: Any) -> list[Any]:
    """POSTs to /runtime/invocation/{id}/... during this invoke."""
    return [t for t in calls(result, "POST") if t.path.startswith(f"{PREFIX}/invocation/")]


def posted_id(record: Any) -> str:
    """The request id in a /runtime/invocation/{id}/... path."""
    return record.path[len(f"{PREFIX}/invocation/"):].rsplit("/", 1)[0]


def call_text(record: Any) -> str:
    """``POST /path → 400 (note)`` for messages."""
    note = f" ({record.note})" if getattr(record, "note", "") else ""
    return f"{record.method} {record.path} → {record.status}{note}"


def next_headers(result: Any) -> dict:
    """Headers of the GET next response that delivered this invoke (empty if not traced)."""
    for record in calls(result, "GET", "/invocation/next"):
        if header(record.response_headers, "Lambda-Runtime-Aws-Request-Id") == result.request_id:
            return record.response_headers
    return {}


def pid_of(result: Any) -> int | None:
    """The pid a "pid" invoke returned, or None."""
    ok, value = decoded(result)
    return value if ok and isinstance(value, int) and result.function_error is None else None


# ---------------------------------------------------------------- bootstrap file


def detect_kind(path: Path) -> str | None:
    """"python" or "bash" from the bootstrap's shebang (a shell wrapper that execs python is python)."""
    try:
        data = path.read_bytes()[:65536]
    except OSError:
        return None
    program = entrypoint.interpreter([w.rstrip("\r") for w in entrypoint.shebang_words(data) or []])
    name = os.path.basename(program or "")
    if name.startswith("python"):
        return "python"
    if name in SHELLS:
        return "python" if execs_python(data) else "bash"
    return None


def execs_python(script: bytes) -> bool:
    """True when a shell script hands over to Python (`exec python3 -m awslambdaric ...`)."""
    text = script.decode("utf-8", "replace")
    return any(os.path.basename(m[1]).startswith("python") for m in EXEC_RE.finditer(text))


def lambda_path() -> str:
    """The PATH the emulator gives the runtime (Lambda's, plus the emulator's own Python)."""
    return runtime_path(Path("/opt"))


def diagnose(path: Path) -> tuple[str, str] | None:
    """Why Lambda could not run ``path`` as (problem, hint), the emulator's own diagnosis; None when it can."""
    error = entrypoint.diagnose(path, lambda_path()) or entrypoint.runtime_problem(path, lambda_path())
    return None if error is None else (error.problem, error.hint[:1].upper() + error.hint[1:])


@check("bootstrap_executable", "basic", "the bootstrap can be executed by Lambda (mode, shebang, line endings)",
       "Lambda runs `bootstrap` directly: it must be executable and start with a working `#!` line.", live=False)
def check_bootstrap_executable(session: Session) -> Verdict:
    """Mode bits, shebang, CRLF and interpreter, read from the file."""
    expected = "an executable file (+x) with a `#!` line naming an existing interpreter and Unix line endings"
    problem = diagnose(session.bootstrap)
    if problem is None:
        mode = session.bootstrap.stat().st_mode & 0o777
        first = short(session.bootstrap.read_bytes()[:120].split(b"\n", 1)[0])
        return Verdict(True, expected, f"mode {mode:04o}, first line {first!r}")
    return Verdict(False, expected, *problem)


# ---------------------------------------------------------------- basic


def echo_result(session: Session) -> Any:
    """The first invoke of the session (shared by echo and request_id_used)."""
    return session.cached("echo", lambda: session.invoke({"action": "echo", "value": ECHO_VALUE}))


@check("echo", "basic", "an event goes to the handler and its return value comes back as the response",
       "Read the event body from GET next, call the handler with it, POST the JSON-encoded result to "
       "/runtime/invocation/<request id>/response.")
def check_echo(session: Session) -> Verdict:
    """{"action": "echo"} returns the value unchanged."""
    expected = f"payload {json.dumps(ECHO_VALUE)}"
    result = echo_result(session)
    if result.function_error is not None:
        return Verdict(False, expected, describe(result))
    ok, value = decoded(result)
    if not ok:
        return Verdict(False, expected, f"payload is not JSON: {short(result.payload)}",
                       "POST the handler's result JSON-encoded (json.dumps), not str() of it.")
    return Verdict(value == ECHO_VALUE, expected, f"payload {short(result.payload)}")


@check("request_id_used", "basic", "each response is posted to /runtime/invocation/{that invoke's id}/response",
       "Take the id from the Lambda-Runtime-Aws-Request-Id header of this very `next` response (header names "
       "are case-insensitive) and use it in the URL; never reuse an earlier id.", live=False)
def check_request_id_used(session: Session) -> Verdict:
    """Three invokes; the trace shows where each response went."""
    expected = f"for every invoke, one POST {PREFIX}/invocation/<its request id>/response answered 202"
    results = [echo_result(session)]
    while len(results) < 3 and not wrong_posts(results[-1]) and results[-1].function_error is None:
        results.append(session.invoke({"action": "echo", "value": len(results)}))
    for number, result in enumerate(results, 1):
        problem = wrong_posts(result)
        if problem:
            return Verdict(False, expected, f"invoke {number} (request id {result.request_id}): {problem}")
    return Verdict(True, expected, f"{len(results)} invokes, each answered on its own id")


def wrong_posts(result: Any) -> str:
    """What is wrong with the POSTs of one invoke ('' when right)."""
    posts = invocation_posts(result)
    if not posts:
        gets = "; ".join(call_text(t) for t in calls(result, "GET")) or "none"
        return f"nothing was posted to /runtime/invocation/… (GET calls: {gets}; outcome: {describe(result)})"
    for record in posts:
        if posted_id(record) != result.request_id or record.status != 202:
            return f"{call_text(record)}; the id to use was {result.request_id}"
    return ""


@check("handler_error", "basic", "a handler error is posted to /error with errorType, errorMessage, stackTrace "
       "and the Lambda-Runtime-Function-Error-Type header, and the runtime keeps serving",
       "Catch the handler's failure, POST {\"errorMessage\", \"errorType\", \"stackTrace\": [...]} to "
       "/runtime/invocation/<id>/error with a `Lambda-Runtime-Function-Error-Type: Function.<Type>` header, "
       "then go back to GET next (do not exit).")
def check_handler_error(session: Session) -> Verdict:
    """{"action": "raise"} ends in a well-formed /error post."""
    expected = (f"POST {PREFIX}/invocation/<id>/error → 202 with header {ERROR_TYPE_HEADER}: Category.Reason "
                "and body {errorType, errorMessage, stackTrace: [...]}; the next invoke succeeds")
    result = session.invoke({"action": "raise", "message": ERROR_MESSAGE})
    problem = error_post_problem(result) or error_body_problem(result, session.kind)
    if problem:
        return Verdict(False, expected, problem)
    after = session.invoke({"action": "echo", "value": "after error"})
    if after.function_error is not None or decoded(after)[1] != "after error":
        return Verdict(False, expected, f"the invoke after the error failed: {describe(after)}",
                       "After posting /error, call GET next again: one failing event must not stop the runtime.")
    posted = header(invocation_posts(result)[0].request_headers, ERROR_TYPE_HEADER)
    return Verdict(True, expected, f"/error posted with {ERROR_TYPE_HEADER}: {posted}; next invoke fine")


def error_post_problem(result: Any) -> str:
    """What is wrong with how the error was posted ('' when right)."""
    posts = invocation_posts(result)
    errors = [t for t in posts if t.path.endswith("/error")]
    if not errors:
        if posts:
            return f"no /error call; the runtime called {call_text(posts[0])}"
        if result.error_type == "Runtime.ExitError":
            return f"no /error call: the runtime exited instead ({describe(result)})"
        return f"no /error call ({describe(result)})"
    record = errors[0]
    if posted_id(record) != result.request_id or record.status != 202:
        return f"{call_text(record)} (request id {result.request_id})"
    value = header(record.request_headers, ERROR_TYPE_HEADER)
    if value is None:
        return f"POST {record.path} carried no {ERROR_TYPE_HEADER} header"
    if not ERROR_TYPE_RE.fullmatch(value):
        return f"{ERROR_TYPE_HEADER}: {value!r} is not of the form Runtime.Reason or Function.Reason"
    return "" if result.function_error == "Unhandled" else f"invoker saw {describe(result)}"


def error_body_problem(result: Any, kind: str | None) -> str:
    """What is wrong with the posted error body ('' when right)."""
    ok, body = decoded(result)
    if not ok or not isinstance(body, dict):
        return f"error body is not a JSON object: {short(result.payload)}"
    missing = [k for k in ("errorType", "errorMessage", "stackTrace") if k not in body]
    if missing:
        return f"error body lacks {', '.join(missing)}: {short(result.payload)}"
    if not isinstance(body["errorType"], str) or not body["errorType"]:
        return f"errorType must be a non-empty string: {body['errorType']!r}"
    if not isinstance(body["errorMessage"], str):
        return f"errorMessage must be a string: {body['errorMessage']!r}"
    trace = body["stackTrace"]
    if not isinstance(trace, list) or not all(isinstance(line, str) for line in trace):
        return f"stackTrace must be a list of strings: {short(json.dumps(trace))}"
    return python_error_problem(body) if kind == "python" else ""


def python_error_problem(body: dict) -> str:
    """For Python handlers: the exception's class, message and traceback are reported."""
    if body["errorType"] != "ConformanceError":
        return f"errorType {body['errorType']!r}; the handler raised ConformanceError (use type(exc).__name__)"
    if ERROR_MESSAGE not in body["errorMessage"]:
        return f"errorMessage {body['errorMessage']!r} does not contain {ERROR_MESSAGE!r} (use str(exc))"
    if not body["stackTrace"]:
        return "stackTrace is empty; fill it from traceback.format_tb(exc.__traceback__)"
    return ""


@check("sequential_invokes", "basic", f"{SEQUENTIAL_INVOKES} invokes in a row are served by one runtime process",
       "Loop forever: GET next, run the handler, POST the result, and GET next again; never exit between "
       "invokes (Lambda would cold-start every time).")
def check_sequential_invokes(session: Session) -> Verdict:
    """Every invoke answers its pid; all the same, no cold start after the first."""
    expected = f"{SEQUENTIAL_INVOKES} successful invokes, one pid, Init Duration at most on the first"
    pids: list[int] = []
    for number in range(1, SEQUENTIAL_INVOKES + 1):
        result = session.invoke({"action": "pid"})
        pid = pid_of(result)
        if pid is None:
            return Verdict(False, expected, f"invoke {number} failed: {describe(result)}")
        if number > 1 and result.init_duration_ms is not None:
            return Verdict(False, expected, f"invoke {number} was a cold start (Init Duration "
                           f"{result.init_duration_ms:.1f} ms): the runtime process had gone")
        pids.append(pid)
    if len(set(pids)) > 1:
        return Verdict(False, expected, f"served by {len(set(pids))} processes (pids {sorted(set(pids))[:5]}…)")
    return Verdict(True, expected, f"{SEQUENTIAL_INVOKES} invokes served by pid {pids[0]}")


# ---------------------------------------------------------------- standard


@check("init_error", "standard", "a handler that cannot be loaded is reported on /init/error, then the "
       "runtime exits and the invoke returns that error",
       "Load the handler before the first GET next; if that fails, POST {errorMessage, errorType} to "
       "/runtime/init/error (e.g. Runtime.ImportModuleError) and exit with a non-zero status.")
def check_init_error(session: Session) -> Verdict:
    """_HANDLER names a module that does not exist."""
    expected = (f"with _HANDLER={MISSING_HANDLER}: POST {PREFIX}/init/error → 202, no Runtime API call after "
                "it, and the invoke returns that error (function_error Unhandled)")
    try:
        result = session.invoke({"action": "echo", "value": "unreachable"}, handler=MISSING_HANDLER)
    finally:
        session.stop(MISSING_HANDLER)
    return Verdict(*init_error_outcome(result, expected))


def init_error_outcome(result: Any, expected: str) -> tuple[bool, str, str]:
    """(passed, expected, actual) for the init error invoke."""
    trace = list(result.trace)
    posts = [i for i, t in enumerate(trace) if t.method == "POST" and t.path == f"{PREFIX}/init/error"]
    if not posts:
        seen = "; ".join(call_text(t) for t in trace) or "no Runtime API calls"
        return False, expected, f"no /init/error call ({seen}); invoke: {describe(result)}"
    record = trace[posts[0]]
    if record.status != 202:
        return False, expected, call_text(record)
    later = trace[posts[0] + 1:]
    if later:
        return False, expected, f"after /init/error the runtime went on: {call_text(later[0])} (it should exit)"
    ok, body = decoded(result)
    if result.function_error != "Unhandled" or not ok or not isinstance(body, dict) or "errorType" not in body:
        return False, expected, f"the invoke did not return the init error: {describe(result)}"
    return True, expected, f"/init/error posted ({body['errorType']}: {short(body.get('errorMessage'), 120)})"


def context_result(session: Session) -> Any:
    """One invoke with every optional header set; the handler reports its context."""
    return session.cached("context", lambda: session.invoke(
        {"action": "context"}, client_context=CLIENT_CONTEXT, cognito_identity=COGNITO, qualifier=QUALIFIER))


def context_seen(session: Session) -> tuple[Any, dict]:
    """The context invoke and the handler's report of its context, or a failure Verdict raised."""
    result = context_result(session)
    ok, value = decoded(result)
    if result.function_error is not None or not ok or not isinstance(value, dict):
        raise CheckFailed(f"the context invoke failed: {describe(result)}")
    return result, value


def seen_text(value: Any) -> str:
    """What the handler saw, for 'actual' (None spelled out)."""
    return "nothing: the handler saw no such field" if value is None else short(json.dumps(value))


def as_json(value: Any) -> Any:
    """A JSON string field parsed (shell handlers report headers as strings)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@check("context_request_id", "standard", "the handler's context carries the request id",
       "Put the Lambda-Runtime-Aws-Request-Id header in the context (context.aws_request_id; bash: export "
       "LAMBDA_RUNTIME_AWS_REQUEST_ID).")
def check_context_request_id(session: Session) -> Verdict:
    """context.aws_request_id == the invoke's request id."""
    result, seen = context_seen(session)
    expected = f"request id {result.request_id}"
    return Verdict(seen.get("request_id") == result.request_id, expected, seen_text(seen.get("request_id")))


@check("context_function_arn", "standard", "the handler's context carries the invoked function ARN, qualifier "
       "included", "Copy the Lambda-Runtime-Invoked-Function-Arn header as is (context.invoked_function_arn; "
       "bash: LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN); it ends with :QUALIFIER when invoked with one.")
def check_context_function_arn(session: Session) -> Verdict:
    """context.invoked_function_arn == the header sent."""
    result, seen = context_seen(session)
    sent = header(next_headers(result), "Lambda-Runtime-Invoked-Function-Arn")
    expected = f"{sent!r} (invoked with qualifier {QUALIFIER!r})" if sent else f"an ARN ending in :{QUALIFIER}"
    arn = seen.get("invoked_function_arn")
    passed = arn == sent if sent else isinstance(arn, str) and arn.endswith(f":{QUALIFIER}")
    return Verdict(passed, expected, seen_text(arn))


@check("context_client_context", "standard", "the handler's context carries the caller's client context",
       "Parse the Lambda-Runtime-Client-Context header (JSON) into context.client_context (client, custom, "
       "env); bash: export LAMBDA_RUNTIME_CLIENT_CONTEXT.")
def check_context_client_context(session: Session) -> Verdict:
    """The custom probe value of the client context reaches the handler."""
    _, seen = context_seen(session)
    value = as_json(seen.get("client_context"))
    probe = CLIENT_CONTEXT["custom"]["probe"]
    expected = f"the client context sent ({json.dumps(CLIENT_CONTEXT)}), e.g. custom.probe = {probe!r}"
    return Verdict(probe in json.dumps(value), expected, seen_text(value))


@check("context_cognito_identity", "standard", "the handler's context carries the Cognito identity",
       "Parse the Lambda-Runtime-Cognito-Identity header (JSON) into context.identity "
       "(cognito_identity_id, cognito_identity_pool_id); bash: export LAMBDA_RUNTIME_COGNITO_IDENTITY.")
def check_context_cognito_identity(session: Session) -> Verdict:
    """Both Cognito ids reach the handler."""
    _, seen = context_seen(session)
    value = as_json(seen.get("cognito_identity"))
    expected = f"the identity sent: {json.dumps(COGNITO)}"
    return Verdict(all(v in json.dumps(value) for v in COGNITO.values()), expected, seen_text(value))


@check("remaining_time", "standard", "the remaining time is computed from the deadline, live, in milliseconds",
       "remaining = Lambda-Runtime-Deadline-Ms − now in ms (int(time.time() * 1000)), computed each time it is "
       "asked for, never negative.")
def check_remaining_time(session: Session) -> Verdict:
    """Before and after a 200 ms sleep, within tolerance of the timeout."""
    timeout_ms = int(session.timeout_s * 1000)
    expected = (f"0 < remaining ≤ {timeout_ms} ms and ≥ {timeout_ms - 1500} ms at the start (timeout "
                f"{session.timeout_s:g} s), and about 200 ms less after the handler sleeps 200 ms")
    result = session.invoke({"action": "remaining", "sleep_ms": 200})
    ok, value = decoded(result)
    if result.function_error is not None or not ok or not isinstance(value, dict):
        return Verdict(False, expected, describe(result))
    return Verdict(*remaining_outcome(value, timeout_ms, expected))


def remaining_outcome(value: dict, timeout_ms: int, expected: str) -> tuple[bool, str, str]:
    """(passed, expected, actual) for the before/after remaining times."""
    before, after = value.get("before"), value.get("after")
    actual = f"before {before!r} ms, after 200 ms of sleep {after!r} ms"
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (before, after))
    if before is None:
        return False, expected, actual + " (no deadline reached the handler)"
    if not numbers:
        return False, expected, actual + " (not numbers)"
    if before > timeout_ms + 50:
        why = " (looks like the raw deadline, not deadline − now)" if before > 10**9 else ""
        return False, expected, actual + why
    if before < timeout_ms - 1500 or before <= 0:
        why = " (seconds instead of milliseconds?)" if 0 <= before <= timeout_ms // 1000 + 1 else ""
        return False, expected, actual + why
    if not 120 <= before - after <= 1200:
        return False, expected, actual + " (it must go down as time passes: compute it on each call)"
    return True, expected, actual


@check("trace_id", "standard", "_X_AMZN_TRACE_ID is set for each invoke from its Lambda-Runtime-Trace-Id header",
       "For every invoke, set the environment variable _X_AMZN_TRACE_ID to that invoke's "
       "Lambda-Runtime-Trace-Id header before calling the handler (bash: export it).")
def check_trace_id(session: Session) -> Verdict:
    """Two invokes with different trace ids; the handler reads the env var."""
    expected = " then ".join(repr(t) for t in TRACE_IDS)
    seen = []
    for trace_id in TRACE_IDS:
        result = session.invoke({"action": "env", "name": "_X_AMZN_TRACE_ID"}, trace_id=trace_id)
        ok, value = decoded(result)
        if result.function_error is not None or not ok:
            return Verdict(False, expected, describe(result))
        seen.append(value)
    return Verdict(list(TRACE_IDS) == seen, expected, " then ".join(repr(v) for v in seen))


# ---------------------------------------------------------------- full


@check("unicode", "full", "non-ASCII text (accents, CJK, emoji) survives the round trip as UTF-8",
       "Treat bodies as bytes: decode the event as UTF-8, encode the response as UTF-8, and set "
       "Content-Length to the number of bytes, not characters.")
def check_unicode(session: Session) -> Verdict:
    """Echo of multi-byte strings sent as raw UTF-8."""
    expected = f"payload {json.dumps(UNICODE_VALUE, ensure_ascii=False)}"
    result = session.invoke({"action": "echo", "value": UNICODE_VALUE})
    if result.function_error is not None:
        return Verdict(False, expected, describe(result))
    try:
        value = json.loads(result.payload.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Verdict(False, expected, f"payload is not valid UTF-8 ({exc}): {short(result.payload)}")
    except ValueError:
        return Verdict(False, expected, f"payload is not JSON: {short(result.payload)}")
    return Verdict(value == UNICODE_VALUE, expected, f"payload {json.dumps(value, ensure_ascii=False)}")


@check("near_limit_payload", "full", f"a response of exactly {MAX_RESPONSE:,} bytes is accepted; one byte more "
       "gives Function.ResponseSizeTooLarge and the runtime keeps serving",
       "Send the whole body (Content-Length = its byte length; bash: pipe it to `curl --data-binary @-`, as "
       "`-d \"$RESPONSE\"` hits Linux's 128 KiB argument limit). When /response answers 413, the invocation is "
       "over: log it and go back to GET next; don't crash.")
def check_near_limit_payload(session: Session) -> Verdict:
    """The largest response that fits, one that doesn't, then the same process answers again."""
    expected = (f"{MAX_RESPONSE} bytes returned intact; {MAX_RESPONSE + 1} bytes → Function.ResponseSizeTooLarge; "
                "then the same process serves the next invoke")
    before = session.invoke({"action": "pid"})
    fits = session.invoke({"action": "big", "size": MAX_RESPONSE})
    if fits.function_error is not None or len(fits.payload) != MAX_RESPONSE:
        got = describe(fits) if fits.function_error else f"a payload of {len(fits.payload)} bytes"
        return Verdict(False, expected, f"{MAX_RESPONSE}-byte response: {got}")
    too_big = session.invoke({"action": "big", "size": MAX_RESPONSE + 1})
    if too_big.error_type != "Function.ResponseSizeTooLarge":
        return Verdict(False, expected, f"{MAX_RESPONSE + 1}-byte response: {describe(too_big)}")
    after = session.invoke({"action": "pid"})
    if pid_of(after) is None:
        return Verdict(False, expected, f"the invoke after the 413 failed: {describe(after)}")
    if pid_of(after) != pid_of(before):
        return Verdict(False, expected, f"the invoke after the 413 was served by a new process (pid "
                       f"{pid_of(before)} → {pid_of(after)}): the runtime exited instead of calling next again")
    return Verdict(True, expected, "accepted, refused with Function.ResponseSizeTooLarge, runtime still serving")
