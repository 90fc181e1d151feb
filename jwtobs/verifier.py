"""Verifier: a :class:`~jwtobs.profile.Profile` enforced on top of a signature backend.

Order of the checks (cheap first; nothing is fetched or verified for a token that fails an earlier one):

1. size (``max_token_bytes``) → JWT_OVERSIZED; missing/empty → JWT_MISSING; wrong type → JWT_MALFORMED
2. form: JWE or JSON serialization → JWT_UNEXPECTED_FORM; whitespace before or after the token, or not compact
   JWS → JWT_MALFORMED; a header that is not UTF-8 JSON (a byte-order mark, UTF-16/32) or names a parameter
   twice → JWT_MALFORMED (``header``)
3. header: wrong-typed parameters → JWT_HEADER_INVALID; ``crit`` → JWT_CRIT_UNSUPPORTED; a forbidden
   header (``jku``/``x5u``/``x5c``/``jwk``) → JWT_FORBIDDEN_HEADER (never fetched, never used); ``b64``
   other than ``true`` (RFC 7797 unencoded payload, which the backends treat differently) → JWT_HEADER_INVALID
4. ``alg``: ``none`` in any case or empty signature → JWT_UNSIGNED; not in the allowlist → JWT_ALG_NOT_ALLOWED
5. ``typ`` (RFC 8725 §3.11, ``application/`` prefix optional, case-insensitive, otherwise exact) →
   JWT_TYPE_MISMATCH; then each segment canonical base64url (no ``=``, zero unused bits) and the payload a JSON
   object (UTF-8, no byte-order mark, no claim or member name twice) → JWT_MALFORMED (detail: the segment)
6. key from the trusted source only: unknown kid → JWT_UNKNOWN_KID, no keys → JWT_JWKS_UNAVAILABLE;
   key type, key ``alg`` or key curve not matching the token ``alg`` → JWT_ALG_NOT_ALLOWED
7. signature: an ECDSA signature not exactly R || S of its curve's size → JWT_BAD_SIGNATURE; then the backend
   → JWT_BAD_SIGNATURE
8. claims, against ``now``, one small function per claim (:data:`CLAIM_CHECKS`, in order): exact ``iss``,
   ``aud`` contains this API, ``exp`` required, ``nbf``/``iat`` with the bounded leeway (NumericDates compared
   exactly, fractions included), ``max_age``, ``sub``/``jti`` non-empty strings when present, required claims,
   prohibited claims, subject kind, client, tenant binding; then the sender constraint (``cnf`` against
   ``verify(binding=...)``, :mod:`jwtobs.binding`) → JWT_BINDING_MISMATCH
9. the optional replay/revocation hook

Every call records exactly one :class:`~jwtobs.events.ValidationEvent` through :func:`jwtobs.pipeline.record`.
"""

from __future__ import annotations

import asyncio
import math
import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from jwtobs import backends
from jwtobs import binding as _binding
from jwtobs.binding import Binding
from jwtobs.exceptions import ConfigurationError, TokenRejected, annotate
from jwtobs.header import TokenPeek, as_text, b64url_decode, padded, peek
from jwtobs.jwks import ALG_CURVES, JwksSource, Key, KeySource, StaticKeys, _WouldBlock, key_curve, kty_of_alg
from jwtobs.pipeline import claim_int, client_of, record
from jwtobs.profile import HMAC_ALGS, Profile, ProfileSet
from jwtobs.reasons import Reason
from jwtobs.replay import ReplayChecker
from jwtobs.wrap import active

__all__ = ["Verifier", "VerifiedToken", "VerifierSet", "CLAIM_CHECKS"]

_REGISTERED: Final = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp", "scope", "client_id", "nonce"})


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """A token that passed every check of its profile."""

    claims: Mapping[str, Any]
    header: Mapping[str, Any]
    kid: str | None
    alg: str
    issuer: str
    subject: str | None
    tenant: str | None
    profile: str


