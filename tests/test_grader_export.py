"""`python -m grader export`: grades.csv (one row per student, missing submissions included), questions.csv (one
row per student and graded cell), questions.png (the class per question), on a real gradebook with known scores.

The gradebook: chapter 00-welcome released by nbgrader (test-00-1..4, worth 2, 2, 1, 1) and a small assignment
01-extra added through nbgrader's API (q-b worth 3 before q-a worth 1 in its source notebook), then grades merged
as autograde does: ada full marks on 00-welcome and 2.5/4 on 01-extra with a 0.5 late penalty; bob partial and
flagged; cy a cell waiting for manual grading; dee nothing at all.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from grader import cli, export, release
from grader.merge import db_url, merge
from tests.notebooks import SOURCE

slow = pytest.mark.slow  # the module's gradebook takes one nbgrader generate_assignment (about 10 s)
WELCOME, EXTRA = "00-welcome", "01-extra"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _grades(**scores: float | None) -> dict[tuple[str, str], dict]:
    """merge()'s results for 00-welcome: a None score is an ungraded cell that needs manual grading."""
    return {(WELCOME, f"test-00-{name[1:]}"): {"auto_score": score, "manual_score": None,
                                                "needs_manual_grade": score is None}
            for name, score in scores.items()}


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(SOURCE / WELCOME, course / "source" / WELCOME)
    shutil.copy2(release.GRADER_DIR / "nbgrader_config.py", course / "nbgrader_config.py")
    release.generate(WELCOME, course)
    db = course / "gradebook.db"
    with Gradebook(db_url(db)) as gradebook:
        gradebook.add_assignment(EXTRA)
        gradebook.add_notebook(EXTRA, EXTRA)
        gradebook.add_grade_cell("q-a", EXTRA, EXTRA, max_score=1, cell_type="code")
        gradebook.add_grade_cell("q-b", EXTRA, EXTRA, max_score=3, cell_type="code")
        gradebook.update_or_create_student("ada", last_name="Lovelace", first_name="Ada", email="ada@example.org")
        gradebook.update_or_create_student("dee")
    source = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(metadata={"nbgrader": {"grade_id": grade_id, "grade": True}})
        for grade_id in ("q-b", "q-a")])
    (course / "source" / EXTRA).mkdir()
    nbformat.write(source, course / "source" / EXTRA / f"{EXTRA}.ipynb")

    assert merge(db, WELCOME, "ada", _grades(t1=2, t2=2, t3=1, t4=1), set(), False) == (6, 6)
    assert merge(db, WELCOME, "bob", _grades(t1=1, t2=2, t3=0, t4=1), {"test-00-4"}, True) == (3, 6)
    assert merge(db, WELCOME, "cy", _grades(t1=None, t3=1), set(), False) == (1, 6)
    extra = {(EXTRA, name): {"auto_score": score, "manual_score": None, "needs_manual_grade": False}
             for name, score in (("q-a", 1.0), ("q-b", 1.5))}
    assert merge(db, EXTRA, "ada", extra, set(), False) == (2.5, 4)
    with Gradebook(db_url(db)) as gradebook:
        gradebook.find_submission_notebook(EXTRA, EXTRA, "ada").late_submission_penalty = 0.5
        gradebook.db.commit()
    return course


def _csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", f"{path} is not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


GRADES = [
    ["student_id", "last_name", "first_name", "email", WELCOME, EXTRA, "total", "max_total", "missing",
     "needs_manual_grade", "flagged", "late_penalty"],
    ["ada", "Lovelace", "Ada", "ada@example.org", "6", "2", "8", "10", "", "", "", "0.5"],
    ["bob", "", "", "", "3", "", "3", "10", EXTRA, "", WELCOME, "0"],
    ["cy", "", "", "", "1", "", "1", "10", EXTRA, WELCOME, "", "0"],
    ["dee", "", "", "", "", "", "0", "10", f"{WELCOME};{EXTRA}", "", "", "0"],
]
QUESTIONS_HEADER = ["student_id", "assignment", "notebook", "question", "score", "max_score", "submitted",
                    "needs_manual_grade", "flagged"]
ORDER = [(WELCOME, "test-00-1", "2"), (WELCOME, "test-00-2", "2"), (WELCOME, "test-00-3", "1"),
         (WELCOME, "test-00-4", "1"), (EXTRA, "q-b", "3"), (EXTRA, "q-a", "1")]
# per student, in ORDER: (score, needs_manual_grade, flagged); None: not submitted
ANSWERS = {
    "ada": [("2", False, False), ("2", False, False), ("1", False, False), ("1", False, False),
            ("1.5", False, False), ("1", False, False)],
    "bob": [("1", False, True), ("2", False, True), ("0", False, True), ("0", False, True), None, None],
    "cy": [("0", True, False), ("0", False, False), ("1", False, False), ("0", False, False), None, None],
    "dee": [None] * 6,
}


