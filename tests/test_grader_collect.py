"""`python -m grader collect`: folders, LMS-style flat files and zips land in submitted/<student>/<assignment>/;
a zip that tries to escape its folder is refused and collects nothing."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from grader import cli
from grader.collect import CollectError, collect

A = "00-welcome"


def _write(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_folder_layouts(tmp_path) -> None:
    source = tmp_path / "in"
    _write(source / "ada" / A / f"{A}.ipynb", "ada")          # nbgrader layout
    _write(source / "ada" / A / "data.txt", "extra")
    _write(source / "bob" / f"{A}.ipynb", "bob")              # one folder per student
    _write(source / f"cy_{A}_final.ipynb", "cy")              # LMS-style flat file
    _write(source / "notes.txt", "not a submission")
    course = tmp_path / "course"
    found = collect(A, source, course)
    assert found == {"ada": ["00-welcome.ipynb", "data.txt"], "bob": ["00-welcome.ipynb"],
                     "cy": ["00-welcome.ipynb"]}
    for student in ("ada", "bob", "cy"):
        assert (course / "submitted" / student / A / f"{A}.ipynb").read_text() == student


def test_zip_blackboard_latest_attempt_wins(tmp_path) -> None:
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(f"gradebook/{A}_dee_attempt_2026-01-01-10-00-00_{A}.ipynb", "old")
        zipped.writestr(f"gradebook/{A}_dee_attempt_2026-01-02-10-00-00_{A}.ipynb", "new")
        zipped.writestr(f"gradebook/{A}_eve_attempt_2026-01-01-10-00-00_mine.ipynb", "eve")
    course = tmp_path / "course"
    assert cli.main(["collect", A, str(archive), "--course-dir", str(course)]) == 0
    assert (course / "submitted" / "dee" / A / f"{A}.ipynb").read_text() == "new"
    assert (course / "submitted" / "eve" / A / f"{A}.ipynb").read_text() == "eve"


def test_recollect_replaces_previous_copy(tmp_path) -> None:
    course = tmp_path / "course"
    _write(tmp_path / "one" / "ada" / "old.ipynb")
    collect(A, tmp_path / "one", course)
    _write(tmp_path / "two" / "ada" / f"{A}.ipynb")
    collect(A, tmp_path / "two", course)
    assert sorted(p.name for p in (course / "submitted" / "ada" / A).iterdir()) == [f"{A}.ipynb"]


@pytest.mark.parametrize("name", ["../evil.ipynb", "/etc/evil.ipynb", "ada/../../evil.ipynb", "C:/evil.ipynb"])
def test_zip_path_traversal_refused(tmp_path, name) -> None:
    archive = tmp_path / "bad.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(f"ok/{A}.ipynb", "fine")
        zipped.writestr(name, "evil")
    course = tmp_path / "work" / "course"
    with pytest.raises(CollectError):
        collect(A, archive, course)
    assert not (course / "submitted").exists()
    assert not list(tmp_path.rglob("evil.ipynb"))
    assert cli.main(["collect", A, str(archive), "--course-dir", str(course)]) == 1


def test_zip_symlink_refused(tmp_path) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        info = zipfile.ZipInfo(f"ada/{A}.ipynb")
        info.external_attr = (0o120777 << 16)
        zipped.writestr(info, "/etc/passwd")
    with pytest.raises(CollectError):
        collect(A, archive, tmp_path / "course")


def test_nothing_recognised(tmp_path) -> None:
    _write(tmp_path / "in" / "readme.txt")
    with pytest.raises(CollectError):
        collect(A, tmp_path / "in", tmp_path / "course")