class Verifier:
    """Verifies tokens for one :class:`Profile` with keys from a trusted source.

    keys: a :class:`JwksSource`, :class:`StaticKeys`, or anything :class:`StaticKeys` accepts.
    backend: the library that checks signatures (``"pyjwt"``).
    clock: wall-clock time for claim checks (default ``time.time``); ``verify(now=)`` overrides per call.
    replay: optional checker called for accepted tokens (``jti`` seen / revoked); see :mod:`jwtobs.replay`.
    """

    def __init__(
        self,
        profile: Profile,
        *,
        keys: KeySource | object,
        backend: str = "pyjwt",
        clock: Callable[[], float] = time.time,
        replay: ReplayChecker | Any = None,
    ) -> None:
        if not isinstance(profile, Profile):
            raise ConfigurationError("Verifier needs a jwtobs.Profile")
        self.profile = profile
        self.keys: KeySource = keys if isinstance(keys, KeySource) else StaticKeys(keys)
        self.keys.bind_issuer(profile.issuer)
        self.backend = backends.get(backend)
        self.library = self.backend.NAME
        cannot = sorted(set(profile.algorithms) - self.backend.ALGORITHMS)
        if cannot:  # a valid token would be refused on every request by this backend only: say so now
            raise ConfigurationError(
                f"backend {self.backend.NAME!r} cannot verify {', '.join(cannot)} (profile {profile.name!r}); "
                f"backends that can: {', '.join(backends.able_to(cannot))}"
            )
        self.clock = clock
        self.replay = replay
        self._algs = frozenset(profile.algorithms)
        self._forbidden = tuple(profile.forbidden_headers)
        self._hmac = any(a in HMAC_ALGS for a in profile.algorithms)
        if self._hmac and isinstance(self.keys, JwksSource):
            raise ConfigurationError("HMAC algorithms cannot use keys from a JWKS URL")
        if self._hmac and isinstance(self.keys, StaticKeys):
            for key in self.keys.all_keys():
                if key.kty != "oct":
                    raise ConfigurationError(
                        f"HMAC profile {profile.name!r}: StaticKeys holds a {key.kty} key; an asymmetric key is never "
                        "an HMAC secret (anyone with the public key could sign tokens)"
                    )

    def verify(
        self,
        token: object,
        *,
        tenant: str | None = None,
        now: float | None = None,
        binding: Binding | None = None,
    ) -> VerifiedToken:
        """The verified token, or raises :class:`TokenRejected` (``.reason``). One event per call.

        tenant: the tenant of the request (path, header...), checked against the token's tenant claim.
        binding: what the request proved possession of (mTLS certificate / verified DPoP key), checked
            against the token's ``cnf``.
        """
        return self._observed(token, tenant, now, binding, None)

    def _observed(
        self,
        token: object,
        tenant: str | None,
        now: float | None,
        binding: Binding | None,
        lookup: Callable[[str | None], Key] | None,
    ) -> VerifiedToken:
        """:meth:`verify`, the key looked up with ``lookup`` (``None``: ``self.keys.get``): how :meth:`averify`
        hands a worker thread the lookup of the moment the call arrived."""
        start = time.perf_counter_ns()
        p = peek(token, max_bytes=self.profile.max_token_bytes)
        if active():  # inside a wrapped function or an instrumented call: that outer observation records this one
            return self._verify_nested(token, p, tenant, now, binding, lookup)
        try:
            verified = self._verify(token, p, tenant, self.clock() if now is None else now, binding, lookup)
        except TokenRejected as exc:
            self._rejected(exc, token, p, start, tenant)
            raise
        except Exception as exc:  # fail closed: a bug here is a rejection, never an acceptance
            rejected = TokenRejected(Reason.VALIDATOR_ERROR, type(exc).__name__[:64])
            self._rejected(rejected, token, p, start, tenant)
            raise rejected from exc
        record(
            outcome="accepted",
            reason=None,
            detail=None,
            library=self.library,
            profile=self.profile.name,
            token=token,
            peek=p,
            claims=verified.claims,
            start_ns=start,
            end_ns=time.perf_counter_ns(),
            tenant=verified.tenant,
        )
        return verified

    def _rejected(self, exc: TokenRejected, token: object, p: TokenPeek, start: int, tenant: str | None) -> None:
        """Record ``exc``'s rejection (one event, set as ``exc.event``) and annotate it with its reason."""
        end = time.perf_counter_ns()
        annotate(exc, exc.reason, exc.detail)  # (recorded: exceptions.was_recorded)
        exc.event = record(
            outcome="rejected",
            reason=exc.reason.value,
            detail=exc.detail,
            library=self.library,
            profile=self.profile.name,
            token=token,
            peek=p,
            claims=None,
            start_ns=start,
            end_ns=end,
            tenant=tenant,
        )

    def _verify_nested(
        self,
        token: object,
        p: TokenPeek,
        tenant: str | None,
        now: float | None,
        binding: Binding | None,
        lookup: Callable[[str | None], Key] | None = None,
    ) -> VerifiedToken:
        """:meth:`verify` inside another observed validation (``jwtobs.wrap(fn)`` where ``fn`` calls ``verify``):
        the same checks and outcome, no event of its own. The outer one records the validation once
        (docs/core.md, Nesting), with the :class:`TokenRejected`'s reason (:func:`jwtobs.adapters.classify`).
        Before session 13 both recorded: two events per call, the outer one ``JWT_VALIDATOR_ERROR``."""
        try:
            return self._verify(token, p, tenant, self.clock() if now is None else now, binding, lookup)
        except TokenRejected:
            raise
        except Exception as exc:  # fail closed, as verify()
            raise TokenRejected(Reason.VALIDATOR_ERROR, type(exc).__name__[:64]) from exc

    async def averify(
        self,
        token: object,
        *,
        tenant: str | None = None,
        now: float | None = None,
        binding: Binding | None = None,
    ) -> VerifiedToken:
        """:meth:`verify` for asyncio: when the key lookup may touch the network (a :class:`JwksSource` whose
        cache is cold, expired, or missing the kid), the whole verification runs in a worker thread; otherwise
        it runs inline. Same checks, same single event.

        The key lookup is taken here, on the loop, when the call arrives (``KeySource._lookup_on_arrival``: for a
        :class:`JwksSource`, the fetch generation read now), not when a worker thread starts it: a call that
        queues for a thread while a fetch completes counts that fetch as one it waited for and forces no other
        (before: 200 concurrent calls on a cold cache with 4 executor threads, one in four with an unknown kid,
        fetched twice)."""
        needs_io = getattr(self.keys, "needs_io", None)
        if needs_io is not None:
            p = peek(token, max_bytes=self.profile.max_token_bytes)
            if p.kind == "jws":
                if needs_io(p.kid):
                    arrival = getattr(self.keys, "_lookup_on_arrival", None)
                    lookup = arrival() if arrival is not None else self.keys.get
                    return await asyncio.to_thread(self._observed, token, tenant, now, binding, lookup)
                # (a subclass with its own verify() keeps it: called below, as before)
                inline = getattr(self.keys, "_inline_lookup_on_arrival", None) if type(self).verify is _VERIFY else None
                inline_lookup = inline() if inline is not None else None
                if inline_lookup is not None:
                    # the lookup comes after the form, header and algorithm checks: a fetch may fall due in between
                    # (a TTL or a cooldown ending); the inline lookup then raises _WouldBlock, before any event is
                    # recorded, and the verification runs in a worker thread (before: the fetch ran on the loop)
                    try:
                        return self._observed(token, tenant, now, binding, inline_lookup)
                    except _WouldBlock as blocked:
                        return await asyncio.to_thread(self._observed, token, tenant, now, binding, blocked.lookup)
        return self.verify(token, tenant=tenant, now=now, binding=binding)

    # -- the checks, in order -------------------------------------------------------------------------------
    def _verify(
        self,
        token: object,
        p: TokenPeek,
        tenant: str | None,
        now: float,
        binding: Binding | None,
        lookup: Callable[[str | None], Key] | None = None,
    ) -> VerifiedToken:
        prof = self.profile
        text = _token_text(token)
        header = _check_form(p, text)  # 1-2. size, presence, no surrounding whitespace, compact JWS
        _check_header(header, p, self._forbidden)  # 3.
        alg = _check_alg(p, self._algs)  # 4.
        _check_typ(p, prof)  # 5.
        claims = _check_segments(p)  # 5. canonical base64url segments, a JSON payload
        # 6. key, from the trusted source only
        key = self.keys.get(p.kid) if lookup is None else lookup(p.kid)
        _check_key(key, alg)
        # 7. signature: the token exactly as presented (nothing stripped: _check_form refused whitespace)
        _check_signature_size(p, alg, key)
        self.backend.verify_signature(text, key, alg)
        # 8. claims (of the verified payload: the peeked payload is the signed segment)
        if not _finite_time(now):
            # NaN compares false with every date: no time check would fire (a token expired in 1970 was accepted
            # with now=nan); fail closed, as a str does (JWT_VALIDATOR_ERROR)
            raise ValueError("now (verify(now=...) or the Verifier's clock) must be a finite number of seconds")
        for check in CLAIM_CHECKS:
            check(claims, prof, now)
        token_tenant = _check_tenant(claims, prof, tenant)
        _binding.check(claims, binding, required=prof.require_binding)
        if self.replay is not None:
            self.replay.check(claims, now=now)
        sub = claims.get("sub")
        return VerifiedToken(
            claims=claims,
            header=header,
            kid=p.kid,
            alg=alg,
            issuer=prof.issuer,
            subject=sub if isinstance(sub, str) else None,
            tenant=token_tenant if token_tenant is not None else tenant,
            profile=prof.name,
        )


