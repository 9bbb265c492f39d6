"""`python -m grader feedback ASSIGNMENT`: one HTML page per learner and notebook, without the hidden tests.

nbgrader's ``generate_feedback`` does the work (scores from the gradebook, its feedback template, one page per
notebook in ``feedback/<student>/<assignment>/``) with two classes of this module plugged in:

- :class:`Redact`, a preprocessor run before nbgrader's ``GetGrades``: it removes the hidden tests and the grader's
  evidence from every cell, replaces each error of a test cell by a sentence saying what was expected (no traceback
  frame, which would quote hidden code), strips ANSI escapes from the learner's own tracebacks, and puts a note above
  each test cell the grader had to restore.
- :class:`FeedbackExporter`, nbconvert's HTML exporter with ``sanitize_html`` on (scripts, widgets and JavaScript
  outputs are dropped, HTML outputs are cleaned) and with an allow-list sanitizer that also covers markdown cells:
  nbgrader's feedback template renders them without any cleaning, and a learner can edit them.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import sys
from pathlib import Path
from typing import Any

import bleach
import nbformat
from bleach.css_sanitizer import CSSSanitizer
from jinja2 import pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.filters import strip_ansi
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool

from . import evidence
from .release import GRADER_DIR, absolute, nbgrader

BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"  # nbgrader's ClearHiddenTests delimiters
EVIDENCE_SUFFIX, EVIDENCE_MIME = evidence.MARK, evidence.MIME  # the line the grader appends, its output's type
HIDDEN_LINE = "[a line of a hidden test]"
RESTORED = {
    "deleted": "This test cell was missing from your submission; the grader put it back.",
    "edited": "This test cell had been edited in your submission; the grader put the original back.",
    "metadata": "This test cell had lost its grading metadata in your submission; the grader restored it.",
}
TIMEOUT = "The test ran out of time: your code probably loops forever or waits for something that never comes."
ADVICE = {
    "NotImplementedError": "The exercise is not done yet: replace `raise NotImplementedError()` with your code.",
    "NameError": "The test uses a name your notebook does not define: check the name the exercise asks for, "
                 "and that your exercise cell runs without an error.",
    "CellTimeoutError": TIMEOUT, "KeyboardInterrupt": TIMEOUT, "TimeoutError": TIMEOUT,
    "MemoryError": "Your code used more memory than the grader allows: look for a structure that grows "
                   "without end.",
    "BlockingIOError": "Your code started more processes than the grader allows.",
    "DeadKernelError": "Python stopped while running your code (too much memory, or the process exited).",
}
DEFAULT_ADVICE = "Your code raised this error while the test ran it: run the test cell in your notebook to see " \
                 "where, and fix your code."
FRAME = re.compile(r"Cell In\[\d+\], line (\d+)")
FRAME_PREFIX = re.compile(r"^(?:-*>\s*)?\d+\s")  # "----> 4 " / "      3 " before a source line in a traceback

TAGS = bleach.ALLOWED_TAGS | {
    "p", "div", "span", "pre", "code", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody",
    "tfoot", "tr", "th", "td", "caption", "img", "del", "s", "sup", "sub", "dl", "dt", "dd", "kbd", "samp", "var",
    "details", "summary", "small", "mark", "u"}
CSS = CSSSanitizer()


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    """bleach's attribute filter; bleach then limits URLs to the schemes :func:`sanitize` allows."""
    if name in ("class", "id", "title", "style"):  # style: only CSSSanitizer's allowed properties survive
        return True
    if tag == "a":
        return name == "href" and not value.strip().lower().startswith("data:")
    if tag == "img":
        return name in ("alt", "width", "height") or (
            name == "src" and (not value.strip().lower().startswith("data:")
                               or value.strip().lower().startswith("data:image/")))
    return (tag in ("td", "th") and name in ("colspan", "rowspan", "align")) or (tag == "ol" and name == "start")


