"""The redaction patterns mean the same on every CPython >= 3.11 (``jwtobs.redact._regex``).

CPython 3.11.0-3.11.4 (Debian 12's python3, which CI runs) match a possessive quantifier on a group wrongly
(python/cpython#106052, #100061). Found by CI: the netrc detector missed every line and "Bearer <x>\\u0026<JWS>"
left the Bearer value there, on 3.11.2 only. The cases below fail on such an interpreter with plain
``re.compile`` and pass with ``_regex.compile`` everywhere; the equivalence test checks, where ``re`` is right,
that the rewrite changes no match of any redaction pattern.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections.abc import Iterator

import pytest

import jwtobs
from jwtobs.redact import _regex, patterns, processors, scrub, sentry
from jwtobs.redact.scan import fields, prefilter, rules, windowed
from tests.redact.test_forms import FORMS, tokens
from tests.redact.test_precision import CORPORA, CORPUS


@pytest.mark.parametrize(
    ("pattern", "rewritten"),
    [
        ("(?:ab?c)*+", "(?>(?:ab?c)*)"),
        ("x(?:a|b++c){0,2}+y", "x(?>(?:a|b++c){0,2})y"),
        ("(a(?:b)?+c)++", "(?>(a(?>(?:b)?)c)+)"),
        ("(?:a){3}+|(?:b){,4}+|(?:c){2,}+", "(?>(?:a){3})|(?>(?:b){,4})|(?>(?:c){2,})"),
        # kept: single characters and classes (never affected), escapes, classes holding ")", comments, lazy and
        # greedy quantifiers on groups, a "{" that is no quantifier
        (r"[a-z]++\)++[)(]*+(?#x)(?:a)+?(?:b)+(?:c){x}+", r"[a-z]++\)++[)(]*+(?#x)(?:a)+?(?:b)+(?:c){x}+"),
        (r"[]a)]*+(?:[^]()]+)*+", r"[]a)]*+(?>(?:[^]()]+)*)"),
    ],
)
def test_rewrite(pattern: str, rewritten: str) -> None:
    assert _regex.atomic_groups(pattern) == rewritten
    assert _regex.atomic_groups(rewritten) == rewritten, "idempotent"
    re.compile(rewritten)


def test_bytes_patterns() -> None:
    compiled = _regex.compile(rb"(?:ab?c)*+")
    assert compiled.fullmatch(b"abcac") is not None and compiled.fullmatch(b"a") is None


def test_the_interpreters_bugs_do_not_reach_the_patterns() -> None:
    """The reported cases, and the shape that broke the netrc detector (an optional possessive group that starts
    to match, then fails)."""
    assert _regex.compile("(?:ab?c)*+").fullmatch("a") is None
    assert _regex.compile("(((?!C).)++)").findall("ABC") == [("AB", "B")]
    optional = _regex.compile(r"login +[^ ]++(?: +(?:account|port) +[^ ]++){0,2}+ +password +(?P<v>[^ ]++)")
    m = optional.search("machine h login bot password s3cr3t-value")
    assert m is not None and m.group("v") == "s3cr3t-value"
    assert _regex.NEEDS_REWRITE is ((3, 11) <= sys.version_info[:3] < (3, 11, 5))


def test_netrc_and_glued_bearer_are_redacted_here() -> None:
    """The two leaks CI found on 3.11.2, on whatever interpreter runs the tests."""
    jwtobs.configure(fingerprint_key="redact-regex-portable", fingerprint_key_id="r")
    jws = tokens().rs256
    out = scrub("machine api.example.com login bot port 21 password flTh2aGF49pe")
    assert "flTh2aGF49pe" not in out
    out = scrub(f" Bearer 00000000\\u0026{jws} ")
    assert "00000000" not in out and jws not in out


def _module_patterns() -> Iterator[tuple[str, re.Pattern[str]]]:
    scrub_module = sys.modules["jwtobs.redact.scrub"]  # (jwtobs.redact.scrub is also the function's name)
    for module in (patterns, scrub_module, processors, sentry, fields, prefilter, rules, windowed):
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern) and isinstance(value.pattern, str):
                yield f"{module.__name__}.{name}", value


def _texts() -> list[str]:
    texts = []
    for name in CORPORA:
        assert CORPUS is not None
        with gzip.open(CORPUS / name, "rt", encoding="utf-8", errors="surrogateescape") as f:
            texts += [line for _, line in zip(range(300), f, strict=False)]
    t = tokens()
    for make in FORMS.values():
        value = make(t).value
        texts.append(value if isinstance(value, str) else json.dumps(value, default=repr))
    return texts


@pytest.mark.skipif(_regex.NEEDS_REWRITE, reason="this interpreter's re is the one with the bug: no reference")
def test_rewrite_changes_no_match_of_any_redaction_pattern() -> None:
    """Every module-level pattern of jwtobs.redact whose text the rewrite changes finds the same matches (spans
    and groups) rewritten as written, on real log lines and every credential form of test_forms."""
    texts = _texts()
    changed = 0
    for name, compiled in _module_patterns():
        rewritten = _regex.atomic_groups(compiled.pattern)
        if rewritten == compiled.pattern:
            continue
        changed += 1
        other = re.compile(rewritten, compiled.flags)
        for text in texts:
            for t in (text, text.lower()):
                expected = [(m.span(), m.groups()) for m in compiled.finditer(t)]
                assert [(m.span(), m.groups()) for m in other.finditer(t)] == expected, (name, t)
    assert changed >= 10
