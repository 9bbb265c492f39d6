"""`python -m grader`: the instructor's command line (placeholder)."""

import argparse
import sys

MESSAGE = "The instructor CLI (release, autograde, feedback) comes with a later issue."


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m grader", description=MESSAGE)
    parser.parse_args(argv)
    print(MESSAGE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
