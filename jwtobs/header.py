"""Bounded, exception-free peek at an untrusted token.

Nothing here verifies anything: the values are what the token *claims*, used only to classify failures and
to label telemetry (through the cardinality guard in :mod:`jwtobs.telemetry`). Every function accepts any
object (``str``, ``bytes``, ``None``, ...) and never raises; oversized input and deep JSON are reported,
not parsed.
"""

from __future__ import annotations

import binascii
import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any, Final, Literal

from jwtobs.sanitize import sanitize

__all__ = [
    "TokenPeek",
    "LaterPeek",
    "peek",
    "peek_later",
    "settled",
    "as_text",
    "MAX_TOKEN_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_JSON_DEPTH",
]

#: Tokens longer than this are not decoded at all (the header is still not trusted below it): JWT_OVERSIZED for
#: :func:`jwtobs.wrap`, the instrumentor and the integrations' bearer credential.
MAX_TOKEN_BYTES: Final = 64 * 1024
#: A header segment longer than this is not decoded: the token's own limit, so every header of a token within it is
#: read (session 35: before, 4096 bytes; a two-certificate ``x5c`` chain passed it, and the peek called such a
#: header malformed: an alg-none token padded so was no longer JWT_UNSIGNED, jwcrypto's forgeries were
#: JWT_MALFORMED, and accepted tokens lost alg, kid and typ)
MAX_HEADER_BYTES: Final = MAX_TOKEN_BYTES
#: JSON nested deeper than this is not parsed: a payload is reported as malformed; a header is read for its
#: top-level members only (:func:`_shallow_object`: ``alg``, ``kid``, ``typ``; the peek stays ``malformed``, with
#: :attr:`TokenPeek.header_deep`), so a library's verdict on such a token is classified as for any other.
MAX_JSON_DEPTH: Final = 32

Kind = Literal["jws", "jwe", "json", "missing", "empty", "malformed", "oversized", "invalid_type"]

_B64_TRANSLATE: Final = bytes.maketrans(b"-_", b"+/")
_B64URL_CHARS: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_HEADER_CACHE: dict[str, _Header] = {}
_HEADER_CACHE_MAX: Final = 1024
_WS: Final = frozenset(" \t\r\n")


@dataclass(frozen=True, slots=True)
class _Header:
    ok: bool
    header: dict[str, Any] | None
    alg: str | None
    kid: str | None
    typ: str | None
    bad_types: tuple[str, ...]
    safe: tuple[str | None, str | None, str | None]
    #: no nested object or array: a shallow copy is a full copy
    flat: bool = True
    #: ``alg`` is ``none`` in any spelling
    alg_none: bool = False
    #: the header is UTF-8 JSON without a byte-order mark and without a member name twice, at any depth
    #: (:func:`strict_json`); ``False``: it decoded only leniently (``json.loads`` of bytes takes a BOM, UTF-16
    #: and UTF-32, and keeps the last of duplicate names), which the peek still reports for telemetry
    strict: bool = True
    #: nested deeper than :data:`MAX_JSON_DEPTH`: not parsed (``ok`` false), its top-level members read
    deep: bool = False

    def header_copy(self) -> dict[str, Any] | None:
        """A private copy of the parsed header: the cached one is shared by every peek of the same header, so
        it is never handed out (a caller mutating ``VerifiedToken.header`` cannot change the next peek)."""
        h = self.header
        if h is None:
            return None
        return h.copy() if self.flat else copy.deepcopy(h)


_BAD_HEADER: Final = _Header(False, None, None, None, None, (), (None, None, None))