#: :meth:`Verifier.verify` itself: ``averify`` takes the inline lookup of a :class:`JwksSource` only for a Verifier
#: whose ``verify`` is this one
_VERIFY: Final = Verifier.verify


# -- the checks before any key lookup: form, header, alg (no crypto, no network) --------------------------------
_FORM_REJECTIONS: Final = {
    "missing": (Reason.MISSING, None),
    "empty": (Reason.MISSING, None),
    "invalid_type": (Reason.MALFORMED, "type"),
    "oversized": (Reason.OVERSIZED, "token"),
    "jwe": (Reason.UNEXPECTED_FORM, "jwe"),
    "json": (Reason.UNEXPECTED_FORM, "json"),
}


#: RFC 4648 §5 base64url alphabet, in value order
_B64URL: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: the characters that may end a canonical unpadded base64url segment, by its length mod 4: the bits the last
#: character carries beyond the data must be zero (RFC 4648 §3.5), so a byte string has exactly one encoding;
#: a length of 1 mod 4 encodes nothing
_CANONICAL_LAST: Final = {0: frozenset(_B64URL), 2: frozenset(_B64URL[::16]), 3: frozenset(_B64URL[::4])}
_SEGMENT_NAMES: Final = ("header", "payload", "signature")
#: bytes of a JWS ECDSA signature, R || S each as long as the curve's order (RFC 7518 §3.4, RFC 8812 §3.2)
ECDSA_SIGNATURE_BYTES: Final[Mapping[str, int]] = {"ES256": 64, "ES384": 96, "ES512": 132, "ES256K": 64}


