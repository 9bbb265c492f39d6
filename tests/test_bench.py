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


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_grader_bench_runs_and_prints_its_figures() -> None:
    """`make bench-grader` keeps working: 2 submissions, both graders, no hang run (figures not asserted)."""
    done = subprocess.run([sys.executable, "-m", "grader.bench", "--submissions", "2", "--no-hang"],
                          capture_output=True, text=True, timeout=280)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "plain nbgrader autograde (serial):" in done.stdout and "speedup:" in done.stdout