@dataclass(slots=True)
class TokenPeek:
    """What an untrusted token looks like. ``header`` is ``None`` unless it decoded to a JSON object."""

    kind: Kind
    token_bytes: int = 0
    header: dict[str, Any] | None = None
    alg: str | None = None
    kid: str | None = None
    typ: str | None = None
    #: header parameters present with the wrong JSON type (e.g. ``kid`` not a string)
    bad_header_types: tuple[str, ...] = ()
    #: alg ``none`` in any spelling, or a JWS with an empty signature
    unsigned: bool = False
    #: which segment failed to decode, for malformed tokens ("header", "payload", "signature", "segments")
    malformed_part: str | None = None
    #: (alg, kid, typ) passed through :func:`jwtobs.sanitize.sanitize`, computed once per distinct header
    safe: tuple[str | None, str | None, str | None] = (None, None, None)
    _text: str | None = field(default=None, repr=False)
    _payload: dict[str, Any] | None = field(default=None, repr=False)
    _payload_done: bool = field(default=False, repr=False)
    #: the header decoded only leniently (:attr:`_Header.strict`): a BOM, UTF-16/32, or a name given twice
    header_lax: bool = False
    #: a ``malformed`` header that is JSON nested deeper than :data:`MAX_JSON_DEPTH`: not parsed (``header`` is
    #: ``None``), but ``alg``, ``kid``, ``typ`` and ``unsigned`` are read from its top-level members; the library
    #: decides whether it is malformed (the adapters' form checks skip it; the Verifier refuses it)
    header_deep: bool = False

    def segments(self) -> list[str]:
        """The dot-separated segments of a compact token (empty for anything else)."""
        return self._text.split(".") if self._text is not None else []

    def bad_segment(self) -> str | None:
        """For a JWS: the first segment that is not valid base64url/JSON ("payload", "signature"), if any."""
        if self.malformed_part is not None:
            return self.malformed_part
        if self.kind == "jws":
            if self.claims() is None:
                return "payload"
            if not _is_b64url(self.segments()[2]):
                return "signature"
        return None

    def claims(self) -> dict[str, Any] | None:
        """The unverified payload of a JWS as a dict, or ``None`` (not JWS, not JSON, too deep, ...)."""
        if not self._payload_done:
            self._payload_done = True
            if self.kind == "jws" and self._text is not None:
                obj = _decode_json_segment(self.segments()[1])
                if isinstance(obj, dict):
                    self._payload = obj
        return self._payload

    def strict_claims(self) -> dict[str, Any] | None:
        """:meth:`claims` when the payload is UTF-8 JSON without a byte-order mark and without a member name
        twice at any depth (:func:`strict_json`), else ``None``: what :class:`jwtobs.Verifier` takes as claims.
        One parse in the common case."""
        if self.kind != "jws" or self._text is None:
            return None
        raw = _json_bytes(self.segments()[1])
        if raw is None:
            return None
        obj = strict_json(raw)
        if not isinstance(obj, dict):
            return None
        if not self._payload_done:  # (the same dict claims() parses: keep it)
            self._payload, self._payload_done = obj, True
        return obj


def padded(text: str) -> bool:
    """Whitespace (any Unicode whitespace) before or after ``text``: a token every library refuses
    (JWT_MALFORMED ``whitespace`` from the Verifier and from :func:`jwtobs.wrap`'s classification)."""
    return text[:1].isspace() or text[-1:].isspace()


def b64url_decode(segment: str) -> bytes | None:
    """Strict-enough base64url decode (no padding required); ``None`` on any error."""
    try:
        data = segment.encode("ascii")
    except UnicodeEncodeError:
        return None
    stripped = data.rstrip(b"=")
    if not frozenset(stripped) <= _B64URL_CHARS:
        return None
    data = stripped
    pad = -len(data) % 4
    try:
        return binascii.a2b_base64(data.translate(_B64_TRANSLATE) + b"=" * pad, strict_mode=False)
    except (binascii.Error, ValueError):
        return None


def _depth_ok(raw: bytes) -> bool:
    opens = raw.count(b"{") + raw.count(b"[")
    if opens <= MAX_JSON_DEPTH:
        return True
    depth = 0
    for _i, c in _brackets(raw):
        if c in (0x7B, 0x5B):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        else:
            depth -= 1
    return True


def _brackets(raw: bytes) -> Iterator[tuple[int, int]]:
    """(index, byte) of each bracket or brace of the JSON text ``raw`` outside its strings."""
    in_str = False
    esc = False
    for i, c in enumerate(raw):
        if in_str:
            if esc:
                esc = False
            elif c == 0x5C:
                esc = True
            elif c == 0x22:
                in_str = False
        elif c == 0x22:
            in_str = True
        elif c in (0x7B, 0x5B, 0x7D, 0x5D):
            yield i, c


def _shallow_object(raw: bytes) -> dict[str, Any] | None:
    """``raw`` (JSON nested deeper than :data:`MAX_JSON_DEPTH`) as its top-level object with every member value
    that is an object or an array replaced by ``null`` (so parsed at depth 1), or ``None`` when it is no JSON
    object. One pass over the bytes, as :func:`_depth_ok`'s (bounded by :data:`MAX_HEADER_BYTES`)."""
    if raw[:1] != b"{":
        return None
    parts: list[bytes] = []
    depth = 0
    start = 0  # where the text kept next begins
    opened = 0  # where the member value being replaced began
    for i, c in _brackets(raw):
        if c in (0x7B, 0x5B):
            depth += 1
            if depth == 2:
                opened = i
        else:
            depth -= 1
            if depth == 1:
                parts.append(raw[start:opened])
                parts.append(b"null")
                start = i + 1
            elif depth < 0:
                return None
    parts.append(raw[start:])
    try:
        obj = json.loads(b"".join(parts))
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _json_bytes(segment: str) -> bytes | None:
    """A segment's decoded bytes when they may be parsed as JSON (base64url, nesting within the depth limit)."""
    raw = b64url_decode(segment)
    return raw if raw is not None and _depth_ok(raw) else None


