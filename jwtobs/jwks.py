"""Trusted key sources: :class:`StaticKeys` and :class:`JwksSource` (a JWKS URL with bounded refresh).

The failures users report about JWKS clients are what :class:`JwksSource` is built around:

- one fetch per TTL (``Cache-Control: max-age`` honoured within ``[min_ttl, max_ttl]``), with a timeout and
  a deadline for the whole fetch, a size cap (after decoding a gzip/deflate body), and no redirects followed
  (so no redirect loops);
- single-flight: callers arriving while a fetch is running wait for it instead of starting another;
- an unknown kid triggers at most one forced refresh per ``cooldown``; kids still unknown after it are kept
  in a bounded negative cache, so a flood of random kids costs no fetches; an unknown kid within ``coalesce``
  seconds of a completed fetch is answered by that key set (a caller queued for a worker thread while it ran
  cannot tell it arrived before it completed);
- a failed refresh keeps the last-known-good keys (up to ``max_stale`` seconds after the last success) and is
  retried after the cooldown, or after a ``429``/``503`` answer's ``Retry-After`` if longer (at most
  :data:`MAX_RETRY_AFTER`);
  JWT_JWKS_UNAVAILABLE when no usable key set exists, and for a kid they lack while the last fetch failed (the
  key set that could hold it could not be fetched);
- keys are filtered (``use`` must be ``sig`` if present, known ``kty``/``alg``, RSA >= 2048 bits with an odd
  modulus and an exponent under 2^256) and a kid published twice is dropped (ambiguous);
- every fetch is counted (``jwtobs.jwks.*`` instruments) and a change of kids emits a :class:`KeySetChange`.

Time comes from an injectable monotonic ``clock`` so tests advance time instead of sleeping.
"""

from __future__ import annotations

import asyncio
import binascii
import datetime
import email.utils
import functools
import http.client
import io
import ipaddress
import json
import math
import os
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from jwtobs import _forksafe, config
from jwtobs.exceptions import ConfigurationError, TokenRejected
from jwtobs.failures import FailureCount, QuietLogger
from jwtobs.header import b64url_decode
from jwtobs.reasons import Reason
from jwtobs.telemetry import (
    ATTR_ERROR_TYPE,
    ATTR_ISSUER,
    ATTR_OUTCOME,
    ATTR_TRIGGER,
    ATTR_WHY,
    JWKS_FETCH_DURATION,
    JWKS_FETCHES,
    JWKS_KEYS,
    JWKS_REFRESH_SUPPRESSED,
    JWKS_STALENESS,
    UNKNOWN,
)

__all__ = [
    "Key",
    "KeySource",
    "StaticKeys",
    "JwksSource",
    "AsyncJwksSource",
    "parse_jwks",
    "MIN_RSA_BITS",
    "MAX_RSA_EXPONENT_BITS",
    "ALG_CURVES",
    "kty_of_alg",
    "key_curve",
]

log = QuietLogger("jwtobs.jwks")  # (never raises: see QuietLogger)

MIN_RSA_BITS: Final = 2048
#: bits of the largest RSA public exponent accepted (FIPS 186-5 §A.1.1: e < 2^256; every IdP publishes 65537). A
#: key set's exponent as long as its modulus made each verification with that key ~30 times as costly (3072-bit
#: key: 11 ms instead of 0.4 ms), for any token naming its kid, signature valid or not
MAX_RSA_EXPONENT_BITS: Final = 256
#: keys kept from one key set for verification (a larger set is truncated, with a warning; a 512 KiB body holds
#: at most ~1 000 RSA keys)
MAX_KEYS: Final = 1000
#: kids of one key set that become trusted metric attribute values (the first ones in the document)
TRUSTED_KIDS_PER_SET: Final = 100
#: the least ``cooldown`` a JwksSource takes: unknown kids force at most one refresh per cooldown, and a failed fetch
#: is retried no sooner (session 32: ``cooldown=0`` was taken, and 200 tokens of random kids made 200 requests)
MIN_COOLDOWN: Final = 1.0
#: the longest ``timeout`` a JwksSource takes: callers with nothing usable wait for a fetch up to it (session 35:
#: ``timeout=inf`` or ``1e10`` was taken, and every verification was JWT_VALIDATOR_ERROR/OverflowError, no request made)
MAX_TIMEOUT: Final = 300.0
#: the longest duration any other argument takes (cooldown, the TTLs, max_stale, coalesce): ten years
MAX_SECONDS: Final = 10 * 365 * 86400.0
#: a ``429`` or ``503`` answer's ``Retry-After`` (RFC 9110 §10.2.3) postpones the retry after that failure beyond
#: the cooldown, up to this many seconds: an IdP asking for a pause gets it; a Retry-After of days does not stop
#: the refreshes (the last-known-good keys stay in force meanwhile, up to ``max_stale``)
MAX_RETRY_AFTER: Final = 600.0
#: the statuses whose Retry-After is honoured (RFC 9110 §15.6.4, RFC 6585 §4)
_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
#: the largest ``max_bytes`` (a compressed key set is inflated to at most max_bytes + 1: peaks under 4 x this)
MAX_BYTES_LIMIT: Final = 64 * 1024 * 1024
#: the largest ``negative_cache_size`` (each entry holds a kid of at most 256 characters)
MAX_NEGATIVE_CACHE: Final = 100_000
#: response header lines accepted from a JWKS endpoint, and their total size (status line included)
MAX_HEADERS: Final = 64
MAX_HEADER_BYTES: Final = 32 * 1024
#: media types a JWK set may be served as (RFC 7517 §8.5; most IdPs say application/json)
JSON_TYPES: Final = frozenset({"application/json", "application/jwk-set+json"})
_MAX_KID_CHARS: Final = 256
#: seconds the clock may read before the last fetch's start without counting as set back: a caller that read the
#: clock just before another thread started a fetch (a real monotonic clock never goes back)
_CLOCK_BACK_TOLERANCE: Final = 1.0
_KTYS: Final = frozenset({"RSA", "EC", "OKP", "oct"})
#: one Cache-Control directive (RFC 9111 §5.2): a name and an optional token or quoted-string argument, up to the
#: comma that ends it (a comma or a "max-age=5" inside a quoted argument is part of that argument)
_DIRECTIVE_RE: Final = re.compile(r'[\s,]*([^=,\s"]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^,"]*))?\s*(?:,|$)')
#: the largest delta-seconds a cache takes (RFC 9111 §1.2.2: a larger or overflowing value is 2^31)
_DELTA_MAX: Final = 2**31
#: token alg prefix -> the JWK kty that can verify it
_FAMILY: Final = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP", "HS": "oct"}
#: the curves a key must be on for each EC / EdDSA algorithm (RFC 7518 §3.4, RFC 8812 §3.2, RFC 8037 §3.1)
ALG_CURVES: Final[Mapping[str, frozenset[str]]] = {
    "ES256": frozenset({"P-256"}),
    "ES384": frozenset({"P-384"}),
    "ES512": frozenset({"P-521"}),
    "ES256K": frozenset({"secp256k1"}),
    "EdDSA": frozenset({"Ed25519", "Ed448"}),
    "Ed25519": frozenset({"Ed25519"}),
    "Ed448": frozenset({"Ed448"}),
}
#: JWK ``crv`` -> (cryptography curve class name, coordinate bytes)
_EC_CURVES: Final = {
    "P-256": ("SECP256R1", 32),
    "P-384": ("SECP384R1", 48),
    "P-521": ("SECP521R1", 66),
    "secp256k1": ("SECP256K1", 32),
}
_CRV_OF_CURVE: Final = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521", "secp256k1": "secp256k1"}
#: informational responses skipped before the final one (:meth:`_Response._read_status`)
_MAX_INFORMATIONAL: Final = 8
#: HTTP statuses reported by their number in ``error.type``; others by class (``http_4xx``)
_NAMED_STATUSES: Final = frozenset({400, 401, 403, 404, 408, 410, 429, 500, 502, 503, 504})
#: the 3xx statuses that redirect (RFC 9110 §15.4): ``error.type=redirect``; another 3xx (``304 Not Modified`` to a
#: request that was not conditional, ``300``, ``305``) is ``http_3xx``
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


def kty_of_alg(alg: str) -> str | None:
    """The JWK ``kty`` that can verify ``alg`` (``RS256`` -> ``RSA``, ``EdDSA`` -> ``OKP``), else ``None``."""
    return _FAMILY.get(alg[:2])


