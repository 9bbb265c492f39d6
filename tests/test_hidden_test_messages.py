"""Every assertion of a hidden test carries a message in words.

Learners' feedback hides the hidden tests' source and tracebacks and shows the AssertionError's message instead:
a bare ``assert`` would tell them nothing. So each ``assert`` between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS`` of a graded test cell has a message that is a string literal or an f-string, and each
``raise AssertionError(...)`` there has one too.
"""

from __future__ import annotations

import ast
import re

import nbformat
import pytest

from tests.notebooks import SOURCE, assignments, grading, notebook_path

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", flags=re.S)


def _is_text(node: ast.expr | None) -> bool:
    """A str literal or an f-string (implicit concatenations of either parse as one of the two)."""
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _raises_assertion_error(node: ast.Raise) -> ast.Call | ast.expr | None:
    """The raised expression when it is ``AssertionError`` or ``AssertionError(...)``, else None."""
    exc = node.exc
    target = exc.func if isinstance(exc, ast.Call) else exc
    return exc if isinstance(target, ast.Name) and target.id == "AssertionError" else None


def hidden_test_problems(source: str) -> list[tuple[int, str]]:
    """(line in ``source``, problem) for each assertion of a hidden block of this cell source without a message
    in words. A hidden block that does not parse on its own is a problem too."""
    problems = []
    for match in HIDDEN.finditer(source):
        first_line = source.count("\n", 0, match.start(1)) + 1
        try:
            tree = ast.parse(match.group(1))
        except SyntaxError as exc:
            problems.append((first_line + (exc.lineno or 1) - 1, f"the hidden block does not parse: {exc.msg}"))
            continue
        for node in ast.walk(tree):
            line = first_line + getattr(node, "lineno", 1) - 1
            if isinstance(node, ast.Assert):
                if node.msg is None:
                    problems.append((line, "assert without a message"))
                elif not _is_text(node.msg):
                    problems.append((line, f"assert whose message is not a str or f-string: "
                                           f"{ast.unparse(node.msg)}"))
            elif isinstance(node, ast.Raise) and (exc := _raises_assertion_error(node)) is not None:
                args = exc.args if isinstance(exc, ast.Call) else []
                if not args or not _is_text(args[0]):
                    problems.append((line, "AssertionError raised without a message in words"))
    return problems


@pytest.mark.parametrize(("source", "expected"), [
    ("x = 1\n### BEGIN HIDDEN TESTS\nassert x == 1\n### END HIDDEN TESTS\n", [(3, "assert without a message")]),
    ("### BEGIN HIDDEN TESTS\nfor v in [1]:\n    assert v\n### END HIDDEN TESTS\n", [(3, "assert without a message")]),
    ("### BEGIN HIDDEN TESTS\nassert x, (x, 1)\n### END HIDDEN TESTS\n",
     [(2, "assert whose message is not a str or f-string: (x, 1)")]),
    ("### BEGIN HIDDEN TESTS\nassert x, report.render_text()\n### END HIDDEN TESTS\n",
     [(2, "assert whose message is not a str or f-string: report.render_text()")]),
    ("### BEGIN HIDDEN TESTS\nraise AssertionError\n### END HIDDEN TESTS\n",
     [(2, "AssertionError raised without a message in words")]),
    ("### BEGIN HIDDEN TESTS\nraise AssertionError(value)\n### END HIDDEN TESTS\n",
     [(2, "AssertionError raised without a message in words")]),
    ("### BEGIN HIDDEN TESTS\nassert x ==\n### END HIDDEN TESTS\n", [(2, "the hidden block does not parse: invalid syntax")]),
    ("assert x\n### BEGIN HIDDEN TESTS\nassert x, 'x is set'\n### END HIDDEN TESTS\nassert y\n", []),
    ("### BEGIN HIDDEN TESTS\nassert x, (\n    'part one, '\n    f'got {x!r}')\n### END HIDDEN TESTS\n", []),
    ("### BEGIN HIDDEN TESTS\nraise AssertionError(f'{v!r} should raise ValueError')\n### END HIDDEN TESTS\n", []),
    ("### BEGIN HIDDEN TESTS\nassert a, 'a'\n### END HIDDEN TESTS\nok = 1\n### BEGIN HIDDEN TESTS\n\nassert b\n"
     "### END HIDDEN TESTS\n", [(7, "assert without a message")]),
], ids=["bare", "bare-in-loop", "tuple", "call", "raise-bare-class", "raise-non-str", "syntax-error",
        "outside-hidden-ignored", "implicit-concatenation", "raise-f-string", "second-block"])
def test_the_checker(source, expected) -> None:
    assert hidden_test_problems(source) == expected


def _graded_test_cells(assignment: str) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(notebook_path(SOURCE, assignment), as_version=4)
    return [cell for cell in nb.cells if cell.cell_type == "code" and grading(cell).get("grade")]


@pytest.mark.parametrize("assignment", assignments())
def test_every_hidden_assertion_has_a_message(assignment) -> None:
    cells = _graded_test_cells(assignment)
    problems = [f"{assignment}, cell {grading(cell)['grade_id']}, line {line}: {problem}"
                for cell in cells for line, problem in hidden_test_problems(cell.source)]
    assert not problems, "\n".join(problems)
    asserts = sum(isinstance(node, ast.Assert) for cell in cells for block in HIDDEN.findall(cell.source)
                  for node in ast.walk(ast.parse(block)))
    assert asserts, f"{assignment}: no assert found in its hidden tests: is the checker still looking right?"
