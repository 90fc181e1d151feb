"""Every credential detector of :mod:`jwtobs.redact`, in one module.

All patterns run on Python's ``re`` and are written so that matching is linear in the input length:

* every pattern starts with a fixed keyword or character (``authorization``, ``cookie``, ``bearer``, the ``e``
  of a JOSE header, ``://``, ``?``/``&``/``%``...), so the engine skips to candidate positions with its
  literal-prefix search instead of trying every position;
* a lookbehind placed *after* that keyword anchors the match to the start of a word or of a base64url run, so
  an attempt can never start inside a run that an earlier attempt already read;
* every repeated class is possessive (``*+``/``++``, Python >= 3.11) or bounded (``{0,48}+``), so a failed
  attempt never gives characters back and never reads more than a bounded distance past its keyword.

The keyword detectors run on an ASCII-lower-cased copy of the text (same length, same positions), so no
pattern needs ``re.IGNORECASE`` (which disables the literal-prefix search: 10-20x slower on clean text);
values are cut from the original text at the match positions.

``benchmarks/bench_redact.py`` measures the adversarial inputs (MBs of ``eyJ``, of dots, of ``a.``, of
``Authorization:``...) and ``tests/redact/test_adversarial.py`` bounds them generously.

Each detector is a compiled pattern plus the *kind* written into the marker ``[REDACTED:<kind>:<fp>]``.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import functools
import json
import os
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Final, Protocol

from jwtobs import _forksafe
from jwtobs.redact import _regex

# -- kinds ---------------------------------------------------------------------------------------------------
JWT: Final = "jwt"
JWE: Final = "jwe"
BEARER: Final = "bearer"
BASIC: Final = "basic"
DPOP: Final = "dpop"
DIGEST: Final = "digest"
AUTHORIZATION: Final = "authorization"  # any other Authorization scheme, or a value without scheme
COOKIE: Final = "cookie"
QUERY_TOKEN: Final = "query_token"
API_KEY: Final = "api_key"
SECRET_FIELD: Final = "secret_field"
URL_PASSWORD: Final = "url_password"
SIGNING_INPUT: Final = "signing_input"  # a JWS signing input (header.payload): the token without its signature
PRIVATE_KEY: Final = "private_key"  # a PEM private key block, or the private members of a JWK

KINDS: Final = (
    JWT,
    JWE,
    BEARER,
    BASIC,
    DPOP,
    DIGEST,
    AUTHORIZATION,
    COOKIE,
    QUERY_TOKEN,
    API_KEY,
    SECRET_FIELD,
    URL_PASSWORD,
    SIGNING_INPUT,
    PRIVATE_KEY,
)

MARKER_PREFIX: Final = "[REDACTED:"
_KIND: Final = r"[a-z_]{1,24}"
_FP: Final = r"[0-9a-z]{1,16}-[0-9a-f]{12}"
_MARKER_BODY: Final = _KIND + ":" + _FP + r"\]"
#: A complete marker (only these are left alone: a bare "[REDACTED:" never shields what follows it).
MARKER: Final = _regex.compile(r"\[REDACTED:" + _MARKER_BODY)
FAILED: Final = "[REDACTION_FAILED]"
#: A complete marker (groups: kind, fingerprint) or the failure marker: what the scanner and Sentry read back.
FINDING: Final = _regex.compile(rf"\[REDACTED:({_KIND}):({_FP})\]|" + re.escape(FAILED))

# -- the left boundary of a word -----------------------------------------------------------------------------
#: The escape of a control character in a JSON string or a Python repr ("\\n", "\\t", "\\r"; escaped twice, "\\\\n",
#: it still ends in one): a multi-line string written on one line puts the letter of "\\n" right before the word
#: that starts the next line ("Logged in\\nghp_...", "\\r\\nBearer ..."). The letter belongs to the escape, so the
#: word starts after it: every detector with a left boundary reads it so (:func:`_word_start`, :func:`name_before`).
CONTROL_ESCAPE: Final = r"\\[ntr]"
#: Escapes whose last characters are glued to the word after them: a percent escape's hex digits (a query string:
#: "%26authorization", "%3Fcookie"), a JSON/Go/Python escape's ("\\u0026Bearer", "\\x26"), and a control character's
#: letter (:data:`CONTROL_ESCAPE`).
GLUE_ESCAPES: Final = (r"%[0-9a-fA-F]{2}", r"\\u[0-9a-fA-F]{4}", r"\\x[0-9a-fA-F]{2}", CONTROL_ESCAPE)


def _word_start(keyword: str, word: str = "a-z0-9", escapes: tuple[str, ...] = GLUE_ESCAPES) -> str:
    """A lookbehind (placed after ``keyword``) anchoring it at the start of a word: no ``word`` character before
    it, or an escape of ``escapes`` that ends just before it (:data:`GLUE_ESCAPES`: ``%26authorization``,
    ``\\u0026Bearer``, ``%3Fcookie``, ``\\x26``, ``\\nghp_...``). The one rule of a word's left boundary: every
    detector that has one builds it here."""
    return _word_start_re(re.escape(keyword), word, escapes)


def _word_start_re(keyword: str, word: str, escapes: tuple[str, ...]) -> str:
    """:func:`_word_start` of a keyword written as a fixed-width expression (``docker[ \\t]login``)."""
    return "(?:" + "|".join((rf"(?<![{word}]{keyword})", *(rf"(?<={e}{keyword})" for e in escapes))) + ")"


# -- values written with escapes ----------------------------------------------------------------------------
# The characters of URLs and base64 values that writers escape: JSON encoders "/" as "\/" (PHP's json_encode, every
# "/"), "+" as "\u002B" (.NET's System.Text.Json by default), "/" and "=" as "\u002F" and "\u003D" (some encoders);
# a URL written into a query parameter's value percent-encodes ":", "/", "@", "=", "+". A detector that reads a URL or
# a base64 value (vendor keys and webhook URLs, a URL's password, an AWS secret beside its key id, a PEM body) reads it
# through the text with those escapes decoded (:func:`unescaped`), and the credential it finds there is redacted where
# it stands in the text (its span mapped back), fingerprinted as written unescaped: the same marker as the raw form.
#: JSON escapes of "/", "+", "="
JSON_VALUE_ESCAPE: Final = _regex.compile(r"\\/|\\u00(?:2[BbFf]|3[Dd])")
#: Percent escapes of ":", "/", "@", "=", "+" (a URL or a base64 value inside a query parameter's value)
PERCENT_VALUE_ESCAPE: Final = _regex.compile(r"%(?:2[BbFf]|3[AaDd]|40)")
VALUE_ESCAPES: Final = (JSON_VALUE_ESCAPE, PERCENT_VALUE_ESCAPE)
#: JSON value escapes (:data:`JSON_VALUE_ESCAPE`) in the lower-cased text: "\\/", "\\u002b", "\\u002f", "\\u003d" go on
#: a value that other escapes (a quote, "\\u0026") end
_VALUE_ESC_LOW: Final = r"\\/|\\u00(?:2[bf]|3d)"


class Unescaped:
    """A text with the escapes of one kind decoded (:attr:`text`), and the way back: :meth:`span` maps a span of
    :attr:`text` to the span of the original text it was decoded from."""

    __slots__ = ("_at", "_shift", "text")

    def __init__(self, text: str, at: list[int], shift: list[int]) -> None:
        self.text = text
        self._at = at  # where each decoded escape stands in text, in order
        self._shift = shift  # how many characters longer the original is up to and including each of them

    def pos(self, i: int) -> int:
        """The original position of position ``i`` of :attr:`text` (a start, or an end)."""
        k = bisect.bisect_left(self._at, i)
        return i + (self._shift[k - 1] if k else 0)

    def span(self, a: int, b: int) -> tuple[int, int]:
        return self.pos(a), self.pos(b)


def unescaped(text: str, escape: re.Pattern[str]) -> Unescaped | None:
    """``text`` with every match of ``escape`` (:data:`JSON_VALUE_ESCAPE` or :data:`PERCENT_VALUE_ESCAPE`) decoded, or
    None when it holds none. Linear: one pass over the escapes."""
    first = escape.search(text)
    if first is None:
        return None
    parts: list[str] = []
    at: list[int] = []
    shift: list[int] = []
    last = extra = 0
    view = 0  # length of the decoded text so far
    for m in escape.finditer(text, first.start()):
        a, b = m.span()
        parts.append(text[last:a])
        view += a - last
        e = m.group()
        parts.append("/" if e == "\\/" else chr(int(e[-2:], 16)))
        at.append(view)
        view += 1
        extra += b - a - 1
        shift.append(extra)
        last = b
    parts.append(text[last:])
    return Unescaped("".join(parts), at, shift)


def unescaped_views(text: str) -> Iterable[Unescaped]:
    """The views of ``text`` with its JSON value escapes, then its percent value escapes, decoded (each kind that it
    holds; apart: a JSON string's "%40" is a URL's own, a percent-encoded URL has no "\\/"). Both of ``text`` as
    given: a caller that changes the text between the two takes each view of the text as it is then."""
    for escape in VALUE_ESCAPES:
        view = unescaped(text, escape)
        if view is not None:
            yield view


# -- JWS / JWE -------------------------------------------------------------------------------------------------
# A JOSE header is base64url of a JSON object: its first character is "e" ("{" = 0b011110|11....) and the
# second is one of w-z, 0-9, "-", "_" ("eyJ" for '{"', "ewo" for '{\n', "ewog" for '{\n ', ...).
# Segments: base64url, optionally "="-padded, separated by "." (or "%2E" when percent-encoded).
# 3 segments = JWS (signature may be empty: alg none), 5 = JWE (encrypted key may be empty: alg dir).
_B64: Final = r"[A-Za-z0-9_\-]"
# (also percent-encoded twice, "%252E": a URL carried in another URL's parameter; and as a JSON "\u002e" escape)
#: a token's "." and its padding "=" as they are spelled in text (the scanner's Hyperscan triggers use them too)
DOT: Final = r"(?:\.|%2[Ee]|%252[Ee]|\\u002[Ee])"
PAD_ONE: Final = r"(?:=|%3[Dd]|%253[Dd]|\\u003[Dd])"
_PAD: Final = PAD_ONE + "{0,2}+"
_DOT: Final = DOT
JOSE: Final = _regex.compile(
    # The literal "e" first lets the engine skip to candidate positions; the lookbehind then checks the
    # character before it: a match starts only at the first character of a base64url run. (A token right after
    # a percent or backslash escape, "%3DeyJ...", "\\neyJ...", looks glued to the escape: GLUED_JOSE finds it.)
    rf"e(?<![A-Za-z0-9_\-]e)[w-z0-9_\-]{_B64}{{6,}}+{_PAD}(?:{_DOT}{_B64}*+{_PAD}){{2,}}+",
)
# A JWS/JWE glued to the end of other base64url characters ("xeyJhbGc..."): found from its "eyJ" (the only
# header start that is searched inside a run). Its header may not contain "eyJ" again, so attempts inside one
# run never overlap: each character is read by at most one failed attempt.
GLUED_JOSE: Final = _regex.compile(
    rf"eyJ(?<=[A-Za-z0-9_\-]eyJ)(?:(?!eyJ){_B64}){{5,}}+{_PAD}(?:{_DOT}{_B64}*+{_PAD}){{2,}}+"
)
# A JWS/JWE right after an escape that glues it to the text before: a percent escape ("%26ewogIC..." in a query
# string), a JSON/Go/Python escape ("\\u0026ewoi...", "\\x26", "\\newog..."), a terminal's colour code
# ("\x1b[33mewog...": a coloured console log saved to a file, session 34). Found from the escape (a class of
# two characters first: the engine skips to them); the token is group "token". (A glued "eyJ" token is
# GLUED_JOSE's.) An attempt starting inside a run (at a "%2E" separator) reads to the run's end at most; the
# scrubber resumes after each match.
ESCAPED_JOSE: Final = _regex.compile(
    r"""(?:%[0-9a-fA-F]{2}|\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[nrt"'/\\])|\x1b\[[0-9;]{0,16}+m)"""
    rf"(?P<token>e[w-z0-9_\-]{_B64}{{6,}}+{_PAD}(?:{_DOT}{_B64}*+{_PAD}){{2,}}+)"
)
# A JWS/JWE written in the standard base64 alphabet ("+" and "/" where base64url has "-" and "_"), as some clients
# and hand-rolled encoders produce it: JOSE stops at the first "+" or "/" and would leave the rest. Searched for
# after JOSE's pass, only in text that holds "+" or "/" (:func:`split_std_jose` reads it).
_B64_STD: Final = r"[A-Za-z0-9_\-+/]"
# (A header is "ey" or "ew" then: '{' and a quote or blank, see is_header.)
STD_JOSE: Final = _regex.compile(
    "e"
    + _word_start("e", r"A-Za-z0-9_\-", (CONTROL_ESCAPE,))
    + rf"[wy]{_B64_STD}{{6,}}+=*+(?:\.{_B64_STD}*+=*+){{2,}}+"
)
_TO_URLSAFE: Final = str.maketrans("+/", "-_")
_PAD_STRIP: Final = _regex.compile(r"(?:=|%3[Dd])+\Z")

# A JWS/JWE stored base64-encoded: a Kubernetes Secret's data, "echo $TOKEN | base64" in a script, a cookie or
# configuration value holding the base64 of a JSON session with tokens in it. No "." and no "eyJ" are left. Found
# from the base64 of a header start followed by 24 more base64 characters: '{"' at each of the three byte
# alignments ("ZXlK" aligned, "V5S" one byte on, "leU" two bytes on), '{\n' and '{\r' aligned ("ZXdv", "ZXcw");
# the whole base64 run around it (:func:`b64_run`, either alphabet) is then decoded and searched for a token
# (:func:`b64_wrapped_jose`). Each run is read once, however many hints it holds.
#: each hint start by the literal it begins with (a substring search for the literals comes first)
_B64_HINT_STARTS: Final = {"ZX": "ZX(?:lK|dv|cw)", "V5S": "V5S", "leU": "leU"}
#: the hint's alternatives, each with a literal start (the scanner's pure-Python prefilter searches them apart)
B64_JOSE_HINTS: Final = tuple(rf"{start}[A-Za-z0-9+/_\-]{{24}}" for start in _B64_HINT_STARTS.values())
B64_JOSE_HINT: Final = _regex.compile("|".join(B64_JOSE_HINTS))
_B64_CHARS: Final = _regex.compile(r"[A-Za-z0-9+/_\-]*+")
_B64_RUN_REST: Final = _regex.compile(r"[A-Za-z0-9+/_\-]*+(?:=|%3[Dd]){0,2}+")
_TO_STD: Final = str.maketrans("-_", "+/")


#: the shortest line of a wrapped base64 block (``base64`` wraps at 76 characters, PEM-style encoders at 64)
B64_WRAP_MIN: Final = 60


def b64_wrap_width(n: int) -> bool:
    """Whether ``n`` base64 characters can be a full line of a wrapped block: at least :data:`B64_WRAP_MIN`, a
    multiple of 4 (each line then decodes on its own)."""
    return n >= B64_WRAP_MIN and n % 4 == 0


def b64_run(text: str, hint: re.Match[str], floor: int) -> tuple[int, int]:
    """``(start, end)`` of the base64 run (either alphabet, its padding included) around a :data:`B64_JOSE_HINT`
    match; it starts at ``floor`` at the earliest (where the caller's previous run ended). A run wrapped over
    lines (``base64`` without ``-w 0``: lines of the same length, a multiple of 4 and at least
    :data:`B64_WRAP_MIN`, the last one shorter) is one run, line breaks included."""
    back = _B64_CHARS.match(text[floor : hint.start()][::-1])
    start = hint.start() - (back.end() if back is not None else 0)
    rest = _B64_RUN_REST.match(text, hint.end())
    end = rest.end() if rest is not None else hint.end()
    width = end - start
    if b64_wrap_width(width):
        while text[end : end + 1] in ("\n", "\r"):  # (a line of the block ends here: the next may go on)
            at = end + (2 if text.startswith("\r\n", end) else 1)
            nl = text.find("\n", at)
            line = text[at : len(text) if nl < 0 else nl]
            how, _ = b64_block_line(line, width, (0,))
            if not how:
                break
            end = at + len(line.rstrip("\r"))
            if how == "last":
                break
    return start, end


_B64_LINE_CHARS: Final = _regex.compile(r"[A-Za-z0-9+/_\-]++")


def b64_block_head(line: str) -> int | None:
    """Where the base64 run that ends ``line`` starts, when that run may be the first line of a wrapped block
    (:func:`b64_run`: a width of at least :data:`B64_WRAP_MIN`, a multiple of 4, holding a
    :data:`B64_JOSE_HINT`, or starting a base64 PEM private key: :data:`B64_PEM`); else None. For readers that get
    a block's lines one by one (the scanner)."""
    jose = b64_jose_hint(line)
    if not jose and B64_PEM_START not in line:  # (substring searches first: most lines hold neither)
        return None
    body = line.rstrip("\r")
    back = _B64_CHARS.match(body[::-1])
    width = back.end() if back is not None else 0
    if not b64_wrap_width(width):
        return None
    start = len(body) - width
    if jose and B64_JOSE_HINT.search(body, start) is not None:
        return start
    return start if body.startswith(B64_PEM_START, start) and b64_pem_private(body[start:]) else None


def b64_block_starts(first: str, rest: Iterable[str]) -> list[int] | None:
    """Where each line's part of a wrapped block's run starts: ``first`` ends in the block's start
    (:func:`b64_block_head`, else None), then the lines of ``rest`` that go on with it (:func:`b64_block_line`:
    the first may have a prefix as long as ``first``'s, the others one as long as it; read up to the first line
    that does not go on, or the shorter last one). ``[start]`` alone when no line goes on."""
    start = b64_block_head(first)
    if start is None:
        return None
    width = len(first.rstrip("\r")) - start
    starts: list[int] = [start]
    allowed: tuple[int, ...] = (0, start)
    for line in rest:
        how, at = b64_block_line(line, width, allowed)
        if not how:
            break
        starts.append(at)
        allowed = (at,)
        if how == "last":
            break
    return starts


def b64_block_line(line: str, width: int, starts: tuple[int, ...]) -> tuple[str, int]:
    """How ``line`` continues a wrapped block of lines of ``width`` base64 characters, and where its part of the
    run starts: ``("full", i)`` (one more line of the width), ``("last", i)`` (a shorter or padded one: the
    block's end) or ``("", 0)`` (not a line of the block). The part is the base64 run ending the line and starts
    at one of ``starts``: the whole line, or after a prefix as long as the first line's (a prefix every line of
    the log has: a CI runner's timestamp) ending in a blank; the block's later lines where its second began."""
    body = line.rstrip("\r")
    back = _B64_PADDED_TAIL.match(body[::-1])
    n = back.end() if back is not None else 0
    start = len(body) - n
    if n == 0 or n > width or start not in starts or (start and not body[start - 1].isspace()):
        return "", 0
    full = n == width and _B64_LINE_CHARS.fullmatch(body, start) is not None
    return ("full" if full else "last"), start


#: a run of base64 (padding included) at the end of a reversed line
_B64_PADDED_TAIL: Final = _regex.compile(r"(?:=|D3%){0,2}+[A-Za-z0-9+/_\-]*+")


def b64_wrapped_jose(run: str) -> tuple[str, str | None] | None:
    """``(kind, token)`` when the base64 ``run`` decodes to bytes holding a JWS or JWE (or a signing input):
    ``token`` is the decoded token when the run encodes it alone (a trailing line break allowed: ``echo |
    base64``), else None (a larger blob: a session, a whole secret). Each of the four phases is tried (a run may
    begin with a word the encoding does not: "base64-ZXlK...")."""
    if "\n" in run:  # a wrapped run
        run = run.replace("\r", "").replace("\n", "")
    body = _PAD_STRIP.sub("", run).translate(_TO_STD)
    for phase in range(4):
        data = body[phase:]
        data = data[: len(data) - 1] if len(data) % 4 == 1 else data + "=" * (-len(data) % 4)
        try:
            decoded = binascii.a2b_base64(data).decode("latin-1")
        except (binascii.Error, ValueError):
            continue
        if "e" not in decoded or "." not in decoded:
            continue
        whole = decoded.strip()
        for m in JOSE.finditer(decoded):
            for piece, kind in split_jose(m.group()):
                if kind is not None:
                    return kind, piece if whole == piece else None
        for m in SIGNING_INPUT_RE.finditer(decoded):
            if is_signing_input(m.group()):
                return SIGNING_INPUT, m.group() if whole == m.group() else None
    return None


# -- header-shaped secrets: "Name: value", "'name': 'value'", "(b'name', b'value')", name=value ----------------
# All of these run on the lower-cased text.
# The separator between a header/field name and its value in free text, JSON, Python reprs of dicts and of
# (name, value) tuples (the comma form only between quotes: "'authorization', alternating" is prose), then an
# optional list/tuple opening and quote (with the b prefix of bytes reprs).
_Q: Final = r"""\\?["']"""
_SEP: Final = (
    rf"""(?:{_Q}?[ \t]*+[:=][ \t]*+|{_Q}[ \t]*+,[ \t\r\n]*+(?=b?{_Q}|[\[(]))"""
    rf"""(?:[\[(](?!redacted:{_MARKER_BODY})[ \t]*+)?(?:b?{_Q})?+"""
)


# One auth-param (RFC 9110): name=token or name="quoted" (quotes possibly JSON-escaped).
_PARAM: Final = r"""[a-z_\-]++=(?:\\?"[^"\\\r\n]*+\\?"|[^\s,"'\\\[\]]++)"""
_PARAMS: Final = _PARAM + r"(?:[ \t]*+,[ \t]*+" + _PARAM + r")*+"

# Authorization / Proxy-Authorization (also HTTP_AUTHORIZATION, http.request.header.authorization...): an
# optional scheme then the credentials. Digest and other parameterised schemes: the whole parameter list.
AUTH_HEADER: Final = _regex.compile(
    r"authorization" + _word_start("authorization") + _SEP + r"(?:(?P<scheme>[a-z][a-z0-9_\-]*+)[ \t]++)?"
    r"(?P<cred>(?>" + _PARAMS + r"|(?:[^\s\"'\\,;\[\]{}()<>]|\\(?![\"'ntr]))++))"  # (to a quote, a control escape)
)

# Authorization schemes (IANA registry and common ones): a word after "Authorization:" that is one of these is
# always a scheme; another word is a scheme only if it does not look like a credential itself.
AUTH_SCHEMES: Final = frozenset(
    {
        "bearer",
        "basic",
        "digest",
        "dpop",
        "negotiate",
        "ntlm",
        "token",
        "apikey",
        "aws4-hmac-sha256",
        "hoba",
        "mutual",
        "scram-sha-1",
        "scram-sha-256",
        "vapid",
        "gnap",
        "mac",
        "hawk",
        "oauth",
        "sharedkey",
        "sharedkeylite",
        "privatetoken",
        "concealed",
        "signature",
        "kerberos",
        "sso-key",
        "key",
        "otp",
        "jwt",
        "pop",
        "bot",
        "session",
        "identity",
    }
)

#: A vendor's scheme name that is capitalised words, glued or hyphenated ("GenieKey" of Opsgenie, "DeepL-Auth-Key",
#: "AccessKey", "ApiToken", "GoogleLogin"): mixed case, as a credential may be, but every capital after the first
#: letter opens a word of three letters or more or ends the part ("DeepL"); letters and hyphens only, at most 23
#: characters (a longer word, or one with a digit or "_", is a credential: ``scrub._credential_like``). A word of
#: this shape before a value that is no plain word is the scheme ("Authorization: GenieKey eb243592-faa2-...").
_CAMEL_PART: Final = r"(?:[A-Z]++(?![a-z])|[A-Za-z][a-z]*+(?:[A-Z][a-z]{2,}+)*+[A-Z]?+)"
CAMEL_SCHEME: Final = _regex.compile(r"(?=[A-Za-z\-]{1,23}+\Z)" + _CAMEL_PART + "(?:-" + _CAMEL_PART + ")*+")

# Scheme + credentials in free text without a header name ("... Bearer abc.def ..."), one pattern per scheme
# (each has a literal prefix; the text is checked for the scheme word first).
# (token68 of RFC 9110, at least 8 characters, ending at a delimiter: "Bearer expires_in=3600" is no credential)
# (its "/", "+", "=" also written with JSON value escapes: "Bearer abc\\/def", "Basic dXNl\\u002Bcjp...")
_CRED_CHAR: Final = r"[A-Za-z0-9\-._~+/]"
_CRED68: Final = (
    rf"(?P<cred>(?=(?:{_CRED_CHAR}|{_VALUE_ESC_LOW}){{8}}){_CRED_CHAR}*+(?:(?:{_VALUE_ESC_LOW}){_CRED_CHAR}*+)*+=*+)"
    rf"(?!{_CRED_CHAR}|{_VALUE_ESC_LOW})"
)
#: Between a scheme and its credentials: blanks, or the blank percent-encoded (an Authorization value carried in a
#: URL: "?authz=Bearer%20<token>", "header=Authorization%3A%20Bearer%20<token>")
#: or written "+" as form encoding writes a blank (session 35: every HTML form and Python's urlencode do:
#: "authz=Bearer+<token>", "hdr=Authorization%3A+Bearer+<token>"; the scanner's trigger takes this looser form)
SCHEME_GAP: Final = r"(?:[ \t]+|%20|\+)"
#: The detectors' gap: after a "+" the credential is form-encoded too, so a "+" of its own would be "%2B" and one in
#: the run after the gap is another blank ("?q=basic+authentication+setup" is a search's words: the run after the
#: "+" holds another "+", no credential), and it is 16 characters or more (a query's "plan=basic+monthly2024" is a
#: word and a number)
_SCHEME_GAP_CRED: Final = r"(?:[ \t]+|%20|\+(?=[a-z0-9\-._~/%\\]{16}[a-z0-9\-._~/%\\]*+(?!\+)))"
#: (not a path's segment: urllib3's request line '"GET /api/basic HTTP/1.1" 200 34' names no scheme)
SCHEME_CRED: Final = {
    scheme: _regex.compile(
        scheme + _word_start(scheme, "a-z0-9/") + _SCHEME_GAP_CRED + _CRED68.replace("A-Za-z", "a-z")
    )
    for scheme in ("bearer", "basic", "dpop")
}

# Cookie / Set-Cookie (also HTTP_COOKIE): the cookie-string, pairs separated by ";" and optional blanks (cookie
# values hold no whitespace), up to other whitespace or the closing quote.
_COOKIE_CHARS: Final = r"""[^\s;"'\\]"""
COOKIE_HEADER: Final = _regex.compile(
    "cookie"
    + _word_start("cookie")
    + rf"""{_SEP}(?P<value>(?=[^\s"'\\]){_COOKIE_CHARS}*+(?:;[ \t]*+{_COOKIE_CHARS}*+)*+)"""
)

# Python's cookie objects as their repr shows them (run on the lower-cased text): http.cookiejar's Cookie (the jars
# of requests and httpx: "Cookie(version=0, name='sid', value='...', port=None, ...)") and http.cookies'
# SimpleCookie/BaseCookie ("<SimpleCookie: sid='...' theme='dark'>", every pair's value a Python repr).
COOKIE_REPR: Final = _regex.compile(
    r"""cookie\(version=[0-9]++, name=(?:'[^'\\]*+'|"[^"\\]*+"), value=(?:'(?P<sq>[^'\\]*+)'|"(?P<dq>[^"\\]*+)")"""
    r"""|<[a-z_]{0,32}?cookie: (?P<pairs>[^<>\r\n]*+)>"""
)
COOKIE_REPR_PAIR: Final = _regex.compile(r"""[^\s='"]++=(?:'(?P<sq>[^'\\]*+)'|"(?P<dq>[^"\\]*+)")""")

# Sec-WebSocket-Protocol (RFC 6455, 4.1): a browser cannot set an Authorization header on a WebSocket, so applications
# send their token as a subprotocol, and request-header logs (access logs, debug dumps, JSON-logged header dicts,
# ASGI's raw headers) hold it (session 35). The value is a list of tokens separated by commas; the credential is the
# element after one that names it, "access_token", "bearer", "token", "authorization" or "auth" in any case
# ("access_token, <token>", "Bearer, <token>"), the rest of an element "bearer.<token>", or the base64url (no padding)
# after Kubernetes' "base64url.bearer.authorization.k8s.io." (kubectl exec and port-forward, the dashboard). Every
# other element is a protocol's name and stays ("graphql-ws", "v12.stomp", "mqtt", "v4.channel.k8s.io"), as does a
# naming element with nothing after it. An element is a run without blanks, quotes, brackets, backslashes, ",", ";"
# and ":" (a token's characters, and "/" and "+" of the standard base64 alphabet), "=" only as padding at its end; the
# credential may hold ":" and "=" too (a client that is no browser may send any characters), up to the same ends.
_WS_ELEMENT: Final = r"""[^\s,;:="'\\\[\]{}()<>]++=*+"""
_WS_CREDENTIAL: Final = r"""[^\s,;"'\\\[\]{}()<>]++"""
_WS_NEXT: Final = r"[ \t]*+,[ \t]*+"
#: The elements that name the credential after them (and "bearer." inside one)
WEBSOCKET_NAMING: Final = ("access_token", "bearer", "token", "authorization", "auth")
_WS_NAMING: Final = "(?:" + "|".join(WEBSOCKET_NAMING) + ")" + _WS_NEXT + r"|bearer\."
_WS_K8S: Final = r"base64url\.bearer\.authorization\.k8s\.io\."
#: The elements before the naming one (read once each: possessive, and none of them names), then the credential:
#: group "cred", or "b64" for Kubernetes' form; one that an expression, a call or a bracket goes on ("${TOKEN}",
#: "[REDACTED:...]") is none.
_WS_LIST: Final = (
    rf"(?:(?!{_WS_NAMING}|{_WS_K8S}){_WS_ELEMENT}{_WS_NEXT})*+"
    rf"(?:(?:{_WS_NAMING})(?P<cred>{_WS_CREDENTIAL})|{_WS_K8S}(?P<b64>{_WS_CREDENTIAL}))(?![{{(<\[])"
)
_WS_NAME: Final = r"sec[_\-]websocket[_\-]protocol"
#: The header in text, run on the lower-cased text: its name (group "name", judged whole by the caller as
#: :func:`header_kind` reads names: WSGI's "HTTP_SEC_WEBSOCKET_PROTOCOL", OpenTelemetry's
#: "http.request.header.sec-websocket-protocol"; "x-sec-websocket-protocol" is another header), the separator of the
#: other headers (JSON, reprs of dicts and of (name, value) tuples, str or bytes), the list. Linear: a match ends before
#: the separator of a next header name inside its list (":" and quotes end an element, "=" is read only at an
#: element's end; a credential ends at a ","), so no two attempts read the same elements.
WEBSOCKET_PROTOCOL: Final = _regex.compile(
    f"(?P<name>{_WS_NAME})" + _word_start_re(_WS_NAME, "a-z0-9", GLUE_ESCAPES) + _SEP + _WS_LIST
)
#: The same list as a header's whole value (a mapping's value, a header tuple's), from its start (lower-cased)
WEBSOCKET_PROTOCOL_VALUE: Final = _regex.compile(r"[ \t]*+" + _WS_LIST)
_B64URL_RUN: Final = _regex.compile(r"[A-Za-z0-9_\-]++")


def k8s_bearer_token(run: str) -> str | None:
    """The token that the base64url ``run`` of Kubernetes' subprotocol encodes (unpadded: Go's RawURLEncoding), or
    None when it encodes no token (not base64url, or bytes other than printable ASCII): the marker then fingerprints
    the run as written. Decoded, the token's marker is the one of the same token after "Bearer"."""
    body = run.rstrip("=")
    if _B64URL_RUN.fullmatch(body) is None or len(body) % 4 == 1:
        return None
    token = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("latin-1")
    if not token or not token.isascii() or not token.isprintable() or " " in token:
        return None
    return token


# Validation errors that echo the rejected input under the field's name (pydantic, FastAPI's 422 body), the name
# and the value apart. str(ValidationError): the field's path on its own line, the error on the next one
# ("refresh_token\n  String should have at most 20 characters [type=string_too_long, input_value='...', ...");
# errors() as repr or JSON: "'loc': ('body', 'password'), 'msg': '...', 'input': '...'". The name is the path's last
# part, judged as a field name by the caller. Run on the lower-cased text.
_PY_STR: Final = r"""(?:'(?P<sq>(?:[^'\\\r\n]|\\.)*+)'|"(?P<dq>(?:[^"\\\r\n]|\\.)*+)")"""
VALIDATION_INPUT: Final = _regex.compile(
    r"""(?m:^)(?P<path>[a-z0-9_.\[\]\-]{1,128}+)\r?\n[ \t]++[^\r\n\[]{0,256}+\[type=[a-z0-9_]{1,64}+, input_value="""
    + _PY_STR
    + r"""|(?P<lq>['"])loc(?P=lq):[ \t]*+[\[(](?P<loc>[^\[\]()\r\n]{0,256}+)[\])],[ \t]*+"""
    r"""(?P<mq>['"])msg(?P=mq):[ \t]*+"""
    r"""(?:'(?:[^'\\\r\n]|\\.)*+'|"(?:[^"\\\r\n]|\\.)*+"),[ \t]*+(?P<iq>['"])input(?P=iq):[ \t]*+"""
    + _PY_STR.replace("sq>", "lsq>").replace("dq>", "ldq>")
)
#: the last name of a validation error's path ("body.password", "'query', 'refresh_token'")
VALIDATION_LAST_NAME: Final = _regex.compile(r"""([a-z_][a-z0-9_\-]{0,63}+)['"]?[ \t]*+,?[ \t]*+\]?$""")

# Secret-named fields in text: password=..., "client_secret": "...", X-API-Key: ..., Creds(token='...'),
# config["password"] = '...'. One pattern per stem (a literal prefix each; a stem is only searched for when the
# text contains it). A match starts at the stem; the rest of the name before it is read back by the caller
# (:func:`name_before`), and the whole name is judged by :func:`name_strength` (compound names read as a whole:
# "chpasswd", "session_reuses", "prompt_tokens" name no secret). The part of the name after the stem is bounded
# (48), so a run of repeated stems is read a bounded number of times.
#: a quote escaped once, or in JSON nested in JSON strings up to four levels deep ('\\\\\\"': 3 backslashes)
_QN: Final = r"""(?:\\\\){0,3}+\\?["']"""
#: A PHP member's visibility between its name and the "]" that closes it in print_r's and var_dump's output
#: ("[password:protected] => x", '["secret":"App\\Config":private]=>'; session 36)
_PHP_MEMBER: Final = r"""(?::(?:protected|"?+[a-z0-9_\\]{1,128}+"?+:private))?+"""
#: var_dump's type and length before a string ('["password"]=>\n  string(6) "x"': the value on the next line, which a
#: whole text holds; session 36)
_PHP_STRING: Final = r"""(?:\r?\n[ \t]*+)?+string\([0-9]{1,10}+\)[ \t]*+(?=")"""
#: The separator, then an opening bracket, or the slice literal Go's "%#v" writes for each value of a
#: map[string][]string (url.Values, http.Header: '"refresh_token":[]string{"x"}'; session 35), or var_dump's
#: 'string(6) ', before the value. A name closed by "]" (PHP's print_r "[password] => x", a form's "user[password]=x":
#: without a quote, before "=" only; "gdm-password]: pam_unix(...)" is a syslog tag) or by Erlang's binary
#: ('<<"x-api-key">>, <<"x">>', '#{<<"token">> => <<"x">>}'; session 36)
_FIELD_SEP: Final = (
    rf"""(?:(?:{_QN}{_PHP_MEMBER}\]|{_PHP_MEMBER}\](?=[ \t]*+=)|{_QN}(?:>>)?+)?+[ \t]*+[:=]>?+[ \t]*+"""
    rf"""|{_Q}(?:>>)?+[ \t]*+,[ \t\r\n]*+(?:<<)?+(?=b?{_Q}|[\[(]))"""
    rf"""(?:\[\]string\{{(?=")|{_PHP_STRING}|<<(?=")|[\[(](?!redacted:{_MARKER_BODY})[ \t]*+)?(?:b(?={_Q}))?"""
)
_BARE_VALUE: Final = (
    rf"""(?P<bare>[^\s,;&"'\\\[\]{{}}()<>=:][^\s,;&"'\\\[\]{{}}()<>]*+"""
    rf"""(?:(?:{_VALUE_ESC_LOW})[^\s,;&"'\\\[\]{{}}()<>]*+)*+)"""
)
_FIELD_VALUE: Final = (
    r"""(?:"(?P<dq>(?:[^"\\\r\n]|\\.)*+)|'(?P<sq>(?:[^'\\\r\n]|\\.)*+)"""
    rf"""|(?:\\\\){{0,3}}+\\["'](?P<eq>[^"'\\\r\n]*+(?:(?:{_VALUE_ESC_LOW})[^"'\\\r\n]*+)*+)|{_BARE_VALUE})"""
)
#: What a key is for, when its name says so: a secret key (:data:`_STRONG_WORDS`; Azure's storage "AccountKey" and
#: Service Bus "SharedAccessKey" in connection strings, "access_key" of object stores: an id is "access_key_id"); a key
#: shared between two parties ("shared_key", WireGuard's "PresharedKey"), a symmetric cipher's ("aes_key"), a product's
#: license ("license_key": New Relic's, MaxMind's), an application's ("application_key": Datadog's DD-APPLICATION-KEY,
#: beside "app_key"), an ingest API's ("insert_key": New Relic's X-Insert-Key; both since session 21). A key that names
#: a record or an entry ("primary_key", "sort_key", "partition_key", "foreign_key", "cache_key") or deduplicates
#: requests ("idempotency_key": it grants nothing) is no secret: those roles are not listed.
_KEY_ROLES: Final = (
    "signing",
    "encryption",
    "hmac",
    "master",
    "app",
    "account",
    "access",
    "shared",
    "preshared",
    "aes",
    "license",
    "application",
    "insert",
    # OAuth 1's access token as oauthlib and requests-oauthlib name it (their DEBUG "<Client client_key=...,
    # resource_owner_key=..., resource_owner_secret=****, ...>")
    "resource_owner",
    # a key that unseals a store, or recovers it (session 39: Vault's "operator init -format=json" prints
    # "unseal_keys_b64", "recovery_keys_hex": the shares of its root key; a disk's or an account's recovery key)
    "unseal",
    "recovery",
)
#: What a verifier redeems, when its name says so: OAuth 2.0 PKCE's ``code_verifier`` (with the authorization code
#: it gets the tokens), OAuth 1.0a's ``oauth_verifier`` - a field stem, strong names and query parameters (a bare
#: "verifier" names an object: a JWT verifier)
_VERIFIER_ROLES: Final = ("code", "oauth")
#: Redis' directives (redis.conf, CONFIG SET) that take a password: the server's and the one a replica presents to its
#: master - strong names, and each a field stem
REDIS_PASSWORD_DIRECTIVES: Final = ("requirepass", "masterauth")
#: The names of a one-time code or a PIN that a user types to log in or confirm (an access log's "GET
#: /verify?otp=123456", a form's "&totp=492039", "&mfa_code=...", "&pin=4821"): strong names, and query parameters
#: whose value is a code when it has the shape of one (:func:`one_time_code`: "?pin=17&state=on" names a GPIO pin)
_ONE_TIME_CODES: Final = ("otp", "totp", "hotp", "pin", "passcode", "mfa_code")
_ONE_TIME_CODE: Final = _regex.compile(r"(?=[^0-9]*+[0-9])\S{4,}+")


def one_time_code(value: str) -> bool:
    """Whether ``value`` has the shape of a one-time code or a PIN: 4 characters or more (ISO 9564's PINs have 4 to 12
    digits, TOTP's codes 6 to 8), a digit among them (backup codes mix letters and digits); "?pin=true" pins a
    message, "?pin=17" names a GPIO pin."""
    return _ONE_TIME_CODE.fullmatch(value) is not None


#: The prefixes of the tickets of the CAS protocol (Apereo CAS): a service ticket, a proxy ticket, a proxy-granting
#: ticket and its IOU, a ticket-granting ticket
_CAS_TICKET_PREFIXES: Final = ("ST", "PT", "PGT", "PGTIOU", "TGT")
#: The query parameters that carry them: a service's "?ticket=ST-...", a proxy request's "?pgt=PGT-...", the proxy
#: callback's "?pgtIou=PGTIOU-...&pgtId=PGT-..." (redacted when the value is one: :func:`cas_ticket`)
_CAS_TICKET_NAMES: Final = ("ticket", "pgt", "pgtiou", "pgtid")
_CAS_TICKET: Final = _regex.compile(
    "(?:" + "|".join(_CAS_TICKET_PREFIXES) + r")-(?:[0-9]{1,20}+-)?+(?P<rest>[A-Za-z0-9_.\-]++)"
)
_CAS_TICKET_RUN: Final = _regex.compile(r"[A-Za-z0-9]{16,}+")


def cas_ticket(value: str) -> bool:
    """Whether ``value`` is a CAS ticket as CAS servers issue them: a prefix (:data:`_CAS_TICKET_PREFIXES`), a counter,
    then a random part ("ST-1856339-aA5Yuvrxzpv8Tau1cYQ7", "ST-3-6mQccyA9fRKdRrF1H94j-cas01.example.org",
    "TGT-14-scrMLORgxLf...-int-sso.example.com", mama-cas' "ST-1499890541-<32 characters>") holding a run of 16
    alphanumerics or more that mixes two of lower case, upper case and digits. An issue's key or a support ticket has
    none ("ticket=ST-1234", "ticket=PT-42-fix-login-form-validation", "ticket=12345"). Linear: each run read once."""
    m = _CAS_TICKET.fullmatch(value)
    if m is None:
        return False
    for run in _CAS_TICKET_RUN.findall(m.group("rest")):
        kinds = (run.lower() != run) + (run.upper() != run) + any(c.isdigit() for c in run)
        if kinds >= 2:
            return True
    return False


#: A CAS ticket standing on its own, in a message or a URL's path ("Granted ticket [ST-1764-1lAgfQ...-int-sso...]",
#: "GET /cas/login/ST-..."): a ticket's prefix (a service, proxy, proxy-granting or ticket-granting ticket's; a PGT's
#: IOU travels in its callback's query only) at the start of a word, its counter (digits, not optional here), the random
#: part; redacted when :func:`cas_ticket` says the value is one (an issue's key, a branch "ST-42-refactor-auth", a
#: disk's model "ST-4000DM004-2CV104" are none). Run on the original text (the prefixes are capitals) holding "T-".
_CAS_TEXT_PREFIXES: Final = tuple(prefix for prefix in _CAS_TICKET_PREFIXES if prefix.endswith("T"))
CAS_TICKET_TEXT: Final = _regex.compile(
    r"(?<![A-Za-z0-9_\-.])(?:" + "|".join(_CAS_TEXT_PREFIXES) + r")-[0-9]{1,20}+-[A-Za-z0-9_.\-]*[A-Za-z0-9]"
)
#: What every match of :data:`CAS_TICKET_TEXT` holds (the scanner's trigger, the Hyperscan gate's expression)
CAS_TICKET_HINT: Final = r"(?:" + "|".join(_CAS_TEXT_PREFIXES) + r")-[0-9]"


#: :data:`CAS_TICKET_HINT` for Python's ``re``, from the literal "T-" every prefix ends in (the engine skips along to
#: it; 0.3 % of real-log lines hold one), the prefix checked behind it
CAS_TICKET_HINT_RE: Final = r"T-(?<=[SP]T-|GT-)[0-9]"
CAS_TICKET_HINT_SEARCH: Final = _regex.compile(CAS_TICKET_HINT_RE).search


def cas_ticket_hint(text: str) -> bool:
    """``text`` may hold a :data:`CAS_TICKET_TEXT` match (:data:`CAS_TICKET_HINT_SEARCH`)."""
    return CAS_TICKET_HINT_SEARCH(text) is not None


#: A request's signature as a hex digest after a name ending in "signature": botocore's DEBUG log of SigV4
#: ("Signature:\n<hex>", the message's line break raw or escaped), an Authorization header's parts logged without
#: the header's name ("Credential=..., SignedHeaders=..., Signature=<hex>"), a JSON or repr field. The value is 32 hex
#: digits or more (an HMAC-MD5's, HMAC-SHA1's 40, HMAC-SHA256's 64): "Signature: invalid", a short id, "signature
#: version 1.403.123.0" are none. Run on the lower-cased text holding "signature"; the value in group "value".
HEX_SIGNATURE: Final = _regex.compile(
    r"""signature(?:\\?["'])?+[ \t]*+[:=][ \t]*+(?:\\?["']|\r?\n|(?:\\r)?+\\n)?+[ \t]*+"""
    r"(?P<value>[0-9a-f]{32,}+)(?![0-9a-z_\-])"
)


#: The stem of a personal access token's name (:data:`_STEMS`): "pat" not followed by a letter
PAT_STEM: Final = r"pat(?![a-z])"
#: :data:`PAT_STEM` for the scanner's triggers (no lookaround: Hyperscan has none): "pat", then no letter but a digit
#: up to the name's other words
PAT_STEM_TRIGGER: Final = r"pat[0-9]*"
#: What a text holding a :data:`PAT_STEM` name holds (the name's word after a separator, or before one)
PAT_WORDS: Final = ("_pat", "-pat", ".pat", "pat=", "pat:", 'pat"', "pat'", "pat ", "pat\t", "pat\\")
#: A webhook's signature in the header its sender names it by (session 36: every path kept it): GitHub's
#: "X-Hub-Signature-256: sha256=<hex>" and "X-Hub-Signature: sha1=<hex>", Stripe's "Stripe-Signature:
#: t=<time>,v1=<hex>",
#: Slack's "X-Slack-Signature: v0=<hex>", Standard Webhooks' (Svix) "webhook-signature: v1,<base64> v1,<base64>",
#: Shopify's "X-Shopify-Hmac-Sha256: <base64>", Twilio's "X-Twilio-Signature: <base64>": an HMAC of the request under
#: the endpoint's secret, which lets anyone replay the request while its timestamp is accepted. Only after a name whose
#: last word is "signature" (a digest's name or size may follow: "-256", "_sha256") or "hmac" ("-sha256"): a hash after
#: any other name is a file's or a body's digest ("sha256=<hex>  requirements.txt", "X-Amz-Content-Sha256", "Digest:
#: sha-256=..."), kept. The value: "t=<digits>," first or not, then labelled MACs ("sha256=", "v1=", "v1,", separated by
#: "," or a blank), or one bare MAC; each MAC is judged by :func:`mac_value` and redacted apart (the labels and the
#: time stay). Runs on the lower-cased text holding "signature" or "hmac"; the value in group "value".
_MAC_LABEL: Final = r"(?:sha(?:1|224|256|384|512)|v[0-9]a?+|t)[=,]"
_MAC_RUN: Final = r"[a-z0-9+/_\-]{22,1024}+={0,2}+"
#: A webhook signature's name, its last word ("signature", "hmac") and an optional digest ("-256", "_sha256")
_SIGNATURE_WORD: Final = r"(?:signature|hmac)(?:[_\-]?+(?:sha)?+(?:1|224|256|384|512))?+"
WEBHOOK_SIGNATURE: Final = _regex.compile(
    _SIGNATURE_WORD + r"(?![a-z0-9_\-])"
    r"""(?:\\?+["'])?+[ \t]*+(?:[:=][ \t]*+\[?+|(?<=["'])[ \t]*+,[ \t]*+b?+(?=\\?+["']))[ \t]*+(?:\\?+["'])?+"""
    rf"(?P<value>(?:{_MAC_LABEL}[a-z0-9+/_\-]{{1,1024}}+={{0,2}}+(?:[, ](?={_MAC_LABEL}))?+){{1,16}}+|{_MAC_RUN})"
)
#: one MAC in a :data:`WEBHOOK_SIGNATURE` value (after its label, or the whole value)
MAC_RUN: Final = _regex.compile(r"(?<![A-Za-z0-9+/_\-])[A-Za-z0-9+/_\-]{22,1024}+={0,2}+")
_HEX_MAC: Final = _regex.compile(r"(?=[a-f]*+[0-9])[0-9a-f]{32,}+|(?=[A-F]*+[0-9])[0-9A-F]{32,}+")
_B64_MAC: Final = _regex.compile(
    r"(?=[^A-Z]*+[A-Z])(?=[^a-z]*+[a-z])(?=[^0-9+/]*+[0-9+/])[A-Za-z0-9+/_\-]{22,}+={0,2}+"
)


def mac_value(run: str) -> bool:
    """Whether a run after a webhook signature's name (:data:`WEBHOOK_SIGNATURE`) is a MAC: 32 hex digits or more (an
    HMAC-MD5's, HMAC-SHA1's 40, HMAC-SHA256's 64), or base64 of 22 characters or more mixing upper and lower case
    with a digit, "+" or "/" (HMAC-SHA1's 28, HMAC-SHA256's 44); a word ("verification_failed_for_request") is none."""
    return _HEX_MAC.fullmatch(run) is not None or _B64_MAC.fullmatch(run) is not None


#: A name that :data:`WEBHOOK_SIGNATURE` takes (a header's or a mapping's key: "X-Hub-Signature-256")
_SIGNATURE_NAME: Final = _regex.compile(r"(?i)[a-z0-9_\-]{0,64}?" + _SIGNATURE_WORD)


def signature_name(name: str) -> bool:
    """Whether ``name`` is one :data:`WEBHOOK_SIGNATURE` reads a MAC after ("X-Hub-Signature-256", "Stripe-Signature",
    "X-Shopify-Hmac-Sha256", "webhook-signature")."""
    return _SIGNATURE_NAME.fullmatch(name) is not None


#: The POST binding's SAMLResponse field as it is spelled (a _STEMS gate's words, and STRONG in _EXACT_NAMES)
SAML_RESPONSE_NAMES: Final = ("samlresponse", "saml_response", "saml-response")
#: A SAML assertion's name as AWS STS's AssumeRoleWithSAML (and tools that log its request) spell it: a strong name, as
#: the response's (session 37; its last word, "assertion", was strong already)
SAML_ASSERTION_NAMES: Final = ("samlassertion", "saml_assertion", "saml-assertion")
#: the LDAP tools' password names that end in "pw" (strong names: :data:`_STRONG_WORDS`)
LDAP_PW_NAMES: Final = tuple(f"{role}{sep}pw" for role in ("root", "bind") for sep in ("", "_", "-"))
_STEMS: Final = (
    # (stem pattern, a word the text must contain, words one of which it must contain too) - checked with
    # substring searches on the lower-cased text before the pattern runs
    ("token", "token", ()),
    ("secret", "secret", ()),
    (r"pass(?:w(?:or)?d|phrase)?", "pass", ()),
    ("pwd", "pwd", ()),
    # LDAP clients' and servers' own names for a password (session 39): slapd.conf's "rootpw x" and cn=config's
    # "olcRootPW: x", nslcd.conf's and pam_ldap's "bindpw x", Postfix's LDAP tables' "bind_pw = x", SSSD's
    # "ldap_default_authtok = x" ("pw" alone is no stem: "pwm", "pwr", "ipw2200")
    (r"(?:root|bind)[_\-]?pw", "pw", LDAP_PW_NAMES),
    ("authtok", "authtok", ()),
    # API keys, and keys named for what they do (signing_key, ENCRYPTION_KEY, hmacKey, RAILS_MASTER_KEY, Laravel's
    # APP_KEY); one stem: each costs a substring search of every text
    (
        "(?:" + "|".join(("api", *_KEY_ROLES)) + r")[_\-.]?key",
        "key",
        tuple(f"{role}{sep}key" for role in ("api", *_KEY_ROLES) for sep in ("", "_", "-", ".")),
    ),
    ("session", "session", ()),
    ("credential", "credential", ()),
    (r"private[_\-]?key", "private", ("privatekey", "private_key", "private-key")),
    # Azure API Management's Ocp-Apim-Subscription-Key, Azure Functions' x-functions-key (a bare "key" names
    # too much to be a stem: cache keys, partition keys)
    (r"subscription[_\-]?key", "subscription", ("subscriptionkey", "subscription_key", "subscription-key")),
    (r"functions[_\-]?key", "functions", ("functionskey", "functions_key", "functions-key")),
    # Artifactory's API key header, X-JFrog-Art-Api (its older keys have no vendor prefix: no "AKCp")
    (r"jfrog[_\-]art[_\-]api", "jfrog", ()),
    # Honeycomb's API key header, X-Honeycomb-Team (its classic keys have no vendor prefix: 22 characters, 32 hex)
    (r"honeycomb[_\-]team", "honeycomb", ()),
    ("dpop", "dpop", ()),
    # Sec-WebSocket-Protocol, whose value WEBSOCKET_PROTOCOL reads: a stem so that the scanner's field trigger and its
    # fast path take the header's lines (a weak name, :func:`_words_strength`, of a header: the scrubber decides)
    (_WS_NAME, "websocket", ()),
    ("assertion", "assertion", ()),
    ("auth", "auth", ()),
    ("sid", "sid", ()),
    ("psk", "psk", ()),
    # the POST binding's SAMLResponse (a field name, see _EXACT_NAMES; session 35)
    (r"saml[_\-]?response", "saml", SAML_RESPONSE_NAMES),
    # a personal access token as a name's last word ("AZURE_DEVOPS_EXT_PAT=", "ado_pat:", '"pat":', "adoPat="; session
    # 36), not a longer word's start ("path", "pattern", "patch"; the scanner's trigger: PAT_STEM_TRIGGER); the text
    # must hold "pat" after "_", "-", "." or before a separator (a substring search each: "pat" alone is in 6 % of
    # real log lines, "path")
    (PAT_STEM, "pat", PAT_WORDS),
    (
        "(?:" + "|".join(_VERIFIER_ROLES) + r")[_\-]?verifier",
        "verifier",
        tuple(f"{role}{sep}verifier" for role in _VERIFIER_ROLES for sep in ("", "_", "-")),
    ),
)


#: (the name's words after the stem may be separated by "." as by "_": Hadoop's and Spark's properties,
#: "fs.s3a.secret.key=", "aws.secret.key = "; session 35: the name ended at the "." and nothing was found)
class Searcher(Protocol):
    """What the scrubber's passes call on a detector: a compiled pattern, or a :class:`WordAnchored` one."""

    @property
    def pattern(self) -> str: ...

    def search(self, string: str, pos: int = ...) -> re.Match[str] | None: ...


class WordAnchored:
    """A compiled pattern that starts with one of a few words and holds ``word`` at most ``reach`` characters after its
    start (a key's role, then "key": "api_key", "signing.key", "resource_owner_key"), searched from the occurrences
    of ``word``: ``search`` returns what ``regex.search`` returns. Such a pattern starts with no literal, so ``re``
    tries it at every position of the text (session 37: the key stem's field pattern took ~80 ns a character, 0.2 ms
    on each 2.8 KB CloudTrail record, twice); here ``str.find`` skips to each ``word`` and the pattern is tried
    at the ``reach + 1`` positions before it (each position once: linear). Why it is the same match: a match
    starting at ``i`` holds ``word`` at ``i + reach`` at most and after ``i`` (no role holds ``word``), so none
    starts before ``k - reach`` when ``k`` is the first ``word`` at or after ``pos``."""

    __slots__ = ("_match", "_reach", "_word", "pattern", "regex")

    def __init__(self, regex: re.Pattern[str], word: str, reach: int) -> None:
        self.regex = regex
        self.pattern = regex.pattern
        self._match = regex.match
        self._word = word
        self._reach = reach

    def search(self, string: str, pos: int = 0) -> re.Match[str] | None:
        find, match, word, reach = string.find, self._match, self._word, self._reach
        at = max(pos, 0)
        k = find(word, at)
        while k >= 0:
            for i in range(max(at, k - reach), k + 1):
                m = match(string, i)
                if m is not None:
                    return m
            at = k + 1
            k = find(word, at)
        return None


#: Stems that start with one of a few words, not a literal: their word after those and how far it may stand from the
#: match's start (the longest role and a separator; :class:`WordAnchored`)
_ANCHORED_STEMS: Final = {
    "key": ("key", max(map(len, ("api", *_KEY_ROLES))) + 1),
    "verifier": ("verifier", max(map(len, _VERIFIER_ROLES)) + 1),
}


def _searcher(word: str, regex: re.Pattern[str]) -> Searcher:
    anchor = _ANCHORED_STEMS.get(word)
    return regex if anchor is None else WordAnchored(regex, *anchor)


TEXT_FIELDS: Final = tuple(
    (
        word,
        words,
        _searcher(word, _regex.compile(stem + r"(?P<suffix>[a-z0-9_\-.]{0,48}+)" + _FIELD_SEP + _FIELD_VALUE)),
    )
    for stem, word, words in _STEMS
)
#: Stems whose names are weak but when they hold another stem ("session_token", "auth_secret"): no SPACED_FIELDS of
#: their own ("Expiring session 0x14f05578bd8001c", "DPoP <proof>" is a scheme; "Sec-WebSocket-Protocol graphql-ws")
_WEAK_STEMS: Final = ("session", "auth", "sid", "dpop", "websocket")
#: Stems without the spaced form: the weak ones, and "pat" ("GITHUB_PAT abc" is too little to go on)
_UNSPACED_STEMS: Final = (*_WEAK_STEMS, "pat")
# The same names with their value after blanks, no separator: "apikey 9f8e7d6c5b4a", "bearer_token x",
# redis.conf's "requirepass x", "password Xk9(2]aP{z", nginx's 'proxy_set_header X-Api-Key "x";' (a quoted value).
# Weaker evidence than a separator: the caller takes only strong names and values that are no word ("password for
# root", "token expired", "assertion failed:"): 6 characters or more once trailing punctuation is set aside, with a
# digit or a character other than a letter among them.
#: The strong names that hold a weak stem, by the stem's gate word: they have the spaced form, found under that word
#: (redis.conf's and CONFIG SET's "masterauth x"; "requirepass" holds "pass")
_SPACED_OF_WEAK: Final = {"auth": tuple(d for d in REDIS_PASSWORD_DIRECTIVES if "auth" in d)}
_SPACED_WEAK_NAMES: Final = tuple(name for names in _SPACED_OF_WEAK.values() for name in names)


def _spaced_field(stem: str) -> re.Pattern[str]:
    # (group "cq": a quoted name's closing quote, before a quoted value: Redis MONITOR's '"CONFIG" "SET" "requirepass"
    # "x"', '"HSET" "user:1" "password" "x"'; session 36: the caller checks the name's opening quote)
    return _regex.compile(
        stem
        + r"""(?P<suffix>[a-z0-9_\-]{0,48}+)(?:(?P<cq>")(?=[ \t]++"))?+[ \t]++"""
        + r"""(?:"(?P<dq>[^"\\\r\n]{1,1024}+)"|'(?P<sq>[^'\\\r\n]{1,1024}+)'|"""
        + _BARE_VALUE
        + ")"
    )


SPACED_FIELDS: Final = tuple(
    (word, words, _searcher(word, _spaced_field(stem))) for stem, word, words in _STEMS if word not in _UNSPACED_STEMS
) + tuple((word, names, _spaced_field("(?:" + "|".join(names) + ")")) for word, names in _SPACED_OF_WEAK.items())
#: :data:`TEXT_FIELDS` with each stem's :data:`SPACED_FIELDS` pattern (None for the weak stems): the scrubber runs
#: both for the stems a text holds, found once
FIELD_PASSES: Final = tuple(
    (word, words, pattern, next((sp for w, _, sp in SPACED_FIELDS if w == word), None))
    for word, words, pattern in TEXT_FIELDS
)
_SECRET_STEM: Final = "(?:" + "|".join(stem for stem, _, _ in _STEMS) + ")"
#: the stems of :data:`SPACED_FIELDS` (one expression) and their gate words
SPACED_STEM: Final = (
    "(?:" + "|".join((*(stem for stem, word, _ in _STEMS if word not in _UNSPACED_STEMS), *_SPACED_WEAK_NAMES)) + ")"
)
SPACED_WORDS: Final = (*(word for _, word, _ in _STEMS if word not in _UNSPACED_STEMS), *_SPACED_WEAK_NAMES)


def spaced_patterns(low: str) -> list[Searcher]:
    """The :data:`SPACED_FIELDS` patterns of the stems the lower-cased text holds."""
    has = low.__contains__
    return [pattern for word, words, pattern in SPACED_FIELDS if has(word) and (not words or any(map(has, words)))]


def spaced_hint(text: str) -> bool:
    """``text`` may hold a :data:`SPACED_FIELDS` match (a stem and a word after blanks; the caller judges it)."""
    if " " not in text and "\t" not in text:
        return False
    low = lower(text)
    return any(pattern.search(low) is not None for pattern in spaced_patterns(low))


SECRET_STEM: Final = _regex.compile(_SECRET_STEM, re.IGNORECASE)
_NAME_HEAD: Final = _regex.compile(r"[a-z0-9_\-]{1,64}+")
#: Values of secret-named fields that hold nothing (JSON/Python literals, an Authorization scheme whose
#: credentials are matched on their own).
EMPTY_VALUES: Final = frozenset(
    {"null", "none", "true", "false", "nil", "undefined", "bearer", "basic", "dpop", "digest", "negotiate"}
)


# -- lower case with the same length -----------------------------------------------------------------------------
#: Characters that case-insensitive matching (Unicode simple case folding, as ``re.IGNORECASE`` does) equates with
#: an ASCII letter but ``str.lower()`` keeps or lengthens: DOTTED and DOTLESS I, LONG S; and the KELVIN SIGN, which
#: ``lower()`` already makes "k". A name written with them ("TO\u212aEN", "paſſword", "SESSİON") is that name.
FOLD_TO_ASCII: Final = {"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"}
_FOLD_LOWER: Final = str.maketrans(FOLD_TO_ASCII)
_FOLD_UPPER: Final = str.maketrans({c: a.upper() for c, a in FOLD_TO_ASCII.items()})
_FOLD_SEARCH: Final = _regex.compile("[\u0130\u0131\u017f]").search  # (the KELVIN SIGN: lower() does it)


def lower(text: str) -> str:
    """Lower-cased copy of ``text`` of the same length (match positions in it are positions in ``text``): the
    characters of :data:`FOLD_TO_ASCII` become their ASCII letter; any other character whose lower case is
    longer keeps its own (none but U+0130 in Python's Unicode tables)."""
    low = text.lower()
    if len(low) == len(text) and (text.isascii() or _FOLD_SEARCH(text) is None):
        return low
    for c, a in _FOLD_REPLACE:  # (str.replace: a C loop; translate() with a table costs ~40 ns a character)
        if c in text:
            text = text.replace(c, a)
    low = text.lower()
    if len(low) != len(text):
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return low


_FOLD_REPLACE: Final = tuple(FOLD_TO_ASCII.items())


def name_before(low: str, start: int) -> str:
    """The name characters (up to 64, lower-cased text) that end at ``start`` (read on the reversed slice, so
    the match is anchored at its first character); the letter of a control escape before them is the escape's, not
    the name's (:data:`CONTROL_ESCAPE`: "\\nsession_id=..." names "session_id")."""
    m = _NAME_HEAD.match(low[max(0, start - 64) : start][::-1])
    if m is None:
        return ""
    name = m.group(0)[::-1]
    at = start - len(name)
    if name[0] in "ntr" and low[at - 1 : at] == "\\":
        return name[1:]
    return name


# -- which names name a secret ---------------------------------------------------------------------------------
# A name is read as a whole, split into words at "_", "-", ".", digits and camelCase ("clientSecret",
# "X-Api-Key", "SESSION_ID"). Its last word decides, as in English compounds: "access_token" is a token,
# "token_type" a type, "session_reuses" a count of reuses. A last word that only qualifies a value ("id",
# "key", "value"...) passes the decision to the words before it ("session_id", "secret_access_key").
#
# STRONG: whatever the value, it is a credential (password=12345678 is a password).
# WEAK: the value decides (:func:`is_credential_value`): "session: 30546173_4261722401", "sid:1" and
# "sessionid: 0x34ede65503f0039" hold ids, "prompt_tokens": 18 a count.
NOT_SECRET_NAME: Final = 0
WEAK: Final = 1
STRONG: Final = 2
_STRONG_WORDS: Final = frozenset(
    "password passwd pwd passphrase passcode secret token apikey credential credentials privatekey secretkey "
    "subscriptionkey functionskey assertion jwt "
    # Artifactory's API key (X-JFrog-Art-Api)
    "artapi "
    # Honeycomb's API key (X-Honeycomb-Team)
    "honeycombteam "
    # LDAP's (session 39): slapd's "rootpw"/"olcRootPW", nslcd's "bindpw", Postfix's "bind_pw", SSSD's "authtok"
    "rootpw bindpw authtok "
    # a pre-shared key (wpa_supplicant's psk="x", hostapd's wpa_psk, an IPsec peer's)
    "psk "
    # a personal access token as a name's own word (Azure DevOps' AZURE_DEVOPS_EXT_PAT, "ado_pat", R's GITHUB_PAT,
    # "adoPat"; session 36): "path", "pattern", "compat" are other words
    "pat".split()
    # keys named for what they do, which name a secret key (a key id, "signing_key_id", is an identifier: below)
    + [f"{role}key" for role in _KEY_ROLES]
    # the verifiers that redeem an OAuth grant
    + [f"{role}verifier" for role in _VERIFIER_ROLES]
)
_WEAK_WORDS: Final = frozenset(
    "session sessionid sessid sid auth pass tokens secrets passwords sessions sids "
    # a form's anti-forgery token under its framework's name (Spring Security's '<meta name="_csrf" content="x">',
    # "xsrf"; session 36): the value decides ("csrf: true" is a setting)
    "csrf xsrf".split()
)
# Words glued to a secret word with no separator ("accesstoken", "clientsecret", "newpassword", "jsessionid",
# "dbpasswd"): only the long secret words count, so "inside", "bypass" name nothing; nor do the commands that change
# passwords, named "...passwd" (_PASSWD_COMMANDS: "chpasswd", "htpasswd").
_GLUED_STRONG: Final = ("password", "passphrase", "secret", "token", "apikey", "credential", "credentials", "passwd")
_PASSWD_COMMANDS: Final = frozenset(
    "chpasswd htpasswd yppasswd smbpasswd vncpasswd kpasswd gpasswd lppasswd ldappasswd rpasswd npasswd "
    "grpasswd opasswd".split()
)
_GLUED_WEAK: Final = ("sessionid", "sessid")
#: Words whose id is a credential (a session's id is what a client presents): "session_id" is weak, "token_id" is no
#: secret (:func:`_plain_name_strength`)
_SESSION_WORDS: Final = frozenset("session sessions sess".split())
#: Last words that say what form a secret has, not what it is: the name's other words decide (token_value,
#: secret_raw, password_b64; a copy of a token is the token: token_copy, as structlog's frame locals show one)
_QUALIFIERS: Final = frozenset(
    "id key value val str string b64 base64 raw data hex text plain plaintext cleartext enc encoded encrypted "
    "code hdr copy".split()
)
# Names that look secret but hold none (jwtobs's own event fields, token metadata, counters): the last word of
# the name is one of _BENIGN_LAST, or the whole name one of _BENIGN_NAMES.
_BENIGN_LAST: Final = frozenset(
    "fp fingerprint hash type types count len length bytes ttl expire expires expire_in expires_in expire_at "
    "expires_at exp iat nbf kind sink reason outcome endpoint endpoints url uri path alg algs algorithm algorithms "
    "supported format name names header headers limit max min size lifetime timeout scheme schemes required "
    "enabled mode method methods status state "
    # a page's token is where a listing goes on (nextPageToken, AWS's NextToken, continuationToken), no credential
    "page_token next_token continuation_token pagination_token page_tokens".split()
)
_BENIGN_NAMES: Final = frozenset(
    "token_fp jti_hash sub_hash auth_time authority author authors authorization_endpoint token_endpoint "
    "max_tokens session_state".split()
)
#: The benign last words as a regular expression (``NOT_SECRET.match(name)``), for callers that build patterns
#: from it (the scanner's prefilter).
NOT_SECRET: Final = _regex.compile(
    r"(?i)^(?:.*[_\-.])?(?:"
    + "|".join(sorted(w for w in _BENIGN_LAST if "_" not in w))
    + r"|expires?_(?:in|at))$|^(?:"
    + "|".join(sorted(_BENIGN_NAMES))
    + r")$"
)
_EXACT_NAMES: Final = {
    "auth": WEAK,
    # sudoers' tag saying no password is asked ("deploy ALL=(ALL) NOPASSWD: ALL"), doas' "nopass"
    "nopasswd": NOT_SECRET_NAME,
    "nopass": NOT_SECRET_NAME,
    "pass": WEAK,
    "sid": WEAK,
    **dict.fromkeys(REDIS_PASSWORD_DIRECTIVES, STRONG),
    # sshpass' environment variable ("SSHPASS=x sshpass -e ssh host": the password "-p x" would give)
    "sshpass": STRONG,
    # a SAML assertion posted to a service provider (the POST binding's form field, its HTML input, a JSON copy): a
    # bearer credential while valid (session 35; its query parameter was redacted already, QUERY_PARAM)
    **dict.fromkeys(SAML_RESPONSE_NAMES, STRONG),
    **dict.fromkeys(SAML_ASSERTION_NAMES, STRONG),
    # keytool's and jarsigner's options: a keystore's and a key's password
    **dict.fromkeys(("storepass", "keypass", "srcstorepass", "deststorepass", "srckeypass", "destkeypass"), STRONG),
    # the one-time codes and PINs (otp, totp, pin, mfa_code...)
    **dict.fromkeys(_ONE_TIME_CODES, STRONG),
    "jwt": STRONG,
    "resource_owner_key": STRONG,  # (_KEY_ROLES: OAuth 1's access token)
    "authorization": STRONG,
    "proxy-authorization": STRONG,
    "cookie": STRONG,
    "set-cookie": STRONG,
}
_WORDS: Final = _regex.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _word_strength(word: str) -> int:
    if word in _STRONG_WORDS:
        return STRONG
    if word in _WEAK_WORDS:
        return WEAK
    if word.endswith(_GLUED_STRONG) and word not in _PASSWD_COMMANDS:
        return STRONG
    if word.endswith(_GLUED_WEAK):
        return WEAK
    return NOT_SECRET_NAME


#: The hex digits of an escape glued to the front of a name ("%3Fapi_key" read back as "3Fapi_key", "\\u003fsid",
#: "\\x26auth"): percent escapes of ASCII characters start with a digit 0-7.
_ESCAPE_HEAD: Final = _regex.compile(r"(?:u00[0-9a-fA-F]{2}|x[0-7][0-9a-fA-F]|[0-7][0-9a-fA-F])(?=[A-Za-z_\-])")


def _name_strength(name: str) -> int:
    """:func:`_escaped_name_strength`; a name holding characters of :data:`FOLD_TO_ASCII` is read with them as
    their ASCII letter, lower and upper case (``to\u212aen`` is "token", ``TO\u212aEN`` "TOKEN"): the stronger
    reading."""
    if not name.isascii():
        low, up = name.translate(_FOLD_LOWER), name.translate(_FOLD_UPPER)
        if low != name:
            return max(_escaped_name_strength(low), _escaped_name_strength(up))
    return _escaped_name_strength(name)


def _escaped_name_strength(name: str) -> int:
    """:func:`_plain_name_strength`, and for a name that may begin with an escape's hex digits the stronger of
    its readings with and without them (``3Fapi_key`` is ``api_key`` after ``%3F``)."""
    strength = _plain_name_strength(name)
    if strength < STRONG and name[:1] in _ESCAPE_FIRST:
        m = _ESCAPE_HEAD.match(name)
        if m is not None:
            return max(strength, _plain_name_strength(name[m.end() :]))
    return strength


_ESCAPE_FIRST: Final = frozenset("01234567uxUX")


#: an operation's name: a verb, then capitalised words ("GetSecretValue", "CreateAccessKey", "getPassword",
#: "RotateSecret" - AWS API actions as botocore's event names carry them, "Event before-call.secrets-manager.
#: GetSecretValue: calling handler ...", gRPC and Java methods): it names what is done, and the value after it is
#: the log's next words. Weak at most: the value decides. Not the words a form's second password field starts with
#: (confirmPassword, verifyPassword, repeatPassword, newPassword) nor "refreshToken"/"requestToken" (OAuth tokens)
_OPERATION_NAME: Final = _regex.compile(
    r"(?:[Gg]et|[Pp]ut|[Ll]ist|[Cc]reate|[Dd]elete|[Dd]escribe|[Uu]pdate|[Rr]otate|[Gg]enerate|[Ff]etch|[Rr]evoke"
    r"|[Ii]nvalidate|[Cc]ancel|[Bb]atch|[Rr]etrieve|[Rr]emove|[Ll]ookup|[Ff]ind|[Vv]alidate|[Dd]ecode|[Ee]ncode"
    r"|[Pp]arse|[Ss]ign|[Cc]heck)(?:[A-Z][a-z]++)++"
)


#: Hadoop's property holding an Azure storage account's key (ABFS, WASB): "fs.azure.account.key.<account>.blob.core.
#: windows.net", "....dfs.core.windows.net" (session 35). The key's name is followed by the account's host name,
#: whose last word would decide the name otherwise
_AZURE_ACCOUNT_KEY_NAME: Final = _regex.compile(
    r"account\.key\.[a-z0-9\-]{1,63}+\.(?:blob|dfs|file|queue|table)\.core\.", re.IGNORECASE
)


def _plain_name_strength(name: str) -> int:
    if ("ccount" in name or "CCOUNT" in name) and _AZURE_ACCOUNT_KEY_NAME.search(name) is not None:  # (any case)
        return STRONG
    strength = _words_strength(name[:200])
    # (an operation's name as a dotted name's last part: botocore's "secrets-manager.GetSecretValue")
    return WEAK if strength == STRONG and _OPERATION_NAME.fullmatch(name, name.rfind(".") + 1) else strength


#: a name's first word making it a flag about a secret, not one (``isSecret``, ``has_password``; glued: ``issecret``)
_FLAG_WORDS: Final = ("is", "has")


def _words_strength(name: str) -> int:
    low = name.lower()
    if low in _BENIGN_NAMES:
        return NOT_SECRET_NAME
    exact = _EXACT_NAMES.get(low)
    if exact is not None:
        return exact
    if _plain_header_kind(name) == BEARER:
        # Sec-WebSocket-Protocol (or ASGI's "subprotocols"), spelled as header_kind reads it: a list of protocol names
        # that may hold a token (WEBSOCKET_PROTOCOL): weak, the value decides
        return WEAK
    words = [w.lower() for w in _WORDS.findall(name) if not w.isdigit()]
    if not words:
        return NOT_SECRET_NAME
    if (words[0] in _FLAG_WORDS and len(words) > 1) or any(
        low.startswith(flag) and low[len(flag) :] in _GLUED_STRONG for flag in _FLAG_WORDS
    ):
        return NOT_SECRET_NAME  # a flag saying whether the thing is or has a secret (session 38: Azure Pipelines'
        # "##vso[task.setvariable variable=x;issecret=true]", isSecret, has_password, is_token_valid)
    last = words[-1]
    if last == "base" and len(words) > 1 and words[-2] == "key":  # Rails' secret_key_base: the key itself
        words, last = words[:-1], "key"
    if last in _BENIGN_LAST or (len(words) > 1 and f"{words[-2]}_{last}" in _BENIGN_LAST):
        return NOT_SECRET_NAME
    if last == "id" and len(words) > 1 and words[-2] not in _SESSION_WORDS:
        # an identifier of the thing the words before name (token_id, credential_id, SecretId, signing_key_id);
        # a session's id is its credential (session_id, JSESSIONID)
        return NOT_SECRET_NAME
    strength = _word_strength(last)
    if last == "pass" and len(words) > 1 and name.isupper() and "_" in name:
        return STRONG  # an environment variable's password: DB_PASS, SMTP_PASS, REACT_APP_PASS
    if strength or len(words) == 1:
        return strength
    if words[-2] + last in _STRONG_WORDS:  # api_key, private_key, secret_key
        return STRONG
    if "keys" in words and _listed_keys(words):
        return STRONG  # the keys of a role listed in a form ("unseal_keys_b64", "recovery_keys_hex": session 39)
    if last not in _QUALIFIERS:
        return NOT_SECRET_NAME
    return max(_word_strength(w) for w in words[:-1])


def _listed_keys(words: list[str]) -> bool:
    """``words`` (a name's) end with a key role's "keys" and a form's qualifiers: "unseal_keys_b64" ("b64" reads as
    "b" and a number), "recovery_keys_hex", "signing_keys_base64"."""
    k = words.index("keys")
    return (
        0 < k < len(words) - 1
        and words[k - 1] + "key" in _STRONG_WORDS
        and all(w in _QUALIFIERS or w == "b" for w in words[k + 1 :])
    )


def name_strength(name: str) -> int:
    """How much a field name says about its value: :data:`STRONG` (``password``, ``client_secret``,
    ``accessToken``, ``secret_access_key``: the value is a credential), :data:`WEAK` (``session``, ``sid``,
    ``auth``, ``prompt_tokens``: the value decides) or :data:`NOT_SECRET_NAME` (``token_fp``, ``token_type``,
    ``session_reuses``, ``chpasswd``, ``SessionTracker``)."""
    if len(name) <= _CACHED_NAME_MAX:
        return _name_strength_cached(name)
    return _name_strength(name)


#: What stands before a sudoers rule's tag ("PASSWD:", "NOPASSWD:"): its Runas list's ")", another tag ("NOEXEC:"),
#: the comma between two commands ("(ALL) NOPASSWD: /bin/ls, PASSWD: /bin/rm")
_SUDOERS_BEFORE_TAG: Final = _regex.compile(r"(?:\)|[A-Z_]{4,}+:|,)[ \t]*+\Z")


def sudoers_tag(s: str, start: int) -> bool:
    """Whether ``s[start:]`` is a sudoers rule's tag in capitals, "PASSWD:" or "NOPASSWD:", where a rule has its tags
    (after :data:`_SUDOERS_BEFORE_TAG`): it says whether sudo asks for a password, it names none."""
    tag = "PASSWD:" if s.startswith("PASSWD:", start) else "NOPASSWD:" if s.startswith("NOPASSWD:", start) else None
    return tag is not None and _SUDOERS_BEFORE_TAG.search(s, max(0, start - 64), start) is not None


def is_benign_name(name: str) -> bool:
    """Whether a name that contains a secret stem holds no secret (``token_fp``, ``token_type``, ``expires_in``,
    ``session_count``, ``session_reuses``, ``chpasswd``...)."""
    return name_strength(name) == NOT_SECRET_NAME


# -- which values are credentials ------------------------------------------------------------------------------
# Never a credential, whatever the name: nothing, placeholders, paths, plain words, Java object names.
#: the words with which a redactor masks a value ("REDACTED", "[FILTERED]", Spring Security's "[PROTECTED]")
_MASKING_WORDS: Final = "redacted|hidden|masked|filtered|removed|omitted|sensitive|protected"
#: a template's or a shell's expression that a value is made from when the text is rendered or run, never the value:
#: Ruby's "#{password}", a shell's "$(cat /run/secrets/db)", Jinja's and Go's "{{ vault_db_password }}", ERB's
#: "<%= ENV['TOKEN'] %>", Python's "%(db_password)s" and "%s", "${DB_PASSWORD}", HTML-escaped "&lt;YOUR_PASSWORD&gt;"
TEMPLATE_VALUE: Final = _regex.compile(
    r"#\{[^{}\s]++\}|\$\([^()]++\)|\{\{[^{}]++\}\}|<%=?+[^%]++%>|%(?:\([a-z_]{1,32}+\))?[-#0-9.]{0,4}+[sdrifx]"
    r"|\$\{[^{}]*+\}|\$\{\{[^{}]++\}\}|&lt;[^&<>]++&gt;"
)
_PLACEHOLDER_VALUE: Final = _regex.compile(
    r"\*++|[xX#.\-_]{3,}+|<[^<>]*+>|\[[^\[\]]*+\]|\{[^{}]*+\}|\$[A-Za-z_]\w*+"
    rf"|\(?(?:{_MASKING_WORDS}|not set|unset|empty)\)?|{TEMPLATE_VALUE.pattern}"
)
# (a path of one segment only when that is a plain name: "/root", "/tmp"; "/s3cr3t" may be a password)
_PATH_VALUE: Final = _regex.compile(
    r"(?:~|\.{1,2})?(?:/[\w.\-@+]*+){2,}+|/[a-z_\-.]*+|(?:~|\.{1,2})/[\w.\-@+]*+|[A-Za-z]:\\[\w.\\\- ]*+"
)
#: a namespaced object's name: lower-case DNS labels joined by "/" ("default/registry-credentials", a Kubernetes
#: Secret a controller logs under "secret"; "vault/approle-prod"): a reference, no credential
_NAMESPACED_NAME: Final = _regex.compile(
    r"[a-z]{2}+[a-z0-9]*+(?:-[a-z0-9]++)*+(?:/[a-z]{2}+[a-z0-9]*+(?:-[a-z0-9]++)*+)++"
)
#: an Amazon Resource Name: the name of a policy, a role, a secret ("arn:aws:secretsmanager:...:secret:prod/db-AbCdEf"),
#: never the secret itself
_ARN_VALUE: Final = _regex.compile(r"arn:aws(?:-[a-z]++)*+:[a-z0-9\-]++:[a-z0-9\-]*+:(?:[0-9]{12}|aws)?+:\S++")
#: an English contraction or possessive ending a word ("caller's", "don't", "we'll"): prose
CONTRACTION_SUFFIX: Final = r"'(?:s|t|d|m|re|ve|ll)\b"
_CONTRACTION: Final = _regex.compile("[a-z]" + CONTRACTION_SUFFIX)
_WORD_VALUE: Final = _regex.compile(
    r"[A-Za-z][a-z]*+(?:'[a-z]{1,2}+)?+(?: [A-Za-z][a-z]*+(?:'[a-z]{1,2}+)?+)*+|[A-Z]++(?:[ _][A-Z]++)*+"
)
_QUALIFIED_OBJECT: Final = _regex.compile(r"[A-Za-z_$][\w$]*+(?:\.[A-Za-z_$][\w$]*+)++@[0-9a-fA-F]{1,16}+")
#: a lowerCamelCase name of words of two letters, then three or more: a method's name ("processCaptureRequest",
#: "onPlaybackStateChanged"); a random value of letters is seldom one (a digit or a capital run breaks it)
LOWER_CAMEL_WORDS: Final = r"[a-z]{2,}+(?:[A-Z][a-z]{2,}+)++"
# Not a credential under a weak name (session, sid, auth, *_tokens): numbers, counters, N_N ids, short hex,
# durations, addresses, Class@hash, hyphenated words, values shorter than 8 characters.
_WEAK_NOT_CREDENTIAL: Final = _regex.compile(
    r"[-+]?[0-9][0-9.,:_/\-]*+[.,;:]?|(?:0[xX])?[0-9a-fA-F]{1,16}+|[0-9.]++(?:ns|us|µs|ms|s|m|h|d|[kKMGT]i?B)"
    r"|[A-Za-z_$][\w$.]*+@[0-9a-fA-F]{1,16}+|[A-Za-z]++(?:[-_ ][A-Za-z]++)++"
    r"|[a-z][a-z0-9_\-]*+(?:\.[a-z][a-z0-9_\-]*+){2,}+(?:/[0-9]++)?"  # reverse-DNS names: com.apple.xpc.activity
    r"|S-1-[0-9]++(?:-[0-9]++)++"  # a Windows security identifier (a user's or group's SID): S-1-5-21-...-1013
    r"|[A-Z]{2}[0-9a-f]{32}"  # a Twilio resource SID (AccountSid AC..., MessageSid SM...): two capitals, 32 hex
    # an address, "local@host" (session 37): a SIP Call-ID (Asterisk's security log "SessionID=\"17a483d-eb8cc0@
    # 1.2.3.4\""), a Message-ID, a mailbox; a session's token holds no "@" and a dotted host after it ("user:pass@
    # host" is no address: the part before "@" holds no ":")
    r"|[^\s@:\"'<>]++@(?:[A-Za-z0-9\-]++\.)++[A-Za-z0-9\-]++(?::[0-9]++)?"
    r"|(?:[A-Z][a-z]{2,}+){2,}+"  # a CamelCase name of words: a method, a status ("GetToken", "BadAuthentication")
    # a lowerCamelCase name of words: a method ("MediaSession: onPlaybackStateChanged")
    r"|" + LOWER_CAMEL_WORDS
)
_WEAK_MIN_LEN: Final = 8


#: a value another redactor already masked: asterisks or x's, a masking word, bare or bracketed ("***", "xxxx",
#: Azure SDK's "'Authorization': 'REDACTED'", Rails' "[FILTERED]", kubectl's "<masked>", Spring Security's
#: "Credentials=[PROTECTED]", "(hidden)")
MASKED_VALUE: Final = _regex.compile(rf"\*{{3,}}+|[xX]{{3,}}+|[\[(<{{]?+(?i:{_MASKING_WORDS})[\])>}}]?+")


#: A URL's password another program masked (SQLAlchemy's "app:***@", kombu's "guest:**@", celery's "********") or a
#: template's ("${DB_PASSWORD}", "<password>"): narrower than :func:`is_placeholder` ("$ecretPass" is a password)
_MASKED_URL_PASSWORD: Final = _regex.compile(rf"\*++|{MASKED_VALUE.pattern}|<[^<>@]*+>|{TEMPLATE_VALUE.pattern}")


def masked_url_password(password: str) -> bool:
    """Whether a URL's password is a mask or a template's placeholder (:data:`_MASKED_URL_PASSWORD`), or a fixed
    word a service documents in place of one (:data:`URL_PASSWORD_LITERALS`): no password."""
    return _MASKED_URL_PASSWORD.fullmatch(password) is not None or password in URL_PASSWORD_LITERALS


def is_placeholder(value: str) -> bool:
    """Whether ``value`` holds nothing: empty, a JSON/Python literal, ``***``, ``<hidden>``, ``%s``, ``${TOKEN}``..."""
    v = value.strip()
    return not v or v.lower() in EMPTY_VALUES or _PLACEHOLDER_VALUE.fullmatch(v) is not None


#: One word after a strong name that states something rather than being a password ("token: expired",
#: "password: required"); any other single word is a credential there (``password=hunter``, ``secret=foobar``).
_STATE_WORDS: Final = frozenset(
    "required invalid expired missing changed updated accepted rejected failed ok set unset present absent hidden "
    "redacted masked empty provided supplied valid incorrect wrong mismatch unknown default disabled enabled "
    "reset revoked refreshed issued generated rotated removed deleted created saved stored verified denied "
    "error errors mismatched optional "
    # a yes or a no: MySQL's and MariaDB's "Access denied for user 'root'@'localhost' (using password: YES)" (error
    # 1045, "NO" when none was given), YAML's booleans ("password_auth: yes")
    "yes no "
    # PAM's module types: "pam_unix(passwd:chauthtok)", "pam_unix(gdm-password:session)"
    "auth account session password chauthtok".split()
)


#: Words of prose (articles, prepositions, auxiliaries, quantifiers): a phrase holding one is a message, not a
#: passphrase (:func:`_passphrase`)
_PROSE_WORDS: Final = frozenset(
    "the and for from with not are was were been being has have had does did can cannot could should would will "
    "must may might this that these those its all any some each every too very than then there here but only "
    "also just still yet now into onto over under after before when while please you your our their".split()
)

#: words of prose shorter than three letters, and "via": never a password alone
_SHORT_PROSE_WORDS: Final = frozenset("a an as at by in is it of on or to via".split())


def prose_word(word: str) -> bool:
    """Whether ``word`` is a word of prose (:data:`_PROSE_WORDS`, :data:`_SHORT_PROSE_WORDS`): "from" in Postfix's
    "lost connection after AUTH from unknown[192.0.2.23]" is no user name of Redis's "AUTH user x"."""
    low = word.lower()
    return low in _PROSE_WORDS or low in _SHORT_PROSE_WORDS


#: A digest's name and "of" before a secret's name (lower-cased text; searched up to the name with ``endpos``):
#: Dovecot's "(SHA1 of given password: f638ff)" (``auth_verbose_passwords=sha1:6``), "hash of the token: 9f2c...".
#: The value is a digest of the secret, as under ``password_hash`` (session 37).
DIGEST_OF: Final = _regex.compile(
    r"(?<![a-z0-9])(?:sha-?+[0-9]*+|md5|hash|digest|checksum|fingerprint|hmac)[ ]of[ ](?:[a-z']{1,16}+[ ]){0,2}+$"
)


def _passphrase(v: str) -> bool:
    """A phrase that is a passphrase rather than a message (``password: "correct horse battery staple"``, a
    wpa_supplicant ``psk="..."``): three words or more, all lower case, each of three letters or more, none a
    word of prose (:data:`_PROSE_WORDS`) nor a state (:data:`_STATE_WORDS`: ``reset link sent`` is a message)."""
    words = v.split(" ")
    return (
        len(words) >= 3
        and v.islower()
        and all(len(w) >= 3 and w not in _PROSE_WORDS and w not in _STATE_WORDS for w in words)
    )


def _not_a_password_word(v: str, passphrase: bool = True) -> bool:
    """A plain-word value after a strong name that is not a credential: a phrase (``passwd: all authentication
    tokens updated``) but a passphrase (:func:`_passphrase`), a constant's name (``SECRET_KEY``), a word with an
    English contraction or possessive (``caller's``: prose), a word stating
    something (``token: expired``), or a capitalised secret word, a type's name (``token=Token{a64f992``);
    ``password: secret`` is a password. ``passphrase``: a phrase may be one (a quoted value; not the words after
    a bare one, judged as a phrase to tell prose)."""
    if " " in v:
        return not (passphrase and _passphrase(v))
    if "_" in v or _CONTRACTION.search(v):
        return True  # a constant's name; prose ("getAuthToken: caller's uid 10045")
    low = v.lower()
    if low in _STATE_WORDS or low in _PROSE_WORDS or low in _SHORT_PROSE_WORDS:
        return True  # a state; a word of prose ("WARNING! Using --password via the CLI is insecure", Docker's)
    return v[0].isupper() and (low in _STRONG_WORDS or low in _WEAK_WORDS or low in _GLUED_STRONG)


def is_credential_value(value: str, strength: int, passphrase: bool = True) -> bool:
    """Whether ``value`` (of a field whose name has ``strength``) may be a credential. Whatever the name: not
    empty, a JSON/Python literal, a placeholder (``***``, ``<hidden>``, ``%s``, ``${DB_PASSWORD}``), a path
    (``PWD=/home/ubuntu``), a qualified Java object (``com.x.Token@1a2b``), a namespaced name
    (``default/registry-credentials``); a plain word or phrase
    (``Already running``) under a weak name, under a strong one only what :func:`_not_a_password_word` says (a
    single word there is a password: ``password=hunter``). Under a weak name also not a number (``-50``,
    ``0,``), an id of numbers (``30546173_4261722401``), short hex (``0x34ede65503f0039``), ``Class@hash``,
    hyphenated words, dotted lower-case names (``com.apple.xpc.activity``), nor anything shorter than 8 characters.
    ``passphrase=False``: a phrase is never a passphrase (:func:`_passphrase`; the words after a bare value)."""
    v = value.strip()
    if not v or v.lower() in EMPTY_VALUES:
        return False
    if (
        _PATH_VALUE.fullmatch(v)
        or _PLACEHOLDER_VALUE.fullmatch(v)
        or _QUALIFIED_OBJECT.fullmatch(v)
        or _NAMESPACED_NAME.fullmatch(v)
        or MASKED_VALUE.fullmatch(v)
        or _ARN_VALUE.fullmatch(v)
    ):
        return False
    if _WORD_VALUE.fullmatch(v) and (strength < STRONG or _not_a_password_word(v, passphrase)):
        return False
    if strength >= STRONG:
        return True
    return len(v) >= _WEAK_MIN_LEN and _WEAK_NOT_CREDENTIAL.fullmatch(v) is None


# Query strings and URL fragments, raw or percent-encoded ("?", "&", "#", ";" as %3F, %26, %23, %3B; "=" as
# %3D), HTML-escaped (&amp;). Runs on the lower-cased text.
_QUERY_NAMES: Final = (
    r"(?:access_token|id_token|refresh_token|subject_token|actor_token|device_code|user_code|code|"
    r"client_secret|client_assertion|assertion|token|api_key|apikey|key|subscription-key|password|passwd|pwd|secret|"
    r"session|sessionid|session_id|jsessionid|phpsessid|sig|signature|jwt|auth|state_token|x-amz-security-token|"
    r"x-amz-signature|x-goog-signature|"
    # OAuth 1's access token and its secret (RFC 5849; also percent-encoded in oauthlib's DEBUG "signature base
    # string: GET&...%26oauth_token%3D...")
    r"oauth_token|oauth_token_secret|"
    # what redeems or stands for a grant: the verifiers (_VERIFIER_ROLES), a SAML response posted to the service
    # provider (a signed assertion: a bearer credential while it is valid), a CAS ticket (QUERY_SHAPES)
    + "|".join(f"{role}_verifier" for role in _VERIFIER_ROLES)
    + "|samlresponse|"
    + "|".join(_CAS_TICKET_NAMES)
    + "|"
    # one-time codes and PINs (QUERY_SHAPES)
    + "|".join(_ONE_TIME_CODES)
    + ")"
)
#: Query parameters whose value is a credential only when it has a credential's shape (the scrubber keeps any other)
QUERY_SHAPES: Final = {**dict.fromkeys(_ONE_TIME_CODES, one_time_code), **dict.fromkeys(_CAS_TICKET_NAMES, cas_ticket)}
#: Words one of which every match of a name of _QUERY_NAMES contains (the name and its "=" or "%3d"): the query
#: detector runs only on text holding one (``tests/redact/test_precision.py`` checks the list against the names).
QUERY_WORDS: Final = (
    "token",
    "code",
    "secret",
    "assertion",
    "key",
    "pass",
    "pwd",
    "sess",
    "sig",
    "jwt",
    "auth",
    "saml",
    "ticket",
    "pgt",
    # (the short names with their "=": "pin" alone is in "mapping", "ping", "shipping")
    "otp=",
    "otp%3d",
    "otp%253d",
    "pin=",
    "pin%3d",
    "pin%253d",
)
# (greedy, not possessive: the two alternatives never match the same text, so there is nothing to backtrack
# into - and Python 3.11.0-3.11.4's possessive repeat let the lookahead fail open: "abc%26y" was read whole)
_QUERY_VALUE: Final = rf"(?P<value>(?:[^&#\s\"'<>%\\\[\]]|%(?!(?:25)?+(?:26|23|3b))[0-9a-f]{{2}}|{_VALUE_ESC_LOW})+)"
QUERY_PARAM: Final = _regex.compile(
    # (one character class first: the engine then skips to candidate positions; an alternation that starts with a
    # class makes it try every position, 2.5 us on a 290-character line)
    r"[?&#;%\\](?:(?<=[?&#;])|(?<=%)(?:25)?+(?:3f|26|23|3b)|(?<=\\)u00(?:26|3f|23))(?:amp;)?(?P<name>"
    + _QUERY_NAMES
    + r")(?:=|%(?:25)?+3d)"
    + _QUERY_VALUE
)
# An OAuth code in a form body outside a query string ("code=...&state=..." at the start of a value, after a
# space or quote). A value of digits only (an exit or status code) is kept by the caller.
FORM_CODE: Final = _regex.compile(
    rf"code(?:(?<![^\s\"'(]code)|(?<=device_code)|(?<=user_code)|(?<={CONTROL_ESCAPE}code))(?:=|%3d)" + _QUERY_VALUE
)

# The same code as a quoted name's quoted value, in a dict's repr or a JSON object: requests-oauthlib's DEBUG
# "Supplying headers {...} and data {'grant_type': 'authorization_code', 'code': '...', ...}", a token request's
# body logged as JSON (also inside a JSON string: {\"code\": \"...\"}). There "code" names exit, error and
# language codes too: the value is a code only in an authorization code's shape (:func:`oauth_code`). Runs on the
# lower-cased text.
#: An authorization code as issuers make them: 16 characters or more of base64url, base64 or hex, with "." or "-"
#: between parts (Keycloak, Cognito), a digit and a letter in it ...
_OAUTH_CODE_RUN: Final = r"[A-Za-z0-9_.~+/=\-]{16,512}+"
_OAUTH_CODE: Final = _regex.compile(r"(?=[^0-9]*+[0-9])(?=[^A-Za-z]*+[A-Za-z])" + _OAUTH_CODE_RUN)
DICT_CODE: Final = _regex.compile(
    r"""(?P<q>["'])code\\?+(?P=q)[ \t]*+:[ \t]*+\\?+(?P<vq>["'])(?P<value>"""
    + _OAUTH_CODE_RUN.replace("A-Za-z", "a-z")
    + r""")\\?+(?P=vq)"""
)
#: ... and not words (a number may end one) or numbers joined by "_", "-" or "." in one case: error codes
#: ("E_AUTH_0001_INVALID_TOKEN", "ERR_HTTP2_STREAM_ERROR", "invalid_grant_2", "auth.error.token-expired-401"), nor
#: a number in hex ("0x8007000500000000")
_CODE_WORDS: Final = _regex.compile(
    r"(?:[A-Z]++[0-9]*+|[0-9]++)(?:[_.\-](?:[A-Z]++[0-9]*+|[0-9]++))++"
    r"|(?:[a-z]++[0-9]*+|[0-9]++)(?:[_.\-](?:[a-z]++[0-9]*+|[0-9]++))++|0[xX][0-9A-Fa-f]++"
)


def oauth_code(value: str) -> bool:
    """Whether a value named ``code`` in a dict or JSON object has an OAuth authorization code's shape
    (:data:`DICT_CODE`): "NHJpOwq4cGj0BqbJ", a UUID, 20 hex digits; not "ECONNREFUSED", "E11000",
    "InvalidClientTokenId", "ERR_HTTP2_STREAM_ERROR"."""
    return _OAUTH_CODE.fullmatch(value) is not None and _CODE_WORDS.fullmatch(value) is None


# Userinfo passwords in URLs: scheme://user:password@host (runs on the original text).
# (also after "netloc='" / 'netloc="': the repr of urllib.parse's SplitResult and ParseResult)
# A password may hold an "@" that was not percent-encoded ("mongodb+srv://app:bria@pass135!@cluster0..."): the
# userinfo ends at the last "@" before the host (greedy over "@"-separated parts, each without "@": linear); a part
# after an "@" holds no "," (a multi-host URL's next "host:port,user:..." is no password)
URL_USERINFO: Final = _regex.compile(
    r"(?P<lead>://|netloc=['\"])(?P<user>[^\s/:@\"'<>]*+):(?P<password>[^\s/@\"'<>]++(?:@[^\s/@\"'<>,]++)*)@"
)

# A YAML block scalar as a field's value (session 35: "password: |", "|-", "|2", ">-", ">+", a Kubernetes Secret's
# "stringData:" entry, "helm get values"): the header "|" or ">" (an optional chomping indicator and indentation
# digit, either order; blanks or a comment after it) ends its line, and the value is the lines below indented more
# than the key. The header alone is no value (it was redacted as the password, and the password on the next line
# kept). Found from the ":" before the header (a literal first); the key is read back from there (name_before).
YAML_BLOCK_HEADER: Final = _regex.compile(
    r":[ \t]++(?P<header>[|>](?:[1-9][+\-]?+|[+\-][1-9]?+)?+)[ \t]*+(?:#[^\r\n]*+)?+(?=\r?\n|\Z)"
)
#: one line of a block: its indentation, its text, its end
_YAML_BLOCK_LINE: Final = _regex.compile(r"(?P<indent>[ \t]*+)(?P<body>[^\r\n]*+)(?:\r?\n)?+")


def yaml_block(text: str, key_start: int, after: int) -> tuple[int, int, str] | None:
    """The value of a YAML block scalar whose key starts at ``text[key_start]`` and whose header line ends at
    ``after`` (:data:`YAML_BLOCK_HEADER`): the span from its first line's text to its last line's end, and the value
    (its lines without their indentation, joined by newlines); None when no line below is indented more than the key
    (an empty block). Blank lines inside are the block's; the first line indented as much as the key or less ends
    it. Each line is read once."""
    if text[after : after + 1] == "\r":
        after += 1
    if text[after : after + 1] != "\n":
        return None
    column = key_start - (text.rfind("\n", 0, key_start) + 1)
    pos, first, last = after + 1, -1, -1
    lines: list[str] = []
    while pos < len(text):
        m = _YAML_BLOCK_LINE.match(text, pos)
        if m is None or m.end() == pos:
            break
        if m.group("body"):
            if len(m.group("indent")) <= column:
                break
            if first < 0:
                first = m.start("body")
            last = m.end("body")
            lines.append(m.group("body"))
        pos = m.end()
    if first < 0:
        return None
    return first, last, "\n".join(lines)


#: The password some services document as a fixed word beside a token given as the URL's user: GitHub's
#: "https://<token>:x-oauth-basic@github.com" (no secret: the same for everyone; kept, the token redacted)
URL_PASSWORD_LITERALS: Final = frozenset({"x-oauth-basic"})

# A token given as a URL's user (session 35): GitHub's "https://<token>:x-oauth-basic@github.com" and
# "https://<token>@github.com", any "https://<opaque>@host". The user is a bounded run of a token's characters, after
# "://", up to an optional ":password" (URL_USERINFO's class) and the "@"; whether it is a credential is decided by
# url_user_credential (a user name, "git@", "alice@", "ec2-user@", a Sentry DSN's public key, is kept).
URL_USER: Final = _regex.compile(r"(?P<lead>://|netloc=['\"])(?P<user>[A-Za-z0-9_\-.~]{20,256}+)(?::[^\s/@\"'<>]*+)?@")
#: What a user that is a token looks like: a random run of 20 characters or more mixing upper and lower case letters
#: and digits (base64url, an opaque token), or 40 hex digits or more (GitHub's classic OAuth tokens; a Sentry DSN's 32
#: hex public key is no secret). A word-like user ("deploy-bot-2019", "john.doe") has no upper case or is no hex.
_URL_USER_TOKEN: Final = _regex.compile(
    r"(?=[^A-Z]*+[A-Z])(?=[^a-z]*+[a-z])(?=[^0-9]*+[0-9])[A-Za-z0-9_\-.~]{20,}+|[0-9a-fA-F]{40,}+"
)


def url_user_credential(user: str) -> bool:
    """Whether a URL's user (:data:`URL_USER`) is a token (:data:`_URL_USER_TOKEN`), not a user name."""
    return _URL_USER_TOKEN.fullmatch(user) is not None and not is_placeholder(user)


#: The "://" of a URL written with value escapes (:data:`VALUE_ESCAPES`): PHP's JSON, a percent-encoded query value
ESCAPED_URL_LEAD: Final = _regex.compile(r":(?:\\/|\\u002[Ff]){2}|%3[Aa]%2[Ff]%2[Ff]")
_ESCAPED_URL_LEAD_SEARCH: Final = ESCAPED_URL_LEAD.search


def escaped_url_lead(text: str) -> bool:
    """Whether ``text`` holds an :data:`ESCAPED_URL_LEAD` (substring checks first: most text holds none)."""
    return (":\\" in text or "2F%2" in text or "2f%2" in text) and _ESCAPED_URL_LEAD_SEARCH(text) is not None


# The data source name of Go's MySQL driver (go-sql-driver/mysql, also GORM's and sqlx's): "user:password@tcp(host:
# 3306)/db", "user:password@unix(/run/mysqld.sock)/db": a URL's userinfo without a scheme, before the network's name and
# its address in parentheses. Found from "@tcp(", "@unix("... (GO_DSN_NET); the user starts a word.
GO_DSN_NET: Final = _regex.compile(r"@(?:tcp6?|udp|unix)\(")
GO_DSN: Final = _regex.compile(
    r"""(?<![^\s"'=(\[,;])(?P<user>[^\s/:@"'<>()\[\]]*+):(?P<password>[^\s/@"'<>]++)@(?:tcp6?|udp|unix)\("""
)

# Credential files as text. netrc (curl, git, ftp, Python's netrc and requests read ~/.netrc): "machine <host> login
# <user> [account <a>] password <secret>", on one line or over lines, or "default" for any host (the login required: a
# sentence such as "the default password is ..." holds no netrc entry); run on the lower-cased
# text (values stop at "<": the scanner's batches join lines by "\n<\n", so no match reads across them; and at a
# quote or backslash: the end of a JSON string or an escape).
_NETRC_SEP: Final = r"(?:[ \t\r\n]|\\[nrt])++"  # (blanks and line breaks, raw or escaped: a JSON string)
_NETRC_TOKEN: Final = r"""[^\s<"'\\]++"""
NETRC: Final = _regex.compile(
    f"(?:machine{_word_start('machine')}{_NETRC_SEP}{_NETRC_TOKEN}|default{_word_start('default')})"
    f"{_NETRC_SEP}login{_NETRC_SEP}{_NETRC_TOKEN}(?:{_NETRC_SEP}(?:account|port){_NETRC_SEP}{_NETRC_TOKEN}){{0,2}}+"
    f"{_NETRC_SEP}password{_NETRC_SEP}(?P<value>{_NETRC_TOKEN})"
)
# PostgreSQL's password file (~/.pgpass, PGPASSFILE): "host:port:database:user:password", a value of its own (a line of
# the file, an environment variable's value). The host holds a letter or is an IPv4 address (no IPv6 or MAC address:
# "fe80:0:0:0:c6b3", "5c:50:15:4c:18:13" start with no host), the port is digits or "*", database and user are names,
# the password at least 8 characters up to a blank or a quote.
PGPASS: Final = _regex.compile(
    r"""(?<![^\s"'=(\[,;])(?:(?=[A-Za-z0-9_.\-]*?[A-Za-z])[A-Za-z0-9_.\-]++|[0-9]{1,3}+(?:\.[0-9]{1,3}+){3})"""
    r""":(?:[0-9]{1,5}+|\*):"""
    r"""[A-Za-z_*][\w\-.*]{0,63}+:[A-Za-z_*][\w\-.*]{0,63}+:(?P<value>[^\s:"'<]{8,}+)(?=[\s"']|\Z)"""
)
#: What every :data:`PGPASS` match holds (a literal start: the gates' and the scanner's search for it)
PGPASS_HINT: Final = r":(?:[0-9]{1,5}|\*):[A-Za-z_*][\w\-.*]{0,63}:[A-Za-z_*][\w\-.*]{0,63}:[^\s:]"
#: The same for Hyperscan, looser (no bound on the names: an automaton runs bounded repeats slower)
PGPASS_HINT_HS: Final = r":(?:[0-9]{1,5}|\*):[A-Za-z_*][\w\-.*]*:[A-Za-z_*][\w\-.*]*:[^\s:]"
_PGPASS_HINT_SEARCH: Final = _regex.compile(PGPASS_HINT).search


def pgpass_hint(text: str) -> bool:
    """Whether ``text`` may hold a :data:`PGPASS` line (one search with a literal start)."""
    return _PGPASS_HINT_SEARCH(text) is not None


# -- vendor-prefixed credentials ---------------------------------------------------------------------------------
#: A key that is a UUID after its vendor's prefix (lower-case hex, as the vendors issue them)
_UUID_KEY: Final = r"[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}(?![A-Za-z0-9])"
#: AWS access key ids (a line that holds one may hold its secret access key without a name: see AWS_SECRET_RUN)
AWS_KEY_ID_PREFIXES: Final = ("AKIA", "ASIA", "ABIA", "ACCA")
_AWS_KEY_ID_BODY: Final = r"[A-Z2-7]{16}(?![A-Za-z0-9])"
#: The base64 of a Docker configuration's start ('{"auths":', '{\n\t"auths": {', '{\n  "auths": {', '{\n    "auths":
#: {'), cut where the encoding of what follows does not depend on the next characters
DOCKER_CONFIG_B64: Final = ("eyJhdXRocyI6", "ewoJImF1dGhzIjog", "ewogICJhdXRocyI6", "ewogICAgImF1dGhzIjog")
# Token shapes of gitleaks' and trufflehog's rules: a fixed prefix, then the key's own alphabet and length. They
# run on the original text (case matters), at the start of a word.
_VENDOR_SHAPES: Final = (
    # (prefixes, body after the prefix)
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"[A-Za-z0-9]{36,251}+"),  # GitHub
    (("github_pat_",), r"[A-Za-z0-9_]{22,244}+"),  # GitHub fine-grained
    (("glpat-", "glptt-", "glrt-", "gldt-", "glsoat-"), r"[A-Za-z0-9_\-.]{20,255}+"),  # GitLab
    (
        ("xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxo-", "xoxe-", "xoxe.xoxp-", "xoxe.xoxb-", "xoxc-"),
        r"[A-Za-z0-9\-]{10,255}+",
    ),
    # (Slack's browser session: the "d" cookie's "xoxd-" value, percent-encoded, which goes with an "xoxc-" token)
    (("xoxd-",), r"[A-Za-z0-9%/+=_\-]{40,512}+"),
    (
        ("hooks.slack.com/services/", "hooks.slack.com/workflows/", "hooks.slack.com/triggers/"),
        r"[A-Za-z0-9_/+\-]{20,255}+",
    ),
    (("sk_live_", "rk_live_", "sk_test_", "rk_test_", "sk_prod_", "rk_prod_"), r"[A-Za-z0-9]{10,247}+"),  # Stripe
    (("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-None-"), r"[A-Za-z0-9_\-]{20,255}+"),  # OpenAI
    (("sk-ant-api03-", "sk-ant-admin01-", "sk-ant-oat01-", "sk-ant-ort01-"), r"[A-Za-z0-9_\-]{32,255}+"),  # Anthropic
    # OpenAI's legacy keys (and gitleaks' openai-api-key): 20 characters, "T3BlbkFJ" (base64 of "OpenAI"), 20 more
    (("sk-",), r"[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}(?![A-Za-z0-9])"),
    (("AIza",), r"[A-Za-z0-9_\-]{35}(?![A-Za-z0-9_\-])"),  # Google API key
    (AWS_KEY_ID_PREFIXES, _AWS_KEY_ID_BODY),  # AWS access key id
    (("npm_",), r"[A-Za-z0-9]{36}(?![A-Za-z0-9])"),  # npm
    (("pypi-AgEIcHlwaS5vcmc", "pypi-AgENdGVzdC5weXBpLm9yZw"), r"[A-Za-z0-9_\-]{50,255}+"),  # PyPI, TestPyPI
    (("hf_", "api_org_"), r"[A-Za-z0-9]{34}(?![A-Za-z0-9])"),  # Hugging Face
    (("SG.",), r"[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-])"),  # SendGrid
    (("SWMTKN-1-",), r"[a-z0-9]{50}-[a-z0-9]{25}(?![a-z0-9])"),  # Docker Swarm join token
    (("dop_v1_", "doo_v1_", "dor_v1_"), r"[a-f0-9]{64}(?![a-f0-9])"),  # DigitalOcean
    (("shpat_", "shpca_", "shppa_", "shpss_"), r"[a-fA-F0-9]{32}(?![a-fA-F0-9])"),  # Shopify
    (("glsa_",), r"[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}(?![A-Fa-f0-9])"),  # Grafana service account
    (("dckr_pat_",), r"[A-Za-z0-9_\-]{27,255}+"),  # Docker Hub personal access token
    (("discord.com/api/webhooks/", "discordapp.com/api/webhooks/"), r"[0-9]{17,20}/[A-Za-z0-9_\-]{60,255}+"),  # Discord
    (("AccountKey",), r"=[A-Za-z0-9+/]{86}=="),  # Azure storage account key (64 bytes) in a connection string
    (("SharedAccessKey",), r"=[A-Za-z0-9+/]{43}="),  # Azure Service Bus / Event Hubs key (32 bytes)
    # -- more of gitleaks' default rules and trufflehog's detectors whose anchor is a fixed prefix (issue 13) -----
    # Left out: keyword-proximity rules; shapes anchored in the middle or at the end, which this model (a prefix at
    # the start of a word, then the body) does not hold (Azure AD client secrets "...8Q~..." are found apart:
    # INFIX_ANCHORS): Terraform "<14>.atlasv1.<60>", Mailchimp "<32 hex>-us12", Telegram tokens outside the API
    # URL, MaxMind "..._mmk".
    # Prefixes too common for the searches that run on every logged string (processors: VENDOR_PREFIX_SEARCH,
    # GATE_SEARCH; each occurrence of a prefix's rarest character is checked): Twilio "SK" + 32 hex, Vault's old
    # "s.", Octopus "API-", Square "EAAA", Doppler "dp.pt."/"dp.st." (no character rarer than "p"), Dynatrace
    # "dt0c01.", Pulumi "pul-", Infracost "ico-". Prefixes whose letters between digits are a common part of words,
    # which would keep the redactors from remembering clean texts by their shape (processors._DIGIT_PREFIX_PARTS):
    # 1Password "A3-" ("a"), Cloudflare origin CA "v1.0-" ("v"), Fly.io "fo1_" ("fo"), OpenShift "sha256~" ("sha"),
    # GitLab "GR1348941" ("gr"), ClickHouse "4b1d" ("b"), Intra42 "s-s4t2ud-" ("s-s"), Adobe "p8e-" ("e-").
    # Databricks "dapi" + 32 hex is all lower-case letters and digits, which the redactors pass without a look
    # (processors._quiet); GitLab "glcbt-" (1-5 characters first) would weaken the scrubber's lookahead for "-".
    (("ops_eyJ",), r"[A-Za-z0-9+/]{250,8192}+={0,3}+"),  # 1Password service account token
    (("AGE-SECRET-KEY-1",), r"[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}(?![A-Za-z0-9])"),  # age (bech32)
    (("AKCp",), r"[A-Za-z0-9]{69}(?![A-Za-z0-9])"),  # Artifactory API key
    (("cmVmd",), r"[A-Za-z0-9]{59}(?![A-Za-z0-9])"),  # Artifactory reference token
    (("ATATT3",), r"[A-Za-z0-9_\-=]{186}(?![A-Za-z0-9_\-=])"),  # Atlassian API token
    (("CLOJARS_",), r"[A-Za-z0-9]{60}(?![A-Za-z0-9])"),  # Clojars
    (("EZAK", "EZTK"), r"[A-Za-z0-9]{54}(?![A-Za-z0-9])"),  # EasyPost
    (("EAAM", "EAAC"), r"[A-Za-z0-9]{100,1024}+"),  # Facebook page access token
    # Flutterwave secret key (32 and "-X") and encryption key (12)
    (("FLWSECK_TEST-", "FLWSECK-"), r"[a-hA-H0-9]{12}(?:[a-hA-H0-9]{20}(?:-X)?)?(?![A-Za-z0-9])"),
    (("fm1a_", "fm1r_", "fm2_"), r"[A-Za-z0-9+/]{100,8192}+={0,3}+"),  # Fly.io macaroon
    (("fio-u-",), r"[A-Za-z0-9_\-=]{64}(?![A-Za-z0-9_\-=])"),  # Frame.io
    (("glc_",), r"[A-Za-z0-9+/]{32,400}+={0,3}+"),  # Grafana Cloud
    (("eyJrIjoi",), r"[A-Za-z0-9]{70,400}+={0,3}+"),  # Grafana API key (base64 JSON, no dots: not a JWS)
    (("glffct-", "glft-"), r"[0-9a-zA-Z_\-]{20}(?![0-9a-zA-Z_\-])"),  # GitLab feature flag client, feed
    (("glimt-",), r"[0-9a-zA-Z_\-]{25}(?![0-9a-zA-Z_\-])"),  # GitLab incoming mail
    (("glagent-",), r"[0-9a-zA-Z_\-]{50}(?![0-9a-zA-Z_\-])"),  # GitLab Kubernetes agent
    (("gloas-",), r"[0-9a-zA-Z_\-]{64}(?![0-9a-zA-Z_\-])"),  # GitLab OAuth application secret
    (("hvs.",), r"[A-Za-z0-9_\-]{90,120}+(?![A-Za-z0-9_\-])"),  # HashiCorp Vault service token
    (("hvb.",), r"[A-Za-z0-9_\-]{138,300}+(?![A-Za-z0-9_\-])"),  # HashiCorp Vault batch token
    (("HRKU-AA",), r"[A-Za-z0-9_\-]{58}(?![A-Za-z0-9_\-])"),  # Heroku
    (("lin_api_",), r"[A-Za-z0-9]{40}(?![A-Za-z0-9])"),  # Linear
    (("NRAK-",), r"[A-Za-z0-9]{27}(?![A-Za-z0-9])"),  # New Relic user API key
    (("NRII-",), r"[A-Za-z0-9\-]{32}(?![A-Za-z0-9\-])"),  # New Relic insert key
    (("ntn_",), r"[0-9]{11}[A-Za-z0-9]{35}(?![A-Za-z0-9])"),  # Notion
    (("pscale_tkn_", "pscale_pw_", "pscale_oauth_"), r"[A-Za-z0-9_=.\-]{32,64}+"),  # PlanetScale
    (("PMAK-",), r"[a-fA-F0-9]{24}-[a-fA-F0-9]{34}(?![A-Za-z0-9])"),  # Postman
    (("pnu_",), r"[A-Za-z0-9]{36}(?![A-Za-z0-9])"),  # Prefect
    (("pplx-",), r"[A-Za-z0-9]{48}(?![A-Za-z0-9])"),  # Perplexity
    (("rdme_",), r"[a-z0-9]{70}(?![A-Za-z0-9])"),  # ReadMe
    (("rubygems_",), r"[a-f0-9]{48}(?![A-Za-z0-9])"),  # RubyGems
    (("tk-us-",), r"[A-Za-z0-9_\-]{48}(?![A-Za-z0-9_\-])"),  # Scalingo
    (("xkeysib-", "xsmtpsib-"), r"[a-f0-9]{64}-[A-Za-z0-9]{16}(?![A-Za-z0-9])"),  # Sendinblue / Brevo
    (("sntryu_",), r"[a-f0-9]{64}(?![A-Za-z0-9])"),  # Sentry user token
    (("sntrys_",), r"eyJ[A-Za-z0-9+/]{20,1024}+={0,2}+_[A-Za-z0-9+/]{43}(?![A-Za-z0-9+/])"),  # Sentry org token
    (("sm_aat_", "sm_pat_", "sm_sat_"), r"[A-Za-z0-9]{16}(?![A-Za-z0-9])"),  # SettleMint
    (("shippo_live_", "shippo_test_"), r"[a-fA-F0-9]{40}(?![A-Za-z0-9])"),  # Shippo
    (("xapp-1-", "xapp-2-"), r"[A-Za-z0-9]{8,16}+-[0-9]{8,16}+-[a-z0-9]{32,128}+"),  # Slack app-level token
    (("sgp_local_",), r"[a-fA-F0-9]{40}(?![A-Za-z0-9_])"),  # Sourcegraph
    (("sgp_",), r"[a-fA-F0-9]{16}_[a-fA-F0-9]{40}(?![A-Za-z0-9_])"),
    (("sgp_",), r"[a-fA-F0-9]{40}(?![A-Za-z0-9_])"),
    (("sq0atp-", "sq0csp-"), r"[A-Za-z0-9_\-]{22,60}+(?![A-Za-z0-9_\-])"),  # Square
    (("whsec_",), r"[A-Za-z0-9+/]{32,88}+={0,2}+"),  # Stripe / Standard Webhooks signing secret
    (("sbp_",), r"[a-f0-9]{40}(?![A-Za-z0-9])"),  # Supabase
    (("tfp_",), r"[A-Za-z0-9_\-.=]{59}"),  # Typeform
    # Mailgun private API key (32 lower-case hex, a whole word: not after a word character or a hyphen, so a name's
    # last part "lock-key-<md5>", "cache_key-<md5>" is none)
    (("key-",), r"[a-f0-9]{32}(?![A-Za-z0-9])" + _word_start_re("key-[a-f0-9]{32}", r"A-Za-z0-9_\-", GLUE_ESCAPES)),
    (("api.telegram.org/bot",), r"[0-9]{5,16}+:AA[A-Za-z0-9_\-]{33}(?![A-Za-z0-9_\-])"),  # Telegram bot API URL
    (("tskey-",), r"[a-z]{3,10}+-[A-Za-z0-9_]{6,64}+-[A-Za-z0-9_]{16,128}+"),  # Tailscale
    # Google OAuth 2.0 access token (trufflehog's gcpoauth2: "ya29." and 30 or more); the refresh token "1//0..."
    # is left out: its only letters-free fixed part "//" is in every URL (processors._DIGIT_PREFIX_PARTS)
    (("ya29.",), r"[A-Za-z0-9_\-]{30,4096}+"),
    # -- session 21: AI and CI platforms' keys (gitleaks' groq rule, trufflehog's and other scanners' rule sets) ---
    # (HubSpot's and Replicate's, left out then, are session 22's below: HubSpot's prefix search is found from its
    # "p", Replicate's "r8_" is looked for whole by processors._DIGIT_PREFIX_PARTS)
    (("gsk_",), r"[A-Za-z0-9]{52}(?![A-Za-z0-9])"),  # Groq
    (("lsv2_pt_", "lsv2_sk_"), r"[a-f0-9]{32}_[a-f0-9]{10}(?![A-Za-z0-9])"),  # LangSmith
    (("pcsk_",), r"[A-Za-z0-9]{4,8}+_[A-Za-z0-9]{40,100}+(?![A-Za-z0-9])"),  # Pinecone
    (("CCIPAT_", "CCIPRJ_"), r"[A-Za-z0-9]{22}_[a-f0-9]{40}(?![A-Za-z0-9])"),  # CircleCI personal, project token
    (("xai-",), r"[A-Za-z0-9]{80}(?![A-Za-z0-9])"),  # xAI
    # -- session 22: more vendor shapes of gitleaks' and trufflehog's rule sets (and other public scanners') --------
    (("sk-or-v1-",), r"[a-f0-9]{64}(?![A-Za-z0-9])"),  # OpenRouter
    (("sk-lf-",), _UUID_KEY),  # Langfuse secret
    (("sqp_", "squ_", "sqa_"), r"[a-f0-9]{40}(?![A-Za-z0-9])"),  # SonarQube project, user, global analysis token
    (("hcaik_", "hcxik_"), r"[a-z0-9]{58}(?![A-Za-z0-9])"),  # Honeycomb ingest key
    (("xaat-", "xapt-"), _UUID_KEY),  # Axiom
    (("napi_",), r"[a-z0-9]{64}(?![A-Za-z0-9])"),  # Neon
    (("CFPAT-",), r"[A-Za-z0-9_\-]{43}(?![A-Za-z0-9_\-])"),  # Contentful personal access token
    (("ATBB",), r"[A-Za-z0-9_=.\-]{32}(?![A-Za-z0-9_=.\-])"),  # Bitbucket app password
    (("bkua_",), r"[a-f0-9]{40}(?![A-Za-z0-9])"),  # Buildkite
    (("figd_",), r"[A-Za-z0-9_\-]{40}(?![A-Za-z0-9_\-])"),  # Figma personal access token
    (("rnd_",), r"[A-Za-z0-9]{32}(?![A-Za-z0-9])"),  # Render
    (("LTAI",), r"[A-Za-z0-9]{20}(?![A-Za-z0-9])"),  # Alibaba Cloud access key id
    (("pat-na1-", "pat-eu1-"), _UUID_KEY),  # HubSpot
    (("r8_",), r"[A-Za-z0-9]{37}(?![A-Za-z0-9])"),  # Replicate
    # a Docker client configuration in base64 (a Kubernetes Secret's ".dockerconfigjson", "base64 -w0
    # ~/.docker/config.json"): '{"auths":' compact, or as docker login writes it, tab- or blank-indented; its
    # registries' "auth" hold "user:password"
    (DOCKER_CONFIG_B64, r"[A-Za-z0-9+/]{40,65536}+={0,2}+"),
    # -- session 30: Nosey Parker's rules (praetorian-inc/noseyparker) and their examples -------------------------
    # Left out: NuGet "oy2" + 43 (its letters before the digit, "oy", are in "deploy", "employee":
    # processors._DIGIT_PREFIX_PARTS), AWS "A3T" key ids (likewise "a", "t"), Doppler (above)
    (("aio_",), r"[A-Za-z0-9]{28}(?![A-Za-z0-9])"),  # Adafruit IO
    (("odt_",), r"[A-Za-z0-9]{32,255}+(?![A-Za-z0-9])"),  # OWASP Dependency-Track
    (("jina_",), r"[a-f0-9]{32}[A-Za-z0-9]{28}(?![A-Za-z0-9])"),  # Jina AI
    (("tvly-", "tvly-dev-", "tvly-prod-"), r"[A-Za-z0-9]{32}(?![A-Za-z0-9])"),  # Tavily
    (("NRAA-",), r"[a-f0-9]{27}(?![A-Za-z0-9])"),  # New Relic admin API key
    (("NRIQ-",), r"[A-Za-z0-9_\-]{32}(?![A-Za-z0-9_\-])"),  # New Relic insights query key
    (("px-dep-", "px-api-"), _UUID_KEY),  # Pixie deploy and API keys
    (("cio",), r"[A-Za-z0-9]{32}(?![A-Za-z0-9])"),  # crates.io
    (("live_",), r"[0-9]{6,12}+_[A-Za-z0-9]{30}(?![A-Za-z0-9])"),  # Twitch stream key
    # Microsoft Teams incoming webhook URLs (the old host and the tenant's: "<tenant>.webhook.office.com")
    (
        ("outlook.office.com/webhook/", "webhook.office.com/webhookb2/"),
        r"[a-f0-9\-]{36}@[a-f0-9\-]{36}/IncomingWebhook/[A-Za-z0-9]{32}/[a-f0-9\-]{36}(?:/[A-Za-z0-9_\-]{20,255}+)?+",
    ),
)
#: The vendor keys written as a field ("AccountKey=<key>"): the field detectors leave them to the vendor pass, whose
#: marker has the key's kind and the fingerprint of the whole key (the same as its escaped forms').
NAMED_VENDOR_KEYS: Final = _regex.compile(
    "|".join(re.escape(prefix) + body for prefixes, body in _VENDOR_SHAPES for prefix in prefixes if body[0] == "=")
)


