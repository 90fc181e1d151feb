"""Property tests: credentials of every kind, embedded at random positions of random strings and of random
nested structures (dicts, lists, tuples, sets, bytes), never appear in the output of ``scrub``/``scrub_value``.

Profiles: ``jwtobs-redact-ci`` (200 examples per test, the default) and ``jwtobs-redact-fuzz`` (10,000 examples
per test), selected with ``JWTOBS_FUZZ=1``::

    JWTOBS_FUZZ=1 .venv/bin/python -m pytest tests/redact/test_properties.py -q
"""

from __future__ import annotations

import base64
import os
import re
from typing import Any

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import jwtobs
from jwtobs.redact import FAILED, scrub, scrub_value
from tests.redact.test_forms import tokens

settings.register_profile(
    "jwtobs-redact-ci", max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "jwtobs-redact-fuzz",
    max_examples=10_000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile("jwtobs-redact-fuzz" if os.environ.get("JWTOBS_FUZZ") == "1" else "jwtobs-redact-ci")

# -- ingredients ---------------------------------------------------------------------------------------------
# Random text mixes arbitrary characters with the fragments the detectors key on, so keywords, separators and
# half-tokens appear next to (and glued to) the embedded credential.
FRAGMENTS = [
    "eyJ",
    "ewogIC",
    ".",
    "..",
    "=",
    "==",
    "%3D",
    "%2E",
    "%26",
    "&",
    "?",
    "#",
    ";",
    ":",
    ",",
    " ",
    "\n",
    "\t",
    "'",
    '"',
    "\\",
    "\\n",
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    "<",
    ">",
    "/",
    "://",
    "@",
    "-",
    "_",
    "a",
    "Z",
    "9",
    "Bearer ",
    "Basic ",
    "DPoP ",
    "token",
    "password",
    "secret",
    "session",
    "api_key",
    "Authorization",
    "authorization: ",
    "Cookie: ",
    "set-cookie",
    "access_token=",
    "code=",
    "[REDACTED:jwt:",
    "]",
    "b'",
]
noise = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=6)), max_size=12).map("".join)
# What may separate an embedded credential from the noise around it (nothing, for the glued JWS case).
BOUNDARY = [" ", "\n", "\t", ",", ";", "|", "(", ")", "[", "]", "{", "}", "<", ">", "'", '"', " - ", ": ", "\r\n"]
boundary = st.sampled_from(BOUNDARY)

_OPAQUE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/"
# Opaque credentials look like credentials: at least one digit (an all-letter word after "Bearer" is prose).
opaque = st.builds(
    lambda a, d, b: a + d + b,
    st.text(_OPAQUE_ALPHABET, min_size=6, max_size=40),
    st.sampled_from("0123456789"),
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8),
)
# Passwords: printable, with a digit; not shaped like a path, a placeholder or a template variable, which the
# value rules keep (``PWD=/home/ubuntu``, ``password: ***``, ``password=%s``, ``${DB_PASSWORD}``).
_NOT_A_SECRET_SHAPE = re.compile(r"[~.]*/.*|\*+|%.*|\$.*|[xX#.\-_]{3,}")
password = st.text(
    st.characters(codec="ascii", min_codepoint=33, max_codepoint=126, exclude_characters="\"'\\,;&[]{}()<>=:"),
    min_size=6,
    max_size=32,
).filter(lambda v: any(c.isdigit() for c in v) and not _NOT_A_SECRET_SHAPE.fullmatch(v))
# Values of weakly secret names (session, session_id): session identifiers, 16+ characters with an upper-case
# letter and a digit (numbers, short hex, N_N ids under these names are ids, not credentials).
session_value = st.builds(
    lambda a, u, d: a + u + d,
    st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", min_size=15, max_size=30),
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"),
    st.sampled_from("0123456789"),
)
WEAK_NAMES = frozenset({"session", "session_id"})


def _jose_tokens() -> list[str]:
    t = tokens()
    return [t.rs256, t.es256, t.eddsa, t.hs256, t.none, t.dash_underscore, t.padded, t.ewogic, t.ewoid,
            t.jwe_rsa, t.jwe_dir, t.dpop_proof]  # fmt: skip


jose = st.sampled_from(range(12)).map(lambda i: _jose_tokens()[i])