@dataclass(frozen=True, slots=True)
class Key:
    """A usable verification key from a trusted source. ``crv``: the JWK curve name of an EC/OKP key."""

    kid: str | None
    kty: str
    alg: str | None
    key: Any  # a cryptography public key, or bytes for HMAC
    crv: str | None = None


def key_curve(key: Key) -> str | None:
    """The JWK curve name (``P-256``, ``secp256k1``, ``Ed25519``...) of an EC/OKP key, else ``None``."""
    if key.crv is not None or key.kty not in ("EC", "OKP"):
        return key.crv
    return _curve_of_object(key.key)


def _curve_of_object(obj: object) -> str | None:
    curve = getattr(obj, "curve", None)
    if curve is not None:
        return _CRV_OF_CURVE.get(getattr(curve, "name", ""), None)
    name = type(obj).__name__  # cryptography's Ed25519PublicKey / Ed448PublicKey (and their Rust classes)
    if "Ed25519" in name:
        return "Ed25519"
    if "Ed448" in name:
        return "Ed448"
    return None


def _crypto() -> Any:
    """The ``cryptography`` asymmetric-key modules, imported on first use (jwtobs's core does not need them)."""
    try:
        from cryptography.exceptions import UnsupportedAlgorithm
        from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
    except ImportError as exc:  # pragma: no cover - exercised by the packaging tests (core install)
        raise ConfigurationError(
            "public keys need the 'cryptography' package (pip install 'jwtobs[pyjwt]' or any JOSE extra)"
        ) from exc
    return _Crypto(rsa, ec, ed25519, ed448, (ValueError, TypeError, OverflowError, UnsupportedAlgorithm))


@dataclass(frozen=True, slots=True)
class _Crypto:
    rsa: Any
    ec: Any
    ed25519: Any
    ed448: Any
    #: what cryptography raises for numbers, points or curves it refuses
    refused: tuple[type[Exception], ...]


def _b64int(value: object) -> int | None:
    if not isinstance(value, str) or not value or len(value) > 2048:
        return None
    raw = b64url_decode(value)
    return int.from_bytes(raw, "big") if raw else None


def _b64bytes(value: object, size: int | None = None) -> bytes | None:
    if not isinstance(value, str) or len(value) > 4096:
        return None
    raw = b64url_decode(value)
    if raw is None or (size is not None and len(raw) != size):
        return None
    return raw


def _public_key(jwk: Mapping[str, Any], kty: str) -> tuple[Any, str | None] | None:
    """(key object or HMAC bytes, curve) of one JWK; ``None`` when it is not a well-formed public key."""
    if kty == "oct":
        secret = _b64bytes(jwk.get("k"))
        return (secret, None) if secret is not None else None
    c = _crypto()
    if kty == "RSA":
        n, e = _b64int(jwk.get("n")), _b64int(jwk.get("e"))
        if n is None or e is None or n % 2 == 0 or e.bit_length() > MAX_RSA_EXPONENT_BITS:
            return None  # (an even modulus is no product of two odd primes: cryptography accepts it as a key)
        return c.rsa.RSAPublicNumbers(e, n).public_key(), None
    crv = jwk.get("crv")
    if kty == "EC":
        spec = _EC_CURVES.get(crv) if isinstance(crv, str) else None
        if spec is None:
            return None
        x, y = _b64bytes(jwk.get("x"), spec[1]), _b64bytes(jwk.get("y"), spec[1])
        if x is None or y is None:
            return None
        curve = getattr(c.ec, spec[0])()
        # from_encoded_point checks that the point is on the curve (an invalid-curve key is refused here)
        return c.ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + x + y), crv
    if crv == "Ed25519":
        x = _b64bytes(jwk.get("x"), 32)
        return (c.ed25519.Ed25519PublicKey.from_public_bytes(x), crv) if x is not None else None
    if crv == "Ed448":
        x = _b64bytes(jwk.get("x"), 57)
        return (c.ed448.Ed448PublicKey.from_public_bytes(x), crv) if x is not None else None
    return None  # OKP X25519/X448 are key agreement keys


def _key_from_jwk(jwk: Mapping[str, Any], *, secrets: bool = True) -> Key | None:
    """One JWK as a :class:`Key`, or ``None`` when it is not a usable signature verification key (nor an ``oct``
    one unless ``secrets``)."""
    kty = jwk.get("kty")
    if not isinstance(kty, str) or kty not in _KTYS:  # (a list or an object is no kty: skipped, not an error)
        return None
    if kty == "oct" and not secrets:
        return None
    use = jwk.get("use")
    if use is not None and use != "sig":
        return None
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return None
    kid = jwk.get("kid")
    if kid is not None and (not isinstance(kid, str) or not kid or len(kid) > _MAX_KID_CHARS):
        return None
    alg = jwk.get("alg")
    if alg is not None and not isinstance(alg, str):
        return None
    if alg is not None and (alg.strip().lower() == "none" or kty_of_alg(alg) != kty):
        return None
    try:
        parsed = _public_key(jwk, kty)
    except _crypto().refused:  # cryptography refuses the numbers (not on the curve, e = 1, ...): not usable
        return None
    if parsed is None:
        return None
    key, crv = parsed
    if alg is not None and alg in ALG_CURVES and crv not in ALG_CURVES[alg]:
        return None  # e.g. "alg": "ES256" on a P-384 key
    if kty == "RSA" and key.key_size < MIN_RSA_BITS:
        return None
    if kty == "oct" and (len(key) < 32 or _key_material_kind(key) is not None):
        return None  # HMAC secret of at least 256 bits, and not a public key in disguise
    return Key(kid, kty, alg, key, crv)


def _load_der_private_key_unchecked(der: bytes) -> object:
    """``der`` parsed as a private key without checking an RSA key's primes: whether it *is* one is all
    :func:`_key_material_kind` asks, and the check costs ~0.3 s per RSA-4096 key, which a key set of such
    "secrets" within ``max_bytes`` would make a fetch spend outside its deadline (160 of them: 48 s)."""
    from cryptography.hazmat.primitives import serialization

    try:
        return serialization.load_der_private_key(der, None, unsafe_skip_rsa_key_validation=True)
    except TypeError:  # pragma: no cover - cryptography < 39 has no such argument (and checks nothing costly)
        return serialization.load_der_private_key(der, None)


#: a secret longer than this is not read as hex/base64 text of a DER key (an RSA-16384 private key in hex: 19 KiB)
_MAX_KEY_TEXT: Final = 32 * 1024
_HEX_TEXT: Final = re.compile(rb"(?:[0-9A-Fa-f]{2})+")
_B64_TEXT: Final = re.compile(rb"[A-Za-z0-9+/_-]+={0,2}")
_B64URL_TO_STD: Final = bytes.maketrans(b"-_", b"+/")


def _key_texts(secret: bytes) -> Iterator[bytes]:
    """``secret`` decoded as hex (``:`` separators allowed), base64 or base64url text, whitespace ignored: how a
    DER key is shown without PEM armour (a bare base64 public key in an IdP console, a PEM body, ``openssl``
    hex). Nothing for a secret over :data:`_MAX_KEY_TEXT` bytes or that is no such text."""
    if len(secret) > _MAX_KEY_TEXT:
        return
    compact = b"".join(secret.split())
    digits = compact.replace(b":", b"")
    if _HEX_TEXT.fullmatch(digits):
        yield bytes.fromhex(digits.decode("ascii"))
    if _B64_TEXT.fullmatch(compact):
        data = compact.rstrip(b"=").translate(_B64URL_TO_STD)
        try:
            yield binascii.a2b_base64(data + b"=" * (-len(data) % 4), strict_mode=True)
        except binascii.Error:  # a length no base64 has
            pass


def _is_der_key(der: bytes) -> bool:
    """Whether ``der`` parses as a DER public key (SubjectPublicKeyInfo, PKCS#1), private key or X.509 certificate
    (an IdP's signing certificate, its JWK's ``x5c``: session 36, before taken as an HMAC secret)."""
    if der[:1] != b"\x30":  # not an ASN.1 SEQUENCE: no DER key
        return False
    try:
        from cryptography.hazmat.primitives import serialization

        refused = _crypto().refused
    except (ImportError, ConfigurationError):  # pragma: no cover - without cryptography no DER key is meant
        return False
    from cryptography import x509

    loaders: tuple[Callable[[bytes], object], ...] = (
        serialization.load_der_public_key,
        _load_der_private_key_unchecked,
        x509.load_der_x509_certificate,
    )
    for load in loaders:
        try:
            load(der)
        except refused:  # not this kind of key
            continue
        return True
    return False