def named_vendor_key(text: str) -> bool:
    """``text`` is one of :data:`NAMED_VENDOR_KEYS`, as written or with its value escapes decoded."""
    return NAMED_VENDOR_KEYS.fullmatch(text) is not None or any(
        NAMED_VENDOR_KEYS.fullmatch(view.text) is not None for view in unescaped_views(text)
    )


VENDOR_PREFIXES: Final = tuple(prefix for prefixes, _ in _VENDOR_SHAPES for prefix in prefixes)
#: How a value escape (:data:`VALUE_ESCAPES`) writes the "/" of a prefix ("hooks.slack.com/services/")
_SLASH_SPELLINGS: Final = ("\\/", "\\u002F", "\\u002f", "%2F", "%2f")
#: The vendor prefixes and those holding a "/" written with value escapes ("hooks.slack.com\\/services\\/" in PHP's
#: JSON, "hooks.slack.com%2Fservices%2F" in a query value): what a text holding a key holds however it is written
#: (the searches for a prefix look for these; literals, found from their rarest character).
VENDOR_ROOTS: Final = tuple(
    dict.fromkeys(
        spelling
        for prefix in VENDOR_PREFIXES
        for spelling in (prefix, *(prefix.replace("/", e) for e in _SLASH_SPELLINGS if "/" in prefix))
    )
)
#: A whole vendor-prefixed key (group "prefix", group "key" = what is redacted: the whole key, or the secret
#: path of a Slack webhook).
VENDOR_KEY: Final = _regex.compile(
    _word_start("", "A-Za-z0-9")
    + r"(?P<key>"
    + "|".join("(?:" + "|".join(re.escape(p) for p in prefixes) + ")" + body for prefixes, body in _VENDOR_SHAPES)
    + ")"
)


