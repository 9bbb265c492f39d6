"""The function's log stream: START / END / REPORT lines in the service's exact format, measured numbers, and what
the runtime prints (stdout and stderr) attributed to the right invocation, in order, without flush races.

Facts from /work/shared/reference/runtime-api.md, "Log lines"."""

from __future__ import annotations

import json
import math
import re

import pytest
from runtimes import bash_runtime, needs_curl, payload, python_runtime, write_script

from runtime_reference import Emulator

pytestmark = pytest.mark.timeout(60)

WAIT = 15
REPORT = re.compile(
    r"REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<duration>\d+\.\d{2}) ms"
    r"\tBilled Duration: (?P<billed>\d+) ms\tMemory Size: (?P<size>\d+) MB\tMax Memory Used: (?P<used>\d+) MB"
    r"(?:\tInit Duration: (?P<init>\d+\.\d{2}) ms)?\t?")


def invoke(emu: Emulator, event: object = None, wait: float = WAIT):
    return emu.invoke(event if event is not None else {}, timeout=wait)


def start(rid: str) -> str:
    return f"START RequestId: {rid} Version: $LATEST"


def end(rid: str) -> str:
    return f"END RequestId: {rid}"


def check_frame(result, memory_mb: int = 128, runtime_ran: bool = True) -> re.Match:
    """START ... END, REPORT with this invocation's id; REPORT's numbers are the result's. Returns REPORT.
    ``runtime_ran=False``: no runtime process ever started, so there was no memory to measure."""
    rid, lines = result.request_id, result.log_lines
    assert lines.count(start(rid)) == 1 and lines.count(end(rid)) == 1, lines
    assert lines[-2] == end(rid), lines
    assert lines.index(start(rid)) < len(lines) - 2
    report = REPORT.fullmatch(lines[-1])
    assert report, repr(lines[-1])
    assert report["id"] == rid
    framing = [line for line in lines if line.startswith(("START", "END", "REPORT"))]
    assert framing == [start(rid), end(rid), lines[-1]], lines

    duration = float(report["duration"])
    assert report["duration"] == f"{result.duration_ms:.2f}"
    assert int(report["billed"]) == result.billed_duration_ms == max(1, math.ceil(result.duration_ms))
    assert int(report["billed"]) >= duration
    assert int(report["billed"]) - duration <= 1.0
    assert int(report["size"]) == memory_mb
    assert int(report["used"]) == result.max_memory_used_mb
    assert result.max_memory_used_mb > 0 or not runtime_ran
    if result.init_duration_ms is None:
        assert report["init"] is None
    else:
        assert report["init"] == f"{result.init_duration_ms:.2f}"
    return report


def test_start_end_report_format_and_init_duration_on_cold_start_only(tmp_path):
    with Emulator(python_runtime(tmp_path)) as emu:
        results = [invoke(emu, {"sleep": s}) for s in (0, 0.0153, 0)]
        stream = emu.logs
    reports = [check_frame(r) for r in results]
    assert results[0].init_duration_ms is not None and float(reports[0]["init"]) > 0
    assert [r["init"] for r in reports[1:]] == [None, None]
    assert results[1].duration_ms >= 15.3 and int(reports[1]["billed"]) >= 16
    assert len({r.request_id for r in results}) == 3
    # The stream holds exactly the invocations' lines, in order.
    assert stream == [line for r in results for line in r.log_lines]
    # Tab-separated fields: the exact shape of a cold start's REPORT.
    fields = results[0].log_lines[-1].rstrip("\t").split("\t")
    assert [f.split(":")[0] for f in fields] == ["REPORT RequestId", "Duration", "Billed Duration", "Memory Size",
                                                 "Max Memory Used", "Init Duration"]


def test_memory_size_is_the_configured_one(tmp_path):
    with Emulator(python_runtime(tmp_path), memory_mb=512) as emu:
        check_frame(invoke(emu), memory_mb=512)


def test_max_memory_used_is_measured(tmp_path):
    with Emulator(python_runtime(tmp_path)) as emu:
        small = invoke(emu)
        big = invoke(emu, {"alloc_mb": 100})
        assert payload(big)["blob"] == 100 << 20
    check_frame(small)
    check_frame(big)
    assert 0 < small.max_memory_used_mb < 100  # measured, not the memory size (128) as RIE fakes it
    assert big.max_memory_used_mb >= small.max_memory_used_mb + 90


@pytest.mark.parametrize("event", [{}, {"error": "boom"}, {"exit": 2}],
                         ids=["response", "function-error", "exit-error"])
def test_every_outcome_is_framed_by_start_end_report_with_one_request_id(tmp_path, event):
    with Emulator(python_runtime(tmp_path)) as emu:
        warm = invoke(emu)
        result = invoke(emu, event)
        after = invoke(emu)
    for r in (warm, result, after):
        check_frame(r)


def test_invalid_entrypoint_is_framed_too(tmp_path):
    write_script(tmp_path / "bootstrap", "#!/bin/sh\n", 0o644)
    with Emulator(tmp_path) as emu:
        result = invoke(emu)
    assert result.error_type == "Runtime.InvalidEntrypoint"
    check_frame(result, runtime_ran=False)


