"""The simulated fleet: issuers with rotating Ed25519 keys and a JWKS, APIs validating with PyJWT through
:func:`jwtobs.wrap` on a simulated clock, and clients holding tokens according to their own clocks.

Every validation is a real PyJWT ``decode`` of a real signed token; only time is simulated. PyJWT's own
time checks are disabled and redone against the simulated clock, raising PyJWT's own exceptions, so the
PyJWT adapter classifies them exactly as in production.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt import exceptions as E

__all__ = ["SimClock", "Issuer", "Api", "Client", "Cause"]

LEEWAY = 60


class SimClock:
    """The simulated time (POSIX seconds). ``now`` is handed to ``jwtobs.configure(clock=...)``."""

    def __init__(self, start: float) -> None:
        self.t = start

    def now(self) -> float:
        return self.t


@dataclass
class Cause:
    """Ground truth: the incident (label id) responsible for the current request's failure, set by the fleet."""

    label: int | None = None


@dataclass
class Issuer:
    name: str
    rng: random.Random
    keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    published: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    signing_kid: str = ""
    down: int | None = None  # label id of a JWKS outage in progress
    swapped: dict[str, int] = field(default_factory=dict)  # kid -> label of a key-material mismatch
    unpublished: dict[str, int] = field(default_factory=dict)  # kid -> label (used before published)
    removed_early: dict[str, int] = field(default_factory=dict)  # kid -> label
    _serial: int = 0

    def new_key(self) -> str:
        self._serial += 1
        kid = f"{self.name.split('//')[-1].split('.')[0]}-k{self._serial}-{self.rng.getrandbits(24):06x}"
        self.keys[kid] = Ed25519PrivateKey.generate()
        return kid

    def publish(self, kid: str) -> None:
        self.published[kid] = self.keys[kid].public_key()
        self.unpublished.pop(kid, None)

    def unpublish(self, kid: str) -> None:
        self.published.pop(kid, None)

    def fetch(self) -> dict[str, Ed25519PublicKey]:
        """The JWKS endpoint: the published keys, or a connection error during an outage."""
        if self.down is not None:
            raise E.PyJWKClientConnectionError(f'Fail to fetch data from the url, err: "{self.name} timed out"')
        return dict(self.published)

    def sign(self, claims: dict[str, Any], typ: str = "at+jwt", kid: str | None = None) -> str:
        kid = kid or self.signing_kid
        return jwt.encode(claims, self.keys[kid], algorithm="EdDSA", headers={"kid": kid, "typ": typ})


@dataclass
class Api:
    """One API (a profile): its audience and a JWKS cache per issuer on the simulated clock."""

    name: str
    audience: str
    issuers: dict[str, Issuer]
    clock: SimClock
    ttl: float
    cause: Cause
    misconfigured: int | None = None  # label of a wrong-audience deploy in progress
    _cache: dict[str, tuple[float, dict[str, Ed25519PublicKey]]] = field(default_factory=dict)
    _last_miss_fetch: dict[str, float] = field(default_factory=dict)

    def _keys(self, iss: Issuer) -> dict[str, Ed25519PublicKey]:
        now = self.clock.t
        hit = self._cache.get(iss.name)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        try:
            keys = iss.fetch()
        except E.PyJWKClientConnectionError:
            self.cause.label = iss.down
            raise
        self._cache[iss.name] = (now, keys)
        return keys

    def signing_key(self, token: str) -> Ed25519PublicKey:
        kid = jwt.get_unverified_header(token).get("kid")
        iss_name = jwt.decode(token, options={"verify_signature": False}).get("iss")
        iss = self.issuers.get(iss_name) if isinstance(iss_name, str) else None
        if iss is None:
            raise E.InvalidIssuerError("Invalid issuer")
        keys = self._keys(iss)
        if kid not in keys and self.clock.t - self._last_miss_fetch.get(iss.name, -1e18) >= 10:
            # refetch on an unknown kid, at most every 10 s (as PyJWKClient does on a cache miss)
            self._last_miss_fetch[iss.name] = self.clock.t
            self._cache.pop(iss.name, None)
            keys = self._keys(iss)
        if not isinstance(kid, str) or kid not in keys:
            if isinstance(kid, str):
                self.cause.label = iss.unpublished.get(kid, iss.removed_early.get(kid))
            raise E.PyJWKClientError(f'Unable to find a signing key that matches: "{kid}"')
        if isinstance(kid, str) and kid in iss.swapped:
            self.cause.label = iss.swapped[kid]
        return keys[kid]

    def validate(self, token: str) -> dict[str, Any]:
        """The validator this API runs (wrapped with ``jwtobs.wrap(..., library="pyjwt")``)."""
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "EdDSA":
            # let PyJWT reject the algorithm itself
            return jwt.decode(token, Ed25519PrivateKey.generate().public_key(), algorithms=["EdDSA"])
        key = self.signing_key(token)
        aud = "https://wrong.example/api" if self.misconfigured is not None else self.audience
        if self.misconfigured is not None:
            self.cause.label = self.misconfigured
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            audience=aud,
            issuer=list(self.issuers),
            options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": ["exp", "iss"]},
        )
        now = self.clock.t
        if int(claims["exp"]) <= now - LEEWAY:
            raise E.ExpiredSignatureError("Signature has expired")
        nbf = claims.get("nbf")
        if isinstance(nbf, int) and nbf > now + LEEWAY:
            raise E.ImmatureSignatureError("The token is not yet valid (nbf)")
        return claims


@dataclass
class Client:
    client_id: str
    issuer: Issuer
    apis: list[Api]
    lifetime: float
    clock_offset: float = 0.0
    skew_label: int | None = None
    id_token_label: int | None = None
    token: str | None = None
    exp: float = 0.0
    stale_ok: bool = False

    def current_token(self, now: float, rng: random.Random) -> str:
        """The cached access token, renewed when the client's own clock says it is about to expire."""
        if self.token is None or now + self.clock_offset >= self.exp - 30:
            iat = int(now)
            self.exp = iat + int(self.lifetime)
            claims = {
                "iss": self.issuer.name,
                "sub": f"svc-{self.client_id}",
                "client_id": self.client_id,
                "aud": [a.audience for a in self.apis],
                "iat": iat,
                "nbf": iat,
                "exp": self.exp,
                "jti": f"{rng.getrandbits(64):016x}",
                "scope": "read",
            }
            self.token = self.issuer.sign(claims)
        return self.token

    def id_token(self, now: float, rng: random.Random) -> str:
        iat = int(now)
        claims = {
            "iss": self.issuer.name,
            "sub": f"user-{rng.randrange(1000)}",
            "aud": self.client_id,
            "azp": self.client_id,
            "iat": iat,
            "exp": iat + 600,
            "nonce": f"{rng.getrandbits(32):08x}",
        }
        return self.issuer.sign(claims, typ="JWT")
