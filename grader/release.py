"""`python -m grader release`: the learners' notebooks in `notebooks/`, generated from the instructor sources.

Steps: seal the quiz banks (grader/quizzes → course/quizbank), run nbgrader's `generate_assignment` for each
assignment of `grader/source/` (solutions and hidden tests removed, cells locked, checksums recorded), then copy
the result to `notebooks/<assignment>/` with outputs cleared and a kernelspec.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from . import quizbank

GRADER_DIR = Path(__file__).resolve().parent
ROOT = GRADER_DIR.parent
SOURCE_DIR = GRADER_DIR / "source"
NOTEBOOKS_DIR = ROOT / "notebooks"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


class ReleaseError(RuntimeError):
    """nbgrader refused an assignment; the message holds its output."""


def git_ignored(folder: Path) -> list[Path]:
    """Files under ``folder`` that git ignores: things a run left behind (e.g. a bootstrap a notebook wrote),
    which must be neither released nor compared. Empty outside a git checkout."""
    try:
        done = subprocess.run(["git", "ls-files", "--others", "--ignored", "--exclude-standard", "-z", "--", "."],
                              cwd=folder, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    if done.returncode != 0:
        return []
    return [folder / name for name in done.stdout.split("\0") if name]


def check_source_clean(assignment: str, source_dir: Path = SOURCE_DIR) -> None:
    """Refuse to release files that a run of the instructor notebook generated (they would reach learners)."""
    leftovers = [p for p in git_ignored(source_dir / assignment) if "__pycache__" not in p.parts]
    if leftovers:
        listed = ", ".join(str(p.relative_to(source_dir)) for p in leftovers)
        raise ReleaseError(f"grader/source/{assignment} holds generated files ({listed}): delete them first, "
                           "or they would be released to learners.")


def assignments(source_dir: Path = SOURCE_DIR) -> list[str]:
    return sorted(p.name for p in source_dir.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def absolute(path: str | Path) -> Path:
    """A course directory given on the command line, made absolute (nbgrader runs with it as its working dir)."""
    return Path(path).resolve()


def nbgrader(args: list[str], course_dir: Path) -> subprocess.CompletedProcess:
    """Run nbgrader with this environment's bin/ on PATH (it calls `alembic` by name)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    course_dir = absolute(course_dir)
    return subprocess.run([sys.executable, "-m", "nbgrader", *args, "--CourseDirectory.root=" + str(course_dir)],
                          cwd=course_dir, env=env, capture_output=True, text=True)


def generate(assignment: str, course_dir: Path = GRADER_DIR) -> Path:
    """nbgrader generate_assignment; returns the release folder."""
    done = nbgrader(["generate_assignment", assignment, "--force"], course_dir)
    if done.returncode != 0:
        raise ReleaseError(f"nbgrader generate_assignment {assignment} failed:\n{done.stdout}\n{done.stderr}")
    return course_dir / "release" / assignment


def normalize(path: Path) -> None:
    """No outputs, no execution counts, a kernelspec: what a learner's notebook looks like when committed."""
    nb = nbformat.read(path, as_version=4)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.setdefault("language_info", {"name": "python"})
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(nb, path)


def publish(release: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(release, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    for notebook in target.rglob("*.ipynb"):
        normalize(notebook)


def release(selected: list[str] | None = None, notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Path]:
    """Release the selected assignments (all by default) into ``notebooks_dir``."""
    quizbank.build()
    done = []
    for assignment in selected or assignments():
        check_source_clean(assignment)
        target = notebooks_dir / assignment
        publish(generate(assignment), target)
        done.append(target)
    return done


def differences(left: Path, right: Path) -> list[str]:
    """Files that differ between two folder trees (relative paths); git-ignored files of ``left`` don't count."""
    skip = ["__pycache__", ".ipynb_checkpoints", *{p.name for p in git_ignored(left)}]
    comparison = filecmp.dircmp(left, right, ignore=skip)
    found = [f"only in {left.name}: {n}" for n in comparison.left_only]
    found += [f"only in the fresh release: {n}" for n in comparison.right_only]
    found += [n for n in comparison.diff_files]
    for name, sub in comparison.subdirs.items():
        found += [f"{name}/{d}" for d in differences(Path(sub.left), Path(sub.right))]
    return found


def stale() -> list[str]:
    """What in notebooks/ and course/quizbank/ is out of date with grader/ (empty when all is current)."""
    problems = quizbank.stale()
    for assignment in assignments():
        try:
            check_source_clean(assignment)
        except ReleaseError as exc:
            problems.append(str(exc))
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "grader"
        shutil.copytree(SOURCE_DIR, course / "source")
        shutil.copy2(GRADER_DIR / "nbgrader_config.py", course / "nbgrader_config.py")
        fresh = Path(tmp) / "notebooks"
        for assignment in assignments():
            publish(generate(assignment, course), fresh / assignment)
        current = {p.name for p in NOTEBOOKS_DIR.iterdir() if p.is_dir()} if NOTEBOOKS_DIR.exists() else set()
        for assignment in sorted(current | set(assignments())):
            if assignment not in current:
                problems.append(f"notebooks/{assignment} is missing: run `python -m grader release`")
            elif assignment not in assignments():
                problems.append(f"notebooks/{assignment} has no source in grader/source/")
            else:
                problems += [f"notebooks/{assignment}/{d}" for d in
                             differences(NOTEBOOKS_DIR / assignment, fresh / assignment)]
    return problems
