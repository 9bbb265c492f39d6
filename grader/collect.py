"""`python -m grader collect ASSIGNMENT SOURCE`: put learners' submissions into ``submitted/<student>/<assignment>/``.

Accepted layouts of SOURCE (a folder, or a .zip of one; a zip with a single top folder is entered):

  <student>/<assignment>/<files>        nbgrader's own layout (an exchange or a copy of submitted/)
  <student>/<files>                     one folder per student
  <student>_<assignment>[_<any>].<ext>  LMS-style flat files; a notebook becomes <assignment>.ipynb
  <any>_<student>_attempt_<date>_<file> Blackboard-style download (nbgrader's ZipCollect example); the latest
                                        attempt of each student wins

Student ids: letters, digits and ``.-@`` (underscores only in folder layouts). A zip entry with an absolute path,
``..`` or a link is refused, and nothing is collected.
"""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

STUDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]*$")
BLACKBOARD = re.compile(r"^.*_(?P<student>[A-Za-z0-9.@-]+)_attempt_(?P<stamp>[0-9-]+)_(?P<file>.+)$")
SKIP = {".ipynb_checkpoints", "__pycache__", "__MACOSX", ".DS_Store"}


class CollectError(RuntimeError):
    """The source cannot be collected (unsafe zip, nothing recognised...)."""


def safe_extract(archive: Path, target: Path) -> None:
    """Extract ``archive`` into ``target``, refusing absolute paths, ``..`` and symbolic links."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            name = PurePosixPath(info.filename.replace("\\", "/"))
            if name.is_absolute() or ".." in name.parts or re.match(r"^[A-Za-z]:", info.filename):
                raise CollectError(f"unsafe path in {archive.name}: {info.filename!r}")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise CollectError(f"link in {archive.name}: {info.filename!r}")
        zipped.extractall(target)


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name not in SKIP and not p.name.startswith("."))


def _is_wrapper(folder: Path, assignment: str) -> bool:
    """A folder that holds submissions (LMS files, student folders) rather than being one student's."""
    if (folder / assignment).is_dir():
        return False
    entries = _entries(folder)
    lms = any(BLACKBOARD.match(e.name) or f"_{assignment}" in e.name for e in entries if e.is_file())
    return lms or bool(entries) and all(e.is_dir() for e in entries)


def plan(assignment: str, source: Path, notebook_name: str) -> dict[str, dict[str, Path]]:
    """{student: {relative file name: path}} found in folder ``source``."""
    entries = _entries(source)
    if len(entries) == 1 and entries[0].is_dir() and _is_wrapper(entries[0], assignment):
        return plan(assignment, entries[0], notebook_name)  # a wrapper folder (e.g. the zip's own)
    found: dict[str, dict[str, Path]] = {}
    attempts: dict[str, str] = {}
    for entry in entries:
        if entry.is_dir():
            if not STUDENT.match(entry.name):
                continue
            root = entry / assignment if (entry / assignment).is_dir() else entry
            files = {str(p.relative_to(root)): p for p in root.rglob("*")
                     if p.is_file() and not p.is_symlink() and not set(p.relative_to(root).parts) & SKIP}
            found[entry.name] = files
            continue
        match = BLACKBOARD.match(entry.name)
        if match and STUDENT.match(match["student"]):
            student, name = match["student"], match["file"]
            if attempts.get(student, "") > match["stamp"]:
                continue
            if attempts.get(student, "") < match["stamp"]:
                found[student] = {}
            attempts[student] = match["stamp"]
        elif entry.name.count("_") and f"_{assignment}" in entry.name:
            student, _, rest = entry.name.partition(f"_{assignment}")
            if not STUDENT.match(student):
                continue
            name = rest.lstrip("_") or entry.name
        else:
            continue
        if name.endswith(".ipynb"):
            name = notebook_name
        found.setdefault(student, {})[name] = entry
    return found


def collect(assignment: str, source: Path, course_dir: Path) -> dict[str, list[str]]:
    """Copy every submission found in ``source`` (folder or .zip) to ``course_dir/submitted``; replaces a
    student's previous copy of this assignment. Returns {student: files}."""
    with tempfile.TemporaryDirectory() as tmp:
        if source.is_file() and zipfile.is_zipfile(source):
            folder = Path(tmp) / "unzipped"
            safe_extract(source, folder)
        elif source.is_dir():
            folder = source
        else:
            raise CollectError(f"{source} is neither a folder nor a zip file")
        found = plan(assignment, folder, f"{assignment}.ipynb")
        if not found:
            raise CollectError(f"no submission of {assignment} recognised in {source} (see --help for layouts)")
        for student, files in found.items():
            target = course_dir / "submitted" / student / assignment
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            for name, path in files.items():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target / name)
        return {student: sorted(files) for student, files in found.items()}
