"""Helpers for writing instructor notebooks (nbgrader's cell metadata, unique cell ids, a kernelspec).

    from grader.authoring import md, code, solution, tests, write
    write("grader/source/00-welcome/00-welcome.ipynb", [md("# Title"), solution("ex1", "..."), tests("ex1-t", "...")])

The notebooks it writes are the source of truth; edit them in JupyterLab (nbgrader's "Create Assignment" toolbar)
or regenerate them with these helpers.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _meta(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def _clean(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def md(text: str) -> nbformat.NotebookNode:
    """A markdown cell."""
    return new_markdown_cell(_clean(text))


def code(source: str) -> nbformat.NotebookNode:
    """A code cell the learner runs as is."""
    return new_code_cell(_clean(source))


def readonly(grade_id: str, source: str, markdown: bool = True) -> nbformat.NotebookNode:
    """A locked cell (nbgrader restores it if a learner edits it)."""
    cell = new_markdown_cell(_clean(source)) if markdown else new_code_cell(_clean(source))
    cell.metadata.update(_meta(grade_id, solution=False, grade=False, locked=True))
    return cell


def solution(grade_id: str, source: str) -> nbformat.NotebookNode:
    """An exercise cell: the part between `### BEGIN SOLUTION` and `### END SOLUTION` is removed on release."""
    cell = new_code_cell(_clean(source))
    cell.metadata.update(_meta(grade_id, solution=True, grade=False, locked=False))
    return cell


def tests(grade_id: str, source: str, points: int = 1) -> nbformat.NotebookNode:
    """An autograded test cell: visible checks, then `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS`."""
    cell = new_code_cell(_clean(source))
    cell.metadata.update(_meta(grade_id, solution=False, grade=True, locked=True, points=points))
    return cell


def write(path: str | Path, cells: list[nbformat.NotebookNode]) -> Path:
    """Write an instructor notebook with unique, stable cell ids and a kernelspec."""
    path = Path(path)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    prefix = path.stem.split("-")[0]
    for number, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell["id"] = f"{prefix}-{grade_id}" if grade_id else f"{prefix}-cell-{number:02d}"
    ids = [cell["id"] for cell in nb.cells]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate cell ids: {sorted(duplicates)}")
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
