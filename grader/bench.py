"""`make bench-grader` / `python -m grader.bench`: plain ``nbgrader autograde`` against ``python -m grader
autograde`` on the same synthetic submissions, and what one hanging submission costs each.

A temporary course directory holds chapter ``--assignment`` (00-welcome by default) and N submissions made from the
learners' release: each exercise either solved (the instructor's solution) or left blank, in a fixed pattern. Plain
nbgrader grades them serially in one process (``nbgrader autograde ASSIGNMENT``); ours with ``--jobs`` workers.
Then one more submission whose first exercise loops forever: the extra seconds it adds to each batch.
Prints figures; asserts nothing (goals: speedup >= 1.7x on 2 cores, a hang costs <= 10 s).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from . import autograde, sandbox
from .release import GRADER_DIR, SOURCE_DIR, generate, nbgrader

HANG = "while True:\n    pass\n"


def solutions(assignment: str, source_dir: Path = SOURCE_DIR) -> dict[str, str]:
    """{grade id: source} of the instructor's solution cells."""
    nb = nbformat.read(source_dir / assignment / f"{assignment}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def make_submission(release: Path, target: Path, answers: dict[str, str]) -> None:
    """Copy the learners' ``release`` folder to ``target`` with the solution cells named in ``answers`` filled in."""
    shutil.copytree(release, target)
    for path in target.glob("*.ipynb"):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in answers:
                cell.source = answers[grade_id]
        nbformat.write(nb, path)


def new_course(assignment: str, course: Path) -> Path:
    """A course directory holding ``assignment`` (source, config, gradebook); returns the learners' release."""
    shutil.copytree(SOURCE_DIR / assignment, course / "source" / assignment)
    shutil.copy2(GRADER_DIR / "nbgrader_config.py", course / "nbgrader_config.py")
    return generate(assignment, course)


def build_course(assignment: str, count: int, root: Path) -> Path:
    """A course directory with ``count`` synthetic submissions (students s00, s01, ...)."""
    course = root / "course"
    release = new_course(assignment, course)
    solved = solutions(assignment)
    names = sorted(solved)
    for index in range(count):
        answers = {name: solved[name] for k, name in enumerate(names) if (index + k) % 3 != 0}
        make_submission(release, course / "submitted" / f"s{index:02d}" / assignment, answers)
    return course


def add_hanging(course: Path, assignment: str, student: str = "zz-hangs") -> None:
    """A submission whose first exercise loops forever; graded last (its name sorts last): the worst case."""
    solved = solutions(assignment)
    first = sorted(solved)[0]
    make_submission(course / "release" / assignment, course / "submitted" / student / assignment,
                    {**solved, first: HANG + solved[first]})


def reset(course: Path) -> None:
    """Forget every grade (a fresh gradebook with the assignment, no autograded folder)."""
    shutil.rmtree(course / "autograded", ignore_errors=True)
    (course / "gradebook.db").unlink(missing_ok=True)


def plain(assignment: str, course: Path, cell_timeout: int) -> float:
    """Seconds for ``nbgrader autograde ASSIGNMENT`` over every submission (serial, one process)."""
    started = time.monotonic()
    done = nbgrader(["autograde", assignment, "--force", f"--Execute.timeout={cell_timeout}"], course)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"nbgrader autograde failed:\n{done.stderr[-3000:]}")
    return seconds


def ours(assignment: str, course: Path, jobs: int, cell_timeout: int) -> float:
    """Seconds for ``python -m grader autograde`` (as the CLI runs it, without the progress bar)."""
    settings = autograde.Settings(sandbox.Limits(), cell_timeout=cell_timeout)
    started = time.monotonic()
    results = autograde.autograde(assignment, course, jobs=jobs, settings=settings, progress=False)
    seconds = time.monotonic() - started
    if not results:
        raise RuntimeError("no submission graded")
    return seconds


def measure(assignment: str, count: int, jobs: int, cell_timeout: int, plain_cell_timeout: int,
            hang: bool = True) -> dict[str, float]:
    """Run both graders without and (if ``hang``) with a hanging submission; returns the timings."""
    with tempfile.TemporaryDirectory(prefix="bench-grader-") as tmp:
        course = build_course(assignment, count, Path(tmp))
        figures = {}
        for name, grade in (("plain", lambda: plain(assignment, course, plain_cell_timeout)),
                            ("ours", lambda: ours(assignment, course, jobs, cell_timeout))):
            reset(course)
            generate(assignment, course)
            figures[name] = grade()
        if hang:
            add_hanging(course, assignment)
            for name, grade in (("ours_hang", lambda: ours(assignment, course, jobs, cell_timeout)),
                                ("plain_hang", lambda: plain(assignment, course, plain_cell_timeout))):
                reset(course)
                generate(assignment, course)
                figures[name] = grade()
        return figures


def report(figures: dict[str, float], count: int, jobs: int, cell_timeout: int, plain_cell_timeout: int) -> str:
    lines = [f"{count} submissions, {os.cpu_count()} CPUs",
             f"  plain nbgrader autograde (serial):       {figures['plain']:7.1f} s",
             f"  python -m grader autograde --jobs {jobs}:    {figures['ours']:7.1f} s",
             f"  speedup:                                 {figures['plain'] / figures['ours']:7.2f}x  (goal >= 1.7x)"]
    if "ours_hang" in figures:
        lines += ["one more submission that hangs (an infinite loop in its first exercise), graded last:",
                  f"  ours, cell timeout {cell_timeout} s:               +{figures['ours_hang'] - figures['ours']:6.1f} s"
                  "  (goal <= 10 s)",
                  f"  plain nbgrader, Execute.timeout {plain_cell_timeout} s:  "
                  f"+{figures['plain_hang'] - figures['plain']:6.1f} s"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default="00-welcome")
    parser.add_argument("--submissions", type=int, default=12)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--cell-timeout", type=int, default=autograde.DEFAULT_CELL_TIMEOUT,
                        help="ours (default: the CLI's default)")
    parser.add_argument("--plain-cell-timeout", type=int, default=30, help="plain nbgrader's (its default: 30)")
    parser.add_argument("--no-hang", action="store_true", help="skip the hanging-submission runs")
    args = parser.parse_args(argv)
    figures = measure(args.assignment, args.submissions, args.jobs, args.cell_timeout, args.plain_cell_timeout,
                      hang=not args.no_hang)
    print(report(figures, args.submissions, args.jobs, args.cell_timeout, args.plain_cell_timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
