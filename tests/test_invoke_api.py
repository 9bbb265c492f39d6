"""The Invoke API, what the invoker sees (runtime-api.md, "What the invoker sees"): curl in RIE's style, boto3's
Lambda client, plain HTTP for status codes and headers, and response streaming.

Most tests run a tiny stdlib-Python bootstrap (written into tmp_path) under the emulator; the streaming and size
tests play the runtime themselves in runtime-only mode, which lets them control every byte.
"""

from __future__ import annotations

import base64
import concurrent.futures
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from runtime_reference import Emulator

pytestmark = pytest.mark.timeout(30)

T = 10  # seconds: the timeout of every HTTP call and wait
API = "/2018-06-01/runtime"
REQUEST_ID = "Lambda-Runtime-Aws-Request-Id"
LIMIT = 6 * 1024 * 1024 + 100

# A runtime in stdlib Python. It echoes the event and the `next` headers it got; the event's "action" makes it
# fail, sleep, print, exit, kill itself, or wait for a file (to prove two invokes run at once).
BOOTSTRAP = r'''#!/usr/bin/env python3
import json, os, signal, sys, time, urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
print(f"init pid={os.getpid()}", flush=True)


def post(path, body, headers=None):
    request = urllib.request.Request(API + path, data=body, headers=headers or {}, method="POST")
    urllib.request.urlopen(request, timeout=10).read()


while True:
    with urllib.request.urlopen(API + "/invocation/next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        headers = {k.lower(): v for k, v in r.headers.items() if k.lower().startswith("lambda-runtime-")}
        raw = r.read()
    event = json.loads(raw) if raw.strip() else None
    action = event.get("action") if isinstance(event, dict) else None
    print(f"handling {request_id} {raw.decode()}", flush=True)
    if action == "sleep":
        time.sleep(event["seconds"])
    elif action == "print":
        for _ in range(event["lines"]):
            print(event["text"], flush=True)
    elif action == "exit":
        sys.exit(event["code"])
    elif action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "wait_for":
        deadline = time.time() + 10
        while not os.path.exists(event["path"]) and time.time() < deadline:
            time.sleep(0.01)
    if action == "fail":
        body = json.dumps({"errorMessage": "it failed", "errorType": "MyError", "stackTrace": []}).encode()
        post(f"/invocation/{request_id}/error", body, {"Lambda-Runtime-Function-Error-Type": "Function.MyError"})
    else:
        answer = {"event": event, "headers": headers, "pid": os.getpid()}
        post(f"/invocation/{request_id}/response", json.dumps(answer).encode())
'''


def make_function(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    bootstrap = directory / "bootstrap"
    bootstrap.write_text(BOOTSTRAP)
    bootstrap.chmod(0o755)
    return directory


def lambda_client(emu: Emulator):
    return boto3.client(
        "lambda", endpoint_url=f"http://127.0.0.1:{emu.invoke_port}", region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=T, read_timeout=T))


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """One echo function for the whole module: its runtime process stays warm between tests."""
    root = make_function(tmp_path_factory.mktemp("echo"))
    with Emulator(root, invoke_port=0, timeout=10) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def client(emu: Emulator):
    return lambda_client(emu)


def wait_for_log(emu: Emulator, needle: str, seconds: float = T) -> list[str]:
    """Poll the emulator's log stream until a line contains ``needle``; returns the log."""
    deadline = time.monotonic() + seconds
    while True:
        lines = emu.logs
        if any(needle in line for line in lines):
            return lines
        if time.monotonic() > deadline:
            raise AssertionError(f"no log line with {needle!r} after {seconds} s:\n" + "\n".join(lines[-30:]))
        time.sleep(0.01)


def invoke_http(emu: Emulator, body: bytes = b"{}", headers: dict[str, str] | None = None) -> requests.Response:
    return requests.post(emu.invoke_url, data=body, headers=headers or {}, timeout=T)


# -- curl, RIE's style ---------------------------------------------------------------------------------------------
def test_curl_in_rie_style(emu: Emulator) -> None:
    assert emu.invoke_url == f"http://127.0.0.1:{emu.invoke_port}/2015-03-31/functions/function/invocations"
    out = subprocess.run(["curl", "-sS", "-XPOST", emu.invoke_url, "-d", "{}"],
                         capture_output=True, timeout=T, check=True)
    assert json.loads(out.stdout)["event"] == {}
    out = subprocess.run(["curl", "-sS", "-XPOST", emu.invoke_url, "-d", '{"name": "curl"}',
                          "-o", "/dev/null", "-w", "%{http_code}"], capture_output=True, timeout=T, check=True)
    assert out.stdout == b"200"