def _key_material_kind(secret: bytes) -> str | None:
    """What asymmetric key material ``secret`` looks like (``"PEM"``, ``"SSH"``, ``"JWK"``, ``"DER"``), if any.

    Such bytes are never accepted as an HMAC secret: with a public key as the secret, anyone who has the
    public key can forge tokens (the classic RS256 -> HS256 confusion). ``"DER"`` includes a DER key written
    as hex, base64 or base64url text (:func:`_key_texts`).
    """
    if b"-----BEGIN" in secret:  # anywhere: RFC 7468 allows text before the armour ("Bag Attributes", a comment)
        return "PEM"
    head = secret.removeprefix(b"\xef\xbb\xbf").lstrip()  # (a UTF-8 byte-order mark, as editors write one)
    if head.startswith((b"ssh-", b"ecdsa-sha2-", b"sk-ssh-", b"sk-ecdsa-")):
        return "SSH"
    if head.startswith((b"{", b"[")):
        try:
            doc = json.loads(head)
        except (ValueError, RecursionError):
            return None
        # a JWK, a JWK set, or JWKs in an array: joserfc, jwcrypto and Authlib took each as HS256 key material of
        # their own reading (session 36: forgeable from the public JSON)
        docs = doc if isinstance(doc, list) else [doc]
        return "JWK" if any(isinstance(d, dict) and ("kty" in d or "keys" in d) for d in docs) else None
    if _is_der_key(secret) or any(_is_der_key(der) for der in _key_texts(secret)):
        return "DER"
    return None


class _WouldBlock(BaseException):
    """A lookup made inline on an event loop (``JwksSource._get(..., inline=True)``) reached a fetch, or a wait for
    one, that fell due after ``needs_io`` said there was none: its async caller runs the lookup again in a worker
    thread (``lookup``, the same caller's lookup). Not an ``Exception``, so that no ``except Exception`` on the way
    (the Verifier's fail-closed handler) makes a rejection of it; it never leaves ``aget``/``averify``."""

    def __init__(self, lookup: Callable[[str | None], Key]) -> None:
        super().__init__()
        self.lookup = lookup


class KeySource:
    """Interface of a trusted key source (what :class:`jwtobs.Verifier` needs)."""

    issuer: str | None = None

    def get(self, kid: str | None) -> Key:
        """The key for ``kid``; raises :class:`TokenRejected` (JWT_UNKNOWN_KID / JWT_JWKS_UNAVAILABLE)."""
        raise NotImplementedError

    def bind_issuer(self, issuer: str) -> None:
        """Called by the Verifier: the (configured) issuer this source serves, for telemetry labels."""
        if self.issuer is None:
            self.issuer = issuer

    def _lookup_on_arrival(self) -> Callable[[str | None], Key]:
        """:meth:`get` as it stands for a caller arriving now whose lookup runs later, in a worker thread
        (:meth:`jwtobs.Verifier.averify`). A source with no state that depends on when a caller arrived: ``get``
        itself."""
        return self.get


def parse_jwks(doc: object, *, secrets: bool = True) -> tuple[dict[str, Key], list[Key]]:
    """A JWK set document as (keys by kid, keys without kid). Raises ``ValueError`` if it is not a JWK set.

    Unusable keys are skipped; a kid that names more than one usable key is dropped entirely (which key it names is
    ambiguous). An entry that cannot verify a signature - an encryption key (``"use": "enc"``, RFC 7517 lets one kid
    name keys of different uses), a kty or curve this module does not verify with, a member without key material -
    makes no kid ambiguous: before session 32 it dropped the signing key of its kid (a provider publishing a signing
    and an encryption key under one kid could never be verified against). At most :data:`MAX_KEYS` keys are kept
    (of the first ``4 * MAX_KEYS`` entries), with a warning when a set holds more. ``secrets=False`` (a fetched key
    set: no HMAC verifier takes keys from a URL) skips ``oct`` members unread: checking that a secret is no key
    material parses DER, which a hostile set made cost 60 ms a member (DH-4096 private keys: 247 of them in 512 KiB
    held a fetch 15 s past its deadline).
    """
    if not isinstance(doc, Mapping) or not isinstance(doc.get("keys"), list):
        raise ValueError("not a JWK set")
    by_kid: dict[str, Key] = {}
    seen: set[str] = set()
    dup: set[str] = set()
    anonymous: list[Key] = []
    entries = doc["keys"]
    if len(entries) > MAX_KEYS:
        read = "" if len(entries) <= MAX_KEYS * 4 else f"only its first {MAX_KEYS * 4} entries are read and "
        # (before session 32 a set of more than 4000 entries said "only the first 1000 usable keys are kept" when
        # its one usable key, the 4001st, was never read)
        log.warning(
            "jwtobs: a key set of %d entries: %sonly the first %d usable keys are kept", len(entries), read, MAX_KEYS
        )
    for jwk in entries[: MAX_KEYS * 4]:
        if not isinstance(jwk, Mapping):
            continue
        key = _key_from_jwk(jwk, secrets=secrets)
        if key is None:
            continue
        if key.kid is not None:
            if key.kid in seen:
                dup.add(key.kid)
            seen.add(key.kid)
        if key.kid is None:
            anonymous.append(key)
        elif len(by_kid) < MAX_KEYS:
            by_kid[key.kid] = key
    for kid in dup:
        by_kid.pop(kid, None)
    return by_kid, anonymous[:MAX_KEYS]


def _select(by_kid: Mapping[str, Key], anonymous: list[Key], kid: str | None) -> Key | None:
    if kid is not None:
        return by_kid.get(kid)
    # no kid in the token: only unambiguous when the source holds exactly one key
    if len(by_kid) + len(anonymous) == 1:
        return anonymous[0] if anonymous else next(iter(by_kid.values()))
    return None


class StaticKeys(KeySource):
    """Keys fixed at construction: a JWK set dict, one JWK dict, ``{kid: key}``, or a list of key objects.

    Keys without a kid (key objects, JWKs without one) answer a token without a kid when they are the only key; one
    such key alone answers every token, whatever kid it names. Give ``{kid: key}`` to select by kid.

    An HMAC secret must be at least 32 bytes and must not look like key material (PEM, SSH, a JWK, DER):
    a public key used as an HMAC secret lets anyone forge tokens, so it is refused here, at configuration.
    """

    def __init__(self, keys: object, *, issuer: str | None = None) -> None:
        self.issuer = issuer
        self._by_kid: dict[str, Key]
        self._anonymous: list[Key]
        if isinstance(keys, Mapping) and "keys" in keys:
            self._by_kid, self._anonymous = parse_jwks(keys)
        elif isinstance(keys, Mapping) and "kty" in keys:
            self._by_kid, self._anonymous = parse_jwks({"keys": [keys]})
        elif isinstance(keys, Mapping):
            self._by_kid = {str(k): _key_from_object(str(k), v) for k, v in keys.items()}
            self._anonymous = []
        elif isinstance(keys, Iterable) and not isinstance(keys, (str, bytes)):
            self._by_kid, self._anonymous = {}, [_key_from_object(None, v) for v in keys]
        else:
            self._by_kid, self._anonymous = {}, [_key_from_object(None, keys)]
        if not self._by_kid and not self._anonymous:
            raise ConfigurationError("StaticKeys: no usable key")
        _guarded(_TRUST_FAILURES, lambda: config.current().guard.trust_kids(list(self._by_kid)[:TRUSTED_KIDS_PER_SET]))

    def get(self, kid: str | None) -> Key:
        key = _select(self._by_kid, self._anonymous, kid)
        if key is None and kid is not None and not self._by_kid and len(self._anonymous) == 1:
            # one key configured without a kid (a key object, a JWK without one) is the key of every token, whatever
            # kid it names (RFC 7515 §4.1.4: a hint); the signature decides. Before session 33 a token carrying a
            # kid was JWT_UNKNOWN_KID on such a source: every token of an IdP that stamps kids
            key = self._anonymous[0]
        if key is None:
            raise TokenRejected(Reason.UNKNOWN_KID, "no_kid" if kid is None else None)
        return key

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._by_kid)

    def all_keys(self) -> tuple[Key, ...]:
        """Every key this source holds (the Verifier checks them against its profile at construction)."""
        return (*self._by_kid.values(), *self._anonymous)


