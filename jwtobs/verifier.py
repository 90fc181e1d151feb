"""Verifier: a :class:`~jwtobs.profile.Profile` enforced on top of a signature backend.

Order of the checks (cheap first; nothing is fetched or verified for a token that fails an earlier one):

1. size (``max_token_bytes``) → JWT_OVERSIZED; missing/empty → JWT_MISSING; wrong type → JWT_MALFORMED
2. form: JWE or JSON serialization → JWT_UNEXPECTED_FORM; not compact JWS → JWT_MALFORMED
3. header: wrong-typed parameters → JWT_HEADER_INVALID; ``crit`` → JWT_CRIT_UNSUPPORTED; a forbidden
   header (``jku``/``x5u``/``x5c``/``jwk``) → JWT_FORBIDDEN_HEADER (never fetched, never used)
4. ``alg``: ``none`` in any case or empty signature → JWT_UNSIGNED; not in the allowlist → JWT_ALG_NOT_ALLOWED
5. ``typ`` (RFC 8725 §3.11, ``application/`` prefix optional, case-insensitive) → JWT_TYPE_MISMATCH
6. key from the trusted source only: unknown kid → JWT_UNKNOWN_KID, no keys → JWT_JWKS_UNAVAILABLE;
   key type or key ``alg`` not matching the token ``alg`` → JWT_ALG_NOT_ALLOWED
7. signature (the backend) → JWT_BAD_SIGNATURE
8. claims, against ``now``: exact ``iss``, ``aud`` contains this API, ``exp`` required, ``nbf``/``iat`` with
   the bounded leeway, ``max_age``, required claims, tenant binding, prohibited claims, sender constraint
   (``cnf`` against ``verify(binding=...)``, :mod:`jwtobs.binding`) → JWT_BINDING_MISMATCH
9. the optional replay/revocation hook

Every call records exactly one :class:`~jwtobs.events.ValidationEvent` through :func:`jwtobs.pipeline.record`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from jwtobs import backends
from jwtobs import binding as _binding
from jwtobs.binding import Binding
from jwtobs.exceptions import ConfigurationError, TokenRejected
from jwtobs.header import TokenPeek, peek
from jwtobs.jwks import JwksSource, Key, KeySource, StaticKeys
from jwtobs.pipeline import claim_int, record
from jwtobs.profile import HMAC_ALGS, Profile, ProfileSet
from jwtobs.reasons import Reason
from jwtobs.replay import ReplayChecker

__all__ = ["Verifier", "VerifiedToken", "VerifierSet"]

_REGISTERED: Final = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "azp", "scope", "client_id", "nonce"})
#: token alg prefix -> JWK kty that can verify it
_FAMILY: Final = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP", "HS": "oct"}


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
        self.clock = clock
        self.replay = replay
        self._algs = frozenset(profile.algorithms)
        self._forbidden = tuple(profile.forbidden_headers)
        self._required = tuple(c for c in dict.fromkeys((*profile.required_claims, "exp")))
        self._hmac = any(a in HMAC_ALGS for a in profile.algorithms)
        if self._hmac and isinstance(self.keys, JwksSource):
            raise ConfigurationError("HMAC algorithms cannot use keys from a JWKS URL")

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
        start = time.perf_counter_ns()
        p = peek(token, max_bytes=self.profile.max_token_bytes)
        try:
            verified = self._verify(token, p, tenant, self.clock() if now is None else now, binding)
        except TokenRejected as exc:
            end = time.perf_counter_ns()
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
            raise
        except Exception as exc:  # fail closed: a bug here is a rejection, never an acceptance
            end = time.perf_counter_ns()
            rejected = TokenRejected(Reason.VALIDATOR_ERROR, type(exc).__name__[:64])
            rejected.event = record(
                outcome="rejected",
                reason=Reason.VALIDATOR_ERROR.value,
                detail=rejected.detail,
                library=self.library,
                profile=self.profile.name,
                token=token,
                peek=p,
                claims=None,
                start_ns=start,
                end_ns=end,
                tenant=tenant,
            )
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
        it runs inline. Same checks, same single event."""
        needs_io = getattr(self.keys, "needs_io", None)
        if needs_io is not None:
            p = peek(token, max_bytes=self.profile.max_token_bytes)
            if p.kind == "jws" and needs_io(p.kid):
                return await asyncio.to_thread(self.verify, token, tenant=tenant, now=now, binding=binding)
        return self.verify(token, tenant=tenant, now=now, binding=binding)

    # -- the checks, in order -------------------------------------------------------------------------------
    def _verify(
        self, token: object, p: TokenPeek, tenant: str | None, now: float, binding: Binding | None
    ) -> VerifiedToken:
        prof = self.profile
        kind = p.kind
        # 1. size and presence
        if kind in ("missing", "empty"):
            raise TokenRejected(Reason.MISSING)
        if kind == "invalid_type":
            raise TokenRejected(Reason.MALFORMED, "type")
        if kind == "oversized":
            raise TokenRejected(Reason.OVERSIZED, "token")
        # 2. form
        if kind == "jwe":
            raise TokenRejected(Reason.UNEXPECTED_FORM, "jwe")
        if kind == "json":
            raise TokenRejected(Reason.UNEXPECTED_FORM, "json")
        if kind != "jws" or p.header is None:
            raise TokenRejected(Reason.MALFORMED, p.malformed_part or "segments")
        header = p.header
        # 3. header
        if p.bad_header_types:
            raise TokenRejected(
                Reason.HEADER_INVALID, p.bad_header_types[0] if p.bad_header_types[0] in ("alg", "kid", "typ") else None
            )
        for name in self._forbidden:
            if name in header:
                raise TokenRejected(Reason.FORBIDDEN_HEADER, name if name in ("jku", "x5u", "x5c", "jwk") else "other")
        if "crit" in header:
            raise TokenRejected(Reason.CRIT_UNSUPPORTED, "crit")
        # 4. alg
        alg = p.alg
        if p.unsigned:
            raise TokenRejected(
                Reason.UNSIGNED, "alg_none" if alg is not None and alg.strip().lower() == "none" else "empty_signature"
            )
        if alg is None:
            raise TokenRejected(Reason.ALG_NOT_ALLOWED, "missing")
        if alg not in self._algs:
            raise TokenRejected(Reason.ALG_NOT_ALLOWED, "not_allowed")
        # 5. typ
        if not prof.accepts_type(p.typ):
            raise TokenRejected(Reason.TYPE_MISMATCH, "typ" if p.typ is not None else "missing")
        bad = p.bad_segment()
        if bad is not None:
            raise TokenRejected(Reason.MALFORMED, bad)
        claims = p.claims()
        if claims is None:  # pragma: no cover - bad_segment() covers it
            raise TokenRejected(Reason.MALFORMED, "payload")
        # 6. key, from the trusted source only
        key = self.keys.get(p.kid)
        _check_key(key, alg)
        # 7. signature
        text = (
            token
            if isinstance(token, str)
            else bytes(token).decode("ascii")
            if isinstance(token, (bytes, bytearray, memoryview))
            else ""
        )
        self.backend.verify_signature(text.strip(), key, alg)
        # 8. claims (of the verified payload: the peeked payload is the signed segment)
        token_tenant = self._check_claims(claims, tenant, now)
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

    def _check_claims(self, claims: Mapping[str, Any], tenant: str | None, now: float) -> str | None:
        prof = self.profile
        leeway = prof.leeway
        # issuer: exact
        iss = claims.get("iss")
        if iss is None:
            raise TokenRejected(Reason.MISSING_CLAIM, "iss")
        if not isinstance(iss, str):
            raise TokenRejected(Reason.CLAIM_INVALID, "iss")
        if iss != prof.issuer:
            raise TokenRejected(Reason.ISSUER_MISMATCH, "iss")
        # audience: contains this API
        aud = claims.get("aud")
        if aud is None:
            raise TokenRejected(Reason.MISSING_CLAIM, "aud")
        auds = [aud] if isinstance(aud, str) else aud
        if not isinstance(auds, list) or not all(isinstance(a, str) for a in auds):
            raise TokenRejected(Reason.CLAIM_INVALID, "aud")
        if prof.audiences.isdisjoint(auds):
            raise TokenRejected(Reason.AUDIENCE_MISMATCH, "aud")
        # time claims
        exp_raw, nbf_raw, iat_raw = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        exp = claim_int(exp_raw)
        if exp_raw is None:
            raise TokenRejected(Reason.MISSING_CLAIM, "exp")
        if exp is None:
            raise TokenRejected(Reason.CLAIM_INVALID, "exp")
        nbf = claim_int(nbf_raw)
        if nbf_raw is not None and nbf is None:
            raise TokenRejected(Reason.CLAIM_INVALID, "nbf")
        iat = claim_int(iat_raw)
        if iat_raw is not None and iat is None:
            raise TokenRejected(Reason.CLAIM_INVALID, "iat")
        if nbf is not None and nbf > exp:
            raise TokenRejected(Reason.CLAIM_INVALID, "nbf")
        if now >= exp + leeway:
            raise TokenRejected(Reason.EXPIRED, "exp")
        if nbf is not None and nbf > now + leeway:
            raise TokenRejected(Reason.NOT_YET_VALID, "nbf")
        if iat is not None and iat > now + leeway:
            raise TokenRejected(Reason.NOT_YET_VALID, "iat")
        if prof.max_age is not None:
            if iat is None:
                raise TokenRejected(Reason.MISSING_CLAIM, "iat")
            if now - iat > prof.max_age + leeway:
                raise TokenRejected(Reason.EXPIRED, "max_age")
        # required and prohibited claims
        for name in self._required:
            if claims.get(name) is None:
                raise TokenRejected(Reason.MISSING_CLAIM, name if name in _REGISTERED else "other")
        for name in prof.prohibited_claims:
            if name in claims:
                raise TokenRejected(Reason.PROHIBITED_CLAIM, name if name in _REGISTERED else "other")
        # subject kind and client
        if prof.subject_re is not None:
            sub = claims.get("sub")
            if not isinstance(sub, str) or len(sub) > 1024 or prof.subject_re.fullmatch(sub) is None:
                raise TokenRejected(Reason.CLAIM_MISMATCH, "sub")
        if prof.allowed_clients:
            client = claims.get("azp", claims.get("client_id"))
            if not isinstance(client, str) or client not in prof.allowed_clients:
                raise TokenRejected(Reason.CLAIM_MISMATCH, "azp")
        # tenant binding: request tenant == token tenant == issuer tenant
        if prof.tenant_claim is None:
            return None
        token_tenant = claims.get(prof.tenant_claim)
        if token_tenant is not None and not isinstance(token_tenant, str):
            raise TokenRejected(Reason.CLAIM_INVALID, "tenant")
        if tenant is not None and token_tenant != tenant:
            raise TokenRejected(Reason.TENANT_MISMATCH, "request" if token_tenant is not None else "missing")
        if prof.issuer_tenant is not None and token_tenant != prof.issuer_tenant:
            raise TokenRejected(Reason.TENANT_MISMATCH, "issuer")
        return token_tenant


