"""A learner's path through each chapter, in JupyterLab in a real browser: run all cells, answer a quiz wrongly then
rightly, write one exercise and see its visible check pass. Screenshots: test-artifacts/browser/<chapter>-<step>.png.

The right answers come from the instructor's files (grader/quizzes/NN.yml, the solutions in grader/source/), so
these tests follow the content.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest

from tests.browser import lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass(frozen=True)
class LearnerPath:
    quiz: str  # a self-check question of the chapter
    exercise: str  # grade_id of an exercise cell with a short solution
    check: str  # grade_id of its visible check


PATHS = {
    "00-welcome": LearnerPath("00.1", "ex-00-3", "test-00-3"),
    "01-custom-runtimes-in-context": LearnerPath("01.1", "ex-01-1", "test-01-1"),
    # the check starts its own emulator; the chapter's setup cell (imports, the emulator) runs in "Run All"
    "02-runtime-api-by-hand": LearnerPath("02.1", "ex-02-2", "test-02-2"),
    "03-your-first-bootstrap": LearnerPath("03.1", "ex-03-3", "test-03-3"),
}


def test_every_chapter_has_a_path() -> None:
    assert sorted(PATHS) == sorted(p.name for p in lab.NOTEBOOKS.iterdir() if any(p.glob("*.ipynb")))


@pytest.mark.parametrize("chapter", sorted(PATHS))
def test_learner_path(chapter, learner_lab, page, console) -> None:
    started = time.time()
    path = PATHS[chapter]
    notebook = learner_lab.root_dir / chapter / f"{chapter}.ipynb"
    shots = []

    # 1. Open the chapter and run all cells: they run until the first blank exercise raises NotImplementedError
    # (in the exercise cell, or in its check when the stub is inside a function), where "Run All" stops.
    lab.open_notebook(page, learner_lab, f"{chapter}/{chapter}.ipynb")
    shots.append(lab.screenshot(page, f"{chapter}-opened"))
    lab.run_all(page)
    stopped_at = None
    for index in lab.code_cell_indices(notebook):
        assert re.fullmatch(r"\[\d+\]:", lab.prompt(page, index)), f"cell {index} did not run"
        if lab.error_output(page, index):
            stopped_at = index
            break
    assert stopped_at is not None, "every cell ran without an error, blank exercises included"
    assert stopped_at in lab.exercise_and_check_indices(notebook), \
        f"cell {stopped_at}, not an exercise, failed:\n{lab.error_output(page, stopped_at)}"
    assert "NotImplementedError" in lab.error_output(page, stopped_at), lab.error_output(page, stopped_at)
    lab.cell(page, stopped_at).scroll_into_view_if_needed()
    shots.append(lab.screenshot(page, f"{chapter}-run-all"))

    # 2. A quiz: a wrong answer, then the right one with its explanation.
    quiz_cell = lab.cell_index(notebook, contains=f'course.quiz("{path.quiz}")')
    if not re.fullmatch(r"\[\d+\]:", lab.prompt(page, quiz_cell)):  # "Run All" stopped above it
        lab.run_cell(page, quiz_cell)
    widget = lab.quiz(page, quiz_cell)
    right, explanation = lab.quiz_answer(path.quiz)
    wrong = next(letter for letter in lab.quiz_choices(path.quiz) if letter != right)
    lab.expect_quiz_feedback(page, widget, wrong, right=False)
    widget.scroll_into_view_if_needed()
    shots.append(lab.screenshot(page, f"{chapter}-quiz-wrong"))
    lab.expect_quiz_feedback(page, widget, right, right=True, explanation=explanation)
    widget.scroll_into_view_if_needed()
    shots.append(lab.screenshot(page, f"{chapter}-quiz-right"))

    # 3. An exercise: the check fails on the stub; type the solution, run it and its check: the check passes.
    exercise = lab.cell_index(notebook, grade_id=path.exercise)
    check = lab.cell_index(notebook, grade_id=path.check)
    lab.set_cell_text(page, exercise, lab.solution(chapter, path.exercise))
    lab.run_cell(page, exercise)
    assert not lab.error_output(page, exercise), lab.error_output(page, exercise)
    lab.run_cell(page, check)
    lab.expect_check_passes(page, check)
    lab.cell(page, check).scroll_into_view_if_needed()
    shots.append(lab.screenshot(page, f"{chapter}-check-passed"))

    console.expect_no_errors()
    for shot in shots:  # written by this run, not left over from an earlier one
        assert shot.stat().st_size > 0 and shot.stat().st_mtime >= started - 1, shot
