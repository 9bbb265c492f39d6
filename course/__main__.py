"""`python -m course quiz 02`: a chapter's self-check questions in the terminal."""

import argparse
import sys

from . import quiz_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course", description="The course's helpers for the terminal.")
    commands = parser.add_subparsers(dest="command", required=True)
    quiz = commands.add_parser("quiz", help="answer a chapter's quiz: python -m course quiz 02")
    quiz.add_argument("chapter", help="the chapter number, e.g. 00 or 02")
    args = parser.parse_args(argv)
    return quiz_cli.run(args.chapter)


sys.exit(main())
