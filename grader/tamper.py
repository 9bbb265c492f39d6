"""Tamper detection around ``nbgrader autograde``: before it, put every graded test cell back as the gradebook has
it; after it, trust a test cell's score only if the cell left evidence of having run to its end.

- The batch's private gradebook (:func:`grader.autograde.stage`) ends each graded test cell with the line of
  :func:`grader.evidence.line`.
- :func:`repair` (each submission, before autograde): test cells that were deleted are re-added, edited ones
  restored, ones whose nbgrader metadata was stripped recognised (by cell id or text) and restored; each gets the
  gradebook's source and checksum, so nbgrader's "checksum has changed" warning no longer fires for every cell
  with hidden tests, and a real change is reported here by name. Restored cells are marked
  ``metadata["grader"]["restored"]`` for the feedback.
- :func:`scan` (each submission): learner code that hooks the kernel (input/AST transformers, traceback or
  shell overrides, event callbacks, patched checkers, tracers), for the instructor's report.
- :func:`verify` (each autograded notebook): a test cell that passed without its evidence output, or whose evidence
  reports kernel hooks, scores 0 and is flagged.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

import nbformat

from . import evidence

HOOK_PATTERNS = {
    "input transformer": r"input_transformers?_(cleanup|post|manager)|\bTransformerManager\b|\binput_splitter\b",
    "AST transformer": r"\bast_transformers\b",
    "traceback override": r"\bset_custom_exc\b|\bCustomTB\b|showtraceback|\bexcepthook\b|\bInteractiveTB\b",
    "shell method override": r"\.(run_cell|run_cell_async|run_code|run_ast_nodes|transform_cell)\s*=",
    "event callback": r"\bevents\s*\.\s*register\b|\b(pre|post)_(run_cell|execute)\b",
    "patched checker": r"\bcourse\s*\.\s*(checks\s*\.\s*)?\w+\s*=(?!=)|setattr\(\s*course\b|\bCheckFailed\s*=(?!=)",
    "tracer": r"\bsys\s*\.\s*(settrace|setprofile)\b|\bf_lineno\s*=",
    "builtins patched": r"\b__builtins__\b|\bbuiltins\s*\.\s*\w+\s*=(?!=)",
    "grader files read": r"gradebook|\bnbgrader\b|\bsqlite3\b|\bgrader\.(evidence|tamper)\b",
}


@dataclass
class Repair:
    """What :func:`repair` changed and found in one notebook."""

    flags: list[str] = field(default_factory=list)
    restored: dict[str, str] = field(default_factory=dict)


def is_test(cell: nbformat.NotebookNode) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def _grade_id(cell: nbformat.NotebookNode) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def visible(source: str) -> str:
    """A test cell's text as learners have it: no evidence line, no trailing blanks (for comparisons)."""
    lines = [line.rstrip() for line in source.splitlines() if not line.rstrip().endswith(evidence.MARK)]
    return "\n".join(lines).strip()


def _restore(cell: nbformat.NotebookNode, reference: nbformat.NotebookNode, source: str, checksum: str,
             how: str | None) -> None:
    cell.cell_type = "code"
    cell.source = source
    cell.metadata["nbgrader"] = copy.deepcopy(reference.metadata["nbgrader"])
    cell.metadata["nbgrader"]["checksum"] = checksum
    for key in ("editable", "deletable"):
        if key in reference.metadata:
            cell.metadata[key] = reference.metadata[key]
    if how:
        cell.metadata.setdefault("grader", {})["restored"] = how


