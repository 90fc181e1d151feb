"""Every credential detector of :mod:`jwtobs.redact`, in one module.

All patterns run on Python's ``re`` and are written so that matching is linear in the input length:

* every pattern that starts with a run of characters is anchored by a negative lookbehind on that same
  character class, so a match attempt can only start at the first character of a run, never inside it;
* every repeated class is possessive (``*+``/``++``, Python >= 3.11), so a failed attempt never gives
  characters back: each run is read once by the attempt that starts at its first character;
* the remaining patterns start with a fixed keyword, and what follows it is bounded by possessive classes.

``benchmarks/bench_redact.py`` measures the adversarial inputs (MBs of ``eyJ``, of dots, of ``a.``, of
``Authorization:``...) and ``tests/redact/test_adversarial.py`` bounds them generously.

Each detector is a compiled pattern plus the *kind* written into the marker ``[REDACTED:<kind>:<fp>]``.
"""

from __future__ import annotations

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
FAILED: Final = "[REDACTION_FAILED]"

# -- JWS / JWE -------------------------------------------------------------------------------------------------
# A JOSE header is base64url of a JSON object: its first character is "e" ("{" = 0b011110|11....) and the
# second is one of w-z, 0-9, "-", "_" ("eyJ" for '{"', "ewo" for '{\n', "ewog" for '{\n ', ...).
# Segments: base64url, optionally "="-padded. 3 segments = JWS (signature may be empty: alg none),
# 5 = JWE (encrypted key may be empty: alg dir).
_B64: Final = r"[A-Za-z0-9_\-]"
JOSE: Final = re.compile(
    # the literal "e" first lets the engine skip to candidate positions; the lookbehind then checks the
    # character before it (a match starts only at the first character of a base64url run)
    rf"e(?<!{_B64}e)[w-z0-9_\-]{_B64}{{6,}}+={{0,2}}(?:\.{_B64}*+={{0,2}}){{2,}}+",
)

# -- header-shaped secrets: "Name: value", "'name': 'value'", "(b'name', b'value')", name=value ----------------
# The separator between a header/field name and its value in free text, JSON, Python reprs of dicts and of
# (name, value) tuples, with optional quotes (and the b prefix of bytes reprs).
_SEP: Final = r"""(?:\\?["'])?[ \t]*+(?:[:=]|,[ \t]*+b?)[ \t]*+(?:\\?["'])?"""

# One auth-param (RFC 9110): name=token or name="quoted" (quotes possibly JSON-escaped).
_PARAM: Final = r"""[A-Za-z_\-]++=(?:\\?"[^"\\\r\n]*+\\?"|[^\s,"'\\\[\]]++)"""
_PARAMS: Final = _PARAM + r"(?:[ \t]*+,[ \t]*+" + _PARAM + r")*+"

# Authorization / Proxy-Authorization: an optional scheme then the credentials. Digest and other
# parameterised schemes: the whole parameter list up to the end of the line or the closing quote.
AUTH_HEADER: Final = re.compile(
    rf"(?i)(?<![A-Za-z0-9_\-])(?:proxy-)?authorization{_SEP}"
    r"(?:(?P<scheme>[A-Za-z][A-Za-z0-9_\-]*+)[ \t]++)?+"
    r"(?P<cred>(?>" + _PARAMS + r"|(?:[^\s\"'\\,;\[\]{}()<>]|\\(?![\"']))++))"
)

# Scheme + credentials in free text without a header name ("... Bearer abc.def ...").
SCHEME_CRED: Final = re.compile(
    r"(?i)(?<![A-Za-z0-9_\-])(?P<scheme>bearer|basic|dpop)[ \t]++(?P<cred>[A-Za-z0-9\-._~+/]{8,}+=*+)"
)

# Cookie / Set-Cookie: the value to the end of the line or the closing quote.
COOKIE_HEADER: Final = re.compile(
    rf"(?i)(?<![A-Za-z0-9_\-])(?P<name>set-cookie|cookie){_SEP}(?P<value>[^\r\n\"'\\]++)"
)

# Secret-named headers and fields in text: X-Auth-Token, X-API-Key, DPoP, password=..., "client_secret": "...".
# The name is a word containing one of the secret stems; the value a quoted string or an unquoted word.
_SECRET_STEM: Final = (
    r"(?:token|secret|passw(?:or)?d|passphrase|pwd|api[_\-]?key|apikey|session|credential|private[_\-]?key|"
    r"dpop|assertion)"
)
SECRET_STEM: Final = re.compile(_SECRET_STEM, re.IGNORECASE)
_EXACT_SECRET_NAMES: Final = frozenset({"auth", "authorization", "proxy-authorization", "pass", "pin", "otp", "sid"})
# Matches from the stem on (a fixed keyword: the engine can skip ahead to it); the rest of the name before
# the stem is read back by the caller (:func:`name_before`) when a match needs its full name.
TEXT_FIELD: Final = re.compile(
    r"(?i)" + _SECRET_STEM + r"(?P<suffix>[A-Za-z0-9_\-]*+)"
    + r"(?:\\?[\"'])?[ \t]*+(?:[:=]|,[ \t]*+b?)[ \t]*+"
    + r"(?:(?P<q>\\?[\"'])(?P<qvalue>[^\"'\\\r\n]*+)|(?P<value>[^\s,;&\"'\\\[\]{}()<>]++))"
)
_NAME_TAIL: Final = re.compile(r"[A-Za-z0-9_\-]{0,64}\Z")


