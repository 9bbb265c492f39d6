"""nbgrader autograde on a real course directory: the instructor's solutions score full marks, a blank submission
scores 0 on every graded cell, and the run completes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from nbgrader.api import Gradebook

from grader import release
from tests.notebooks import SOURCE, assignments

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    """A course directory where every assignment was released, submitted twice (solutions, blank), autograded."""
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(SOURCE, course / "source")
    shutil.copy2(release.GRADER_DIR / "nbgrader_config.py", course / "nbgrader_config.py")
    for assignment in assignments():
        released = release.generate(assignment, course)
        shutil.copytree(SOURCE / assignment, course / "submitted" / "solutions" / assignment)
        shutil.copytree(released, course / "submitted" / "blank" / assignment)
        done = release.nbgrader(["autograde", assignment], course)
        assert done.returncode == 0, f"autograde {assignment} failed:\n{done.stdout}\n{done.stderr}"
    return course


def _scores(course: Path, assignment: str, student: str) -> tuple[float, float, list[tuple[str, float, float]]]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(assignment, student)
        cells = [(grade.name, grade.score, grade.max_score)
                 for notebook in submission.notebooks for grade in notebook.grades]
        return submission.score, submission.max_score, cells


@pytest.mark.parametrize("assignment", assignments())
def test_solutions_score_full_marks(graded, assignment) -> None:
    score, max_score, cells = _scores(graded, assignment, "solutions")
    assert max_score > 0
    assert score == max_score, f"cells below full marks: {[c for c in cells if c[1] != c[2]]}"


@pytest.mark.parametrize("assignment", assignments())
def test_blank_submission_scores_zero_everywhere(graded, assignment) -> None:
    score, _, cells = _scores(graded, assignment, "blank")
    assert cells, "the blank submission was graded"
    assert score == 0 and all(c[1] == 0 for c in cells), f"cells above 0: {[c for c in cells if c[1]]}"
