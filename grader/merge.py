"""Copy one student's autograde results from a private gradebook into the course's gradebook.

Only the parent process writes the course gradebook, one student at a time, each in its own committed transaction:
a crash loses at most the student being merged. Re-merging overwrites that student's scores (idempotent).
"""

from __future__ import annotations

import warnings
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning


def db_url(path: Path) -> str:
    return f"sqlite:///{path}"


def private_results(private_db: Path, assignment: str, student: str) -> dict[tuple[str, str], dict] | None:
    """{(notebook, grade id): fields} from a private gradebook; None when it holds no submission."""
    with Gradebook(db_url(private_db)) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return None
        results = {}
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                results[(notebook.name, grade.name)] = {
                    "auto_score": grade.auto_score, "manual_score": grade.manual_score,
                    "needs_manual_grade": grade.needs_manual_grade}
            for comment in notebook.comments:
                results[(notebook.name, "comment:" + comment.name)] = {"auto_comment": comment.auto_comment}
        return results


def merge(main_db: Path, assignment: str, student: str, results: dict[tuple[str, str], dict] | None,
          zeroed: set[str], flagged: bool) -> tuple[float, float]:
    """Write ``student``'s grades for ``assignment``: ``results`` (from :func:`private_results`), except that
    every grade missing from them or named in ``zeroed`` scores 0. Returns (score, max score)."""
    with Gradebook(db_url(main_db)) as gradebook:
        gradebook.update_or_create_student(student)
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            with warnings.catch_warnings():  # nbgrader's add_submission trips SQLAlchemy's autoflush warnings
                warnings.simplefilter("ignore", SAWarning)
                submission = gradebook.add_submission(assignment, student)
        for notebook in submission.notebooks:
            notebook.flagged = flagged
            for grade in notebook.grades:
                found = (results or {}).get((notebook.name, grade.name))
                if found is None or grade.name in zeroed:
                    found = {"auto_score": 0.0, "manual_score": None, "needs_manual_grade": False}
                for field, value in found.items():
                    setattr(grade, field, value)
            for comment in notebook.comments:
                found = (results or {}).get((notebook.name, "comment:" + comment.name))
                comment.auto_comment = found["auto_comment"] if found else None
        gradebook.db.commit()
        submission = gradebook.find_submission(assignment, student)
        return submission.score, submission.max_score


def has_assignment(main_db: Path, assignment: str) -> bool:
    if not main_db.exists():
        return False
    with Gradebook(db_url(main_db)) as gradebook:
        try:
            return bool(gradebook.find_assignment(assignment).notebooks)
        except MissingEntry:
            return False
