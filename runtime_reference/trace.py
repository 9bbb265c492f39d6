"""The protocol trace: every Runtime API call, recorded per invocation and rendered as a table."""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass, field

# The headers worth showing a learner; everything else is noise in a table.
INTERESTING_HEADERS = (
    "Lambda-Runtime-Aws-Request-Id",
    "Lambda-Runtime-Deadline-Ms",
    "Lambda-Runtime-Invoked-Function-Arn",
    "Lambda-Runtime-Trace-Id",
    "Lambda-Runtime-Client-Context",
    "Lambda-Runtime-Cognito-Identity",
    "Lambda-Runtime-Aws-Tenant-Id",
    "Lambda-Runtime-Function-Error-Type",
    "Lambda-Runtime-Function-Response-Mode",
    "Content-Type",
    "Transfer-Encoding",
)


_LOWER_TO_NAME = {name.lower(): name for name in INTERESTING_HEADERS}


def pick_headers(*pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Keep only the headers that matter for the protocol, under their canonical names."""
    picked = {}
    for group in pairs:
        for name, value in group:
            canonical = _LOWER_TO_NAME.get(name.lower())
            if canonical is not None:
                picked[canonical] = value
    return picked


@dataclass
class TraceRecord:
    """One Runtime API call as the emulator saw it."""

    method: str
    path: str
    status: int
    request_headers: dict[str, str] = field(default_factory=dict)
    response_headers: dict[str, str] = field(default_factory=dict)
    started_ms: float = 0.0  # since the emulator started
    duration_ms: float = 0.0
    note: str = ""  # what the emulator wants the learner to know about this call

    def summary(self) -> str:
        return f"{self.method} {self.path} -> {self.status}" + (f" ({self.note})" if self.note else "")


COLUMNS = ("t (ms)", "call", "status", "took (ms)", "headers", "note")


def _rows(records: list[TraceRecord]) -> list[tuple[str, ...]]:
    t0 = records[0].started_ms if records else 0.0
    rows = []
    for r in records:
        shown = {**r.request_headers, **r.response_headers}
        headers = "; ".join(f"{k}: {v}" for k, v in shown.items())
        rows.append((f"{r.started_ms - t0:.1f}", f"{r.method} {r.path}", str(r.status),
                     f"{r.duration_ms:.2f}", headers, r.note))
    return rows


def render_text(records: list[TraceRecord]) -> str:
    """A plain-text table for terminals."""
    rows = [COLUMNS, *_rows(records)]
    widths = [min(max(len(row[i]) for row in rows), 70) for i in range(len(COLUMNS))]
    lines = []
    for row in rows:
        cells = [(cell if len(cell) <= 70 else cell[:67] + "...").ljust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def render_html(records: list[TraceRecord]) -> str:
    """An HTML table for notebooks; failing calls are highlighted."""
    head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in COLUMNS)
    body = []
    for record, row in zip(records, _rows(records)):
        style = " style='background:#fde2e2'" if record.status >= 400 else ""
        cells = "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in row)
        body.append(f"<tr{style}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class Trace(list):
    """A list of TraceRecord that shows itself as a table in Jupyter and in a terminal."""

    def _repr_html_(self) -> str:
        return render_html(list(self))

    def __str__(self) -> str:
        return render_text(list(self))
