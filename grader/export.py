"""`python -m grader export`: the course gradebook per student and per question, and a plot of the class.

nbgrader's own `nbgrader export` writes one row per student and assignment. This writes, into the course
directory (or ``--output``):

- ``grades.csv``: one row per student: each assignment's score (blank when not submitted; a late penalty is
  subtracted, as nbgrader does), total, max total, then which assignments are missing, need manual grading or
  are flagged, and the late penalty.
- ``questions.csv``: one row per student, assignment, notebook and graded cell (its ``grade_id``); a student who
  submitted nothing has a blank score and ``submitted`` False.
- ``questions.png``: for each graded cell, in notebook order, the share of the class with full marks, partial,
  zero and no submission, with the mean score of the submissions: where the class struggles.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import sqlalchemy.exc
from nbgrader.api import Gradebook, GradeCell, TaskCell

from . import merge
from . import release as releasing

KINDS = ("full", "partial", "zero", "missing")
LEGEND = {"full": "full marks", "partial": "partial", "zero": "zero", "missing": "no submission"}
COLORS = {"full": "#2e7d32", "partial": "#f2a900", "zero": "#c62828", "missing": "#c4c4c4"}


class ExportError(RuntimeError):
    """Nothing to export (no gradebook, unreadable gradebook, no assignment)."""


class UnknownAssignment(ExportError):
    """An assignment asked for is not in the gradebook; the message lists the known ones."""


@dataclass(frozen=True)
class Question:
    """A graded cell (nbgrader grade or task cell) of an assignment's notebook."""

    assignment: str
    notebook: str
    grade_id: str
    max_score: float
    label: str


@dataclass(frozen=True)
class Answer:
    """One student's result on one question; ``score`` is None when the student submitted nothing."""

    student: str
    question: Question
    score: float | None
    needs_manual_grade: bool = False
    flagged: bool = False


@dataclass(frozen=True)
class Student:
    id: str
    last_name: str
    first_name: str
    email: str


@dataclass(frozen=True)
class Submission:
    """A student's submitted assignment: ``score`` is after the late penalty (never below 0)."""

    score: float
    late_penalty: float
    needs_manual_grade: bool
    flagged: bool


@dataclass(frozen=True)
class Export:
    """What the gradebook holds for the selected assignments, read once."""

    assignments: dict[str, float]  # name -> max score, in the gradebook's order (due date, name)
    students: list[Student]
    submissions: dict[tuple[str, str], Submission]  # (student, assignment) -> submission
    questions: list[Question]  # in assignment, notebook and cell order
    answers: list[Answer]  # per student, then in question order


@dataclass(frozen=True)
class Stats:
    """The class on one question: how many students scored full, partial, zero, or did not submit."""

    question: Question
    full: int
    partial: int
    zero: int
    missing: int
    mean_percent: float | None  # mean score of the submissions, % of max; None without any

    def counts(self) -> dict[str, int]:
        return {kind: getattr(self, kind) for kind in KINDS}

    def shares(self) -> dict[str, float]:
        """Fraction of all students in each of :data:`KINDS` (all 0 when there are no students)."""
        total = sum(self.counts().values())
        return {kind: (count / total if total else 0.0) for kind, count in self.counts().items()}


