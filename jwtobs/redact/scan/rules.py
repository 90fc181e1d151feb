"""The prefilter's trigger expressions and the pure-Python engine's keywords, built from the detectors of
:mod:`jwtobs.redact.patterns`.

The expressions are a superset of every detector: a line the scrubber would change always matches one of them
(``tests/redact/test_scan.py`` checks it against scrubbing every line). They are built from the detectors' own
name lists (secret stems, query parameter names) and keep only the benign field names that
``patterns.NOT_SECRET`` still excludes, so a change there can only make the prefilter looser, never miss a
detection. Every expression is valid for Hyperscan and for Python's ``re``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from jwtobs.redact import patterns as p

_NAME: Final = r"[A-Za-z0-9_\-]"
# JWS/JWE: a header of 8+ base64url characters starting "ew"/"ey" (the only starts of a JSON object header,
# see patterns.is_header), then two more dot-separated segments; padding and dots possibly percent-encoded.
# Case-sensitive; no condition on what precedes (tokens glued to words or escapes are found too).
_PAD: Final = r"(?:=|%3[dD]){0,2}"
_DOT: Final = r"(?:\.|%2[eE])"
_T_JOSE: Final = r"e[wy]" + _NAME + r"{6,}" + _PAD + _DOT + _NAME + r"*" + _PAD + _DOT
# "Name: value" forms: the separator of patterns._SEP up to the value.
_T_SEP: Final = r"""(?:\\?["'])?[ \t]*(?:[:=]|,)"""
_T_AUTH: Final = r"authorization" + _T_SEP
_T_COOKIE: Final = r"cookie" + _T_SEP
_T_SCHEME: Final = r"(?:bearer|basic|dpop)[ \t]+[A-Za-z0-9\-._~+/]{8}"
# URL userinfo: ":password@" (a URL_USERINFO match always holds one). Without the "://" it needs: that literal
# is in every referrer and issuer URL and made this the costliest expression (a third of the automaton's time).
_T_USERINFO: Final = r""":[^\s/@"'<>]*@"""
# An OAuth code in a form body ("code=..." outside a query string).
_T_FORM_CODE: Final = r"code(?:=|%3[dD])"
# The Kelvin sign lower-cases to an ASCII "k" ("TO\u212aEN", "COO\u212aIE"): any line holding one is scrubbed.
_T_KELVIN: Final = r"\xe2\x84\xaa"
# Last components of field names that name no secret ("token_fp", "session_state"...). Only those that
# patterns.NOT_SECRET still excludes are used (checked when the expressions are built).
_BENIGN_CANDIDATES: Final = (
    "fp fingerprint hash type types count len length bytes ttl expire expires expire_in expires_in expire_at "
    "expires_at exp iat nbf kind sink reason outcome endpoint endpoints url uri path method methods alg algs "
    "algorithm algorithms supported format name names header headers limit max min size lifetime timeout "
    "scheme schemes required enabled mode status state"
).split()


def _complement(words: Iterable[str]) -> str:
    """A regex matching any ``[A-Za-z0-9]*`` word that is not one of ``words`` (lower case, caseless use)."""
    trie: dict[str, Any] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node["$"] = True
    any_tail = "[A-Za-z0-9]*"

    def rec(node: dict[str, Any]) -> str:
        kids = sorted(k for k in node if k != "$")
        alts = [] if "$" in node else [""]  # the word may end here unless it is one of the words
        other = "".join(re.escape(k) + re.escape(k.upper()) if k.isalpha() else re.escape(k) for k in kids)
        alts.append(f"[^{other}\\W_]{any_tail}" if other else f"[A-Za-z0-9]{any_tail}")
        for k in kids:
            alts.append(f"[{k}{k.upper()}]" + rec(node[k]) if k.isalpha() else re.escape(k) + rec(node[k]))
        return "(?:" + "|".join(alts) + ")"

    return rec(trie)


def benign_words() -> list[str]:
    return [w for w in _BENIGN_CANDIDATES if "_" not in w and p.NOT_SECRET.match("x_" + w)]


def _field_trigger(stem: str) -> str:
    benign = benign_words()
    tail = r"(?:(?:[_\-][A-Za-z0-9]*)*[_\-]" + _complement(benign) + ")?"
    return stem + r"[A-Za-z0-9]*" + tail + _T_SEP


def _query_trigger(names: str) -> str:
    # (without the delimiter before the name, which makes the automaton 20x slower to build)
    return names + r"(?:=|%3[dD])"


@dataclass(frozen=True)
class Trigger:
    name: str
    expr: str
    caseless: bool
    multiline: bool = False


def triggers() -> tuple[Trigger, ...]:
    """The prefilter's expressions, built from the current detectors' name lists."""
    stem, names = p._SECRET_STEM, p._QUERY_NAMES
    return (
        Trigger("jose", _T_JOSE, caseless=False),
        Trigger("authorization", _T_AUTH, caseless=True),
        Trigger("cookie", _T_COOKIE, caseless=True),
        Trigger("scheme", _T_SCHEME, caseless=True),
        Trigger("userinfo", _T_USERINFO, caseless=False),
        Trigger("query", _query_trigger(names), caseless=True),
        Trigger("field", _field_trigger(stem), caseless=True),
        Trigger("form_code", _T_FORM_CODE, caseless=True),
        Trigger("kelvin", _T_KELVIN, caseless=False),
    )


# The pure-Python engine's first pass: lower-case keywords, one of which every line matching a header, scheme,
# query or field trigger contains (every secret stem alternative contains one of STEM_WORDS; each query name
# is followed by "=" or "%3d"; URL userinfo holds "@"), plus an expression on the raw bytes for JOSE headers.
# A stem hit inside a name whose last part is benign ("token_fp") makes no candidate, as in the field trigger.
_BASE_KEYWORDS: Final = (
    b"authorization",
    b"cookie",
    b"bearer",
    b"basic",
    b"dpop",
    b"code=",
    b"%3d",
    b"@",  # URL userinfo
    b"\xe2\x84\xaa",
)
#: words one of which every secret-stem match of patterns._STEMS contains (each entry's gate words hold one;
#: tests/redact/test_scan.py's engine-equivalence test fails when a new stem is not covered)
STEM_WORDS: Final = (b"token", b"secret", b"pass", b"pwd", b"key", b"session", b"credential", b"dpop", b"assertion")
NAME_RUN: Final = re.compile(rb"[a-z0-9_\-]*")
# (one expression each: an alternation would lose the literal-prefix search of Python's re, 7x slower)
RAW_JOSE: Final = re.compile(rb"e[wy][A-Za-z0-9_\-]{6}")


def keywords() -> tuple[bytes, ...]:
    names = p._QUERY_NAMES
    stems = STEM_WORDS
    words = set(_BASE_KEYWORDS) | set(stems)
    for name in names.lower().removeprefix("(?:").removesuffix(")").split("|"):
        if any(w.decode() in name for w in stems):
            continue
        if not re.fullmatch(r"[a-z_\-]+", name):  # not a plain name: its longest word alone
            name = max(re.findall(r"[a-z]+", name) or [name], key=len)
            words.add(name.encode())
            continue
        words.update((name.encode() + b"=", b"%3d"))
    # a keyword holding another (non-stem) keyword adds nothing: one pass over the block fewer
    plain = words - set(stems)
    return tuple(sorted(w for w in words if not any(o != w and o in w for o in plain)))