def name_before(text: str, start: int) -> str:
    """The name characters (up to 64) that end at ``start``."""
    m = _NAME_TAIL.search(text, max(0, start - 64), start)
    return m.group(0) if m else ""


# Lower-case keywords one of which a text must contain for each keyword detector to run at all.
AUTH_WORDS: Final = ("authorization",)
COOKIE_WORDS: Final = ("cookie",)
SCHEME_WORDS: Final = ("bearer", "basic", "dpop")
FIELD_WORDS: Final = ("token", "secret", "passw", "pwd", "key", "session", "credential", "dpop", "assertion")

# Names that look secret but hold none (jwtobs's own event fields, token metadata, counters).
NOT_SECRET: Final = re.compile(
    r"(?i)^(?:.*[_\-.])?(?:fp|fingerprint|hash|type|types|count|len|length|bytes|ttl|expires?(?:_in|_at)?|"
    r"exp|iat|nbf|kind|sink|reason|outcome|endpoint|endpoints|url|uri|path|method|methods|"
    r"alg|algs|algorithm|algorithms|supported|format|name|names|header|headers|limit|max|min|size|"
    r"lifetime|timeout|scheme|schemes|required|enabled|mode|method|methods|status|state)$|^(?:token_fp|jti_hash|sub_hash|auth_time|"
    r"authority|author|authors|authorization_endpoint|token_endpoint|max_tokens|tokens|session_state)$"
)

# Query strings and URL fragments, raw or percent-encoded ("?", "&", "#" as %3F, %26, %23; "=" as %3D).
_QUERY_NAMES: Final = (
    r"(?:access_token|id_token|refresh_token|subject_token|actor_token|device_code|user_code|code|"
    r"client_secret|client_assertion|assertion|token|api_key|apikey|key|password|passwd|pwd|secret|"
    r"session|sessionid|session_id|sig|signature|jwt|auth|state_token)"
)
QUERY_PARAM: Final = re.compile(
    r"(?i)(?:[?&#;]|%3F|%26|%23|%3B)(?:amp;)?(?P<name>" + _QUERY_NAMES + r")(?:=|%3D)"
    r"(?P<value>(?:[^&#\s\"'<>%\\\[\]]|%(?!26|23|3B)[0-9A-Fa-f]{2})++)"
)

# Userinfo passwords in URLs: scheme://user:password@host
URL_USERINFO: Final = re.compile(r"://(?P<user>[^\s/:@\"'<>]*+):(?P<password>[^\s/@\"'<>]++)@")

# Fast negative check: text without any of these characters/keywords cannot contain a detectable secret.
# (JOSE needs ".", header/field/query forms need ":" "=" "," or a percent escape, URLs "://".)
TRIGGER: Final = re.compile(r"[.:=,%]")

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


def header_kind(name: str) -> str | None:
    """Kind for a header/attribute name (``Authorization``, ``http.request.header.authorization``,
    ``HTTP_AUTHORIZATION``, ``x_api_key``...), or None when the name is no credential header."""
    n = name.strip().lower().replace("_", "-")
    if n.startswith("http-") and n[5:] in _HEADER_KIND:  # WSGI environ keys
        n = n[5:]
    for prefix in ("http.request.header.", "http.response.header.", "http-request-header-", "http-response-header-"):
        if n.startswith(prefix):
            n = n[len(prefix) :]
            break
    return _HEADER_KIND.get(n)


def is_secret_name(name: str) -> bool:
    """Whether a field name names a secret (``password``, ``client_secret``, ``x-api-key``, ``session``...)."""
    name = name[:200]
    if name.lower() in _EXACT_SECRET_NAMES:
        return True
    return SECRET_STEM.search(name) is not None and NOT_SECRET.match(name) is None


def is_jose(value: str) -> str | None:
    """``"jwt"`` or ``"jwe"`` when ``value`` is a whole compact JWS/JWE, else None."""
    m = JOSE.fullmatch(value.strip())
    if m is None:
        return None
    return jose_kind(m.group(0))


def jose_kind(candidate: str) -> str | None:
    """Kind of a :data:`JOSE` match: JWS (3 segments, non-empty payload) or JWE (5 segments), else None.

    Headers other than the usual ``eyJ`` form are decoded to check they start a JSON object ('{' then
    whitespace then '"'), which keeps words such as ``example.company.names`` out.
    """
    parts = candidate.split(".")
    if len(parts) == 3:
        if not parts[1]:
            return None
        kind = JWT
    elif len(parts) == 5:
        kind = JWE
    else:
        return None
    header = parts[0]
    if header.startswith("eyJ"):
        return kind
    import base64
    import binascii

    head = header.rstrip("=")[:24]
    head = head[: len(head) - len(head) % 4]
    try:
        raw = base64.urlsafe_b64decode(head)
    except (binascii.Error, ValueError):
        return None
    stripped = raw[1:].lstrip(b" \t\r\n")
    if raw[:1] == b"{" and (stripped[:1] == b'"' or (not stripped and len(raw) > 1)):
        return kind
    return None