def _token_text(token: object) -> str:
    """The token as text, as presented (``""`` for what :func:`peek` classifies as no text at all)."""
    return as_text(token) or ""


def _check_form(p: TokenPeek, text: str) -> dict[str, Any]:
    """Steps 1-2: present, not oversized, no whitespace around it, a compact JWS with a JSON header. Returns the
    header. (:func:`peek` strips blanks to classify a token; every library refuses them, so the Verifier does.)"""
    rejected = _FORM_REJECTIONS.get(p.kind)
    if rejected is not None:
        raise TokenRejected(*rejected)
    if padded(text):
        raise TokenRejected(Reason.MALFORMED, "whitespace")
    if p.kind != "jws" or p.header is None:
        raise TokenRejected(Reason.MALFORMED, p.malformed_part or "segments")
    if p.header_lax:  # a BOM, UTF-16/32 or a name twice: parsed by some backends only, or differently
        raise TokenRejected(Reason.MALFORMED, "header")
    return p.header


def _check_header(header: Mapping[str, Any], p: TokenPeek, forbidden: tuple[str, ...]) -> None:
    """Step 3: parameter types, forbidden key hints, ``crit``, ``b64``."""
    if p.bad_header_types:
        first = p.bad_header_types[0]
        raise TokenRejected(Reason.HEADER_INVALID, first if first in ("alg", "kid", "typ") else None)
    for name in forbidden:
        if name in header:
            raise TokenRejected(Reason.FORBIDDEN_HEADER, name if name in ("jku", "x5u", "x5c", "jwk") else "other")
    if "b64" in header and header["b64"] is not True:
        # RFC 7797 unencoded payload: backends disagree (some ignore it, some refuse it), so jwtobs decides; first,
        # as RFC 7797 has b64 listed in crit (before session 36 that form was JWT_CRIT_UNSUPPORTED)
        raise TokenRejected(Reason.HEADER_INVALID, "b64")
    if "crit" in header:
        raise TokenRejected(Reason.CRIT_UNSUPPORTED, "crit")