def _check_key(key: Key, alg: str) -> None:
    """The key must be of the family of ``alg`` and, if it names an algorithm, exactly ``alg``."""
    if key.alg is not None and key.alg != alg:
        raise TokenRejected(Reason.ALG_NOT_ALLOWED, "key_mismatch")
    if _FAMILY.get(alg[:2]) != key.kty:
        raise TokenRejected(Reason.ALG_NOT_ALLOWED, "key_mismatch")


class VerifierSet:
    """Several verifiers chosen by configured issuer (a :class:`ProfileSet` with a key source per issuer).

    The token's ``iss`` only selects among configured issuers; an unconfigured issuer is JWT_ISSUER_MISMATCH
    and the chosen verifier then checks everything, including that the key belongs to that issuer's source.
    """

    def __init__(self, verifiers: list[Verifier] | tuple[Verifier, ...]) -> None:
        self.profiles = ProfileSet(v.profile for v in verifiers)
        self._by_issuer = {v.profile.issuer: v for v in verifiers}
        self._fallback = verifiers[0]

    def verify(
        self,
        token: object,
        *,
        tenant: str | None = None,
        now: float | None = None,
        binding: Binding | None = None,
    ) -> VerifiedToken:
        p = peek(token)
        claims = p.claims() if p.kind == "jws" else None
        verifier = self._by_issuer.get(claims.get("iss")) if claims is not None else None  # type: ignore[arg-type]
        if verifier is None:
            verifier = self._fallback  # records the verdict (malformed, or issuer mismatch) under one profile
        return verifier.verify(token, tenant=tenant, now=now, binding=binding)