@slow
def test_csv_files_exact(course, tmp_path) -> None:
    data = export.load(course)
    assert export.write_grades(data, tmp_path / "grades.csv") == tmp_path / "grades.csv"
    assert _csv(tmp_path / "grades.csv") == GRADES
    export.write_questions(data, tmp_path / "questions.csv")
    expected = [QUESTIONS_HEADER]
    for student, answers in ANSWERS.items():
        for (assignment, question, max_score), answer in zip(ORDER, answers):
            score, manual, flagged = answer or ("", False, False)
            expected.append([student, assignment, assignment, question, score, max_score, str(answer is not None),
                             str(manual), str(flagged)])
    assert _csv(tmp_path / "questions.csv") == expected


@slow
def test_stats_counts_shares_and_mean(course) -> None:
    results = export.stats(export.load(course))
    assert [(r.question.assignment, r.question.grade_id) for r in results] == [o[:2] for o in ORDER]
    assert [r.question.label for r in results][::4] == [f"{WELCOME} · test-00-1 (2 pts)", f"{EXTRA} · q-b (3 pts)"]
    assert results[5].question.label == f"{EXTRA} · q-a (1 pt)"
    counts = {r.question.grade_id: (r.full, r.partial, r.zero, r.missing) for r in results}
    assert counts == {"test-00-1": (1, 1, 1, 1), "test-00-2": (2, 0, 1, 1), "test-00-3": (2, 0, 1, 1),
                      "test-00-4": (1, 0, 2, 1), "q-b": (0, 1, 0, 3), "q-a": (1, 0, 0, 3)}
    assert results[0].shares() == {"full": 0.25, "partial": 0.25, "zero": 0.25, "missing": 0.25}
    assert results[4].shares() == {"full": 0.0, "partial": 0.25, "zero": 0.0, "missing": 0.75}
    means = [round(r.mean_percent, 2) for r in results]
    assert means == [50.0, 66.67, 66.67, 33.33, 50.0, 100.0]  # mean of the submissions, no late penalty


@slow
def test_cli_writes_files_and_prints_table(course, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    assert cli.main(["export", "--course-dir", str(course), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    for name in ("grades.csv", "questions.csv", "questions.png"):
        assert f"wrote {out / name}" in printed
    assert _csv(out / "grades.csv") == GRADES
    lines = printed.splitlines()
    assert lines[3].split() == ["question", "mean", "full", "partial", "zero", "missing"]
    assert lines[4].split() == [WELCOME, "·", "test-00-1", "(2", "pts)", "50%", "1", "1", "1", "1"]
    assert lines[8].split() == [EXTRA, "·", "q-b", "(3", "pts)", "50%", "0", "1", "0", "3"]
    width, height = _png_size(out / "questions.png")
    assert (out / "questions.png").stat().st_size > 20_000
    assert width > 800 and height > 300

    # fewer questions, a shorter plot; only the selected assignment in the CSV files
    assert cli.main(["export", EXTRA, "--course-dir", str(course), "--output", str(tmp_path / "one")]) == 0
    assert _csv(tmp_path / "one" / "grades.csv")[0][4:7] == [EXTRA, "total", "max_total"]
    assert _csv(tmp_path / "one" / "grades.csv")[1][4:8] == ["2", "2", "4", ""]
    assert {row[1] for row in _csv(tmp_path / "one" / "questions.csv")[1:]} == {EXTRA}
    assert _png_size(tmp_path / "one" / "questions.png")[1] < height


@slow
def test_plot_draws_each_category(course, tmp_path) -> None:
    from matplotlib.image import imread

    path = export.plot(export.stats(export.load(course)), tmp_path / "q.png", "title")
    pixels = (imread(path)[..., :3] * 255).round().astype(int)
    for kind, color in export.COLORS.items():
        rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
        assert (pixels == rgb).all(axis=-1).sum() > 500, f"no {kind} bar drawn"


@slow
def test_cli_default_output_and_no_plot(course, capsys) -> None:
    assert cli.main(["export", "--course-dir", str(course), "--no-plot"]) == 0
    assert _csv(course / "grades.csv") == GRADES
    assert not (course / "questions.png").exists()
    assert "questions.png" not in capsys.readouterr().out


@slow
def test_cli_unknown_assignment(course, tmp_path, capsys) -> None:
    assert cli.main(["export", WELCOME, "nope", "--course-dir", str(course), "--output", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no such assignment in the gradebook: nope" in err and f"Known: {WELCOME}, {EXTRA}" in err
    assert not (tmp_path / "grades.csv").exists()


def test_cli_no_gradebook(tmp_path, capsys) -> None:
    assert cli.main(["export", "--course-dir", str(tmp_path), "--output", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert f"no gradebook at {tmp_path / 'gradebook.db'}: run python -m grader autograde first" in err
    assert not (tmp_path / "out").exists() and not (tmp_path / "gradebook.db").exists()


def test_classify_number_and_natural_order() -> None:
    assert [export.classify(s, 2) for s in (None, 0, 0.5, 2, 2.5)] == ["missing", "zero", "partial", "full", "full"]
    assert [export.number(v) for v in (2.0, 1.5, 1 / 3, 0.0)] == ["2", "1.5", "0.33", "0"]
    assert sorted(["q-10", "q-9", "q-1"], key=export.natural_key) == ["q-1", "q-9", "q-10"]
