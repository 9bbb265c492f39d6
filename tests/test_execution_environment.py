"""The execution environment as the runtime process sees it: finding the bootstrap (task root, layers, zips),
why a bootstrap can't start, the environment variables and configuration limits, the process lifecycle (warm
invokes, timeouts, exits, init errors, init timeouts), and stopping the emulator.

Facts checked against /work/shared/reference/runtime-api.md ("The runtime process", the invoker table)."""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from runtimes import (
    alive,
    bash_runtime,
    make_zip,
    needs_curl,
    payload,
    pids_in,
    poll,
    python_runtime,
    read_lines,
    replying,
    wait_gone,
    write_script,
)

from runtime_reference import Emulator
from runtime_reference.config import ConfigError
from runtime_reference.packaging import PackageError

pytestmark = pytest.mark.timeout(60)

WAIT = 15  # seconds any single invoke may take here before the test fails instead of hanging


def is_timeout_line(line: str, request_id: str) -> bool:
    """`<ISO timestamp> <request id> Task timed out after 1.00 seconds`, as the service logs it."""
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z " + re.escape(request_id)
                        + r" Task timed out after 1\.00 seconds", line) is not None


def invoke(emu: Emulator, event: object = None, wait: float = WAIT):
    return emu.invoke(event if event is not None else {}, timeout=wait)


def invocation_body(result) -> list[str]:
    """The log lines strictly between this invocation's START and END."""
    lines = result.log_lines
    start = lines.index(f"START RequestId: {result.request_id} Version: $LATEST")
    end = lines.index(f"END RequestId: {result.request_id}")
    return lines[start + 1:end]


def assert_invalid_entrypoint(result, *fragments: str) -> str:
    assert result.function_error == "Unhandled"
    assert result.error_type == "Runtime.InvalidEntrypoint"
    body = result.json()
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    message = body["errorMessage"]
    assert message.startswith(f"RequestId: {result.request_id} Error: "), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# =========================================================================================== bootstrap lookup


@needs_curl
def test_task_root_bootstrap_wins_over_a_layer_bootstrap(tmp_path):
    task, layer = tmp_path / "task", tmp_path / "layer"
    bash_runtime(task / "bootstrap", replying("from the task root"))
    bash_runtime(layer / "bootstrap", replying("from the layer"))
    with Emulator(task, layers=[layer]) as emu:
        assert payload(invoke(emu)) == "from the task root"


@needs_curl
def test_bootstrap_found_in_opt_when_the_task_root_has_none(tmp_path):
    task, layer = tmp_path / "task", tmp_path / "layer"
    task.mkdir()
    (task / "function.sh").write_text("# function code only, no bootstrap\n")
    bash_runtime(layer / "bootstrap", replying("from the layer"))
    with Emulator(task, layers=[layer]) as emu:
        assert payload(invoke(emu)) == "from the layer"


@needs_curl
def test_layers_are_extracted_in_order_and_a_later_layer_wins(tmp_path):
    """Layer 1 (a directory) has the bootstrap, data.txt and bin/greet; layer 2 (a zip) replaces data.txt and
    bin/greet; layer 1's other files stay. bin/ of the merged layers is on PATH."""
    task, one = tmp_path / "task", tmp_path / "layer1"
    task.mkdir()
    here = '"$(dirname "$0")"'
    bash_runtime(one / "bootstrap",
                 f'REPLY_BODY="\\"$(cat {here}/data.txt)|$(greet)|$(cat {here}/only1.txt)\\""')
    (one / "data.txt").write_text("one")
    (one / "only1.txt").write_text("kept")
    write_script(one / "bin" / "greet", "#!/bin/sh\necho 'greet one'\n")
    two = make_zip(tmp_path / "layer2.zip", {
        "data.txt": ("two", 0o644),
        "bin/greet": ("#!/bin/sh\necho 'greet two'\n", 0o755),
    })
    with Emulator(task, layers=[one, two]) as emu:
        assert payload(invoke(emu)) == "two|greet two|kept"


