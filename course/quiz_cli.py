"""The quiz in a terminal: `python -m course quiz 02`."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from typing import TextIO

from .quizzes import Attempt, Question, load_bank


def ask(question: Question, read: Callable[[str], str], out: TextIO) -> bool:
    """Ask until right (or the learner types q). Returns whether it was answered right."""
    out.write(f"\nQuiz {question.id}. " + textwrap.fill(question.text, 100) + "\n")
    for letter, text in question.choices.items():
        out.write(f"  {letter}) {text}\n")
    attempt = Attempt(question)
    letters = "/".join(question.choices)
    while True:
        try:
            choice = read(f"Your answer ({letters}, q to quit): ").strip().lower()
        except EOFError:
            return False
        if choice == "q":
            return False
        feedback = attempt.submit(choice or None)
        out.write(feedback.message + "\n")
        if feedback.right:
            out.write(textwrap.fill(feedback.explanation, 100) + "\n")
            return True


def run(chapter: str, read: Callable[[str], str] = input, out: TextIO = sys.stdout) -> int:
    try:
        questions = load_bank(chapter)
    except LookupError as exc:
        out.write(f"{exc}\n")
        return 2
    right = 0
    for question in questions:
        if not ask(question, read, out):
            out.write("Stopped.\n")
            break
        right += 1
    out.write(f"\n{right} of {len(questions)} questions answered.\n")
    return 0