def _check_alg(p: TokenPeek, allowed: frozenset[str]) -> str:
    """Step 4: signed, and with an algorithm of the profile's allowlist. Returns the alg."""
    alg = p.alg
    if p.unsigned:
        unsigned_alg = alg is not None and alg.strip().lower() == "none"
        raise TokenRejected(Reason.UNSIGNED, "alg_none" if unsigned_alg else "empty_signature")
    if alg is None:
        raise TokenRejected(Reason.ALG_NOT_ALLOWED, "missing")
    if alg not in allowed:
        raise TokenRejected(Reason.ALG_NOT_ALLOWED, "not_allowed")
    return alg


def _check_typ(p: TokenPeek, prof: Profile) -> None:
    """Step 5: explicit type (RFC 8725 §3.11): ``application/`` optional and case-insensitive
    (:meth:`Profile.accepts_type`), otherwise exact: a ``typ`` with whitespace around it is another type."""
    typ = p.typ
    if not prof.accepts_type(typ) or (prof.token_type is not None and typ is not None and typ.strip() != typ):
        raise TokenRejected(Reason.TYPE_MISMATCH, "typ" if typ is not None else "missing")


def _canonical_b64url(segment: str) -> bool:
    """Unpadded base64url whose last character has zero unused bits: the one encoding of its bytes (RFC 7515
    §2, RFC 4648 §3.5). The alphabet itself is checked by :meth:`TokenPeek.bad_segment`."""
    if "=" in segment:
        return False
    last = _CANONICAL_LAST.get(len(segment) % 4)
    return last is not None and (not segment or segment[-1] in last)


def _check_encoding(p: TokenPeek) -> None:
    """Step 5: each segment canonical base64url (detail: the first one that is not). Decided here because the
    libraries disagree on padding and unused bits (some strip ``=`` or ignore the bits, some refuse them, some
    verify the signature over the text and others over the decoded bytes), so the same token got a different
    verdict per backend."""
    for name, segment in zip(_SEGMENT_NAMES, p.segments(), strict=True):
        if not _canonical_b64url(segment):
            raise TokenRejected(Reason.MALFORMED, name)


def _check_segments(p: TokenPeek) -> dict[str, Any]:
    """Step 5: canonical encoding (:func:`_check_encoding`), the payload a JSON object (UTF-8, no byte-order
    mark, no member name twice at any depth: :meth:`TokenPeek.strict_claims`), the signature base64url.
    Returns the (unverified) claims."""
    _check_encoding(p)
    claims = p.strict_claims()
    if claims is None:
        raise TokenRejected(Reason.MALFORMED, "payload")
    bad = p.bad_segment()
    if bad is not None:  # (the signature: the payload was decided above)
        raise TokenRejected(Reason.MALFORMED, bad)
    return claims