#: Anchors of keys whose fixed part is inside them, not a prefix (not in :data:`VENDOR_PREFIXES`; found with them by
#: :data:`VENDOR_PREFIX_SEARCH` and the gates): gitleaks' azure-ad-client-secret, 3 characters, a digit, "Q~", then
#: 31-34 characters (:data:`AZURE_AD_SECRET`).
INFIX_ANCHORS: Final = ("Q~",)
#: An Azure AD (Entra ID) client secret, matched from its "Q~" (a lookbehind reads the 4 characters before it, which
#: the key starts with: :data:`AZURE_AD_LEAD`); not inside a longer run of its alphabet.
AZURE_AD_SECRET: Final = _regex.compile(
    rf"Q~(?<=(?:(?<![A-Za-z0-9_~.\-])|(?<={CONTROL_ESCAPE}))[A-Za-z0-9_~.]{{3}}[0-9]Q~)[A-Za-z0-9_~.\-]{{31,34}}+"
    r"(?![A-Za-z0-9_~.\-])"
)
AZURE_AD_LEAD: Final = 4
#: What every such key holds (the scanner's trigger, with :data:`VENDOR_STARTS`).
INFIX_STARTS: Final = (r"[0-9]Q~[A-Za-z0-9_~.\-]{16}",)

#: An AWS access key id, at the start of a word (as :data:`VENDOR_KEY` finds it).
AWS_KEY_ID: Final = _regex.compile(
    "(?:" + "|".join(re.escape(k) + _word_start(k, "A-Za-z0-9") for k in AWS_KEY_ID_PREFIXES) + ")" + _AWS_KEY_ID_BODY
)
#: A run of exactly 40 characters of [A-Za-z0-9+/]: the shape of an AWS secret access key (30 random bytes in
#: base64), which trufflehog's AWS detector pairs with a key id in the same text. Redacted on a line that holds a
#: key id (:func:`aws_secret_runs`).
AWS_SECRET_RUN: Final = _regex.compile(_word_start("", "A-Za-z0-9+/") + r"[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])")
_AWS_NOT_SECRET: Final = _regex.compile(r"[A-Za-z]*+|[^A-Z]*+|[^a-z]*+")
#: A whole run of 40 characters of that alphabet or more (the lookbehind: tried at a run's start only)
_B64_STD_RUN: Final = _regex.compile(r"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40,}+")