def _decode_json_segment(segment: str) -> Any:
    raw = _json_bytes(segment)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None


class _Duplicate(ValueError):
    """A JSON object with a member name twice."""


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: the object, or :class:`_Duplicate` when a name occurs twice."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Duplicate
    return obj


#: the end of a member name: a quote, JSON whitespace, the colon (RFC 8259 §4)
_NAME_ENDS: Final = re.compile(rb'"[ \t\n\r]*:')


def strict_json(raw: bytes) -> Any:
    """``raw`` parsed as JSON only if it is UTF-8 (RFC 7515 §2 / RFC 7519 §7.2: "UTF-8 representation"; so no
    UTF-16/32) without a byte-order mark (RFC 8259 §8.1: "MUST NOT add a byte order mark") and no object in it
    has a member name twice (RFC 7515 §4 / RFC 7519 §4: reject, or keep the last; a gateway keeping the first
    would read another token); ``None`` otherwise. ``json.loads`` of the bytes takes all three.

    Cost: one parse of the text. A name is given twice only if the text has more member names than the parsed
    objects have members. Every name is a ``"`` followed by JSON whitespace and a ``:`` (:data:`_NAME_ENDS`), and
    a string value holds ``"`` only escaped, so those matches are never fewer than the names (an escaped quote
    before a colon, or a string value starting with a colon, counts more). A text with one ``{`` (claims without
    nested objects, the usual case) is parsed by the C parser alone, and that count equal to its members means
    no duplicate. Otherwise (nested objects, more matches) it is parsed with an ``object_pairs_hook`` that
    refuses a duplicate (once, when nested: about 3 µs more than the C parser for claims with 7 objects)."""
    try:
        text = raw.decode("utf-8")
        if raw.count(b"{") == 1:
            obj = json.loads(text)  # a str: a leading BOM is a JSONDecodeError ("Unexpected UTF-8 BOM")
            if type(obj) is dict and len(_NAME_ENDS.findall(raw)) == len(obj):
                return obj
        return json.loads(text, object_pairs_hook=_unique)
    except (ValueError, RecursionError):  # (UnicodeDecodeError, JSONDecodeError and _Duplicate are ValueErrors)
        return None


def _str_or_none(header: dict[str, Any], name: str, bad: list[str]) -> str | None:
    value = header.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    bad.append(name)
    return None


def _parse_header(segment: str) -> _Header:
    cached = _HEADER_CACHE.get(segment)
    if cached is not None:
        return cached
    if len(segment) > MAX_HEADER_BYTES:
        return _BAD_HEADER
    raw = b64url_decode(segment)
    deep = raw is not None and not _depth_ok(raw)
    if deep:  # (rare: hostile, or a header no issuer makes; once per distinct header)
        obj: Any = _shallow_object(raw) if raw is not None else None
        strict = False
    else:
        obj = strict_json(raw) if raw is not None else None
        strict = isinstance(obj, dict)
        if not strict:  # (rare: a bad header, or one only json.loads of bytes takes; once per distinct header)
            obj = _decode_json_segment(segment)
    if not isinstance(obj, dict):
        result = _BAD_HEADER
    else:
        bad: list[str] = []
        alg, kid, typ = _str_or_none(obj, "alg", bad), _str_or_none(obj, "kid", bad), _str_or_none(obj, "typ", bad)
        flat = not any(isinstance(v, (dict, list)) for v in obj.values())
        safe = (sanitize(alg), sanitize(kid), sanitize(typ))
        alg_none = alg is not None and alg.strip().lower() == "none"
        if deep:  # read, not parsed: no header object, the peek stays malformed (header_deep)
            result = _Header(False, None, alg, kid, typ, tuple(bad), safe, True, alg_none, False, True)
        else:
            result = _Header(True, obj, alg, kid, typ, tuple(bad), safe, flat, alg_none, strict)
    if len(_HEADER_CACHE) >= _HEADER_CACHE_MAX:
        _HEADER_CACHE.clear()  # bounded: a flood of distinct headers cannot grow it
    _HEADER_CACHE[segment] = result
    return result


def as_text(token: object) -> str | None:
    """The token as text, exactly as presented: a ``str``, or ASCII bytes-like; ``None`` for anything else."""
    if isinstance(token, str):
        return token
    if isinstance(token, (bytes, bytearray, memoryview)):
        try:
            return bytes(token).decode("ascii")
        except UnicodeDecodeError:
            return None
    return None


def peek(token: object, *, max_bytes: int = MAX_TOKEN_BYTES) -> TokenPeek:
    """Look at an untrusted token without verifying it. Never raises."""
    try:
        return _peek(token, max_bytes)
    except Exception:  # pragma: no cover - defensive: a peek must never break a validation
        return TokenPeek("malformed")


