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

from grader import autograde, bench, cli, release, sandbox
from tests.notebooks import course_with_solutions

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
WRONG = "def handler(event, context):\n    return {}\n"  # fails test-00-1: what each tampering below hides
BLANK_LATER_CELLS = "get_ipython().input_transformers_cleanup.append(lambda lines: [])\n"
PATCH_CHECKER = "import course\ncourse.check_equal = lambda *args, **kwargs: None\n"


def _test_cell(nb):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == ATTACKED)


def _delete(nb):
    nb.cells.remove(_test_cell(nb))


def _edit(nb):
    _test_cell(nb).source = "pass"


def _strip(nb):
    del _test_cell(nb).metadata["nbgrader"]


TAMPERED = {  # student: (code put first in ex-00-1, change to the notebook)
    "input-transformer": (WRONG + BLANK_LATER_CELLS, None),
    "deleted-test-cell": (WRONG, _delete),
    "edited-test-cell": (WRONG, _edit),
    "stripped-test-cell": (WRONG, _strip),
    "patched-checker": (WRONG + PATCH_CHECKER, None),
}
SETTINGS = autograde.Settings(sandbox.Limits(wall_seconds=40, cpu_seconds=40, memory_mb=1024, processes=64),
                              cell_timeout=8)


def _write_variant(course: Path, student: str, edit, change_notebook=None) -> None:
    """A submission made from the learners' release with the instructor's solutions put in, then ``edit`` applied
    to exercise ex-00-1's source and ``change_notebook`` to the notebook."""
    answers = bench.solutions(ASSIGNMENT)
    answers["ex-00-1"] = edit(answers["ex-00-1"])
    folder = course / "submitted" / student / ASSIGNMENT
    bench.make_submission(course / "release" / ASSIGNMENT, folder, answers)
    if change_notebook:
        path = folder / f"{ASSIGNMENT}.ipynb"
        nb = nbformat.read(path, as_version=4)
        change_notebook(nb)
        nbformat.write(nb, path)


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course, released = course_with_solutions(tmp_path_factory.mktemp("course"), ASSIGNMENT)
    shutil.copytree(released, course / "submitted" / "blank" / ASSIGNMENT)
    for student, code in HOSTILE.items():
        _write_variant(course, student, lambda source, code=code: code + source)
    _write_variant(course, "output-flood", lambda source: source.replace(
        "def handler(event, context):\n", "def handler(event, context):\n" + FLOOD, 1))
    _write_variant(course, "released-solutions", lambda source: source)
    for student, (code, change) in TAMPERED.items():
        _write_variant(course, student, lambda source, code=code: source + "\n" + code, change)
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
    assert sorted(r.student for r in results) == sorted(["solutions", "released-solutions", "blank",
                                                          "output-flood", *HOSTILE, *TAMPERED])
    assert seconds < 150