def sanitize(html: str | bytes) -> str:
    """An allow-list of tags, attributes, CSS properties and URL schemes: no script, event handler, iframe,
    form or ``javascript:`` URL survives; other tags are shown escaped."""
    text = html.decode() if isinstance(html, bytes) else str(html)
    return bleach.clean(text, tags=TAGS, attributes=_allowed_attribute, css_sanitizer=CSS,
                        protocols={"http", "https", "mailto", "data"}, strip_comments=True)


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter, sanitizing outputs (``sanitize_html``) and markdown cells with :func:`sanitize`."""

    sanitize_html = Bool(True, help="Sanitize the HTML of outputs (on for feedback)").tag(config=True)

    def default_filters(self):  # type: ignore[no-untyped-def]
        yield from super().default_filters()
        yield ("clean_html", sanitize)

    @pass_context
    def markdown2html(self, context: Any, source: str) -> str:
        return sanitize(super().markdown2html(context, source))


def split_source(source: str) -> tuple[str, dict[int, str]]:
    """(the source without hidden tests and evidence lines, {line number from 1: line} of the hidden region).
    A region runs from the line holding ``BEGIN HIDDEN TESTS`` to the one holding ``END HIDDEN TESTS`` (both
    removed); one left open runs to the end of the cell."""
    visible: list[str] = []
    hidden: dict[int, str] = {}
    inside = False
    for number, line in enumerate(source.split("\n"), start=1):
        if BEGIN_HIDDEN in line:
            inside = True
        if inside:
            hidden[number] = line
            inside = END_HIDDEN not in line
        elif not line.rstrip().endswith(EVIDENCE_SUFFIX):
            visible.append(line)
    return "\n".join(visible).rstrip(), hidden


def _normal(line: str) -> str:
    return FRAME_PREFIX.sub("", strip_ansi(line).strip()).strip()


def scrub(text: str, secret: set[str]) -> str:
    """``text`` with every line that quotes a line of ``secret`` (e.g. a traceback frame) replaced."""
    if not secret:
        return text
    return "\n".join(HIDDEN_LINE if _normal(line) in secret else line for line in text.split("\n"))


def is_test_cell(cell: NotebookNode) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def exercise_goal(cells: list[NotebookNode], index: int) -> str | None:
    """The heading of the nearest markdown cell above ``cells[index]`` (the exercise's statement)."""
    for cell in reversed(cells[:index]):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return None


def explain(output: NotebookNode, hidden: dict[int, str], goal: str | None) -> str:
    """What a test cell's error output says, in words, without traceback frames."""
    ename, evalue = output.get("ename", ""), str(output.get("evalue", "")).strip()
    if ename == "CheckFailed":
        return evalue or "✘ A check of this exercise failed."
    if ename == "AssertionError" and hidden:
        frame = FRAME.search(strip_ansi("\n".join(output.get("traceback", []))))
        if frame is None or int(frame.group(1)) in hidden:
            if evalue:
                return f"✘ A hidden test failed: {evalue}"
            where = f"“{goal}”" if goal else "the exercise"
            return (f"✘ A hidden test of this exercise failed. Re-read the goal of {where} and try your code on "
                    "more cases than the visible checks use.")
    head = f"✘ {ename}: {evalue}" if evalue else f"✘ {ename or 'Error'}"
    return f"{head}\n{ADVICE.get(ename, DEFAULT_ADVICE)}"


class Redact(Preprocessor):
    """Hidden tests, grader evidence and test-cell tracebacks out; failures in words; notes on restored cells."""

    enabled = Bool(True, help="Whether to apply this preprocessor (always, for feedback)").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        split = [split_source(cell.source) for cell in nb.cells]
        visible = {line.strip() for source, _ in split for line in source.split("\n")}
        secret = {line.strip() for _, hidden in split for line in hidden.values()} - visible - {""}
        cells: list[NotebookNode] = []
        for index, (cell, (source, hidden)) in enumerate(zip(nb.cells, split)):
            cell.source = source
            marks = cell.metadata.get("grader") or {}
            if marks.get("restored"):
                cells.append(nbformat.v4.new_markdown_cell(
                    "**Note:** " + RESTORED.get(marks["restored"], "The grader restored this test cell.")))
            if marks.get("zeroed"):
                cells.append(nbformat.v4.new_markdown_cell(
                    f"**Scored 0 by the grader:** {marks['zeroed']}"))
            if cell.cell_type == "code":
                self._outputs(cell, hidden, secret, exercise_goal(nb.cells, index) if is_test_cell(cell) else None)
            cells.append(cell)
        nb.cells = cells
        return nb, resources

    @staticmethod
    def _outputs(cell: NotebookNode, hidden: dict[int, str], secret: set[str], goal: str | None) -> None:
        kept: list[NotebookNode] = []
        for output in cell.get("outputs", []):
            if EVIDENCE_MIME in output.get("data", {}):
                continue
            for mime, value in output.get("data", {}).items():
                if isinstance(value, str):
                    output.data[mime] = scrub(value, secret)
            if output.get("output_type") == "stream":
                output.text = scrub(output.get("text", ""), secret)
            elif output.get("output_type") == "error":
                if is_test_cell(cell):
                    message = explain(output, hidden, goal)
                    if any(o.get("traceback") == [message] for o in kept):
                        continue
                    output.evalue, output.traceback = message, [message]
                else:
                    output.traceback = [scrub(strip_ansi(line), secret) for line in output.get("traceback", [])]
            kept.append(output)
        cell.outputs = kept


class FeedbackError(RuntimeError):
    """Nothing to give feedback on, or nbgrader failed; the message says what to do."""


def autograded_students(assignment: str, course_dir: Path = GRADER_DIR) -> list[str]:
    folder = course_dir / "autograded"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if any((p / assignment).glob("*.ipynb")))