def _peek(token: object, max_bytes: int) -> TokenPeek:
    if token is None:
        return TokenPeek("missing")
    if isinstance(token, str):
        size = len(token) if token.isascii() else len(token.encode("utf-8", "surrogatepass"))
    elif isinstance(token, (bytes, bytearray, memoryview)):
        size = len(token)
    else:
        return TokenPeek("invalid_type")
    if size == 0:
        return TokenPeek("empty")
    if size > max_bytes:
        return TokenPeek("oversized", token_bytes=size)
    text = token if type(token) is str else as_text(token)
    if text is None:
        return TokenPeek("malformed", token_bytes=size, malformed_part="segments")
    if text[:1] in _WS or text[-1:] in _WS:
        text = text.strip()
    if text[:1] == "{":
        return TokenPeek("json", token_bytes=size)
    # exactly 2 dots (JWS) or 4 (JWE), found with str.find (memchr) instead of counting every character
    find = text.find
    first = find(".")
    second = find(".", first + 1)  # (no first dot: searched from 0, none either)
    if second < 0:
        return TokenPeek("malformed", token_bytes=size, malformed_part="segments")
    third = find(".", second + 1)
    jwe = third >= 0
    if jwe:
        fourth = find(".", third + 1)
        if fourth < 0 or find(".", fourth + 1) >= 0:
            return TokenPeek("malformed", token_bytes=size, malformed_part="segments")
    h = _parse_header(text[:first])
    unsigned = h.alg_none or (not jwe and text[-1] == ".")  # (a JWS with an empty signature)
    if not h.ok:
        if h.deep:  # too deep to parse, its top-level members read: the library tells whether it is malformed
            p = TokenPeek("malformed", size, None, h.alg, h.kid, h.typ, h.bad_types, unsigned, "header", h.safe, text)
            p.header_deep = True
            return p
        return TokenPeek("malformed", token_bytes=size, malformed_part="header")
    alg = h.alg
    if jwe:
        return TokenPeek("jwe", size, h.header_copy(), alg, h.kid, h.typ, h.bad_types, unsigned, None, h.safe, text)
    p = TokenPeek("jws", size, h.header_copy(), alg, h.kid, h.typ, h.bad_types, unsigned, None, h.safe, text)
    if not h.strict:
        p.header_lax = True
    return p


class LaterPeek(TokenPeek):
    """A :class:`TokenPeek` that peeks at its token when one of its fields is first read (an unset slot's
    ``AttributeError`` lands in ``__getattr__``): a rejection whose reason needs nothing of the token (an
    expired token, a wrong audience) is classified without a peek on the request thread, and the event
    builder peeks later, off it."""

    __slots__ = ("_max_bytes", "_source")
    #: the token, ``None`` once peeked
    _source: str | None
    _max_bytes: int

    def __getattr__(self, name: str) -> Any:
        if name not in _PEEK_FIELDS or self._source is None:
            raise AttributeError(name)
        done = peek(self._source, max_bytes=self._max_bytes)
        for f in _PEEK_FIELDS:
            object.__setattr__(self, f, getattr(done, f))
        self._source = None
        return getattr(done, name)


_PEEK_FIELDS: Final = frozenset(f.name for f in fields(TokenPeek))
_new = object.__new__


def peek_later(token: object, *, max_bytes: int = MAX_TOKEN_BYTES) -> TokenPeek:
    """:func:`peek`, done when a field of the result is first read. Only a non-empty ASCII ``str`` within
    ``max_bytes`` waits (so its ``kind`` is none of ``missing``, ``empty``, ``invalid_type``, ``oversized``:
    see :func:`is_later`); anything else is peeked at once. Never raises."""
    if type(token) is str and 0 < len(token) <= max_bytes and token.isascii():
        p: LaterPeek = _new(LaterPeek)
        p._source = token
        p._max_bytes = max_bytes
        return p
    return peek(token, max_bytes=max_bytes)


def settled(p: TokenPeek) -> TokenPeek | None:
    """``p`` when its fields are known (a :func:`peek`, or a :func:`peek_later` something has read), ``None``
    for a later peek nobody read: a record keeps no peek object for the builder to peek again (and no
    GC-tracked object per rejection waits in the queue)."""
    return None if type(p) is LaterPeek and p._source is not None else p


def is_later(p: TokenPeek) -> bool:
    """Whether ``p`` is a :func:`peek_later` that waited (peeked by now or not): the peek of a non-empty ASCII
    text within the size limit, so its ``kind`` is none of ``missing``, ``empty``, ``invalid_type``,
    ``oversized`` whatever its form."""
    return type(p) is LaterPeek  # (the adapters test the type inline)


def _is_b64url(segment: str) -> bool:
    try:
        return frozenset(segment.encode("ascii")) <= _B64URL_CHARS
    except UnicodeEncodeError:
        return False
