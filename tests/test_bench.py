"""`make bench` keeps working (a smoke run with few invokes; the figures themselves are not asserted)."""

import subprocess
import sys

import pytest


@pytest.mark.timeout(120)
def test_bench_runs_and_prints_its_figures() -> None:
    done = subprocess.run([sys.executable, "-m", "runtime_reference.bench", "--invokes", "30", "--warmup", "5",
                           "--cold-runs", "1"], capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n  p50 ") == 2 and "invokes/s" in done.stdout and "cold start" in done.stdout