def _key_from_object(kid: str | None, obj: object) -> Key:
    if isinstance(obj, Key):
        return obj
    if isinstance(obj, (bytes, bytearray, str)):
        secret = obj.encode() if isinstance(obj, str) else bytes(obj)
        if len(secret) < 32:
            raise ConfigurationError("StaticKeys: HMAC secret shorter than 32 bytes")
        kind = _key_material_kind(secret)
        if kind is not None:
            raise ConfigurationError(
                f"StaticKeys: {kind} key material given as an HMAC secret (pass the key object, or a JWK)"
            )
        return Key(kid, "oct", None, secret)
    c = _crypto()
    if isinstance(obj, c.rsa.RSAPrivateKey | c.ec.EllipticCurvePrivateKey | c.ed25519.Ed25519PrivateKey):
        obj = obj.public_key()
    if isinstance(obj, c.ed448.Ed448PrivateKey):
        obj = obj.public_key()
    if isinstance(obj, c.rsa.RSAPublicKey):
        if obj.key_size < MIN_RSA_BITS:
            raise ConfigurationError(f"StaticKeys: RSA key shorter than {MIN_RSA_BITS} bits")
        return Key(kid, "RSA", None, obj)
    if isinstance(obj, c.ec.EllipticCurvePublicKey):
        crv = _curve_of_object(obj)
        if crv is None:
            raise ConfigurationError(f"StaticKeys: unsupported EC curve {obj.curve.name}")
        return Key(kid, "EC", None, obj, crv)
    if isinstance(obj, (c.ed25519.Ed25519PublicKey, c.ed448.Ed448PublicKey)):
        return Key(kid, "OKP", None, obj, _curve_of_object(obj))
    raise ConfigurationError(f"StaticKeys: unsupported key object {type(obj).__name__}")


# -- failures of observability: counted and logged once, never raised into a request -----------------------
_TRUST_FAILURES: Final = FailureCount("registering trusted kids with the cardinality guard", logger="jwtobs.jwks")


def _guarded(counter: FailureCount, fn: Callable[[], object]) -> None:
    try:
        fn()
    except Exception as exc:  # observability never changes a verdict; counted + logged once
        counter.add(exc)


# -- one HTTP GET under one deadline ----------------------------------------------------------------------
class _FetchError(Exception):
    """A failed fetch with its low-cardinality ``error.type``."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: a JWKS URL is configuration; a redirect is a fetch failure."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class _DeadlineRaw(io.RawIOBase):
    """The socket reader of one response: every read waits at most until ``deadline`` (so a server dripping
    the status line, headers, chunk sizes or body cannot stretch the fetch), and at most ``budget`` bytes are
    read before the headers are complete."""

    def __init__(self, inner: Any, sock: socket.socket, deadline: float, budget: int) -> None:
        super().__init__()
        self._inner = inner
        self._sock = sock
        self._deadline = deadline
        self.budget: int | None = budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise _FetchError("timeout")
        view = memoryview(buffer).cast("B")
        if self.budget is not None:
            if self.budget <= 0:
                raise _FetchError("headers_too_large")
            view = view[: self.budget]
        self._sock.settimeout(remaining)
        n: int | None = self._inner.readinto(view)
        if n is None:  # pragma: no cover - non-blocking sockets only
            raise _FetchError("timeout")
        if self.budget is not None:
            self.budget -= n
        return n

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


class _Response(http.client.HTTPResponse):
    def __init__(self, sock: socket.socket, *args: Any, deadline: float, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        # the stdlib reader's raw socket IO, behind the deadline (it keeps the socket open after urllib's close)
        buffered = self.fp
        self._raw = _DeadlineRaw(buffered.detach(), sock, deadline, MAX_HEADER_BYTES + io.DEFAULT_BUFFER_SIZE)
        self.fp = io.BufferedReader(self._raw)

    def begin(self) -> None:
        super().begin()
        self._raw.budget = None
        if len(self.headers) > MAX_HEADERS:
            raise _FetchError("too_many_headers")

    def _read_status(self) -> tuple[str, int, str]:
        """The status line of the final response: informational ones before it (``103 Early Hints``, ``102``)
        are skipped with their headers, as the stdlib skips ``100 Continue`` (at most 8, all within the header
        budget and the deadline); a CDN sending Early Hints made every fetch fail as ``http_1xx``."""
        read = super()._read_status  # type: ignore[misc]
        for _ in range(_MAX_INFORMATIONAL):
            version, status, reason = read()
            if not 102 <= status < 200:  # (100 is the stdlib's; 101 switches protocols: a failed fetch)
                return version, status, reason
            http.client._read_headers(self.fp)  # type: ignore[attr-defined]
        raise _FetchError("bad_response")

    def _read_next_chunk_size(self) -> int:
        """A chunk size is hex digits: a negative one (``int(line, 16)`` takes ``-1``) is an invalid one, as ``zz``
        (``incomplete_body``). Before session 39 the stdlib read a chunk of size -1 to the connection's end: a
        server streaming after it was read past ``max_bytes`` until the deadline (640 MiB at ``timeout=1``)."""
        size: int = super()._read_next_chunk_size()  # type: ignore[misc]
        if size < 0:
            raise ValueError("negative chunk size")  # (the stdlib's _get_chunk_left: IncompleteRead)
        return size


_AddrInfo = tuple[int, int, int, str, Any]


class _Resolution:
    """One ``getaddrinfo`` of (host, port) in a daemon thread: a fetch waits for it at most until its deadline
    (the stdlib resolves inline, with no timeout: a resolver stub blocked 3 s held a fetch with ``timeout=0.3``
    3.03 s; glibc waits 5 s per attempt and name server). One resolution per (host, port) at a time: a fetch
    while one is still running, even after its own fetch gave up, waits for that one instead of starting another
    thread."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.done = threading.Event()
        self.result: Sequence[_AddrInfo] = ()
        self.error: OSError | None = None

    def run(self) -> None:
        try:
            self.result = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)
        except OSError as exc:  # socket.gaierror (no such name, resolver failure): the fetch's error
            self.error = exc
        except Exception:  # anything else: reported as no address below
            pass
        finally:
            with _RESOLVING_LOCK:
                if _RESOLVING.get((self.host, self.port)) is self:
                    del _RESOLVING[(self.host, self.port)]
            self.done.set()


_RESOLVING: dict[tuple[str, int], _Resolution] = {}
_RESOLVING_LOCK: Final = _forksafe.Lock()  # (another thread of a forking parent may hold it)


def _resolve(host: str, port: int, deadline: float) -> Sequence[_AddrInfo]:
    """The addresses of ``host``, resolved within ``deadline`` (an IP literal needs no resolver)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    with _RESOLVING_LOCK:
        resolution = _RESOLVING.get((host, port))
        if resolution is None:
            resolution = _Resolution(host, port)
            # registered once started (a thread that cannot start leaves no entry every later fetch would wait on);
            # run() removes it under this lock, so not before it is registered
            threading.Thread(target=resolution.run, name="jwtobs-jwks-resolve", daemon=True).start()
            _RESOLVING[(host, port)] = resolution
    if not resolution.done.wait(max(deadline - time.monotonic(), 0.0)):
        raise _FetchError("timeout")
    if resolution.error is not None:
        raise resolution.error
    return resolution.result


def _create_connection(address: tuple[str, int], deadline: float, source_address: Any = None) -> socket.socket:
    """``socket.create_connection`` under ``deadline``: resolution included, and each address gets a share of the
    time left (the stdlib gives every address the whole timeout: a host whose first address drops packets,
    e.g. a broken IPv6 route, spent the fetch's whole deadline on it and failed every fetch as a timeout)."""
    host, port = address
    infos = _resolve(host, port, deadline)
    last: OSError | None = None
    for i, (family, socktype, proto, _, sockaddr) in enumerate(infos):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _FetchError("timeout")
        sock = socket.socket(family, socktype, proto)
        try:
            sock.settimeout(remaining / (len(infos) - i))
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            sock.close()
            raise _FetchError("timeout")
        sock.settimeout(remaining)  # the TLS handshake (and a proxy's CONNECT) get what is left, not a new timeout
        return sock
    if last is not None:
        raise last
    raise _FetchError("dns")  # the resolver answered with no address


def _connection(base: type[http.client.HTTPConnection], deadline: float) -> Callable[..., http.client.HTTPConnection]:
    """A connection class of ``base`` whose name resolution, connect and TLS handshake get what is left of
    ``deadline`` and whose response reads are bounded by it."""

    class _Conn(base):  # type: ignore[valid-type,misc]
        # (staticmethod: from Python 3.14 a partial in a class body binds like a method, and http.client calls
        # self.response_class(sock, ...); 3.13 warns of it with a FutureWarning on every fetch)
        response_class = staticmethod(functools.partial(_Response, deadline=deadline))

        def connect(self) -> None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _FetchError("timeout")
            self.timeout = remaining
            self._create_connection = functools.partial(_connect_by_deadline, deadline)
            super().connect()

    return _Conn


def _connect_by_deadline(
    deadline: float, address: tuple[str, int], timeout: object = None, source_address: Any = None
) -> socket.socket:
    """``HTTPConnection._create_connection``'s signature; ``timeout`` is ignored (the deadline rules)."""
    return _create_connection(address, deadline, source_address)


class _HttpHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: float) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_connection(http.client.HTTPConnection, self._deadline), req)