def _check_signature_size(p: TokenPeek, alg: str, key: Key) -> None:
    """Step 7, before the backend: an ECDSA signature is exactly R || S of its curve's size
    (:data:`ECDSA_SIGNATURE_BYTES`), an RSA one (RS*, PS*) exactly the modulus's size (RFC 8017 §8.1.2, §8.2.2).
    JWT_BAD_SIGNATURE, as the libraries that check it say (jwcrypto accepted R and S with leading zero bytes, and
    every PS256 backend a signature whose leading zero byte was dropped: a second valid signature for the same
    token, another token fingerprint - session 36)."""
    size = ECDSA_SIGNATURE_BYTES.get(alg)
    if size is None:
        bits = getattr(key.key, "key_size", None) if kty_of_alg(alg) == "RSA" else None
        if not isinstance(bits, int):
            return
        size = (bits + 7) // 8
    raw = b64url_decode(p.segments()[2])
    if raw is None or len(raw) != size:
        raise TokenRejected(Reason.BAD_SIGNATURE, "signature")


def _finite_time(now: object) -> bool:
    return isinstance(now, numbers.Real) and not isinstance(now, bool) and math.isfinite(now)


# -- claim checks: one small function per claim, run in this order (PyJWT's _validate_* style) -------------
ClaimCheck = Callable[[Mapping[str, Any], Profile, float], None]


def _check_iss(claims: Mapping[str, Any], prof: Profile, now: float) -> None:
    """Exact issuer: present, a string, byte for byte the configured one."""
    iss = claims.get("iss")
    if iss is None:
        raise TokenRejected(Reason.MISSING_CLAIM, "iss")
    if not isinstance(iss, str):
        raise TokenRejected(Reason.CLAIM_INVALID, "iss")
    if iss != prof.issuer:
        raise TokenRejected(Reason.ISSUER_MISMATCH, "iss")


def _check_aud(claims: Mapping[str, Any], prof: Profile, now: float) -> None:
    """Audience: a string or list of strings containing one of this API's audiences."""
    aud = claims.get("aud")
    if aud is None:
        raise TokenRejected(Reason.MISSING_CLAIM, "aud")
    auds = [aud] if isinstance(aud, str) else aud
    if not isinstance(auds, list) or not all(isinstance(a, str) for a in auds):
        raise TokenRejected(Reason.CLAIM_INVALID, "aud")
    if prof.audiences.isdisjoint(auds):
        raise TokenRejected(Reason.AUDIENCE_MISMATCH, "aud")


def _time_claim(claims: Mapping[str, Any], name: str) -> int | float | None:
    """A NumericDate claim exactly as the token has it (RFC 7519 §2: fractions allowed, so it is never truncated:
    ``nbf = now + 0.4`` is in the future); ``None`` when absent; JWT_CLAIM_INVALID when present but not a date
    (``null`` included). What counts as a date is :func:`pipeline.claim_int`'s rule (the event records that int)."""
    raw = claims.get(name)
    if raw is None and name not in claims:
        return None
    if isinstance(raw, (int, float)) and claim_int(raw) is not None:  # (claim_int refuses bools)
        return raw
    raise TokenRejected(Reason.CLAIM_INVALID, name)


def _check_time_types(claims: Mapping[str, Any], prof: Profile, now: float) -> None:
    """``exp`` present; ``exp``/``nbf``/``iat`` numbers; ``nbf`` not after ``exp`` (before any time verdict)."""
    if "exp" not in claims:
        raise TokenRejected(Reason.MISSING_CLAIM, "exp")
    exp = _time_claim(claims, "exp")
    nbf = _time_claim(claims, "nbf")
    _time_claim(claims, "iat")
    if nbf is not None and exp is not None and nbf > exp:
        raise TokenRejected(Reason.CLAIM_INVALID, "nbf")


def _check_exp(claims: Mapping[str, Any], prof: Profile, now: float) -> None:
    exp = _time_claim(claims, "exp")
    if exp is not None and now >= exp + prof.leeway:
        raise TokenRejected(Reason.EXPIRED, "exp")


def _check_nbf(claims: Mapping[str, Any], prof: Profile, now: float) -> None:
    nbf = _time_claim(claims, "nbf")
    if nbf is not None and nbf > now + prof.leeway:
        raise TokenRejected(Reason.NOT_YET_VALID, "nbf")