NBGRADER_OPTIONS = [
    "--GenerateFeedback.preprocessors=grader.feedback.Redact",
    "--GenerateFeedback.preprocessors=nbgrader.preprocessors.GetGrades",
    "--GenerateFeedback.preprocessors=nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "--GenerateFeedback.exporter_class=grader.feedback.FeedbackExporter",
]


def feedback(assignment: str, course_dir: Path = GRADER_DIR, students: list[str] | None = None) -> list[Path]:
    """Write ``feedback/<student>/<assignment>/<notebook>.html`` for each autograded student (or those named);
    returns the pages written."""
    available = autograded_students(assignment, course_dir)
    first = f"run python -m grader autograde {assignment} first"
    missing = sorted(set(students or []) - set(available))
    if missing:
        raise FeedbackError(f"no autograded submission of {assignment} for {', '.join(missing)}: {first}")
    if not available:
        raise FeedbackError(f"no autograded submission of {assignment} in {course_dir / 'autograded'}: {first}")
    chosen = sorted(set(students)) if students else available
    args = ["generate_feedback", assignment, "--force", *NBGRADER_OPTIONS]
    excluded = sorted(set(available) - set(chosen))
    if excluded:
        args.append("--CourseDirectory.student_id_exclude=" + ",".join(excluded))
    done = nbgrader(args, course_dir)
    if done.returncode != 0:
        errors = [line for line in (done.stdout + done.stderr).splitlines() if "ERROR" in line or "Error" in line]
        raise FeedbackError(f"nbgrader generate_feedback {assignment} failed (exit {done.returncode}):\n"
                            + "\n".join(errors[-10:] or (done.stdout + done.stderr).splitlines()[-10:]))
    return [page for student in chosen
            for page in sorted((course_dir / "feedback" / student / assignment).glob("*.html"))]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment")
    parser.add_argument("--student", action="append", help="only these students (repeat)")
    parser.add_argument("--course-dir", type=absolute, default=GRADER_DIR, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Write the pages and print their paths: 0, 1 (nothing autograded, or nbgrader failed), 2 (unknown
    assignment)."""
    course_dir: Path = args.course_dir
    if not (course_dir / "source" / args.assignment).is_dir() and not any(
            (course_dir / "autograded").glob(f"*/{glob.escape(args.assignment)}")):
        print(f"feedback: no such assignment: {args.assignment}", file=sys.stderr)
        return 2
    try:
        pages = feedback(args.assignment, course_dir, args.student)
    except FeedbackError as exc:
        print(f"feedback: {exc}", file=sys.stderr)
        return 1
    for page in pages:
        print(os.path.relpath(page) if page.is_relative_to(Path.cwd()) else page)
    if not args.student:
        graded = set(autograded_students(args.assignment, course_dir))
        submitted = {p.parent.name for p in (course_dir / "submitted").glob(f"*/{glob.escape(args.assignment)}")}
        for student in sorted(submitted - graded):
            print(f"feedback: no page for {student}: submitted but not autograded", file=sys.stderr)
    return 0
