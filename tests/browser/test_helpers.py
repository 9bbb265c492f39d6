"""The helpers of the browser tests catch what they are there to catch: a quiz whose feedback text is wrong, a check
that raises, an error in the browser console. Each test builds a small notebook that is broken on purpose."""

from __future__ import annotations

import nbformat
import pytest

from tests.browser import lab

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def write_notebook(folder, name: str, cells: list[str]) -> str:
    """A notebook of code cells (with a kernelspec: without one, JupyterLab asks for a kernel)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    folder.mkdir(exist_ok=True)
    nbformat.write(nb, folder / name)
    return f"{folder.name}/{name}"


def test_quiz_assertion_fails_on_wrong_feedback_text(learner_lab, page) -> None:
    """A quiz that answers "Correct." / "Wrong." instead of the course's texts fails expect_quiz_feedback."""
    path = write_notebook(learner_lab.root_dir / "selftest", "broken-quiz.ipynb", [
        "import course\nimport course.quizzes\n\n"
        "course.quizzes.RIGHT, course.quizzes.MISSED = 'Correct.', 'Wrong.'  # broken on purpose",
        'course.quiz("00.1")',
        "course.quizzes.RIGHT, course.quizzes.MISSED = 'You are right!', 'You missed! Try again.'  # repaired",
    ])
    lab.open_notebook(page, learner_lab, path)
    lab.run_cell(page, 0)
    lab.run_cell(page, 1)
    widget = lab.quiz(page, 1)
    right, explanation = lab.quiz_answer("00.1")
    wrong = next(letter for letter in lab.quiz_choices("00.1") if letter != right)

    with pytest.raises(AssertionError, match="expected 'You missed! Try again.', the quiz said 'Wrong.'"):
        lab.expect_quiz_feedback(page, widget, wrong, right=False)
    with pytest.raises(AssertionError, match="expected 'You are right!', the quiz said .Correct\\."):
        lab.expect_quiz_feedback(page, widget, right, right=True, explanation=explanation)
    lab.screenshot(page, "selftest-broken-quiz")

    # repaired, the quiz passes; an explanation other than the promised one still fails
    lab.run_cell(page, 2)
    lab.expect_quiz_feedback(page, widget, wrong, right=False)
    lab.expect_quiz_feedback(page, widget, right, right=True, explanation=explanation)
    lab.expect_quiz_feedback(page, widget, wrong, right=False)
    with pytest.raises(AssertionError, match="the explanation is missing"):
        lab.expect_quiz_feedback(page, widget, right, right=True, explanation="An explanation the quiz doesn't give.")


def test_check_assertion_fails_when_the_check_raises(learner_lab, page) -> None:
    """A check that raises CheckFailed (✘, even after a ✔) or any other exception fails expect_check_passes; the
    same check passes once the exercise is right."""
    path = write_notebook(learner_lab.root_dir / "selftest", "failing-check.ipynb", [
        "import course",
        "def double(x):\n    return x + 2  # wrong on purpose: right for 2 only",
        'course.check_equal("double(2) is 4", double(2), 4)\n'
        'course.check_equal("double(3) is 6", double(3), 6, hint="x * 2")',
        'raise RuntimeError("a check that crashes")',
    ])
    lab.open_notebook(page, learner_lab, path)
    lab.run_all(page)

    with pytest.raises(AssertionError, match=r"✘ double\(3\) is 6"):
        lab.expect_check_passes(page, 2)
    lab.cell(page, 2).scroll_into_view_if_needed()
    lab.screenshot(page, "selftest-failing-check")
    lab.run_cell(page, 3)
    with pytest.raises(AssertionError, match="RuntimeError: a check that crashes"):
        lab.expect_check_passes(page, 3)

    lab.set_cell_text(page, 1, "def double(x):\n    return x * 2")
    lab.run_cell(page, 1)
    lab.run_cell(page, 2)
    assert "✔ double(3) is 6" in lab.expect_check_passes(page, 2)


def test_console_errors_fail(page, console) -> None:
    page.set_content("<script>console.error('broken on purpose')</script>")
    page.set_content("<script>throw new Error('thrown on purpose')</script>")
    with pytest.raises(AssertionError, match="(?s)broken on purpose.*thrown on purpose"):
        console.expect_no_errors()