def _check_iat(claims: Mapping[str, Any], prof: Profile, now: float) -> None:
    iat = _time_claim(claims, "iat")
    if iat is not None and iat > now + prof.leeway:
        raise TokenRejected(Reason.NOT_YET_VALID, "iat")


def _check_max_age(claims: Mapping[str, Any], prof: Profile, now: float) -> None:
    if prof.max_age is None:
        return
    iat = _time_claim(claims, "iat")
    if iat is None:
        raise TokenRejected(Reason.MISSING_CLAIM, "iat")
    if now - iat > prof.max_age + prof.leeway:
        raise TokenRejected(Reason.EXPIRED, "max_age")


def _non_empty_string(claims: Mapping[str, Any], name: str) -> None:
    """``name``, when present, is a non-empty string; JWT_CLAIM_INVALID otherwise (``null`` included)."""
    if name in claims:
        value = claims[name]
        if not isinstance(value, str) or not value:
            raise TokenRejected(Reason.CLAIM_INVALID, name)


def _check_sub(claims: Mapping[str, Any], prof: Profile, now: float) -> None:
    """``sub`` (RFC 7519 §4.1.2, a StringOrURI): a number, list, boolean, object, ``""`` or ``null`` is no
    subject (before: accepted, with ``VerifiedToken.subject`` None or empty)."""
    _non_empty_string(claims, "sub")


def _check_jti(claims: Mapping[str, Any], prof: Profile, now: float) -> None:
    """``jti`` (RFC 7519 §4.1.7, a case-sensitive string): what replay detection keys on."""
    _non_empty_string(claims, "jti")


def _check_required(claims: Mapping[str, Any], prof: Profile, now: float) -> None:
    for name in prof.required_claims:
        if claims.get(name) is None:
            raise TokenRejected(Reason.MISSING_CLAIM, name if name in _REGISTERED else "other")


def _check_prohibited(claims: Mapping[str, Any], prof: Profile, now: float) -> None:
    for name in prof.prohibited_claims:
        if name in claims:
            raise TokenRejected(Reason.PROHIBITED_CLAIM, name if name in _REGISTERED else "other")


def _check_subject(claims: Mapping[str, Any], prof: Profile, now: float) -> None:
    """Subject kind: ``sub`` matches ``Profile.subject_pattern`` entirely."""
    if prof.subject_re is None:
        return
    sub = claims.get("sub")
    if not isinstance(sub, str) or len(sub) > 1024 or prof.subject_re.fullmatch(sub) is None:
        raise TokenRejected(Reason.CLAIM_MISMATCH, "sub")


def _check_client(claims: Mapping[str, Any], prof: Profile, now: float) -> None:
    """The token's client (``azp``, else ``client_id``, ``cid``, ``appid``: ``pipeline.client_of``) is one of
    ``Profile.allowed_clients``."""
    if not prof.allowed_clients:
        return
    client = client_of(claims)
    if not isinstance(client, str) or client not in prof.allowed_clients:
        raise TokenRejected(Reason.CLAIM_MISMATCH, "azp")


#: the claim checks of :meth:`Verifier.verify`, in order (the first failing one gives the reason)
CLAIM_CHECKS: Final[tuple[ClaimCheck, ...]] = (
    _check_iss,
    _check_aud,
    _check_time_types,
    _check_exp,
    _check_nbf,
    _check_iat,
    _check_max_age,
    _check_sub,
    _check_jti,
    _check_required,
    _check_prohibited,
    _check_subject,
    _check_client,
)


