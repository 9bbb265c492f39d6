"""Progressive hints: each call to ``hint("02.1")`` shows one more hint for that exercise."""

from __future__ import annotations

import importlib

_shown: dict[str, int] = {}


def hints_for(exercise_id: str) -> list[str]:
    """The hints of an exercise, from the chapter's module ``course.chapters.chNN`` (its ``HINTS`` dict)."""
    chapter = exercise_id.split(".")[0].zfill(2)
    try:
        module = importlib.import_module(f"course.chapters.ch{chapter}")
    except ModuleNotFoundError:
        raise LookupError(f"No hints for chapter {chapter}.") from None
    try:
        return module.HINTS[exercise_id]
    except KeyError:
        raise LookupError(f"No hints for exercise {exercise_id!r}; this chapter has {sorted(module.HINTS)}.") from None


def next_hint(exercise_id: str) -> str:
    """The next hint's text (the last one again once all are shown), numbered "Hint 2 of 3: ..."."""
    hints = hints_for(exercise_id)
    index = min(_shown.get(exercise_id, 0), len(hints) - 1)
    _shown[exercise_id] = index + 1
    return f"Hint {index + 1} of {len(hints)}: {hints[index]}"


def hint(exercise_id: str) -> None:
    """Print the next hint for an exercise; call again for a more detailed one."""
    print(next_hint(exercise_id))


def reset(exercise_id: str | None = None) -> None:
    if exercise_id is None:
        _shown.clear()
    else:
        _shown.pop(exercise_id, None)
