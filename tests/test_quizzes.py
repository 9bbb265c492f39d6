"""Quizzes (model, widget, terminal), checks and hints of the course package."""

from __future__ import annotations

import json
import subprocess
import sys

import nbclient
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from course import checks, hints, quizzes
from course.quiz_widget import QuizWidget
from course.quizzes import MISSED, RIGHT, Attempt, Question
from grader import quizbank

QUESTION = Question.seal("99.1", "Which file does Lambda start?", {"a": "python3", "b": "bootstrap", "c": "init"},
                         "b", "Lambda starts the executable named bootstrap.")


def test_right_answer_says_right_and_explains() -> None:
    feedback = Attempt(QUESTION).submit("b")
    assert (feedback.right, feedback.message) == (True, RIGHT)
    assert feedback.explanation == "Lambda starts the executable named bootstrap."


def test_wrong_answer_says_missed_and_hides_the_explanation() -> None:
    feedback = Attempt(QUESTION).submit("a")
    assert (feedback.right, feedback.message, feedback.explanation) == (False, MISSED, "")


def test_retry_after_a_miss_then_right() -> None:
    attempt = Attempt(QUESTION)
    assert not attempt.submit("c").right
    assert attempt.submit("b").right
    assert attempt.tries == ["c", "b"] and attempt.solved


def test_no_choice_asks_to_pick_one() -> None:
    feedback = Attempt(QUESTION).submit(None)
    assert not feedback.right and "Pick one" in feedback.message and "a, b, c" in feedback.message


def test_sealed_question_holds_no_plain_answer_or_explanation() -> None:
    text = json.dumps(QUESTION.to_json())
    assert "bootstrap." not in text and '"answer"' not in text
    assert QUESTION.explanation("a") != "Lambda starts the executable named bootstrap."


def test_seal_refuses_an_answer_that_is_not_a_choice() -> None:
    with pytest.raises(ValueError, match="not one of the choices"):
        Question.seal("99.2", "?", {"a": "x"}, "b", "")


def test_widget_feedback_right_wrong_retry() -> None:
    quiz = QuizWidget(QUESTION)
    quiz.check()
    assert "Pick one" in quiz.feedback.value
    quiz.choices.value = "a"
    quiz.check()
    assert MISSED in quiz.feedback.value and "bootstrap." not in quiz.feedback.value
    quiz.choices.value = "b"
    quiz.check()
    assert RIGHT in quiz.feedback.value and "executable named bootstrap" in quiz.feedback.value
    assert quiz.button.description == "Check" and not quiz.button.disabled  # retry stays possible


def test_every_shipped_bank_matches_its_source() -> None:
    assert quizbank.stale() == []
    for source in sorted(quizbank.SOURCE_DIR.glob("*.yml")):
        for entry in quizbank.load_source(source):
            question = quizzes.get_question(entry["id"])
            assert question.is_right(str(entry["answer"]))
            assert question.explanation(str(entry["answer"])) == entry["explanation"]
            shipped = (quizzes.BANK_DIR / f"{source.stem}.json").read_text(encoding="utf-8")
            assert entry["explanation"] not in shipped


def test_terminal_quiz_in_a_subprocess() -> None:
    """`python -m course quiz 00`: a wrong answer, then the right one, for each question."""
    questions = quizzes.load_bank("00")
    answers = []
    for question in questions:
        wrong = next(c for c in question.choices if not question.is_right(c))
        right = next(c for c in question.choices if question.is_right(c))
        answers += [wrong, right]
    done = subprocess.run([sys.executable, "-m", "course", "quiz", "00"], input="\n".join(answers) + "\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(MISSED) == len(questions) and done.stdout.count(RIGHT) == len(questions)
    assert f"{len(questions)} of {len(questions)} questions answered" in done.stdout


def test_terminal_quiz_unknown_chapter() -> None:
    done = subprocess.run([sys.executable, "-m", "course", "quiz", "97"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "No quiz for chapter" in done.stdout


def test_failed_check_explains_and_raises_an_assertion() -> None:
    with pytest.raises(AssertionError) as failure:
        checks.check("adds", 1 + 1 == 3, expected=3, actual=2, hint="use +")
    assert str(failure.value).splitlines() == ["✘ adds", "  expected: 3", "  actual:   2", "  hint:     use +"]


def test_failed_check_in_a_kernel_is_an_error_output_without_traceback() -> None:
    """In a notebook, a failed check shows its report only, and still counts as an error (for nbgrader too)."""
    nb = new_notebook(cells=[new_code_cell("import course\ncourse.check('x', False, expected=1, actual=2)"),
                             new_code_cell("course.check('y', True)")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=60).execute()
    [error] = nb.cells[0].outputs
    assert error.output_type == "error" and error.ename == "CheckFailed"
    assert error.traceback == ["✘ x\n  expected: 1\n  actual:   2"]
    assert nb.cells[1].outputs[0].text == "✔ y\n"


def test_hints_are_progressive() -> None:
    hints.reset("00.1")
    first, second, third, again = (hints.next_hint("00.1") for _ in range(4))
    assert first.startswith("Hint 1 of 3") and second.startswith("Hint 2 of 3") and third.startswith("Hint 3 of 3")
    assert again == third
    with pytest.raises(LookupError):
        hints.next_hint("00.99")