def _check_tenant(claims: Mapping[str, Any], prof: Profile, tenant: str | None) -> str | None:
    """Tenant binding: request tenant == token tenant == issuer tenant. Returns the token's tenant.

    A request tenant given to a profile without ``tenant_claim`` binds only to its ``issuer_tenant``; with neither
    it is refused (``unbound``): before session 33 it was ignored, and a token of tenant ``acme`` was accepted on
    ``/tenants/globex`` with the verified token's ``tenant`` saying ``globex``."""
    if prof.tenant_claim is None:
        if tenant is None:
            return None
        if prof.issuer_tenant is None:
            raise TokenRejected(Reason.TENANT_MISMATCH, "unbound")
        if tenant != prof.issuer_tenant:
            raise TokenRejected(Reason.TENANT_MISMATCH, "issuer")
        return prof.issuer_tenant
    token_tenant = claims.get(prof.tenant_claim)
    if token_tenant is not None and not isinstance(token_tenant, str):
        raise TokenRejected(Reason.CLAIM_INVALID, "tenant")
    if tenant is not None and token_tenant != tenant:
        raise TokenRejected(Reason.TENANT_MISMATCH, "request" if token_tenant is not None else "missing")
    if prof.issuer_tenant is not None and token_tenant != prof.issuer_tenant:
        raise TokenRejected(Reason.TENANT_MISMATCH, "issuer")
    return token_tenant


def _check_key(key: Key, alg: str) -> None:
    """The key must be of the family of ``alg``, on a curve ``alg`` allows, and, if it names an algorithm,
    exactly ``alg``. Checked here so every backend gets the same verdict (some libraries do not check the
    curve of an EC key against ES256/ES384/ES512)."""
    if key.alg is not None and key.alg != alg:
        raise TokenRejected(Reason.ALG_NOT_ALLOWED, "key_mismatch")
    if kty_of_alg(alg) != key.kty:
        raise TokenRejected(Reason.ALG_NOT_ALLOWED, "key_mismatch")
    curves = ALG_CURVES.get(alg)
    if curves is not None and key_curve(key) not in curves:
        raise TokenRejected(Reason.ALG_NOT_ALLOWED, "key_mismatch")
    least = HMAC_KEY_BYTES.get(alg)
    if least is not None and isinstance(key.key, bytes) and len(key.key) < least:
        raise TokenRejected(Reason.KEY_INVALID, "length")


#: RFC 7518 §3.2: an HMAC key "of the same size as the hash output or larger MUST be used". jwcrypto refuses a
#: shorter one (JWT_BAD_SIGNATURE), the other four accept it: decided here, the same for every backend
#: (``StaticKeys`` already refuses a secret under 32 bytes)
HMAC_KEY_BYTES: Final[Mapping[str, int]] = {"HS256": 32, "HS384": 48, "HS512": 64}


class VerifierSet:
    """Several verifiers chosen by configured issuer (a :class:`ProfileSet` with a key source per issuer).

    The token's ``iss`` only selects among configured issuers; an unconfigured issuer is JWT_ISSUER_MISMATCH
    and the chosen verifier then checks everything, including that the key belongs to that issuer's source.
    """

    def __init__(self, verifiers: list[Verifier] | tuple[Verifier, ...]) -> None:
        self.profiles = ProfileSet(v.profile for v in verifiers)
        #: the verifiers, in the order given
        self.verifiers: tuple[Verifier, ...] = tuple(verifiers)
        self._by_issuer = {v.profile.issuer: v for v in verifiers}
        self._fallback = verifiers[0]

    def _select(self, token: object) -> Verifier:
        """The verifier of the token's (unverified) issuer, if configured; else the first one, which then records
        the verdict (malformed, non-string or unconfigured issuer) under its profile."""
        p = peek(token)
        claims = p.claims() if p.kind == "jws" else None
        iss = claims.get("iss") if claims is not None else None
        verifier = self._by_issuer.get(iss) if isinstance(iss, str) else None
        return verifier if verifier is not None else self._fallback

    def verify(
        self,
        token: object,
        *,
        tenant: str | None = None,
        now: float | None = None,
        binding: Binding | None = None,
    ) -> VerifiedToken:
        """:meth:`Verifier.verify` of the verifier configured for the token's issuer."""
        return self._select(token).verify(token, tenant=tenant, now=now, binding=binding)

    async def averify(
        self,
        token: object,
        *,
        tenant: str | None = None,
        now: float | None = None,
        binding: Binding | None = None,
    ) -> VerifiedToken:
        """:meth:`Verifier.averify` of the verifier configured for the token's issuer (a JWKS fetch never runs on
        the event loop)."""
        return await self._select(token).averify(token, tenant=tenant, now=now, binding=binding)
