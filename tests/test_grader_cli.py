"""`python -m grader`'s argument handling shared by every subcommand."""

from __future__ import annotations

import pytest

from grader import cli


@pytest.mark.parametrize("command", [["collect", "00-welcome", "inbox"], ["autograde", "00-welcome"],
                                     ["export"], ["feedback", "00-welcome"]])
def test_course_dir_is_made_absolute(command, tmp_path, monkeypatch) -> None:
    """nbgrader runs with the course directory as its working directory: a relative one must not be kept."""
    monkeypatch.chdir(tmp_path)
    args = cli.build_parser().parse_args([*command, "--course-dir", "class1"])
    assert args.course_dir == tmp_path / "class1"
