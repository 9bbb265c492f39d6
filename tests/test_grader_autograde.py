"""`python -m grader autograde` end to end on a real course directory (chapter 00-welcome): full marks for the
solutions, 0 for a blank submission, and each hostile submission scores 0 on what it attacks, is flagged, and
leaves the batch and the other learners' grades intact. Re-running gives the same gradebook."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from grader import autograde, cli, release, sandbox
from tests.notebooks import SOURCE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ASSIGNMENT = "00-welcome"
ATTACKED = "test-00-1"  # the test of the exercise cell (ex-00-1) the hostile code is put in
HOSTILE = {
    "swallows-interrupt": "while True:\n    try:\n        pass\n    except KeyboardInterrupt:\n        pass\n",
    "infinite-loop": "while True:\n    pass\n",
    # bounded: at most 300 children, each gone after 60 s, even if every limit failed
    "fork-bomb": "import os, time\nfor _ in range(300):\n    if os.fork() == 0:\n        time.sleep(60)\n"
                 "        os._exit(0)\n",
    "memory-hog": "hog = bytearray(4 * 2**30)\n",
    # the loop above can lose the race (the interrupt may land outside the try); this one cannot be interrupted
    "ignores-interrupt": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n",
}
FLOOD = '    print(("x" * 999 + "\\n") * 1300)  # 1.3 MB per call, 4 calls\n'
SETTINGS = autograde.Settings(sandbox.Limits(wall_seconds=40, cpu_seconds=40, memory_mb=1024, processes=64),
                              cell_timeout=8)


def _write_variant(course: Path, student: str, edit) -> None:
    folder = course / "submitted" / student / ASSIGNMENT
    shutil.copytree(SOURCE / ASSIGNMENT, folder)
    path = folder / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex-00-1")
    cell.source = edit(cell.source)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(SOURCE / ASSIGNMENT, course / "source" / ASSIGNMENT)
    shutil.copy2(release.GRADER_DIR / "nbgrader_config.py", course / "nbgrader_config.py")
    released = release.generate(ASSIGNMENT, course)
    shutil.copytree(SOURCE / ASSIGNMENT, course / "submitted" / "solutions" / ASSIGNMENT)
    shutil.copytree(released, course / "submitted" / "blank" / ASSIGNMENT)
    for student, code in HOSTILE.items():
        _write_variant(course, student, lambda source, code=code: code + source)
    _write_variant(course, "output-flood", lambda source: source.replace(
        "def handler(event, context):\n", "def handler(event, context):\n" + FLOOD, 1))
    return course


@pytest.fixture(scope="module")
def first_run(course) -> tuple[list[autograde.Result], float]:
    started = time.monotonic()
    results = autograde.autograde(ASSIGNMENT, course, jobs=2, settings=SETTINGS, progress=False)
    print(autograde.summary(results))
    return results, time.monotonic() - started


def _grades(course: Path, student: str) -> dict[str, float]:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, student)
        return {g.name: g.score for nb in submission.notebooks for g in nb.grades}


def _flagged(course: Path, student: str) -> bool:
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        return all(nb.flagged for nb in gradebook.find_submission(ASSIGNMENT, student).notebooks)


def test_batch_completes_with_every_student(course, first_run) -> None:
    results, seconds = first_run
    assert sorted(r.student for r in results) == sorted(["solutions", "blank", "output-flood", *HOSTILE])
    assert seconds < 150


def test_solutions_full_marks_blank_zero(course, first_run) -> None:
    by_student = {r.student: r for r in first_run[0]}
    solutions = by_student["solutions"]
    assert solutions.max_score == 6 and solutions.score == 6 and not solutions.flags
    assert not _flagged(course, "solutions")
    assert (course / "autograded" / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
    blank = _grades(course, "blank")
    assert len(blank) == 4 and not any(blank.values())


@pytest.mark.parametrize("student", [*HOSTILE, "output-flood"])
def test_hostile_scores_zero_on_attacked_cells_and_is_flagged(course, first_run, student) -> None:
    result = next(r for r in first_run[0] if r.student == student)
    grades = _grades(course, student)
    assert len(grades) == 4, "every graded cell is recorded"
    assert grades[ATTACKED] == 0
    assert result.flags and _flagged(course, student)
    assert result.seconds < SETTINGS.limits.wall_seconds + 15


def test_limits_are_named_in_the_flags(course, first_run) -> None:
    flags = {r.student: " ".join(r.flags) for r in first_run[0]}
    assert "timeout in ex-00-1" in flags["swallows-interrupt"] or "limit (" in flags["swallows-interrupt"]
    assert "wall-clock limit" in flags["ignores-interrupt"] or "CPU-time limit" in flags["ignores-interrupt"]
    assert not any(_grades(course, "ignores-interrupt").values())
    assert "timeout in ex-00-1" in flags["infinite-loop"]
    assert "process limit" in flags["fork-bomb"]
    assert "memory limit in ex-00-1" in flags["memory-hog"]
    assert f"in {ATTACKED}" in flags["output-flood"]


def test_unattacked_cells_still_score(course, first_run) -> None:
    for student in ("infinite-loop", "memory-hog", "output-flood"):
        grades = _grades(course, student)
        assert sum(grades.values()) == 4, (student, grades)  # 6 points minus the 2 of the attacked test


def test_stored_flood_is_truncated(course, first_run) -> None:
    stored = course / "autograded" / "output-flood" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert stored.stat().st_size < 2 * 2**20


def test_no_process_left_behind(first_run) -> None:
    assert not [pid for pid in sandbox._pids() if sandbox.TOKEN.encode() in _environ(pid)]


def _environ(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def test_rerun_is_idempotent(course, first_run) -> None:
    before = {r.student: _grades(course, r.student) for r in first_run[0]}
    cli.main(["autograde", ASSIGNMENT, "--course-dir", str(course), "--jobs", "2", "--timeout", "40",
              "--cell-timeout", "8", "--memory", "1024", "--processes", "64",
              "--student", "solutions", "--student", "memory-hog", "--student", "output-flood"])
    after = {student: _grades(course, student) for student in before}
    assert after == before


def test_interrupt_midway_keeps_merged_grades(course, first_run, monkeypatch) -> None:
    """A crash (here Ctrl-C) while grading one student keeps every grade merged before it."""
    def fake_grade(assignment, student, *args):
        if student == "solutions":
            raise KeyboardInterrupt
        return autograde.Result(student, flags=["fake"])
    monkeypatch.setattr(autograde, "stage", lambda assignment, course_dir, batch_dir: batch_dir)
    monkeypatch.setattr(autograde, "grade_one", fake_grade)
    with pytest.raises(KeyboardInterrupt):
        autograde.autograde(ASSIGNMENT, course, jobs=1, settings=SETTINGS, only=["blank", "solutions"],
                            progress=False)
    assert _flagged(course, "blank"), "the student merged before the crash was written"
    assert sum(_grades(course, "solutions").values()) == 6, "the student being graded kept the old grades"