def test_stdout_and_stderr_in_order_in_the_right_invocation_200_times(tmp_path):
    """Each invocation prints to stdout and stderr, interleaved, and once more right before calling `next`
    (after its response): every line must land between its own START and END, in order, every time."""
    init_say = [["out", "init stdout"], ["err", "init stderr"]]
    with Emulator(python_runtime(tmp_path), env={"INIT_SAY": json.dumps(init_say)}) as emu:
        results = []
        for i in range(200):
            event = {"i": i, "say": [["out", f"out {i} a"], ["err", f"err {i} b"], ["out", f"out {i} c"]],
                     "after": [["err", f"err {i} after response"], ["out", f"out {i} just before next"]]}
            results.append(invoke(emu, event))
        stream = emu.logs
    bad = []
    for i, result in enumerate(results):
        rid = result.request_id
        expected = ([] if i else ["init stdout", "init stderr"]) + [
            start(rid), f"out {i} a", f"err {i} b", f"out {i} c", f"err {i} after response",
            f"out {i} just before next", end(rid)]
        if payload(result)["event"]["i"] != i or result.log_lines[:-1] != expected:
            bad.append((i, result.log_lines))
    assert not bad, f"{len(bad)} invocations with misattributed output, first: {bad[0]}"
    assert stream == [line for r in results for line in r.log_lines]
    for result in results:
        check_frame(result)


@needs_curl
def test_bash_runtime_output_lands_in_its_invocation(tmp_path):
    bash_runtime(tmp_path / "bootstrap",
                 handle='echo "out $ID"; echo "err $ID" >&2; REPLY_BODY="\\"$ID\\""',
                 after='echo "after $ID" >&2')
    with Emulator(tmp_path) as emu:
        results = [invoke(emu, {"n": n}) for n in range(25)]
    for result in results:
        rid = result.request_id
        assert payload(result) == rid
        body = result.log_lines[result.log_lines.index(start(rid)) + 1:-2]
        assert body == [f"out {rid}", f"err {rid}", f"after {rid}"], result.log_lines


def test_init_output_comes_before_the_first_start(tmp_path):
    init_say = [["out", "loading config"], ["err", "warming up"], ["out", "ready"]]
    with Emulator(python_runtime(tmp_path), env={"INIT_SAY": json.dumps(init_say)}) as emu:
        first = invoke(emu, {"say": [["out", "handling"]]})
        second = invoke(emu)
        stream = emu.logs
    assert first.log_lines[:4] == ["loading config", "warming up", "ready", start(first.request_id)]
    assert first.log_lines[4] == "handling"
    assert stream[:4] == first.log_lines[:4]
    assert second.log_lines[0] == start(second.request_id)
    assert not any(line in second.log_lines for line in ("loading config", "warming up", "ready"))


def test_unterminated_line_stays_in_its_invocation(tmp_path):
    with Emulator(python_runtime(tmp_path)) as emu:
        first = invoke(emu, {"say": [["raw", "partial in handler"]], "after": [["raw", "|partial before next"]]})
        second = invoke(emu, {"say": [["out", "second line"]]})
    body = first.log_lines[first.log_lines.index(start(first.request_id)) + 1:-2]
    assert "".join(body) == "partial in handler|partial before next", first.log_lines
    assert second.log_lines[1:-2] == ["second line"], second.log_lines


def _missing_bootstrap(tmp_path):
    (tmp_path / "function.sh").write_text("# no bootstrap\n")
    return {}, "RequestId: {rid} Error: Couldn't find valid bootstrap(s)", "Runtime.InvalidEntrypoint"


def _exits_during_init(tmp_path):
    write_script(tmp_path / "bootstrap", "#!/bin/sh\necho 'init output'\nexit 3\n")
    return {}, "RequestId: {rid} Error: Runtime exited with error: exit status 3", "Runtime.ExitError"


def _never_calls_next(tmp_path):
    python_runtime(tmp_path)
    return ({"init_timeout": 0.5, "timeout": 1, "env": {"INIT_SLEEP": "1000"}},
            "", "Task timed out after 1.00 seconds")


@pytest.mark.parametrize("setup", [_missing_bootstrap, _exits_during_init, _never_calls_next],
                         ids=["invalid-entrypoint", "exit-during-init", "init-never-calls-next"])
def test_a_failed_cold_start_is_logged_between_start_and_end(tmp_path, setup):
    """As the service logs it (a real CloudWatch excerpt for an invalid entrypoint):

        START RequestId: <id> Version: $LATEST
        RequestId: <id> Error: fork/exec /lambda-entrypoint.sh: exec format error
        Runtime.InvalidEntrypoint
        END RequestId: <id>
        REPORT RequestId: <id> ...
    """
    options, error_line, last_line = setup(tmp_path)
    with Emulator(tmp_path, **options) as emu:
        result = invoke(emu)
    rid, lines = result.request_id, result.log_lines
    body = lines[lines.index(start(rid)) + 1:lines.index(end(rid))]
    if error_line:
        expected = error_line.format(rid=rid)
        errors = [i for i, line in enumerate(body) if line.startswith(expected)]
        assert errors and body[errors[0] + 1] == last_line, lines
    else:
        assert any(line.endswith(f"{rid} {last_line}") for line in body), lines
    assert not any(rid in line for line in lines[:lines.index(start(rid))]), lines
