"""`python -m grader autograde ASSIGNMENT`: grade every collected submission, in parallel, each in isolation.

For each student of ``submitted/`` (in parallel, ``--jobs``): a private course directory holding the assignment's
source, the course config and a fresh gradebook (made once per batch by ``generate_assignment`` in a staging copy),
plus that one submission; ``nbgrader autograde`` runs there under :mod:`grader.sandbox` limits (CPU time, memory,
processes, wall clock). The parent then merges that student's grades into the course gradebook (:mod:`grader.merge`,
one writer, one transaction per student) and copies the autograded notebooks to ``autograded/<student>/``.
A run that hits a limit or crashes nbgrader scores 0 on every graded cell, with a flag saying why; a graded cell
whose output exceeds ``--max-output-kb`` scores 0 (and its output is truncated in the stored copy).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.utils import compute_checksum
from tqdm import tqdm

from . import evidence, merge, sandbox, tamper
from .forkserver import ForkServer
from .release import GRADER_DIR, generate

DEFAULT_CELL_TIMEOUT = 6  # seconds; the slowest cell of chapters 00-03 (solutions) takes 2.0 s
TRUNCATED = "\n[... output truncated by the grader ...]\n"
ERROR_FLAGS = {"CellTimeoutError": "cell timeout", "KeyboardInterrupt": "cell timeout",
               "MemoryError": "memory limit", "BlockingIOError": "process limit",
               "DeadKernelError": "kernel died"}


@dataclass(frozen=True)
class Settings:
    """Limits and knobs of one batch."""

    limits: sandbox.Limits
    cell_timeout: int
    max_output_kb: int = 256
    fork_server: bool = True


@dataclass
class Stage:
    """The batch's staging course: its path, the evidence nonce, the learners' release of each notebook and the
    gradebook's graded test cells ({notebook: {grade id: (source, checksum)}})."""

    path: Path
    nonce: str
    releases: dict[str, nbformat.NotebookNode]
    tests: dict[str, dict[str, tuple[str, str]]]


@dataclass
class Result:
    """What grading one student produced (before the merge), and the summary row after it."""

    student: str
    seconds: float = 0.0
    flags: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    zeroed: set[str] = field(default_factory=set)
    results: dict | None = None
    autograded: Path | None = None
    score: float = 0.0
    max_score: float = 0.0


def students(assignment: str, course_dir: Path) -> list[str]:
    """Students with a submission of ``assignment`` in ``course_dir/submitted``."""
    submitted = course_dir / "submitted"
    if not submitted.is_dir():
        return []
    return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir())


STUDENT_TABLES = ("comment", "grade", "submitted_notebook", "submitted_assignment", "student")


