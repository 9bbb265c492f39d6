"""grader.tamper on hand-made notebooks: test cells put back, hooks found, evidence required (fast; the end-to-end
cases run in tests/test_grader_autograde.py)."""

from __future__ import annotations

import copy

import nbformat
import pytest

from grader import bench, evidence, tamper
from tests.notebooks import NOTEBOOKS

GRADEBOOK_SOURCE = "check(1)\n### BEGIN HIDDEN TESTS\nassert x == 1, 'x is 1'\n### END HIDDEN TESTS\n" + \
    evidence.line("test-1", "n0nce")


def _release() -> nbformat.NotebookNode:
    def meta(grade_id, **flags):
        return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "task": False, **flags}}
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Exercise 1"),
                nbformat.v4.new_code_cell("x = None", metadata=meta("ex-1", grade=False, solution=True,
                                                                    locked=False)),
                nbformat.v4.new_code_cell("check(1)", metadata=meta("test-1", grade=True, solution=False,
                                                                    locked=True, points=2)),
                nbformat.v4.new_markdown_cell("The end.")]
    return nb


def _submission() -> nbformat.NotebookNode:
    nb = copy.deepcopy(_release())
    nb.cells[1].source = "x = 1"
    return nb


def _repair(nb):
    return tamper.repair(nb, _release(), {"test-1": (GRADEBOOK_SOURCE, "sum")})


def _test_cells(nb):
    return [c for c in nb.cells if tamper.is_test(c)]


def test_untouched_submission_gets_the_gradebook_copy_without_flags() -> None:
    nb = _submission()
    done = _repair(nb)
    assert done.flags == [] and done.restored == {}
    [cell] = _test_cells(nb)
    assert cell.source == GRADEBOOK_SOURCE and cell.metadata["nbgrader"]["checksum"] == "sum"
    assert "grader" not in cell.metadata


def test_deleted_test_cell_is_re_added_after_its_exercise() -> None:
    nb = _submission()
    del nb.cells[2]
    done = _repair(nb)
    assert done.flags == ["test cell test-1 was deleted (re-added)"]
    assert nb.cells[2].source == GRADEBOOK_SOURCE and nb.cells[2].metadata["grader"]["restored"] == "deleted"
    assert nb.cells[2].metadata["nbgrader"]["points"] == 2


@pytest.mark.parametrize("how", ["by id", "by text"])
def test_stripped_metadata_is_recognised_and_restored(how) -> None:
    nb = _submission()
    del nb.cells[2].metadata["nbgrader"]
    if how == "by text":
        nb.cells[2].id = "someotherid"
    done = _repair(nb)
    assert done.flags == ["test cell test-1 had its nbgrader metadata stripped (restored)"]
    assert len(_test_cells(nb)) == 1 and nb.cells[2].metadata["grader"]["restored"] == "metadata"


def test_edited_test_cell_and_changed_points_are_restored() -> None:
    nb = _submission()
    nb.cells[2].source = "pass"
    assert _repair(nb).flags == ["test cell test-1 was edited (restored)"]
    assert nb.cells[2].source == GRADEBOOK_SOURCE
    nb = _submission()
    nb.cells[2].metadata["nbgrader"]["points"] = 200
    assert _repair(nb).flags == ["test cell test-1: grading metadata changed (points) (restored)"]
    assert nb.cells[2].metadata["nbgrader"]["points"] == 2


def test_a_copied_cell_does_not_count_twice() -> None:
    nb = _submission()
    nb.cells.insert(3, copy.deepcopy(nb.cells[2]))
    done = _repair(nb)
    assert done.flags == ["duplicate of test-1 ignored"]
    assert len(_test_cells(nb)) == 1 and len({c.id for c in nb.cells}) == len(nb.cells)


@pytest.mark.parametrize("code, pattern", [
    ("get_ipython().input_transformers_cleanup.append(f)", "input transformer"),
    ("ip.ast_transformers.append(t)", "AST transformer"),
    ("get_ipython().set_custom_exc((Exception,), h)", "traceback override"),
    ("shell.run_cell = lambda *a: None", "shell method override"),
    ("ip.events.register('pre_run_cell', f)", "event callback"),
    ("course.check_equal = lambda *a, **k: None", "patched checker"),
    ("import sys; sys.settrace(t)", "tracer"),
    ("__builtins__.print = p", "builtins patched"),
    ("import sqlite3; sqlite3.connect('../../gradebook.db')", "grader files read"),
])
def test_scan_names_kernel_hooks_in_learner_cells(code, pattern) -> None:
    nb = _submission()
    nb.cells[1].source = code
    assert f"{pattern} in ex-1" in tamper.scan(nb)
    nb.cells[2].source = code  # the locked test cell is the grader's: not the learner's code
    nb.cells[1].source = "x = 1"
    assert tamper.scan(nb) == []


def test_scan_finds_nothing_in_the_instructor_solutions() -> None:
    """No false alarm on the right answers of every chapter (learners' notebooks with the solutions put in)."""
    for folder in sorted(p for p in NOTEBOOKS.iterdir() if p.is_dir()):
        answers = bench.solutions(folder.name)
        for path in folder.glob("*.ipynb"):
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                cell.source = answers.get(cell.metadata.get("nbgrader", {}).get("grade_id"), cell.source)
            assert tamper.scan(nb) == [], folder.name


def _ran(nb, outputs):
    cell = _test_cells(nb)[0]
    cell.outputs = outputs
    return nb


def _proof(cell="test-1", nonce="n0nce", hooks=()):
    return nbformat.v4.new_output("display_data", data={evidence.MIME: {"cell": cell, "nonce": nonce,
                                                                        "hooks": list(hooks)}})


def test_verify_trusts_only_a_test_that_proved_it_ran_unhooked() -> None:
    assert tamper.verify(_ran(_submission(), [_proof()]), "n0nce") == ([], set())
    for outputs in ([], [_proof(nonce="guess")], [_proof(cell="test-2")]):
        nb = _ran(_submission(), outputs)
        flags, zeroed = tamper.verify(nb, "n0nce")
        assert flags == ["no evidence that test-1 ran (scored 0)"] and zeroed == {"test-1"}
        assert "did not run to its end" in _test_cells(nb)[0].metadata["grader"]["zeroed"]
    flags, zeroed = tamper.verify(_ran(_submission(), [_proof(hooks=["AST transformer added"])]), "n0nce")
    assert zeroed == {"test-1"} and "AST transformer added" in flags[0]
    failed = nbformat.v4.new_output("error", ename="AssertionError", evalue="", traceback=[])
    assert tamper.verify(_ran(_submission(), [failed]), "n0nce") == ([], set()), "nbgrader scored it 0 already"