def test_solutions_full_marks_blank_zero(course, first_run) -> None:
    by_student = {r.student: r for r in first_run[0]}
    solutions = by_student["solutions"]
    assert solutions.max_score == 6 and solutions.score == 6 and not solutions.flags
    assert not _flagged(course, "solutions")
    assert (course / "autograded" / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
    blank = _grades(course, "blank")
    assert len(blank) == 4 and not any(blank.values())


def test_released_solutions_full_marks_no_warning(course, first_run) -> None:
    """The learners' notebook with the right answers: full marks, no flag, and no "checksum has changed" warning
    from nbgrader for the test cells with hidden tests (the grader puts the gradebook's copy in place first)."""
    result = next(r for r in first_run[0] if r.student == "released-solutions")
    assert (result.score, result.max_score, result.flags) == (6, 6, [])
    assert not [w for w in result.warnings if "has changed" in w], result.warnings


@pytest.mark.parametrize("student", [*HOSTILE, "output-flood", *TAMPERED])
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
    assert "timeout in ex-00-1" in flags["infinite-loop"]
    assert "process limit" in flags["fork-bomb"]
    # killed by the wall clock, then graded again without the cell that never ended
    assert "ex-00-1 stopped by the grader; the rest graded again without it" in flags["ignores-interrupt"]
    assert not any(_grades(course, "fork-bomb").values()), "a process-limit kill zeroes the whole submission"
    assert "memory limit in ex-00-1" in flags["memory-hog"]
    assert f"in {ATTACKED}" in flags["output-flood"]


def test_tampering_is_named_in_the_flags(course, first_run) -> None:
    flags = {r.student: " | ".join(r.flags) for r in first_run[0]}
    assert "input transformer in ex-00-1" in flags["input-transformer"]
    assert f"no evidence that {ATTACKED} ran" in flags["input-transformer"]
    assert not any(_grades(course, "input-transformer").values()), "every later test cell was blanked: all 0"
    assert f"test cell {ATTACKED} was deleted (re-added)" in flags["deleted-test-cell"]
    assert f"test cell {ATTACKED} was edited (restored)" in flags["edited-test-cell"]
    assert f"test cell {ATTACKED} had its nbgrader metadata stripped (restored)" in flags["stripped-test-cell"]
    assert "patched checker in ex-00-1" in flags["patched-checker"]
    assert "course.check_equal replaced" in flags["patched-checker"]
    for student in ("deleted-test-cell", "edited-test-cell", "stripped-test-cell"):
        grades = _grades(course, student)
        assert sum(grades.values()) == 4, (student, grades)  # only the attacked cell lost its points
        assert not [w for w in next(r for r in first_run[0] if r.student == student).warnings
                    if "checksum" in w], "restored before nbgrader saw it: no checksum warning"


def test_zeroed_cells_say_why_for_feedback(course, first_run) -> None:
    for student, says in (("input-transformer", "did not run to its end"), ("output-flood", "larger than"),
                          ("patched-checker", "course.check_equal replaced")):
        nb = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
        reasons = [c.metadata.get("grader", {}).get("zeroed", "") for c in nb.cells]
        assert any(says in reason for reason in reasons), (student, reasons)


def test_restored_cells_are_marked_for_feedback(course, first_run) -> None:
    for student, how in (("deleted-test-cell", "deleted"), ("edited-test-cell", "edited"),
                         ("stripped-test-cell", "metadata")):
        nb = nbformat.read(course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
        assert _test_cell(nb).metadata["grader"]["restored"] == how


def test_plain_nbgrader_is_fooled_by_the_input_transformer(course, first_run, tmp_path) -> None:
    """Why the evidence exists: nbgrader alone gives the input-transformer submission full marks."""
    plain = tmp_path / "plain"
    shutil.copytree(course / "source", plain / "source")
    shutil.copy2(course / "nbgrader_config.py", plain / "nbgrader_config.py")
    shutil.copytree(course / "submitted" / "input-transformer", plain / "submitted" / "input-transformer")
    release.generate(ASSIGNMENT, plain)
    done = release.nbgrader(["autograde", ASSIGNMENT, "--student", "input-transformer"], plain)
    assert done.returncode == 0, done.stderr
    with Gradebook(f"sqlite:///{plain / 'gradebook.db'}") as gradebook:
        assert gradebook.find_submission(ASSIGNMENT, "input-transformer").score == 6


def test_unattacked_cells_still_score(course, first_run) -> None:
    for student in ("infinite-loop", "memory-hog", "output-flood", "ignores-interrupt"):
        grades = _grades(course, student)
        assert sum(grades.values()) == 4, (student, grades)  # 6 points minus the 2 of the attacked test


def test_stored_flood_is_truncated(course, first_run) -> None:
    stored = course / "autograded" / "output-flood" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    assert stored.stat().st_size < 2 * 2**20


def test_no_process_left_behind(first_run) -> None:
    left = [pid for pid in sandbox._pids() if sandbox.TOKEN.encode() in _environ(pid)]
    assert not left, [(pid, _status(pid)) for pid in left]


def _status(pid: str) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:100]
        state = [line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith(
            ("State", "PPid"))]
        return f"{cmdline} {state}"
    except OSError:
        return "gone"


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
    report = (course / "reports" / f"{ASSIGNMENT}-autograde.txt").read_text()
    assert "3 submission(s), 2 flagged" in report
    assert "memory-hog (4/6):\n  - memory limit in ex-00-1" in report and "solutions (6/6):" not in report


def test_interrupt_midway_keeps_merged_grades(course, first_run, monkeypatch) -> None:
    """A crash (here Ctrl-C) while grading one student keeps every grade merged before it."""
    def fake_grade(assignment, student, *args):
        if student == "solutions":
            raise KeyboardInterrupt
        return autograde.Result(student, flags=["fake"])
    monkeypatch.setattr(autograde, "stage", lambda assignment, course_dir, batch_dir, server=None: batch_dir)
    monkeypatch.setattr(autograde, "grade_one", fake_grade)
    with pytest.raises(KeyboardInterrupt):
        autograde.autograde(ASSIGNMENT, course, jobs=1, settings=SETTINGS, only=["blank", "solutions"],
                            progress=False)
    assert _flagged(course, "blank"), "the student merged before the crash was written"
    assert sum(_grades(course, "solutions").values()) == 6, "the student being graded kept the old grades"
