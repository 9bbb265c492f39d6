"""The command line, `python -m runtime_reference serve|invoke`, run as a learner runs it (a subprocess)."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
from runtimes import python_runtime, wait_gone

pytestmark = pytest.mark.timeout(90)

CLI = [sys.executable, "-m", "runtime_reference"]
RUN_TIMEOUT = 60


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=RUN_TIMEOUT,
                          stdin=subprocess.DEVNULL, **kwargs)


@pytest.mark.parametrize("args, expected", [
    ((), ["serve", "invoke", "127.0.0.1"]),
    (("serve",), ["--port", "--layer", "--env", "--timeout", "--memory", "--handler", "--runtime-only",
                  "--max-environments", "--quiet"]),
    (("invoke",), ["--event", "--url", "--layer", "--env", "--timeout", "--memory", "--handler"]),
], ids=["main", "serve", "invoke"])
def test_help_exits_0_and_names_the_options(args, expected):
    done = run(*args, "--help")
    assert done.returncode == 0, done.stderr
    for option in expected:
        assert option in done.stdout, f"{option} not in the help of {args}"
    assert "Traceback" not in done.stderr


def test_invoke_prints_the_payload_and_exits_0(tmp_path):
    task = python_runtime(tmp_path / "task")
    done = run("invoke", str(task), "--event", '{"name": "World", "n": 1}', "--env", "GREETING=hi")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["event"] == {"name": "World", "n": 1}
    assert "--- log tail ---" in done.stderr
    assert re.search(r"^REPORT RequestId: \S+\tDuration: ", done.stderr, re.M), done.stderr
    assert wait_gone([body["pid"]]) == []  # the CLI stopped its runtime before exiting


def test_invoke_exits_1_on_a_function_error(tmp_path):
    task = python_runtime(tmp_path / "task")
    done = run("invoke", str(task), "--event", '{"error": "it broke"}')
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert json.loads(done.stdout) == {"errorMessage": "it broke", "errorType": "Boom"}
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", ["invoke", "serve"])
@pytest.mark.parametrize("bad, says", [
    (["--env", "NO_EQUALS_SIGN"], "KEY=VALUE"),
    (["--env", "=value"], "KEY=VALUE"),
    (["--env", "AWS_REGION=eu-west-1"], "reserved"),
    (["--timeout", "0"], "timeout"),
    (["--memory", "64"], "memory"),
], ids=["no-equals", "empty-key", "reserved", "timeout", "memory"])
def test_bad_options_are_a_clean_error(tmp_path, command, bad, says):
    task = python_runtime(tmp_path / "task")
    extra = ["--port", "0"] if command == "serve" else []
    done = run(command, str(task), *extra, *bad)
    assert done.returncode != 0
    assert says in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert "Invoke URL" not in done.stdout  # serve refused to start


def test_invoke_of_a_missing_task_root_is_a_clean_error(tmp_path):
    done = run("invoke", str(tmp_path / "nothing-here"))
    assert done.returncode != 0
    assert "does not exist" in done.stderr
    assert "Traceback" not in done.stderr


class Serve:
    """`serve` in the background, its stdout read line by line by a thread (reads never block the test)."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen([*CLI, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_for(self, prefix: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"serve printed no line starting with {prefix!r} in {timeout} s: {self.seen}")
            if line is None:
                pytest.fail(f"serve ended before printing {prefix!r}: {self.seen}")
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def test_serve_prints_its_addresses_answers_curl_and_stops_on_sigint(tmp_path, curl):
    task = python_runtime(tmp_path / "task")
    serve = Serve(str(task), "--port", "0")
    try:
        url = serve.wait_for("Invoke URL:").split()[-1]
        runtime_api = serve.wait_for("Runtime API:")
        assert len(serve.seen) == 2 and serve.seen[0].startswith("Invoke URL:")  # these two first, in order
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/2015-03-31/functions/function/invocations", url), url
        assert re.match(r"Runtime API: 127\.0\.0\.1:\d+", runtime_api), runtime_api

        curl = subprocess.run([curl, "-sS", "--max-time", "15", "-XPOST", url, "-d", '{"from": "curl"}'],
                              capture_output=True, text=True, timeout=30)
        assert curl.returncode == 0, curl.stderr
        body = json.loads(curl.stdout)
        assert body["event"] == {"from": "curl"}
        serve.wait_for("REPORT RequestId: ")  # the log goes to the terminal

        serve.process.send_signal(signal.SIGINT)
        assert serve.process.wait(timeout=15) == 0
        assert serve.process.stderr is not None
        assert "Traceback" not in serve.process.stderr.read()
        assert wait_gone([body["pid"]]) == [], "the runtime outlived `serve`"
    finally:
        serve.kill()
