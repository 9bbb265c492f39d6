"""Real runtime clients under the emulator: the official awslambdaric, and the AWS tutorial's bash runtime."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from runtime_reference import Emulator

pytestmark = pytest.mark.timeout(60)

AWSLAMBDARIC_BOOTSTRAP = f'#!/bin/sh\nexec "{sys.executable}" -m awslambdaric "$_HANDLER"\n'

APP = '''
class MyError(Exception):
    pass


def echo(event, context):
    return {"event": event, "request_id": context.aws_request_id}


def fail(event, context):
    raise MyError("it went wrong")
'''

# The bootstrap of the AWS Lambda developer guide's tutorial "Building a custom runtime", copied as is,
# except the first line: the tutorial's `#!/bin/sh` is bash on Amazon Linux, while on Debian /bin/sh is dash,
# which has neither `set -o pipefail` nor `source`.
TUTORIAL_BOOTSTRAP = """#!/bin/bash

set -euo pipefail

# Initialization - load function handler
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"

# Processing
while true
do
  HEADERS="$(mktemp)"
  # Get an event. The HTTP request will block until one is received
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")

  # Extract request ID by scraping response headers received above
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)

  # Run the handler function from the script
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")

  # Send the response
  curl "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response"  -d "$RESPONSE"
done
"""

# The tutorial's function.sh.
TUTORIAL_FUNCTION = """function handler () {
  EVENT_DATA=$1
  echo "$EVENT_DATA" 1>&2;
  RESPONSE="Echoing request: '$EVENT_DATA'"

  echo $RESPONSE
}
"""


def task_root(tmp_path: Path, bootstrap: str, files: dict[str, str]) -> Path:
    """A task root with an executable bootstrap and the given files."""
    root = tmp_path / "task"
    root.mkdir()
    (root / "bootstrap").write_text(bootstrap)
    (root / "bootstrap").chmod(0o755)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


@pytest.fixture
def ric_root(tmp_path: Path) -> Path:
    return task_root(tmp_path, AWSLAMBDARIC_BOOTSTRAP, {"app.py": APP, "broken.py": "import no_such_module\n"})


def test_awslambdaric_echo(ric_root: Path) -> None:
    with Emulator(ric_root, handler="app.echo") as emu:
        for n in range(3):
            result = emu.invoke({"n": n, "text": "héllo 🚀"})
            assert result.function_error is None, result.log_tail
            assert result.json() == {"event": {"n": n, "text": "héllo 🚀"}, "request_id": result.request_id}


def test_awslambdaric_handler_error(ric_root: Path) -> None:
    with Emulator(ric_root, handler="app.fail") as emu:
        result = emu.invoke({})
        assert result.function_error == "Unhandled"
        body = result.json()
        assert body["errorType"] == "MyError"
        assert body["errorMessage"] == "it went wrong"
        assert isinstance(body["stackTrace"], list) and body["stackTrace"]
        assert [t.path.rsplit("/", 1)[-1] for t in result.trace if t.method == "POST"] == ["error"]


def test_awslambdaric_init_error(ric_root: Path) -> None:
    with Emulator(ric_root, handler="broken.handler") as emu:
        result = emu.invoke({})
        assert result.function_error == "Unhandled"
        assert result.error_type == "Runtime.ImportModuleError"
        assert result.json()["errorType"] == "Runtime.ImportModuleError"
        assert "no_such_module" in result.json()["errorMessage"]
        assert any(t.path.endswith("/init/error") and t.status == 202 for t in result.trace)



def test_tutorial_bash_runtime(tmp_path: Path, curl: str) -> None:
    root = task_root(tmp_path, TUTORIAL_BOOTSTRAP, {"function.sh": TUTORIAL_FUNCTION})
    with Emulator(root, handler="function.handler") as emu:
        for n in range(3):
            event = f'{{"n": {n}}}'.encode()
            result = emu.invoke(event)
            assert result.function_error is None, result.log_tail
            assert result.payload == b"Echoing request: '" + event + b"'"
        assert result.init_duration_ms is None  # one process served them all