def aws_secret_matches(text: str) -> Iterator[re.Match[str]]:
    """``AWS_SECRET_RUN.finditer(text)``, found from the runs of its alphabet: a match ends where its run does (nothing
    of the alphabet after it), so each run of 40 or more characters holds at most one, its last 40. (Session 37: the
    pattern itself, its lookbehinds tried at every character of a base64 run, took ~0.15 ms on a 2.8 KB CloudTrail
    record holding a session token; this ~0.03 ms.)"""
    match = AWS_SECRET_RUN.match
    for run in _B64_STD_RUN.finditer(text):
        m = match(text, run.end() - 40)
        if m is not None:
            yield m


def aws_secret_runs(text: str) -> frozenset[str]:
    """The runs of :data:`AWS_SECRET_RUN` on the lines of ``text`` that hold an AWS access key id (as written, and in
    the line's views with value escapes decoded: :func:`unescaped_views`), but those that cannot be a random secret
    key: without an upper-case letter, a lower-case letter, or a digit, "+" or "/" (hex digests such as a commit id,
    words, paths in lower case); empty without a key id. Linear: each line is read once however many ids it
    holds."""
    runs: set[str] = set()
    done = -1  # the end of the last line read
    for m in AWS_KEY_ID.finditer(text):
        if m.start() < done:
            continue
        lo = text.rfind("\n", 0, m.start()) + 1
        hi = text.find("\n", m.end())
        done = hi = len(text) if hi < 0 else hi
        line = text[lo:hi]
        for t in (line, *(view.text for view in unescaped_views(line))):  # (escaped: "\\u002B", "%2B", "\\/")
            for run in aws_secret_matches(t):
                if _AWS_NOT_SECRET.fullmatch(run.group()) is None:
                    runs.add(run.group())
    return frozenset(runs)


