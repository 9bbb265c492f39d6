"""Check results and the report, rendered as text or JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

PASS, FAIL, SKIP = "✔", "✘", "–"


@dataclass
class CheckResult:
    """The outcome of one named check."""

    name: str
    passed: bool
    description: str
    expected: str = ""
    actual: str = ""
    hint: str = ""
    skipped: bool = False


@dataclass
class Report:
    """All check results for one bootstrap at one level."""

    bootstrap: str
    level: str
    handler_kind: str | None
    checks: list[CheckResult] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def passed(self) -> bool:
        """True when there is at least one check and every check passed."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def failed(self) -> list[CheckResult]:
        """The checks that did not pass (skipped ones included)."""
        return [c for c in self.checks if not c.passed]

    def check(self, name: str) -> CheckResult:
        """The result of the check called ``name`` (KeyError if it was not run)."""
        for result in self.checks:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {
            "bootstrap": self.bootstrap,
            "level": self.level,
            "handler_kind": self.handler_kind,
            "passed": self.passed,
            "duration_s": round(self.duration_s, 3),
            "checks": [asdict(c) for c in self.checks],
        }

    def to_json(self) -> str:
        """The report as a JSON document."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def render_text(self) -> str:
        """A readable report: one line per check, details under each failure."""
        lines = [f"Conformance of {self.bootstrap} (level {self.level}, handler {self.handler_kind})", ""]
        for result in self.checks:
            lines.extend(_render_check(result))
        passed = sum(c.passed for c in self.checks)
        verdict = "PASSED" if self.passed else "FAILED"
        lines += ["", f"{verdict}: {passed}/{len(self.checks)} checks passed in {self.duration_s:.2f} s"]
        return "\n".join(lines)


def _render_check(result: CheckResult) -> list[str]:
    """The lines for one check."""
    if result.passed:
        return [f"{PASS} {result.name}: {result.description}"]
    if result.skipped:
        return [f"{SKIP} {result.name}: not run: {result.actual}"]
    lines = [f"{FAIL} {result.name}: {result.description}"]
    for label, text in (("expected", result.expected), ("actual", result.actual), ("hint", result.hint)):
        if text:
            lines.append(f"    {label + ':':<9} {_indent(text)}")
    return lines


def _indent(text: str) -> str:
    """Continuation lines aligned under the first."""
    return text.replace("\n", "\n" + " " * 14)
