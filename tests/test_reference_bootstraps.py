"""The reference runtimes (runtime_reference/bootstraps): well-formed files, and correct behaviour against the
emulator — echo, function errors, init errors, context and trace id, an oversized response."""

import ast
import json
import os
import shutil
import subprocess
import sys

import pytest

from runtime_reference import Emulator
from runtime_reference.bootstraps import BASH_DIR, PYTHON_DIR

TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
BIG = 7_000_000  # over the 6 MB response limit

# The bash runtime needs curl; `make test` installs it, so a missing curl fails (see conftest.py).
pytestmark = pytest.mark.usefixtures("curl")


# --- the files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", [PYTHON_DIR, BASH_DIR], ids=["python", "bash"])
def test_bootstrap_is_executable_with_a_shebang(folder):
    bootstrap = folder / "bootstrap"
    assert os.access(bootstrap, os.X_OK), f"{bootstrap} must be executable (mode 755)"
    assert (bootstrap.stat().st_mode & 0o777) == 0o755
    first_line = bootstrap.read_bytes().split(b"\n", 1)[0]
    assert first_line in (b"#!/usr/bin/env python3", b"#!/usr/bin/env bash")
    assert b"\r\n" not in bootstrap.read_bytes(), "CRLF line endings break the shebang"


def test_git_records_the_exec_bits():
    root = PYTHON_DIR.parents[2]
    out = subprocess.run(
        ["git", "ls-files", "-s", "--", str(PYTHON_DIR / "bootstrap"), str(BASH_DIR / "bootstrap")],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout
    assert out.strip(), "the reference bootstraps must be committed"
    for line in out.splitlines():
        assert line.startswith("100755 "), line


def test_python_bootstrap_compiles_and_uses_only_the_standard_library():
    source = (PYTHON_DIR / "bootstrap").read_text()
    tree = ast.parse(source, filename="bootstrap")  # raises SyntaxError if it doesn't compile
    compile(tree, "bootstrap", "exec")
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.add(node.module.split(".")[0])
    outside = modules - sys.stdlib_module_names
    assert not outside, f"not in the standard library: {outside}"


def test_bash_bootstrap_parses():
    subprocess.run(["bash", "-n", str(BASH_DIR / "bootstrap")], check=True)


# --- behaviour against the emulator ---------------------------------------------------------------------


PY_FUNCTION = '''
import os

class MyError(Exception):
    pass

def handler(event, context):
    print("log line from the handler")
    if event.get("fail"):
        raise MyError("it failed")
    if event.get("big"):
        return "x" * event["big"]
    if event.get("unicode"):
        return {"text": "héllo ✓"}
    return {
        "event": event,
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "request_id": context.aws_request_id,
        "arn": context.invoked_function_arn,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory": context.memory_limit_in_mb,
        "log_group": context.log_group_name,
        "log_stream": context.log_stream_name,
        "custom": context.client_context.custom if context.client_context else None,
        "client_context": context.client_context_dict,
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "tenant_id": context.tenant_id,
        "remaining": context.get_remaining_time_in_millis(),
    }
'''

SH_FUNCTION = r'''
handler () {
  echo "log line from the handler" >&2
  case $1 in
    *fail*) echo "about to fail" >&2; return 3 ;;
    *big*) head -c 7000000 /dev/zero | tr '\0' x ;;
    *) printf '{"event": %s, "trace": "%s", "request_id": "%s", "arn": "%s", ' \
         "$1" "${_X_AMZN_TRACE_ID:-}" "$LAMBDA_RUNTIME_AWS_REQUEST_ID" "$LAMBDA_RUNTIME_INVOKED_FUNCTION_ARN"
       printf '"client_context": %s, "deadline": %s}' \
         "${LAMBDA_RUNTIME_CLIENT_CONTEXT:-null}" "$LAMBDA_RUNTIME_DEADLINE_MS" ;;
  esac
}
'''


def task_root(tmp_path, folder, files):
    """A copy of a reference task root, plus extra files."""
    root = tmp_path / folder.name
    shutil.copytree(folder, root, ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in files.items():
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize(
    "folder", [PYTHON_DIR, BASH_DIR], ids=["python", "bash"]
)
def test_reference_function_echoes(folder):
    with Emulator(folder, handler="function.handler") as emu:
        for event in ({"hello": "world", "n": [1, 2.5, None]}, {"second": "warm start"}):
            result = emu.invoke(event)
            assert result.function_error is None, result.payload
            assert result.json() == event
            assert any(line.startswith("REPORT RequestId: ") for line in result.log_lines)


def test_python_context_trace_and_client_context(tmp_path):
    root = task_root(tmp_path, PYTHON_DIR, {"fn.py": PY_FUNCTION})
    with Emulator(root, handler="fn.handler", function_name="ctxfn", memory_mb=256) as emu:
        result = emu.invoke(
            {"a": 1}, trace_id=TRACE, client_context={"custom": {"k": "v"}}, qualifier="prod",
            cognito_identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}, tenant_id="t1",
        )
        assert result.function_error is None, result.payload
        body = result.json()
        assert body["event"] == {"a": 1}
        assert body["trace"] == TRACE
        assert body["request_id"] == result.request_id
        assert body["arn"].startswith("arn:aws:lambda:us-east-1:")
        assert body["arn"].endswith(":function:ctxfn:prod")
        assert body["function_name"] == "ctxfn"
        assert body["function_version"] == "$LATEST"
        assert body["memory"] == "256"  # a string, as in the official runtime
        assert body["log_group"] == "/aws/lambda/ctxfn"
        assert body["log_stream"]
        assert body["custom"] == {"k": "v"}
        assert body["client_context"] == {"custom": {"k": "v"}}
        assert body["identity"] == ["id-1", "pool-1"]
        assert body["tenant_id"] == "t1"
        assert 0 < body["remaining"] <= 3000
        assert "log line from the handler" in result.log_lines

        # The next invocation carries no client context: nothing may leak from the previous one.
        body = emu.invoke({"b": 2}).json()
        assert body["client_context"] is None and body["custom"] is None
        assert body["identity"] == [None, None]
        assert body["trace"] != TRACE


def test_python_function_error(tmp_path):
    root = task_root(tmp_path, PYTHON_DIR, {"fn.py": PY_FUNCTION})
    with Emulator(root, handler="fn.handler") as emu:
        result = emu.invoke({"fail": True})
        assert result.function_error == "Unhandled"
        assert result.error_type == "Function.MyError"
        error = result.json()
        assert error["errorType"] == "MyError"
        assert error["errorMessage"] == "it failed"
        assert error["requestId"] == result.request_id
        assert isinstance(error["stackTrace"], list)
        assert 'raise MyError("it failed")' in error["stackTrace"][-1]
        assert not any("bootstrap" in frame for frame in error["stackTrace"])
        assert "[ERROR] MyError: it failed" in result.log_lines
        # The runtime survives its function's error.
        assert emu.invoke({"ok": True}).function_error is None


def test_python_unicode_response_is_utf8(tmp_path):
    root = task_root(tmp_path, PYTHON_DIR, {"fn.py": PY_FUNCTION})
    with Emulator(root, handler="fn.handler") as emu:
        result = emu.invoke({"unicode": True})
        assert "héllo ✓".encode() in result.payload
        assert result.json() == {"text": "héllo ✓"}


@pytest.mark.parametrize(
    "folder,files", [(PYTHON_DIR, {"fn.py": PY_FUNCTION}), (BASH_DIR, {"fn.sh": SH_FUNCTION})],
    ids=["python", "bash"],
)
def test_response_too_large_then_next_invocation_works(tmp_path, folder, files):
    root = task_root(tmp_path, folder, files)
    with Emulator(root, handler="fn.handler") as emu:
        result = emu.invoke({"big": BIG})
        assert result.function_error == "Unhandled"
        assert result.error_type == "Function.ResponseSizeTooLarge"
        result = emu.invoke({"small": True})
        assert result.function_error is None, result.payload
        assert result.json()["event"] == {"small": True}


@pytest.mark.parametrize(
    "files,handler,error_type",
    [
        ({}, "nosuchmodule.handler", "Runtime.ImportModuleError"),
        ({"broken.py": "import not_installed_anywhere\n"}, "broken.handler", "Runtime.ImportModuleError"),
        ({"syntax.py": "def handler(:\n"}, "syntax.handler", "Runtime.UserCodeSyntaxError"),
        ({}, "function.no_such_function", "Runtime.HandlerNotFound"),
        ({}, "nodot", "Runtime.MalformedHandlerName"),
        ({"raises.py": "raise ValueError('at import')\n"}, "raises.handler", "Function.ValueError"),
    ],
    ids=["no-module", "import-inside", "syntax", "no-function", "malformed", "raises-at-import"],
)
def test_python_init_errors(tmp_path, files, handler, error_type):
    root = task_root(tmp_path, PYTHON_DIR, files)
    with Emulator(root, handler=handler) as emu:
        result = emu.invoke({})
        assert result.function_error == "Unhandled"
        assert result.error_type == error_type, result.payload
        error = result.json()
        assert set(error) == {"errorMessage", "errorType", "requestId", "stackTrace"}
        assert error["errorMessage"]


def test_bash_headers_trace_and_client_context(tmp_path):
    root = task_root(tmp_path, BASH_DIR, {"fn.sh": SH_FUNCTION})
    with Emulator(root, handler="fn.handler") as emu:
        result = emu.invoke({"a": "x y\nz"}, trace_id=TRACE, client_context={"custom": {"k": "v"}})
        assert result.function_error is None, result.payload
        body = result.json()
        assert body["event"] == {"a": "x y\nz"}
        assert body["trace"] == TRACE
        assert body["request_id"] == result.request_id
        assert body["arn"].endswith(":function:function")
        assert body["client_context"] == {"custom": {"k": "v"}}
        assert int(body["deadline"]) > 0
        assert "log line from the handler" in result.log_lines

        body = emu.invoke({"b": 2}).json()
        assert body["client_context"] is None, "a header absent now must not keep last invocation's value"


def test_bash_function_error(tmp_path):
    root = task_root(tmp_path, BASH_DIR, {"fn.sh": SH_FUNCTION})
    with Emulator(root, handler="fn.handler") as emu:
        result = emu.invoke({"fail": True})
        assert result.function_error == "Unhandled"
        assert result.error_type == "Function.HandlerError"
        error = result.json()
        assert error["errorType"] == "Function.HandlerError"
        assert "status 3" in error["errorMessage"]
        assert error["requestId"] == result.request_id
        assert "about to fail" in result.log_lines
        assert emu.invoke({"ok": 1}).function_error is None


def test_bash_large_response_goes_through_stdin(tmp_path):
    """A 1 MB response: far over the 128 KiB a single command-line argument may hold."""
    handler = 'handler () { head -c 1000000 /dev/zero | tr "\\0" y; }\n'
    root = task_root(tmp_path, BASH_DIR, {"big.sh": handler})
    with Emulator(root, handler="big.handler") as emu:
        result = emu.invoke({})
        assert result.function_error is None, result.payload[:300]
        assert result.payload == b"y" * 1_000_000


@pytest.mark.parametrize(
    "files,handler,error_type",
    [
        ({}, "nosuchfile.handler", "Runtime.ImportModuleError"),
        ({}, "function.no_such_function", "Runtime.HandlerNotFound"),
        ({}, "nodot", "Runtime.MalformedHandlerName"),
    ],
    ids=["no-file", "no-function", "malformed"],
)
def test_bash_init_errors(tmp_path, files, handler, error_type):
    root = task_root(tmp_path, BASH_DIR, files)
    with Emulator(root, handler=handler) as emu:
        result = emu.invoke({})
        assert result.function_error == "Unhandled"
        assert result.error_type == error_type, result.payload
        assert json.loads(result.payload)["errorType"] == error_type
