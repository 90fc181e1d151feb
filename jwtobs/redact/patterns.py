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
import functools
import re
from typing import Final

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
)

MARKER_PREFIX: Final = "[REDACTED:"
_KIND: Final = r"[a-z_]{1,24}"
_FP: Final = r"[0-9a-z]{1,16}-[0-9a-f]{12}"
_MARKER_BODY: Final = _KIND + ":" + _FP + r"\]"
#: A complete marker (only these are left alone: a bare "[REDACTED:" never shields what follows it).
MARKER: Final = re.compile(r"\[REDACTED:" + _MARKER_BODY)
FAILED: Final = "[REDACTION_FAILED]"
#: A complete marker (groups: kind, fingerprint) or the failure marker: what the scanner and Sentry read back.
FINDING: Final = re.compile(rf"\[REDACTED:({_KIND}):({_FP})\]|" + re.escape(FAILED))

# -- JWS / JWE -------------------------------------------------------------------------------------------------
# A JOSE header is base64url of a JSON object: its first character is "e" ("{" = 0b011110|11....) and the
# second is one of w-z, 0-9, "-", "_" ("eyJ" for '{"', "ewo" for '{\n', "ewog" for '{\n ', ...).
# Segments: base64url, optionally "="-padded, separated by "." (or "%2E" when percent-encoded).
# 3 segments = JWS (signature may be empty: alg none), 5 = JWE (encrypted key may be empty: alg dir).
_B64: Final = r"[A-Za-z0-9_\-]"
_PAD: Final = r"(?:=|%3[Dd]){0,2}+"
_DOT: Final = r"(?:\.|%2[Ee])"
JOSE: Final = re.compile(
    # The literal "e" first lets the engine skip to candidate positions; the lookbehind then checks the
    # character before it: a match starts only at the first character of a base64url run. (A token right after
    # a percent or backslash escape, "%3DeyJ...", "\\neyJ...", looks glued to the escape: GLUED_JOSE finds it.)
    rf"e(?<![A-Za-z0-9_\-]e)[w-z0-9_\-]{_B64}{{6,}}+{_PAD}(?:{_DOT}{_B64}*+{_PAD}){{2,}}+",
)
# A JWS/JWE glued to the end of other base64url characters ("xeyJhbGc..."): found from its "eyJ" (the only
# header start that is searched inside a run). Its header may not contain "eyJ" again, so attempts inside one
# run never overlap: each character is read by at most one failed attempt.
GLUED_JOSE: Final = re.compile(
    rf"eyJ(?<=[A-Za-z0-9_\-]eyJ)(?:(?!eyJ){_B64}){{5,}}+{_PAD}(?:{_DOT}{_B64}*+{_PAD}){{2,}}+"
)
_PAD_STRIP: Final = re.compile(r"(?:=|%3[Dd])+\Z")

# -- header-shaped secrets: "Name: value", "'name': 'value'", "(b'name', b'value')", name=value ----------------
# All of these run on the lower-cased text.
# The separator between a header/field name and its value in free text, JSON, Python reprs of dicts and of
# (name, value) tuples (the comma form only between quotes), then an optional list/tuple opening and quote
# (with the b prefix of bytes reprs).
_Q: Final = r"""\\?["']"""
_SEP: Final = (
    rf"""(?:{_Q}?[ \t]*+[:=][ \t]*+|{_Q}[ \t]*+,[ \t]*+)(?:[\[(](?!redacted:{_MARKER_BODY})[ \t]*+)?(?:b?{_Q})?+"""
)

# One auth-param (RFC 9110): name=token or name="quoted" (quotes possibly JSON-escaped).
_PARAM: Final = r"""[a-z_\-]++=(?:\\?"[^"\\\r\n]*+\\?"|[^\s,"'\\\[\]]++)"""
_PARAMS: Final = _PARAM + r"(?:[ \t]*+,[ \t]*+" + _PARAM + r")*+"