# -- boto3 ---------------------------------------------------------------------------------------------------------
def test_boto3_invoke(emu: Emulator, client) -> None:
    event = {"name": "boto3", "n": [1, 2, 3]}
    response = client.invoke(FunctionName="function", Payload=json.dumps(event).encode())
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    answer = json.loads(response["Payload"].read())
    assert answer["event"] == event
    request_id = response["ResponseMetadata"]["RequestId"]
    assert answer["headers"][REQUEST_ID.lower()] == request_id  # the invoker's request id is the runtime's


def test_boto3_function_error(emu: Emulator, client) -> None:
    response = client.invoke(FunctionName="function", Payload=b'{"action": "fail"}')
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read()) == {"errorMessage": "it failed", "errorType": "MyError",
                                                      "stackTrace": []}


def test_boto3_log_tail(emu: Emulator, client) -> None:
    response = client.invoke(FunctionName="function", Payload=b'{"say": "tail me"}', LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    log = base64.b64decode(response["LogResult"]).decode()
    lines = log.splitlines()
    assert lines[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert f"handling {request_id} " + '{"say": "tail me"}' in lines
    assert lines[-2] == f"END RequestId: {request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert "Task timed out" not in log


def test_boto3_log_tail_is_the_last_4_kb(emu: Emulator, client) -> None:
    event = {"action": "print", "lines": 40, "text": "z" * 200}  # about 8 KB of output
    response = client.invoke(FunctionName="function", Payload=json.dumps(event).encode(), LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    log = base64.b64decode(response["LogResult"])
    assert 4000 <= len(log) <= 4096
    text = log.decode()
    assert "START RequestId" not in text  # cut off: only the end is kept
    assert text.rstrip("\n").splitlines()[-1].startswith(f"REPORT RequestId: {request_id}\t")
    assert f"END RequestId: {request_id}" in text
    assert "z" * 200 in text


def test_boto3_without_log_type_has_no_log_result(emu: Emulator, client) -> None:
    response = client.invoke(FunctionName="function", Payload=b"{}")
    assert "LogResult" not in response


def test_boto3_event_invocation_runs_later(emu: Emulator, client) -> None:
    response = client.invoke(FunctionName="function", InvocationType="Event",
                             Payload=b'{"marker": "async-event-1"}')
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    request_id = response["ResponseMetadata"]["RequestId"]
    lines = wait_for_log(emu, f"END RequestId: {request_id}")
    assert f"handling {request_id} " + '{"marker": "async-event-1"}' in lines
    assert f"START RequestId: {request_id} Version: $LATEST" in lines


def test_boto3_dry_run_runs_nothing(emu: Emulator, client) -> None:
    before = len([line for line in emu.logs if line.startswith("START ")])
    response = client.invoke(FunctionName="function", InvocationType="DryRun", Payload=b'{"marker": "dry-run-1"}')
    assert response["StatusCode"] == 204
    assert response["Payload"].read() == b""
    # a normal invoke afterwards: it is the only new START, and the dry run's event never reached the runtime
    after = client.invoke(FunctionName="function", Payload=b'{"marker": "after-dry-run"}')
    wait_for_log(emu, f"END RequestId: {after['ResponseMetadata']['RequestId']}")
    lines = emu.logs
    assert len([line for line in lines if line.startswith("START ")]) == before + 1
    assert not any("dry-run-1" in line for line in lines)


@pytest.mark.parametrize("function_name, qualifier, suffix", [
    ("function", "prod", ":prod"),
    ("function", "7", ":7"),
    ("function:live", None, ":live"),
    ("arn:aws:lambda:us-east-1:123456789012:function:function:blue", None, ":blue"),
    ("function", None, ""),
    ("function", "$LATEST", ""),
])
def test_boto3_qualifier_reaches_the_function_arn(emu: Emulator, client, function_name: str,
                                                  qualifier: str | None, suffix: str) -> None:
    options = {"Qualifier": qualifier} if qualifier else {}
    response = client.invoke(FunctionName=function_name, Payload=b"{}", **options)
    arn = json.loads(response["Payload"].read())["headers"]["lambda-runtime-invoked-function-arn"]
    assert arn == f"arn:aws:lambda:us-east-1:123456789012:function:function{suffix}"


def test_boto3_client_context_reaches_the_runtime_as_json(emu: Emulator, client) -> None:
    context = {"client": {"installation_id": "inst-1", "app_title": "demo"}, "custom": {"tenant": "blue"},
               "env": {"platform": "ios"}}
    encoded = base64.b64encode(json.dumps(context).encode()).decode()
    response = client.invoke(FunctionName="function", Payload=b"{}", ClientContext=encoded)
    headers = json.loads(response["Payload"].read())["headers"]
    assert json.loads(headers["lambda-runtime-client-context"]) == context
    plain = client.invoke(FunctionName="function", Payload=b"{}")
    assert "lambda-runtime-client-context" not in json.loads(plain["Payload"].read())["headers"]


def test_trace_header_of_the_caller_reaches_the_runtime(emu: Emulator) -> None:
    given = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    response = invoke_http(emu, b"{}", {"X-Amzn-Trace-Id": given})
    assert response.json()["headers"]["lambda-runtime-trace-id"] == given


def test_boto3_unknown_function(emu: Emulator, client) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="no-such-function", Payload=b"{}")


def test_boto3_invalid_json_payload(emu: Emulator, client) -> None:
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="function", Payload=b'{"not": json')


def test_boto3_payload_over_6_mb(emu: Emulator, client) -> None:
    payload = b'"' + b"p" * (6 * 1024 * 1024) + b'"'
    with pytest.raises(client.exceptions.RequestTooLargeException):
        client.invoke(FunctionName="function", Payload=payload)


def test_invalid_client_context(emu: Emulator, client) -> None:
    with pytest.raises(client.exceptions.InvalidRequestContentException):
        client.invoke(FunctionName="function", Payload=b"{}", ClientContext="not base64 JSON!")


# -- plain HTTP: status codes and headers --------------------------------------------------------------------------
def test_http_success_and_function_error_headers(emu: Emulator) -> None:
    ok = invoke_http(emu, b'{"x": 1}')
    assert ok.status_code == 200
    assert "X-Amz-Function-Error" not in ok.headers
    assert ok.json()["event"] == {"x": 1}
    failed = invoke_http(emu, b'{"action": "fail"}')
    assert failed.status_code == 200
    assert failed.headers["X-Amz-Function-Error"] == "Unhandled"
    assert failed.json()["errorType"] == "MyError"


@pytest.mark.parametrize("invocation_type, status", [("RequestResponse", 200), ("Event", 202), ("DryRun", 204)])
def test_http_invocation_types(emu: Emulator, invocation_type: str, status: int) -> None:
    response = invoke_http(emu, b'{"type": "' + invocation_type.encode() + b'"}',
                           {"X-Amz-Invocation-Type": invocation_type})
    assert response.status_code == status
    if invocation_type == "Event":  # let it finish, so that it does not leak into the next test
        wait_for_log(emu, f"END RequestId: {response.headers['x-amzn-RequestId']}")


def test_timeout(tmp_path: Path) -> None:
    with Emulator(make_function(tmp_path / "fn"), invoke_port=0, timeout=1) as emu:
        response = invoke_http(emu, b'{"action": "sleep", "seconds": 8}')
        assert response.status_code == 200
        assert response.headers["X-Amz-Function-Error"] == "Unhandled"
        body = response.json()
        assert body["errorType"] == "Sandbox.Timedout"
        assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")
        request_id = response.headers["x-amzn-RequestId"]
        lines = wait_for_log(emu, f"REPORT RequestId: {request_id}")
        assert any(re.search(rf"{request_id} Task timed out after 1\.00 seconds$", line) for line in lines)
        pid = int(next(line for line in lines if line.startswith("init pid=")).split("=")[1])
        # the timed-out process is gone, and the next invoke starts a new one (a cold start)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
        again = invoke_http(emu, b'{"after": "timeout"}', {"X-Amz-Log-Type": "Tail"})
        assert again.status_code == 200 and "X-Amz-Function-Error" not in again.headers
        assert again.json()["pid"] != pid
        assert "Init Duration: " in base64.b64decode(again.headers["X-Amz-Log-Result"]).decode()


@pytest.mark.parametrize("event, description", [
    (b'{"action": "exit", "code": 3}', "exit status 3"),
    (b'{"action": "exit", "code": 0}', "exit status 0"),
    (b'{"action": "kill"}', "signal: killed"),
])
def test_runtime_exit(tmp_path: Path, event: bytes, description: str) -> None:
    with Emulator(make_function(tmp_path / "fn"), invoke_port=0, timeout=5) as emu:
        response = invoke_http(emu, event)
        assert response.status_code == 200  # the real service; RIE answers 502
        assert response.headers["X-Amz-Function-Error"] == "Unhandled"
        request_id = response.headers["x-amzn-RequestId"]
        assert response.json() == {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: {description}"}
        again = invoke_http(emu, b'{"after": "exit"}')  # a new runtime process serves the next invoke
        assert again.status_code == 200 and again.json()["event"] == {"after": "exit"}


INIT_FAIL_BOOTSTRAP = """#!/bin/bash
echo "init pid=$$"
curl -sS -o /dev/null -X POST -H "Lambda-Runtime-Function-Error-Type: Runtime.ConfigError" \\
  -d '{"errorMessage": "missing setting", "errorType": "Runtime.ConfigError"}' \\
  "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error"
exit 1
"""


def test_init_error_is_what_each_cold_invoke_returns(tmp_path: Path) -> None:
    root = tmp_path / "fn"
    root.mkdir()
    (root / "bootstrap").write_text(INIT_FAIL_BOOTSTRAP)
    (root / "bootstrap").chmod(0o755)
    with Emulator(root, invoke_port=0, timeout=5) as emu:
        for _ in range(2):  # the bug is still there: the new runtime process fails again
            response = invoke_http(emu)
            assert response.status_code == 200
            assert response.headers["X-Amz-Function-Error"] == "Unhandled"
            assert response.content == b'{"errorMessage": "missing setting", "errorType": "Runtime.ConfigError"}'
        pids = {line for line in emu.logs if line.startswith("init pid=")}
        assert len(pids) == 2  # one runtime process per invoke


def test_two_invokes_at_once_get_two_environments(tmp_path: Path) -> None:
    flag = tmp_path / "go"
    with Emulator(make_function(tmp_path / "fn"), invoke_port=0, timeout=15, max_environments=2) as emu:
        event = json.dumps({"action": "wait_for", "path": str(flag)}).encode()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            calls = [pool.submit(invoke_http, emu, event) for _ in range(2)]
            deadline = time.monotonic() + T
            # both runtimes hold an event at the same time; only then is the flag raised
            while len([line for line in emu.logs if line.startswith("handling ")]) < 2:
                assert time.monotonic() < deadline, "the second invoke did not run while the first one was busy"
                time.sleep(0.01)
            flag.touch()
            answers = [call.result(timeout=T) for call in calls]
        assert [a.status_code for a in answers] == [200, 200]
        assert len({a.json()["pid"] for a in answers}) == 2


# -- runtime-only mode: the test is the runtime --------------------------------------------------------------------
@pytest.fixture
def bare() -> Iterator[Emulator]:
    with Emulator(runtime_only=True, timeout=60, invoke_port=0) as emulator:
        yield emulator


def runtime_url(emu: Emulator, path: str) -> str:
    return f"http://{emu.runtime_api}{API}{path}"


def test_streamed_response_arrives_chunked(bare: Emulator) -> None:
    second_part_may_go = concurrent.futures.Future()

    def body() -> Iterator[bytes]:
        yield b"part one;"
        # the invoker must have part one before the runtime produces part two
        second_part_may_go.result(timeout=T)
        yield b"part two"

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        invoke = pool.submit(requests.post, bare.invoke_url, data=b'{"stream": true}', stream=True, timeout=T)
        event = requests.get(runtime_url(bare, "/invocation/next"), timeout=T)
        request_id = event.headers[REQUEST_ID]
        posted = pool.submit(requests.post, runtime_url(bare, f"/invocation/{request_id}/response"), data=body(),
                             headers={"Lambda-Runtime-Function-Response-Mode": "streaming"}, timeout=T)
        answer = invoke.result(timeout=T)
        assert answer.status_code == 200
        assert answer.headers["Transfer-Encoding"] == "chunked"
        assert "X-Amz-Function-Error" not in answer.headers
        assert answer.raw.read(len(b"part one;")) == b"part one;"
        second_part_may_go.set_result(None)
        assert answer.raw.read() == b"part two"
        assert posted.result(timeout=T).status_code == 202


def read_until(sock: socket.socket, data: bytes, needle: bytes) -> bytes:
    """Receive until ``needle`` is in what was read (or the peer closes)."""
    while needle not in data:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    return data


def parse_chunked(raw: bytes) -> tuple[bytes, bytes, str]:
    """(head, body, trailers) of a complete chunked HTTP/1.1 response."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    body = b""
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return head, body, rest.decode()
        body, rest = body + rest[:size], rest[size + 2:]


STREAM_ERROR = base64.b64encode(b'{"errorMessage": "broke", "errorType": "Broke"}').decode()
STREAM_HEAD = ("HTTP/1.1\r\nHost: runtime\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n"
               "Transfer-Encoding: chunked\r\n"
               "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
               "Connection: close\r\n\r\n")
STREAM_END = (f"0\r\nLambda-Runtime-Function-Error-Type: Function.Broke\r\n"
              f"Lambda-Runtime-Function-Error-Body: {STREAM_ERROR}\r\n\r\n").encode()


def stream_with_error_trailers(emu: Emulator, wait_for_invoker: bool) -> bytes:
    """Invoke over a raw socket; the runtime streams b"hello " and ends with error trailers. When
    ``wait_for_invoker``, the trailers are sent only once the invoker has the first chunk. Returns the invoker's
    raw HTTP response."""
    host, port = emu.invoke_url.split("/")[2].split(":")
    with socket.create_connection((host, int(port)), timeout=T) as invoker:
        invoker.sendall(b"POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
        event = requests.get(runtime_url(emu, "/invocation/next"), timeout=T)
        request_id = event.headers[REQUEST_ID]
        runtime_host, runtime_port = emu.runtime_api.split(":")
        with socket.create_connection((runtime_host, int(runtime_port)), timeout=T) as rt:
            start = f"POST {API}/invocation/{request_id}/response {STREAM_HEAD}".encode() + b"6\r\nhello \r\n"
            raw = b""
            if wait_for_invoker:
                rt.sendall(start)
                raw = read_until(invoker, raw, b"hello ")
                rt.sendall(STREAM_END)
            else:  # the whole stream in one write: it is over before the invoker is answered
                rt.sendall(start + STREAM_END)
            assert read_until(rt, b"", b"\r\n\r\n").startswith(b"HTTP/1.1 202")
        while more := invoker.recv(65536):
            raw += more
    return raw


@pytest.mark.parametrize("wait_for_invoker", [
    True,
    False,
], ids=["slow-stream", "fast-stream"])
def test_streamed_error_trailers_reach_the_invoker(bare: Emulator, wait_for_invoker: bool) -> None:
    raw = stream_with_error_trailers(bare, wait_for_invoker)
    assert raw.startswith(b"HTTP/1.1 200")
    assert b"\r\ntransfer-encoding: chunked\r\n" in raw.partition(b"\r\n\r\n")[0].lower() + b"\r\n"
    head, body, trailers = parse_chunked(raw)
    assert b"lambda-runtime-function-error-type" in head.lower()  # declared up front in `Trailer:`
    assert body == b"hello "
    assert "Lambda-Runtime-Function-Error-Type: Function.Broke\r\n" in trailers
    assert f"Lambda-Runtime-Function-Error-Body: {STREAM_ERROR}\r\n" in trailers


@pytest.mark.parametrize("size", [LIMIT, LIMIT + 1])
def test_response_over_the_limit(bare: Emulator, size: int) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        invoke = pool.submit(requests.post, bare.invoke_url, data=b"{}", timeout=T)
        event = requests.get(runtime_url(bare, "/invocation/next"), timeout=T)
        request_id = event.headers[REQUEST_ID]
        posted = requests.post(runtime_url(bare, f"/invocation/{request_id}/response"),
                               data=b'"' + b"r" * (size - 2) + b'"', timeout=T)
        answer = invoke.result(timeout=T)
    assert answer.status_code == 200
    if size == LIMIT:
        assert posted.status_code == 202
        assert len(answer.content) == LIMIT
        assert "X-Amz-Function-Error" not in answer.headers
        return
    assert posted.status_code == 413
    assert answer.headers["X-Amz-Function-Error"] == "Unhandled"
    assert answer.json() == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
                        "(6291556 bytes)."}