class _HttpsHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: float, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self._deadline = deadline
        self._ctx = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_connection(http.client.HTTPSConnection, self._deadline), req, context=self._ctx)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """The system trust store with hostname checks, loaded once per process (loading it costs ~20 ms)."""
    return ssl.create_default_context()


#: content codings a key set is accepted in (RFC 9110 §8.4.1), sent as ``Accept-Encoding``: without that header
#: any coding is acceptable to the server, and one that compressed anyway (an S3 object stored with
#: ``Content-Encoding: gzip`` is served so whatever the request says) made every fetch ``invalid_json``
_ACCEPT_ENCODING: Final = "gzip, deflate"
#: content coding -> zlib window bits to try, in order
_WBITS: Final = {
    "gzip": (16 + zlib.MAX_WBITS,),
    "x-gzip": (16 + zlib.MAX_WBITS,),
    "deflate": (zlib.MAX_WBITS, -zlib.MAX_WBITS),
}
#: gzip members decoded in one body; more are ``content_encoding`` (each costs a copy of the body after it: 26 000
#: empty members in 512 KiB took 0.24 s, the same in 64 MiB would take hours)
_MAX_GZIP_MEMBERS: Final = 16


def _decode_content(body: bytes, encodings: Iterable[str], max_bytes: int) -> bytes:
    """``body`` decoded as its ``Content-Encoding`` says: one coding of :data:`_WBITS` (``deflate`` as RFC 9110's
    zlib format, or the raw deflate some servers send), at most ``max_bytes`` once decoded (a decompression bomb
    is ``too_large`` after ``max_bytes + 1`` bytes, never inflated further). Another coding, several, or data
    that does not decode in full: ``content_encoding``. A gzip body may hold several members, one after another
    (RFC 1952 §2.2: ``cat a.gz b.gz``), decoded as one body within the same ``max_bytes`` (at most
    :data:`_MAX_GZIP_MEMBERS`: zlib copies what follows each member); before session 39 a second member was
    ``content_encoding``, while Python's ``gzip`` and urllib3 read it."""
    codings = [c.strip().lower() for value in encodings for c in value.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return body
    if len(codings) > 1 or codings[0] not in _WBITS:
        raise _FetchError("content_encoding")
    members = _MAX_GZIP_MEMBERS if codings[0] in ("gzip", "x-gzip") else 1
    for wbits in _WBITS[codings[0]]:
        parts: list[bytes] = []
        left, rest = max_bytes + 1, body
        try:
            for _ in range(members):
                inflater = zlib.decompressobj(wbits)
                parts.append(inflater.decompress(rest, left))
                left -= len(parts[-1])
                if left <= 0:
                    raise _FetchError("too_large")
                if not inflater.eof:  # truncated
                    raise _FetchError("content_encoding")
                rest = inflater.unused_data
                if not rest:
                    return b"".join(parts)
        except zlib.error:
            continue
        raise _FetchError("content_encoding")  # something after the compressed data
    raise _FetchError("content_encoding")


def _content_length(values: Iterable[str]) -> str | None:
    """The one ``Content-Length`` of a response (``None`` without any). Several lines or a list of values that
    differ make the framing invalid, an unrecoverable error (RFC 9112 §6.3): ``bad_response``; before, the first
    one framed the body and the others were ignored (two lines, 4112 and 5: a key set accepted)."""
    distinct = {v.strip() for value in values for v in value.split(",")}
    if not distinct:
        return None
    if len(distinct) > 1:
        raise _FetchError("bad_response")
    return distinct.pop()


def _age(values: Iterable[str]) -> int:
    """Seconds a cache in between has held the response (``Age``, RFC 9111 §5.1); 0 without one. Several
    differing lines or a value that is not delta-seconds count as 0 (RFC 9111: an invalid ``Age`` is ignored)."""
    found = {v.strip() for v in values}
    if len(found) != 1:
        return 0
    (value,) = found
    return _delta_seconds(value) or 0


def _delta_seconds(value: str) -> int | None:
    """RFC 9111's delta-seconds (digits; more than 2^31 is 2^31, §1.2.2: before session 32 an ``Age`` of 11 digits
    or more was ignored and the key set kept for its whole max-age), ``None`` when ``value`` is none."""
    if not (value.isascii() and value.isdigit()):
        return None
    return _DELTA_MAX if len(value) > 10 else min(int(value), _DELTA_MAX)


def _cache_control(value: str) -> tuple[int | None, bool]:
    """(``max-age`` in seconds or ``None``, whether ``no-store`` or ``no-cache`` is there) of a Cache-Control value,
    read directive by directive: a ``max-age=5`` or ``no-store`` inside another directive's quoted argument is not
    one, and a ``max-age`` that is no delta-seconds (``3600abc``, ``-1``) counts as absent (before session 32,
    ``3600abc`` was read as 3600). Of several ``max-age`` directives the smallest counts (RFC 9111 §4.2.1 allows
    treating the response as stale)."""
    ages: list[int] = []
    uncached = False
    pos = 0
    for _ in range(len(value) + 1):  # (each directive consumes at least one character)
        m = _DIRECTIVE_RE.match(value, pos)
        if m is None or m.end() == pos:
            break
        pos = m.end()
        name, arg = m.group(1).lower(), (m.group(2) or "").strip() or None
        if name in ("no-store", "no-cache"):
            uncached = True
        elif name == "max-age" and arg is not None:
            seconds = _delta_seconds(arg[1:-1] if arg.startswith('"') and arg.endswith('"') and len(arg) > 1 else arg)
            if seconds is not None:
                ages.append(seconds)
    return (min(ages) if ages else None), uncached


def _retry_after(exc: BaseException) -> float:
    """The seconds a ``429``/``503`` answer asks before the next request (``Retry-After``: delay-seconds, or an
    HTTP-date against this host's wall clock); 0 for any other failure, no header, several headers or a value
    that is neither."""
    if not isinstance(exc, urllib.error.HTTPError) or exc.code not in _RETRY_AFTER_STATUSES or exc.headers is None:
        return 0.0
    values = exc.headers.get_all("Retry-After") or []
    if len(values) != 1:
        return 0.0
    value = str(values[0]).strip()
    if value.isascii() and value.isdigit():
        return float(value[:12])  # (beyond MAX_RETRY_AFTER anyway; no int of a million digits)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return 0.0
    if when.tzinfo is None:  # (RFC 9110 §5.6.7: an HTTP-date is GMT; "-0000" parses as naive)
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - time.time())


def _error_type(exc: BaseException) -> str:
    """The low-cardinality ``error.type`` of a failed fetch (never a message, never a server string)."""
    if isinstance(exc, _FetchError):
        return exc.why
    if isinstance(exc, urllib.error.HTTPError):
        code = exc.code
        if code in _REDIRECTS:
            return "redirect"
        return f"http_{code}" if code in _NAMED_STATUSES else f"http_{code // 100}xx"
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        return _error_type(exc.reason)
    if isinstance(exc, http.client.IncompleteRead):
        return "incomplete_body"
    if isinstance(exc, http.client.LineTooLong):
        return "header_too_long"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "disconnected"
    if isinstance(exc, http.client.BadStatusLine):
        return "bad_status_line"
    if isinstance(exc, http.client.HTTPException):
        return "too_many_headers" if "headers" in str(exc) else "bad_response"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, socket.gaierror):  # the host name did not resolve
        return "dns"
    if isinstance(exc, ssl.SSLError):
        return "tls"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        return "reset"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, OSError):
        return "connection"
    if isinstance(exc, UnicodeError | ValueError):
        return "bad_response"
    return "internal"


