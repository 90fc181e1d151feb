r"""What a scan reports: findings (``file:line:kind:fingerprint``), the problems met, and the summary.

File names are shown safely (:func:`display_name`): in text output a name is one line whatever it holds, so a
name with a newline cannot forge a finding line, and it prints whatever the output encoding. ``\\`` is a
backslash, ``\n`` ``\r`` ``\t`` those controls, ``\xNN`` a byte of the name that is not UTF-8, and
``\uXXXX`` / ``\UXXXXXXXX`` any other character that is not printable (or that the output encoding cannot
write). JSON output is valid UTF-8 JSON (:func:`json_name`): a name that is not valid UTF-8 is written in that
escaped form (only ``\\`` and ``\xNN`` escapes) and its finding carries ``"path_escaped": true``.
"""

from __future__ import annotations

import codecs
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final

from jwtobs.exceptions import JwtobsError
from jwtobs.redact import patterns as p

FAILED_KIND: Final = "redaction_failed"

_SHORT: Final = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _is_surrogate_byte(c: str) -> bool:
    """A byte that was not UTF-8, as ``surrogateescape`` read it (U+DC80..U+DCFF)."""
    return "\udc80" <= c <= "\udcff"


def _escape(c: str) -> str:
    if c in _SHORT:
        return _SHORT[c]
    if _is_surrogate_byte(c):
        return f"\\x{ord(c) - 0xDC00:02x}"
    return f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}"


def _utf8(encoding: str | None) -> bool:
    if encoding is None:
        return True
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def display_name(name: str, encoding: str | None = None) -> str:
    """``name`` (a path as the OS gave it, undecodable bytes as ``surrogateescape``) as one line of printable
    text that ``encoding`` (default: any Unicode) can write; the escapes are listed in the module docstring."""
    utf8 = _utf8(encoding)
    if name.isprintable() and "\\" not in name and (name.isascii() or utf8):
        return name

    def shown(c: str) -> bool:
        if c == "\\" or not c.isprintable():
            return False
        if c.isascii() or utf8:
            return True
        try:
            c.encode(encoding or "utf-8")
        except (UnicodeEncodeError, LookupError):
            return False
        return True

    return "".join(c if shown(c) else _escape(c) for c in name)


def json_name(name: str) -> tuple[str, bool]:
    """``(text, escaped)``: ``name`` itself when it is valid Unicode (JSON escapes the rest), else its escaped
    form (backslashes doubled, each undecodable byte as ``\\xNN``) and ``True``: strict JSON parsers reject the
    lone surrogates that ``surrogateescape`` leaves in a name that is not UTF-8."""
    if not any("\ud800" <= c <= "\udfff" for c in name):
        return name, False
    return "".join(_escape(c) if c == "\\" or "\ud800" <= c <= "\udfff" else c for c in name), True


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int
    kind: str
    fingerprint: str

    def text(self, encoding: str | None = None) -> str:
        """``FILE:LINE:KIND:FINGERPRINT``, the file name shown safely (:func:`display_name`)."""
        return f"{display_name(self.path, encoding)}:{self.line}:{self.kind}:{self.fingerprint}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: valid Unicode throughout (``path_escaped`` when the name is not UTF-8)."""
        path, escaped = json_name(self.path)
        d: dict[str, Any] = {"path": path, "line": self.line, "kind": self.kind, "fingerprint": self.fingerprint}
        if escaped:
            d["path_escaped"] = True
        return d


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
        """The JSON summary; names that are not UTF-8 in the escaped form of :func:`json_name`."""

        def name(path: str) -> str:
            return json_name(path)[0]

        return {
            "files": self.files,
            "bytes": self.bytes,
            "lines": self.lines,
            "findings": self.findings,
            "by_kind": dict(sorted(self.by_kind.items())),
            "by_file": {name(k): v for k, v in sorted(self.by_file.items())},
            "skipped": [{"path": name(a), "reason": name(b)} for a, b in self.skipped],
            "empty": [name(a) for a in self.empty],
            "errors": [{"path": name(e.path), "message": name(e.message)} for e in self.problems],
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