@needs_curl
def test_a_later_layer_bootstrap_replaces_an_earlier_one_zip_then_dir(tmp_path):
    task, second = tmp_path / "task", tmp_path / "second"
    task.mkdir()
    bash_runtime(tmp_path / "first_bootstrap", replying("first layer"))
    first = make_zip(tmp_path / "first.zip", {"bootstrap": ((tmp_path / "first_bootstrap").read_text(), 0o755)})
    bash_runtime(second / "bootstrap", replying("second layer"))
    with Emulator(task, layers=[first, second]) as emu:
        assert payload(invoke(emu)) == "second layer"
    with Emulator(task, layers=[second, first]) as emu:
        assert payload(invoke(emu)) == "first layer"


def test_five_layers_are_accepted_six_are_refused(tmp_path):
    python_runtime(tmp_path / "task")
    layers = []
    for n in range(6):
        layer = tmp_path / f"layer{n}"
        layer.mkdir()
        (layer / f"file{n}.txt").write_text(str(n))
        layers.append(layer)
    with Emulator(tmp_path / "task", layers=layers[:5]) as emu:
        opt = emu.config.opt
        assert sorted(p.name for p in opt.iterdir()) == [f"file{n}.txt" for n in range(5)]
    with pytest.raises(PackageError, match="at most 5"):
        Emulator(tmp_path / "task", layers=layers).start()


@needs_curl
@pytest.mark.parametrize("mode", [0o755, 0o100755], ids=["permissions-only", "with-file-type-bits"])
def test_zip_task_root_keeps_the_exec_bit(tmp_path, mode):
    """`zip` on Linux stores the full st_mode (file type bits too); only the permission bits matter."""
    bash_runtime(tmp_path / "src_bootstrap", replying("from the zip"))
    package = make_zip(tmp_path / "function.zip", {
        "bootstrap": ((tmp_path / "src_bootstrap").read_text(), mode),
        "function.sh": ("# code\n", 0o644),
    })
    with Emulator(package) as emu:
        assert payload(invoke(emu)) == "from the zip"


def test_zip_without_the_exec_bit_is_an_invalid_entrypoint_with_the_chmod_hint(tmp_path):
    bash_runtime(tmp_path / "src_bootstrap", replying("never"))
    package = make_zip(tmp_path / "function.zip", {"bootstrap": ((tmp_path / "src_bootstrap").read_text(), 0o644)})
    with Emulator(package) as emu:
        result = invoke(emu)
    assert_invalid_entrypoint(result, "permission denied", "Hint:", "chmod +x bootstrap")


def test_missing_bootstrap_names_the_places_looked_at(tmp_path):
    task = tmp_path / "task"
    task.mkdir()
    (task / "bootstrap.sh").write_text("#!/bin/sh\n")  # close, but not the name Lambda looks for
    with Emulator(task) as emu:
        result = invoke(emu)
        opt = emu.config.opt
    message = assert_invalid_entrypoint(result, "Couldn't find valid bootstrap(s): [")
    listed = re.search(r"Couldn't find valid bootstrap\(s\): \[([^\]]*)\]", message)[1]
    assert listed.split() == [str(task / "bootstrap"), str(opt / "bootstrap")]
    assert any("Couldn't find valid bootstrap(s)" in line for line in result.log_lines)


@pytest.mark.parametrize("content, mode, fragments", [
    pytest.param("#!/bin/sh\necho hi\n", 0o644, ["permission denied", "Hint:", "chmod +x"], id="not-executable"),
    pytest.param("#!/bin/sh\r\necho hi\r\n", 0o755, ["Hint:", "CRLF", "dos2unix"], id="crlf"),
    pytest.param("echo no shebang here\n", 0o755, ["exec format error", "Hint:", "shebang"], id="no-shebang"),
    pytest.param("#!/no/such/interpreter\necho hi\n", 0o755,
                 ["no such file or directory", "Hint:", "/no/such/interpreter"], id="missing-interpreter"),
])
def test_a_bootstrap_that_cannot_start_is_an_invalid_entrypoint_with_a_hint(tmp_path, content, mode, fragments):
    write_script(tmp_path / "bootstrap", content, mode)
    with Emulator(tmp_path) as emu:
        result = invoke(emu)
        assert_invalid_entrypoint(result, *fragments)
        # It stays broken (nothing was cached as "started"), with the same diagnosis.
        assert_invalid_entrypoint(invoke(emu), *fragments)


