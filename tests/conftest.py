"""Fixtures shared by the test files."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def curl() -> str:
    """curl, which the bash runtimes need; `make test` installs it, so its absence fails the test."""
    path = shutil.which("curl")
    assert path is not None, "curl is not installed: run `make system-deps` (make test does)"
    return path
