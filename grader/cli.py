"""The instructor's command line: `python -m grader release|collect|autograde ...`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import autograde as autograding
from . import collect as collecting
from . import release as releasing
from . import sandbox

DESCRIPTION = """\
Instructor tools for the course (an nbgrader course in grader/).

  release   generate the learners' notebooks (notebooks/) from the instructor sources (grader/source/)
  collect   copy learners' submissions (a folder or an LMS zip) into grader/submitted/
  autograde grade every submission in parallel, each isolated under limits, into grader/gradebook.db
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{release,collect,autograde}")
    release = commands.add_parser("release", help="write the learners' notebooks into notebooks/")
    release.add_argument("assignments", nargs="*", help="which ones (default: all in grader/source/)")
    release.add_argument("--check", action="store_true",
                         help="change nothing; exit 1 if notebooks/ is out of date with the sources")
    collect = commands.add_parser("collect", help="copy submissions into grader/submitted/",
                                  description=collecting.__doc__,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    collect.add_argument("assignment")
    collect.add_argument("source", type=Path, help="a folder or a .zip of submissions")
    collect.add_argument("--course-dir", type=Path, default=releasing.GRADER_DIR, help=argparse.SUPPRESS)
    grade = commands.add_parser("autograde", help="grade all submissions, in parallel and isolated",
                                description=autograding.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    grade.add_argument("assignment")
    grade.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel submissions (default: CPUs)")
    grade.add_argument("--timeout", type=float, default=600,
                       help="wall-clock (and CPU-time) cap per submission, seconds (default 600)")
    grade.add_argument("--cell-timeout", type=int, default=None,
                       help="nbgrader's per-cell timeout, seconds (default: min(60, timeout/4))")
    grade.add_argument("--memory", type=int, default=2048, help="address-space limit per submission, MB")
    grade.add_argument("--processes", type=int, default=128, help="process limit per submission")
    grade.add_argument("--max-output-kb", type=int, default=256,
                       help="a graded cell with more output than this scores 0 (default 256)")
    grade.add_argument("--student", action="append", help="only these students (repeat)")
    grade.add_argument("--no-progress", action="store_true", help="no progress bar")
    grade.add_argument("--course-dir", type=Path, default=releasing.GRADER_DIR, help=argparse.SUPPRESS)
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
    cell_timeout = args.cell_timeout or max(1, int(min(60, args.timeout / 4)))
    settings = autograding.Settings(limits, cell_timeout, args.max_output_kb)
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
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "collect":
        return run_collect(args)
    if args.command == "autograde":
        return run_autograde(args)
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
