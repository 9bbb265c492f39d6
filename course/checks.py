"""Checks that teach: each says what was expected, what happened, and a hint.

A failed check raises ``CheckFailed`` (an AssertionError, so nbgrader scores the cell 0). In a notebook it shows as a
short message instead of a traceback.
"""

from __future__ import annotations

from typing import Any

MAX_SHOWN = 300


class CheckFailed(AssertionError):
    """A check that did not pass; ``str()`` is the readable report."""

    def __init__(self, description: str, expected: Any, actual: Any, hint: str):
        self.description, self.expected, self.actual, self.hint = description, expected, actual, hint
        lines = [f"✘ {description}", f"  expected: {_show(expected)}", f"  actual:   {_show(actual)}"]
        if hint:
            lines.append(f"  hint:     {hint}")
        super().__init__("\n".join(lines))


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + f"... ({len(text)} characters)"


def check(description: str, passed: bool, *, expected: Any = "", actual: Any = "", hint: str = "") -> None:
    """Print ``✔ description`` when ``passed``, else raise CheckFailed with expected / actual / hint."""
    if not passed:
        raise CheckFailed(description, expected, actual, hint)
    print(f"✔ {description}")


def check_equal(description: str, actual: Any, expected: Any, hint: str = "") -> None:
    check(description, actual == expected, expected=expected, actual=actual, hint=hint)


def _show_check_failed(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    """IPython handler: the check's own report instead of a traceback. It is still sent as the cell's error
    output (so the cell counts as failed, for the learner and for nbgrader)."""
    report = [str(value)]
    shell._showtraceback(etype, value, report)
    return report


def install_in_ipython() -> None:
    """Show CheckFailed as its report in IPython (called when ``course`` is imported in a kernel)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((CheckFailed,), _show_check_failed)