def number(value: float) -> str:
    """2.0 -> '2', 1.5 -> '1.5', 1/3 -> '0.33'."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def natural_key(name: str) -> list:
    """'test-00-10' after 'test-00-9'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def cell_order(course_dir: Path, assignment: str, notebook: str) -> dict[str, int]:
    """{grade_id: position} of the instructor's source notebook; empty when it cannot be read."""
    try:
        nb = nbformat.read(course_dir / "source" / assignment / f"{notebook}.ipynb", as_version=4)
    except (OSError, ValueError):
        return {}
    ids = [cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") for cell in nb.cells]
    return {grade_id: position for position, grade_id in enumerate(ids) if grade_id}


def classify(score: float | None, max_score: float) -> str:
    """One of :data:`KINDS`."""
    if score is None:
        return "missing"
    if score >= max_score - 1e-9:
        return "full"
    return "zero" if score <= 0 else "partial"


def load(course_dir: Path, selected: list[str] | None = None) -> Export:
    """Read ``<course_dir>/gradebook.db`` for the ``selected`` assignments (default: all of them)."""
    db = course_dir / "gradebook.db"
    if not db.is_file():
        raise ExportError(f"no gradebook at {db}: run python -m grader autograde first")
    try:
        with Gradebook(merge.db_url(db)) as gradebook:
            return _read(gradebook, course_dir, db, selected)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise ExportError(f"cannot read the gradebook at {db}: {exc}") from exc


def _read(gradebook: Gradebook, course_dir: Path, db: Path, selected: list[str] | None) -> Export:
    known = [assignment.name for assignment in gradebook.assignments]
    if not known:
        raise ExportError(f"the gradebook at {db} has no assignment: run python -m grader release first")
    unknown = [name for name in selected or [] if name not in known]
    if unknown:
        raise UnknownAssignment(f"no such assignment in the gradebook: {', '.join(unknown)}. "
                                f"Known: {', '.join(known)}")
    students = sorted((Student(s.id, s.last_name or "", s.first_name or "", s.email or "")
                       for s in gradebook.students), key=lambda s: s.id)
    assignments: dict[str, float] = {}
    submissions: dict[tuple[str, str], Submission] = {}
    questions: list[Question] = []
    per_student: dict[str, list[Answer]] = {student.id: [] for student in students}
    for assignment in gradebook.assignments:
        if selected and assignment.name not in selected:
            continue
        assignments[assignment.name] = assignment.max_score
        cells: list[Question] = []
        for notebook in assignment.notebooks:
            order = cell_order(course_dir, assignment.name, notebook.name)
            graded = sorted(notebook.grade_cells + notebook.task_cells,
                            key=lambda c: (order.get(c.name, len(order)), natural_key(c.name)))
            where = f"{assignment.name} · {notebook.name}" if len(assignment.notebooks) > 1 else assignment.name
            for cell in graded:
                unit = "pt" if cell.max_score == 1 else "pts"
                label = f"{where} · {cell.name} ({number(cell.max_score)} {unit})"
                cells.append(Question(assignment.name, notebook.name, cell.name, cell.max_score, label))
        questions += cells
        submitted = {s.student_id: s for s in assignment.submissions}
        for student in students:
            found = submitted.get(student.id)
            if found is None:
                per_student[student.id] += [Answer(student.id, question, None) for question in cells]
                continue
            penalty = found.late_submission_penalty or 0.0
            flagged = any(nb.flagged for nb in found.notebooks)
            submissions[(student.id, assignment.name)] = Submission(
                max(0.0, found.score - penalty), penalty, bool(found.needs_manual_grade), flagged)
            grades = {(nb.name, grade.name): (grade, bool(nb.flagged)) for nb in found.notebooks
                      for grade in nb.grades if isinstance(grade.cell, (GradeCell, TaskCell))}
            for question in cells:
                grade, nb_flagged = grades.get((question.notebook, question.grade_id), (None, False))
                per_student[student.id].append(
                    Answer(student.id, question, None) if grade is None else
                    Answer(student.id, question, grade.score, bool(grade.needs_manual_grade), nb_flagged))
    answers = [answer for student in students for answer in per_student[student.id]]
    return Export(assignments, students, submissions, questions, answers)


def write_grades(export: Export, path: Path) -> Path:
    """``grades.csv``: one row per student (see the module's docstring)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "last_name", "first_name", "email", *export.assignments,
                         "total", "max_total", "missing", "needs_manual_grade", "flagged", "late_penalty"])
        for student in export.students:
            mine = {name: export.submissions.get((student.id, name)) for name in export.assignments}
            done = {name: found for name, found in mine.items() if found is not None}
            writer.writerow([
                student.id, student.last_name, student.first_name, student.email,
                *(number(found.score) if found else "" for found in mine.values()),
                number(sum(found.score for found in done.values())), number(sum(export.assignments.values())),
                ";".join(name for name, found in mine.items() if found is None),
                ";".join(name for name, found in done.items() if found.needs_manual_grade),
                ";".join(name for name, found in done.items() if found.flagged),
                number(sum(found.late_penalty for found in done.values()))])
    return path


def write_questions(export: Export, path: Path) -> Path:
    """``questions.csv``: one row per student, assignment, notebook and graded cell."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "assignment", "notebook", "question", "score", "max_score",
                         "submitted", "needs_manual_grade", "flagged"])
        for answer in export.answers:
            question = answer.question
            writer.writerow([answer.student, question.assignment, question.notebook, question.grade_id,
                             "" if answer.score is None else number(answer.score), number(question.max_score),
                             answer.score is not None, answer.needs_manual_grade, answer.flagged])
    return path