def _leads(prefixes: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    # Each prefix is found from its last separator ("_", "-", "." or "/") or, without one, its last capital
    # letter: lead character -> the prefixes' beginnings up to it.
    leads: dict[str, set[str]] = {}
    for prefix in prefixes:
        cut = max(prefix.rfind(c) for c in "_-./")
        if cut <= 0:  # no separator: its last capital letter (rarer in text than lower case)
            cut = max((i for i, c in enumerate(prefix) if c.isupper()), default=len(prefix) - 1)
        leads.setdefault(prefix[cut], set()).add(prefix[: cut + 1])
    return {c: tuple(sorted(heads)) for c, heads in leads.items()}


#: lead character -> beginnings of the prefixes that end with it (see :data:`VENDOR_GATE`)
VENDOR_LEADS: Final = _leads(VENDOR_PREFIXES)
#: beginning of a prefix -> the key shapes whose prefix starts with it (matched at the prefix's start)
VENDOR_AT: Final = {
    head: _regex.compile(
        _word_start("", "A-Za-z0-9")
        + r"(?P<key>"
        + "|".join(
            "(?:" + "|".join(re.escape(p) for p in prefixes if p.startswith(head)) + ")" + body
            for prefixes, body in _VENDOR_SHAPES
            if any(p.startswith(head) for p in prefixes)
        )
        + ")"
    )
    for heads in VENDOR_LEADS.values()
    for head in heads
}
#: The beginnings in group order of :data:`VENDOR_GATE` (``VENDOR_HEADS[m.lastindex - 1]`` is the one found).
VENDOR_HEADS: Final = tuple(head for _, heads in sorted(VENDOR_LEADS.items()) for head in heads)
#: Where a vendor key may be: a lead character preceded by the rest of a prefix's beginning (fixed-width
#: lookbehinds, each capturing its beginning), so the search skips along a few characters instead of trying
#: every alternative everywhere.
VENDOR_GATE: Final = _regex.compile(
    "|".join(
        re.escape(c) + "(?:" + "|".join(f"(?<=({re.escape(h)}))" for h in heads) + ")"
        for c, heads in sorted(VENDOR_LEADS.items())
    )
)


#: A key body's start: its literals (group 1), its first class (2) and that class's count (3); group 4 when the body
#: is that class ``n`` times and no more of it (``[...]{n}(?![...])``). Every body of :data:`_VENDOR_SHAPES` starts so.
_BODY_START: Final = _regex.compile(r"((?:\\.|[^\[\\(])*+)(\[[^\]]*\])\{(\d+)(?:\}(\(\?!\[[^\]]*\]\))\Z)?")
#: How many characters of a body's first class :data:`VENDOR_STARTS` requires (at most).
_START_CHARS: Final = 16


def _starts() -> tuple[str, ...]:
    starts = []
    for prefixes, body in _VENDOR_SHAPES:
        m = _BODY_START.match(body)
        assert m is not None, body
        start = f"{m.group(1)}{m.group(2)}{{{min(int(m.group(3)), _START_CHARS)}}}"
        starts += [re.escape(prefix) + start for prefix in prefixes]
    return tuple(dict.fromkeys(starts))


#: What every vendor key starts with: its prefix, then the body's literals and (up to 16) characters of its first
#: class ("API-" and 16 of [A-Z0-9]): the scanner's trigger for vendor keys (a prefix alone, "key-", "API-", is in
#: ordinary words and paths; a prefix and the start of its body rarely is). Valid for Hyperscan and ``re``.
VENDOR_STARTS: Final = _starts()

#: How a value escape (:data:`VALUE_ESCAPES`) writes each character it stands for, as an expression (valid for
#: Hyperscan and ``re``)
_ESCAPED_CHAR: Final = {
    "/": r"(?:/|\\/|\\u002[Ff]|%2[Ff])",
    "+": r"(?:\+|\\u002[Bb]|%2[Bb])",
    "=": r"(?:=|\\u003[Dd]|%3[Dd])",
    ":": r"(?::|%3[Aa])",
    "@": r"(?:@|%40)",
}
_ASCII_CHARS: Final = tuple(chr(c) for c in range(33, 127))


def _escaped_starts() -> tuple[str, ...]:
    """:data:`VENDOR_STARTS` of the keys whose prefix, body literals or body's first class hold a character a value
    escape stands for (webhook URLs, base64 bodies, "AccountKey="), with those characters written either way."""
    starts = []
    for prefixes, body in _VENDOR_SHAPES:
        m = _BODY_START.match(body)
        assert m is not None, body
        literal = re.sub(r"\\(.)", r"\1", m.group(1))
        chars = [c for c in _ASCII_CHARS if re.fullmatch(m.group(2), c)]
        escaped = [_ESCAPED_CHAR[c] for c in chars if c in _ESCAPED_CHAR]
        cls = f"(?:{m.group(2)}|{'|'.join(escaped)})" if escaped else m.group(2)
        for prefix in prefixes:
            if not escaped and not any(c in _ESCAPED_CHAR for c in prefix + literal):
                continue
            text = "".join(_ESCAPED_CHAR.get(c) or re.escape(c) for c in prefix + literal)
            starts.append(f"{text}{cls}{{{min(int(m.group(3)), _START_CHARS)}}}")
    return tuple(dict.fromkeys(starts))


#: :data:`VENDOR_STARTS` written with value escapes: "hooks.slack.com\\/services\\/", "AccountKey\\u003D",
#: "whsec_...%2B..." (the scanner's vendor trigger holds them too)
VENDOR_ESCAPED_STARTS: Final = _escaped_starts()


def _find_groups(cut: bool = False) -> list[tuple[str, str, tuple[str, ...]]]:
    """:data:`VENDOR_FIND`'s groups: ``(lead character, lookahead, beginnings)``. A beginning's key continues
    after the lead with the rest of its prefix and at least ``n`` characters of its body's first class (exactly
    ``n`` and no more when the body is that class alone: ``AIza`` + 35, ``npm_`` + 36); beginnings of one lead
    share the weakest of those conditions that implies theirs (the same rest, a class holding theirs, a count no
    larger), so a lead is followed by a few lookaheads, each reading at most ``n`` characters. ``cut``: the
    groups of :data:`VENDOR_CUT_FIND` (the prefixes :func:`_cuttable` keeps, at most ``_CUT_MIN`` characters of the
    body, no exact end)."""
    ascii_chars = [chr(c) for c in range(33, 127)]
    Cond = tuple[str, frozenset[str], int, str]  # (rest of the prefix, class characters, count, exact tail)
    conds: list[tuple[str, Cond, str]] = []  # (lead, condition, beginning)
    for lead, heads in sorted(VENDOR_LEADS.items()):
        for head in heads:
            for prefixes, body in _VENDOR_SHAPES:
                for prefix in prefixes:
                    if prefix.startswith(head) and (not cut or _cuttable(prefix, body)):
                        m = _BODY_START.match(body)
                        assert m is not None, body  # every body: literals, then a class and its count
                        literal = re.sub(r"\\(.)", r"\1", m.group(1))
                        chars = frozenset(c for c in ascii_chars if re.fullmatch(m.group(2), c))
                        tail = "" if cut else m.group(4) or ""  # the body is this class n times and no more of it
                        count = _CUT_MIN if cut else int(m.group(3))
                        conds.append((lead, (prefix[len(head) :] + literal, chars, count, tail), head))

    def weaker(a: Cond, b: Cond) -> bool:  # a holds wherever b does
        if a[3]:
            return a == b
        return a[0] == b[0] and a[1] >= b[1] and a[2] <= b[2]

    out: list[tuple[str, str, tuple[str, ...]]] = []
    for lead in sorted({c[0] for c in conds}):
        mine = [(cond, head) for c_lead, cond, head in conds if c_lead == lead]
        keys = sorted({cond for cond, _ in mine}, key=lambda k: (k[0], k[2], sorted(k[1]), k[3]))
        reps = [k for k in keys if not any(o != k and weaker(o, k) for o in keys)]
        # each condition goes to the first representative that implies it (a beginning with several prefixes,
        # "pypi-", may sit in several groups: either condition)
        owner = {k: next(r for r in reps if weaker(r, k)) for k in keys}
        for rep in reps:
            # longest first: a beginning that ends another one ("key-" of "tskey-") is tried after it (the first
            # lookbehind that holds is the one reported; the shorter one is then inside a word, no key of its own)
            heads = tuple(sorted({h for cond, h in mine if owner[cond] == rep}, key=lambda h: (-len(h), h)))
            cls = re.escape("".join(sorted(rep[1]))).replace("]", "\\]")
            out.append((lead, f"{re.escape(rep[0])}[{cls}]{{{rep[2]}}}{rep[3]}", heads))
    return out


def _find_alternative(look: str, heads: tuple[str, ...]) -> str:
    """One group's test after its lead: the lookahead, then the beginnings in capturing lookbehinds."""
    behind = "|".join(f"(?<=({re.escape(h)}))" for h in heads)
    if len(heads) == 1:  # one fixed-width lookbehind is cheaper than the lookahead: first
        return f"{behind}(?={look})"
    return f"(?={look})(?:{behind})"


def _find_pattern(groups: list[tuple[str, str, tuple[str, ...]]]) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """:data:`VENDOR_FIND` (or :data:`VENDOR_CUT_FIND`) from ``groups``, and the beginning of each capturing group.

    The groups are tried by lead, then by the character before the lead (every beginning has one: "p" of
    "xapp-"), each checked once: a lead whose previous character ends no beginning ("--", "a_b", "p-" in "p-p-")
    costs one lookbehind of one character, not one alternative per group (19 end in "-"; a run of "-" took
    2 us per character, 4 MB of it 8 s). Within a character the groups keep their order, and beginnings whose
    previous characters differ never hold at one position, so the first one that holds is the one
    ``"|".join(lead + _find_alternative(...))`` reported."""
    parts: list[str] = []
    heads_out: list[str] = []
    for lead in dict.fromkeys(g[0] for g in groups):
        buckets: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for g_lead, look, heads in groups:
            if g_lead == lead:
                for before in dict.fromkeys(h[-2] for h in heads):
                    buckets.setdefault(before, []).append((look, tuple(h for h in heads if h[-2] == before)))
        alts = []
        for before, entries in buckets.items():
            alts.append(f"(?<={re.escape(before)}.)(?:" + "|".join(_find_alternative(*e) for e in entries) + ")")
            heads_out.extend(h for _, mine in entries for h in mine)
        cls = re.escape("".join(sorted(buckets))).replace("]", "\\]")
        parts.append(f"{re.escape(lead)}(?<=[{cls}].)(?:" + "|".join(alts) + ")")
    return _regex.compile("|".join(parts)), tuple(heads_out)


_FIND_GROUPS: Final = _find_groups()
#: Where a vendor key may start, for the scrubber: as :data:`VENDOR_GATE` (a lead character, the beginning of its
#: prefix before it in a capturing lookbehind), but a lead is also checked against lookaheads on what must follow
#: it (the rest of the prefix and the body's first characters), so text of repeated prefixes ("ghp_ghp_...",
#: "AIzaAIza...") is passed over inside the engine instead of stopping at every prefix.
#: ``VENDOR_FIND_HEADS[m.lastindex - 1]`` is the beginning found.
VENDOR_FIND, VENDOR_FIND_HEADS = _find_pattern(_FIND_GROUPS)

# Vendor keys cut short: a length limit applied before the redactor sees the value (OpenTelemetry's
# max_attribute_length, structlog's locals_max_string and "'...'+N", Sentry's "...", a formatter's "%(message).50s")
# leaves the prefix and part of the body, which the whole shape no longer matches: "ghp_" + 32 of its 36 characters
# leaves a few to guess (and GitHub's last six are a checksum). Such a key is redacted when it ends where the text,
# the line or a quoted value ends, or at a truncation mark, and holds at least 16 characters of its body (what the
# scanner's trigger reads of a body, :data:`VENDOR_STARTS`: the two agree).
_CUT_MIN: Final = _START_CHARS
#: What follows a value cut short
_CUT_MARK: Final = r"""(?=\.\.\.|\u2026|['"]\+[0-9]|\[truncated|<truncated|[\r\n'"]|\Z)"""
#: Prefixes whose cut keys are not looked for: common in names ("key-": a cache key's md5) or an id that is no
#: secret (AWS access key ids)
_NO_CUT: Final = frozenset({"key-", *AWS_KEY_ID_PREFIXES})


def _cuttable(prefix: str, body: str) -> bool:
    """Whether a key of ``prefix`` cut short is looked for: not in :data:`_NO_CUT`, no URL (its path goes on after
    any cut), and a body whose first class is longer than :data:`_CUT_MIN`."""
    m = _BODY_START.match(body)
    assert m is not None, body
    return prefix not in _NO_CUT and "/" not in prefix and int(m.group(3)) > _CUT_MIN


def _cut_shape(prefixes: tuple[str, ...], body: str) -> str:
    m = _BODY_START.match(body)
    assert m is not None, body
    head = "(?:" + "|".join(re.escape(prefix) for prefix in prefixes) + ")"
    return f"{head}{m.group(1)}{m.group(2)}{{{_CUT_MIN},{int(m.group(3)) - 1}}}+"


_CUT_GROUPS: Final = _find_groups(cut=True)
#: Where a vendor key cut short may start (as :data:`VENDOR_FIND`, with at least :data:`_CUT_MIN` characters of
#: the body); ``VENDOR_CUT_HEADS[m.lastindex - 1]`` is the beginning found
VENDOR_CUT_FIND, VENDOR_CUT_HEADS = _find_pattern(_CUT_GROUPS)
#: beginning of a prefix -> the cut keys whose prefix starts with it (group "key"), matched at the prefix's start
VENDOR_CUT_AT: Final = {
    head: _regex.compile(
        _word_start("", "A-Za-z0-9")
        + "(?P<key>"
        + "|".join(
            _cut_shape(mine, body)
            for prefixes, body in _VENDOR_SHAPES
            if (mine := tuple(x for x in prefixes if x.startswith(head) and _cuttable(x, body)))
        )
        + ")"
        + _CUT_MARK
    )
    for head in dict.fromkeys(VENDOR_CUT_HEADS)
}

#: A URL's userinfo cut short before its "@" by a length limit (the same cut as :data:`VENDOR_CUT_AT`'s:
#: "https://user:s3cr3tp" at the end of the text, line or quoted value, or before a truncation mark): the password
#: read so far (at most 256 characters). A port (ASCII digits, at most 5) and a placeholder are kept by the caller;
#: no IPv6 literal ("http://[::1]:8080": "[" is no user character here).
URL_USERINFO_CUT: Final = _regex.compile(
    r"(?P<lead>://)(?P<user>[^\s/:@\"'<>\[\]]*+):(?P<password>[^\s/@\"'<>]{1,256}?)" + _CUT_MARK
)


def url_userinfo_hint(text: str) -> bool:
    """Text holding "://" may hold a URL's password: it holds "@" too, or a userinfo cut short that is no port
    (:data:`URL_USERINFO_CUT`)."""
    if "@" in text:
        return True
    return any(not url_port_like(m.group("password")) for m in URL_USERINFO_CUT.finditer(text))


def url_port_like(value: str) -> bool:
    """A URL's ``host:port`` read as ``user:password`` (:data:`URL_USERINFO_CUT`): ASCII digits, at most 5, or
    the word of a template ("http://host:port"), before any closing punctuation ("on http://0.0.0.0:8000.")."""
    value = value.rstrip(".,;:!?)]}")
    return (value.isascii() and value.isdigit() and len(value) <= 5) or value.lower() == "port"


# -- a variable given as a name and a value (Kubernetes' and ECS's env lists, CloudFormation's parameters) -------
# {"name": "DB_PASSWORD", "value": "x"}, {'Name': 'API_TOKEN', 'Value': 'x'}, "ParameterKey=DbPassword,
# ParameterValue=x" (the AWS CLI's shorthand), "- name: DB_PASSWORD\n  value: x" (YAML), XML attributes ('<add
# key="Password" value="x"/>' in .NET's appSettings, Spring's '<property name="password" value="x"/>'). Run on the
# lower-cased text;
# the variable's name (group "name") is judged by the caller as a field's name.
_NV_Q: Final = r"""(?:\\?["'])?"""
#: a path before the variable's name, which its last segment names (session 39: an SSM parameter's
#: '"name": "/prod/db/password", "value": "x"' in CloudTrail's PutParameter records)
_NV_PATH: Final = r"(?:(?:/[a-z0-9_.\-]{1,64}+(?=/))*+/)?+"
NAME_VALUE: Final = _regex.compile(
    rf"""(?<![a-z0-9_])(?:name|key|parameterkey){_NV_Q}[ \t]*+[:=][ \t]*+{_NV_Q}"""
    rf"""(?P<name>{_NV_PATH}[a-z_][a-z0-9_.\-]{{0,63}}+)"""
    rf"""{_NV_Q}(?:[ \t]*+[,;][ \t]*+|[ \t]*+\r?\n[ \t]*+|[ \t]++)"""
    rf"""{_NV_Q}(?:value|parametervalue){_NV_Q}[ \t]*+[:=][ \t]*+""" + _FIELD_VALUE
)
#: The same as XML elements: Hadoop's configuration files (core-site.xml's
#: "<property><name>fs.s3a.secret.key</name><value>x</value></property>", session 35), the value's text in group
#: "xv" (no "<": an element's text up to its closing tag); blanks and line breaks between the two elements
XML_NAME_VALUE: Final = _regex.compile(
    r"<name>[ \t]*+(?P<name>[a-z_][a-z0-9_.\-]{0,127}+)[ \t]*+</name>[ \t\r\n]{0,256}+<value>[ \t]*+"
    r"(?P<xv>[^<\s][^<\r\n]{0,4095}+)</value>"
)
#: The same as an HTML meta element's attributes: a page's anti-forgery token (Rails' '<meta name="csrf-token"
#: content="x">', Spring Security's '<meta name="_csrf" content="x"/>', Laravel's; session 36: kept, while the form's
#: '<input name="authenticity_token" value="x">' was redacted by NAME_VALUE). The name quoted, blanks between the two
#: attributes, the value quoted (group "dq" or "sq"); '<meta name="csrf-param" content="authenticity_token">' names the
#: form field (a "param": no secret), '<meta name="viewport" content="width=device-width">' nothing. Lower-cased text.
META_CONTENT: Final = _regex.compile(
    r"""(?<![a-z0-9_\-])name[ \t]*+=[ \t]*+\\?+["'](?P<name>[a-z_][a-z0-9_.\-]{0,63}+)\\?+["'][ \t\r\n]++"""
    r"""content[ \t]*+=[ \t]*+(?:\\?+"(?P<dq>[^"\\\r\n]*+)|\\?+'(?P<sq>[^'\\\r\n]*+))"""
)
#: the keys of a mapping that gives a variable's name, and of the one that gives its value
NAME_KEYS: Final = ("name", "Name", "key", "Key", "ParameterKey")
VALUE_KEYS: Final = ("value", "Value", "ParameterValue")


# -- passwords in SQL statements (a database's statement log, an ORM's echo, a migration's output) --------------
# PostgreSQL "CREATE ROLE app LOGIN PASSWORD 'x'" / "ALTER USER app WITH PASSWORD 'x'", MySQL "IDENTIFIED BY 'x'",
# "IDENTIFIED WITH caching_sha2_password BY 'x'", "SET PASSWORD ... = PASSWORD('x')", Oracle "IDENTIFIED BY x".
# Run on the lower-cased text. After "password" only a quoted value counts, after blanks or "(" ("the password
# changed for..." names none); after "identified [with <plugin>] by" a bare word too.
_SQL_STRING: Final = (
    r"""(?:'(?P<{0}sq>(?:[^'\\\r\n]|''|\\.){{1,1024}}+)'"""
    r"""|"(?P<{0}dq>(?:[^"\\\r\n]|""|\\.){{1,1024}}+)")"""
)
# MySQL's "SET PASSWORD [FOR <account>] = 'x'" (5.7 and later; session 35: before, the password was kept by every path,
# "= PASSWORD('x')" was found): the account is a run without blanks or "=" ("'bob'@'%'", "app@localhost",
# "CURRENT_USER()"), the value a quoted string after "=" (after "SET" only: a field 'password="Failed to connect"' is
# judged as a field).
SQL_PASSWORD: Final = _regex.compile(
    r"(?<![a-z0-9_])(?:password(?:[ \t]++|[ \t]*+\([ \t]*+)"
    + _SQL_STRING.format("")
    + r"|set[ \t]++password(?:[ \t]++for[ \t]++[^\s=]{1,256}+)?+[ \t]*+=[ \t]*+"
    + _SQL_STRING.format("s")
    + r"|identified(?:[ \t]++with[ \t]++[a-z0-9_]{1,64}+)?[ \t]++by(?:[ \t]++password)?[ \t]++(?:"
    + _SQL_STRING.format("i")
    + r"""|(?P<bare>[^\s;'"()]{1,256}+)))"""
)
#: the groups of :data:`SQL_PASSWORD` that hold the value
SQL_PASSWORD_GROUPS: Final = ("sq", "dq", "ssq", "sdq", "isq", "idq", "bare")
# A password stated in a sentence: a provisioning script's or a server's first start ("Your temporary password is:
# Xk9#2pQz", "The initial admin password is 'f3a9...'", "password for user 'postgres' is 'admin'", "password reset
# to Welcome1!"). Run on the lower-cased text; the value quoted, or bare (judged by :func:`stated_bare`).
STATED_PASSWORD: Final = _regex.compile(
    r"(?<![a-z0-9_\-])(?:password|passphrase|passcode|passwd)"
    r"(?:[ \t]++for[ \t]++(?:the[ \t]++)?+(?:user[ \t]++|account[ \t]++)?+"
    r"""(?:'[^'\r\n]{1,64}+'|"[^"\r\n]{1,64}+"|[^\s'"]{1,64}+))?+"""
    r"[ \t]++(?:(?:has[ \t]++been[ \t]++|was[ \t]++|is[ \t]++)?+(?:(?:re)?set|changed)[ \t]++to"
    # (session 38: mysqld's "A temporary password is generated for root@localhost: x" on its first start)
    r"|(?:has[ \t]++been|was|is)[ \t]++generated[ \t]++for[ \t]++(?:user[ \t]++)?+[^\s:]{1,128}+(?=[ \t]*+:)|is|was)"
    r"(?:[ \t]*+:)?+[ \t]++"
    r"""(?:'(?P<sq>[^'\r\n]{1,128}+)'|"(?P<dq>[^"\r\n]{1,128}+)"|`(?P<bq>[^`\r\n]{1,128}+)`"""
    r"""|(?P<bare>[^\s'"`]{1,128}+))"""
)
#: the groups of :data:`STATED_PASSWORD` that hold the value
STATED_PASSWORD_GROUPS: Final = ("sq", "dq", "bq", "bare")
#: punctuation that ends the sentence after a bare stated value, not the value
STATED_END: Final = ".,;:)"


def stated_bare(value: str) -> bool:
    """Whether a bare value stated after "password is" may be a password: six characters or more, not letters only
    (a word there is prose: "password is incorrect", "... is weak"), and a credential's value after a strong name."""
    return len(value) >= 6 and not value.isalpha() and is_credential_value(value, STRONG)


#: a statement's bind parameter, not a value ("IDENTIFIED BY ?", "PASSWORD $1", ":pw")
SQL_PARAMETER: Final = _regex.compile(r"\?|\$[0-9]{1,3}|:[a-z_][a-z0-9_]{0,63}|%\(?[a-z_]*\)?s")


# -- a user and a password given as a pair to an HTTP client: requests/httpx "auth=('user', 'x')", "auth=HTTPBasicAuth(
# 'user', 'x')", aiohttp's "BasicAuth('user', 'x')", "HTTPDigestAuth(...)": the second string is the password. Run on
# the lower-cased text from "auth": a call of anything whose name ends in "auth" ("httpbasicauth(": the match starts
# inside the name), or an "auth" argument given a tuple, a list or such a call; and the same pair given to a
# login (smtplib's, imaplib's, ftplib's "x.login('user', 'x')") or an LDAP bind ("simple_bind_s('cn=admin', 'x')";
# python-ldap's trace of its calls, the arguments' tuple in the call's parentheses: "SimpleLDAPObject.simple_bind((
# 'cn=admin,dc=example,dc=com', 'x', None, None),{})", session 39).
AUTH_PAIR: Final = _regex.compile(
    r"""(?:auth(?:[ \t]*+[=:][ \t]*+(?:[a-z_][a-z0-9_.]{0,63}+auth[ \t]*+)?)?|login"""
    r"""|simple_bind(?:_s)?+(?:\((?=\())?+)[(\[][ \t]*+"""
    r"""(?:'[^'\\\r\n]{0,256}+'|"[^"\\\r\n]{0,256}+")[ \t]*+,[ \t]*+"""
    r"""(?:'(?P<sq>[^'\\\r\n]{1,1024}+)'|"(?P<dq>[^"\\\r\n]{1,1024}+)")"""
)

# -- the password argument of a PHP stack frame: PHP's exception traces (before 8.2's #[\SensitiveParameter], and
# wherever zend.exception_ignore_args is off) print each frame's arguments, strings single-quoted and cut to 15
# characters and "...": "#0 /app/config.php(6): PDO->__construct('mysql:host=127....', 'root', 'x', Array)". The
# functions and constructors that take a user and a password as positional arguments (PDO and its Doctrine and
# Laravel wrappers, mysqli, mysql, FTP, LDAP, SSH2, IMAP: the third; mysqli_real_connect: the fourth; OCI8: the
# second): that argument is a password. Runs on the lower-cased text.
#: one argument of a frame and the comma after it: a string, a word with an optional parenthesised part (NULL, 3306,
#: Array, Object(LDAP\Connection)), a resource
_PHP_ARG: Final = (
    r"""(?:'[^'\r\n]{0,256}+'|[a-z0-9_.\-]{1,64}+(?:\([^()\r\n]{0,256}+\))?|resource id #[0-9]{1,12}+)[ \t]*+,[ \t]*+"""
)
#: the calls whose password is the third argument, the fourth, the second
_PHP_THIRD: Final = (
    r"(?:(?:pdo(?:\\?connection)?|mysqli)->__construct|->createpdoconnection|mysqli->(?:real_)?connect|mysqli_connect"
    r"|mysql_p?connect|ftp_login|ldap_bind(?:_ext)?|ssh2_auth_password|imap_open)"
)
_PHP_FOURTH: Final = "mysqli_real_connect"
_PHP_SECOND: Final = r"oci_(?:p|new_)?connect"
#: any of those calls up to its opening parenthesis (the scanner's trigger: no possessive quantifier)
PHP_LOGIN_CALLS: Final = f"(?:{_PHP_THIRD}|{_PHP_FOURTH}|{_PHP_SECOND})\\("
PHP_LOGIN: Final = _regex.compile(
    rf"(?:{_PHP_THIRD}\((?:{_PHP_ARG}){{2}}|{_PHP_FOURTH}\((?:{_PHP_ARG}){{3}}|{_PHP_SECOND}\({_PHP_ARG})"
    r"'(?P<sq>[^'\r\n]{1,1024}+)'"
)
#: Words one of which every :data:`PHP_LOGIN` match holds (its "ftp_login(" holds :data:`AUTH_PAIR`'s "login(")
PHP_LOGIN_WORDS: Final = (
    "__construct(",
    "connect(",
    "createpdoconnection(",
    "ldap_bind",
    "ssh2_auth_password(",
    "imap_open(",
)


def php_login_hint(low: str) -> bool:
    """Whether the lower-cased ``low`` may hold a :data:`PHP_LOGIN` match."""
    return "'" in low and any(word in low for word in PHP_LOGIN_WORDS)


#: A SASL initial response sent in the clear of a protocol log (smtplib's debug output "send: 'AUTH PLAIN AGJvYgB4...'",
#: IMAP's "AUTHENTICATE PLAIN ...", "AUTH XOAUTH2 ..." holding a bearer token): PLAIN's carries the password,
#: XOAUTH2's and OAUTHBEARER's a token (LOGIN's is the user name alone: kept). Runs on the lower-cased text.
SASL_RESPONSE: Final = _regex.compile(
    "auth"
    + _word_start("auth", r"a-z0-9_\-")
    + r"(?:enticate)?[ \t]++(?:plain|xoauth2|oauthbearer)[ \t]++(?P<bare>[a-z0-9+/]{4,}+={0,2}+)"
)


#: Words of :data:`SASL_RESPONSE` (text without separators holds them: the log redactors' shortcut looks for them)
SASL_WORDS: Final = ("auth plain", "authenticate plain", "xoauth2", "oauthbearer")


def sasl_credentials(response: str) -> bool:
    """The base64 ``response`` decodes to SASL credentials: PLAIN's NUL-separated fields, or a bearer token's
    "auth=" (XOAUTH2, OAUTHBEARER)."""
    try:
        raw = base64.b64decode(response + "=" * (-len(response) % 4), validate=True)
    except (ValueError, TypeError):
        return False
    return b"\x00" in raw or b"auth=" in raw.lower()


#: A login sent in the clear, as a client's protocol transcript shows it: POP3's and FTP's "PASS x" (poplib's debug
#: "*cmd* 'PASS x'"), Redis's "AUTH x" / "AUTH user x" (redis-cli's prompt, a command log, MONITOR's quoted
#: '"AUTH" "x"', and in lower case as a client sent it: '"auth" "default" "x"'; MIGRATE's '... "AUTH2" "user" "x"' and
#: HELLO's '"HELLO" "3" "AUTH" "user" "x"' in MONITOR, session 36; MIGRATE's '"AUTH" "x" "KEYS" "k"' has no user),
#: IMAP's tagged "A1 LOGIN user x" (imaplib's debug "> b'KLIJ1 LOGIN alice x'"). The command is
#: upper case at a command's position (a line's start, after a blank, "=", a quote, a prompt's ">" or an escaped
#: line break: :data:`CONTROL_ESCAPE`, a transcript written on one line, "b'USER bob\\r\\nPASS x\\r\\n'") and its last
#: argument ends the command (a quote, a line break raw or escaped, the text's end): "PASS: test_x", "AUTH
#: failed for bob" are no match. Group "strong": a quote or ">" before the command (a transcript's); a command
#: after a blank, an escape or at a line's start takes only a value that is no word (the caller's check: a test
#: runner's "\\nPASS tests/unit" in a JSON string stays). SASL mechanisms
#: after AUTH are :data:`SASL_RESPONSE`'s. Runs on the original text.
_PROTOCOL_ARG: Final = r"""(?:"[^"\\\r\n]{1,256}+"|[^\s'"\\]{1,256}+)"""
#: where a command ends: a quote, a line break raw or escaped once or twice, the text's end
_PROTOCOL_END: Final = r"""(?=['"]|\\{1,2}[rn]|[\r\n]|$)"""
_SASL_MECHANISM: Final = (
    r"(?:PLAIN|LOGIN|CRAM-MD5|DIGEST-MD5|SCRAM-[A-Z0-9-]++|XOAUTH2?|OAUTHBEARER|GSSAPI|GS2-[A-Z0-9-]++|NTLM|EXTERNAL"
    r"""|ANONYMOUS|KERBEROS_V[45]|OTP|SKEY|TLS|SSL)(?![^\s'"\\])"""
)
PROTOCOL_LOGIN: Final = _regex.compile(
    rf"""(?:(?P<strong>(?<=['">])|(?<=> ))|(?<![^\s=])|(?<={CONTROL_ESCAPE}))"""
    rf"""(?:[A-Za-z]{{0,8}}+[0-9]{{1,6}}+[ ]LOGIN[ ]{_PROTOCOL_ARG}[ ]|PASS[ ]"""
    rf"""|AUTH[ ](?!{_SASL_MECHANISM})(?:{_PROTOCOL_ARG}[ ](?={_PROTOCOL_ARG}{_PROTOCOL_END}))?)"""
    rf"""(?P<value>{_PROTOCOL_ARG}){_PROTOCOL_END}"""
    r"""|"(?:AUTH2?+|auth2?+)"[ ]"(?:[^"\\\r\n]{1,256}+"[ ]"(?=(?!(?:KEYS|keys)")[^"\\\r\n]{1,256}+"))?"""
    r"""(?P<quoted>[^"\\\r\n]{1,256}+)\"""",
    re.MULTILINE,
)


#: Redis's ACL SETUSER given a password in the clear: its rule ">x" adds the password x (redis-cli's prompt, a command
#: log, MONITOR's quoted '"ACL" "SETUSER" "alice" "on" ">x"'; "#<sha256>" adds a hash, "<x" removes one). The command
#: upper or lower case as a client sent it; the first such rule within 400 characters. Group "value" is the password
#: (group "strong" always set: the rule's ">" says what follows is one). Runs on the original text.
REDIS_ACL_PASSWORD: Final = _regex.compile(
    r"""(?:ACL[ ]SETUSER|acl[ ]setuser|"(?:ACL|acl)"[ ]"(?:SETUSER|setuser)")[ ](?P<strong>)[^\n>]{0,400}+"""
    r"""(?<=[ "])>(?P<value>[^\s"'\\]{1,256}+)(?=[\s"']|$)"""
)


def protocol_hint(text: str) -> bool:
    """Whether ``text`` (original case) holds a word every :data:`PROTOCOL_LOGIN` match holds (the protocols'
    commands are upper case), or Redis's ACL SETUSER (:data:`REDIS_ACL_PASSWORD`)."""
    return (
        "PASS " in text
        or "AUTH" in text
        or " LOGIN " in text
        or '"auth" "' in text
        or '"auth2" "' in text
        or "SETUSER" in text
        or "setuser" in text
    )


#: Oracle's thin JDBC URL with its credentials before "@" ("jdbc:oracle:thin:scott/x@host:1521:orcl"); runs on the
#: lower-cased text (a value starting with "[" is a marker's)
JDBC_ORACLE: Final = _regex.compile(r"""jdbc:oracle:thin:[^\s/@:"']{1,64}+/(?P<password>[^\s@"'\[][^\s@"']{0,255}+)@""")


#: An XML element's attribute that names what its text is (Java's properties XML '<entry key="db.password">',
#: .NET's '<setting name="Password">', Windows event XML's '<Data Name="Password">': "Key" and "Name" capitalised,
#: session 37): group 1 the name
XML_NAMING_ATTR: Final = _regex.compile(
    r"""[ \t](?:[Kk]ey|[Nn]ame)[ \t]*+=[ \t]*+["']([A-Za-z_][A-Za-z0-9_.\-]{0,63}+)["']"""
)

# -- XML elements: <password>...</password>, <access-token>...</access-token>, <SecretAccessKey>... ---------------
# Runs on the original text (the name's camelCase words count); each attempt reads up to the next "<".
XML_ELEMENT: Final = _regex.compile(
    r"<(?P<name>[A-Za-z_][A-Za-z0-9_.\-]{0,63}+:?[A-Za-z0-9_.\-]{0,63}+)(?P<attrs>[ \t][^<>]{0,256}+)?>"
    r"(?P<value>[^<]{1,4096}+)</(?P=name)[ \t]*+>"
)

# -- command lines: --token X, --client-secret "X", sshpass -p X, mysql -pX, redis-cli -a X, curl -u user:X ------
# Run on the lower-cased text. A long option is read from its "--" at the start of a word; its value is the next
# argument (not another option).
# (a bare argument ends at a control character's escape: "--password X\\n" in a repr is X, then a line break)
_ARG: Final = (
    r"""(?:"(?P<dq>[^"\r\n]*+)"|'(?P<sq>[^'\r\n]*+)'"""
    rf"""|(?P<bare>(?!{CONTROL_ESCAPE})[^\s"'\-](?:(?!{CONTROL_ESCAPE})[^\s"'])*+))"""
)
# Composer's (PHP) credentials for a host (session 36: kept by every path): auth.json's and the COMPOSER_AUTH variable's
# '{"github-oauth": {"github.com": "<token>"}}' (and "gitlab-oauth", "gitlab-token", "bearer": each host's token; an
# "http-basic" entry's "password" is a field), and "composer config [-g] github-oauth.github.com <token>" ("http-basic.
# <host> <user> <password>"). A host is a dotted name (a port may follow): '{"bearer": {"type": "x"}}' is no entry.
# Lower-cased text; the entries are read one by one after the object's "{" (COMPOSER_AUTH_ENTRY, 64 at most).
_COMPOSER_KINDS: Final = r"(?:github-oauth|gitlab-oauth|gitlab-token|bearer)"
_COMPOSER_HOST: Final = r"[a-z0-9](?:[a-z0-9\-]{0,62}+\.)++[a-z0-9\-]{1,63}+(?::[0-9]{1,5}+)?+"
COMPOSER_AUTH: Final = _regex.compile(r"(?<![a-z0-9_\-])" + _COMPOSER_KINDS + r"""\\?+"[ \t]*+:[ \t\r\n]*+\{""")
#: one host's entry of a :data:`COMPOSER_AUTH` object, from the "{" or the end of the entry before: the token in
#: group "value"
COMPOSER_AUTH_ENTRY: Final = _regex.compile(
    r"""[ \t\r\n]*+,?+[ \t\r\n]*+\\?+"(?:"""
    + _COMPOSER_HOST
    + r')\\?+"[ \t]*+:[ \t]*+\\?+"(?P<value>[^"\\\r\n]{1,1024}+)\\?+"'
)
COMPOSER_CONFIG: Final = _regex.compile(
    r"(?<![a-z0-9_\-])config(?:[ \t]++-{1,2}+[a-z][a-z\-]{0,15}+)*+[ \t]++"
    r"(?:http-basic\." + _COMPOSER_HOST + r"""[ \t]++(?:"[^"\r\n]{1,256}+"|'[^'\r\n]{1,256}+'|[^\s"']{1,256}+)"""
    r"|" + _COMPOSER_KINDS + r"\." + _COMPOSER_HOST + ")"
    r"""[ \t]++(?:"(?P<dq>[^"\r\n]{1,1024}+)"|'(?P<sq>[^'\r\n]{1,1024}+)'|(?P<bare>[^\s"']{1,1024}+))"""
)
#: What every :data:`COMPOSER_AUTH` and :data:`COMPOSER_CONFIG` match holds (lower-cased)
COMPOSER_WORDS: Final = ("-oauth", "gitlab-token", "bearer", "http-basic")
COMPOSER_ENTRIES_MAX: Final = 64


# (also an argument list's repr or JSON: ['--password', 'X'], ["--token", "X"])
CLI_FLAG: Final = _regex.compile(
    "--"
    + _word_start("--", r"a-z0-9_\-", (CONTROL_ESCAPE,))
    + r"(?P<name>[a-z][a-z0-9_\-]{0,63}+)(?:[ \t]++|[\"'][ \t]*+,[ \t]*+)"
    + _ARG
)


def _command_start(command: str) -> str:
    """A command's name at the start of a word (after a blank, a quote, a line's start or a control escape)."""
    return _word_start(command, r"a-z0-9_\-", (CONTROL_ESCAPE,))


#: PowerShell's ConvertTo-SecureString given the password in the clear ("-AsPlainText -Force": a transcript, a
#: process's command line, a tool's log): its quoted positional argument or its "-String" argument (not a variable,
#: "$Secret", "$env:PW"). A :data:`CLI_SHORT`
#: entry, also run before the field passes on a text holding a field's name ("$password = ConvertTo-SecureString
#: -String x": the field would take the cmdlet's name for its value).
PS_SECURESTRING: Final = _regex.compile(
    "convertto-securestring" + r"""(?:[^\n|;)]{0,200}?[ \t]-string[ \t]++|[ \t]++(?=["']))(?!["']?+\$)""" + _ARG
)


#: net-snmp's client commands (snmpwalk, snmpget, snmpbulkwalk, snmpset, snmptrap...: not the agent snmpd nor
#: snmptrapd, whose "-c" names a configuration file), up to a short option within 200 characters
SNMP_COMMAND: Final = (
    "snmp"
    + _command_start("snmp")
    + r"(?:bulkwalk|bulkget|getnext|walk|get|set|table|trap|inform|delta|df|netstat|status|test|usm|vacm)"
    + r"(?:\.exe)?+(?=[ \t])[^\n|;&]{0,200}?[ \t]"
)
#: The community strings every SNMP agent ships with and every tool tries first ("public" to read, "private" to
#: write): no secret - a "-c public" is kept; any other community grants what it names, and is redacted.
SNMP_DEFAULT_COMMUNITIES: Final = ("public", "private")
#: net-snmp's options that take a secret (case-sensitive): each its own pattern, so all three are found on one line
SNMP_OPTIONS: Final = (
    "-A",
    "-X",
    r"-c(?![ \t]*+(?P<q>[\"']?+)(?:" + "|".join(SNMP_DEFAULT_COMMUNITIES) + r")(?P=q)(?![^\s]))",
)

# Short options that take a password, per command (the option is searched for within 200 characters of it).
CLI_SHORT: Final = (
    ("sshpass", _regex.compile("sshpass" + _command_start("sshpass") + r"[^\n|;&]{0,200}?[ \t]-p[ \t]*+" + _ARG)),
    # (mysql -pX; also "-p X", which mysql reads as "ask, then use database X": a password typed in the wrong place
    # is still a password, and a database name is little to lose)
    ("mysql", _regex.compile("mysql" + _command_start("mysql") + r"[a-z\-]*+[^\n|;&]{0,200}?[ \t]-p[ \t]*+" + _ARG)),
    (
        "mariadb",
        _regex.compile("mariadb" + _command_start("mariadb") + r"[a-z\-]*+[^\n|;&]{0,200}?[ \t]-p[ \t]*+" + _ARG),
    ),
    # registry and cloud logins whose -p takes the password: docker/podman/nerdctl/buildah/oras/helm registry, oc,
    # cf, az login -u user -p X (found from "login", the command checked behind it)
    (
        "login",
        _regex.compile(
            "login(?:"
            + "|".join(
                rf"(?<={c}[ \t]login)" + _word_start_re(rf"{c}[ \t]login", r"a-z0-9_\-", (CONTROL_ESCAPE,))
                for c in ("docker", "podman", "nerdctl", "buildah", "oras", "helm[ \t]registry", "oc", "cf", "az")
            )
            + r")(?=[ \t])[^\n|;&]{0,200}?[ \t]-p[ \t]++"
            + _ARG
        ),
    ),
    ("redis-cli", _regex.compile(r"redis-cli[^\n|;&]{0,200}?[ \t]-a[ \t]++" + _ARG)),
    # FreeRDP's clients (xfreerdp, wlfreerdp, sdl-freerdp, wfreerdp, a version's digit after: xfreerdp3): "/p:X", the
    # gateway's "/gp:X", a hash passed for the password "/pth:X", the old syntax's "-p X"; rdesktop's "-p X" ("-p -"
    # reads it from stdin: no value)
    (
        "freerdp",
        _regex.compile(
            "freerdp(?:"
            + "|".join(
                rf"(?<={c})" + _word_start_re(re.escape(c), r"a-z0-9_\-", (CONTROL_ESCAPE,))
                for c in ("freerdp", "xfreerdp", "wlfreerdp", "sdl-freerdp", "wfreerdp")
            )
            + r")[0-9]?+(?=[\s\"'])[^\n|;&]{0,200}?[ \t](?:/(?:p|gp|pth):|-p[ \t]++)"
            + _ARG
        ),
    ),
    ("rdesktop", _regex.compile("rdesktop" + _command_start("rdesktop") + r"[^\n|;&]{0,200}?[ \t]-p[ \t]*+" + _ARG)),
    # OpenLDAP's clients: -w X (-W prompts: lower-cased it is "-w" too, and an option follows, no argument)
    (
        "ldap",
        _regex.compile(
            "ldap(?:search|modify|add|delete|passwd|compare|whoami|modrdn|exop)"
            + _command_start("ldap")
            + r"[^\n|;&]{0,200}?[ \t]-w[ \t]*+"
            + _ARG
        ),
    ),
    # archives: zip/unzip -P X, 7z -pX; openssl -k X and -pass/-passin/-passout pass:X; smbclient -U user%X
    *((c, _regex.compile(c + _command_start(c) + r"[^\n|;&]{0,200}?[ \t]-p[ \t]++" + _ARG)) for c in ("zip", "unzip")),
    ("7z", _regex.compile("7z" + _command_start("7z") + r"[a-z]?+[^\n|;&]{0,200}?[ \t]-p" + _ARG)),
    (
        "openssl",
        _regex.compile(
            "openssl"
            + _command_start("openssl")
            + r"[^\n|;&]{0,200}?[ \t](?:-k[ \t]++|-pass(?:in|out)?[ \t]++[\"']?+pass:)"
            + _ARG
        ),
    ),
    (
        "smbclient",
        _regex.compile(
            "smbclient"
            + _command_start("smbclient")
            + r"[^\n|;&]{0,200}?[ \t]-u[ \t]*+[\"']?+[^\s%\"']{0,64}+%"  # (the quote may enclose the pair)
            + _ARG
        ),
    ),
    # IPMI: ipmitool's "-P X" (its "-p" is the port), FreeIPMI's tools' "-p X" (ipmi-sensors, ipmi-power, ipmiconsole,
    # ipmipower...: their "-P" asks, no argument) - one pattern under one word, run on the original text
    # (CLI_SHORT_CASED)
    (
        "ipmi",
        _regex.compile(
            "ipmi(?:tool"
            + _command_start("ipmitool")
            + r"[^\n|;&]{0,200}?[ \t]-P|(?:-[a-z]++(?:-[a-z]++)*+|console|power|monitoring|ping)"
            + _command_start("ipmi")
            + r"[^\n|;&]{0,200}?[ \t]-p)[ \t]*+"
            + _ARG
        ),
    ),
    ("convertto-securestring", PS_SECURESTRING),
    # twine's "upload -p X" (its "--password X" is CLI_FLAG's)
    ("twine", _regex.compile("twine" + _command_start("twine") + r"[^\n|;&]{0,200}?[ \t]-p[ \t]*+" + _ARG)),
    # net-snmp's clients (SNMP_OPTIONS), run on the original text: "-A X" and "-X X" (SNMPv3's authentication and
    # privacy passphrases; "-a" and "-x" name their protocols), "-c X" (an SNMPv1/v2c community)
    *(("snmp", _regex.compile(SNMP_COMMAND + option + r"[ \t]*+" + _ARG)) for option in SNMP_OPTIONS),
    # SQL Server's sqlcmd/bcp -P X (lower-cased: "-p"), MongoDB's mongo/mongosh/mongodump/mongorestore... -p X
    *((c, _regex.compile(c + _command_start(c) + r"[^\n|;&]{0,200}?[ \t]-p[ \t]++" + _ARG)) for c in ("sqlcmd", "bcp")),
    ("mongo", _regex.compile("mongo" + _command_start("mongo") + r"[a-z]*+[^\n|;&]{0,200}?[ \t]-p[ \t]++" + _ARG)),
    # Cassandra's cqlsh -p X; InfluxDB's influx -p X (2.x: "influx setup|auth|user password ... -p X") and its 1.x
    # shell's single-dash "-password X"; Mosquitto's clients' -P X (their "-p" is the port: the original text,
    # CLI_SHORT_CASED)
    ("cqlsh", _regex.compile("cqlsh" + _command_start("cqlsh") + r"[^\n|;&]{0,200}?[ \t]-p[ \t]++" + _ARG)),
    (
        "influx",
        _regex.compile(
            "influx" + _command_start("influx") + r"(?=[ \t])[^\n|;&]{0,200}?[ \t]-p(?:assword)?+[ \t]++" + _ARG
        ),
    ),
    (
        "mosquitto",
        _regex.compile(
            "mosquitto_(?:pub|sub|rr)"
            + _command_start("mosquitto_")
            + r"(?:\.exe)?+(?=[ \t])[^\n|;&]{0,200}?[ \t]-P[ \t]++"
            + _ARG
        ),
    ),
    # (lftp -u user,X: the pair's comma)
    (
        "lftp",
        _regex.compile(
            "lftp" + _command_start("lftp") + r"[^\n|;&]{0,200}?[ \t]-u[ \t]++[\"']?+[^\s,\"']{0,64}+," + _ARG
        ),
    ),
    # (curl -u user:X, --user "user:X", --user 'user:X', -u ":X", --user=user:X: the quote may enclose the pair; the
    # proxy's user and password the same way, -U / --proxy-user: session 38)
    (
        "curl",
        _regex.compile(
            "curl"
            + _command_start("curl")
            + r"[^\n|;&]{0,200}?[ \t](?:-u|--(?:proxy-)?+user)(?:[ \t]++|(?<=user)=)[\"']?+"
            r"[^\s:\"']{0,64}+:" + _ARG
        ),
    ),
)

#: Oracle's command-line clients given their logon "user/password@connect" as an argument ("sqlplus scott/x@orcl",
#: "sqlplus -s system/x@//db:1521/XE", "expdp system/x@XE directory=...", "sqlldr userid=scott/x@orcl", "rman target
#: sys/x@prod", RMAN's "catalog u/x@rcat"), and SQL*Plus' CONNECT echoed after its prompt ("SQL> conn
#: gerald/x@xepdb1"): the password is the logon's, between "/" and "@" - the shape of :data:`JDBC_ORACLE`'s
#: credentials. Run on the lower-cased text holding "/" and "@" (a logon without "@connect", local, is not claimed;
#: nor the legacy "exp"/"imp", whose names are words of prose). The clients' names are gate words.
ORACLE_CLIENTS: Final = ("sqlplus", "sqlldr", "expdp", "impdp", "rman", "dgmgrl", "sql> conn")
_ORACLE_USER_PASSWORD: Final = r"""["']?+[a-z0-9_$#]{1,64}+/(?P<password>[^\s@/"'\[][^\s@/"']{0,255}+)@"""
ORACLE_LOGONS: Final = (
    _regex.compile(
        r"(?<![a-z0-9_\-.])(?:" + "|".join(ORACLE_CLIENTS) + r")(?:\.exe|ect)?+(?:[ \t]++-[a-z]++)*+[ \t]++"
        r"(?:(?:userid|target)[ \t]*+=?+[ \t]*+)?+" + _ORACLE_USER_PASSWORD
    ),
    # (RMAN's recovery catalog and auxiliary database, after the target's logon: "rman target / catalog rman/x@rcat")
    _regex.compile(
        "rman"
        + _command_start("rman")
        + r"[^\n|;&]{0,200}?[ \t](?:catalog|auxiliary)[ \t]*+=?+[ \t]*+"
        + _ORACLE_USER_PASSWORD
    ),
)

#: A password set with chpasswd from a shell's echo, printf or here-string ("RUN echo 'root:x' | chpasswd" in an image
#: build's log, "echo -e 'u:x\\n' | sudo chpasswd", "chpasswd <<< 'u:x'"): the pair's password. Run on the lower-cased
#: text holding "chpasswd" (and so "pass"), the value in group "value".
CHPASSWD: Final = (
    _regex.compile(
        r"""(?:echo|printf)(?:[ \t]++-[a-z]++)*+[ \t]++(?P<q>["']?+)[a-z_][a-z0-9_.\-]{0,31}+:"""
        r"""(?P<value>[^\s"':\\]{1,256}+)(?:\\n)?+(?P=q)[ \t]*+\|[ \t]*+(?:sudo[ \t]++)?+(?:/usr/sbin/)?+chpasswd"""
    ),
    _regex.compile(
        r"""chpasswd[ \t]*+<<<[ \t]*+(?P<q>["']?+)[a-z_][a-z0-9_.\-]{0,31}+:(?P<value>[^\s"':\\]{1,256}+)(?P=q)"""
    ),
)
#: A password fed from a shell's echo, printf or here-string to a program that reads it from its standard input (session
#: 21): "echo x | passwd --stdin bob" (RHEL's passwd), "echo x | smbpasswd -a -s bob", "echo x | vncpasswd -f",
#: "ftpasswd --passwd --name bob --stdin <<< x". Run on the lower-cased text holding "passwd" (STDIN_PASSWD_WORD: a
#: gate word; "chpasswd" holds it), the value in group "value".
STDIN_PASSWD_WORD: Final = "passwd"
#: (session 38) a registry client's login reading its password from standard input: "echo x | docker login -u bob
#: --password-stdin host" (also podman's, nerdctl's, "helm registry login", oras', skopeo's, "crane auth login")
STDIN_LOGIN_WORD: Final = "--password-stdin"
_STDIN_PASSWD_READERS: Final = (
    r"(?:passwd(?:[ \t]++-[a-z\-]++)*?[ \t]++--stdin|smbpasswd(?:[ \t]++-[a-z]++)*?[ \t]++-s|vncpasswd[ \t]++-f"
    r"|ftpasswd[^\n|;&<]{0,200}?[ \t]--stdin"
    # (session 38) passwd itself, with or without a user, the command ending there: what it reads is a password
    # ("echo x | passwd", 'echo "x" | sudo passwd root': a honeypot's or a shell history's line)
    r"""|passwd(?:[ \t]++[a-z_][a-z0-9_.\-]{0,31}+)?+[ \t]*+(?=[|;&)"'\r\n]|\\[nrt]|$)"""
    r"|[a-z0-9][a-z0-9_.\-]{0,31}+(?:[ \t]++(?!login[ \t])[a-z]++)?+[ \t]++login[^\n|;&<]{0,200}?[ \t]"
    + STDIN_LOGIN_WORD
    + ")"
)
STDIN_PASSWD: Final = (
    _regex.compile(
        r"""(?:echo|printf)(?:[ \t]++-[a-z]++)*+[ \t]++(?P<q>["']?+)(?P<value>[^\s"'\\|;&<>]{1,256}+)(?:\\n)?+(?P=q)"""
        r"""[ \t]*+\|[ \t]*+(?:sudo[ \t]++)?+(?:/usr/s?bin/)?+""" + _STDIN_PASSWD_READERS
    ),
    _regex.compile(
        _STDIN_PASSWD_READERS + r"""[^\n|;&<]{0,64}?[ \t]*+<<<[ \t]*+(?P<q>["']?+)(?P<value>[^\s"'\\]{1,256}+)(?P=q)"""
    ),
)
#: A new password typed twice into passwd from a shell's echo or printf (session 37: shell history, sudo's "COMMAND="
#: lines): 'echo -e "x\\nx" | passwd [bob]', "printf 'x\\nx\\n' | sudo passwd", and a user's own change, the current
#: password first ('echo -e "old\\nx\\nx" | passwd'). Only the same word twice is taken (what passwd asks for: the new
#: password and its confirmation); 'echo -e "hello\\nworld" | passwd' is not. Run on the lower-cased text holding
#: "passwd" (:data:`STDIN_PASSWD_WORD`); groups "old" (maybe), "value" and "again" are the passwords.
_TYPED: Final = r"""[^\s"'\\|;&<>]{1,256}+"""
STDIN_PASSWD_TWICE: Final = _regex.compile(
    r"""(?:echo|printf)(?:[ \t]++-[a-z]++)*+[ \t]++(?P<q>["']?+)(?:(?P<old>""" + _TYPED + r""")\\n)?"""
    r"""(?P<value>""" + _TYPED + r""")\\n(?P<again>(?P=value))(?:\\n)?+(?P=q)"""
    r"""[ \t]*+\|[ \t]*+(?:sudo[ \t]++)?+(?:/usr/s?bin/)?+passwd(?![a-z0-9_\-])"""
)
#: The Cowrie SSH/Telnet honeypot's login line: "login attempt [root/x] failed" (or "succeeded"; older versions
#: "[b'root'/b'x']"): the password an attacker tried, or a real user's mistyped one (session 37). The user holds no
#: "/"; the password runs to "] failed" or "] succeeded" at the line's end. Run on the lower-cased text holding
#: :data:`COWRIE_LOGIN_WORD`; the password in group "value".
COWRIE_LOGIN_WORD: Final = "login attempt ["
#: Cowrie's lines that name a password (session 38; cowrie/cowrie's sources and public honeypot logs): its login line
#: (:data:`COWRIE_LOGIN_WORD`), AuthRandom's "login return, expect: [root/x]" (the pair the honeypot will accept), the
#: SSH proxy's "Will auth with backend: root/x" (its backend's own password, from its configuration)
COWRIE_WORDS: Final = (COWRIE_LOGIN_WORD, "login return, expect: [", "will auth with backend: ")
COWRIE_LOGIN: Final = (
    _regex.compile(
        r"""login attempt \[b'[^'/\r\n]{0,64}+'/b'(?P<value>[^'\r\n]{1,256}+)'\] (?:failed|succeeded)(?![^\r\n])"""
    ),
    _regex.compile(
        r"""login attempt \[(?!b')[^/\]\r\n]{0,64}+/(?P<value>[^\r\n]{1,256}?)\] (?:failed|succeeded)(?![^\r\n])"""
    ),
    _regex.compile(r"""login return, expect: \[b'[^'/\r\n]{0,64}+'/b'(?P<value>[^'\r\n]{1,256}+)'\](?![^\r\n])"""),
    _regex.compile(r"""login return, expect: \[(?!b')[^/\]\r\n]{0,64}+/(?P<value>[^\r\n]{1,256}?)\](?![^\r\n])"""),
    _regex.compile(r"""will auth with backend: [^/\s]{0,64}+/(?P<value>[^\s][^\r\n]{0,255}?)[ \t]*+(?![^\r\n])"""),
)
#: A value a CI log's own command declares secret (session 38): GitHub Actions' workflow command "::add-mask::x" (shown
#: in a step's "set -x" trace, or in a runner's debug log), Azure Pipelines' logging commands "##vso[task.setsecret]x"
#: and "##vso[task.setvariable variable=name;issecret=true]x": the value runs to the line's end. Run on the lower-cased
#: text holding one of :data:`CI_SECRET_WORDS`; the value in group "value".
CI_SECRET_WORDS: Final = ("::add-mask::", "##vso[task.")
_CI_SECRET_VALUE: Final = r"""[ \t]*+(?P<value>[^\s"'\\](?:[^\r\n"'\\]{0,1022}[^\s"'\\])?+)"""
CI_SECRET: Final = _regex.compile(
    r"(?:::add-mask::|##vso\[task\.(?:setsecret|setvariable[ \t][^\]\r\n]{0,512}?(?<![a-z])issecret=true"
    r"(?![a-z])[^\]\r\n]{0,512}?)\])" + _CI_SECRET_VALUE
)
# -- session 39: the tools' own words for a secret ------------------------------------------------------------------
#: A HashiCorp tool's ACL token under its "secret id" (Consul's "consul acl bootstrap"/"token create" output,
#: "SecretID: <uuid>", and its API's '"SecretID": "<uuid>"'; Nomad's "Secret ID    = <uuid>"; Vault AppRole's
#: "secret_id=<uuid>", and in Vault's table "secret_id    <uuid>"): the token is a UUID. A name ending in "id" names
#: no secret (AWS Secrets Manager's "SecretId" is a secret's name or ARN, "secret_id_accessor" an accessor), so only a
#: UUID there is read as the token. Lower-cased text holding "secret"; the UUID in group "value".
SECRET_ID: Final = _regex.compile(
    r"""secret(?<![a-z0-9]secret)[ _\-]?+id(?:\\?+["'])?+(?:[ \t]*+[:=][ \t]*+(?:\\?+["'])?+|[ \t]++)"""
    r"(?P<value>[0-9a-f]{8}+-[0-9a-f]{4}+-[0-9a-f]{4}+-[0-9a-f]{4}+-[0-9a-f]{12}+)(?![0-9a-z\-])"
)
#: Vault's "operator init" (and "operator rekey") output: "Unseal Key 1: <base64>", "Recovery Key 3: <base64>" - the
#: shares of its root key, one line each in Vault's own words (the JSON output's "unseal_keys_b64" is a field:
#: :data:`VAULT_KEY_LIST`). Lower-cased text holding one of :data:`VAULT_KEY_WORDS`; the key in group "value".
VAULT_KEY_WORDS: Final = ("unseal key ", "recovery key ")
VAULT_KEY_LINE: Final = _regex.compile(
    r"(?<![a-z0-9_\-])(?:unseal|recovery) key [0-9]{1,3}+:[ \t]++(?P<value>[a-z0-9+/]{16,1024}+={0,2}+)(?![^\s])"
)
#: The same keys as the JSON output lists them ('"unseal_keys_b64": ["<k1>", "<k2>", ...]', "unseal_keys_hex",
#: "recovery_keys_b64", "recovery_keys_hex"): the field reads the list's first element; each element is read after the
#: "[" (:data:`VAULT_KEY_ENTRY`, 64 at most). Lower-cased text.
VAULT_KEY_LIST: Final = _regex.compile(
    r"""(?<![a-z0-9_\-])(?:unseal|recovery)_keys_(?:b64|hex)\\?+"[ \t]*+:[ \t\r\n]*+\["""
)
VAULT_KEY_ENTRY: Final = _regex.compile(r"""[ \t\r\n]*+,?+[ \t\r\n]*+\\?+"(?P<value>[^"\\\r\n]{1,1024}+)\\?+["]""")
VAULT_KEY_ENTRIES_MAX: Final = 64
#: A secret's value as a configuration dump writes it, in an object under the secret's name: Spring Boot Actuator's
#: /env and /configprops ('"spring.datasource.password": {"value": "x", "origin": "..."}', with
#: "management.endpoint.env.show-values" set), "terraform output -json" ('"db_password": {"sensitive": true, "type":
#: "string", "value": "x"}'): the name is judged as a field's, the "value" member as its value (up to 4 members of
#: strings, numbers or literals before it, on one line or several). Lower-cased text holding '"value"'; the name in
#: group "name", the value in the groups of :data:`NAME_VALUE`.
_NOV_MEMBER: Final = (
    r"""\\?+"(?!value\\?+")[a-z_]{1,32}+\\?+"[ \t]*+:[ \t]*+(?:\\?+"[^"\\\r\n{}]{0,256}+\\?+"|[a-z0-9.\-]{1,24}+)"""
)
NAMED_OBJECT_VALUE: Final = _regex.compile(
    r"""(?<![a-z0-9_.\-])(?P<name>[a-z_][a-z0-9_.\-]{0,127}+)\\?+"[ \t]*+:[ \t]*+\{[ \t\r\n]*+"""
    rf"""(?:{_NOV_MEMBER}[ \t]*+,[ \t\r\n]*+){{0,4}}+\\?+"value\\?+"[ \t]*+:[ \t]*+"""
    r"""(?:\\?+"(?P<dq>[^"\\\r\n]{1,1024}+)\\?+")"""
)
#: Dovecot's authentication protocol as its auth_debug logs it ("auth: Debug: client in: AUTH<TAB>1<TAB>PLAIN<TAB>
#: service=smtp<TAB>...<TAB>resp=<base64>"): the initial SASL response after "resp=", PLAIN's user and password
#: (:data:`SASL_RESPONSE` reads "AUTH PLAIN <base64>" spelled with blanks). Lower-cased text holding "resp="; the
#: response in group "bare".
DOVECOT_AUTH_RESP: Final = _regex.compile(
    r"(?<![a-z0-9_\-])auth\t[0-9]{1,10}+\t(?:plain|xoauth2|oauthbearer)\t(?:[^\t\r\n]{0,256}+\t){0,16}?"
    r"resp=(?P<bare>[a-z0-9+/]{4,}+={0,2}+)(?![^\s])"
)
#: A password kept in the clear under its scheme's name (Dovecot's passdb and passwd-file, "password={PLAIN}x",
#: "bob:{PLAIN}x::::::"; OpenLDAP's "userPassword: {CLEARTEXT}x"): the scheme says what follows is the password itself
#: (a hash's scheme, "{SSHA}", "{SHA512-CRYPT}", is kept as a hash is). Lower-cased text holding one of
#: :data:`CLEAR_SCHEME_WORDS`; the password, up to a blank, a quote, ",", ";" or passwd-file's ":", in group "value".
CLEAR_SCHEME_WORDS: Final = ("{plain}", "{clear")
CLEAR_SCHEME: Final = _regex.compile(
    r"""(?<![a-z0-9_\-])\{(?:plain|cleartext|clear)\}(?P<value>[^\s"'\\,;:]{1,1024}+)"""
)
#: An LDIF attribute whose value is base64 ("userPassword:: <base64>", "olcRootPW:: <base64>": "::" says so), under
#: a secret's name (the caller judges it: group "name"); the base64 in group "value". A value that decodes to a
#: hash's scheme and digest ("{SSHA}...") is a hash, kept (:func:`ldif_b64_secret`). Lower-cased text holding ":: ".
LDIF_B64: Final = _regex.compile(
    r"(?<![a-z0-9_;\-])(?P<name>[a-z][a-z0-9\-]{0,63}+)(?:;[a-z0-9\-]{1,32}+)*+::[ \t]++"
    r"(?P<value>[a-z0-9+/]{4,4096}+={0,2}+)(?![^\s])"
)
_HASH_SCHEME: Final = _regex.compile(rb"\{[A-Za-z0-9.\-]{2,24}\}")


def ldif_b64_secret(value: str) -> bool:
    """Whether an LDIF base64 value (:data:`LDIF_B64`) holds a secret: it decodes, and not to a hash's "{SCHEME}..."
    (Dovecot's and OpenLDAP's clear schemes, "{PLAIN}", "{CLEARTEXT}", hold the password itself)."""
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except ValueError:
        return False
    m = _HASH_SCHEME.match(raw)
    return m is None or m.group().lower() in (b"{plain}", b"{clear}", b"{cleartext}")


#: A line of a Netscape cookie file (session 38: what curl's "-c"/"--cookie-jar", wget's "--save-cookies" and browser
#: exporters write, and "cat cookies.txt" prints): domain, TRUE/FALSE, path, TRUE/FALSE, expiry, name, value,
#: separated by tabs (curl's "#HttpOnly_" before the domain). The value is a cookie's, as after "Cookie:". Run on the
#: lower-cased text holding one of :data:`COOKIE_JAR_WORDS` (the flag and the path's "/"); the value in group "value".
COOKIE_JAR_WORDS: Final = ("\ttrue\t/", "\tfalse\t/")
COOKIE_JAR_LINE: Final = _regex.compile(
    r"(?<![^\s])(?:#httponly_)?+[a-z0-9_.\-]{1,253}+\t(?:true|false)\t/[^\t\r\n]{0,1024}+\t(?:true|false)\t"
    r"-?+[0-9]{1,20}+\t[^\t\r\n]{1,256}+\t(?P<value>[^\t\r\n]{1,4096}+)(?![^\r\n])"
)
#: PowerShell's module logging (event 4103) of ConvertTo-SecureString's parameters: 'ParameterBinding(ConvertTo-
#: SecureString): name="String"; value="x"' - the value bound to -String. Run on the lower-cased text holding
#: "securestring" (and "name" and "value").
PS_SECURESTRING_BINDING: Final = _regex.compile(
    r'parameterbinding\(convertto-securestring\):[ \t]*+name="string";[ \t]*+value="(?P<value>[^"\r\n]{1,1024}+)"'
)

# Commands that take a secret as a positional argument: "vault login X" (a Vault token: the legacy "s." form has no
# vendor prefix; "vault login -method=userpass username=u password=x" has fields), Windows' "net use Z:
# \\\\host\\share X /user:DOMAIN\\u" (the password is the argument that is no device, share or "/option", before or
# after "/user:"). Run on the lower-cased text.
#: Windows' net command as a process-creation event shows it: its program's file name (net1.exe: what net.exe
#: runs), with or without ".exe", and the end of a quoted path ('"C:\\...\\net.exe" user'); the commands below
#: are these followed by "use" or "user"
WINDOWS_NET: Final = ("net", "net1", "net.exe", 'net.exe"', "net1.exe")
CLI_POSITIONAL: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "vault login",
        _regex.compile(
            "vault login" + _command_start("vault login") + r"(?:[ \t]++-[^\s;|&]*+)*+[ \t]++(?![^\s=]*+=)" + _ARG
        ),
    ),
    # (session 37: also the command with its program's file name, "net.exe use", "net1 use", and after its path:
    # "C:\\Windows\\System32\\net.exe use ...", '"C:\\...\\net.exe" use ...': WINDOWS_NET)
    *(
        (
            word,
            _regex.compile(
                re.escape(word)
                + _command_start(word)
                + r'(?:[ \t]++(?:[a-z]:|\*|\\\\[^\s;|&]*+|"\\\\[^"\r\n]*+"|/[^\s;|&]*+))*+[ \t]++'
                + r'(?![/*]|"?\\\\|[a-z]:(?:\s|\Z))'
                + _ARG
            ),
        )
        for word in (f"{net} use" for net in WINDOWS_NET)
    ),
)
# (more commands whose secret is a positional argument: "htpasswd -b[c] file user X" / "htpasswd -nb user X",
# "rabbitmqctl add_user|change_password user X", MinIO's "mc alias set name url access-key X",
# "wpa_passphrase ssid X")
_TOKEN: Final = r"[^\s;|&]++"
CLI_POSITIONAL += (
    (
        "htpasswd",
        _regex.compile(
            "htpasswd"
            + _command_start("htpasswd")
            + rf"[ \t]++-[ac-z]*+b[a-z]*+(?:[ \t]++-[a-z]++)*+(?:[ \t]++(?!-){_TOKEN})?[ \t]++(?!-){_TOKEN}[ \t]++"
            + _ARG
        ),
    ),
    (
        "rabbitmqctl",
        _regex.compile(
            "rabbitmqctl"
            + _command_start("rabbitmqctl")
            + rf"(?:[ \t]++{_TOKEN}){{0,6}}?[ \t]++(?:add_user|change_password|authenticate_user)[ \t]++{_TOKEN}[ \t]++"
            + _ARG
        ),
    ),
    (
        "mc alias set",
        _regex.compile("mc alias set" + _command_start("mc alias set") + rf"(?:[ \t]++{_TOKEN}){{3}}[ \t]++" + _ARG),
    ),
    (
        "wpa_passphrase",
        _regex.compile(
            "wpa_passphrase" + _command_start("wpa_passphrase") + rf"""[ \t]++(?:"[^"\r\n]*+"|{_TOKEN})[ \t]++""" + _ARG
        ),
    ),
)
# (session 22: more commands whose secret is a positional argument or a property's value: ejabberd's "ejabberdctl
# register|change_password|check_password user host X", Prosody's "prosodyctl register user host X" (each after
# the command's options), Mosquitto's "mosquitto_passwd -b [-c] file user X", Poetry's "poetry config
# http-basic.<repo> user X", NetworkManager's "nmcli ... wifi-sec.psk X" and the other secret properties of a
# connection (802-11-wireless-security's psk, wep-key0..3, leap-password; 802-1x's password, pin and private keys'
# passwords; gsm, pppoe's password: "nmcli dev wifi connect S password X" is a field already)
_NMCLI_SECRETS: Final = (
    r"(?:(?:wifi-sec|802-11-wireless-security)\.(?:psk|wep-key[0-3]|leap-password)"
    r"|802-1x\.(?:password|pin|private-key-password|phase2-private-key-password)|(?:gsm|pppoe|cdma)\.password)"
)
CLI_POSITIONAL += (
    (
        "ejabberdctl",
        _regex.compile(
            "ejabberdctl"
            + _command_start("ejabberdctl")
            + rf"(?:[ \t]++{_TOKEN}){{0,6}}?[ \t]++(?:register|change_password|check_password)"
            + rf"[ \t]++{_TOKEN}[ \t]++{_TOKEN}[ \t]++"
            + _ARG
        ),
    ),
    (
        "prosodyctl",
        _regex.compile(
            "prosodyctl"
            + _command_start("prosodyctl")
            + rf"(?:[ \t]++{_TOKEN}){{0,6}}?[ \t]++register[ \t]++{_TOKEN}[ \t]++{_TOKEN}[ \t]++"
            + _ARG
        ),
    ),
    (
        "mosquitto_passwd",
        _regex.compile(
            "mosquitto_passwd"
            + _command_start("mosquitto_passwd")
            + r"(?:\.exe)?+(?:[ \t]++-(?![ac-z]*+b)[a-z]++)*+[ \t]++-[ac-z]*+b[a-z]*+(?:[ \t]++-[a-z]++)*+"
            + rf"[ \t]++(?!-){_TOKEN}[ \t]++(?!-){_TOKEN}[ \t]++"
            + _ARG
        ),
    ),
    (
        "poetry config",
        _regex.compile(
            "poetry config"
            + _command_start("poetry config")
            + rf"(?:[ \t]++-[^\s;|&]*+)*+[ \t]++http-basic\.{_TOKEN}[ \t]++(?!-){_TOKEN}[ \t]++"
            + _ARG
        ),
    ),
    (
        "nmcli",
        _regex.compile(
            "nmcli" + _command_start("nmcli") + r"(?=[ \t])[^\n|;&]{0,400}?[ \t]" + _NMCLI_SECRETS + r"[ \t]++" + _ARG
        ),
    ),
)
# (session 39) OpenSSL's "passwd" hashes the password given as its argument ("openssl passwd -6 [-salt S] X", "-1",
# "-5", "-apr1"; none after "-stdin" or "-in file", which read it); Vault's "operator unseal X" (before 0.9 "vault
# unseal X") takes a share of the root key ("-reset", "-migrate" are options)
_OPENSSL_PASSWD_VALUED: Final = r"(?:salt|in|rand|writerand|provider|provider-path|propquery)"
CLI_POSITIONAL += (
    (
        "openssl passwd",
        _regex.compile(
            "openssl passwd"
            + _command_start("openssl passwd")
            + rf"(?:[ \t]++-{_OPENSSL_PASSWD_VALUED}[ \t]++(?!-){_TOKEN}|[ \t]++-[^\s;|&]*+)*+[ \t]++(?![<>|;&])"
            + _ARG
        ),
    ),
    *(
        (
            command,
            _regex.compile(
                command + _command_start(command) + r"(?:[ \t]++-[^\s;|&]*+)*+[ \t]++(?![^\s=]*+=)(?![<>|;&])" + _ARG
            ),
        )
        for command in ("vault operator unseal", "vault unseal")
    ),
)
#: OpenSSH's ssh-keygen: "-N X" (the new passphrase), "-P X" (the old one); case-sensitive ("-n" names a certificate's
#: principals, "-p" asks to change the passphrase): run on the original text (:data:`CLI_POSITIONAL_CASED`)
#: (one pattern per option, so both are found on one line: "ssh-keygen -p -P old -N new -f key"; the arguments
#: before the option are skipped a whole one at a time, at most 30: a character at a time within 300 characters
#: took 2.24 s of CPU for 4 MB of "ssh-keygen -a -b -c " repeated, this 0.99 s)
CLI_POSITIONAL += tuple(
    (
        "ssh-keygen",
        _regex.compile(
            "ssh-keygen"
            + _word_start("ssh-keygen", r"A-Za-z0-9_\-", (CONTROL_ESCAPE,))
            + rf"(?:\.exe)?+(?:[ \t]++(?!-{option}[ \t])[^\s|;&]*+){{0,30}}+[ \t]++-{option}[ \t]++(?![;|&<>])"
            + _ARG
        ),
    )
    for option in ("N", "P")
)
CLI_POSITIONAL_CASED: Final = frozenset({"ssh-keygen"})
# Windows' commands that take a password (a process-creation event's command line: Security event 4688, Sysmon's
# event 1; the forms tools that search those events for credentials look for): "net user <name> X [/add]" (X is the
# argument after the name that is no "/option" and no "*", which asks for it, and ends the command but for options;
# net.exe, net1.exe), schtasks' "/p X" and the run-as user's "/rp X", PsExec's and PAExec's "-p X", wmic's
# "/password:X", cmdkey's "/pass:X", wevtutil's "/p:X", winrs' "-p:X". The options are the programs' own: "/p" and
# "/pass:" mean other things elsewhere (a URL's path "GET /pass:through", svchost's "-p"). Run on the lower-cased
# text.
_WIN_EXE: Final = r"""[0-9]{0,2}+(?:\.exe)?+"?+(?=[ \t])"""  # (psexec64.exe; the quote of '"C:\...\net.exe" user')
_WIN_OPTIONS: Final = r"""(?:[ \t]++/[^\s;|&<>]*+)*+"""
_WIN_NO_VALUE: Final = r"""(?![/*|&;<>])"""
#: (the command ends after net user's password and its options: a pipe, "&&", a quote, a line break, the text's end;
#: prose "run net user bob to see it" names no password)
_WIN_NET_USER_END: Final = _WIN_OPTIONS + r"""[ \t]*+(?=[|&;<>"'\r\n]|\\[nrt]|$)"""
WINDOWS_NET_USER: Final = tuple(f"{net} user" for net in WINDOWS_NET)
#: (session 38) the commands of :data:`CLI_POSITIONAL` whose double-quoted password is one whatever it holds: cmd.exe
#: quotes an argument holding a blank, so '"my secret"' there is no prose ('net use \\\\h\\s "my secret" /user:u')
CLI_POSITIONAL_QUOTED: Final = frozenset((*(f"{net} use" for net in WINDOWS_NET), *WINDOWS_NET_USER))
CLI_POSITIONAL += (
    *(
        (
            word,
            _regex.compile(
                re.escape(word)
                + _command_start(word)
                + _WIN_OPTIONS
                + r"""[ \t]++(?:"[^"\r\n]*+"|(?![/"])[^\s;|&<>"]++)"""
                + _WIN_OPTIONS
                + r"[ \t]++"
                + _WIN_NO_VALUE
                + _ARG
                + _WIN_NET_USER_END
            ),
        )
        for word in WINDOWS_NET_USER
    ),
    *(
        (
            command,
            _regex.compile(
                command + _command_start(command) + _WIN_EXE + r"[^\n|;&]{0,300}?[ \t]" + option + _WIN_NO_VALUE + _ARG
            ),
        )
        for command, option in (
            ("schtasks", r"/p[ \t]++"),
            ("schtasks", r"/rp[ \t]++"),
            ("psexec", r"-p[ \t]++"),
            ("paexec", r"-p[ \t]++"),
            ("wmic", r"/password:[ \t]*+"),
            ("cmdkey", r"/pass:"),
            ("wevtutil", r"/p(?:assword)?+:"),
            ("winrs", r"[-/]p(?:assword)?+:"),
        )
    ),
)
# A password given to an IRC network's nickname service (Atheme's, Anope's NickServ) as a client's log, a bouncer's or
# a bot's debug output shows it: the raw "PRIVMSG NickServ :IDENTIFY [account] X", a client's "/msg NickServ identify
# [account] X", "/nickserv identify X", "/ns identify X", "NICKSERV IDENTIFY X" (also "NickServ@services.dal.net"):
# the password is IDENTIFY's last argument, the command ends after it (a quote, a line break raw or escaped, the
# text's end); the same for the commands that take a nick, then the password (GHOST, RECOVER, RELEASE, REGAIN: "PRIVMSG
# nickserv :ghost <my nick> <my passwd>", w8tvi/dircproxy#40; flackr/circ#269); REGISTER's password is its first
# argument, an email address may follow ("REGISTER X bob@example.com"). Each pattern with the word it needs (the
# scrubber looks for "nickserv" and "ns " first); run on the lower-cased text, the value read as
# :data:`CLI_POSITIONAL`'s.
#: NickServ's commands whose last argument is a password (after an optional account or a nick: IDENTIFY's account is
#: optional, the others' nick is not)
NICKSERV_LAST: Final = ("identify", "ghost", "recover", "release", "regain")
#: NickServ's commands whose first argument is a password
NICKSERV_FIRST: Final = ("register",)
NICKSERV_COMMANDS: Final = (*NICKSERV_LAST, *NICKSERV_FIRST)
_IRC_ARG: Final = r"""[^\s'"\\`]{1,256}+"""
_NICKSERV_LAST: Final = (
    rf"""[ \t]++:?+(?:identify[ \t]++(?:{_IRC_ARG}[ \t]++(?={_IRC_ARG}[ \t]*+{_PROTOCOL_END}))?+"""
    rf"""|(?:{"|".join(c for c in NICKSERV_LAST if c != "identify")})[ \t]++{_IRC_ARG}[ \t]++)"""
    + _ARG
    + rf"""(?=[ \t]*+{_PROTOCOL_END})"""
)
_NICKSERV_FIRST: Final = (
    rf"""[ \t]++:?+(?:{"|".join(NICKSERV_FIRST)})[ \t]++"""
    + _ARG
    + rf"""(?=(?:[ \t]++{_IRC_ARG})?+[ \t]*+{_PROTOCOL_END})"""
)
_NICKSERV_NAME: Final = "nickserv" + _command_start("nickserv") + r"(?:@[a-z0-9.\-]{1,64}+)?+"
_NS_ALIAS: Final = "ns" + _command_start("ns") + "(?= )"  # ("/ns identify X": the scrubber looks for "ns ")
NICKSERV: Final = (
    ("nickserv", _regex.compile(_NICKSERV_NAME + _NICKSERV_LAST)),
    ("nickserv", _regex.compile(_NICKSERV_NAME + _NICKSERV_FIRST)),
    ("ns ", _regex.compile(_NS_ALIAS + _NICKSERV_LAST)),
    ("ns ", _regex.compile(_NS_ALIAS + _NICKSERV_FIRST)),
)
#: the words of :data:`NICKSERV` (gate words): the service's name, the alias with each command
NICKSERV_WORDS: Final = ("nickserv", *(f"ns {command}" for command in NICKSERV_COMMANDS))
# An auditd record of a command's execution: EXECVE's arguments one field each ('argc=4 a0="sshpass" a1="-p"
# a2="s3cr3t" a3="ssh"'; an argument holding a blank, a quote or a control character written in upper-case hex:
# 'a2=73336372337421'; a long one split into chunks after its length: 'a2_len=15496 a2[0]=... a2[1]=...'),
# PROCTITLE's command line in hex, its arguments NUL-separated ('proctitle=737368706173730...'). Split so, no
# command-line pattern sees an option beside its value: the scrubber joins the arguments into one command line
# (:func:`audit_commands`), scrubs that and writes back each argument it changed. EXECVE's argument count, "argc=",
# and "proctitle=" are the gate words (AUDIT_WORDS).
AUDIT_ARG: Final = _regex.compile(
    r"""(?<![^ \t])a([0-9]{1,5}+)(?:\[([0-9]{1,5}+)\])?+=(?:"([^"\r\n]*+)"|([0-9A-F]{2,}+))(?![^\s])"""
)
AUDIT_PROCTITLE: Final = _regex.compile(r"(?<![^ \t])proctitle=([0-9A-F]{2,}+)(?![^\s])")
AUDIT_WORDS: Final = ("argc=", "proctitle=")
#: an argument of :func:`audit_commands`: the span of its (first chunk's) value, its text, and the spans of its
#: further chunks' fields (each with the blank before it; empty unless the argument was split)
AuditArg = tuple[int, int, str, tuple[tuple[int, int], ...]]