def _loopback_http(url: str) -> bool:
    """``http://`` to a loopback address: the parsed host is ``localhost`` or a loopback IP, no userinfo."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    if parts.scheme != "http" or parts.username is not None or "@" in parts.netloc:
        return False
    host = parts.hostname
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _https_url(url: str) -> bool:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and "@" not in parts.netloc


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _seconds(name: str, value: object, low: float, high: float, *, low_open: bool = False) -> None:
    """``value`` is a finite number of seconds in [low, high] (``low_open``: (low, high]), else ConfigurationError."""
    v = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    if not (math.isfinite(v) and (v > low if low_open else v >= low) and v <= high):
        bracket = "(" if low_open else "["
        raise ConfigurationError(
            f"JwksSource: {name} must be a finite number of seconds in {bracket}{low:g}, {high:.0f}] (got {value!r})"
        )


def _count(name: str, value: object, low: int, high: int) -> None:
    """``value`` is an int (not a bool) in [low, high], else ConfigurationError."""
    if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
        raise ConfigurationError(f"JwksSource: {name} must be an integer in [{low}, {high}] (got {value!r})")


class JwksSource(KeySource):
    """Keys from a JWKS URL, cached, refreshed with the bounds described in the module docstring.

    url: the JWKS endpoint (``https://``; ``http://`` only when the host is ``localhost`` or a loopback IP).
    issuer: the issuer this key set belongs to (telemetry label; the Verifier sets it from its profile).
    timeout: seconds for the whole fetch: name resolution, connect, TLS, status line, headers and body under one
        deadline; in (0, :data:`MAX_TIMEOUT`].
    cooldown: minimum seconds between two unknown-kid refreshes, and between retries after a failure (longer where
        a ``429``/``503`` answer's ``Retry-After`` asks for more, up to :data:`MAX_RETRY_AFTER`); at least
        :data:`MIN_COOLDOWN` (1 s), or :class:`ConfigurationError`.
    min_ttl, max_ttl: bounds applied to ``Cache-Control: max-age`` (``default_ttl`` when absent).
    max_stale: seconds after the last successful fetch during which the last-known-good keys are still used
        when refreshes fail.
    max_bytes: larger responses are a fetch failure; an int in [1, :data:`MAX_BYTES_LIMIT`].
    negative_cache_size: distinct unknown kids remembered (per cooldown window); an int in [0,
        :data:`MAX_NEGATIVE_CACHE`].
    coalesce: seconds after a fetch completed during which an unknown kid forces no refresh: the key set just
        fetched answers it (at most ``cooldown``). A caller that reaches :meth:`get` in a worker thread may have
        arrived while that fetch ran (a plain ``def`` dependency run by ``anyio.to_thread``, queued behind busy
        threads): its forced refresh would ask the IdP again for what it just answered.
    clock: monotonic time source (tests inject a fake one).
    proxies: ``{"https": "http://proxy:3128"}``; default: the environment's (``HTTPS_PROXY``/``NO_PROXY``).
        Loopback URLs never go through a proxy.
    ssl_context: TLS settings for ``https://`` (default: the system trust store, hostname checked).

    Every numeric argument is checked here: a bool, a string, NaN, an infinity or a value out of its range (see
    ``docs/jwks.md``) is a :class:`ConfigurationError` naming the argument and its range.
    """

    def __init__(
        self,
        url: str,
        *,
        issuer: str | None = None,
        timeout: float = 3.0,
        cooldown: float = 30.0,
        min_ttl: float = 60,
        max_ttl: float = 86400,
        default_ttl: float = 300,
        max_stale: float = 86400,
        max_bytes: int = 512 * 1024,
        negative_cache_size: int = 1024,
        coalesce: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        proxies: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not isinstance(url, str):
            raise ConfigurationError("JwksSource url must be a string")
        loopback = _loopback_http(url)
        if not (loopback or _https_url(url)):
            raise ConfigurationError("JwksSource url must be https:// (http:// only for localhost / a loopback IP)")
        # each numeric argument: a finite int or float (not a bool) within its range, or a ConfigurationError naming
        # it. Before session 35 only their order was checked: timeout=inf or 1e10 (past threading.TIMEOUT_MAX) made
        # every verification JWT_VALIDATOR_ERROR/OverflowError with no request made, negative_cache_size=-1 every
        # unknown kid JWT_VALIDATOR_ERROR/KeyError, default_ttl=nan a key set never refreshed
        _seconds("timeout", timeout, 0.0, MAX_TIMEOUT, low_open=True)
        if not (_is_number(cooldown) and cooldown >= MIN_COOLDOWN):  # (NaN too)
            raise ConfigurationError(
                f"JwksSource: cooldown must be at least {MIN_COOLDOWN:g} s (got {cooldown!r}): it bounds the requests "
                "unknown kids make to the key set endpoint (with 0, 200 tokens of random kids made 200 requests)"
            )
        _seconds("cooldown", cooldown, MIN_COOLDOWN, MAX_SECONDS)
        _seconds("min_ttl", min_ttl, 0.0, MAX_SECONDS, low_open=True)
        _seconds("max_ttl", max_ttl, 0.0, MAX_SECONDS, low_open=True)
        _seconds("default_ttl", default_ttl, 0.0, MAX_SECONDS, low_open=True)
        _seconds("max_stale", max_stale, 0.0, MAX_SECONDS, low_open=True)
        _seconds("coalesce", coalesce, 0.0, MAX_SECONDS)
        _count("max_bytes", max_bytes, 1, MAX_BYTES_LIMIT)
        _count("negative_cache_size", negative_cache_size, 0, MAX_NEGATIVE_CACHE)
        if max_ttl < min_ttl:
            raise ConfigurationError(f"JwksSource: max_ttl ({max_ttl:g} s) must be at least min_ttl ({min_ttl:g} s)")
        if max_stale < min_ttl:  # the keys would go stale before the earliest refresh the TTL allows
            raise ConfigurationError(
                f"JwksSource: max_stale ({max_stale:g} s) must be at least min_ttl ({min_ttl:g} s): keys are refreshed "
                "no sooner than min_ttl after a fetch, and max_stale is how long they stay usable without one"
            )
        _crypto()  # a key set of public keys needs cryptography: say so now, not on the first request
        self.url = url
        self.issuer = issuer
        self.timeout = float(timeout)
        self.cooldown = float(cooldown)
        self.min_ttl, self.max_ttl = float(min_ttl), float(max_ttl)
        self.default_ttl = min(max(float(default_ttl), self.min_ttl), self.max_ttl)
        self.max_stale = float(max_stale)
        self.max_bytes = int(max_bytes)
        self.negative_cache_size = int(negative_cache_size)
        self.coalesce = min(float(coalesce), self.cooldown)
        self.clock = clock
        self._proxies: dict[str, str] | None = {} if loopback else (None if proxies is None else dict(proxies))
        self._ssl_context = ssl_context
        self._by_kid: dict[str, Key] | None = None
        self._anonymous: list[Key] = []
        self._fetched_at = 0.0  # clock time of the last successful fetch
        self._next_refresh = float("-inf")  # clock time at which the cache expires (or a failed fetch may be retried)
        self._last_forced = float("-inf")  # clock time of the last unknown-kid refresh
        self._completed_at = float("-inf")  # clock time at which the last successful fetch completed
        self._attempted_at = float("-inf")  # clock time at which the last fetch started (success or failure)
        self._clock_floor = float("-inf")  # _attempted_at - _CLOCK_BACK_TOLERANCE: an earlier clock was set back
        self._negative: OrderedDict[str, float] = OrderedDict()
        self._evicted: set[str] = set()
        self._generation = 0  # fetch attempts completed
        # (unlocked again in a forked child: a fetch another thread of the parent ran at the fork does not exist
        # there, and neither does its release - every caller of the child waited ``timeout`` for it)
        self._fetch_lock = _forksafe.Lock()
        self._state_lock = _forksafe.Lock()
        self._telemetry_failures = FailureCount(f"JWKS telemetry for {url[:200]}", logger="jwtobs.jwks")
        self._unexpected = FailureCount(
            f"a JWKS fetch from {url[:200]}",
            "an unexpected error: counted as error.type=internal, keys kept",
            logger="jwtobs.jwks",
        )
        #: counters kept on the object too (tests, diagnostics)
        self.fetch_count = 0
        self.failure_count = 0
        self.last_error: str | None = None
        #: failures by ``error.type`` (bounded: the types are a fixed vocabulary)
        self.errors: dict[str, int] = {}

    # -- public -------------------------------------------------------------------------------------------
    def get(self, kid: str | None) -> Key:
        return self._get(kid, self._generation)

    def _lookup_on_arrival(self) -> Callable[[str | None], Key]:
        """The lookup of a caller arriving now: :meth:`_get` with the generation read now, so a fetch that completes
        while the caller queues for a worker thread counts as one it waited for (as :meth:`AsyncJwksSource.aget`).
        A subclass that overrides :meth:`get` keeps its own ``get``."""
        if type(self).get is not JwksSource.get:
            return self.get
        return functools.partial(self._get, gen=self._generation)

    def _inline_lookup_on_arrival(self) -> Callable[[str | None], Key] | None:
        """The lookup of a caller arriving now that looks the key up on the event loop (``needs_io`` said no): it
        raises :class:`_WouldBlock` instead of fetching or waiting for a fetch (a TTL or a cooldown that ended since
        ``needs_io`` answered). None for a subclass with its own :meth:`get`."""
        if type(self).get is not JwksSource.get:
            return None
        return functools.partial(self._get, gen=self._generation, inline=True)

    def _get(self, kid: str | None, gen: int, inline: bool = False) -> Key:
        """:meth:`get` for a caller that arrived when ``gen`` fetches had completed. It never starts a fetch once
        another has completed since (success or failure): a fetch it waited for, or made itself, is the
        freshest key set there is. Read before the expiry: a fetch completing in between moves the expiry or
        the generation, so no caller starts a second fetch in the same window. ``inline``: the caller is on an event
        loop, which must not wait for the network: where a fetch (or a wait for one) would start, :class:`_WouldBlock`
        is raised instead and the caller moves to a worker thread."""
        now = self.clock()
        if now < self._clock_floor:
            self._clock_went_back(now)
        if now >= self._next_refresh:
            if inline:  # due since needs_io answered (the TTL ended in between): not on the event loop
                raise _WouldBlock(functools.partial(self._get, gen=gen))
            self._refresh("startup" if self._by_kid is None else "ttl", gen)
            now = self.clock()
        by_kid = self._usable(now)
        if by_kid is None:
            raise TokenRejected(Reason.JWKS_UNAVAILABLE, self.last_error or "no_keys")
        key = _select(by_kid, self._anonymous, kid)
        if key is not None:
            return key
        if kid is None:
            raise TokenRejected(Reason.UNKNOWN_KID, "no_kid")
        if len(kid) > _MAX_KID_CHARS:  # no published kid is this long (parse_jwks drops them): never refresh
            self._suppressed("negative_cache")
            raise TokenRejected(Reason.UNKNOWN_KID, None)
        # unknown kid: at most one forced refresh per cooldown, bounded negative cache; none when a fetch completed
        # since this caller arrived (before, a cold start or an expired TTL with a new kid made two fetches in a row
        # in one call: twice the wait, and a second request for a key set just fetched)
        with self._state_lock:
            seen = self._negative.get(kid)
            if seen is not None and now - seen < self.cooldown:
                self._suppressed("negative_cache")
                raise self._unknown_kid()
            allowed = now - self._last_forced >= self.cooldown and now >= self._retry_after_failure()
        if not allowed:
            self._remember_unknown(kid, now)
            self._suppressed("cooldown")
            raise self._unknown_kid()
        if self._coalesced(self.clock()):
            # a fetch completed moments ago: this caller may have arrived while it ran and reached here only now
            # (a worker thread queued behind busy ones); that key set answers it. Not remembered: once the window
            # ends, a kid published since forces a refresh as usual
            self._suppressed("coalesced")
            raise self._unknown_kid()
        if inline:  # allowed since needs_io answered (the cooldown ended in between): not on the event loop
            raise _WouldBlock(functools.partial(self._get, gen=gen))
        self._refresh("unknown_kid", gen, forced=True)
        by_kid = self._usable(self.clock())
        if by_kid is not None:
            key = _select(by_kid, self._anonymous, kid)
            if key is not None:
                return key
        self._remember_unknown(kid, now)
        raise self._unknown_kid()

    def _unknown_kid(self) -> TokenRejected:
        """The rejection of a kid the keys in hand do not have: ``JWT_UNKNOWN_KID``, or ``JWT_JWKS_UNAVAILABLE`` (its
        detail the fetch's ``error.type``) while the last fetch failed - the key set that could have it could not
        be fetched (a key rotated in during an outage is the issuer's; a retry later gets it, as PyJWKClient's
        path reports a failed refetch). A token without a kid and a kid longer than any published are the token's."""
        why = self.last_error
        return TokenRejected(Reason.UNKNOWN_KID, None) if why is None else TokenRejected(Reason.JWKS_UNAVAILABLE, why)

    def needs_io(self, kid: str | None) -> bool:
        """Whether :meth:`get` for ``kid`` may fetch (or wait for a fetch) right now; False means it answers
        from memory. Used by the asyncio variant to keep cached lookups on the event loop."""
        now = self.clock()
        if now < self._clock_floor:
            self._clock_went_back(now)
        by_kid = self._usable(now)
        if now >= self._next_refresh and (by_kid is None or not self._fetch_lock.locked()):
            # a refresh is due: this caller fetches, or waits for the running fetch when nothing is usable
            return True
        # answered from the keys in memory (the last-known-good ones while a refresh runs), unless the kid is
        # unknown and get() would force a refresh: that waits for the running fetch, so it is I/O too (before,
        # an unknown kid during a running TTL refresh waited for it on the event loop: the loop stopped 0.4 s)
        if by_kid is None or kid is None or kid in by_kid or len(kid) > _MAX_KID_CHARS:
            return False
        seen = self._negative.get(kid)
        if seen is not None and now - seen < self.cooldown:
            return False
        if self._coalesced(now):
            return False
        return now - self._last_forced >= self.cooldown and now >= self._retry_after_failure()

    def refresh(self) -> bool:
        """Fetch now (trigger ``manual``), whatever the TTL. True when the fetch succeeded."""
        gen = self._generation
        self._refresh("manual", gen)
        return self.last_error is None

    def evict(self, kid: str) -> None:
        """Emergency key removal: ``kid`` is no longer used, even if the endpoint still publishes it."""
        removed: tuple[str, ...] = ()
        with self._state_lock:
            self._evicted.add(kid)
            if self._by_kid is not None and kid in self._by_kid:
                by_kid = dict(self._by_kid)
                del by_kid[kid]
                self._by_kid = by_kid
                removed = (kid,)
        if removed:
            self._changed((), removed)

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._by_kid or ())

    @property
    def negative_cache_len(self) -> int:
        return len(self._negative)

    @property
    def telemetry_failures(self) -> int:
        """Telemetry calls of this source that raised (swallowed: they never change a verdict)."""
        return self._telemetry_failures.count

    # -- internals ----------------------------------------------------------------------------------------
    def _clock_went_back(self, now: float) -> None:
        """The clock reads earlier than the last fetch started: it was set back (a wall clock given as ``clock``,
        stepped by NTP; a test's time machine). Every time kept is moved by the same amount, as if the last fetch had
        started now: the TTL, the cooldown, the retry after a failure and the negative cache run on from there.
        Before, they all waited for the clock to come back to where it had been: set back one hour, a source whose
        last fetch had failed answered ``JWT_JWKS_UNAVAILABLE`` for 3 630 s with the endpoint healthy again after
        30 s, and a key published in a rotation was ``JWT_UNKNOWN_KID`` for 3 601 s; now 30 s (the cooldown) and 1 s
        (the coalescing window), and the TTL refresh comes 300 s after the last fetch instead of 3 900 s. A forward
        jump needs nothing: the cache only expires early, within the same bounds."""
        with self._state_lock:
            shift = now - self._attempted_at
            if not shift < -_CLOCK_BACK_TOLERANCE:  # another caller moved them already (or NaN)
                return
            self._attempted_at = now
            self._clock_floor = now - _CLOCK_BACK_TOLERANCE
            self._fetched_at += shift
            self._next_refresh += shift
            self._last_forced += shift
            self._completed_at += shift
            neg = self._negative
            for kid, seen in list(neg.items()):
                neg[kid] = seen + shift

    def _usable(self, now: float) -> dict[str, Key] | None:
        by_kid = self._by_kid
        if by_kid is None:
            return None
        if now - self._fetched_at > self.max_stale:
            return None
        return by_kid

    def _coalesced(self, now: float) -> bool:
        """Whether a fetch completed less than ``coalesce`` seconds before ``now``: an unknown kid seen now is
        answered by that key set, with no forced refresh."""
        return now - self._completed_at < self.coalesce

    def _retry_after_failure(self) -> float:
        """After a failed fetch, the clock time before which no fetch is started, whatever triggers it."""
        return self._next_refresh if self.last_error is not None else float("-inf")

    def _remember_unknown(self, kid: str, now: float) -> None:
        with self._state_lock:
            neg = self._negative
            neg[kid] = now
            neg.move_to_end(kid)
            while len(neg) > self.negative_cache_size:
                neg.popitem(last=False)

    def _label(self) -> str:
        return self.issuer if self.issuer is not None else UNKNOWN

    def _suppressed(self, why: str) -> None:
        try:
            config.current().telemetry.count(JWKS_REFRESH_SUPPRESSED, ((ATTR_ISSUER, self._label()), (ATTR_WHY, why)))
        except Exception as exc:  # telemetry never breaks a request: counted, logged once
            self._telemetry_failures.add(exc)

    def _refresh(self, trigger: str, gen: int, *, forced: bool = False) -> None:
        """Fetch unless another caller completed a fetch since ``gen`` was read (single-flight).

        While a fetch runs, a caller that has usable keys and only needs a TTL refresh answers from them at
        once; the others wait for the running fetch, at most ``timeout`` (the fetch's own deadline).
        """
        if trigger == "ttl" and self._usable(self.clock()) is not None:
            acquired = self._fetch_lock.acquire(blocking=False)
        else:
            acquired = self._fetch_lock.acquire(timeout=self.timeout)
        if not acquired:
            self._suppressed("inflight")
            return
        try:
            if self._generation != gen:
                self._suppressed("inflight")
                return
            now = self.clock()
            self._attempted_at, self._clock_floor = now, now - _CLOCK_BACK_TOLERANCE
            if forced:
                self._last_forced = now
            self._fetch(trigger, now)
            self._generation += 1
        finally:
            self._fetch_lock.release()

    def _fetch(self, trigger: str, now: float) -> None:
        """One fetch. Any exception in it is a failed fetch: last-known-good kept, retry after the cooldown."""
        start = time.monotonic()
        try:
            by_kid, anonymous, max_age = self._download_keys()
        except Exception as exc:  # any failure is a failed fetch (counted below; unexpected ones logged once)
            why = _error_type(exc)
            if why == "internal":
                self._unexpected.add(exc)
            self.failure_count += 1
            self.errors[why] = self.errors.get(why, 0) + 1
            self.last_error = why
            # retry after the cooldown, not on every request (the last-known-good keys stay in force), or later
            # where the endpoint asked for a pause (Retry-After), within MAX_RETRY_AFTER
            self._next_refresh = now + max(self.cooldown, min(_retry_after(exc), MAX_RETRY_AFTER))
            self.fetch_count += 1
            self._observe_fetch(trigger, "error", why, time.monotonic() - start)
            return
        ttl = self.default_ttl if max_age is None else min(max(float(max_age), self.min_ttl), self.max_ttl)
        with self._state_lock:
            for kid in self._evicted:
                by_kid.pop(kid, None)
            old = self._by_kid
            self._by_kid, self._anonymous = by_kid, anonymous
            self._fetched_at = now
            # due before the keys go stale: a max-age (or default_ttl) beyond max_stale would leave a healthy
            # endpoint unasked while every caller gets JWT_JWKS_UNAVAILABLE until the TTL ends
            self._next_refresh = now + min(ttl, self.max_stale)
            for kid in by_kid:
                self._negative.pop(kid, None)
        self._completed_at = self.clock()
        self.last_error = None
        self.fetch_count += 1
        self._observe_fetch(trigger, "success", None, time.monotonic() - start)
        before = set(old or ())
        added = tuple(sorted(set(by_kid) - before))
        removed = tuple(sorted(before - set(by_kid)))
        # every success, not only changes: a configure() since the last fetch brought a new guard
        trusted = list(by_kid)[:TRUSTED_KIDS_PER_SET]
        _guarded(self._telemetry_failures, lambda: config.current().guard.trust_kids(trusted))
        if added or removed:
            self._changed(added, removed)

    def _observe_fetch(self, trigger: str, outcome: str, error: str | None, seconds: float) -> None:
        try:
            tel = config.current().telemetry
            label = self._label()
            attrs: tuple[tuple[str, str], ...] = (
                (ATTR_ISSUER, label),
                (ATTR_OUTCOME, outcome),
                (ATTR_TRIGGER, trigger),
            )
            if error is not None:
                attrs += ((ATTR_ERROR_TYPE, error),)
            tel.count(JWKS_FETCHES, attrs)
            inst = tel.instruments()
            if inst is not None:
                inst[JWKS_FETCH_DURATION].record(seconds, {ATTR_ISSUER: label, ATTR_OUTCOME: outcome})
            key_attrs = ((ATTR_ISSUER, label),)
            tel.set_gauge(JWKS_KEYS, key_attrs, float(len(self._by_kid or ())))
            clock = self.clock
            tel.set_gauge(JWKS_STALENESS, key_attrs, lambda: clock() - self._fetched_at if self._by_kid else None)
        except Exception as exc:  # telemetry never breaks a request: counted, logged once
            self._telemetry_failures.add(exc)

    def _changed(self, added: tuple[str, ...], removed: tuple[str, ...]) -> None:
        from jwtobs.pipeline import emit_keyset_change

        keys = len(self._by_kid or ())
        _guarded(
            self._telemetry_failures,
            lambda: emit_keyset_change(issuer=self.issuer, added=added, removed=removed, keys=keys),
        )

    def _download_keys(self) -> tuple[dict[str, Key], list[Key], int | None]:
        body, max_age = self._download()
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            raise _FetchError("invalid_json") from None
        try:
            by_kid, anonymous = parse_jwks(doc, secrets=False)
        except ValueError:
            raise _FetchError("invalid_jwks") from None
        if not by_kid and not anonymous:
            raise _FetchError("no_keys")
        return by_kid, anonymous, max_age

    def _download(self) -> tuple[bytes, int | None]:
        """GET the URL: status 200, a JSON content type, at most ``max_bytes``, all within ``timeout``."""
        deadline = time.monotonic() + self.timeout
        context = self._ssl_context if self._ssl_context is not None else _default_ssl_context()
        handlers: list[Any] = [_NoRedirect(), _HttpHandler(deadline), _HttpsHandler(deadline, context)]
        if self._proxies is not None:
            handlers.append(urllib.request.ProxyHandler(self._proxies))
        opener = urllib.request.build_opener(*handlers)
        headers = {"Accept": "application/jwk-set+json, application/json", "Accept-Encoding": _ACCEPT_ENCODING}
        req = urllib.request.Request(self.url, headers=headers)
        with opener.open(req, timeout=self.timeout) as resp:
            status = getattr(resp, "status", 200)
            if status != 200:
                raise _FetchError("http_2xx" if 200 <= status < 300 else "bad_response")
            if resp.headers.get_content_type() not in JSON_TYPES:
                raise _FetchError("content_type")
            declared = _content_length(resp.headers.get_all("Content-Length") or ())
            if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
                raise _FetchError("too_large")
            body = resp.read(self.max_bytes + 1)
            if len(body) > self.max_bytes:
                raise _FetchError("too_large")
            if declared is not None and declared.isdigit() and len(body) != int(declared):
                raise _FetchError("incomplete_body")
            body = _decode_content(body, resp.headers.get_all("Content-Encoding") or (), self.max_bytes)
            # several Cache-Control lines are one list (RFC 9110 §5.3): a no-store on the second line counts too
            cache_control = ", ".join(resp.headers.get_all("Cache-Control") or ())
            age = _age(resp.headers.get_all("Age") or ())
        lifetime, uncached = _cache_control(cache_control)
        if uncached:
            max_age: int | None = 0
        else:
            # what is left of the freshness lifetime (RFC 9111 §4.2.3): a response a CDN has held for 3000 s of
            # its max-age=3600 is fresh for 600 s more, not 3600
            max_age = max(lifetime - age, 0) if lifetime is not None else None
        return body, max_age


def _after_fork_in_child() -> None:
    """A forked child starts with no resolver thread, whatever its parent had running: a resolution the parent was
    waiting for (its thread does not exist in the child) is forgotten (the locks: :mod:`jwtobs._forksafe`). Before,
    a name resolution still running at the fork (a resolver slower than the parent's warm-up fetch: a preloading
    server forks its workers right after) made every fetch of that host in every child wait for it and fail as
    ``timeout``, a new ``JwksSource`` too: no child ever had keys."""
    _RESOLVING.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class AsyncJwksSource(JwksSource):
    """The asyncio variant: the same policy core (TTL, cooldown, single-flight, last-known-good) as
    :class:`JwksSource`; lookups answered from memory stay on the event loop, and a lookup that has to fetch
    runs in a worker thread so the loop is never blocked (single-flight holds across threads and tasks).
    Use with :meth:`jwtobs.Verifier.averify`.
    """

    async def aget(self, kid: str | None) -> Key:
        gen = self._generation  # on arrival: a fetch completing while this lookup waits for a worker thread counts
        if not self.needs_io(kid):
            try:
                return self._get(kid, gen, True)
            except _WouldBlock:  # a fetch fell due after needs_io answered (before: it ran on the event loop)
                pass
        return await asyncio.to_thread(self._get, kid, gen)