@st.composite
def credential_form(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A credential in one of its textual forms, and the secrets that must vanish."""
    kind = draw(st.sampled_from(["jose", "auth", "scheme", "cookie", "query", "field", "url"]))
    if kind == "jose":
        tok = draw(jose)
        if "%" in draw(st.sampled_from(["", "%"])):
            tok_text = tok.replace(".", "%2E")
            return tok_text, [tok, tok_text]
        return tok, [tok]
    secret = draw(opaque)
    if kind == "auth":
        name = draw(st.sampled_from(["Authorization", "authorization", "AUTHORIZATION", "Proxy-Authorization"]))
        scheme = draw(st.sampled_from(["Bearer", "bearer", "BASIC", "Basic", "DPoP", "Token", ""]))
        if scheme.lower() == "basic":
            secret = base64.b64encode(f"user{secret}:{secret}".encode()).decode()
        sep = draw(st.sampled_from([": ", ":", "=", "': '", '": "', "', '"]))
        return f"{name}{sep}{scheme + ' ' if scheme else ''}{secret}", [secret]
    if kind == "scheme":
        scheme = draw(st.sampled_from(["Bearer", "bearer", "Basic", "DPoP"]))
        return f"{scheme} {secret}", [secret]
    if kind == "cookie":
        name = draw(st.sampled_from(["Cookie", "cookie", "Set-Cookie", "set-cookie"]))
        return f"{name}: sid={secret}; Path=/", [secret]
    if kind == "query":
        name = draw(st.sampled_from(["access_token", "id_token", "refresh_token", "code", "client_secret"]))
        lead = draw(st.sampled_from(["?", "&", "#", "%3F", "%26", "/cb?x=1&"]))
        eq = "%3D" if lead.startswith("%") else "="
        return f"{lead}{name}{eq}{secret}", [secret]
    if kind == "field":
        name = draw(st.sampled_from(["password", "client_secret", "api_key", "x-api-key", "session", "token",
                                     "db_password", "PASSWORD", "privateKey"]))  # fmt: skip
        value = draw(session_value if name in WEAK_NAMES else password)
        fmt = draw(st.sampled_from(['"{n}": "{v}"', "'{n}': '{v}'", "{n}={v}", "{n}: {v}", "('{n}', '{v}')"]))
        return fmt.format(n=name, v=value), [value]
    value = draw(password.filter(lambda v: "/" not in v and "@" not in v))
    return f"https://user:{value}@host.test/path", [value]


@st.composite
def embedded_with_noise(draw: st.DrawFn) -> tuple[str, list[str], str]:
    """Random text with one credential form inside it, at a random position (and the noise around it)."""
    form, secrets = draw(credential_form())
    glued = form.startswith("eyJ") and "%" not in form  # a JWS/JWE may be glued to the noise before it
    left = draw(st.one_of(st.just(""), boundary) if glued else boundary)
    right = draw(boundary)
    before, after = draw(noise), draw(noise)
    assume(not any(s in before or s in after for s in secrets))  # the noise itself holds no copy of the secret
    return before + left + form + right + after, secrets, before + "\0" + after


embedded = embedded_with_noise().map(lambda c: (c[0], c[1]))

# What real logs glue two credential forms with: query strings and form bodies ("/cb?code=...&access_token=...",
# "token=abc&password=xyz", "?sig=...&X-Amz-Signature=..."), their percent-encoded, HTML-escaped and Go/JSON-escaped
# spellings (Traefik and logrus write "\u0026"), and the blank ones.
JOINS = ["?", "&", "\\u0026", "%26", "%3F", "&amp;", " ", "\n", ", ", "; "]


@st.composite
def two_glued(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Two credential forms joined by one of :data:`JOINS` (no blank between them), inside random text."""
    first, secrets = draw(credential_form())
    second, more = draw(credential_form())
    join = draw(st.sampled_from(JOINS))
    before, after = draw(noise), draw(noise)
    secrets = secrets + more
    assume(not any(s in before or s in after for s in secrets))
    return before + draw(boundary) + first + join + second + draw(boundary) + after, secrets


def setup_module() -> None:
    tokens()  # mint once, outside the timed examples


def _configure() -> None:
    jwtobs.configure(fingerprint_key="redact-properties", fingerprint_key_id="p")


@PROFILE
@given(embedded)
def test_credentials_in_random_text_never_leak(case: tuple[str, list[str]]) -> None:
    _scrubbed_without_secrets(*case)


def _scrubbed_without_secrets(text: str, secrets: list[str]) -> str:
    """scrub(text) as a str that holds none of ``secrets``."""
    _configure()
    out = scrub(text)
    assert isinstance(out, str)
    for s in secrets:
        assert s not in out, (s, text, out)
    return out


@PROFILE
@given(two_glued())
# found by random runs (session 15): a quoted value extended past its closing quote over two credentials left a
# quote that never closes, whose text a second scrub re-marked
@example(("access_token=' Authorization': 'Bearer 00000000&amp;Authorization': 'Bearer 00000000 ", ["00000000"]))
@example(('access_token="Authorization": "Bearer 00000000&amp;Authorization": "Bearer 00000000 eyJ', ["00000000"]))
def test_two_credentials_glued_by_query_separators_never_leak(case: tuple[str, list[str]]) -> None:
    """A second credential glued to the first by "?", "&" (raw, percent-encoded, HTML- or Go-escaped) is found
    too: no value class or lookbehind of the first form's detector swallows or hides it."""
    text, secrets = case
    out = _scrubbed_without_secrets(text, secrets)
    assert scrub(out) == out, (text, out)


# -- names written with characters whose case mapping is odd ------------------------------------------------------
# Characters that case-insensitive matching equates with an ASCII letter (KELVIN SIGN k, LONG S s, DOTTED and
# DOTLESS I i), and characters whose case mapping changes the length or leaves ASCII (U+0130 lowers to two
# characters, U+1E9E, U+00DF, ligatures U+FB01-FB06, ANGSTROM SIGN U+212B, a combining dot).
FOLDS = {"k": ["\u212a"], "K": ["\u212a"], "s": ["\u017f"], "S": ["\u017f"], "i": ["\u0130", "\u0131"],
         "I": ["\u0130", "\u0131"]}  # fmt: skip
ODD = ["\u0130", "\u0131", "\u017f", "\u212a", "\u212b", "\u1e9e", "\u00df", "\ufb01", "\ufb06", "\u0307", "\u03a3"]
SECRET_NAMES = ["password", "PASSWORD", "access_token", "accessToken", "TOKEN", "api_key", "client_secret",
                "session_id", "SESSION", "x-api-key", "private_key"]  # fmt: skip
odd_noise = st.lists(st.one_of(st.sampled_from(ODD + FRAGMENTS), st.text(max_size=4)), max_size=10).map("".join)


@st.composite
def folded_name(draw: st.DrawFn, name: str) -> str:
    """``name`` with some of its k/s/i letters written as the characters case-insensitive matching equates them
    with."""
    out = []
    for c in name:
        out.append(draw(st.sampled_from(FOLDS[c])) if c in FOLDS and draw(st.booleans()) else c)
    return "".join(out)


@st.composite
def unicode_named(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A credential under a name written with :data:`FOLDS` characters, inside text holding :data:`ODD`
    characters (before, after, or both)."""
    how = draw(st.sampled_from(["field", "json", "query", "header", "cookie"]))
    if how == "header":
        name = draw(folded_name(draw(st.sampled_from(["Authorization", "AUTHORIZATION", "Proxy-Authorization"]))))
        secret = draw(opaque)
        form = f"{name}: {draw(st.sampled_from(['Bearer ', 'Basic ', 'Token ', '']))}{secret}"
    elif how == "cookie":
        name = draw(folded_name(draw(st.sampled_from(["Cookie", "COOKIE", "Set-Cookie"]))))
        secret = draw(opaque)
        form = f"{name}: sid={secret}; Path=/"
    elif how == "query":
        name = draw(folded_name(draw(st.sampled_from(["access_token", "client_secret", "api_key", "sig"]))))
        secret = draw(opaque)
        form = f"GET /cb{draw(st.sampled_from(['?', '?x=1&', '?x=1%26']))}{name}={secret}"
    else:
        plain = draw(st.sampled_from(SECRET_NAMES))
        name = draw(folded_name(plain))
        secret = draw(session_value if plain.lower() in ("session_id", "session") else password)
        form = ('"{n}": "{v}"' if how == "json" else draw(st.sampled_from(["{n}={v}", "{n}: {v}"]))).format(
            n=name, v=secret
        )
    before, after = draw(odd_noise), draw(odd_noise)
    assume(secret not in before and secret not in after)
    return before + draw(boundary) + form + draw(boundary) + after, [secret]


@PROFILE
@given(unicode_named())
def test_names_with_case_folding_characters_never_leak(case: tuple[str, list[str]]) -> None:
    """A secret name written with the KELVIN SIGN, LONG S or a dotted/dotless I is recognised, whatever else the
    text holds (U+0130, whose lower case is longer, no longer turns the whole text's lower-casing ASCII-only):
    never an internal error ([REDACTION_FAILED]), never the credential in clear, idempotent."""
    _configure()
    text, secrets = case
    out = scrub(text)
    assert isinstance(out, str) and out != FAILED, (text, out)
    for s in secrets:
        assert s not in out, (s, text, out)
    assert scrub(out) == out, (text, out)


@PROFILE
@given(st.text(st.sampled_from(ODD + list('abcdefghijklmnopqrstuvwxyzKS_:=" -')), max_size=40), odd_noise)
def test_odd_case_mapping_characters_never_break_scrubbing(text: str, more: str) -> None:
    """Any mix of those characters with name and separator characters: a string back, never an internal error,
    idempotent."""
    _configure()
    for t in (text, text + more, more + " password=" + text):
        out = scrub(t)
        assert isinstance(out, str) and out != FAILED, (t, out)
        assert scrub(out) == out, (t, out)


@PROFILE
@given(embedded)
def test_credentials_in_random_bytes_never_leak(case: tuple[str, list[str]]) -> None:
    _configure()
    text, secrets = case
    raw = text.encode("utf-8", "surrogatepass")
    out = scrub(raw)
    assert isinstance(out, bytes)
    for s in secrets:
        assert s.encode() not in out, (s, raw, out)


# -- nested structures ---------------------------------------------------------------------------------------
SECRET_KEYS = ["password", "client_secret", "api_key", "X-Api-Key", "authorization", "Cookie", "session_id",
               "refresh_token", "http.request.header.authorization", "privateKey", "passwd"]  # fmt: skip
leaf = st.one_of(noise, st.integers(), st.none(), st.booleans(), noise.map(lambda s: s.encode("utf-8", "replace")))
key = st.one_of(noise, st.sampled_from(["user", "msg", "headers", "data", "items"]))


@st.composite
def planted(draw: st.DrawFn) -> tuple[Any, list[str], str]:
    """A leaf carrying a credential: a text form (str or bytes), a secret-named field, or a header tuple."""
    how = draw(st.sampled_from(["text", "bytes", "field", "field_bytes", "header_tuple", "header_bytes"]))
    if how in ("text", "bytes"):
        text, secrets, noise_text = draw(embedded_with_noise())
        return (text if how == "text" else text.encode("utf-8", "surrogatepass")), secrets, noise_text
    name = draw(st.sampled_from(SECRET_KEYS))
    value = draw(st.one_of(session_value if name in WEAK_NAMES else password, jose))
    if name.lower() in ("authorization", "http.request.header.authorization"):
        value = "Bearer " + value
        secrets = [value[7:]]
    else:
        secrets = [value]
    if how == "field":
        return {name: value}, secrets, ""
    if how == "field_bytes":
        return {name: value.encode()}, secrets, ""
    if how == "header_tuple":
        return [(name, value)], secrets, ""
    return [(name.encode(), value.encode())], secrets, ""


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    hashable = st.one_of(noise, st.integers(), st.tuples(noise, noise))
    return st.one_of(
        st.lists(children, max_size=4),
        st.tuples(children, children),
        st.dictionaries(key, children, max_size=4),
        st.frozensets(hashable, max_size=3),
        st.sets(hashable, max_size=3),
    )


structure = st.recursive(leaf, _containers, max_leaves=12)


@st.composite
def nested(draw: st.DrawFn) -> tuple[Any, list[str]]:
    """A random structure with 1-3 credentials planted at random depths, and also inside sets as strings."""
    base = draw(structure)
    noise_text = [repr(base)]
    secrets: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        value, s, around = draw(planted())
        noise_text.append(around)
        secrets += s
        wrap = draw(st.sampled_from(["list", "dict", "tuple", "set", "deep"]))
        if wrap == "list":
            base = [base, value]
        elif wrap == "tuple":
            base = (value, base)
        elif wrap == "dict":
            k = draw(key)
            noise_text.append(k)
            base = {k: value, "other": base}
        elif wrap == "set" and isinstance(value, (str, bytes)):
            base = [base, {value, "x"}]
        else:
            base = {"a": [{"b": (base, {"c": [value]})}]}
    everything = "\0".join(noise_text)
    assume(not any(x in everything for x in secrets))  # the random parts hold no copy of a secret
    return base, secrets


def _render(value: Any) -> str:
    return repr(value) + str(value)


@PROFILE
@given(nested())
def test_credentials_in_random_structures_never_leak(case: tuple[Any, list[str]]) -> None:
    _configure()
    value, secrets = case
    before = repr(value)
    out = scrub_value(value)
    assert repr(value) == before, "input mutated"
    rendered = _render(out)
    for s in secrets:
        assert s not in rendered, (s, value, out)


@PROFILE
@given(st.one_of(noise, st.text()))
def test_scrub_is_idempotent_and_total(text: str) -> None:
    """Any text: scrub never raises, returns a str, and scrubbing its output changes nothing."""
    _configure()
    once = scrub(text)
    assert isinstance(once, str)
    assert scrub(once) == once


@PROFILE
@given(embedded, st.integers(0, 3000), st.integers(0, 3000))
def test_credentials_in_long_text_never_leak(case: tuple[str, list[str]], before: int, after: int) -> None:
    """Long text (past the size where the keyword check switches to one scan) is scrubbed the same way."""
    _configure()
    text, secrets = case
    long_text = "log line, " * (before // 10) + text + " end." * (after // 5)
    out = scrub(long_text)
    assert isinstance(out, str)
    for s in secrets:
        assert s not in out, (s, text)