def _fresh(reference: nbformat.NotebookNode, source: str, checksum: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    _restore(cell, reference, source, checksum, "deleted")
    return cell


def repair(nb: nbformat.NotebookNode, release: nbformat.NotebookNode,
           gradebook: dict[str, tuple[str, str]]) -> Repair:
    """Put ``nb``'s graded test cells back as in ``gradebook`` ({grade id: (source, checksum)}), using the
    learners' ``release`` of the notebook to recognise them; returns the flags and what was restored."""
    done = Repair()
    seen: set[str] = set()
    for cell in nb.cells:  # a copied cell keeps its grade id: nbgrader would fail on the duplicate
        grade_id = _grade_id(cell)
        if grade_id and grade_id in seen:
            del cell.metadata["nbgrader"]
            done.flags.append(f"duplicate of {grade_id} ignored")
        elif grade_id:
            seen.add(grade_id)
    ids: set[str] = set()
    for cell in nb.cells:  # duplicate cell ids make nbgrader fail with a misleading error
        if cell.get("id") in ids:
            cell.id = nbformat.corpus.words.generate_corpus_id()
        ids.add(cell.get("id"))
    by_id = {_grade_id(cell): cell for cell in nb.cells if _grade_id(cell)}
    previous: str | None = None
    for reference in release.cells:
        grade_id = _grade_id(reference)
        if not grade_id:
            continue
        if is_test(reference) and grade_id in gradebook:
            source, checksum = gradebook[grade_id]
            cell = by_id.get(grade_id)
            if cell is not None:
                edited = cell.cell_type != "code" or visible(cell.source) not in (visible(reference.source),
                                                                                  visible(source))
                changed = {k for k in ("grade", "solution", "locked", "points")
                           if cell.metadata["nbgrader"].get(k) != reference.metadata["nbgrader"].get(k)}
                how = "edited" if edited else ("metadata" if changed else None)
                if edited:
                    done.flags.append(f"test cell {grade_id} was edited (restored)")
                elif changed:
                    done.flags.append(f"test cell {grade_id}: grading metadata changed ({', '.join(sorted(changed))})"
                                      " (restored)")
                _restore(cell, reference, source, checksum, how)
            else:
                cell = next((c for c in nb.cells if not _grade_id(c) and c.cell_type == "code" and (
                    c.get("id") == reference.get("id") or visible(c.source) == visible(reference.source))), None)
                if cell is not None:
                    done.flags.append(f"test cell {grade_id} had its nbgrader metadata stripped (restored)")
                    _restore(cell, reference, source, checksum, "metadata")
                else:
                    cell = _fresh(reference, source, checksum)
                    anchor = by_id.get(previous) if previous else None
                    position = nb.cells.index(anchor) + 1 if anchor is not None else len(nb.cells)
                    nb.cells.insert(position, cell)
                    done.flags.append(f"test cell {grade_id} was deleted (re-added)")
                by_id[grade_id] = cell
            if cell.metadata.get("grader", {}).get("restored"):
                done.restored[grade_id] = cell.metadata["grader"]["restored"]
        previous = grade_id if grade_id in by_id else previous
    return done


def scan(nb: nbformat.NotebookNode) -> list[str]:
    """Kernel-hooking patterns in the learner's own code cells (not the locked ones): '<pattern> in <cell>'."""
    found = []
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("locked"):
            continue
        where = meta.get("grade_id") or f"cell {index + 1}"
        for name, pattern in HOOK_PATTERNS.items():
            if re.search(pattern, cell.source) and f"{name} in {where}" not in found:
                found.append(f"{name} in {where}")
    return found


def verify(nb: nbformat.NotebookNode, nonce: str) -> tuple[list[str], set[str]]:
    """Flags and graded test cells to score 0: a test cell that ended without error but without its evidence
    output, or whose evidence names kernel hooks."""
    flags: list[str] = []
    zeroed: set[str] = set()
    for cell in nb.cells:
        if not is_test(cell):
            continue
        grade_id = _grade_id(cell)
        outputs = cell.get("outputs", [])
        if any(o.get("output_type") == "error" for o in outputs):
            continue  # nbgrader scored it 0 already
        proofs = [o["data"][evidence.MIME] for o in outputs
                  if o.get("output_type") == "display_data" and evidence.MIME in o.get("data", {})]
        proofs = [p for p in proofs if isinstance(p, dict) and p.get("cell") == grade_id and p.get("nonce") == nonce]
        if not proofs:
            flags.append(f"no evidence that {grade_id} ran (scored 0)")
            zeroed.add(grade_id)
            mark_zeroed(cell, "this test did not run to its end, although it showed no error. Code in your notebook "
                              "probably changed how the kernel runs cells; remove it and run all cells again.")
        elif any(p.get("hooks") for p in proofs):
            hooks = sorted({h for p in proofs for h in p.get("hooks", [])})
            flags.append(f"kernel hooked while {grade_id} ran: {', '.join(hooks)} (scored 0)")
            zeroed.add(grade_id)
            mark_zeroed(cell, f"while this test ran, the kernel had been changed ({', '.join(hooks)}). "
                              "Remove the code that does this and run all cells again.")
    return flags, zeroed


def mark_zeroed(cell: nbformat.NotebookNode, reason: str) -> None:
    """Say in the stored notebook why the grader scored this cell 0 (the feedback shows it)."""
    cell.metadata.setdefault("grader", {})["zeroed"] = reason
