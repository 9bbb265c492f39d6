"""Helpers for the course's notebook tests: execute a notebook, classify its cells."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import nbclient
import nbformat

from grader import bench, release

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "grader" / "source"
NOTEBOOKS = ROOT / "notebooks"


def assignments() -> list[str]:
    return release.assignments(SOURCE)


def notebook_path(base: Path, assignment: str) -> Path:
    return base / assignment / f"{assignment}.ipynb"


def execute(path: Path, allow_errors: bool, workdir: Path | None = None) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel (in ``workdir``, default the notebook's folder); outputs kept in memory."""
    nb = nbformat.read(path, as_version=4)
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):  # the kernel finds the venv's tools
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3", allow_errors=allow_errors,
                                     resources={"metadata": {"path": str(workdir or path.parent)}})
    client.execute()
    return nb


def course_with_solutions(root: Path, assignment: str) -> tuple[Path, Path]:
    """A real nbgrader course directory under ``root`` holding ``assignment`` (generated) and the instructor's
    notebook submitted by student "solutions"; returns (course dir, learners' release folder)."""
    released = bench.new_course(assignment, root)
    shutil.copytree(SOURCE / assignment, root / "submitted" / "solutions" / assignment)
    return root, released


def grading(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def is_exercise(cell: nbformat.NotebookNode) -> bool:
    meta = grading(cell)
    return bool(meta.get("solution") or meta.get("grade"))


def errors(cell: nbformat.NotebookNode) -> list[str]:
    return [f"{o.ename}: {o.evalue}" for o in cell.get("outputs", []) if o.output_type == "error"]


def stderr(cell: nbformat.NotebookNode) -> str:
    return "".join(o.text for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stderr")


def label(nb_cell: nbformat.NotebookNode, index: int) -> str:
    return f"cell {index} ({grading(nb_cell).get('grade_id') or nb_cell.get('id')})"
