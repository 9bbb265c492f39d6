"""Quiz questions in the style of the source material: one question, a few choices, "You are right!" or
"You missed! Try again.", retry allowed, the explanation shown after a right answer.

Self-check questions ship in ``course/quizbank/NN.json`` without a plain-text answer key: each choice is stored as a
salted hash and the explanation is encrypted with a key derived from the right answer, so it only decodes once the
right answer is given. (A determined learner can still try every choice: self-check questions are for feedback, not
for grades. Graded questions are answered in code and checked by nbgrader's hidden tests.)
The banks are generated from the instructor's ``grader/quizzes/NN.yml`` by ``python -m grader release``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

RIGHT = "You are right!"
MISSED = "You missed! Try again."
BANK_DIR = Path(__file__).parent / "quizbank"
SALT = "lambda-custom-runtimes-hands-on"


def answer_digest(question_id: str, choice: str) -> str:
    return hashlib.sha256(f"{SALT}:{question_id}:{choice}".encode()).hexdigest()


def _keystream(key: bytes, length: int) -> bytes:
    blocks, counter = [], 0
    while sum(map(len, blocks)) < length:
        blocks.append(hashlib.sha256(key + counter.to_bytes(4, "big")).digest())
        counter += 1
    return b"".join(blocks)[:length]


def _xor(data: bytes, key: bytes) -> bytes:
    return bytes(a ^ b for a, b in zip(data, _keystream(key, len(data))))


def _explanation_key(question_id: str, answer: str) -> bytes:
    return hashlib.sha256(f"{SALT}:{question_id}:{answer}:explanation".encode()).digest()


def seal_explanation(question_id: str, answer: str, explanation: str) -> str:
    return base64.b64encode(_xor(explanation.encode(), _explanation_key(question_id, answer))).decode()


def open_explanation(question_id: str, answer: str, sealed: str) -> str:
    return _xor(base64.b64decode(sealed), _explanation_key(question_id, answer)).decode("utf-8", "replace")


@dataclass(frozen=True)
class Question:
    """One self-check question as the learner's package holds it (no plain answer)."""

    id: str
    text: str
    choices: dict[str, str]  # letter -> text, in display order
    answer_digest: str
    sealed_explanation: str

    def is_right(self, choice: str) -> bool:
        return answer_digest(self.id, choice) == self.answer_digest

    def explanation(self, right_choice: str) -> str:
        return open_explanation(self.id, right_choice, self.sealed_explanation)

    @classmethod
    def seal(cls, id: str, text: str, choices: dict[str, str], answer: str, explanation: str) -> Question:
        """Build the shipped form from the instructor's plain question."""
        if answer not in choices:
            raise ValueError(f"question {id}: the answer {answer!r} is not one of the choices {list(choices)}")
        return cls(id, text, dict(choices), answer_digest(id, answer), seal_explanation(id, answer, explanation))

    def to_json(self) -> dict:
        return {"id": self.id, "text": self.text, "choices": self.choices, "answer_digest": self.answer_digest,
                "sealed_explanation": self.sealed_explanation}


@dataclass
class Feedback:
    right: bool
    message: str  # RIGHT or MISSED, or what to do
    explanation: str = ""


@dataclass
class Attempt:
    """A learner's go at one question: any number of tries, the explanation once right."""

    question: Question
    tries: list[str] = field(default_factory=list)
    solved: bool = False

    def submit(self, choice: str | None) -> Feedback:
        if choice is None or choice not in self.question.choices:
            letters = ", ".join(self.question.choices)
            return Feedback(False, f"Pick one of the choices first ({letters}).")
        self.tries.append(choice)
        if self.question.is_right(choice):
            self.solved = True
            return Feedback(True, RIGHT, self.question.explanation(choice))
        return Feedback(False, MISSED)


def load_bank(chapter: str) -> list[Question]:
    """The self-check questions of a chapter ("02" or "02-runtime-api-by-hand")."""
    number = chapter.split("-")[0].zfill(2)
    path = BANK_DIR / f"{number}.json"
    if not path.exists():
        known = sorted(p.stem for p in BANK_DIR.glob("*.json"))
        raise LookupError(f"No quiz for chapter {chapter!r}; chapters with quizzes: {', '.join(known) or 'none'}.")
    return [Question(**q) for q in json.loads(path.read_text(encoding="utf-8"))]


def get_question(question_id: str) -> Question:
    for question in load_bank(question_id.split(".")[0]):
        if question.id == question_id:
            return question
    raise LookupError(f"No quiz question {question_id!r}.")
