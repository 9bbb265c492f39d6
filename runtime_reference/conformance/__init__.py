"""The conformance suite: check any bootstrap, in any language, against the emulator.

    from runtime_reference.conformance import run
    report = run("my_runtime/bootstrap", level="standard")
    print(report.render_text())

The suite copies the bootstrap into a temporary task root next to its own handler (Python or shell,
chosen from the shebang), sets ``_HANDLER`` to it, and runs the named checks of the level
(basic, standard, full) through one ``runtime_reference.Emulator``. Every wait is bounded: a
bootstrap that crashes or hangs gets failed checks, never an exception or a stuck suite.
"""

from __future__ import annotations

import time
from pathlib import Path

from .checks import LEVELS, REGISTRY, Check, CheckFailed, Verdict, checks_for, detect_kind, diagnose
from .report import CheckResult, Report
from .session import HANDLER_FILES, NoResult, Session, build_task_root

__all__ = ["HANDLER_KINDS", "LEVELS", "REGISTRY", "CheckResult", "Report", "UsageError", "find_bootstrap", "run"]

HANDLER_KINDS = tuple(HANDLER_FILES)


class UsageError(ValueError):
    """The suite cannot start: no such path, no bootstrap, unknown level or handler kind."""


def find_bootstrap(path: str | Path) -> tuple[Path, Path | None]:
    """(bootstrap file, task-root directory or None) for a file or a directory holding ``bootstrap``."""
    path = Path(path)
    if path.is_dir():
        bootstrap = path / "bootstrap"
        if not bootstrap.is_file():
            raise UsageError(f"{path} has no file named 'bootstrap'")
        return bootstrap, path
    if not path.is_file():
        raise UsageError(f"{path}: no such file or directory")
    return path, None


def resolve_kind(bootstrap: Path, handler_kind: str | None) -> str | None:
    """The handler kind to use: the override, else the shebang's language (None if unknown)."""
    if handler_kind is not None and handler_kind not in HANDLER_KINDS:
        raise UsageError(f"unknown handler kind {handler_kind!r}; choose one of {', '.join(HANDLER_KINDS)}")
    return handler_kind or detect_kind(bootstrap)


def run(path: str | Path, level: str = "basic", handler_kind: str | None = None) -> Report:
    """Run the checks of ``level`` on the bootstrap at ``path`` and return the report."""
    started = time.monotonic()
    if level not in LEVELS:
        raise UsageError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    bootstrap, source_dir = find_bootstrap(path)
    kind = resolve_kind(bootstrap, handler_kind)
    if kind is None and diagnose(bootstrap) is None:
        raise UsageError(f"cannot tell the language of {bootstrap} from its `#!` line; "
                         f"pass handler_kind (--handler-kind) {' or '.join(HANDLER_KINDS)}")
    report = Report(str(bootstrap), level, kind)
    session = Session(build_task_root(bootstrap, source_dir, kind), bootstrap, kind)
    try:
        for spec in checks_for(level):
            report.checks.append(run_check(spec, session, report.checks))
    finally:
        session.close()
    report.duration_s = time.monotonic() - started
    return report


def run_check(spec: Check, session: Session, done: list[CheckResult]) -> CheckResult:
    """One check, turned into a CheckResult whatever happens."""
    reason = skip_reason(spec, session, done)
    if reason:
        return CheckResult(spec.name, False, spec.description, actual=reason, hint=spec.hint, skipped=True)
    try:
        verdict = spec.run(session)
    except NoResult as exc:
        verdict = Verdict(False, f"an answer within the function timeout ({session.timeout_s:g} s)", str(exc))
    except CheckFailed as exc:
        verdict = Verdict(False, "", str(exc))
    except Exception as exc:  # noqa: BLE001 - a broken bootstrap must never crash the suite
        verdict = Verdict(False, "", f"the check itself failed: {type(exc).__name__}: {exc}")
    return CheckResult(spec.name, verdict.passed, spec.description, verdict.expected or spec.description,
                       verdict.actual,
                       "" if verdict.passed else (verdict.hint or spec.hint))


def skip_reason(spec: Check, session: Session, done: list[CheckResult]) -> str:
    """Why ``spec`` is not run ('' when it is)."""
    if done and done[0].name == "bootstrap_executable" and not done[0].passed:
        return "the bootstrap cannot be executed; see bootstrap_executable"
    if spec.live and session.dead:
        return "an earlier invoke hung and the runtime never answered; see the first failed check"
    return ""
