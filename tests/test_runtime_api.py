"""The Runtime API, call by call, against runtime-api.md ("Endpoints", "Headers on the next response",
"Errors posted by the runtime", "Response streaming").

Every test runs the emulator in runtime-only mode: no process is started, the test itself plays the runtime with
`requests` (or `http.client` / a raw socket when it needs control over the bytes on the wire), after queueing
events with ``emu.send``. That makes each call, status code and header checkable precisely, and fast.
"""

from __future__ import annotations

import base64
import concurrent.futures
import http.client
import json
import re
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from runtime_reference import Emulator, InvokeResult, PendingInvoke

pytestmark = pytest.mark.timeout(30)

API = "/2018-06-01/runtime"
T = 5  # seconds: the timeout of every HTTP call and every wait for a result, so nothing can hang
LIMIT = 6 * 1024 * 1024 + 100  # 6,291,556 bytes: the largest synchronous response
TIMEOUT_S = 60  # the function timeout in these tests (runtime-only mode)

REQUEST_ID = "Lambda-Runtime-Aws-Request-Id"
DEADLINE = "Lambda-Runtime-Deadline-Ms"
ARN = "Lambda-Runtime-Invoked-Function-Arn"
TRACE_ID = "Lambda-Runtime-Trace-Id"
CLIENT_CONTEXT = "Lambda-Runtime-Client-Context"
COGNITO = "Lambda-Runtime-Cognito-Identity"
TENANT = "Lambda-Runtime-Aws-Tenant-Id"
ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"
ERROR_BODY = "Lambda-Runtime-Function-Error-Body"
MODE = "Lambda-Runtime-Function-Response-Mode"
ERROR_CAUSE = "application/vnd.aws.lambda.error.cause+json"

TRACE_ID_FORMAT = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]")
ARN_FORMAT = r"arn:aws:lambda:us-east-1:\d{12}:function:function"


# -- the test plays the runtime ------------------------------------------------------------------------------------
class Runtime:
    """A runtime driven by the test: thin wrappers over the Runtime API calls."""

    def __init__(self, emu: Emulator, session: requests.Session | None = None):
        self.emu = emu
        self.base = f"http://{emu.runtime_api}{API}"
        self.http = session or requests.Session()

    def next(self) -> requests.Response:
        return self.http.get(f"{self.base}/invocation/next", timeout=T)

    def post(self, path: str, data: object = b"", headers: dict[str, str] | None = None) -> requests.Response:
        return self.http.post(f"{self.base}{path}", data=data, headers=headers or {}, timeout=T)

    def respond(self, request_id: str, data: object = b"{}", headers: dict[str, str] | None = None
                ) -> requests.Response:
        return self.post(f"/invocation/{request_id}/response", data, headers)

    def error(self, request_id: str, data: object = b"", headers: dict[str, str] | None = None
              ) -> requests.Response:
        return self.post(f"/invocation/{request_id}/error", data, headers)

    def init_error(self, data: object = b"", headers: dict[str, str] | None = None) -> requests.Response:
        return self.post("/init/error", data, headers)

    def start(self, event: object = None, **options: object) -> tuple[PendingInvoke, requests.Response]:
        """Queue an event and take it with `next`; returns the pending invoke and the `next` response."""
        pending = self.emu.send({"n": 1} if event is None else event, **options)
        response = self.next()
        assert response.status_code == 200, response.text
        assert response.headers[REQUEST_ID] == pending.request_id
        return pending, response

    def finish(self, pending: PendingInvoke) -> InvokeResult:
        """End the invocation the way a runtime does, by asking for the next event (a filler is queued first, so
        that `next` returns at once instead of long-polling), and return what the invoker got."""
        filler = self.emu.send({"filler": True})
        response = self.next()
        assert response.status_code == 200, response.text
        assert response.headers[REQUEST_ID] == filler.request_id
        return pending.result(timeout=T)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with Emulator(runtime_only=True, timeout=TIMEOUT_S) as emulator:
        yield emulator


@pytest.fixture
def rt(emu: Emulator) -> Iterator[Runtime]:
    runtime = Runtime(emu)
    yield runtime
    runtime.http.close()


def assert_api_error(response: requests.Response | http.client.HTTPResponse, status: int, error_type: str,
                     body: bytes | None = None) -> dict:
    """An error of the Runtime API: the status, a JSON body with errorMessage and errorType, application/json."""
    if isinstance(response, requests.Response):
        status_code, content_type, body = response.status_code, response.headers.get("Content-Type"), \
            response.content
    else:
        status_code, content_type = response.status, response.getheader("Content-Type")
    assert status_code == status, body
    assert (content_type or "").split(";")[0] == "application/json"
    parsed = json.loads(body)
    assert isinstance(parsed, dict)
    assert parsed["errorType"] == error_type
    assert isinstance(parsed["errorMessage"], str) and parsed["errorMessage"]
    return parsed