def stage(assignment: str, course_dir: Path, batch_dir: Path) -> Stage:
    """The batch's staging course: the learners' release of the assignment, the config, and a copy of the course
    gradebook without students in which every graded test cell of the assignment ends with the evidence line
    (a fresh nonce per batch). Built in-process from ``release/`` and the gradebook that ``generate_assignment``
    made: no nbgrader start-up."""
    staging = batch_dir / "staging"
    shutil.copytree(course_dir / "release" / assignment, staging / "release" / assignment,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copy2(course_dir / "nbgrader_config.py", staging / "nbgrader_config.py")
    shutil.copy2(course_dir / "gradebook.db", staging / "gradebook.db")
    with sqlite3.connect(staging / "gradebook.db") as db:  # other learners' grades never reach a private copy
        for table in STUDENT_TABLES:
            db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    nonce = secrets.token_hex(8)
    releases = {p.stem: nbformat.read(p, as_version=4)
                for p in (staging / "release" / assignment).glob("*.ipynb")}
    tests: dict[str, dict[str, tuple[str, str]]] = {}
    with Gradebook(merge.db_url(staging / "gradebook.db")) as gradebook:
        for notebook in gradebook.find_assignment(assignment).notebooks:
            release = {c.metadata["nbgrader"]["grade_id"]: c for c in releases[notebook.name].cells
                       if tamper.is_test(c)}
            tests[notebook.name] = {}
            for cell in notebook.source_cells:
                if cell.name in release:
                    cell.source = cell.source.rstrip("\n") + "\n" + evidence.line(cell.name, nonce)
                    cell.checksum = compute_checksum(nbformat.v4.new_code_cell(
                        cell.source, metadata={"nbgrader": dict(release[cell.name].metadata["nbgrader"])}))
                    tests[notebook.name][cell.name] = (cell.source, cell.checksum)
        gradebook.db.commit()
    return Stage(staging, nonce, releases, tests)


def prepare(folder: Path, staged: Stage) -> list[str]:
    """Repair each submitted notebook of ``folder`` against the staging gradebook and scan it for kernel hooks;
    returns the flags."""
    flags: list[str] = []
    for name, release in staged.releases.items():
        path = folder / f"{name}.ipynb"
        if not path.exists():
            flags.append(f"{name}.ipynb missing from the submission")
            continue
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as exc:  # noqa: BLE001 - a broken file scores 0, flagged, and the batch goes on
            flags.append(f"{name}.ipynb unreadable ({type(exc).__name__})")
            path.unlink()
            continue
        flags += tamper.scan(nb)
        flags += tamper.repair(nb, release, staged.tests.get(name, {})).flags
        nbformat.write(nb, path)
    return flags


def _environment(private: Path) -> dict[str, str]:
    """A small environment: none of the instructor's variables (credentials...) reach learner code."""
    bin_dir = Path(sys.executable).parent
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "HOME": str(private / "home"), "TMPDIR": str(private / "tmp"),
           "JUPYTER_RUNTIME_DIR": str(private / "home" / "runtime"), "IPYTHONDIR": str(private / "home" / "ipython"),
           "MPLCONFIGDIR": str(private / "home" / "mpl"), "PYTHONDONTWRITEBYTECODE": "1",
           "MALLOC_ARENA_MAX": "2"}
    for name in ("HOME", "TMPDIR"):
        Path(env[name]).mkdir(parents=True, exist_ok=True)
    return env


