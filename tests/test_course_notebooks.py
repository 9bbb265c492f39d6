"""Every chapter, as authored (grader/source) and as released (notebooks/): structure, execution, no leaks."""

from __future__ import annotations

import ast
import json
import re

import nbformat
import pytest

from grader import release
from tests.notebooks import (
    NOTEBOOKS,
    SOURCE,
    assignments,
    errors,
    execute,
    grading,
    is_exercise,
    label,
    notebook_path,
    stderr,
)

ASSIGNMENTS = assignments()
pytestmark = pytest.mark.timeout(600)


def test_there_are_chapters() -> None:
    assert "00-welcome" in ASSIGNMENTS


@pytest.mark.parametrize("base", [SOURCE, NOTEBOOKS], ids=["source", "release"])
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_clean(base, assignment) -> None:
    """No outputs, a kernelspec, unique cell ids, valid nbformat."""
    nb = nbformat.read(notebook_path(base, assignment), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    ids = [cell.id for cell in nb.cells]
    assert len(ids) == len(set(ids)), "duplicate cell ids"
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{label(cell, index)} has outputs"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_chapter_structure(assignment) -> None:
    """A goal at the top, >= 3 graded exercises, >= 3 quiz questions, a summary."""
    nb = nbformat.read(notebook_path(SOURCE, assignment), as_version=4)
    first = nb.cells[0].source
    assert first.startswith("# ") and "Goal" in first, "the first cell states the chapter's goal"
    graded = [c for c in nb.cells if grading(c).get("grade")]
    exercises = [c for c in graded if "answer_" not in c.source]
    assert len(exercises) >= 3, f"{len(exercises)} graded exercises"
    quizzes = [c for c in nb.cells if c.cell_type == "code" and re.search(r"course\.quiz\(\"\d\d\.\d+\"\)", c.source)]
    answers = [c for c in graded if "answer_" in c.source]
    assert len(quizzes) + len(answers) >= 3, "at least 3 quiz questions"
    assert answers, "at least one graded (answer-as-code) question"
    assert any(c.cell_type == "markdown" and c.source.startswith("## Summary") for c in nb.cells)
    for cell in graded:
        assert "### BEGIN HIDDEN TESTS" in cell.source, f"{grading(cell)['grade_id']} has no hidden tests"


def test_quiz_ids_exist() -> None:
    from course.quizzes import get_question

    for assignment in ASSIGNMENTS:
        nb = nbformat.read(notebook_path(SOURCE, assignment), as_version=4)
        for cell in nb.cells:
            for question_id in re.findall(r"course\.quiz\(\"(\d\d\.\d+)\"\)", cell.source):
                assert get_question(question_id).id == question_id


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_instructor_notebook_runs_clean(assignment, tmp_path) -> None:
    """With the solutions, every cell runs: no error, and no stderr in a test cell (nbgrader would score it 0)."""
    work = tmp_path / assignment
    import shutil

    shutil.copytree(SOURCE / assignment, work)
    nb = execute(notebook_path(tmp_path, assignment), allow_errors=False)
    for index, cell in enumerate(nb.cells):
        if grading(cell).get("grade"):
            assert not stderr(cell), f"{label(cell, index)} wrote to stderr: {stderr(cell)[:300]}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_learner_notebook_fails_only_where_expected(assignment, tmp_path) -> None:
    """Blank exercises: errors only in exercise and test cells, and every visible test fails."""
    import shutil

    shutil.copytree(NOTEBOOKS / assignment, tmp_path / assignment)
    nb = execute(notebook_path(tmp_path, assignment), allow_errors=True)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if not is_exercise(cell):
            assert not errors(cell), f"{label(cell, index)} fails outside an exercise: {errors(cell)}"
        if grading(cell).get("grade"):
            assert errors(cell), f"{label(cell, index)}: a visible test passes on the blank exercise"


@pytest.mark.slow
def test_release_is_current() -> None:
    """notebooks/ and course/quizbank/ are what `python -m grader release` makes of grader/."""
    assert release.stale() == []


def _hidden_blocks(source: str) -> list[str]:
    return re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", source, flags=re.S)


def _solution_blocks(source: str) -> list[str]:
    return re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", source, flags=re.S)


def _released_text() -> str:
    parts = []
    for path in NOTEBOOKS.rglob("*"):
        if path.is_file():
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
    return "\n".join(parts)


def _literals(code: str) -> set[str]:
    found = set()
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) >= 6:
            found.add(node.value)
    return found


def _visible_source(nb: nbformat.NotebookNode) -> str:
    """The instructor notebook's text without its hidden tests and solutions: what may legitimately be released."""
    text = "\n".join(cell.source for cell in nb.cells)
    text = re.sub(r"### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS", "", text, flags=re.S)
    return re.sub(r"### BEGIN SOLUTION\n.*?### END SOLUTION", "", text, flags=re.S)


def test_no_hidden_test_or_answer_is_released() -> None:
    """Hidden tests' lines and string literals, and graded answers, appear nowhere in notebooks/ (unless the
    visible part of a chapter says them too: a literal of a problem statement is no secret)."""
    released = _released_text()
    assert "BEGIN HIDDEN TESTS" not in released and "BEGIN SOLUTION" not in released
    notebooks = {a: nbformat.read(notebook_path(SOURCE, a), as_version=4) for a in ASSIGNMENTS}
    visible = "\n".join(_visible_source(nb) for nb in notebooks.values())
    for assignment, nb in notebooks.items():
        for cell in nb.cells:
            for block in _hidden_blocks(cell.source):
                for line in block.splitlines():
                    line = line.strip()
                    if len(line) > 12 and not line.startswith("#") and line not in visible:
                        assert line not in released, f"{assignment}: hidden test line released: {line}"
                for literal in _literals(block) - {lit for lit in _literals(block) if lit in visible}:
                    assert literal not in released and json.dumps(literal)[1:-1] not in released, \
                        f"{assignment}: a hidden test's literal is released: {literal!r}"
                for name, value in re.findall(r"(answer_\w+)\s*==\s*(['\"]\w+['\"])", block):
                    assert not re.search(rf"{name}\s*=\s*{re.escape(value)}", released), \
                        f"{assignment}: the answer of {name} is released"
            if grading(cell).get("solution"):
                for block in _solution_blocks(cell.source):
                    for name, value in re.findall(r"(answer_\w+)\s*=\s*(['\"]\w+['\"])", block):
                        assert not re.search(rf"{name}\s*=\s*{re.escape(value)}", released), \
                            f"{assignment}: the answer of {name} is released"