def _audit_hex(value: str) -> str | None:
    """An auditd hex value's text (UTF-8, else Latin-1), or None if it is none."""
    if len(value) % 2:
        return None
    raw = bytes.fromhex(value)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def audit_commands(s: str) -> list[tuple[bool, list[AuditArg]]]:
    """The command lines of the auditd records in ``s``: ``(proctitle, arguments)`` each, an argument as
    :data:`AuditArg` (the span of its value in ``s``, within the quotes of a quoted one). EXECVE's arguments are a0,
    a1... counted from a0 (a hex one decoded; one split into chunks a2[0], a2[1]... joined, in order); PROCTITLE's are
    its hex value's text split at the NULs, and share that value's span."""
    out: list[tuple[bool, list[AuditArg]]] = []
    if "argc=" in s:
        expect = 0
        chunk = -1  # the last chunk of the argument expect - 1 read, or -1 when it was not split
        for m in AUDIT_ARG.finditer(s):
            index = int(m.group(1))
            part = -1 if m.start(2) < 0 else int(m.group(2))
            if index == 0 and part <= 0:
                expect = 0
                out.append((False, []))
            group = 3 if m.start(3) >= 0 else 4
            text = m.group(3) if group == 3 else _audit_hex(m.group(4))
            if out and part > 0 and index == expect - 1 and part == chunk + 1 and out[-1][1]:
                chunk = part  # the argument's next chunk: its text joined, its field to be dropped
                if text is not None:
                    start, end, before, drops = out[-1][1][-1]
                    out[-1][1][-1] = (start, end, before + text, (*drops, (m.start() - 1, m.end())))
                continue
            if index != expect or not out or part > 0:
                continue
            expect += 1
            chunk = part
            if text is not None:
                out[-1][1].append((m.start(group), m.end(group), text, ()))
    if "proctitle=" in s:
        for m in AUDIT_PROCTITLE.finditer(s):
            text = _audit_hex(m.group(1))
            if text is not None:
                out.append((True, [(m.start(1), m.end(1), arg, ()) for arg in text.rstrip("\0").split("\0")]))
    return out


