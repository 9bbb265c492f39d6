"""Runs inside the learner's kernel at autograde time: proof that a test cell ran to its end, and a look for hooks.

The grader appends one line to every graded test cell (in the gradebook's copy, never in the learners' notebooks):
``__import__("grader.evidence", fromlist=["emit"]).emit("<grade id>", "<batch nonce>")  # grader evidence``.
Reaching it means the cell's code ran to its end; :func:`emit` publishes a display output of type :data:`MIME`
with the grade id, the nonce and the kernel hooks it finds (:func:`hooks`). A test cell without that output scored
nothing that can be trusted (an input transformer blanked it, say): the grader scores it 0 and flags it.

This raises the bar, it is not proof: code in the same kernel can do anything, including reading this file.
Bootstrap exercises are graded out of the kernel (the conformance suite runs the learner's file).
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from types import ModuleType
from typing import Any

MIME = "application/vnd.lambda-course.grader-evidence+json"
MARK = "# grader evidence"
TRUSTED = ("IPython.", "ipykernel.", "ipywidgets", "comm", "matplotlib", "matplotlib_inline.")
SHELL_METHODS = ("run_cell", "run_cell_async", "run_code", "run_ast_nodes", "transform_cell", "showtraceback",
                 "_showtraceback", "showsyntaxerror", "should_run_async", "get_exception_only")


def line(grade_id: str, nonce: str) -> str:
    """The line appended to a graded test cell."""
    return f'__import__("grader.evidence", fromlist=["emit"]).emit({grade_id!r}, {nonce!r})  {MARK}'


def _module_of(value: Any) -> str:
    return getattr(getattr(value, "__func__", value), "__module__", None) or ""


def _names(functions: list) -> list[str]:
    return [getattr(f, "__qualname__", type(f).__qualname__) for f in functions]


def _input_hooks(shell: Any) -> list[str]:
    from IPython.core.inputtransformer2 import TransformerManager

    found = []
    manager, default = shell.input_transformer_manager, TransformerManager()
    if type(manager) is not TransformerManager:
        found.append(f"input transformer manager replaced ({type(manager).__qualname__})")
    else:
        for attr in ("cleanup_transforms", "line_transforms", "token_transformers"):
            if _names(getattr(manager, attr)) != _names(getattr(default, attr)):
                found.append(f"input transformer added ({attr})")
    if shell.input_transformers_post:
        found.append("input transformer added (input_transformers_post)")
    if shell.ast_transformers:
        found.append("AST transformer added")
    return found


def _shell_hooks(shell: Any) -> list[str]:
    found = []
    for name in SHELL_METHODS:
        if name in vars(shell) and not _module_of(vars(shell)[name]).startswith(TRUSTED):
            found.append(f"shell.{name} replaced")
    for event, callbacks in shell.events.callbacks.items():
        for callback in callbacks:
            if not _module_of(callback).startswith(TRUSTED):
                found.append(f"{event} event callback registered")
    custom = tuple(shell.custom_exceptions)
    if custom:
        from course.checks import CheckFailed, _show_check_failed

        closure = getattr(getattr(shell.CustomTB, "__func__", None), "__closure__", None) or ()
        handlers = {id(cell.cell_contents) for cell in closure if cell.cell_contents is not None}
        if custom != (CheckFailed,) or id(_show_check_failed) not in handlers:
            found.append("custom exception handler (set_custom_exc) replaced")
    if sys.gettrace() is not None or sys.getprofile() is not None:
        found.append("trace or profile function set (sys.settrace/setprofile)")
    return found


@functools.cache
def _pristine(path: str) -> ModuleType:
    """A fresh copy of course/checks.py, loaded once per kernel (the first test cell), to compare against."""
    spec = importlib.util.spec_from_file_location("_grader_pristine_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _checker_hooks() -> list[str]:
    """``course.check``, ``course.check_equal`` and ``course.checks`` as shipped: same objects, same code."""
    checks = sys.modules.get("course.checks")
    course = sys.modules.get("course")
    if checks is None or course is None:
        return []
    pristine = _pristine(checks.__file__)
    found = []
    for name in ("check", "check_equal", "_show", "_show_check_failed"):
        live = getattr(checks, name, None)
        if getattr(live, "__code__", None) is None or live.__code__.co_code != getattr(pristine, name).__code__.co_code:
            found.append(f"course.checks.{name} replaced")
    for name in ("check", "check_equal"):
        if getattr(course, name, None) is not getattr(checks, name, None):
            found.append(f"course.{name} replaced")
    failed = getattr(checks, "CheckFailed", None)
    if not (isinstance(failed, type) and issubclass(failed, AssertionError)
            and failed.__init__.__code__.co_code == pristine.CheckFailed.__init__.__code__.co_code):
        found.append("course.checks.CheckFailed replaced")
    return found


def hooks() -> list[str]:
    """Changes to the kernel that can alter what a test cell runs or how its failure shows."""
    try:
        from IPython import get_ipython
    except ImportError:
        return ["not running in IPython"]
    shell = get_ipython()
    if shell is None:
        return ["not running in IPython"]
    found = []
    for probe in (_input_hooks, _shell_hooks):
        try:
            found += probe(shell)
        except Exception as exc:  # noqa: BLE001 - a probe that breaks is itself a sign of tampering
            found.append(f"probe {probe.__name__} failed: {type(exc).__name__}")
    try:
        found += _checker_hooks()
    except Exception as exc:  # noqa: BLE001
        found.append(f"probe _checker_hooks failed: {type(exc).__name__}")
    return found


def emit(grade_id: str, nonce: str) -> None:
    """Publish the evidence output of this test cell."""
    from IPython.display import publish_display_data

    publish_display_data({MIME: {"cell": grade_id, "nonce": nonce, "hooks": hooks()}})
