"""`python -m grader feedback`: learners' feedback pages without hidden tests or tracebacks, failures in words,
scores shown, nothing a learner wrote able to run script in the page.

The slow tests autograde two submissions of chapter 00-welcome in a real course directory (the solutions, and a
failing one) and read the pages; the others run the preprocessor and the exporter on hand-made notebooks."""

from __future__ import annotations

import html
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from nbgrader.api import Gradebook

from grader import autograde, cli, feedback, release, sandbox
from tests.notebooks import SOURCE, course_with_solutions

ASSIGNMENT = "00-welcome"
SETTINGS = autograde.Settings(sandbox.Limits(wall_seconds=60, cpu_seconds=60, memory_mb=1024, processes=64),
                              cell_timeout=20)
# passes the visible checks of test-00-2 (a dot, both sides...) but not the hidden ones ("." is accepted)
WRONG_SPLIT = ('def split_handler(setting):\n    if "." not in setting:\n        raise ValueError(setting)\n'
               '    module, _, function = setting.rpartition(".")\n    return module, function\n')
HOSTILE_MARKDOWN = '<script>alert("markdown")</script>\n\n<img src="x" onerror="alert(\'md-img\')">'
HOSTILE_OUTPUTS = ("from IPython.display import HTML, Javascript, display\n"
                   "display(HTML('<img src=\"x\" onerror=\"alert(1)\"><script>alert(\"html\")</script>'))\n"
                   "display(Javascript('alert(\"javascript\")'))\n")
BEGIN, END = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"


@dataclass
class Run:
    course: Path
    pages: list[Path]
    seconds: float


