"""Fixtures of the browser tests: JupyterLab servers over temporary copies, Debian's Chromium through Playwright,
and a fresh page per test whose console errors are collected."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.browser import lab

@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (its own browser downloads can't work here)."""
    assert os.access(lab.CHROMIUM, os.X_OK), f"{lab.CHROMIUM} is missing: run `make system-deps` (make test does)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=lab.CHROMIUM, args=lab.CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def learner_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab.LabServer]:
    """JupyterLab over a temporary copy of notebooks/, as a learner's `make lab`."""
    work = tmp_path_factory.mktemp("learner")
    server = lab.start_lab(lab.copy_notebooks(work / "notebooks"), work / "jupyter")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def instructor_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab.LabServer]:
    """JupyterLab in a temporary copy of grader/ (the nbgrader course folder, with nbgrader_config.py), as an
    instructor runs it. The copy leaves out what nbgrader generates, so the gradebook is a fresh one."""
    work = tmp_path_factory.mktemp("instructor")
    course = work / "grader"
    shutil.copytree(lab.ROOT / "grader", course, ignore=shutil.ignore_patterns(
        "release", "submitted", "autograded", "feedback", "gradebook.db", "__pycache__", ".ipynb_checkpoints"))
    server = lab.start_lab(course, work / "jupyter")
    yield server
    server.stop()


@pytest.fixture
def console() -> lab.Console:
    return lab.Console()


@pytest.fixture
def page(browser: Browser, console: lab.Console, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context and page; its console errors go to ``console``. Afterwards the kernels that the
    test started are shut down (closing a page leaves them running)."""
    context = browser.new_context(viewport=lab.VIEWPORT)
    new_page = context.new_page()
    console.attach(new_page)
    yield new_page
    context.close()
    for name in ("learner_lab", "instructor_lab"):
        if name in request.fixturenames:
            request.getfixturevalue(name).shut_down_kernels()