#: the command words of :data:`CLI_POSITIONAL` (gate words: each pattern needs its own)
CLI_POSITIONAL_WORDS: Final = tuple(command for command, _ in CLI_POSITIONAL)

#: The options of :data:`CLI_SHORT` after their blank, or its command: each pattern needs one (curl's --user needs
#: "--"; FreeRDP's "/p:" its command's name).
CLI_SHORT_OPTIONS: Final = (" -p", "\t-p", " -a", "\t-a", " -u", "\t-u", "ldap", "openssl", "freerdp", "snmp")
#: Where the scrubber looks for :data:`CLI_SHORT`'s patterns in the lower-cased text: each needs one of its options
#: after a blank ("-p", "-a", "-u", "-w", "-k", net-snmp's "-c" and "-x", curl's "--user", "--proxy-user"), FreeRDP's
#: "/p:" its command's name (the caller's check). One search from the literal "-" (the blank checked behind it): 2.3x
#: cheaper on real logs than searching for " -" and then each option apart, and no line of them holds one.
CLI_SHORT_OPTION_SEARCH: Final = _regex.compile(r"-(?<=[ \t]-)(?:[pauwkxc]|-user|-proxy-user)").search
#: The commands of :data:`CLI_SHORT` whose options differ by case: their pattern runs on the original text (mysql's and
#: mariadb's "-P" is the port, "-p" the password: "mysql -h db -P 3306 -u root -pX"; ipmitool's the other way round)
CLI_SHORT_CASED: Final = frozenset({"mysql", "mariadb", "ipmi", "snmp", "mosquitto"})
# (ldap*'s "-w" and openssl's "-k" by their command's name: " -w" and " -k" as gate words made the gate's search,
# which every logged string goes through, 4 % slower on real logs)

# -- JWS signing input: header.payload without the signature (what JOSE libraries sign and keep in locals) -------
SIGNING_INPUT_RE: Final = _regex.compile(
    "eyJ"
    + _word_start("eyJ", r"A-Za-z0-9_\-")
    + rf"{_B64}{{5,}}+{_PAD}{_DOT}eyJ{_B64}{{5,}}+{_PAD}(?![A-Za-z0-9_\-.]|%2[Ee])"
)


# -- private keys: PEM blocks, private JWK members ---------------------------------------------------------------
# A PEM private key (BEGIN armour labelled RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP ... BLOCK, or unlabelled): the
# armour, optional RFC 1421/4880 headers (Proc-Type, DEK-Info, Version...), the base64 body and the END armour, as a
# log holds it: lines broken by newlines, blanks, or newlines escaped once or twice (JSON, reprs, JSON in JSON). Runs
# on the original text (the armour is upper case). Without its END (a truncated dump, a line of a log read line by
# line) the block runs to the end of its body (fail closed). Public keys and certificates are no match.
_PEM_LABEL: Final = r"(?:[A-Z0-9]{1,16} ){0,3}?PRIVATE KEY(?: BLOCK)?"
_PEM_BREAK: Final = r"(?:[ \t\r\n]|\\\\?[rn])"
_PEM_HEADER: Final = r"(?:Proc-Type|DEK-Info|Version|Comment|Hash|Charset|MessageID):[ \t][^\s\\]{0,128}+"
_PEM_B64: Final = r"[A-Za-z0-9+/=]"
PEM_PRIVATE: Final = _regex.compile(
    # (each body step is breaks then a header or a base64 run: trailing breaks stay outside the match, so a line's
    # block ends where the line ends; every repetition is possessive: linear)
    rf"-----BEGIN (?P<label>{_PEM_LABEL})-----(?P<body>(?:{_PEM_BREAK}*+(?:{_PEM_HEADER}|{_PEM_B64}++))*+)"
    rf"(?P<end>{_PEM_BREAK}*+-----END {_PEM_LABEL}-----)?"
)
#: A PEM private key block stored base64-encoded (a Kubernetes Secret's ``tls.key``, a kubeconfig's
#: ``client-key-data``, a Helm value): "LS0tLS1CRUdJTi" is the base64 of "-----BEGIN" at the start of the encoded
#: text; the caller decodes the armour and takes the run when it labels a private key (a certificate's
#: ``client-certificate-data`` is kept). Runs on the original text; the run starts at a base64 run's start.
B64_PEM: Final = _regex.compile(
    "LS0tLS1CRUdJTi" + _word_start("LS0tLS1CRUdJTi", r"A-Za-z0-9+/") + r"[A-Za-z0-9+/]{16,}+={0,2}+"
)
B64_PEM_START: Final = "LS0tLS1CRUdJTi"
_PEM_ARMOUR: Final = _regex.compile(rf"-----BEGIN {_PEM_LABEL}-----")


_B64_WRAP_LINE: Final = _regex.compile(r"\r?\n([A-Za-z0-9+/]++={0,2}+)(?=\r?\n|\Z)")


def b64_wrapped_end(text: str, end: int, width: int) -> int:
    """The end of a base64 run wrapped over lines (``base64`` without ``-w 0``: lines of ``width`` characters, the
    last one shorter or padded) whose first line ends at ``end``; ``end`` when no line goes on with it."""
    while True:
        m = _B64_WRAP_LINE.match(text, end)
        if m is None:
            return end
        n = len(m.group(1))
        if n > width:
            return end
        end = m.end()
        if n < width or m.group(1)[-1] == "=":
            return end


