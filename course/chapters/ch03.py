"""Chapter 03, Your first bootstrap: hints, the sample function, and the task roots the checks run in."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

HINTS = {
    "03.1": [
        "Three steps: split the setting into module and function at the LAST dot, import the module from the task "
        "root, then look the function up on the module. Each step has its own error type.",
        "`module_name, dot, function_name = handler_setting.rpartition(\".\")`; put the task root at the front of "
        "`sys.path` (`sys.path.insert(0, task_root)`) before `importlib.import_module(module_name)`. Catch "
        "`ImportError` and `SyntaxError` around the import only, and `AttributeError` around `getattr` only.",
        "`try: module = importlib.import_module(name)` / `except ImportError as exc: raise RuntimeFault("
        "\"Runtime.ImportModuleError\", f\"Unable to import module '{name}': {exc}\")` / `except SyntaxError as exc: "
        "raise RuntimeFault(\"Runtime.UserCodeSyntaxError\", ...)`; then `try: return getattr(module, "
        "function_name)` / `except AttributeError: raise RuntimeFault(\"Runtime.HandlerNotFound\", ...)`.",
    ],
    "03.2": [
        "Per-invocation facts come from the headers of the `next` response; facts about the function come from the "
        "environment variables. Read headers with `headers.get(name)`: it returns None when a header is absent.",
        "Keep the deadline (an int, in ms since the epoch) in `__init__`; compute the remaining time in the method "
        "itself, from `time.time()`, every time it is called. Parse the two JSON headers with `json.loads` only when "
        "they are present; `types.SimpleNamespace(custom=..., env=..., client=...)` gives attribute access.",
        "`def get_remaining_time_in_millis(self): return max(self._deadline_ms - int(time.time() * 1000), 0)`; "
        "`self.identity = SimpleNamespace(cognito_identity_id=ident.get(\"cognitoIdentityId\"), "
        "cognito_identity_pool_id=ident.get(\"cognitoIdentityPoolId\"))` with `ident = {}` when the header is absent.",
    ],
    "03.3": [
        "The trace id changes with every invocation, so this runs once per event, before the handler.",
        "`headers.get(\"Lambda-Runtime-Trace-Id\")` is None when Lambda sent no trace id: then the variable must "
        "not keep the previous invocation's value.",
        "`if trace_id: os.environ[\"_X_AMZN_TRACE_ID\"] = trace_id` / `else: os.environ.pop(\"_X_AMZN_TRACE_ID\", "
        "None)`.",
    ],
    "03.4": [
        "A bootstrap does two things: init once (load the handler; on failure POST /runtime/init/error and exit 1), "
        "then loop forever: GET next, run the handler, POST the result, GET next again. Never exit between events.",
        "For each event, in this order: request id from Lambda-Runtime-Aws-Request-Id, set_trace_id(headers), "
        "LambdaContext(headers, os.environ), json.loads(body), handler(event, context), json.dumps(result).encode(), "
        "POST .../invocation/{request_id}/response. If anything raises, POST .../invocation/{request_id}/error.",
        "Error body: `{\"errorMessage\": str(exc), \"errorType\": type(exc).__name__, \"stackTrace\": "
        "traceback.format_tb(exc.__traceback__)}` with the header `Lambda-Runtime-Function-Error-Type: "
        "Function.<ExceptionClass>`. Then `continue` the loop. Did you paste your three pieces into part 1, run the "
        "cell, and run the chmod cell after it?",
    ],
}

# Modules of the sample task root that exercise 03.1 is checked against.
SAMPLE_MODULES = {
    "greeter.py": 'def handler(event, context):\n    return {"greeting": "Hello, " + event.get("name", "World")}\n',
    "broken_syntax.py": "def handler(event, context)\n    return event\n",
    "no_handler.py": "def main(event, context):\n    return event\n",
}

# A handler that reports everything it can see of its context (missing attributes are named, not fatal).
PROBE_PY = '''\
import os

MISSING = "<missing attribute>"


def _get(obj, name):
    try:
        return getattr(obj, name)
    except AttributeError:
        return MISSING


def handler(event, context):
    client_context = _get(context, "client_context")
    identity = _get(context, "identity")
    remaining = _get(context, "get_remaining_time_in_millis")
    seen = {
        name: _get(context, name)
        for name in ("aws_request_id", "invoked_function_arn", "function_name", "function_version",
                     "memory_limit_in_mb", "log_group_name", "log_stream_name")
    }
    seen["remaining_ms"] = remaining() if callable(remaining) else MISSING
    if client_context in (None, MISSING):
        seen["client_context"] = client_context
    else:
        client = _get(client_context, "client")
        seen["client_context"] = {
            "custom": _get(client_context, "custom"),
            "env": _get(client_context, "env"),
            "client": client if client in (None, MISSING) else {
                name: _get(client, name) for name in ("installation_id", "app_title", "app_version_name",
                                                      "app_version_code", "app_package_name")},
        }
    seen["identity"] = identity if identity in (None, MISSING) else {
        name: _get(identity, name) for name in ("cognito_identity_id", "cognito_identity_pool_id")}
    seen["trace_id"] = os.environ.get("_X_AMZN_TRACE_ID")
    seen["pid"] = os.getpid()
    return seen
'''


def sample_invocation(event: Any = None, **invoke_options: Any) -> tuple[Any, bytes]:
    """``(headers, body)`` of one real ``GET /runtime/invocation/next`` response from the emulator.

    ``invoke_options`` as for ``Emulator.invoke``: ``client_context``, ``cognito_identity``, ``qualifier``,
    ``trace_id``. The headers are an ``http.client.HTTPMessage`` (``headers.get(name)`` ignores case). The
    invocation is answered before this returns, so nothing is left waiting.
    """
    import urllib.request

    from runtime_reference import Emulator

    with Emulator(runtime_only=True, function_name="my-function") as emu:
        pending = emu.send({"name": "Ada"} if event is None else event, **invoke_options)
        api = f"http://{emu.runtime_api}/2018-06-01/runtime"
        with urllib.request.urlopen(f"{api}/invocation/next", timeout=10) as response:
            headers, body = response.headers, response.read()
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        answer = urllib.request.Request(f"{api}/invocation/{request_id}/response", data=b"{}", method="POST")
        with urllib.request.urlopen(answer, timeout=10):
            pass
        pending.result(timeout=10)
    return headers, body


def sample_environ() -> dict[str, str]:
    """Environment variables as Lambda sets them for a function ``my-function`` (128 MB, ``$LATEST``)."""
    return {
        "AWS_LAMBDA_FUNCTION_NAME": "my-function",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/my-function",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2025/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
    }


def _fresh_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def sample_task_root() -> Path:
    """A new task root (a temporary folder) holding the modules exercise 03.1 is checked against.

    ``greeter.handler`` works; ``broken_syntax`` does not compile; ``no_handler`` has no ``handler``; no module is
    called ``missing``. Their names are forgotten from ``sys.modules`` so each call imports them afresh.
    """
    root = _fresh_dir("task-root-")
    for name, text in SAMPLE_MODULES.items():
        (root / name).write_text(text, encoding="utf-8")
        sys.modules.pop(name.removesuffix(".py"), None)
    return root


def probe_task_root(bootstrap: str | Path) -> Path:
    """A new task root with a copy of ``bootstrap`` (mode bits kept) and ``probe.py``, whose ``probe.handler``
    returns what it sees of its context object and of ``_X_AMZN_TRACE_ID``."""
    root = _fresh_dir("probe-")
    source = Path(bootstrap)
    if source.is_file():
        shutil.copy2(source, root / "bootstrap")
    (root / "probe.py").write_text(PROBE_PY, encoding="utf-8")
    return root


def run_in_emulator(task_root: str | Path, calls: list[dict[str, Any]], *, handler: str = "function.handler",
                    wait_s: float = 20.0, **emulator_options: Any) -> list[Any]:
    """Start an emulator on ``task_root``, make each call in turn, stop it; return the InvokeResults.

    Each call is a dict: ``{"event": {...}}`` plus any option of ``Emulator.invoke`` (``trace_id``,
    ``client_context``, ``cognito_identity``, ``qualifier``). Each waits at most ``wait_s`` seconds.
    """
    from runtime_reference import Emulator

    results = []
    with Emulator(task_root, handler=handler, **emulator_options) as emu:
        for call in calls:
            options = dict(call)
            event = options.pop("event", {})
            results.append(emu.invoke(event, timeout=wait_s, **options))
    return results