def stats(export: Export) -> list[Stats]:
    """Per question, in order: full/partial/zero/missing counts over all students and the submissions' mean %."""
    results = []
    for question in export.questions:
        scores = [answer.score for answer in export.answers if answer.question == question]
        counts = {kind: 0 for kind in KINDS}
        for score in scores:
            counts[classify(score, question.max_score)] += 1
        submitted = [score for score in scores if score is not None]
        mean = (100 * sum(submitted) / len(submitted) / question.max_score
                if submitted and question.max_score > 0 else None)
        results.append(Stats(question, **counts, mean_percent=mean))
    return results


def plot(results: list[Stats], path: Path, title: str) -> Path:
    """``questions.png``: one horizontal stacked bar per question (top to bottom in assignment order)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    figure = Figure(figsize=(11, 1.8 + 0.42 * max(len(results), 1)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    rows = list(range(len(results)))
    left = [0.0] * len(results)
    for kind in KINDS:
        widths = [result.shares()[kind] for result in results]
        axes.barh(rows, widths, left=left, height=0.72, color=COLORS[kind], label=LEGEND[kind],
                  edgecolor="white", linewidth=0.8)
        for row, result, start, width in zip(rows, results, left, widths):
            if width >= 0.04:
                axes.text(start + width / 2, row, str(result.counts()[kind]), ha="center", va="center",
                          fontsize=9, color="white" if kind in ("full", "zero") else "black")
        left = [start + width for start, width in zip(left, widths)]
    for row, result in enumerate(results):
        mean = "–" if result.mean_percent is None else f"{result.mean_percent:.0f}%"
        axes.text(1.01, row, f"mean {mean}", transform=axes.get_yaxis_transform(), va="center", fontsize=9)
        if row and result.question.assignment != results[row - 1].question.assignment:
            axes.axhline(row - 0.5, color="#444444", linewidth=0.8)
    axes.set_yticks(rows, [result.question.label for result in results])
    axes.set_ylim(len(results) - 0.5, -0.5)
    axes.set_xlim(0, 1)
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel("share of students (numbers: how many); mean: mean score of the submissions, % of the points")
    axes.spines[["top", "right"]].set_visible(False)
    axes.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=len(KINDS), frameon=False)
    figure.suptitle(title, x=0.01, ha="left")
    figure.savefig(path, dpi=110)
    return path


def table(results: list[Stats]) -> str:
    """The per-question summary printed in the terminal."""
    labels = [result.question.label for result in results]
    width = max([len("question"), *map(len, labels)])
    lines = [f"{'question':<{width}}  {'mean':>5}  {'full':>4}  {'partial':>7}  {'zero':>4}  {'missing':>7}"]
    for label, result in zip(labels, results):
        mean = "-" if result.mean_percent is None else f"{result.mean_percent:.0f}%"
        lines.append(f"{label:<{width}}  {mean:>5}  {result.full:>4}  {result.partial:>7}  {result.zero:>4}  "
                     f"{result.missing:>7}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignments", nargs="*", help="which ones (default: all in the gradebook)")
    parser.add_argument("--output", type=Path, default=None, help="folder to write into (default: grader/)")
    parser.add_argument("--no-plot", action="store_true", help="no questions.png (CSV files only)")
    parser.add_argument("--course-dir", type=releasing.absolute, default=releasing.GRADER_DIR, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    """Write the files, print their paths and the per-question table: 0, 1 (nothing to export or cannot
    write), 2 (unknown assignment)."""
    output = args.output or args.course_dir
    try:
        export = load(args.course_dir, args.assignments or None)
        output.mkdir(parents=True, exist_ok=True)
        written = [write_grades(export, output / "grades.csv"), write_questions(export, output / "questions.csv")]
        results = stats(export)
        if not args.no_plot:
            names = ", ".join(export.assignments)
            names = names if len(names) <= 90 else f"{len(export.assignments)} assignments"
            title = f"Per-question results of {len(export.students)} student(s): {names}"
            written.append(plot(results, output / "questions.png", title))
    except UnknownAssignment as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    except (ExportError, OSError) as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    print(table(results))
    return 0