def b64_pem_private(run: str) -> bool:
    """The base64 ``run`` (:data:`B64_PEM`) encodes a PEM block whose BEGIN armour labels a private key."""
    try:
        head = base64.b64decode(run[:96] if len(run) >= 96 else run[: len(run) // 4 * 4], validate=False)
    except (ValueError, TypeError):
        return False
    return _PEM_ARMOUR.match(head.split(b"\n", 1)[0].decode("latin-1")) is not None


#: A line inside a PEM private key block (between armours that are on other lines): a base64 run (group "b64"),
#: a header, or nothing. The scanner reads lines one by one: it redacts such lines after an open BEGIN line.
PEM_BODY_LINE: Final = _regex.compile(rf"[ \t]*+(?:(?P<b64>{_PEM_B64}++)|{_PEM_HEADER})?[ \t\r]*+")
_PEM_STRIP: Final = _regex.compile(_PEM_HEADER + r"|\\++[rn]|[^A-Za-z0-9+/=]++")


def pem_credential(m: re.Match[str]) -> str:
    """What a :data:`PEM_PRIVATE` match is fingerprinted by: its body's base64 characters, without headers (so the
    same key gives the same marker with raw or escaped newlines), or the armour when the body is not in the text."""
    body = _PEM_STRIP.sub("", m.group("body"))
    return body or m.group(0)


#: A line break before a line of a PEM block: raw, or escaped once or twice (a JSON string, JSON inside JSON)
_PEM_LINE_BREAK: Final = _regex.compile(r"\r?\n|(?:\\{1,2}r)?\\{1,2}n")
#: What follows a line's prefix on a line of a PEM block: a base64 run, a header or the END armour, then the line's end
_PEM_PREFIXED_LINE: Final = _regex.compile(
    rf"[ \t]*+(?:(?P<b64>{_PEM_B64}++)|{_PEM_HEADER}|(?P<end>-----END {_PEM_LABEL}-----))[ \t\r]*+"
    rf"(?=\r?\n|\\{{1,2}}[rn]|\Z)"
)
_DIGITS_AS_0: Final = str.maketrans("123456789", "000000000")
#: The longest line prefix read (a timestamp and a tag, a traceback's "    | ", a pod's name)
_PEM_PREFIX_MAX: Final = 96


def pem_blocks(text: str) -> Iterable[tuple[int, int, str]]:
    """``(start, end, credential)`` of each PEM private key block of ``text`` (:data:`PEM_PRIVATE`, fingerprinted by
    :func:`pem_credential`). A block whose lines start with the prefix of its BEGIN line (an ExceptionGroup
    traceback's "    | ", "> ", "# ", "[pod/x] ", a timestamp: the same text but for its digits) is one block too:
    its body is read over the prefixes (:func:`_pem_prefixed`) up to its END (or its last body line), so the marker
    covers the whole block."""
    done = 0
    for m in PEM_PRIVATE.finditer(text):
        if m.start() < done:
            continue
        start, end = m.span()
        credential = pem_credential(m)
        if m.group("end") is None:
            walked = _pem_prefixed(text, m)
            if walked is not None and walked[0] > end:
                end, body = walked
                credential = body or text[start:end]
        done = end
        yield start, end, credential


def _pem_prefixed(text: str, m: re.Match[str]) -> tuple[int, str] | None:
    """``(end, base64 body)`` of the lines after the BEGIN armour of a PEM match ``m`` without END that start with
    its BEGIN line's prefix (not blank: blanks are the expression's own breaks), up to the END armour, a line
    without body, a header or END, or another prefix; None when no line goes on. Each line is read once."""
    start = m.start()
    real = text.rfind("\n", max(0, start - _PEM_PREFIX_MAX - 2), start)
    escaped = text.rfind("\\n", max(0, start - _PEM_PREFIX_MAX - 2), start)
    line = max(real, escaped + 1 if escaped >= 0 else -1) + 1
    if line == 0 and start > _PEM_PREFIX_MAX:
        return None
    prefix = text[line:start]
    if not prefix.strip(" \t") or len(prefix) > _PEM_PREFIX_MAX:
        return None
    shape = prefix.translate(_DIGITS_AS_0)  # (a timestamp's digits change from line to line)
    n = len(prefix)
    # (from the armour's end: the expression may have read the next line's prefix as body, "2026" of a timestamp)
    pos, end = m.start("body"), -1
    body: list[str] = []
    while True:
        br = _PEM_LINE_BREAK.match(text, pos)
        if br is None:
            break
        q = text[br.end() : br.end() + n]
        if q != prefix and q.translate(_DIGITS_AS_0) != shape:
            break
        content = _PEM_PREFIXED_LINE.match(text, br.end() + n)
        if content is None:
            break
        pos = content.end()
        if content.group("b64") is not None:
            body.append(content.group("b64"))
            end = content.end("b64")
        elif content.group("end") is not None:
            end = content.end("end")
            break
        else:  # a header
            end = content.end()
    return (end, "".join(body)) if end >= 0 else None


def pem_open(line: str) -> bool:
    """Whether a line ends inside a PEM private key block: its last BEGIN armour has no END after it and nothing
    but body follows (the lines after it are the block's body)."""
    if "-----BEGIN " not in line:
        return False
    last = None
    for m in PEM_PRIVATE.finditer(line):
        last = m
    return last is not None and last.group("end") is None and not line[last.end() :].strip(" \t\r")


# A JWK (RFC 7517/7518) as JSON, a Python repr, or escaped inside a JSON string: an object with a "kty" member. Its
# private members (EC/OKP "d", RSA "d" "p" "q" "dp" "dq" "qi" "oth", oct "k") are redacted; the public ones (kty,
# crv, x, y, n, e, kid, alg, use, x5c...) are kept. An object is read between braces, holding arrays of strings or
# of flat objects (x5c, key_ops, oth; a JWKS's "keys"), no other nesting; each attempt reads up to the next brace it
# cannot take, so attempts never overlap by more than one flat object: linear. (Pretty-printed JSON spans lines; no
# class takes a "<", which no JWK holds: the scanner's batches, lines joined by "\n<\n", are never read across.)
_JWK_ARRAY: Final = r"\[(?:[^\[\]{}<]|\{[^{}<]*+\})*+\]"
JWK_OBJECT: Final = _regex.compile(r"\{(?:[^{}\[\]<]|" + _JWK_ARRAY + r")*+\}")
_JQ: Final = r"""\\{0,3}+["']"""
#: The "kty" member a JWK object must hold.
JWK_KTY: Final = _regex.compile(rf"kty{_JQ}[ \t]*+:")
JWK_PRIVATE_NAMES: Final = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
#: A private member and its value (a base64url string, or the "oth" array).
JWK_PRIVATE_MEMBER: Final = _regex.compile(
    rf"(?P<q>{_JQ})(?:dp|dq|qi|d|p|q|k|oth)(?P=q)[ \t]*+:[ \t]*+"
    r"(?:(?P<vq>" + _JQ + r")(?P<value>[A-Za-z0-9_\-+/]++=*+)(?P=vq)|(?P<array>" + _JWK_ARRAY + "))"
)


#: the spellings of a token's "." and "=" that :data:`JOSE` reads (percent-encoded once or twice, a JSON escape)
_SEPARATOR_SPELLINGS: Final = (
    *(("%252" + c, ".") for c in "Ee"),
    *(("%253" + c, "=") for c in "Dd"),
    *(("%2" + c, ".") for c in "Ee"),
    *(("%3" + c, "=") for c in "Dd"),
    *(("\\u002" + c, ".") for c in "Ee"),
    *(("\\u003" + c, "=") for c in "Dd"),
)


def plain_separators(run: str) -> str:
    """``run`` with its escaped separators written plainly (before session 33 only "%2E" and "%3D" were: a token
    percent-encoded twice or with JSON "\\u002e" dots was not found)."""
    if "%" in run or "\\" in run:
        for spelled, plain in _SEPARATOR_SPELLINGS:
            run = run.replace(spelled, plain)
    return run


def is_signing_input(run: str) -> bool:
    """Whether ``header.payload`` is a JWS signing input: both segments decode to JSON objects and the header
    names an ``alg``."""
    run = plain_separators(run)
    head, _, payload = run.partition(".")
    raw = _b64_head(head, 4096)
    return raw is not None and raw.startswith(b"{") and b'"alg"' in raw and is_header(payload)


# Fast negative check: text without any of these characters cannot contain a detectable secret.
# (JOSE needs "." or "%", header/field/query forms need ":" "=" "," or a percent escape, URLs "://".)
TRIGGER: Final = _regex.compile(r"[.:=,%]")
# Every name/value form (headers, fields, query parameters, URL userinfo) needs one of these; without them only
# JOSE and "Bearer <credentials>" can match.
SEPARATORS: Final = _regex.compile(r"[:=,%]")

# Words one of which every keyword-led detector of the scrubber needs in the lower-cased text: Authorization
# headers, "<scheme> <credentials>", cookies, query parameters, OAuth codes, secret-named fields (their stems;
# "api"/"private" only as parts of a key name), command-line options, XML elements, glued JOSE
# runs and signing inputs ("eyJ"). A word that contains another is left out (the shorter one is found).
# JOSE runs and URL userinfo are checked on their own in :func:`may_hold_secret`; vendor prefixes join the words.
#: Gate words of the detectors whose matches may hold none of :data:`TRIGGER`'s characters ``.:=,%``:
#: "<scheme> <credentials>", command lines (short options, positional passwords), SASL's, NickServ's commands,
#: Oracle's logons ("sqlplus u/x@db": "/" and "@" are no trigger characters), SQL's "IDENTIFIED BY x", PowerShell's
#: ConvertTo-SecureString. The log redactors' cheap gate (:mod:`jwtobs.redact.processors`) sends a text without a
#: trigger character to the scrubber only when it holds one of these (or another form that needs no separator): a
#: new detector of that kind names its word here (before session 20 the last four were missing there, and such
#: lines reached the logs unscrubbed while ``scrub()`` redacted them).
TRIGGER_FREE_WORDS: Final = (
    *SCHEME_CRED,
    "--",
    *(command for command, _ in CLI_SHORT),
    *CLI_POSITIONAL_WORDS,
    *SASL_WORDS,
    *NICKSERV_WORDS,
    *ORACLE_CLIENTS,
    "identified",
    "securestring",
    STDIN_PASSWD_WORD,
    "setuser",  # Redis's ACL SETUSER (REDIS_ACL_PASSWORD)
    COWRIE_LOGIN_WORD,
    *COOKIE_JAR_WORDS,  # (a cookie file's line for "localhost" may hold no trigger character)
    *CLEAR_SCHEME_WORDS,  # ("{PLAIN}x" alone: session 39)
)


_GATE_WORDS: Final = (
    "authorization",
    *SCHEME_CRED,
    "cookie",
    *QUERY_WORDS,
    "code",
    *(w for word, words, _ in TEXT_FIELDS for w in (words or (word,))),
    "--",
    *CLI_SHORT_OPTIONS,
    "</",
    "eyj",
    "kty",  # a JWK (a PEM block's armour holds "--")
    "netloc=",  # URL userinfo in a SplitResult's repr (the other URL userinfo: "://" and "@", checked apart)
    "input_value=",  # a validation error echoing its input (VALIDATION_INPUT)
    *(f"@{net}(" for net in ("tcp", "tcp6", "udp", "unix")),  # Go's MySQL DSN (GO_DSN)
    "'loc'",
    '"loc"',
    "identified",  # a SQL statement's password (SQL_PASSWORD; its other form holds "pass")
    "ls0tls1crudjti",  # a PEM block stored base64-encoded (B64_PEM)
    "jdbc:oracle",  # JDBC_ORACLE
    "login(",  # AUTH_PAIR's logins and binds (its other forms hold "auth"), PHP_LOGIN's ftp_login
    *PHP_LOGIN_WORDS,
    " login ",  # PROTOCOL_LOGIN's IMAP login (its other forms hold "pass" or "auth")
    "setuser",  # Redis's ACL SETUSER ... >x (REDIS_ACL_PASSWORD)
    "simple_bind",
    *CLI_POSITIONAL_WORDS,
    *NICKSERV_WORDS,
    *AUDIT_WORDS,  # auditd's records of a command (audit_commands)
    *ORACLE_CLIENTS,  # (their logon "user/x@connect": ORACLE_LOGONS)
    "securestring",  # PowerShell's ConvertTo-SecureString (PS_SECURESTRING, PS_SECURESTRING_BINDING)
    "hmac",  # a webhook's signature header (WEBHOOK_SIGNATURE; its other names hold "sig", a query word)
    "csrf",  # an anti-forgery token's name (META_CONTENT, NAME_VALUE: '<meta name="_csrf" content="x">')
    "xsrf",
    *COMPOSER_WORDS,  # Composer's tokens for a host (COMPOSER_AUTH, COMPOSER_CONFIG)
    *COWRIE_WORDS,  # the Cowrie honeypot's "login attempt [user/x] failed" and the like (COWRIE_LOGIN)
    *CI_SECRET_WORDS,  # a CI log's "::add-mask::x", "##vso[task.setsecret]x" (CI_SECRET)
    *COOKIE_JAR_WORDS,  # a Netscape cookie file's line (COOKIE_JAR_LINE)
    *VAULT_KEY_WORDS,  # Vault's "Unseal Key 1: x" (VAULT_KEY_LINE; session 39)
    "resp=",  # Dovecot's "AUTH<TAB>1<TAB>PLAIN<TAB>...resp=x" (DOVECOT_AUTH_RESP; session 39)
    *CLEAR_SCHEME_WORDS,  # "{PLAIN}x" (CLEAR_SCHEME; session 39)
    ":: ",  # LDIF's base64 "userPassword:: x" (LDIF_B64; session 39)
)


def _shortest(words: tuple[str, ...]) -> tuple[str, ...]:
    """``words`` without those that hold another one (a text holding the longer one holds the shorter one too)."""
    return tuple(sorted({w for w in words if not any(o != w and o in w for o in words)}, key=lambda w: (-len(w), w)))


GATE_WORDS: Final = _shortest(_GATE_WORDS)


def rare_anchored(words: tuple[str, ...], rarity: str) -> re.Pattern[str]:
    """A pattern that finds any of ``words`` (as literals), each found from its rarest character (``rarity``
    lists characters rarest first; others count as frequent): the engine skips along to positions holding
    one of those characters and checks the rest around it with fixed-width lookarounds, instead of trying
    every word at every position of a common first letter. Linear: each position is read by a bounded number
    of fixed-width checks."""
    rank = {c: i for i, c in enumerate(rarity)}
    by_anchor: dict[str, list[tuple[str, str]]] = {}
    for w in sorted(set(words)):
        i = min(range(len(w)), key=lambda j: rank.get(w[j], len(rank)))
        by_anchor.setdefault(w[i], []).append((w[: i + 1] if i else "", w[i + 1 :]))
    alternatives = []
    for anchor, around in sorted(by_anchor.items()):
        checks = [(f"(?<={re.escape(b)})" if b else "") + (f"(?={re.escape(a)})" if a else "") for b, a in around]
        if "" in checks:
            alternatives.append(re.escape(anchor))
            continue
        # many words on one anchor ("_" of "ghp_", "pnu_", "sm_pat_"...): one class check of the characters next
        # to it first, so most of the anchor's occurrences in text are passed over without trying every word
        quick = ""
        if len(checks) > 2:
            if all(len(b) >= 2 for b, _ in around):
                quick += f"(?<=[{_class(b[-2] for b, _ in around)}].)"
            if all(a for _, a in around):
                quick += f"(?=[{_class(a[0] for _, a in around)}])"
        alternatives.append(re.escape(anchor) + quick + "(?:" + "|".join(checks) + ")")
    return _regex.compile("|".join(alternatives))


def _class(chars: Iterable[str]) -> str:
    """The inside of a character class holding ``chars``."""
    return "".join(re.escape(c) if c in "\\]^-[" else c for c in sorted(set(chars)))


# characters of the words by frequency in the real logs of tests/redact (Loghub samples, Apache), rarest first
_RARE_LOWER: Final = "<qjzxywkvbfug_hdp-ml/ncrisaote.0123456789"
_RARE_MIXED: Final = "<VZqXjBzKALICHNWGE_xvSwyMkfgTbhum9pd-l3nc5rs/iat.o1e0"
#: Any vendor key prefix or infix anchor (a vendor key holds its whole prefix; run on the original text).
VENDOR_PREFIX_SEARCH: Final = rare_anchored((*VENDOR_ROOTS, *INFIX_ANCHORS), _RARE_MIXED)
#: Text from this length on is cheaper to check with Hyperscan than with ``re`` (measured: equal at 40-60).
HS_MIN_LEN: Final = 64


def _long_key_prefixes() -> tuple[str, ...]:
    """The vendor prefixes all of whose keys are :data:`HS_MIN_LEN` characters or more (the prefix, the body's
    literals and its first class's count: a lower bound of the key's length)."""
    shortest: dict[str, int] = {}
    for prefixes, body in _VENDOR_SHAPES:
        m = _BODY_START.match(body)
        assert m is not None, body
        n = len(re.sub(r"\\(.)", r"\1", m.group(1))) + int(m.group(3))
        for prefix in prefixes:
            shortest[prefix] = min(shortest.get(prefix, n + len(prefix)), n + len(prefix))
    return tuple(prefix for prefix, n in shortest.items() if n >= HS_MIN_LEN)


#: Prefixes of keys of :data:`HS_MIN_LEN` characters or more ("ATATT3", "EAAM", "ops_eyJ"...): a shorter text holds
#: none of their keys. They are left out of :data:`GATE_SEARCH` (lower-cased, "atatt3" and "eaam" are made of the
#: commonest letters: the search would stop at every "a" and "m"); a longer text is searched for them on its own
#: (:func:`may_hold_secret_re`; the Hyperscan gate holds them as its other words).
LONG_KEY_PREFIXES: Final = _long_key_prefixes()
_LONG_VENDOR_SEARCH: Final = rare_anchored(LONG_KEY_PREFIXES, _RARE_MIXED).search
#: The gate words and the lower-cased vendor prefixes but :data:`LONG_KEY_PREFIXES`, in one search of the
#: lower-cased text (a text that holds a prefix holds it lower-cased in its lower-cased copy), without those that
#: hold another ("accountkey": "key").
_GATE_ALL: Final = _shortest(
    (*GATE_WORDS, *(v.lower() for v in (*VENDOR_ROOTS, *INFIX_ANCHORS) if v not in LONG_KEY_PREFIXES))
)
GATE_SEARCH: Final = rare_anchored(_GATE_ALL, _RARE_LOWER)


_CLI_POSITIONAL_SEARCH: Final = rare_anchored(CLI_POSITIONAL_WORDS, _RARE_LOWER).search


def cli_positional_hint(low: str) -> bool:
    """The lower-cased text holds a command word of :data:`CLI_POSITIONAL` (one search anchored on the words' rarest
    characters: with session 21's Windows commands, 18 words, a substring search each took 2.0 us per real log line,
    this 0.9 us, the 6 words before 0.7 us)."""
    return _CLI_POSITIONAL_SEARCH(low) is not None


_GATE_SEARCH: Final = GATE_SEARCH.search
_JOSE_SEARCH: Final = JOSE.search
_ESCAPED_JOSE_SEARCH: Final = ESCAPED_JOSE.search
_STD_JOSE_SEARCH: Final = STD_JOSE.search
_B64_JOSE_HINT_SEARCH: Final = B64_JOSE_HINT.search
#: The shortest vendor key (a prefix of 5 and a body of 10 characters).
VENDOR_MIN_LEN: Final = 15


def b64_jose_hint(text: str) -> bool:
    """Whether ``text`` holds a :data:`B64_JOSE_HINT` (the base64 of a JOSE header start: a run that needs no
    trigger character, no "." and no "eyJ")."""
    return any(word in text for word in _B64_HINT_STARTS) and _B64_JOSE_HINT_SEARCH(text) is not None


def may_hold_secret(text: str) -> bool:
    """False only when no detector of the scrubber can match ``text`` (it would be returned unchanged): none of
    :data:`GATE_WORDS` and no vendor key prefix in its lower-cased copy, no JOSE run (nor the base64 of one:
    :data:`B64_JOSE_HINT`) and no URL userinfo. A cheap
    check (two C-level searches at most) run before the scrubber's full pass; ``tests/redact/test_sinks.py``
    checks it against the scrubber on every form and on generated text.

    ASCII text of :data:`HS_MIN_LEN` characters or more goes through Hyperscan when it is installed (the ``scan``
    extra; :class:`HyperscanGate`: one automaton pass, ~5x cheaper on a 240-character log line; each call costs
    ~0.5 us, so shorter text stays on ``re``), other text and every text without Hyperscan through Python's
    ``re``; both say "may" for the same texts (the automaton's JOSE check is looser)."""
    if len(text) >= HS_MIN_LEN and text.isascii():
        gate = hyperscan_gate()
        if gate is not None:
            hit = gate.may_hold(text)
            if hit is not None:
                return hit
    return may_hold_secret_re(text)


def may_hold_secret_re(text: str) -> bool:
    """:func:`may_hold_secret` on Python's ``re`` only (any text)."""
    if _GATE_SEARCH(lower(text)) is not None:
        return True
    if len(text) >= HS_MIN_LEN and _LONG_VENDOR_SEARCH(text) is not None:
        return True
    if b64_jose_hint(text):
        return True
    if ("." in text or "%" in text or "\\" in text) and (
        _JOSE_SEARCH(text) is not None
        or (("%" in text or "\\" in text or "\x1b" in text) and _ESCAPED_JOSE_SEARCH(text) is not None)
        or (("+" in text or "/" in text) and ("ey" in text or "ew" in text) and _STD_JOSE_SEARCH(text) is not None)
    ):
        return True
    if ":" in text and pgpass_hint(text):
        return True
    if cas_ticket_hint(text):
        return True
    if "://" in text and url_userinfo_hint(text):
        return True
    # a URL written with value escapes ("https:\\/\\/u:pw@h", "https%3A%2F%2Fu%3Apw%40h")
    return ("@" in text or "%40" in text) and escaped_url_lead(text)


#: What the automaton of :class:`HyperscanGate` looks for besides the words: a superset of :data:`JOSE` and
#: :data:`STD_JOSE` (a header start, 6+ more base64 characters, optional padding and a separator: every run holds one).
HS_JOSE: Final = r"e(?:[w-z0-9_\-][A-Za-z0-9_\-]{6,}|[wy][A-Za-z0-9_\-+/]{6,})" + PAD_ONE + "{0,2}" + DOT


def _hs_literal(word: str) -> str:
    return "".join(f"\\x{ord(c):02x}" for c in word)


def hs_gate_expressions() -> list[tuple[str, bool]]:
    """``(expression, caseless)`` of :class:`HyperscanGate`: every gate word and vendor prefix (caseless: on
    ASCII text that is the lower-cased search of :func:`may_hold_secret_re`, looser for :data:`LONG_KEY_PREFIXES`),
    :data:`HS_JOSE`, :data:`B64_JOSE_HINT`, :data:`PGPASS_HINT_HS`, :data:`CAS_TICKET_HINT`, then
    :data:`ESCAPED_URL_LEAD` and "://" (last: a hit only together with "@" or a userinfo cut short,
    :func:`url_userinfo_hint`, or "%40" for the escaped one)."""
    words = sorted(_shortest((*_GATE_ALL, *(v.lower() for v in LONG_KEY_PREFIXES))))
    return [
        *((_hs_literal(w), True) for w in words),
        (HS_JOSE, False),
        (B64_JOSE_HINT.pattern, False),
        (PGPASS_HINT_HS, False),
        (CAS_TICKET_HINT, False),
        (ESCAPED_URL_LEAD.pattern, False),
        (_hs_literal("://"), False),
    ]


class HyperscanGate:
    """:func:`may_hold_secret` for ASCII text as one Hyperscan automaton pass (block mode, one scratch space
    per thread: the scan releases the GIL). ``may_hold`` returns None when the scan itself fails (the caller
    then uses ``re``)."""

    __slots__ = ("_db", "_escaped_url", "_hs", "_local", "_scratch", "_url")

    def __init__(self) -> None:
        import hyperscan  # the scan extra

        exprs = hs_gate_expressions()
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(
            expressions=[e.encode() for e, _ in exprs],
            ids=list(range(len(exprs))),
            elements=len(exprs),
            flags=[hyperscan.HS_FLAG_SINGLEMATCH | (hyperscan.HS_FLAG_CASELESS if c else 0) for _, c in exprs],
        )
        self._hs = hyperscan
        self._db = db
        self._url = len(exprs) - 1  # the id of "://" (a hit only with "@" or a userinfo cut short)
        self._escaped_url = len(exprs) - 2  # an escaped "://" (with "@" or "%40")
        self._scratch = hyperscan.Scratch(db)
        self._local = threading.local()

    def may_hold(self, text: str) -> bool | None:
        local = self._local
        try:
            scratch = local.scratch
        except AttributeError:
            scratch = local.scratch = self._scratch.clone()
        hits: list[int] = []
        try:
            # (positional: data, match_event_handler, flags, context, scratch; keywords cost the binding ~0.4 us
            # of argument parsing per call, as much as scanning a 250-character line)
            self._db.scan(text.encode("ascii"), _hs_hit, 0, hits, scratch)
        except Exception:
            return None
        if not hits:
            return False
        url, escaped = self._url, self._escaped_url
        for hit in hits:
            if hit == url:
                if url_userinfo_hint(text):
                    return True
            elif hit == escaped:
                if "@" in text or "%40" in text:
                    return True
            else:
                return True
        return False


def _hs_hit(expr_id: int, _start: int, _end: int, _flags: int, hits: object) -> None:
    hits.append(expr_id)  # type: ignore[attr-defined]  # (the list passed as the scan's context)


_HS_GATE: list[HyperscanGate | None] = []
_HS_LOCK: Final = _forksafe.Lock()


def hyperscan_gate() -> HyperscanGate | None:
    """The process's :class:`HyperscanGate`, built on first use; None without Hyperscan (or when
    ``JWTOBS_REDACT_HYPERSCAN=0``)."""
    if _HS_GATE:
        return _HS_GATE[0]
    with _HS_LOCK:
        if not _HS_GATE:
            gate: HyperscanGate | None = None
            if os.environ.get("JWTOBS_REDACT_HYPERSCAN", "1") != "0":
                try:
                    gate = HyperscanGate()
                except Exception:  # not installed, no build for this CPU, or an expression it cannot compile
                    gate = None
            _HS_GATE.append(gate)
    return _HS_GATE[0]


# Header names whose value is a credential (structured data: dict keys, header tuples, OTel attributes): whole, or
# as the scrubber reads that header's value (Authorization's scheme, Cookie's names, Sec-WebSocket-Protocol's names).
_HEADER_KIND: Final = {
    "authorization": AUTHORIZATION,
    "proxy-authorization": AUTHORIZATION,
    "cookie": COOKIE,
    "set-cookie": COOKIE,
    "dpop": DPOP,
    "x-api-key": API_KEY,
    "api-key": API_KEY,
    "x-auth-token": API_KEY,
    "x-access-token": API_KEY,
    "x-amz-security-token": API_KEY,
    "x-jfrog-art-api": API_KEY,
    "x-honeycomb-team": API_KEY,
    "x-goog-iap-jwt-assertion": JWT,
    "x-csrf-token": SECRET_FIELD,
    "x-xsrf-token": SECRET_FIELD,
    # the names of kind bearer, the only ones whose value is a list: Sec-WebSocket-Protocol, and an ASGI scope's key
    # for that list split at its commas (Starlette's and Django Channels' scope["subprotocols"]); only the credential
    # element is redacted (WEBSOCKET_PROTOCOL_VALUE), the protocol names are kept
    "sec-websocket-protocol": BEARER,
    "subprotocols": BEARER,
}
_HEADER_PREFIXES: Final = (
    "http.request.header.",
    "http.response.header.",
    "http-request-header-",
    "http-response-header-",
)


def header_kind(name: str) -> str | None:
    """Kind for a header/attribute name (``Authorization``, ``http.request.header.authorization``,
    ``HTTP_AUTHORIZATION``, ``x_api_key``...), or None when the name is no credential header."""
    if len(name) <= _CACHED_NAME_MAX:
        return _header_kind_cached(name)
    return _header_kind(name)


def _header_kind(name: str) -> str | None:
    kind = _plain_header_kind(name)
    if kind is None and name[:1] in _ESCAPE_FIRST:  # "u0026Authorization" (after "\\u0026"), "3FCookie"
        m = _ESCAPE_HEAD.match(name)
        if m is not None:
            return _plain_header_kind(name[m.end() :])
    return kind


def _plain_header_kind(name: str) -> str | None:
    n = lower(name.strip()).replace("_", "-")
    if n.startswith("http-") and n[5:] in _HEADER_KIND:  # WSGI environ keys
        n = n[5:]
    for prefix in _HEADER_PREFIXES:
        if n.startswith(prefix):
            n = n[len(prefix) :]
            break
    return _HEADER_KIND.get(n)


def is_secret_name(name: str) -> bool:
    """Whether a field name names a secret (``password``, ``client_secret``, ``x-api-key``, ``session``...);
    :func:`name_strength` tells how much the name alone says."""
    return name_strength(name) != NOT_SECRET_NAME


# Field and header names repeat (the same keys on every event): short ones are classified once. The caches are
# bounded in entries, and only names up to 128 characters are kept, so attacker-chosen names cannot grow them.
_CACHED_NAME_MAX: Final = 128
_header_kind_cached = functools.lru_cache(maxsize=2048)(_header_kind)
_name_strength_cached = functools.lru_cache(maxsize=4096)(_name_strength)


# -- JOSE helpers ----------------------------------------------------------------------------------------------
def _b64_head(segment: str, n: int) -> bytes | None:
    head = _PAD_STRIP.sub("", segment)[:n]
    head = head[: len(head) - len(head) % 4]
    try:
        return base64.urlsafe_b64decode(head)
    except (binascii.Error, ValueError):
        return None


def is_header(segment: str) -> bool:
    """Whether a base64url segment can be a JOSE header: at least 8 characters, an ``e`` then one of w-z,
    0-9, ``-``, ``_``, and (unless it is the usual ``eyJ``) decoding to '{', optional whitespace, '"'.
    The decode check keeps words such as ``eyebrows`` or ``example`` out."""
    if len(segment) < 8 or segment[0] != "e" or segment[1] not in _HEADER_SECOND:
        return False
    if segment.startswith("eyJ"):
        return True
    raw = _b64_head(segment, 24)
    if raw is None:
        return False
    stripped = raw[1:].lstrip(b" \t\r\n")
    return raw[:1] == b"{" and (stripped[:1] == b'"' or (not stripped and len(raw) > 1))


_HEADER_SECOND: Final = frozenset("wxyz0123456789-_")


#: signature bytes per JWS alg (RSA: the usual modulus sizes): a base64url signature of exactly this length is
#: whole, so a "/" after it starts a URL path rather than more of a standard-alphabet signature
_SIG_BYTES: Final = {
    "HS256": (32,),
    "HS384": (48,),
    "HS512": (64,),
    **{f"{f}{n}": (128, 256, 384, 512) for f in ("RS", "PS") for n in (256, 384, 512)},
    "ES256": (64,),
    "ES256K": (64,),
    "ES384": (96,),
    "ES512": (132,),
    "EdDSA": (64, 114),
    "Ed25519": (64,),
    "Ed448": (114,),
    "none": (0,),
}


def is_whole_jws(run: str) -> bool:
    """Whether a :data:`JOSE` match is one JWS whose signature has exactly the length its header's ``alg``
    gives (``/verify/<JWS>/confirm``: the "/" after it is the URL's, not a standard-alphabet signature's)."""
    parts = run.split(".")
    if len(parts) != 3 or len(parts[0]) > 4096 or not is_header(parts[0]):
        return False
    head = _PAD_STRIP.sub("", parts[0])
    try:
        alg = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))).get("alg")
    except (binascii.Error, ValueError, AttributeError, RecursionError):
        return False
    sig = len(_PAD_STRIP.sub("", parts[2]))
    return isinstance(alg, str) and any(sig == (4 * n + 2) // 3 for n in _SIG_BYTES.get(alg, ()))


def is_jwe_header(segment: str) -> bool:
    """Whether a JOSE header announces encryption (an ``enc`` member)."""
    raw = _b64_head(segment, 4096)
    return raw is not None and b'"enc"' in raw


def split_jose(run: str) -> list[tuple[str, str | None]]:
    """Split a :data:`JOSE` match (dot-separated base64url segments) into pieces: ``(token, kind)`` for each
    JWS (3 segments, non-empty payload) or JWE (5 segments) found in it, ``(text, None)`` for the rest.

    A run of exactly 3 or 5 segments is one token (the common case, no decoding for ``eyJ`` headers); other
    runs (a token followed by a sentence's full stop, tokens joined by dots, a dotted name that merely starts
    like a header) are walked segment by segment. Percent-encoded separators are decoded first.
    """
    run = plain_separators(run)
    parts = run.split(".")
    n = len(parts)
    if n == 3 and parts[1] and is_header(parts[0]):
        return [(run, JWT)]
    if n == 5 and is_header(parts[0]) and (not parts[1] or is_jwe_header(parts[0])):
        return [(run, JWE)]
    out: list[tuple[str, str | None]] = []
    plain: list[str] = []
    enc: dict[str, bool] = {}
    i = 0
    while i < n:
        seg = parts[i]
        take = 0
        if i + 2 < n and is_header(seg):
            jwe = enc.get(seg)
            if jwe is None and i + 4 < n:
                jwe = enc[seg] = is_jwe_header(seg)  # headers repeat: decode each distinct one once
            if i + 4 < n and jwe:
                take = 5
            elif parts[i + 1]:
                take = 3
        if take:
            if plain or out:
                plain.append("")  # the dot before the token
            if plain:
                out.append((".".join(plain), None))
                plain = []
            out.append((".".join(parts[i : i + take]), JWE if take == 5 else JWT))
            i += take
            if i < n:
                plain.append("")  # the dot after it
        else:
            plain.append(seg)
            i += 1
    if plain:
        out.append((".".join(plain), None))
    return out


def split_std_jose(run: str) -> list[tuple[str, str | None]]:
    """:func:`split_jose` of a :data:`STD_JOSE` match: its segments read as base64url ("+" as "-", "/" as "_": one
    character for one, so the pieces are the run's own text); a JWS only when its payload is a JSON object too
    (a JWT's always is: "ewog...J9.+.abc+def" is no token)."""
    pieces = split_jose(run.translate(_TO_URLSAFE))
    out: list[tuple[str, str | None]] = []
    at = 0
    for piece, kind in pieces:
        text = run[at : at + len(piece)]
        if kind == JWT and not is_header(piece.split(".")[1]):
            kind = None
        out.append((text, kind))
        at += len(piece)
    return out


def is_jose(value: str) -> str | None:
    """``"jwt"`` or ``"jwe"`` when ``value`` is a whole compact JWS/JWE, else None."""
    value = value.strip()
    if not value.startswith("e"):
        return None
    m = JOSE.fullmatch(value)
    if m is None:
        return None
    pieces = split_jose(m.group(0))
    return pieces[0][1] if len(pieces) == 1 else None
