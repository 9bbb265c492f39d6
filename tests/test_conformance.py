"""The conformance suite: the reference bootstraps pass, broken ones fail the right check, the CLI behaves."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runtime_reference.bootstraps import BASH_DIR, PYTHON_DIR
from runtime_reference.conformance import LEVELS, Report, UsageError, run
from runtime_reference.conformance.__main__ import main
from runtime_reference.conformance.checks import checks_for, detect_kind

REPO = Path(__file__).resolve().parents[1]
BASIC = [c.name for c in checks_for("basic")]

# A small bash runtime with hooks for one deliberate bug each: @BEFORE@ runs after `next`, @ID@ is the id
# the response is posted to, @ON_ERROR@ runs when the handler fails.
MINI_BOOTSTRAP = r"""#!/bin/bash
source "$LAMBDA_TASK_ROOT/${_HANDLER%.*}.sh"
API="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
HEADERS=$(mktemp)
@INIT@
while true; do
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  @BEFORE@
  if RESPONSE=$("${_HANDLER##*.}" "$EVENT"); then
    printf '%s' "$RESPONSE" | curl -sS -o /dev/null --data-binary @- "$API/invocation/@ID@/response"
  else
    @ON_ERROR@
  fi
done
"""
POST_ERROR = (
    """printf '{"errorMessage":"failed","errorType":"HandlerError","stackTrace":[]}' | curl -sS -o /dev/null """
    """--data-binary @- -H "Lambda-Runtime-Function-Error-Type: Function.HandlerError" "$API/invocation/$ID/error\""""
)
CORRECT = {"@INIT@": ":", "@BEFORE@": ":", "@ID@": "$ID", "@ON_ERROR@": POST_ERROR}


def mini(tmp_path: Path, **bugs: str) -> Path:
    """The mini bash bootstrap with ``bugs`` (hook name without @ → code) written to tmp_path/bootstrap."""
    text = MINI_BOOTSTRAP
    for hook, code in CORRECT.items():
        text = text.replace(hook, bugs.get(hook.strip("@").lower(), code))
    return write(tmp_path / "bootstrap", text.encode())


def write(path: Path, data: bytes, mode: int = 0o755) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def reference_copy(tmp_path: Path, transform=lambda data: data, mode: int = 0o755) -> Path:
    """The Python reference bootstrap, transformed, as tmp_path/bootstrap."""
    return write(tmp_path / "bootstrap", transform((PYTHON_DIR / "bootstrap").read_bytes()), mode)


def failed(report: Report) -> list[str]:
    return [c.name for c in report.checks if not c.passed and not c.skipped]


def assert_only_first_runs(report: Report) -> None:
    assert not report.passed
    assert all(c.skipped for c in report.checks[1:])
    assert "bootstrap_executable" in report.checks[1].actual


# ---------------------------------------------------------------- the reference bootstraps


@pytest.mark.timeout(60)
@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("task_root", [PYTHON_DIR, BASH_DIR], ids=["python", "bash"])
def test_reference_bootstraps_pass(task_root: Path, level: str) -> None:
    report = run(task_root, level=level)
    assert report.passed, report.render_text()
    assert [c.name for c in report.checks] == [c.name for c in checks_for(level)]
    assert report.duration_s < 20


def test_levels_grow() -> None:
    basic, standard, full = ({c.name for c in checks_for(level)} for level in LEVELS)
    assert basic == {"bootstrap_executable", "echo", "request_id_used", "handler_error", "sequential_invokes"}
    assert basic < standard < full
    assert {"init_error", "remaining_time", "trace_id", "context_request_id"} <= standard
    assert full - standard == {"unicode", "near_limit_payload"}


# ---------------------------------------------------------------- the bootstrap file


def test_not_executable(tmp_path: Path) -> None:
    report = run(reference_copy(tmp_path, mode=0o644))
    first = report.checks[0]
    assert first.name == "bootstrap_executable" and not first.passed
    assert "not executable" in first.actual and "0644" in first.actual
    assert "chmod +x" in first.hint
    assert_only_first_runs(report)


def test_crlf_line_endings(tmp_path: Path) -> None:
    report = run(reference_copy(tmp_path, lambda data: data.replace(b"\n", b"\r\n")))
    assert report.handler_kind == "python"
    assert "CRLF" in report.checks[0].actual and "python3\\r" in report.checks[0].actual
    assert "dos2unix" in report.checks[0].hint
    assert_only_first_runs(report)


def test_missing_shebang(tmp_path: Path) -> None:
    report = run(reference_copy(tmp_path, lambda data: data.split(b"\n", 1)[1]))
    assert "missing shebang" in report.checks[0].actual
    assert "#!" in report.checks[0].hint
    assert_only_first_runs(report)


@pytest.mark.parametrize("line", [b"#!/usr/bin/env python9", b"#!/nonexistent/bin/python3"])
def test_interpreter_not_found(tmp_path: Path, line: bytes) -> None:
    report = run(reference_copy(tmp_path, lambda data: line + b"\n" + data.split(b"\n", 1)[1]))
    assert "interpreter not found" in report.checks[0].actual
    assert_only_first_runs(report)


