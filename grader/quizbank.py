"""The quiz banks: instructor sources `grader/quizzes/NN.yml` (plain text, answers included) become the learner's
`course/quizbank/NN.json` (answers hashed, explanations sealed; see course/quizzes.py)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from course.quizzes import BANK_DIR, Question

SOURCE_DIR = Path(__file__).parent / "quizzes"


def load_source(path: Path) -> list[dict]:
    """The questions of one YAML bank, validated: id, question, choices (letter: text), answer, explanation."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    seen = set()
    for entry in entries:
        missing = {"id", "question", "choices", "answer", "explanation"} - set(entry)
        if missing:
            raise ValueError(f"{path.name}: question {entry.get('id', '?')} lacks {sorted(missing)}")
        if entry["id"] in seen:
            raise ValueError(f"{path.name}: question id {entry['id']} is used twice")
        if not entry["id"].startswith(path.stem + "."):
            raise ValueError(f"{path.name}: question id {entry['id']} must start with '{path.stem}.'")
        seen.add(entry["id"])
    return entries


def sealed_bank(path: Path) -> list[dict]:
    return [Question.seal(e["id"], e["question"], {str(k): str(v) for k, v in e["choices"].items()},
                          str(e["answer"]), e["explanation"]).to_json()
            for e in load_source(path)]


def render(path: Path) -> str:
    return json.dumps(sealed_bank(path), indent=1, ensure_ascii=False) + "\n"


def build(out_dir: Path = BANK_DIR) -> list[Path]:
    """Write every bank; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sorted(SOURCE_DIR.glob("*.yml")):
        target = out_dir / f"{source.stem}.json"
        target.write_text(render(source), encoding="utf-8")
        written.append(target)
    return written


def stale() -> list[str]:
    """Banks whose shipped JSON differs from what their YAML source gives."""
    problems = []
    for source in sorted(SOURCE_DIR.glob("*.yml")):
        target = BANK_DIR / f"{source.stem}.json"
        if not target.exists() or target.read_text(encoding="utf-8") != render(source):
            problems.append(f"course/quizbank/{target.name} is out of date with grader/quizzes/{source.name}")
    return problems
