"""``re.compile`` for the redaction patterns, with the same matches on every CPython >= 3.11.

CPython 3.11.0-3.11.4 (Debian 12's python3 is 3.11.2) match a possessive quantifier on a group wrongly when the
group can backtrack (python/cpython#106052, #100061): ``(?:ab?c)*+`` fullmatches ``"a"``, and an optional part
written ``(?: port [^ ]++){0,2}+`` that starts to match and fails makes the whole expression fail (the netrc
detector missed every line there). 3.11.5 fixed it by compiling such a quantifier as the greedy one inside an
atomic group; :func:`compile` does that rewrite in the pattern's text on the releases before, so every detector
means the same everywhere. A possessive quantifier on a single character or class (``[a-z]++``) was never
affected and is left as written.
"""

from __future__ import annotations

import re
import sys
from typing import AnyStr, Final

__all__ = ["atomic_groups", "compile"]

#: Whether this interpreter needs the rewrite (fixed in 3.11.5; 3.12.0 had the fix before its release)
NEEDS_REWRITE: Final = (3, 11) <= sys.version_info[:3] < (3, 11, 5)
#: A quantifier after a group, then the "+" that makes it possessive
_POSSESSIVE: Final = re.compile(r"(?:[*+?]|\{(?:[0-9]+(?:,[0-9]*)?|,[0-9]+)\})\+")


def compile(pattern: AnyStr, flags: int = 0) -> re.Pattern[AnyStr]:
    """``re.compile(pattern, flags)``; on CPython 3.11.0-3.11.4 of :func:`atomic_groups`'s rewrite of it."""
    if NEEDS_REWRITE:
        if isinstance(pattern, bytes):
            return re.compile(atomic_groups(pattern.decode("latin-1")).encode("latin-1"), flags)
        return re.compile(atomic_groups(pattern), flags)
    return re.compile(pattern, flags)


def atomic_groups(pattern: str) -> str:
    """``pattern`` with each possessive quantifier on a group, ``(...)Q+``, written ``(?>(...)Q)`` (the same
    matches, by the definition of a possessive quantifier); escapes, character classes and comments are copied as
    they are. Not for verbose patterns (``re.X``: whitespace and ``#`` there are not literal)."""
    out: list[str] = []
    opened: list[int] = []  # where in ``out`` each open group starts
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif c == "[":
            j = i + 1
            if pattern.startswith("^", j):
                j += 1
            if pattern.startswith("]", j):  # a "]" first is a literal
                j += 1
            while j < n and pattern[j] != "]":
                j += 2 if pattern[j] == "\\" else 1
            out.append(pattern[i : j + 1])
            i = j + 1
        elif pattern.startswith("(?#", i):
            j = pattern.find(")", i)
            j = n if j < 0 else j + 1
            out.append(pattern[i:j])
            i = j
        elif c == "(":
            opened.append(len(out))
            out.append(c)
            i += 1
        elif c == ")":
            out.append(c)
            i += 1
            start = opened.pop() if opened else 0
            q = _POSSESSIVE.match(pattern, i)
            if q is not None:
                group = "".join(out[start:])
                del out[start:]
                out.append(f"(?>{group}{q.group()[:-1]})")
                i = q.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)