def _cell(nb: nbformat.NotebookNode, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _failing_submission(released: Path, folder: Path) -> None:
    """A visible check fails (ex-00-1), a hidden test fails (ex-00-2, answer-00-4), one exercise left blank
    (ex-00-3), a test cell deleted (test-00-4: the grader restores it), and a markdown cell and outputs that try
    to run script."""
    shutil.copytree(released, folder)
    path = folder / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(path, as_version=4)
    _cell(nb, "ex-00-1").source = 'def handler(event, context):\n    return {"greeting": "Hello, Ada!"}\n'
    _cell(nb, "ex-00-2").source = WRONG_SPLIT
    _cell(nb, "answer-00-4").source = 'answer_00_4 = "c"\n'
    nb.cells.remove(_cell(nb, "test-00-4"))
    nb.cells[1:1] = [new_markdown_cell(HOSTILE_MARKDOWN), new_code_cell(HOSTILE_OUTPUTS)]
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Run:
    course, released = course_with_solutions(tmp_path_factory.mktemp("course"), ASSIGNMENT)
    _failing_submission(released, course / "submitted" / "failing" / ASSIGNMENT)
    results = autograde.autograde(ASSIGNMENT, course, jobs=2, settings=SETTINGS, progress=False)
    print(autograde.summary(results))
    started = time.monotonic()
    pages = feedback.feedback(ASSIGNMENT, course)
    seconds = time.monotonic() - started
    print(f"feedback of {len(pages)} student(s): {seconds:.1f} s")
    return Run(course, pages, seconds)


def _text(page: Path) -> str:
    """What the page shows: its body without style and script elements, tags removed (syntax highlighting splits
    code into spans), entities decoded."""
    body = page.read_text().split("<body", 1)[1]
    body = re.sub(r"<(style|script)\b.*?</\1>", "", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", body))


def _hidden_lines() -> set[str]:
    """Every non-blank line of every hidden block of the instructor notebook (markers included), stripped, except
    lines that also appear outside the hidden blocks (e.g. ``try:``)."""
    nb = nbformat.read(SOURCE / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    pattern = re.compile(re.escape(BEGIN) + r".*?(?:" + re.escape(END) + r"|\Z)", re.S)
    hidden, visible = set(), set()
    for cell in nb.cells:
        for block in pattern.findall(cell.source):
            hidden |= {line.strip() for line in block.splitlines() if line.strip()}
        visible |= {line.strip() for line in pattern.sub("", cell.source).splitlines()}
    assert len(hidden) > 8, "the chapter has hidden tests"
    return hidden - visible


def _leaks(text: str) -> list[str]:
    return sorted(line for line in _hidden_lines() if line in text)


def _page(run: Run, student: str) -> Path:
    return run.course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"


def _grades(course: Path, student: str) -> tuple[float, float, dict[str, tuple[float, float]]]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, student)
        grades = {g.name: (g.score, g.max_score) for nb in submission.notebooks for g in nb.grades}
        return submission.score, submission.max_score, grades


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_pages_written_for_each_student(run) -> None:
    assert run.pages == [_page(run, "failing"), _page(run, "solutions")]
    assert run.seconds < 60


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("student", ["failing", "solutions"])
def test_no_hidden_test_and_no_traceback(run, student) -> None:
    text = _text(_page(run, student))
    assert _leaks(text) == []
    assert "HIDDEN TESTS" not in text
    assert "Traceback" not in text
    assert "grader evidence" not in text


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_grep_finds_hidden_tests_in_nbgrader_plain_feedback(run) -> None:
    """Must-fail demonstration: the same grep on nbgrader's own generate_feedback output finds every line."""
    done = release.nbgrader(["generate_feedback", ASSIGNMENT, "--force", "--student", "failing",
                             "--CourseDirectory.feedback_directory=plain-feedback"], run.course)
    assert done.returncode == 0, done.stdout + done.stderr
    text = _text(run.course / "plain-feedback" / "failing" / ASSIGNMENT / f"{ASSIGNMENT}.html")
    assert _leaks(text) == sorted(_hidden_lines())
    assert "Traceback" in text


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_failures_are_said_in_words(run) -> None:
    text = _text(_page(run, "failing"))
    assert "✘ handler greets World when the event has no name" in text  # the failed visible check's report
    assert "expected: {'greeting': 'Hello, World!'}" in text
    assert "✘ NotImplementedError" in text and "replace `raise NotImplementedError()` with your code" in text
    autograded = nbformat.read(run.course / "autograded" / "failing" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    hidden_messages = [o.evalue for o in _cell(autograded, "test-00-2").outputs if o.output_type == "error"]
    assert hidden_messages and hidden_messages[0] and "should raise ValueError" in hidden_messages[0]
    for grade_id in ("test-00-2", "test-00-4"):
        for output in _cell(autograded, grade_id).outputs:
            if output.output_type == "error":
                assert output.ename == "AssertionError"
                assert (f"✘ A hidden test failed: {output.evalue.strip()}" in text if output.evalue.strip()
                        else "✘ A hidden test of this exercise failed" in text)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_restored_test_cells_are_noted(run) -> None:
    autograded = nbformat.read(run.course / "autograded" / "failing" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    restored = {c.metadata["nbgrader"]["grade_id"]: c.metadata["grader"]["restored"] for c in autograded.cells
                if c.metadata.get("grader", {}).get("restored")}
    assert restored.get("test-00-4") == "deleted", "the grader restores a deleted test cell"
    text = _text(_page(run, "failing"))
    for how in restored.values():
        assert feedback.RESTORED[how] in text
    assert feedback.RESTORED["deleted"] in text.split("Grade cell: test-00-4")[0][-400:]  # just above it
    assert not any(r in _text(_page(run, "solutions")) for r in feedback.RESTORED.values())


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("student", ["failing", "solutions"])
def test_scores_shown(run, student) -> None:
    text = _text(_page(run, student))
    score, max_score, grades = _grades(run.course, student)
    assert f"{ASSIGNMENT} (Score: {float(score)} / {float(max_score)})" in text
    for got, points in grades.values():
        assert f"Score: {float(got)} / {float(points)}" in text
    if student == "solutions":
        assert score == max_score == 6
        assert "output_error" not in _page(run, student).read_text()
    else:
        assert score < max_score


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_learner_html_runs_no_script(run) -> None:
    """The learner's markdown cell and HTML/JavaScript outputs reach the page, but not as script."""
    page = _page(run, "failing").read_text()
    assert '&lt;script&gt;alert("markdown")' in page  # shown, escaped
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S):
        assert "alert" not in script
    assert not re.search(r"<[a-z]+[^>]*\son[a-z]+\s*=", page), "no event handler attribute"


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_cli(run, capsys, tmp_path) -> None:
    assert cli.main(["feedback", ASSIGNMENT, "--course-dir", str(run.course), "--student", "solutions"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"feedback/solutions/{ASSIGNMENT}/{ASSIGNMENT}.html")
    assert cli.main(["feedback", ASSIGNMENT, "--course-dir", str(run.course), "--student", "nobody"]) == 1
    assert f"run python -m grader autograde {ASSIGNMENT} first" in capsys.readouterr().err
    (tmp_path / "source" / ASSIGNMENT).mkdir(parents=True)
    assert cli.main(["feedback", ASSIGNMENT, "--course-dir", str(tmp_path)]) == 1
    assert f"run python -m grader autograde {ASSIGNMENT} first" in capsys.readouterr().err
    assert cli.main(["feedback", "99-nothing", "--course-dir", str(tmp_path)]) == 2


# --- fast: the preprocessor and the exporter on hand-made notebooks ---

ANSI_TRACEBACK = ["\x1b[31m------------------------------------------------------\x1b[39m",
                  "\x1b[31mAssertionError\x1b[39m    Traceback (most recent call last)",
                  "\x1b[36mCell\x1b[39m \x1b[32mIn[7]\x1b[39m\x1b[32m, line {line}\x1b[39m\n"
                  "\x1b[32m----> {line}\x1b[39m assert secret_check(answer) == 42",
                  "\x1b[31mAssertionError\x1b[39m: "]


def _error(ename: str, evalue: str, line: int = 4) -> nbformat.NotebookNode:
    return new_output("error", ename=ename, evalue=evalue,
                      traceback=[t.format(line=line) for t in ANSI_TRACEBACK])


def _test_cell(grade_id: str, outputs: list, restored: str | None = None) -> nbformat.NotebookNode:
    cell = new_code_cell(
        'course.check("answer is set", answer is not None)\n### BEGIN HIDDEN TESTS\n'
        "assert secret_check(answer) == 42\n### END HIDDEN TESTS\n"
        f'__import__("grader.evidence", fromlist=["emit"]).emit("{grade_id}", "9c1f")  # grader evidence',
        outputs=outputs)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": True, "points": 1,
                                 "solution": False, "schema_version": 3}
    if restored:
        cell.metadata["grader"] = {"restored": restored}
    return cell


def _hand_made() -> nbformat.NotebookNode:
    evidence = new_output("display_data", data={feedback.EVIDENCE_MIME: {"id": "t-1"}, "text/plain": "ev"})
    learner = new_code_cell("secret_check(answer)", outputs=[new_output(
        "error", ename="NameError", evalue="name 'x' is not defined",
        traceback=["\x1b[31mNameError\x1b[39m: name 'x' is not defined",
                   "\x1b[32m----> 3\x1b[39m assert secret_check(answer) == 42"])])
    return new_notebook(cells=[
        new_markdown_cell("## Exercise 1 — the answer\n\nSet `answer`."),
        new_code_cell("answer = 41"),
        _test_cell("t-1", [evidence, _error("AssertionError", "answer should be 42")], restored="deleted"),
        _test_cell("t-2", [_error("AssertionError", "")], restored="edited"),
        _test_cell("t-3", [_error("CheckFailed", "✘ answer is set\n  expected: a value\n  actual:   None")],
                   restored="metadata"),
        _test_cell("t-4", [_error("AssertionError", "from the learner's code", line=1)]),
        _test_cell("t-5", [_error("NameError", "name 'answer' is not defined", line=1)]),
        learner,
    ])


def test_redact_hand_made_notebook() -> None:
    nb, _ = feedback.Redact().preprocess(_hand_made(), {})
    notes = [c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("**Note:**")]
    assert notes == ["**Note:** " + feedback.RESTORED[k] for k in ("deleted", "edited", "metadata")]
    assert "missing from your submission; the grader put it back" in notes[0]
    tests = [c for c in nb.cells if feedback.is_test_cell(c)]
    assert len(tests) == 5
    for cell in tests:
        assert cell.source == 'course.check("answer is set", answer is not None)'
        assert all(feedback.EVIDENCE_MIME not in o.get("data", {}) for o in cell.outputs)
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert len(errors) == 1 and len(errors[0].traceback) == 1
        assert "Traceback" not in errors[0].traceback[0] and "secret_check" not in errors[0].traceback[0]
        assert "\x1b" not in errors[0].traceback[0]
    said = [next(o for o in c.outputs if o.output_type == "error").traceback[0] for c in tests]
    assert said[0] == "✘ A hidden test failed: answer should be 42"
    assert said[1].startswith("✘ A hidden test of this exercise failed. Re-read the goal of “Exercise 1 — the "
                              "answer”")
    assert said[2] == "✘ answer is set\n  expected: a value\n  actual:   None"
    assert said[3].startswith("✘ AssertionError: from the learner's code\n")  # raised on a visible line
    assert said[4].startswith("✘ NameError: name 'answer' is not defined\nThe test uses a name")
    learner = nb.cells[-1]
    assert learner.outputs[0].traceback == ["NameError: name 'x' is not defined", feedback.HIDDEN_LINE]


def test_a_cell_the_grader_scored_0_says_why() -> None:
    nb = _hand_made()
    nb.cells[2].metadata["grader"]["zeroed"] = "this test did not run to its end, although it showed no error."
    nb, _ = feedback.Redact().preprocess(nb, {})
    index = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "Scored 0" in c.source)
    assert nb.cells[index].source == ("**Scored 0 by the grader:** this test did not run to its end, although it "
                                      "showed no error.")
    assert nb.cells[index + 1].metadata["nbgrader"]["grade_id"] == "t-1"


def test_split_source_markers_and_evidence() -> None:
    source = "a = 1\n### BEGIN HIDDEN TESTS\nassert a\n### END HIDDEN TESTS\nb = 2\nemit()  # grader evidence"
    assert feedback.split_source(source) == ("a = 1\nb = 2", {2: "### BEGIN HIDDEN TESTS", 3: "assert a",
                                                               4: "### END HIDDEN TESTS"})
    assert feedback.split_source("x\n### BEGIN HIDDEN TESTS\nassert x")[0] == "x"  # an open region: to the end


def test_exporter_sanitizes_markdown_and_outputs() -> None:
    nb = new_notebook(cells=[
        new_markdown_cell("# Title\n\n" + HOSTILE_MARKDOWN + "\n\n[link](javascript:alert('link'))"),
        new_code_cell("x", outputs=[
            new_output("display_data", data={"text/html": '<table><tr><td style="color: red; '
                                                          'background: url(x)">cell</td></tr></table>'
                                                          '<img src=x onerror="alert(1)"><script>alert(2)</script>'}),
            new_output("display_data", data={"application/javascript": "alert('js')"}),
        ]),
    ])
    page, _ = feedback.FeedbackExporter(template_name="classic").from_notebook_node(nb)
    body = page.split("<body", 1)[1]
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", body, re.S):
        assert "alert" not in script
    assert not re.search(r"<[a-z]+[^>]*\son[a-z]+\s*=", body)
    assert "javascript:" not in body and "url(" not in body
    assert "<h1" in body and "<table>" in body and "color: red" in body  # ordinary HTML still renders