def assert_accepted(response: requests.Response | http.client.HTTPResponse, body: bytes | None = None) -> None:
    """202 with {"status": "OK"} as JSON."""
    if isinstance(response, requests.Response):
        status_code, content_type, body = response.status_code, response.headers.get("Content-Type"), \
            response.content
    else:
        status_code, content_type = response.status, response.getheader("Content-Type")
    assert status_code == 202, body
    assert (content_type or "").split(";")[0] == "application/json"
    assert json.loads(body) == {"status": "OK"}


def address(emu: Emulator) -> tuple[str, int]:
    host, port = emu.runtime_api.rsplit(":", 1)
    return host, int(port)


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked HTTP/1.1 body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def chunks(data: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    """A generator body: `requests` sends it with Transfer-Encoding: chunked."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


def open_post(emu: Emulator, path: str, headers: dict[str, str]) -> http.client.HTTPConnection:
    """A POST whose headers are sent and whose body the caller writes by hand (chunks, trailers)."""
    conn = http.client.HTTPConnection(*address(emu), timeout=T)
    conn.putrequest("POST", f"{API}{path}", skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    return conn


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


# -- GET next ------------------------------------------------------------------------------------------------------
def test_next_returns_the_event(rt: Runtime) -> None:
    event = {"name": "World", "nested": {"list": [1, 2, 3]}, "text": "héllo 🚀"}
    pending, response = rt.start(event)
    assert response.status_code == 200
    assert json.loads(response.content) == event
    assert response.headers["Content-Type"] == "application/json"
    request_id = response.headers[REQUEST_ID]
    assert str(uuid.UUID(request_id)) == request_id  # a canonical, lower-case UUID
    assert_accepted(rt.respond(request_id, b'{"ok": true}'))
    assert rt.finish(pending).payload == b'{"ok": true}'


def test_next_passes_bytes_events_through(rt: Runtime) -> None:
    raw = b'not json at all \x00\xff'
    _, response = rt.start(raw)
    assert response.content == raw


def test_request_ids_differ_between_invocations(rt: Runtime) -> None:
    first, response = rt.start()
    rt.respond(first.request_id)
    second, response2 = rt.start()
    assert response.headers[REQUEST_ID] != response2.headers[REQUEST_ID]
    assert first.result(timeout=T).payload == b"{}"


def test_deadline_header() -> None:
    with Emulator(runtime_only=True, timeout=30) as emu:
        rt = Runtime(emu)
        before = time.time() * 1000
        pending, response = rt.start()
        after = time.time() * 1000
        deadline = response.headers[DEADLINE]
        assert deadline.isdigit()
        # Unix epoch milliseconds: the invoke started between `before` and `after`, plus the 30 s timeout
        assert before + 30_000 - 5 <= int(deadline) <= after + 30_000 + 5


@pytest.mark.parametrize("qualifier, suffix", [(None, ""), ("prod", ":prod"), ("7", ":7")])
def test_invoked_function_arn_header(rt: Runtime, qualifier: str | None, suffix: str) -> None:
    options = {"qualifier": qualifier} if qualifier else {}
    _, response = rt.start(**options)
    assert re.fullmatch(ARN_FORMAT + re.escape(suffix), response.headers[ARN])


def test_invoked_function_arn_names_the_function() -> None:
    with Emulator(runtime_only=True, function_name="my-func", region="eu-west-3") as emu:
        _, response = Runtime(emu).start()
        assert re.fullmatch(r"arn:aws:lambda:eu-west-3:\d{12}:function:my-func", response.headers[ARN])


def test_trace_id_header_format(rt: Runtime) -> None:
    first, response = rt.start()
    trace_id = response.headers[TRACE_ID]
    assert TRACE_ID_FORMAT.fullmatch(trace_id), trace_id
    epoch = int(trace_id.split("-")[1], 16)  # the Root's second part is the epoch time in seconds, in hex
    assert abs(epoch - time.time()) < 60
    rt.respond(first.request_id)
    _, response2 = rt.start()
    assert TRACE_ID_FORMAT.fullmatch(response2.headers[TRACE_ID])
    assert response2.headers[TRACE_ID] != trace_id  # a new trace per invocation


def test_trace_id_from_the_caller_is_passed_through(rt: Runtime) -> None:
    given = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    _, response = rt.start(trace_id=given)
    assert response.headers[TRACE_ID] == given


@pytest.mark.parametrize("context", [
    {"client": {"installation_id": "abc", "app_title": "demo"}, "custom": {"k": "v"}, "env": {"locale": "en"}},
    '{"custom": {"from": "a JSON string"}}',
])
def test_client_context_header(rt: Runtime, context: dict | str) -> None:
    _, response = rt.start(client_context=context)
    expected = context if isinstance(context, dict) else json.loads(context)
    assert json.loads(response.headers[CLIENT_CONTEXT]) == expected


def test_cognito_identity_header(rt: Runtime) -> None:
    identity = {"cognitoIdentityId": "us-east-1:1234-abcd", "cognitoIdentityPoolId": "us-east-1:pool-5678"}
    _, response = rt.start(cognito_identity=identity)
    assert json.loads(response.headers[COGNITO]) == identity


def test_tenant_id_header(rt: Runtime) -> None:
    _, response = rt.start(tenant_id="tenant-42")
    assert response.headers[TENANT] == "tenant-42"


def test_headers_without_a_value_are_absent(rt: Runtime) -> None:
    _, response = rt.start()
    for name in (CLIENT_CONTEXT, COGNITO, TENANT):
        assert name not in response.headers
    for name in (REQUEST_ID, DEADLINE, ARN, TRACE_ID):  # these always have a value
        assert response.headers[name]


def test_next_again_while_an_invocation_is_outstanding_returns_the_same_event(rt: Runtime) -> None:
    pending, first = rt.start({"same": "event"})
    again = rt.next()
    assert again.status_code == 200
    assert again.headers[REQUEST_ID] == first.headers[REQUEST_ID] == pending.request_id
    assert again.content == first.content
    assert again.headers[DEADLINE] == first.headers[DEADLINE]
    assert not pending.done()
    assert_accepted(rt.respond(pending.request_id, b'"answered once"'))
    assert rt.finish(pending).payload == b'"answered once"'


# -- POST response -------------------------------------------------------------------------------------------------
def test_response_is_accepted_and_reaches_the_invoker_as_posted(rt: Runtime) -> None:
    pending, _ = rt.start()
    body = b'{"statusCode": 200,   "body": "spaces and order kept"}'
    response = rt.respond(pending.request_id, body, {"Content-Type": "application/json"})
    assert_accepted(response)
    result = rt.finish(pending)
    assert result.payload == body
    assert result.function_error is None and result.error_type is None
    assert not result.streamed


def test_non_json_response_passes_through(rt: Runtime) -> None:
    pending, _ = rt.start()
    body = "plain text, not JSON: ünïcode".encode()
    assert_accepted(rt.respond(pending.request_id, body, {"Content-Type": "text/plain"}))
    assert rt.finish(pending).payload == body


def test_invoker_result_is_released_when_the_response_is_posted(rt: Runtime) -> None:
    pending, _ = rt.start()
    assert not pending.done()
    assert_accepted(rt.respond(pending.request_id, b'"early"'))
    # the runtime has NOT called next again: the invoker must have its result anyway
    released = wait_until(pending.done, 1.0)
    try:
        assert released, "the result was held back until the runtime's next `next`"
        assert pending.result(timeout=0).payload == b'"early"'
    finally:
        rt.finish(pending)


@pytest.mark.parametrize("kind", ["response", "error"])
def test_http_invoker_is_released_when_the_runtime_answers(kind: str) -> None:
    with Emulator(runtime_only=True, timeout=TIMEOUT_S, invoke_port=0) as emu:
        rt = Runtime(emu)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            invoke = pool.submit(requests.post, emu.invoke_url, data=b'{"via": "http"}', timeout=T)
            response = rt.next()
            assert response.status_code == 200
            request_id = response.headers[REQUEST_ID]
            if kind == "response":
                assert_accepted(rt.respond(request_id, b'"released"'))
            else:
                assert_accepted(rt.error(request_id, b'{"errorMessage": "x", "errorType": "E"}',
                                         {ERROR_TYPE: "Function.E"}))
            # no second `next`: the invoker gets its answer anyway
            answer = invoke.result(timeout=T)
        assert answer.status_code == 200
        if kind == "response":
            assert answer.content == b'"released"'
            assert "X-Amz-Function-Error" not in answer.headers
        else:
            assert answer.headers["X-Amz-Function-Error"] == "Unhandled"


@pytest.mark.parametrize("kind", ["response", "error"])
@pytest.mark.parametrize("which", ["unknown", "empty"])
def test_invalid_request_id(rt: Runtime, kind: str, which: str) -> None:
    pending, _ = rt.start()
    request_id = {"unknown": str(uuid.uuid4()), "empty": ""}[which]
    response = rt.post(f"/invocation/{request_id}/{kind}", b'{"wrong": "id"}')
    assert_api_error(response, 400, "InvalidRequestID")
    assert not pending.done()
    assert_accepted(rt.respond(pending.request_id, b'"still open"'))  # the real invocation is untouched
    assert rt.finish(pending).payload == b'"still open"'


@pytest.mark.parametrize("kind", ["response", "error"])
def test_stale_request_id(rt: Runtime, kind: str) -> None:
    first, _ = rt.start()
    assert_accepted(rt.respond(first.request_id))
    second, _ = rt.start()
    # the old id was answered already, but the id is checked first: 400, not 403
    assert_api_error(rt.post(f"/invocation/{first.request_id}/{kind}", b"{}"), 400, "InvalidRequestID")
    assert_accepted(rt.respond(second.request_id, b'"second"'))
    assert rt.finish(second).payload == b'"second"'


@pytest.mark.parametrize("kind", ["response", "error"])
def test_request_id_is_checked_before_the_state(rt: Runtime, kind: str) -> None:
    # before any event was handed out
    assert_api_error(rt.post(f"/invocation/{uuid.uuid4()}/{kind}", b"{}"), 400, "InvalidRequestID")
    pending, _ = rt.start()
    assert_accepted(rt.respond(pending.request_id))
    # the invocation is answered (a new answer would be 403), but a wrong id is still a 400
    assert_api_error(rt.post(f"/invocation/{uuid.uuid4()}/{kind}", b"{}"), 400, "InvalidRequestID")
    assert_api_error(rt.post(f"/invocation//{kind}", b"{}"), 400, "InvalidRequestID")
    assert_api_error(rt.post(f"/invocation/{pending.request_id}/{kind}", b"{}"), 403, "InvalidStateTransition")


@pytest.mark.parametrize("first, second", [
    ("response", "response"), ("error", "response"), ("response", "error"), ("error", "error")])
def test_one_answer_per_invocation(rt: Runtime, first: str, second: str) -> None:
    pending, _ = rt.start()
    answer = {"response": (b'"the first answer"', {}),
              "error": (b'{"errorMessage": "first", "errorType": "First"}', {ERROR_TYPE: "Function.First"})}
    assert_accepted(rt.post(f"/invocation/{pending.request_id}/{first}", *answer[first]))
    late = rt.post(f"/invocation/{pending.request_id}/{second}", b'{"errorMessage": "late", "errorType": "Late"}')
    assert_api_error(late, 403, "InvalidStateTransition")
    result = rt.finish(pending)
    assert result.payload == answer[first][0]  # the first answer wins
    assert result.function_error == (None if first == "response" else "Unhandled")


def too_large_message(size: int) -> str:
    return f"Response payload size ({size} bytes) exceeded maximum allowed payload size (6291556 bytes)."


@pytest.mark.parametrize("encoding", ["content-length", "chunked"])
@pytest.mark.parametrize("size", [LIMIT, LIMIT + 1, LIMIT + 1000])
def test_response_size_limit(rt: Runtime, encoding: str, size: int) -> None:
    pending, _ = rt.start()
    body = b'"' + b"x" * (size - 2) + b'"'
    assert len(body) == size
    data = body if encoding == "content-length" else chunks(body)
    response = rt.respond(pending.request_id, data)
    if size <= LIMIT:  # exactly 6,291,556 bytes is fine
        assert_accepted(response)
        result = rt.finish(pending)
        assert result.function_error is None
        assert result.payload == body
        return
    parsed = assert_api_error(response, 413, "RequestEntityTooLarge")
    assert parsed["errorMessage"] == too_large_message(size)
    result = rt.finish(pending)
    assert result.function_error == "Unhandled"
    assert result.error_type == "Function.ResponseSizeTooLarge"
    assert json.loads(result.payload) == {"errorType": "Function.ResponseSizeTooLarge",
                                          "errorMessage": too_large_message(size)}


@pytest.mark.parametrize("mode", ["Streaming", "STREAMING", "buffered", "stream"])
def test_invalid_response_mode(rt: Runtime, mode: str) -> None:
    pending, _ = rt.start()
    response = rt.respond(pending.request_id, b'"x"', {MODE: mode})
    assert_api_error(response, 400, "InvalidFunctionResponseMode")
    assert not pending.done()
    assert_accepted(rt.respond(pending.request_id, b'"plain"'))
    assert rt.finish(pending).payload == b'"plain"'


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_truncated_request_body(rt: Runtime, framing: str) -> None:
    pending, _ = rt.start()
    path = f"{API}/invocation/{pending.request_id}/response"
    if framing == "content-length":  # declare 100 bytes, send 10, close
        head = f"POST {path} HTTP/1.1\r\nHost: runtime\r\nContent-Length: 100\r\n\r\n"
        partial = b"0123456789"
    else:  # announce a 100-byte chunk, send 10 bytes of it, close
        head = f"POST {path} HTTP/1.1\r\nHost: runtime\r\nTransfer-Encoding: chunked\r\n\r\n"
        partial = b"64\r\n0123456789"
    with socket.create_connection(address(rt.emu), timeout=T) as sock:
        sock.sendall(head.encode() + partial)
        sock.shutdown(socket.SHUT_WR)
        # wait until the emulator has dropped the connection, so the cut request is handled before the next one
        assert sock.recv(65536) == b""
    # the runtime is gone, so the 400 can only be seen in the trace; the invocation stays open
    assert_accepted(rt.respond(pending.request_id, b'"complete"'))
    result = rt.finish(pending)
    assert result.payload == b'"complete"'
    cut = [r for r in result.trace if r.status == 400]
    assert len(cut) == 1
    assert cut[0].method == "POST" and cut[0].path == path
    assert "closed mid-body" in cut[0].note


# -- POST init/error -----------------------------------------------------------------------------------------------
def test_init_error_is_accepted_and_the_invoke_gets_it(rt: Runtime) -> None:
    pending = rt.emu.send({"first": "invoke"})
    body = b'{"errorMessage": "No module named \'app\'", "errorType": "Runtime.ImportModuleError", "stackTrace": []}'
    assert_accepted(rt.init_error(body, {ERROR_TYPE: "Runtime.ImportModuleError"}))
    result = pending.result(timeout=T)
    assert result.function_error == "Unhandled"
    assert result.error_type == "Runtime.ImportModuleError"
    assert result.payload == body
    assert any(r.path == f"{API}/init/error" and r.status == 202 for r in result.trace)


def test_second_init_error_and_next_after_init_error_are_refused(rt: Runtime) -> None:
    body = b'{"errorMessage": "bad config", "errorType": "Runtime.BadConfig"}'
    assert_accepted(rt.init_error(body, {ERROR_TYPE: "Runtime.BadConfig"}))
    assert_api_error(rt.init_error(body, {ERROR_TYPE: "Runtime.BadConfig"}), 403, "InvalidStateTransition")
    # a runtime that reported an init error can't become ready
    assert_api_error(rt.next(), 403, "InvalidStateTransition")


def test_init_error_once_init_is_over_is_refused(rt: Runtime) -> None:
    pending, _ = rt.start()
    response = rt.init_error(b'{"errorMessage": "too late", "errorType": "Runtime.Late"}',
                             {ERROR_TYPE: "Runtime.Late"})
    assert_api_error(response, 403, "InvalidStateTransition")
    assert not pending.done()
    assert_accepted(rt.respond(pending.request_id, b'"fine"'))
    assert rt.finish(pending).payload == b'"fine"'


def test_init_error_posted_before_the_first_invoke_is_what_that_invoke_returns(rt: Runtime) -> None:
    body = b'{"errorMessage": "boom at init", "errorType": "Runtime.InitBoom"}'
    assert_accepted(rt.init_error(body, {ERROR_TYPE: "Runtime.InitBoom"}))
    pending = rt.emu.send({"first": "invoke"})
    result = pending.result(timeout=2)
    assert result.function_error == "Unhandled"
    assert result.error_type == "Runtime.InitBoom"
    assert result.payload == body


# -- POST error: error type, body ----------------------------------------------------------------------------------
@pytest.mark.parametrize("header, recorded", [
    ("Function.MyError", "Function.MyError"),
    ("Runtime.HandlerNotFound", "Runtime.HandlerNotFound"),
    ("MyError", "Runtime.Unknown"),
    ("Handler.Error", "Runtime.Unknown"),
    ("runtime.lowercase", "Runtime.Unknown"),
    ("Function.my_error", "Function.Unknown"),
    ("", "Runtime.Unknown"),
    (None, "Runtime.Unknown"),
])
def test_error_type_header_is_normalised(rt: Runtime, header: str | None, recorded: str) -> None:
    pending, _ = rt.start()
    body = b'{"errorMessage": "it failed", "errorType": "MyError", "stackTrace": ["line 1"]}'
    headers = {} if header is None else {ERROR_TYPE: header}
    assert_accepted(rt.error(pending.request_id, body, headers))
    result = rt.finish(pending)
    assert result.function_error == "Unhandled"
    assert result.error_type == recorded
    assert result.payload == body


@pytest.mark.parametrize("header, recorded", [
    ("Runtime.ImportModuleError", "Runtime.ImportModuleError"), ("oops", "Runtime.Unknown"), (None, "Runtime.Unknown")])
def test_init_error_type_header_is_normalised(rt: Runtime, header: str | None, recorded: str) -> None:
    pending = rt.emu.send({})
    headers = {} if header is None else {ERROR_TYPE: header}
    assert_accepted(rt.init_error(b'{"errorMessage": "m", "errorType": "t"}', headers))
    assert pending.result(timeout=T).error_type == recorded


def test_error_cause_content_type_is_re_encoded(rt: Runtime) -> None:
    pending, _ = rt.start()
    cause = {"errorMessage": "it failed", "errorType": "ValueError", "stackTrace": ["a", "b"]}
    body = b'{\n    "errorMessage" :  "it failed",\n    "errorType":"ValueError",\n  "stackTrace": ["a",   "b"]\n}\n'
    assert json.loads(body) == cause
    assert_accepted(rt.error(pending.request_id, body, {ERROR_TYPE: "Function.ValueError",
                                                        "Content-Type": ERROR_CAUSE}))
    result = rt.finish(pending)
    assert result.error_type == "Function.ValueError"
    assert json.loads(result.payload) == cause
    assert result.payload != body  # parsed and written again
    assert b"\n" not in result.payload


def test_error_body_is_passed_through_byte_for_byte(rt: Runtime) -> None:
    pending, _ = rt.start()
    body = b'{\n  "errorMessage" : "kept as is",\n  "errorType": "ValueError"\n}'
    assert_accepted(rt.error(pending.request_id, body, {ERROR_TYPE: "Function.ValueError",
                                                        "Content-Type": "application/json"}))
    assert rt.finish(pending).payload == body


@pytest.mark.parametrize("content_type", [None, ERROR_CAUSE])
@pytest.mark.parametrize("body", [
    b"Traceback: not JSON at all",
    b'["a", "list"]',
    b'{"message": "no errorType and no errorMessage"}',
    b"",
])
def test_malformed_error_body_is_passed_through_with_a_note(rt: Runtime, body: bytes,
                                                            content_type: str | None) -> None:
    pending, _ = rt.start()
    headers = {ERROR_TYPE: "Function.Broken"}
    if content_type:
        headers["Content-Type"] = content_type
    assert_accepted(rt.error(pending.request_id, body, headers))
    result = rt.finish(pending)
    assert result.function_error == "Unhandled"
    assert result.error_type == "Function.Broken"
    if content_type is None or body in (b"Traceback: not JSON at all", b""):
        assert result.payload == body
    else:  # valid JSON under the error-cause content type: re-encoded, same value
        assert json.loads(result.payload) == json.loads(body)
    [record] = [r for r in result.trace if r.path.endswith("/error")]
    assert record.status == 202
    assert "errorMessage" in record.note and "errorType" in record.note


# -- response streaming --------------------------------------------------------------------------------------------
def test_streamed_response_reaches_the_invoker(rt: Runtime) -> None:
    pending, _ = rt.start()
    parts = [b"data: first\n\n", b"data: second\n\n", b"data: " + b"x" * 100_000 + b"\n\n"]
    response = rt.respond(pending.request_id, iter(parts), {MODE: "streaming",
                                                            "Content-Type": "text/event-stream"})
    assert_accepted(response)
    result = rt.finish(pending)
    assert result.streamed
    assert result.payload == b"".join(parts)
    assert result.function_error is None and result.stream_error_body is None
    [record] = [r for r in result.trace if r.path.endswith("/response")]
    assert record.request_headers[MODE] == "streaming"
    assert record.request_headers["Transfer-Encoding"] == "chunked"


@pytest.mark.parametrize("error_type, recorded", [
    ("Function.StreamBroke", "Function.StreamBroke"), ("StreamBroke", "Runtime.Unknown")])
def test_mid_stream_error_in_trailers(rt: Runtime, error_type: str, recorded: str) -> None:
    pending, _ = rt.start()
    error = {"errorMessage": "the stream broke", "errorType": "StreamBroke", "stackTrace": []}
    encoded = base64.b64encode(json.dumps(error).encode()).decode()
    conn = open_post(rt.emu, f"/invocation/{pending.request_id}/response", {
        MODE: "streaming", "Transfer-Encoding": "chunked", "Content-Type": "application/octet-stream",
        "Trailer": f"{ERROR_TYPE}, {ERROR_BODY}"})
    try:
        conn.send(chunk(b"partial ") + chunk(b"output"))
        conn.send(b"0\r\n" + f"{ERROR_TYPE}: {error_type}\r\n{ERROR_BODY}: {encoded}\r\n\r\n".encode())
        response = conn.getresponse()
        assert_accepted(response, response.read())
    finally:
        conn.close()
    result = rt.finish(pending)
    assert result.streamed
    assert result.payload == b"partial output"
    assert result.function_error == "Unhandled"
    assert result.error_type == recorded
    assert result.stream_error_body is not None
    assert json.loads(result.stream_error_body) == error
    [record] = [r for r in result.trace if r.path.endswith("/response")]
    assert record.request_headers[ERROR_TYPE] == error_type  # the trailer is in the trace


def test_error_after_streaming_started_is_refused() -> None:
    with Emulator(runtime_only=True, timeout=TIMEOUT_S, invoke_port=0) as emu:
        rt = Runtime(emu)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            invoker = pool.submit(requests.post, emu.invoke_url, data=b"{}", stream=True, timeout=T)
            response = rt.next()
            request_id = response.headers[REQUEST_ID]
            conn = open_post(emu, f"/invocation/{request_id}/response",
                             {MODE: "streaming", "Transfer-Encoding": "chunked"})
            try:
                conn.send(chunk(b"first chunk;"))
                answer = invoker.result(timeout=T)  # the invoker has the headers: the stream has started
                assert answer.raw.read(len(b"first chunk;")) == b"first chunk;"
                late = rt.error(request_id, b'{"errorMessage": "too late", "errorType": "Late"}',
                                {ERROR_TYPE: "Function.Late"})
                assert_api_error(late, 403, "InvalidStateTransition")
                conn.send(chunk(b"second chunk") + b"0\r\n\r\n")
                stream_response = conn.getresponse()
                assert_accepted(stream_response, stream_response.read())
            finally:
                conn.close()
            assert answer.raw.read() == b"second chunk"
            assert "X-Amz-Function-Error" not in answer.headers
            # and once the stream is complete, nothing more can be posted either
            assert_api_error(rt.error(request_id, b"{}"), 403, "InvalidStateTransition")
            assert_api_error(rt.respond(request_id, b"{}"), 403, "InvalidStateTransition")


# -- HTTP details: errors, keep-alive, chunked bodies --------------------------------------------------------------
@pytest.mark.parametrize("method, path", [
    ("GET", "/2018-06-01/runtime/invocation"),
    ("GET", "/2018-06-01/runtime/invocation/next/again"),
    ("POST", "/2018-06-01/runtime/invocation/abc/answer"),
    ("POST", "/2018-06-01/runtime/invocation/abc"),
    ("POST", "/2018-06-01/runtime/init/failure"),
    ("GET", "/2019-01-01/runtime/invocation/next"),
    ("GET", "/"),
])
def test_unknown_path(rt: Runtime, method: str, path: str) -> None:
    response = rt.http.request(method, f"http://{rt.emu.runtime_api}{path}", timeout=T)
    assert_api_error(response, 404, response.json()["errorType"])
    assert response.status_code == 404


@pytest.mark.parametrize("method, path", [
    ("POST", "/invocation/next"),
    ("PUT", "/invocation/next"),
    ("GET", "/invocation/{id}/response"),
    ("PUT", "/invocation/{id}/response"),
    ("GET", "/invocation/{id}/error"),
    ("DELETE", "/invocation/{id}/error"),
    ("GET", "/init/error"),
])
def test_wrong_method(rt: Runtime, method: str, path: str) -> None:
    pending, _ = rt.start()
    url = rt.base + path.format(id=pending.request_id)
    response = rt.http.request(method, url, data=b"{}", timeout=T)
    assert response.status_code == 405
    assert_api_error(response, 405, response.json()["errorType"])
    assert not pending.done()
    assert_accepted(rt.respond(pending.request_id, b'"unharmed"'))
    assert rt.finish(pending).payload == b'"unharmed"'


def test_keep_alive_with_one_requests_session(emu: Emulator) -> None:
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1))
    rt = Runtime(emu, session)
    pendings = []
    for n in range(10):
        pending, response = rt.start({"n": n})
        assert response.json() == {"n": n}
        if n % 2:
            assert_accepted(rt.error(pending.request_id, b'{"errorMessage": "odd", "errorType": "Odd"}',
                                     {ERROR_TYPE: "Function.Odd"}))
        else:
            assert_accepted(rt.respond(pending.request_id, json.dumps({"n": n}).encode()))
        pendings.append(pending)
    rt.finish(pendings[-1])
    for n, pending in enumerate(pendings):
        result = pending.result(timeout=T)
        assert result.function_error == ("Unhandled" if n % 2 else None)
    pools = session.get_adapter(rt.base).poolmanager.pools
    # 21 calls, one TCP connection
    assert [pools[key].num_connections for key in pools.keys()] == [1]
    session.close()


def test_keep_alive_with_one_http_client_connection(emu: Emulator) -> None:
    conn = http.client.HTTPConnection(*address(emu), timeout=T)
    conn.connect()
    sock = conn.sock

    def call(method: str, path: str, body: bytes | None = None, headers: dict | None = None
             ) -> tuple[http.client.HTTPResponse, bytes]:
        conn.request(method, API + path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        assert conn.sock is sock, "the server closed the connection"
        return response, data

    try:
        pendings = []
        for n in range(5):
            pending = emu.send({"n": n})
            response, data = call("GET", "/invocation/next")
            assert response.status == 200 and json.loads(data) == {"n": n}
            request_id = response.getheader(REQUEST_ID)
            bad, data = call("POST", f"/invocation/{uuid.uuid4()}/response", b"{}")  # errors keep it open too
            assert_api_error(bad, 400, "InvalidRequestID", data)
            response, data = call("POST", f"/invocation/{request_id}/response", b'"ok"')
            assert_accepted(response, data)
            pendings.append(pending)
        # refused calls leave the connection open as well: 404, 405, 413 (sent before the body is read)
        for method, path, body, status in [("GET", "/nowhere", None, 404), ("POST", "/invocation/next", b"", 405)]:
            response, data = call(method, path, body)
            assert response.status == status
        pending = emu.send({})
        response, _ = call("GET", "/invocation/next")
        big = b'"' + b"b" * LIMIT + b'"'
        response, data = call("POST", f"/invocation/{response.getheader(REQUEST_ID)}/response", big)
        assert_api_error(response, 413, "RequestEntityTooLarge", data)
        emu.send({})
        response, _ = call("GET", "/invocation/next")
        assert response.status == 200
        assert [p.result(timeout=T).payload for p in pendings] == [b'"ok"'] * 5
        assert pending.result(timeout=T).error_type == "Function.ResponseSizeTooLarge"
    finally:
        conn.close()


@pytest.mark.parametrize("kind", ["response", "error"])
def test_chunked_request_bodies_are_accepted(rt: Runtime, kind: str) -> None:
    pending, _ = rt.start()
    body = json.dumps({"errorMessage": "m" * 300_000, "errorType": "Big"}).encode()
    headers = {ERROR_TYPE: "Function.Big"} if kind == "error" else {}
    response = rt.post(f"/invocation/{pending.request_id}/{kind}", chunks(body, 10_000), headers)
    assert_accepted(response)
    result = rt.finish(pending)
    assert result.payload == body
    assert result.function_error == ("Unhandled" if kind == "error" else None)
    assert not result.streamed  # chunked is not streaming: no response-mode header
    [record] = [r for r in result.trace if r.path.endswith(f"/{kind}")]
    assert record.request_headers["Transfer-Encoding"] == "chunked"


def test_expect_100_continue(rt: Runtime) -> None:
    # curl sends `Expect: 100-continue` before bodies over 1 MB and waits for the go-ahead
    pending, _ = rt.start()
    body = b'"' + b"y" * 2_000_000 + b'"'
    conn = open_post(rt.emu, f"/invocation/{pending.request_id}/response",
                     {"Content-Length": str(len(body)), "Expect": "100-continue"})
    try:
        conn.sock.settimeout(T)
        interim = conn.sock.recv(64)
        assert interim.startswith(b"HTTP/1.1 100")
        conn.send(body)
        response = conn.getresponse()
        assert_accepted(response, response.read())
    finally:
        conn.close()
    assert rt.finish(pending).payload == body


# -- the protocol trace --------------------------------------------------------------------------------------------
def test_trace_records_every_call(rt: Runtime) -> None:
    pending, next_response = rt.start()
    request_id = pending.request_id
    wrong = str(uuid.uuid4())
    assert rt.respond(wrong, b"{}").status_code == 400
    assert rt.respond(pending.request_id, b'"x"', {MODE: "bogus"}).status_code == 400
    assert_accepted(rt.error(request_id, b'{"errorMessage": "m", "errorType": "T"}',
                             {ERROR_TYPE: "Function.Traced<b>", "Content-Type": "application/json"}))
    assert rt.respond(request_id, b"{}").status_code == 403
    result = rt.finish(pending)
    calls = [(r.method, r.path, r.status) for r in result.trace]
    assert calls == [
        ("GET", f"{API}/invocation/next", 200),
        ("POST", f"{API}/invocation/{wrong}/response", 400),
        ("POST", f"{API}/invocation/{request_id}/response", 400),
        ("POST", f"{API}/invocation/{request_id}/error", 202),
        ("POST", f"{API}/invocation/{request_id}/response", 403),
    ]
    next_record, _, mode_record, error_record, _ = result.trace
    for name in (REQUEST_ID, DEADLINE, ARN, TRACE_ID):
        assert next_record.response_headers[name] == next_response.headers[name]
    assert mode_record.request_headers[MODE] == "bogus"
    assert error_record.request_headers[ERROR_TYPE] == "Function.Traced<b>"  # as sent (recorded: Runtime.Unknown)
    assert error_record.request_headers["Content-Type"] == "application/json"
    assert all(r.duration_ms >= 0 for r in result.trace)
    assert [r.started_ms for r in result.trace] == sorted(r.started_ms for r in result.trace)

    text = str(result.trace)
    lines = text.splitlines()
    assert len(lines) == 1 + len(result.trace)  # a header row, then one row per call
    assert "status" in lines[0]
    for line, (method, _, status) in zip(lines[1:], calls):
        assert f"{method} {API}/invocation/" in line and f" {status} " in line
    assert request_id[:8] in text  # long cells are cut at 70 characters

    html = result.trace._repr_html_()
    assert html.startswith("<table") and html.count("<tr") == 1 + len(result.trace)
    assert html.count("background:#fde2e2") == 3  # the three refused calls are highlighted
    assert "Function.Traced&lt;b&gt;" in html and "<b>" not in html  # escaped
    assert f"{API}/invocation/next" in html
    assert "<details>" in result._repr_html_()  # the result shows its trace too


def test_trace_keeps_the_calls_of_each_invocation_apart(rt: Runtime) -> None:
    first, _ = rt.start()
    assert_accepted(rt.respond(first.request_id, b"1"))
    second, _ = rt.start()
    assert_accepted(rt.respond(second.request_id, b"2"))
    result2 = rt.finish(second)
    result1 = first.result(timeout=T)
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in result1.trace] == [("GET", "next"), ("POST", "response")]
    assert all(first.request_id in r.path for r in result1.trace if r.method == "POST")
    assert all(second.request_id in r.path for r in result2.trace if r.method == "POST")
    assert result2.trace[0].response_headers[REQUEST_ID] == second.request_id