def test_env_with_an_interpreter_not_on_path_is_an_exit_error_127_with_a_path_hint(tmp_path):
    write_script(tmp_path / "bootstrap", "#!/usr/bin/env nosuchinterp\nprint('hi')\n")
    with Emulator(tmp_path) as emu:
        result = invoke(emu)
    assert result.error_type == "Runtime.ExitError"
    assert result.function_error == "Unhandled"
    message = result.json()["errorMessage"]
    assert message.startswith(
        f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 127"), message
    assert "Hint:" in message and "nosuchinterp" in message and "PATH" in message


# =========================================================================================== the environment


def test_environment_variables_of_the_runtime_process(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAK_CANARY", "must not reach the runtime")
    monkeypatch.setenv("HOME", "/home/canary")
    task = python_runtime(tmp_path / "task")
    custom = {"MY_SETTING": "hello world", "UNICODE_SETTING": "héllo ✓", "EMPTY_SETTING": ""}
    with Emulator(task, handler="app.main", function_name="env-fn", memory_mb=256, region="eu-west-3",
                  env=custom) as emu:
        body = payload(invoke(emu, {"env": True}))
        env, opt = body["env"], emu.config.opt
        runtime_api = emu.runtime_api
        assert Path(env["LAMBDA_RUNTIME_DIR"]).is_dir()

    task_root = str(task.resolve())
    expected = {
        "_HANDLER": "app.main",
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "LAMBDA_TASK_ROOT": task_root,
        "AWS_REGION": "eu-west-3",
        "AWS_DEFAULT_REGION": "eu-west-3",
        "AWS_LAMBDA_FUNCTION_NAME": "env-fn",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/env-fn",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        **custom,
    }
    for key, value in expected.items():
        assert env.get(key) == value, key
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])

    stream = env["AWS_LAMBDA_LOG_STREAM_NAME"]
    match = re.fullmatch(r"(\d{4}/\d{2}/\d{2})/\[\$LATEST\][0-9a-f]{32}", stream)
    assert match, stream
    today = datetime.now(timezone.utc)
    assert match[1] in {today.strftime("%Y/%m/%d"), (today - timedelta(days=1)).strftime("%Y/%m/%d")}

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        assert env.get(key), f"{key} (fake credentials) missing"

    path = env["PATH"].split(":")
    assert env["PATH"].startswith("/usr/local/bin:/usr/bin/:/bin:"), env["PATH"]
    assert path[3] == f"{opt}/bin", env["PATH"]

    rt = env["LAMBDA_RUNTIME_DIR"]
    assert env["LD_LIBRARY_PATH"] == (
        f"/lib64:/usr/lib64:{rt}:{rt}/lib:{task_root}:{task_root}/lib:{opt}/lib")

    assert body["cwd"] == task_root  # working directory = the task root

    # Nothing else: no AWS_EXECUTION_ENV (managed runtimes only), no trace id before an invocation sets it,
    # and nothing from the host (HOME, the canary, pytest's variables).
    assert "AWS_EXECUTION_ENV" not in env
    assert "_X_AMZN_TRACE_ID" not in env
    assert "HOME" not in env and "LEAK_CANARY" not in env
    service_keys = set(expected) | {"LAMBDA_RUNTIME_DIR", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY_ID",
                                    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PATH", "LD_LIBRARY_PATH"}
    python_adds = {"LC_CTYPE"}  # Python's own locale coercion may add it inside the runtime process
    assert set(env) - service_keys - python_adds == set()


RESERVED = ["_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
            "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
            "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"]


@pytest.mark.parametrize("key", RESERVED)
def test_reserved_environment_variables_are_refused(tmp_path, key):
    python_runtime(tmp_path)
    with pytest.raises(ConfigError, match=key):
        Emulator(tmp_path, env={"FINE": "1", key: "x"}).start()


def test_custom_environment_over_4_kb_is_refused(tmp_path):
    python_runtime(tmp_path)
    with Emulator(tmp_path, env={"A": "x" * 3000, "B": "y" * 900}) as emu:  # about 3.9 KB: fine
        assert payload(invoke(emu, {"env": True}))["env"]["B"] == "y" * 900
    with pytest.raises(ConfigError, match="4 KB"):
        Emulator(tmp_path, env={"A": "x" * 3000, "B": "y" * 1200}).start()


@pytest.mark.parametrize("timeout", [0, 0.5, 900.5, 901, -1])
def test_timeout_outside_1_to_900_s_is_refused(tmp_path, timeout):
    python_runtime(tmp_path)
    with pytest.raises(ConfigError, match="timeout"):
        Emulator(tmp_path, timeout=timeout).start()


@pytest.mark.parametrize("memory", [0, 127, 10241])
def test_memory_outside_128_to_10240_mb_is_refused(tmp_path, memory):
    python_runtime(tmp_path)
    with pytest.raises(ConfigError, match="memory"):
        Emulator(tmp_path, memory_mb=memory).start()


def test_limits_themselves_are_accepted(tmp_path):
    python_runtime(tmp_path)
    for options in ({"timeout": 1}, {"timeout": 900}, {"memory_mb": 128}, {"memory_mb": 10240}):
        with Emulator(tmp_path, **options) as emu:
            assert emu.config is not None


# =========================================================================================== lifecycle


def test_one_init_then_many_invokes_on_the_same_process(tmp_path):
    init_log = tmp_path / "init.log"
    with Emulator(python_runtime(tmp_path / "task"), env={"INIT_LOG": str(init_log)}) as emu:
        results = [invoke(emu, {"n": n}) for n in range(10)]
    bodies = [payload(r) for r in results]
    assert [b["event"] for b in bodies] == [{"n": n} for n in range(10)]
    assert len({b["pid"] for b in bodies}) == 1
    assert pids_in(read_lines(init_log), "pid") == [bodies[0]["pid"]]  # init ran once
    assert results[0].init_duration_ms is not None and results[0].init_duration_ms > 0
    assert all(r.init_duration_ms is None for r in results[1:])


@needs_curl
def test_timeout_kills_the_process_group_and_the_next_invoke_starts_fresh(tmp_path):
    bash_runtime(tmp_path / "bootstrap", """
  case "$EVENT" in
    *hang*) sleep 1000 &
            echo "child $!"
            echo "runtime $$"
            sleep 1000 ;;
  esac
  REPLY_BODY="{\\"pid\\": $$}"
""")
    with Emulator(tmp_path, timeout=1) as emu:
        warm_pid = payload(invoke(emu))["pid"]
        started = time.monotonic()
        result = invoke(emu, {"hang": True})
        elapsed = time.monotonic() - started
        assert 0.9 < elapsed < 4, elapsed

        assert result.function_error == "Unhandled"
        assert result.error_type == "Sandbox.Timedout"
        error = result.json()
        assert error["errorType"] == "Sandbox.Timedout"
        assert error["errorMessage"].endswith("Task timed out after 1.00 seconds"), error
        assert 1000 <= result.duration_ms < 3000

        body = invocation_body(result)
        timed_out = [line for line in body if "Task timed out" in line]
        assert len(timed_out) == 1, result.log_lines
        assert is_timeout_line(timed_out[0], result.request_id), timed_out
        assert any(is_timeout_line(line, result.request_id)
                   for line in emu.logs)

        child, runtime = pids_in(body, "child"), pids_in(body, "runtime")
        assert child and runtime == [warm_pid]
        assert body.index(timed_out[0]) == len(body) - 1  # after what the runtime printed before the kill
        assert wait_gone(child + runtime) == [], "the runtime's process group survived the timeout"

        fresh = invoke(emu)
        assert payload(fresh)["pid"] not in (warm_pid, *child)
        assert fresh.init_duration_ms is not None
        assert "Init Duration: " in fresh.log_lines[-1]


def test_process_exit_mid_invoke_is_a_runtime_exit_error(tmp_path):
    with Emulator(python_runtime(tmp_path)) as emu:
        pid = payload(invoke(emu))["pid"]
        result = invoke(emu, {"exit": 3})
        assert result.function_error == "Unhandled"
        assert result.error_type == "Runtime.ExitError"
        assert result.json() == {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: exit status 3",
        }
        assert wait_gone([pid]) == []
        fresh = invoke(emu)
        assert payload(fresh)["pid"] != pid
        assert fresh.init_duration_ms is not None


@pytest.mark.parametrize("signum, described", [(signal.SIGKILL, "killed"), (signal.SIGTERM, "terminated")],
                         ids=["SIGKILL", "SIGTERM"])
def test_runtime_killed_by_a_signal_is_reported_like_the_service(tmp_path, signum, described):
    """Go's description of the signal, as the service (written in Go) reports it."""
    with Emulator(python_runtime(tmp_path)) as emu:
        result = invoke(emu, {"signal": int(signum)})
        assert result.error_type == "Runtime.ExitError"
        assert result.json()["errorMessage"] == (
            f"RequestId: {result.request_id} Error: Runtime exited with error: signal: {described}")
        assert payload(invoke(emu))["event"] == {}  # a fresh runtime serves the next invoke


def test_init_error_is_returned_and_init_runs_again_on_the_next_invoke(tmp_path):
    init_log = tmp_path / "init.log"
    env = {"INIT_LOG": str(init_log), "INIT_ERROR": "Runtime.ConfigError"}
    posted = json.dumps({"errorMessage": "bad configuration", "errorType": "ConfigError"}).encode()
    with Emulator(python_runtime(tmp_path / "task"), env=env) as emu:
        first = invoke(emu, {"n": 1})
        second = invoke(emu, {"n": 2})
    for result in (first, second):
        assert result.function_error == "Unhandled"
        assert result.error_type == "Runtime.ConfigError"
        assert result.payload == posted
        assert result.notes == []  # the runtime exited by itself, as it should
        reports = [line for line in result.log_lines if line.startswith("INIT_REPORT")]
        assert len(reports) == 1, result.log_lines
        assert re.fullmatch(r"INIT_REPORT Init Duration: \d+\.\d{2} ms\tPhase: init\tStatus: error\t"
                            r"Error Type: Runtime\.ConfigError", reports[0]), reports
    lines = read_lines(init_log)
    pids = pids_in(lines, "pid")
    assert len(pids) == 2 and pids[0] != pids[1], lines  # a new runtime process for the second invoke
    assert lines.count("init error posted: 202") == 2


def test_runtime_that_stays_after_init_error_gets_a_note_and_is_killed(tmp_path):
    init_log = tmp_path / "init.log"
    env = {"INIT_LOG": str(init_log), "INIT_ERROR": "Runtime.ConfigError", "INIT_ERROR_STAY": "1"}
    with Emulator(python_runtime(tmp_path / "task"), env=env) as emu:
        result = invoke(emu)
        assert result.error_type == "Runtime.ConfigError"
        assert any("init/error" in note and "exit" in note for note in result.notes), result.notes
        assert wait_gone(pids_in(read_lines(init_log), "pid")) == []


def test_init_over_the_init_timeout_is_retried_within_the_invoke(tmp_path):
    init_log = tmp_path / "init.log"
    env = {"INIT_LOG": str(init_log), "INIT_SLEEP": "1"}
    with Emulator(python_runtime(tmp_path / "task"), env=env, init_timeout=0.5) as emu:
        result = invoke(emu, {"n": 1})
        body = payload(result)
        assert body["event"] == {"n": 1}
        reports = [line for line in result.log_lines if line.startswith("INIT_REPORT")]
        assert len(reports) == 1, result.log_lines
        assert re.fullmatch(r"INIT_REPORT Init Duration: \d+\.\d{2} ms\tPhase: init\tStatus: timeout", reports[0])
        assert float(reports[0].split()[3]) >= 500
        assert result.log_lines.index(reports[0]) < result.log_lines.index(
            f"START RequestId: {result.request_id} Version: $LATEST")
        pids = pids_in(read_lines(init_log), "pid")
        assert len(pids) == 2 and pids[1] == body["pid"], pids  # the first runtime was replaced
        assert wait_gone(pids[:1]) == []
        assert payload(invoke(emu, {"n": 2}))["pid"] == body["pid"]  # then warm as usual


def test_runtime_that_never_calls_next_times_out(tmp_path):
    init_log = tmp_path / "init.log"
    env = {"INIT_LOG": str(init_log), "INIT_SLEEP": "1000"}
    with Emulator(python_runtime(tmp_path / "task"), env=env, init_timeout=0.5, timeout=1) as emu:
        started = time.monotonic()
        result = invoke(emu)
        assert time.monotonic() - started < 5
        assert result.function_error == "Unhandled"
        assert result.error_type == "Sandbox.Timedout"
        assert result.json()["errorType"] == "Sandbox.Timedout"
        assert result.json()["errorMessage"].endswith("Task timed out after 1.00 seconds")
        assert any(re.fullmatch(r"INIT_REPORT Init Duration: \d+\.\d{2} ms\tPhase: init\tStatus: timeout", line)
                   for line in result.log_lines), result.log_lines
        assert any(is_timeout_line(line, result.request_id)
                   for line in result.log_lines), result.log_lines
        assert wait_gone(pids_in(read_lines(init_log), "pid")) == []


def test_post_response_work_past_the_timeout_is_killed_and_logged(tmp_path):
    with Emulator(python_runtime(tmp_path), timeout=1) as emu:
        result = invoke(emu, {"n": 1, "after": [["out", "cleaning up"]], "after_sleep": 30})
        body = payload(result)  # the invoker got the response that was posted in time
        assert body["event"]["n"] == 1
        # The invocation itself ends later, at its timeout (read the stream: the result may come back first).
        rid = result.request_id
        poll(lambda: f"END RequestId: {rid}" in emu.logs, timeout=5, what="the invocation to end")
        logs = emu.logs
        logged = logs[logs.index(f"START RequestId: {rid} Version: $LATEST") + 1:logs.index(f"END RequestId: {rid}")]
        assert "cleaning up" in logged
        assert any(is_timeout_line(line, rid) for line in logged), logs
        assert wait_gone([body["pid"]]) == []
        fresh = invoke(emu)
        assert payload(fresh)["pid"] != body["pid"]
        assert fresh.init_duration_ms is not None


# =========================================================================================== stop


def test_stop_with_an_invoke_pending_resolves_it_and_leaves_no_process(tmp_path):
    """The runtime is stuck in init (it never calls next); one invoke waits for it, another is queued."""
    init_log = tmp_path / "init.log"
    env = {"INIT_LOG": str(init_log), "INIT_SLEEP": "1000", "INIT_CHILD": "1"}
    emu = Emulator(python_runtime(tmp_path / "task"), env=env).start()
    try:
        pending = emu.send({"n": 1})
        queued = emu.send({"n": 2})
        poll(lambda: len(read_lines(init_log)) >= 2, what="the runtime's init to log its pids")
        lines = read_lines(init_log)
        pids = pids_in(lines, "pid") + pids_in(lines, "child")
        assert len(pids) == 2 and all(alive(p) for p in pids)
        assert not pending.done() and not queued.done()
    finally:
        started = time.monotonic()
        emu.stop()
    assert time.monotonic() - started < 10
    for waiting in (pending, queued):
        result = waiting.result(timeout=5)  # resolves, does not hang
        assert result.function_error == "Unhandled"
        assert result.error_type
        assert "stopped" in result.json()["errorMessage"]
    assert wait_gone(pids) == [], "a runtime process outlived emu.stop()"


def test_stop_kills_warm_runtimes_of_every_environment(tmp_path):
    with Emulator(python_runtime(tmp_path), max_environments=2) as emu:
        slow = emu.send({"sleep": 0.5})
        quick = payload(invoke(emu))
        slow_body = payload(slow.result(WAIT))
    assert quick["pid"] != slow_body["pid"]
    assert wait_gone([quick["pid"], slow_body["pid"]]) == []


def _non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: this only picks a source address
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_servers_listen_on_loopback_only(tmp_path):
    with Emulator(python_runtime(tmp_path), invoke_port=0, max_environments=2) as emu:
        slow = emu.send({"sleep": 0.3})
        payload(invoke(emu))
        payload(slow.result(WAIT))
        servers = [emu._invoke_server] + [env.server for env in emu._function.environments]
        assert len(servers) == 3
        ports = []
        for server in servers:
            sockets = server._server.sockets
            assert sockets
            for sock in sockets:
                host, port = sock.getsockname()[:2]
                assert host == "127.0.0.1", (host, port)
                ports.append(port)
        assert emu.runtime_api.startswith("127.0.0.1:")
        assert emu.invoke_url.startswith("http://127.0.0.1:")

        other = _non_loopback_address()
        if other is not None:  # black-box: the same ports are closed on the host's other address
            for port in ports:
                with pytest.raises(OSError):
                    socket.create_connection((other, port), timeout=2).close()