@pytest.mark.parametrize(("line", "kind"), [
    ("#!/usr/bin/env python3", "python"), ("#!/usr/bin/python3.11 -u", "python"),
    ("#!/usr/bin/env -S python3 -u", "python"), ("#!/bin/sh", "bash"), ("#!/bin/bash", "bash"),
    ("#!/usr/bin/env bash", "bash"), ("#!/usr/bin/env node", None), ("echo hi", None),
    ('#!/bin/sh\nexec "/opt/venv/bin/python3.11" -m awslambdaric "$_HANDLER"', "python"),
    ("#!/bin/sh\n  PYTHONPATH=/opt exec python3 -u runtime.py", "python"),
    ('#!/bin/sh\nexec "/var/task/python/bootstrap"', "bash"),
])
def test_detect_kind(tmp_path: Path, line: str, kind: str | None) -> None:
    assert detect_kind(write(tmp_path / "bootstrap", f"{line}\n".encode())) == kind


# ---------------------------------------------------------------- broken runtimes


@pytest.mark.timeout(60)
def test_correct_mini_bootstrap_passes_basic(tmp_path: Path) -> None:
    report = run(mini(tmp_path))
    assert report.passed, report.render_text()


@pytest.mark.timeout(60)
def test_wrong_request_id(tmp_path: Path) -> None:
    report = run(mini(tmp_path, id="wrong-request-id"))
    check = report.check("request_id_used")
    assert not check.passed
    assert "/invocation/wrong-request-id/response → 400" in check.actual
    assert "the id to use was" in check.actual
    assert "Lambda-Runtime-Aws-Request-Id" in check.hint
    assert "Sandbox.Timedout" in report.check("echo").actual
    assert all(report.check(name).skipped for name in BASIC[3:])
    assert report.duration_s < 15


@pytest.mark.timeout(60)
def test_exits_on_handler_error(tmp_path: Path) -> None:
    report = run(mini(tmp_path, on_error="exit 1"))
    assert failed(report) == ["handler_error"]
    actual = report.check("handler_error").actual
    assert "no /error call" in actual and "exited" in actual and "Runtime.ExitError" in actual
    assert "/error" in report.check("handler_error").hint


@pytest.mark.timeout(60)
def test_hangs_after_next(tmp_path: Path) -> None:
    report = run(mini(tmp_path, before="sleep 600"))
    assert "Sandbox.Timedout" in report.check("echo").actual
    assert "nothing was posted" in report.check("request_id_used").actual
    assert all(report.check(name).skipped for name in BASIC[3:])
    assert report.duration_s < 15


@pytest.mark.timeout(60)
def test_hangs_before_next(tmp_path: Path) -> None:
    report = run(mini(tmp_path, init="sleep 600"), level="full")
    assert "never took the event" in report.check("echo").actual
    assert not report.check("request_id_used").passed
    assert all(c.skipped for c in report.checks[3:])
    assert report.duration_s < 25


@pytest.mark.timeout(60)
def test_crashing_bootstrap_fails_checks_without_raising(tmp_path: Path) -> None:
    report = run(write(tmp_path / "bootstrap", b"#!/bin/bash\necho starting >&2\nexit 3\n"), level="full")
    assert report.checks[0].passed
    assert all(not c.passed for c in report.checks[1:])
    assert "Runtime.ExitError" in report.check("echo").actual
    assert "exit status 3" in report.check("echo").actual


@pytest.mark.timeout(60)
def test_handler_kind_override(tmp_path: Path) -> None:
    wrapper = write(tmp_path / "bootstrap", f'#!/bin/sh\nexec "{PYTHON_DIR / "bootstrap"}"\n'.encode())
    assert run(wrapper, handler_kind="python").passed
    detected = run(wrapper, level="basic")
    assert detected.handler_kind == "bash" and not detected.passed


# ---------------------------------------------------------------- API and CLI


def test_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        run(tmp_path / "missing")
    with pytest.raises(UsageError):
        run(tmp_path)  # a directory without bootstrap
    with pytest.raises(UsageError):
        run(reference_copy(tmp_path), level="extreme")
    with pytest.raises(UsageError):
        run(write(tmp_path / "bootstrap", b"#!/bin/cat\n"))  # unknown language, no override


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(reference_copy(tmp_path, mode=0o600)), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is False and data["level"] == "basic"
    assert [c["name"] for c in data["checks"]] == BASIC
    assert set(data["checks"][0]) == {"name", "passed", "description", "expected", "actual", "hint", "skipped"}


def test_text_output_marks_failures(tmp_path: Path) -> None:
    text = run(reference_copy(tmp_path, mode=0o644)).render_text()
    assert "✘ bootstrap_executable" in text and "expected:" in text and "hint:" in text
    assert "FAILED: 0/5 checks passed" in text


@pytest.mark.timeout(60)
def test_cli_exit_codes(tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "runtime_reference.conformance", *args]
        return subprocess.run(command, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)

    ok = cli(str(PYTHON_DIR))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "✔ echo" in ok.stdout and "PASSED" in ok.stdout
    assert cli(str(reference_copy(tmp_path, mode=0o644))).returncode == 1
    missing = cli(str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
    assert cli(str(PYTHON_DIR), "--level", "bogus").returncode == 2


def test_learner_files_are_kept_and_source_untouched(tmp_path: Path) -> None:
    task = tmp_path / "task"
    shutil.copytree(PYTHON_DIR, task)
    before = sorted(p.name for p in task.iterdir())
    assert run(task).passed
    assert sorted(p.name for p in task.iterdir()) == before
