"""What a scan reports: findings (``file:line:kind:fingerprint``), the problems met, and the summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

from jwtobs.exceptions import JwtobsError
from jwtobs.redact import patterns as p

FAILED_KIND: Final = "redaction_failed"


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int
    kind: str
    fingerprint: str

    def text(self) -> str:
        return f"{self.path}:{self.line}:{self.kind}:{self.fingerprint}"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "kind": self.kind, "fingerprint": self.fingerprint}


class ScanProblem(JwtobsError):
    """A path that could not be (fully) read; the message says why."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass
class ScanReport:
    files: int = 0
    bytes: int = 0
    lines: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_file: Counter[str] = field(default_factory=Counter)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    problems: list[ScanProblem] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)  # files read that held nothing

    @property
    def findings(self) -> int:
        return sum(self.by_kind.values())

    def add(self, f: Finding) -> None:
        self.by_kind[f.kind] += 1
        self.by_file[f.path] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "bytes": self.bytes,
            "lines": self.lines,
            "findings": self.findings,
            "by_kind": dict(sorted(self.by_kind.items())),
            "by_file": dict(sorted(self.by_file.items())),
            "skipped": [{"path": a, "reason": b} for a, b in self.skipped],
            "empty": list(self.empty),
            "errors": [{"path": e.path, "message": e.message} for e in self.problems],
        }


def new_markers(before: str, after: str) -> list[tuple[str, str]]:
    """Markers in ``after`` that are not in ``before`` (``(kind, fingerprint)``, in order)."""
    if "[REDACT" not in after:
        return []
    if "[REDACT" not in before:  # (the common case: every marker is new; findall's tuples, no match objects)
        return [(kind, fp) if kind else (FAILED_KIND, "-") for kind, fp in p.FINDING.findall(after)]
    old = Counter(m.group(0) for m in p.FINDING.finditer(before))
    out = []
    for m in p.FINDING.finditer(after):
        if old[m.group(0)] > 0:
            old[m.group(0)] -= 1
            continue
        out.append((m.group(1), m.group(2)) if m.group(1) else (FAILED_KIND, "-"))
    return out
