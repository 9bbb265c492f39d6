"""What a learner does in JupyterLab, driven through Playwright: open a notebook, run cells, answer a quiz, write
an exercise, read outputs, take screenshots. Also: start a JupyterLab server and launch Debian's Chromium.

What worked on these machines, and the pitfalls, are in ../shared/reference/browser-testing.md.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import URLError
from urllib.request import Request, urlopen

import nbformat
import yaml
from playwright.sync_api import Locator, Page, expect

expect.set_options(timeout=15_000)  # the default 5 s is short for a busy 2-core machine

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SOURCE = ROOT / "grader" / "source"
QUIZZES = ROOT / "grader" / "quizzes"
ARTIFACTS = ROOT / "test-artifacts" / "browser"

CHROMIUM = "/usr/bin/chromium"  # Debian's package; `make system-deps` installs it (never `playwright install`)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}

# What the learner sees: the course's promises (README, chapter 00), spelled out here on purpose, so that a quiz
# whose feedback text changes fails these tests.
RIGHT = "You are right!"
MISSED = "You missed! Try again."
PASSED = "✔"
FAILED = "✘"

KERNEL_START_MS = 90_000  # a kernel on a busy 2-core machine
RUN_MS = 120_000  # one cell, or a notebook's "Run All"


# ----- the server -----

@dataclass
class LabServer:
    """A JupyterLab server on 127.0.0.1 with a random port and token, serving ``root_dir``."""

    root_dir: Path
    port: int
    token: str
    process: subprocess.Popen
    log_path: Path
    env: dict = field(repr=False, default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lab_url(self, path: str = "") -> str:
        """A JupyterLab page (``tree/<file>`` opens a file), logged in with the token. ``reset``: a blank
        workspace, without the tabs (and kernels) that an earlier test left open on this server."""
        return f"{self.url}/lab/{path}?reset&token={self.token}" if path else f"{self.url}/lab?reset&token={self.token}"

    def api(self, method: str, path: str) -> object:
        request = Request(f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"})
        with urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """Closing a page leaves its kernel running: delete every session (and so its kernel)."""
        for session in self.api("GET", "/api/sessions") or []:
            self.api("DELETE", f"/api/sessions/{session['id']}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # twice: Jupyter asks for confirmation after the first
            time.sleep(0.3)
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def lab_settings(settings_dir: Path) -> Path:
    """A JUPYTERLAB_SETTINGS_DIR for tests: no news pop-up, every cell in the DOM."""
    files = {
        # the "Would you like to receive official Jupyter news?" pop-up covers the notebook
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                            "checkForUpdates": False},
        # the default ("contentVisibility") leaves off-screen cells unrendered: their text reads as ""
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    }
    for name, settings in files.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    return settings_dir


def start_lab(root_dir: Path, work: Path, extra_args: tuple[str, ...] = (), timeout: float = 60) -> LabServer:
    """Start ``jupyter lab`` serving ``root_dir`` (also its working directory, where nbgrader looks for its config),
    with its settings, config, data and runtime folders under ``work``; return once /api/status answers."""
    (work / "config").mkdir(parents=True, exist_ok=True)
    # nbgrader's exchange, as a class would have one: without it the Assignment List and the formgrader say
    # "The exchange directory ... does not exist" (this self-study course configures none).
    (work / "exchange").mkdir(exist_ok=True)
    (work / "config" / "nbgrader_config.py").write_text(
        f"c = get_config()  # noqa: F821\nc.Exchange.root = {str(work / 'exchange')!r}\n")
    token, port = secrets.token_hex(16), free_port()
    env = dict(os.environ)
    env.update({
        "JUPYTERLAB_SETTINGS_DIR": str(lab_settings(work / "settings")),
        "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"),  # no layout restored from a developer's session
        "JUPYTER_CONFIG_DIR": str(work / "config"),  # nothing from ~/.jupyter
        "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
        "JUPYTER_DATA_DIR": str(work / "data"),  # no kernelspec from ~/.local/share/jupyter: the venv's Python
        "IPYTHONDIR": str(work / "ipython"),  # no start-up scripts from ~/.ipython in the kernels
        # the kernel finds the venv's tools (nbgrader, the emulator's Python), as with `make lab`
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    args = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root_dir}", "--LabApp.news_url=", *extra_args]
    if os.geteuid() == 0:
        args.append("--allow-root")  # as root, JupyterLab exits at once without it
    log_path = work / "jupyter-lab.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, cwd=root_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    server = LabServer(root_dir, port, token, process, log_path, env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {process.returncode}:\n{server.log()[-3000:]}")
        try:
            server.api("GET", "/api/status")
            return server
        except (URLError, ConnectionError, OSError):
            time.sleep(0.25)
    server.stop()
    raise RuntimeError(f"jupyter lab did not answer within {timeout} s:\n{server.log()[-3000:]}")


# ----- the browser's console -----

# Console errors that are not the course's nor JupyterLab's fault, each seen here; anything else fails a test.
# None so far. (Only errors count: the formgrader's warning "An iframe which has both allow-scripts and
# allow-same-origin for its sandbox attribute can escape its sandboxing" is a console *warning*, about how
# JupyterLab embeds nbgrader's own page, and is not collected.)
HARMLESS_CONSOLE: list[tuple[str, str]] = [
    # (a piece of the message, why it is harmless)
]


class Console:
    """The errors a page reports: console.error messages and uncaught exceptions (``pageerror``)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.ignored: list[str] = []

    def attach(self, page: Page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _on_console(self, message) -> None:
        if message.type != "error":
            return
        text = f"console.error: {message.text} ({message.location.get('url', '')})"
        if any(piece in text for piece, _why in HARMLESS_CONSOLE):
            self.ignored.append(text)
        else:
            self.errors.append(text)

    def expect_no_errors(self) -> None:
        assert not self.errors, "errors in the browser console:\n" + "\n".join(self.errors)


# ----- the content: the right answers come from the instructor's files -----

def _question(question_id: str) -> dict:
    bank = QUIZZES / f"{question_id.split('.')[0]}.yml"
    for question in yaml.safe_load(bank.read_text(encoding="utf-8")):
        if question["id"] == question_id:
            return question
    raise LookupError(f"no question {question_id} in {bank}")


def quiz_answer(question_id: str) -> tuple[str, str]:
    """(right letter, explanation) of a self-check question, from the instructor's grader/quizzes/NN.yml."""
    question = _question(question_id)
    return question["answer"], question["explanation"]


def quiz_choices(question_id: str) -> list[str]:
    """The letters of a question's choices, in order."""
    return list(_question(question_id)["choices"])


def solution(chapter: str, grade_id: str) -> str:
    """The instructor's cell ``grade_id`` as a learner who solved it would write it: the whole cell, with the
    solution in place of the stub (the ### BEGIN/END SOLUTION lines dropped)."""
    nb = nbformat.read(SOURCE / chapter / f"{chapter}.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            lines = [line for line in cell.source.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
            return "\n".join(lines)
    raise LookupError(f"no cell {grade_id} in {chapter}")


def cell_index(notebook: Path, *, grade_id: str | None = None, contains: str | None = None) -> int:
    """The position of a cell in a learner notebook: by its nbgrader grade_id, or by a piece of its text."""
    nb = nbformat.read(notebook, as_version=4)
    for index, cell in enumerate(nb.cells):
        if grade_id is not None and cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return index
        if contains is not None and contains in cell.source:
            return index
    raise LookupError(f"no cell with grade_id={grade_id!r} / containing {contains!r} in {notebook}")


def code_cell_indices(notebook: Path) -> list[int]:
    nb = nbformat.read(notebook, as_version=4)
    return [index for index, cell in enumerate(nb.cells) if cell.cell_type == "code"]


def exercise_and_check_indices(notebook: Path) -> list[int]:
    """The positions of the cells a learner writes in and of the checks (nbgrader solution and grade cells)."""
    nb = nbformat.read(notebook, as_version=4)
    return [index for index, cell in enumerate(nb.cells)
            if cell.metadata.get("nbgrader", {}).get("solution") or cell.metadata.get("nbgrader", {}).get("grade")]


# ----- the page -----

def screenshot(page: Page, name: str) -> Path:
    """Save the page as test-artifacts/browser/<name>.png (name: "<chapter>-<step>")."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def open_notebook(page: Page, server: LabServer, path: str) -> None:
    """Open a notebook (relative to the server's root) and wait until its kernel is idle."""
    page.goto(server.lab_url(f"tree/{path}"))
    expect(cells(page).first).to_be_visible(timeout=KERNEL_START_MS)
    expect(page.locator(".jp-NotebookPanel")).to_have_count(1)  # this notebook only: no tab restored
    wait_for_idle_kernel(page)


def notebook_panel(page: Page) -> Locator:
    """The notebook tab in front: its toolbar and the notebook."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")


def notebook(page: Page) -> Locator:
    """The notebook in the current (visible) tab."""
    return notebook_panel(page).locator(".jp-Notebook")


def menu_command(page: Page, menu: str, command: str) -> None:
    """Open a menu of the menu bar and click the item of a command (by its id: labels can repeat)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(menu)}$")).click()
    page.locator(f".lm-Menu-content [data-command='{command}']").click()


def wait_for_idle_kernel(page: Page, timeout: float = KERNEL_START_MS) -> None:
    """Idle = the status bar says "| Idle" AND the toolbar's execution indicator is idle: either alone can show
    before the kernel is really ready."""
    expect(page.locator("#jp-main-statusbar")).to_contain_text(re.compile(r"\|\s*Idle"), timeout=timeout)
    indicator = notebook_panel(page).locator(".jp-Notebook-ExecutionIndicator")
    expect(indicator.first).to_have_attribute("data-status", "idle", timeout=timeout)


def cells(page: Page) -> Locator:
    return notebook(page).locator(".jp-Cell")


def cell(page: Page, index: int) -> Locator:
    return cells(page).nth(index)


def prompt(page: Page, index: int) -> str:
    """The input prompt of a code cell: "[ ]:" never run or aborted, "[*]:" running or queued, "[3]:" done."""
    return cell(page, index).locator(".jp-InputPrompt").inner_text().strip()


def wait_until_done(page: Page, timeout: float = RUN_MS) -> None:
    """Wait until no cell is running or queued, and the kernel is idle."""
    busy = notebook(page).locator(".jp-InputPrompt", has_text="[*]")
    expect(busy).to_have_count(0, timeout=timeout)
    wait_for_idle_kernel(page, timeout=timeout)


def run_all(page: Page) -> None:
    """Run > Run All Cells (by its command: the text also matches "Restart Kernel and Run All Cells…"), then wait."""
    menu_command(page, "Run", "runmenu:run-all")
    # the first code cell gets a number once the run has started; then wait until nothing is queued
    expect(notebook(page).locator(".jp-CodeCell .jp-InputPrompt").first).to_have_text(
        re.compile(r"\[\d+\]:"), timeout=RUN_MS)
    wait_until_done(page)


def select_cell(page: Page, index: int) -> Locator:
    """Make cell ``index`` the active cell, in command mode (a click on its prompt area, then Escape)."""
    target = cell(page, index)
    target.scroll_into_view_if_needed()
    target.locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")
    expect(target).to_have_class(re.compile(r"\bjp-mod-active\b"))
    return target


def run_cell(page: Page, index: int, timeout: float = RUN_MS) -> Locator:
    """Run one cell (Ctrl+Enter: run, stay on the cell) and wait for its new execution count."""
    before = prompt(page, index)
    target = select_cell(page, index)
    page.keyboard.press("Control+Enter")
    prompt_locator = target.locator(".jp-InputPrompt")
    expect(prompt_locator).to_have_text(re.compile(r"\[\d+\]:"), timeout=timeout)
    expect(prompt_locator).not_to_have_text(before, timeout=timeout)
    wait_until_done(page, timeout=timeout)
    return target


def cell_text(page: Page, index: int) -> str:
    """The source text of a cell as its editor shows it."""
    lines = cell(page, index).locator(".jp-Cell-inputArea .cm-content .cm-line").all_text_contents()
    return "\n".join(line.replace("\u200b", "") for line in lines)


def set_cell_text(page: Page, index: int, text: str) -> None:
    """Replace the text of a cell, as a learner would by selecting all of it and typing over it."""
    target = cell(page, index)
    target.scroll_into_view_if_needed()
    editor = target.locator(".jp-Cell-inputArea .cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    # insert_text: one input event, so the editor's auto-indent and bracket closing don't rewrite what is typed
    page.keyboard.insert_text(text)
    page.keyboard.press("Escape")
    actual = cell_text(page, index)
    assert actual.rstrip() == text.rstrip(), f"the editor holds\n{actual}\ninstead of\n{text}"


def output_text(page: Page, index: int) -> str:
    """Everything a cell's output area shows, as text."""
    return "\n".join(cell(page, index).locator(".jp-OutputArea-output").all_inner_texts())


def error_output(page: Page, index: int) -> str:
    """The error (traceback, or a course check's ✘ report) and stderr a cell shows, as text; "" when none."""
    selector = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"  # errors render as stderr
    return "\n".join(cell(page, index).locator(selector).all_inner_texts())


def expect_check_passes(page: Page, index: int) -> str:
    """A check cell passed: it printed at least one ✔, no ✘, and no error. Returns its output."""
    text, errors = output_text(page, index), error_output(page, index)
    assert not errors and FAILED not in text, f"the check in cell {index} failed:\n{errors or text}"
    assert PASSED in text, f"the check in cell {index} printed no {PASSED}:\n{text}"
    return text


# ----- quizzes -----

def quiz(page: Page, index: int) -> Locator:
    """The quiz widget in the output of cell ``index``."""
    widget = cell(page, index).locator(".course-quiz")
    expect(widget).to_be_visible(timeout=RUN_MS)
    return widget


def _normal(text: str) -> str:
    return " ".join(text.split())


def answer_quiz(page: Page, widget: Locator, letter: str, timeout: float = 30) -> str:
    """Pick choice ``letter``, press Check, and return the feedback text once it has changed (so an answer must
    get another feedback than the one shown: alternate wrong and right answers)."""
    feedback = widget.locator(".widget-html").last
    before = feedback.inner_text()
    choice = widget.locator(".widget-radio-box label").filter(has_text=re.compile(rf"^\s*{re.escape(letter)}\) "))
    expect(choice).to_have_count(1)
    choice.click()
    expect(choice.locator("input")).to_be_checked()
    widget.get_by_role("button", name="Check").click()
    deadline = time.monotonic() + timeout
    while (text := feedback.inner_text()) == before:  # the kernel answers through the widget's comm
        assert time.monotonic() < deadline, f"answer {letter}: the feedback stayed {before!r} for {timeout} s"
        time.sleep(0.05)
    return text


def expect_quiz_feedback(page: Page, widget: Locator, letter: str, right: bool, explanation: str = "") -> str:
    """Answer ``letter`` and assert the feedback: "You missed! Try again." alone, or "You are right!" and the
    explanation. Returns the feedback text."""
    text = answer_quiz(page, widget, letter)
    if right:
        assert _normal(text).startswith(RIGHT), f"answer {letter}: expected {RIGHT!r}, the quiz said {text!r}"
        assert _normal(explanation) in _normal(text), f"answer {letter}: the explanation is missing from {text!r}"
    else:
        assert _normal(text) == MISSED, f"answer {letter}: expected {MISSED!r}, the quiz said {text!r}"
    return text


def copy_notebooks(target: Path) -> Path:
    """A copy of the learner notebooks (JupyterLab writes checkpoints and autosaves where it serves)."""
    shutil.copytree(NOTEBOOKS, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return target
