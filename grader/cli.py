"""The instructor's command line: `python -m grader release|collect|autograde|export ...`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import autograde as autograding
from . import collect as collecting
from . import export as exporting
from . import feedback as feedbacking
from . import release as releasing
from . import sandbox

DESCRIPTION = """\
Instructor tools for the course (an nbgrader course in grader/).

  release   generate the learners' notebooks (notebooks/) from the instructor sources (grader/source/)
  collect   copy learners' submissions (a folder or an LMS zip) into grader/submitted/
  autograde grade every submission in parallel, each isolated under limits, into grader/gradebook.db
  export    grades.csv, questions.csv (per student and per question) and a class plot, from the gradebook
  feedback  an HTML page per learner and notebook: scores, checks' reports, no hidden tests
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True,
                                     metavar="{release,collect,autograde,export,feedback}")
    release = commands.add_parser("release", help="write the learners' notebooks into notebooks/")
    release.add_argument("assignments", nargs="*", help="which ones (default: all in grader/source/)")
    release.add_argument("--check", action="store_true",
                         help="change nothing; exit 1 if notebooks/ is out of date with the sources")
    collect = commands.add_parser("collect", help="copy submissions into grader/submitted/",
                                  description=collecting.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    collect.add_argument("assignment")
    collect.add_argument("source", type=Path, help="a folder or a .zip of submissions")
    collect.add_argument("--course-dir", type=releasing.absolute, default=releasing.GRADER_DIR, help=argparse.SUPPRESS)
    grade = commands.add_parser("autograde", help="grade all submissions, in parallel and isolated",
                                description=autograding.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    grade.add_argument("assignment")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel submissions (default: CPUs)")
    grade.add_argument("--timeout", type=float, default=600,
                       help="wall-clock (and CPU-time) cap per submission, seconds (default 600)")
    grade.add_argument("--cell-timeout", type=int, default=autograding.DEFAULT_CELL_TIMEOUT,
                       help="nbgrader's per-cell timeout, seconds: a cell still running is interrupted and scores 0 "
                            f"(default {autograding.DEFAULT_CELL_TIMEOUT})")
    grade.add_argument("--memory", type=int, default=2048, help="address-space limit per submission, MB")
    grade.add_argument("--processes", type=int, default=128, help="process limit per submission")
    grade.add_argument("--max-output-kb", type=int, default=256,
                       help="a graded cell with more output than this scores 0 (default 256)")
    grade.add_argument("--student", action="append", help="only these students (repeat)")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.add_argument("--course-dir", type=releasing.absolute, default=releasing.GRADER_DIR, help=argparse.SUPPRESS)
    export = commands.add_parser("export", help="grades and per-question results (CSV) and a class plot",
                                 description=exporting.__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    exporting.add_arguments(export)
    feedback = commands.add_parser("feedback", help="feedback HTML per learner, without the hidden tests",
                                   description=feedbacking.__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    feedbacking.add_arguments(feedback)
    return parser


def run_collect(args: argparse.Namespace) -> int:
    try:
        found = collecting.collect(args.assignment, args.source, args.course_dir)
    except (collecting.CollectError, OSError) as exc:
        print(f"collect: {exc}", file=sys.stderr)
        return 1
    for student, files in sorted(found.items()):
        print(f"{student}: {', '.join(files)}")
    print(f"collected {len(found)} submission(s) of {args.assignment}")
    return 0


def run_autograde(args: argparse.Namespace) -> int:
    if not (args.course_dir / "source" / args.assignment).is_dir():
        print(f"No such assignment: {args.assignment}", file=sys.stderr)
        return 2
    limits = sandbox.Limits(wall_seconds=args.timeout, cpu_seconds=int(args.timeout), memory_mb=args.memory,
                            processes=args.processes)
    settings = autograding.Settings(limits, args.cell_timeout, args.max_output_kb)
    try:
        results = autograding.autograde(args.assignment, args.course_dir, args.jobs, settings, args.student,
                                        progress=not args.no_progress)
    except KeyboardInterrupt:
        print("interrupted: the grades already written are kept", file=sys.stderr)
        return 130
    if not results:
        print(f"no submission of {args.assignment} in {args.course_dir / 'submitted'}", file=sys.stderr)
        return 1
    print(autograding.summary(results))
    reports = args.course_dir / "reports"
    reports.mkdir(exist_ok=True)
    written = reports / f"{args.assignment}-autograde.txt"
    written.write_text(autograding.report(results, args.assignment))
    print(f"report (every flag, for each flagged student): {written}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "collect":
        return run_collect(args)
    if args.command == "autograde":
        return run_autograde(args)
    if args.command == "export":
        return exporting.run(args)
    if args.command == "feedback":
        return feedbacking.run(args)
    if args.check:
        problems = releasing.stale()
        for problem in problems:
            print(problem)
        print("notebooks/ is out of date: run `python -m grader release`" if problems else "notebooks/ is current")
        return 1 if problems else 0
    unknown = sorted(set(args.assignments) - set(releasing.assignments()))
    if unknown:
        print(f"No such assignment: {', '.join(unknown)}. Known: {', '.join(releasing.assignments())}",
              file=sys.stderr)
        return 2
    try:
        for target in releasing.release(args.assignments or None):
            print(f"released {target.relative_to(releasing.ROOT)}")
    except releasing.ReleaseError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0