# Authorization / Proxy-Authorization (also HTTP_AUTHORIZATION, http.request.header.authorization...): an
# optional scheme then the credentials. Digest and other parameterised schemes: the whole parameter list.
AUTH_HEADER: Final = re.compile(
    rf"authorization(?<![a-z0-9]authorization){_SEP}"
    r"(?:(?P<scheme>[a-z][a-z0-9_\-]*+)[ \t]++)?"
    r"(?P<cred>(?>" + _PARAMS + r"|(?:[^\s\"'\\,;\[\]{}()<>]|\\(?![\"']))++))"
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

# Scheme + credentials in free text without a header name ("... Bearer abc.def ..."), one pattern per scheme
# (each has a literal prefix; the text is checked for the scheme word first).
# (token68 of RFC 9110, at least 8 characters, ending at a delimiter: "Bearer expires_in=3600" is no credential)
_CRED68: Final = r"(?P<cred>[A-Za-z0-9\-._~+/]{8,}+=*+)(?![A-Za-z0-9\-._~+/])"
SCHEME_CRED: Final = {
    scheme: re.compile(rf"{scheme}(?<![a-z0-9]{scheme})[ \t]++" + _CRED68.replace("A-Za-z", "a-z"))
    for scheme in ("bearer", "basic", "dpop")
}

# Cookie / Set-Cookie (also HTTP_COOKIE): the cookie-string, pairs separated by ";" and optional blanks (cookie
# values hold no whitespace), up to other whitespace or the closing quote.
_COOKIE_CHARS: Final = r"""[^\s;"'\\]"""
COOKIE_HEADER: Final = re.compile(
    rf"""cookie(?<![a-z0-9]cookie){_SEP}(?P<value>(?=[^\s"'\\]){_COOKIE_CHARS}*+(?:;[ \t]*+{_COOKIE_CHARS}*+)*+)"""
)

# Secret-named fields in text: password=..., "client_secret": "...", X-API-Key: ..., Creds(token='...').
# One pattern per stem (a literal prefix each; a stem is only searched for when the text contains it). A match
# starts at the stem; the rest of the name before it is read back by the caller (:func:`name_before`).
# The part of the name after the stem is bounded (48), so a run of repeated stems is read a bounded number
# of times.
_FIELD_SEP: Final = (
    rf"""(?:{_Q}?[ \t]*+[:=][ \t]*+|{_Q}[ \t]*+,[ \t]*+(?=b?{_Q}|[\[(]))"""
    rf"""(?:[\[(](?!redacted:{_MARKER_BODY})[ \t]*+)?(?:b(?={_Q}))?"""
)
_FIELD_VALUE: Final = (
    r"""(?:"(?P<dq>(?:[^"\\\r\n]|\\.)*+)|'(?P<sq>(?:[^'\\\r\n]|\\.)*+)|\\["'](?P<eq>[^"'\\\r\n]*+)"""
    r"""|(?P<bare>[^\s,;&"'\\\[\]{}()<>=:][^\s,;&"'\\\[\]{}()<>]*+))"""
)
_STEMS: Final = (
    # (stem pattern, a word the text must contain, words one of which it must contain too) - checked with
    # substring searches on the lower-cased text before the pattern runs
    ("token", "token", ()),
    ("secret", "secret", ()),
    (r"pass(?:w(?:or)?d|phrase)", "pass", ("passw", "passphrase")),
    ("pwd", "pwd", ()),
    (r"api[_\-]?key", "api", ("apikey", "api_key", "api-key")),
    ("session", "session", ()),
    ("credential", "credential", ()),
    (r"private[_\-]?key", "private", ("privatekey", "private_key", "private-key")),
    ("dpop", "dpop", ()),
    ("assertion", "assertion", ()),
)
TEXT_FIELDS: Final = tuple(
    (word, words, re.compile(stem + r"(?P<suffix>[a-z0-9_\-]{0,48}+)" + _FIELD_SEP + _FIELD_VALUE))
    for stem, word, words in _STEMS
)
_SECRET_STEM: Final = "(?:" + "|".join(stem for stem, _, _ in _STEMS) + ")"
SECRET_STEM: Final = re.compile(_SECRET_STEM, re.IGNORECASE)
_EXACT_SECRET_NAMES: Final = frozenset(
    {"auth", "authorization", "proxy-authorization", "pass", "pin", "otp", "sid", "jwt", "cookie", "set-cookie"}
)
_NAME_HEAD: Final = re.compile(r"[a-z0-9_\-]{1,64}+")
#: Values of secret-named fields that hold nothing (JSON/Python literals, an Authorization scheme whose
#: credentials are matched on their own).
EMPTY_VALUES: Final = frozenset(
    {"null", "none", "true", "false", "nil", "undefined", "bearer", "basic", "dpop", "digest", "negotiate"}
)


def name_before(low: str, start: int) -> str:
    """The name characters (up to 64, lower-cased text) that end at ``start`` (read on the reversed slice, so
    the match is anchored at its first character)."""
    m = _NAME_HEAD.match(low[max(0, start - 64) : start][::-1])
    return m.group(0)[::-1] if m else ""


# Names that look secret but hold none (jwtobs's own event fields, token metadata, counters): the last part
# of the name (after "_", "-" or ".") is one of _BENIGN_LAST, or the whole name one of _BENIGN_NAMES.
_BENIGN_LAST: Final = frozenset(
    "fp fingerprint hash type types count len length bytes ttl expire expires expire_in expires_in expire_at "
    "expires_at exp iat nbf kind sink reason outcome endpoint endpoints url uri path alg algs algorithm algorithms "
    "supported format name names header headers limit max min size lifetime timeout scheme schemes required "
    "enabled mode method methods status state".split()
)
_BENIGN_NAMES: Final = frozenset(
    "token_fp jti_hash sub_hash auth_time authority author authors authorization_endpoint token_endpoint "
    "max_tokens session_state".split()
)
#: The same as a regular expression (``NOT_SECRET.match(name)``), for callers that build patterns from it.
NOT_SECRET: Final = re.compile(
    r"(?i)^(?:.*[_\-.])?(?:"
    + "|".join(sorted(w for w in _BENIGN_LAST if "_" not in w))
    + r"|expires?_(?:in|at))$|^(?:"
    + "|".join(sorted(_BENIGN_NAMES))
    + r")$"
)
_NAME_PARTS: Final = re.compile(r"[_\-.]")


def is_benign_name(name: str) -> bool:
    """Whether a name that contains a secret stem holds no secret (``token_fp``, ``token_type``, ``expires_in``,
    ``session_count``...); the same answer as ``NOT_SECRET.match``, without the regex's backtracking."""
    n = name.lower()
    if n in _BENIGN_NAMES:
        return True
    parts = _NAME_PARTS.split(n)
    return parts[-1] in _BENIGN_LAST or (len(parts) > 1 and f"{parts[-2]}_{parts[-1]}" in _BENIGN_LAST)


# Query strings and URL fragments, raw or percent-encoded ("?", "&", "#", ";" as %3F, %26, %23, %3B; "=" as
# %3D), HTML-escaped (&amp;). Runs on the lower-cased text.
_QUERY_NAMES: Final = (
    r"(?:access_token|id_token|refresh_token|subject_token|actor_token|device_code|user_code|code|"
    r"client_secret|client_assertion|assertion|token|api_key|apikey|key|password|passwd|pwd|secret|"
    r"session|sessionid|session_id|jsessionid|phpsessid|sig|signature|jwt|auth|state_token|x-amz-security-token|"
    r"x-amz-signature)"
)
_QUERY_VALUE: Final = r"(?P<value>(?:[^&#\s\"'<>%\\\[\]]|%(?!26|23|3b)[0-9a-f]{2})++)"
QUERY_PARAM: Final = re.compile(
    r"(?:[?&#;]|%(?:3f|26|23|3b))(?:amp;)?(?P<name>" + _QUERY_NAMES + r")(?:=|%3d)" + _QUERY_VALUE
)
# An OAuth code in a form body outside a query string ("code=...&state=..." at the start of a value, after a
# space or quote). A value of digits only (an exit or status code) is kept by the caller.
FORM_CODE: Final = re.compile(r"code(?:(?<![^\s\"'(]code)|(?<=device_code)|(?<=user_code))(?:=|%3d)" + _QUERY_VALUE)

# Userinfo passwords in URLs: scheme://user:password@host (runs on the original text).
URL_USERINFO: Final = re.compile(r"://(?P<user>[^\s/:@\"'<>]*+):(?P<password>[^\s/@\"'<>]++)@")

# Fast negative check: text without any of these characters cannot contain a detectable secret.
# (JOSE needs "." or "%", header/field/query forms need ":" "=" "," or a percent escape, URLs "://".)
TRIGGER: Final = re.compile(r"[.:=,%]")
# Every name/value form (headers, fields, query parameters, URL userinfo) needs one of these; without them only
# JOSE and "Bearer <credentials>" can match.
SEPARATORS: Final = re.compile(r"[:=,%]")

# Header names whose whole value is a credential (structured data: dict keys, header tuples, OTel attributes).
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
    "x-goog-iap-jwt-assertion": JWT,
    "x-csrf-token": SECRET_FIELD,
    "x-xsrf-token": SECRET_FIELD,
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
    n = name.strip().lower().replace("_", "-")
    if n.startswith("http-") and n[5:] in _HEADER_KIND:  # WSGI environ keys
        n = n[5:]
    for prefix in _HEADER_PREFIXES:
        if n.startswith(prefix):
            n = n[len(prefix) :]
            break
    return _HEADER_KIND.get(n)


def is_secret_name(name: str) -> bool:
    """Whether a field name names a secret (``password``, ``client_secret``, ``x-api-key``, ``session``...)."""
    if len(name) <= _CACHED_NAME_MAX:
        return _is_secret_name_cached(name)
    return _is_secret_name(name)


def _is_secret_name(name: str) -> bool:
    name = name[:200]
    if name.lower() in _EXACT_SECRET_NAMES:
        return True
    return SECRET_STEM.search(name) is not None and not is_benign_name(name)


# Field and header names repeat (the same keys on every event): short ones are classified once. The caches are
# bounded in entries, and only names up to 128 characters are kept, so attacker-chosen names cannot grow them.
_CACHED_NAME_MAX: Final = 128
_header_kind_cached = functools.lru_cache(maxsize=2048)(_header_kind)
_is_secret_name_cached = functools.lru_cache(maxsize=2048)(_is_secret_name)


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
    if "%" in run:
        run = run.replace("%2E", ".").replace("%2e", ".").replace("%3D", "=").replace("%3d", "=")
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