def inspect(folder: Path, max_output_kb: int, nonce: str | None = None) -> tuple[list[str], set[str]]:
    """Flags (errors that show a limit was hit, missing evidence, kernel hooks) and graded cells to zero (output
    too large, no evidence, hooked) in the autograded notebooks of ``folder``; oversized outputs are truncated in
    place."""
    flags: list[str] = []
    zeroed: set[str] = set()
    limit = max_output_kb * 1024
    for path in sorted(folder.rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        changed = False
        if nonce is not None:
            found, hooked = tamper.verify(nb, nonce)
            flags += found
            zeroed |= hooked
            changed = bool(hooked)
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            meta = cell.metadata.get("nbgrader", {})
            name = meta.get("grade_id") or f"cell {index}"
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    reason = ERROR_FLAGS.get(output.get("ename", ""))
                    if "Resource temporarily unavailable" in output.get("evalue", ""):
                        reason = "process limit"
                    if reason and f"{reason} in {name}" not in flags:
                        flags.append(f"{reason} in {name}")
            size = sum(len(str(output)) for output in cell.get("outputs", []))
            if size > limit:
                flags.append(f"output of {size // 1024} KB in {name}")
                if meta.get("grade"):
                    zeroed.add(meta["grade_id"])
                    tamper.mark_zeroed(cell, f"its output ({size // 1024} KB) is larger than the grader keeps "
                                             f"({max_output_kb} KB). Print less.")
                for output in cell.outputs:
                    if "text" in output and len(output.text) > limit:
                        output.text = output.text[:limit] + TRUNCATED
                    for key, value in list(output.get("data", {}).items()):
                        if isinstance(value, str) and len(value) > limit:
                            output.data[key] = value[:limit] + TRUNCATED
                changed = True
        if changed:
            os.chmod(path, 0o644)
            nbformat.write(nb, path)
    return flags, zeroed


STOPPED = ('raise RuntimeError("The grader stopped this cell: it was still running when the time limit was reached. '
           'The rest of the notebook was graded without it.")')


def _run(assignment: str, student: str, private: Path, settings: Settings, server: ForkServer | None,
         log: Path) -> tuple[sandbox.Outcome, list[str]]:
    """``nbgrader autograde`` of one student in ``private``, under the limits; the flags for a limit it hit."""
    command = [sys.executable, "-m", "nbgrader", "autograde", assignment, "--student", student, "--force",
               f"--CourseDirectory.root={private}", f"--Execute.timeout={settings.cell_timeout}",
               "--Execute.raise_on_iopub_timeout=False", "--Execute.interrupt_on_timeout=True",
               f"--Execute.ipython_hist_file={history_file(private)}"]  # nbclient's default keeps it in memory
    outcome = sandbox.run(command, private, _environment(private), settings.limits, log, server)
    flags = []
    if outcome.killed_for == "wall":
        flags.append(f"wall-clock limit ({settings.limits.wall_seconds:g} s)")
    elif outcome.killed_for == "processes":
        flags.append(f"process limit ({settings.limits.processes})")
    elif outcome.returncode == -signal.SIGXCPU:
        flags.append(f"CPU-time limit ({settings.limits.cpu_seconds} s)")
    elif outcome.returncode != 0:
        last = [line for line in outcome.log.splitlines() if line.strip()][-1:] or [""]
        flags.append(f"nbgrader failed (exit {outcome.returncode}): {last[0][:120]}")
    return outcome, flags


def history_file(private: Path) -> Path:
    """Where the kernel of a run keeps IPython's input history (each cell's text as it starts)."""
    return private / "home" / "history.sqlite"


def running_cell(private: Path) -> str | None:
    """The text of the last cell the kernel started, from the run's IPython history."""
    history = history_file(private)
    if not history.exists():
        return None
    try:
        with sqlite3.connect(f"file:{history}?mode=ro", uri=True) as db:
            row = db.execute("SELECT source_raw FROM history ORDER BY session DESC, line DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def stop_running_cell(private: Path, submission: Path) -> str | None:
    """Replace the learner's cell that was running when the run was stopped by a raise (never a locked cell: the
    grader's own cells are restored anyway); returns its name, or None when it is not found."""
    running = running_cell(private)
    if not running or not running.strip():
        return None
    for path in sorted(submission.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for index, cell in enumerate(nb.cells):
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and not meta.get("locked") and cell.source.strip() == running.strip():
                cell.source = STOPPED
                nbformat.write(nb, path)
                return meta.get("grade_id") or f"cell {index + 1}"
    return None


def grade_one(assignment: str, student: str, course_dir: Path, staged: Stage, batch_dir: Path,
              settings: Settings, server: ForkServer | None = None) -> Result:
    """Autograde one submission in a private course directory, under limits (runs in a worker thread)."""
    started = time.monotonic()
    result = Result(student)
    try:
        private = batch_dir / f"student-{student}"
        staging = staged.path
        # the learners' release, not the instructor's source: no solutions within reach of the learner's code
        shutil.copytree(staging / "release", private / "source")
        shutil.copy2(staging / "nbgrader_config.py", private / "nbgrader_config.py")
        shutil.copy2(staging / "gradebook.db", private / "gradebook.db")
        submission = private / "submitted" / student / assignment
        shutil.copytree(course_dir / "submitted" / student / assignment, submission, symlinks=False,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        result.flags += prepare(submission, staged)
        outcome, flags = _run(assignment, student, private, settings, server, batch_dir / f"log-{student}.txt")
        result.flags += flags
        if outcome.killed_for == "wall" or outcome.returncode == -signal.SIGXCPU:
            # the cell running at the kill is the one that never ends (not so for processes: a fork burst's
            # children outlive their cell); grade again without it, so that only what it broke scores 0
            stopped = stop_running_cell(private, submission)
            if stopped:
                result.flags.append(f"{stopped} stopped by the grader; the rest graded again without it")
                shutil.copy2(staging / "gradebook.db", private / "gradebook.db")
                shutil.rmtree(private / "autograded", ignore_errors=True)
                outcome, flags = _run(assignment, student, private, settings, server,
                                      batch_dir / f"log-{student}-again.txt")
                result.flags += flags
        result.warnings = [line for line in outcome.log.splitlines() if "WARNING" in line]
        folder = private / "autograded" / student / assignment
        if outcome.returncode == 0 and outcome.killed_for is None:
            result.results = merge.private_results(private / "gradebook.db", assignment, student)
            if result.results is None:
                result.flags.append("no grades recorded")
        if folder.is_dir() and outcome.returncode == 0 and outcome.killed_for is None:  # else: not executed
            flags, result.zeroed = inspect(folder, settings.max_output_kb, staged.nonce)
            result.flags += flags
            result.autograded = folder
    except Exception as exc:  # a broken submission must not fail the batch: it scores 0, flagged
        result.flags.append(f"grader error: {type(exc).__name__}: {exc}")
    result.seconds = time.monotonic() - started
    return result


def store(result: Result, assignment: str, course_dir: Path) -> None:
    """Merge into the course gradebook, then replace ``autograded/<student>/<assignment>``."""
    result.score, result.max_score = merge.merge(course_dir / "gradebook.db", assignment, result.student,
                                                 result.results, result.zeroed, bool(result.flags))
    target = course_dir / "autograded" / result.student / assignment
    if result.autograded is not None:
        fresh = target.with_name(f".{assignment}.new")
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.copytree(result.autograded, fresh)
        shutil.rmtree(target, ignore_errors=True)
        fresh.rename(target)
    else:
        shutil.rmtree(target, ignore_errors=True)


def summary(results: list[Result], width: int = 100) -> str:
    """A plain-text table: student, score/max, seconds, flags (cut to ``width`` characters)."""
    rows = [("student", "score", "seconds", "flags")]
    for r in sorted(results, key=lambda r: r.student):
        flags = "; ".join(r.flags) or "-"
        rows.append((r.student, f"{r.score:g}/{r.max_score:g}", f"{r.seconds:.1f}",
                     flags if len(flags) <= width else flags[:width - 1] + "…"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}  {d}" for a, b, c, d in rows)


def report(results: list[Result], assignment: str) -> str:
    """The instructor's report: the summary, then every flag and nbgrader warning of each flagged student."""
    lines = [f"autograde {assignment}: {len(results)} submission(s), "
             f"{sum(1 for r in results if r.flags)} flagged", "", summary(results, width=60), ""]
    for r in sorted(results, key=lambda r: r.student):
        if r.flags:
            lines.append(f"{r.student} ({r.score:g}/{r.max_score:g}):")
            lines += [f"  - {flag}" for flag in r.flags]
            lines += [f"  nbgrader: {w.strip()}" for w in r.warnings if "has changed" in w or "missing" in w.lower()]
    return "\n".join(lines) + "\n"


def autograde(assignment: str, course_dir: Path = GRADER_DIR, jobs: int | None = None,
              settings: Settings | None = None, only: list[str] | None = None,
              progress: bool = True) -> list[Result]:
    """Grade every submission of ``assignment`` (or the students in ``only``); returns one result per student."""
    settings = settings or Settings(sandbox.Limits(), cell_timeout=60)
    names = [s for s in students(assignment, course_dir) if not only or s in only]
    if not names:
        return []
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(names)))
    if not (merge.has_assignment(course_dir / "gradebook.db", assignment)
            and (course_dir / "release" / assignment).is_dir()):
        generate(assignment, course_dir)
    batch_dir = Path(tempfile.mkdtemp(prefix=f"autograde-{assignment}-"))
    results: list[Result] = []
    pool = ThreadPoolExecutor(max_workers=jobs)
    server = ForkServer() if settings.fork_server else None
    try:
        staged = stage(assignment, course_dir, batch_dir)
        futures: dict[Future, str] = {
            pool.submit(grade_one, assignment, s, course_dir, staged, batch_dir, settings, server): s
            for s in names}
        with tqdm(total=len(names), desc=f"autograde {assignment}", unit="submission",
                  disable=not progress, file=sys.stderr) as bar:
            for future in as_completed(futures):
                result = future.result()
                store(result, assignment, course_dir)
                shutil.rmtree(batch_dir / f"student-{result.student}", ignore_errors=True)
                results.append(result)
                bar.set_postfix_str(result.student)
                bar.update()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        sandbox.kill_all()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if server is not None:
            server.close()
        shutil.rmtree(batch_dir, ignore_errors=True)
    return results
