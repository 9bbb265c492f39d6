"""The instructor's command line: `python -m grader release [--check] [ASSIGNMENT...]`."""

from __future__ import annotations

import argparse
import sys

from . import release as releasing

DESCRIPTION = """\
Instructor tools for the course (an nbgrader course in grader/).

  release   generate the learners' notebooks (notebooks/) from the instructor sources (grader/source/)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{release}")
    release = commands.add_parser("release", help="write the learners' notebooks into notebooks/")
    release.add_argument("assignments", nargs="*", help="which ones (default: all in grader/source/)")
    release.add_argument("--check", action="store_true",
                         help="change nothing; exit 1 if notebooks/ is out of date with the sources")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
