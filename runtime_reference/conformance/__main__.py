"""CLI: ``python -m runtime_reference.conformance PATH [--level L] [--json] [--handler-kind K]``.

Exit status: 0 when every check passes, 1 when any fails, 2 on a usage error (e.g. PATH missing).
"""

from __future__ import annotations

import argparse
import sys

from . import HANDLER_KINDS, LEVELS, UsageError, run


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m runtime_reference.conformance",
        description="Check a Lambda custom runtime bootstrap against the emulator.")
    p.add_argument("path", help="a bootstrap file (copied alone) or a task-root directory containing `bootstrap` "
                   "(copied whole)")
    p.add_argument("--level", choices=LEVELS, default="basic", help="which checks to run (default: basic)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--handler-kind", choices=HANDLER_KINDS, default=None,
                   help="the suite's handler to use (default: from the bootstrap's shebang)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the suite and print the report; returns the exit status."""
    args = parser().parse_args(argv)
    try:
        report = run(args.path, level=args.level, handler_kind=args.handler_kind)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.to_json() if args.json else report.render_text())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
