"""The simulated fleet: issuers with rotating Ed25519 keys published as a JWKS over loopback HTTP, APIs whose
replicas validate with real libraries on a simulated clock, and clients whose devices hold real tokens.

Two validator paths, as users deploy them:

- ``pyjwt``: ``jwtobs.wrap`` around a function doing what PyJWT's documentation shows:
  ``PyJWKClient(url).get_signing_key_from_jwt(token)`` then ``jwt.decode(...)``. PyJWT's time checks use the
  wall clock, so they are disabled and redone against the simulated clock raising PyJWT's own
  ``ExpiredSignatureError``/``ImmatureSignatureError``; ``PyJWKClient``'s JWKS cache and refresh cooldown
  run on the simulated clock (:class:`SimPyJWKClient`).
- ``verifier``: ``jwtobs.VerifierSet`` of ``jwtobs.Verifier`` (one per issuer), keys from
  ``jwtobs.JwksSource`` with ``clock=`` the simulated clock.

Every key, kid, jti and token comes from the scenario's seeded random generators, so a seed gives the same
tokens byte for byte.
"""

from __future__ import annotations

import base64
import bisect
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from jwt import exceptions as E
from jwt.jwk_set_cache import JWKSetCache

#: seconds for one loopback JWKS fetch (never reached; a timeout would make runs differ)
FETCH_TIMEOUT = 60.0

__all__ = ["FETCH_TIMEOUT", "SimClock", "SimPyJWKClient", "Issuer", "Api", "Replica", "Device", "Client", "new_key"]


class SimClock:
    """The simulated time (POSIX seconds). ``now`` is handed to ``jwtobs.configure(clock=...)``, to
    ``JwksSource(clock=...)``, to ``Verifier(clock=...)`` and to :class:`SimPyJWKClient`."""

    def __init__(self, start: float) -> None:
        self.t = start

    def now(self) -> float:
        return self.t


def new_key(rng: random.Random) -> Ed25519PrivateKey:
    """An Ed25519 key from the seeded generator (``generate()`` would make every run's tokens differ)."""
    return Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _jwk(kid: str, pub: Ed25519PublicKey) -> dict[str, str]:
    x = _b64(pub.public_bytes(Encoding.Raw, PublicFormat.Raw))
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"}


class _SimJWKSetCache(JWKSetCache):
    """PyJWT's JWK-set cache with its expiry on the simulated clock."""

    def __init__(self, lifespan: float, clock: Callable[[], float]) -> None:
        super().__init__(lifespan)
        self._clock = clock
        self._put_at = 0.0

    def put(self, jwk_set: Any) -> None:
        super().put(jwk_set)
        self._put_at = self._clock()

    def is_expired(self) -> bool:
        return (
            self.jwk_set_with_timestamp is not None
            and self.lifespan > -1
            and self._clock() > self._put_at + self.lifespan
        )


class SimPyJWKClient(jwt.PyJWKClient):
    """``PyJWKClient`` unchanged except for time: its JWK-set cache expires and its unknown-kid refresh
    cooldown (PyJWT >= 2.10, ``_last_successful_fetch`` compared with ``time.monotonic()``) runs on the
    simulated clock. Without this, both depend on how fast the simulation happens to run."""

    def __init__(self, uri: str, *, lifespan: float, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._sim_fetch: float | None = None
        # a generous timeout: a loopback fetch timing out on a busy machine would change the events
        super().__init__(uri, lifespan=lifespan, timeout=FETCH_TIMEOUT)
        self.jwk_set_cache = _SimJWKSetCache(lifespan, clock)

    # PyJWT computes ``time.monotonic() - self._last_successful_fetch``: answer with a monotonic value that
    # makes this difference the simulated time since the last fetch.
    @property
    def _last_successful_fetch(self) -> float | None:
        import time

        return None if self._sim_fetch is None else time.monotonic() - (self._clock() - self._sim_fetch)

    @_last_successful_fetch.setter
    def _last_successful_fetch(self, value: float | None) -> None:
        self._sim_fetch = None if value is None else self._clock()


@dataclass
class Issuer:
    """An authorization server: its keys, what its JWKS endpoint publishes, and the incidents acting on it."""

    name: str
    slug: str
    rng: random.Random
    publish_doc: Callable[[str, bytes], None]
    keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    published: dict[str, dict[str, str]] = field(default_factory=dict)  # kid -> JWK as served
    signing_kid: str = ""
    history: list[tuple[float, str]] = field(default_factory=list)  # (from, signing kid)
    down: int | None = None  # label id of a JWKS outage in progress
    swapped: dict[str, int] = field(default_factory=dict)  # kid -> label of a key-material mismatch
    unpublished: dict[str, int] = field(default_factory=dict)  # kid -> label (used before published)
    removed_early: dict[str, int] = field(default_factory=dict)  # kid -> label
    _serial: int = 0

    def new_key(self) -> str:
        self._serial += 1
        kid = f"{self.slug}-k{self._serial}-{self.rng.getrandbits(24):06x}"
        self.keys[kid] = new_key(self.rng)
        return kid

    def _serve(self) -> None:
        doc = {"keys": [self.published[k] for k in sorted(self.published)]}
        self.publish_doc(self.slug, json.dumps(doc, separators=(",", ":")).encode())

    def publish(self, kid: str, material: Ed25519PublicKey | None = None) -> None:
        self.published[kid] = _jwk(kid, material or self.keys[kid].public_key())
        self.unpublished.pop(kid, None)
        self._serve()

    def unpublish(self, kid: str) -> None:
        self.published.pop(kid, None)
        self._serve()

    def switch(self, kid: str, now: float) -> None:
        self.signing_kid = kid
        self.history.append((now, kid))

    def kid_at(self, t: float) -> str:
        """The kid this issuer signed with at time ``t`` (the first key for times before the start)."""
        i = bisect.bisect_right(self.history, (t, "\uffff")) - 1
        return self.history[max(i, 0)][1]

    def sign(self, claims: dict[str, Any], typ: str = "at+jwt", kid: str | None = None) -> str:
        kid = kid or self.signing_kid
        return jwt.encode(claims, self.keys[kid], algorithm="EdDSA", headers={"kid": kid, "typ": typ})


@dataclass
class Replica:
    """One instance of an API: its own JWKS caches (per issuer) and its own event file."""

    name: str
    validate: Callable[[str], Any]  # the observed validator (records one event per call)


@dataclass
class Api:
    """One API (a jwtobs profile): its audience, how it validates, and its replicas."""

    name: str
    audience: str
    path: str  # "pyjwt" | "verifier"
    replicas: list[Replica] = field(default_factory=list)
    misconfigured: int | None = None  # label of a wrong-audience deploy in progress

    @property
    def wrong_audience(self) -> str:
        return self.audience.replace("https://", "https://staging-")


@dataclass
class Device:
    """A host, worker process, phone or laptop of a client: its own clock and its own cached token."""

    client: Client
    index: int
    clock_offset: float
    lazy: bool  # refreshes only after a rejection
    token: str | None = None
    exp: float = 0.0
    asleep_until: float = 0.0

    @property
    def name(self) -> str:
        return f"{self.client.client_id}/{self.index}"


@dataclass
class Client:
    client_id: str
    kind: str  # "service" | "app"
    issuer: Issuer
    apis: list[Api]
    lifetime: float
    devices: list[Device] = field(default_factory=list)
    skew: float = 0.0  # seconds behind (clock_skew incident), on top of each device's own offset
    skew_label: int | None = None
    id_token_label: int | None = None

    def audiences(self) -> list[str]:
        return [a.audience for a in self.apis]

    def claims(self, iat: int, rng: random.Random, lifetime: float | None = None) -> dict[str, Any]:
        life = int(self.lifetime if lifetime is None else lifetime)
        return {
            "iss": self.issuer.name,
            "sub": f"svc-{self.client_id}" if self.kind == "service" else f"user-{rng.randrange(100_000)}",
            "client_id": self.client_id,
            "aud": self.audiences(),
            "iat": iat,
            "nbf": iat,
            "exp": iat + life,
            "jti": f"{rng.getrandbits(64):016x}",
            "scope": "read",
        }

    def issue(self, device: Device, now: float, rng: random.Random) -> str:
        """A fresh access token for ``device`` from the issuer (whose clock is right)."""
        claims = self.claims(int(now), rng)
        device.token = self.issuer.sign(claims)
        device.exp = claims["exp"]
        return device.token

    def old_token(self, exp: float, rng: random.Random) -> str:
        """A token that expired at ``exp``, signed with the key the issuer used when it was issued."""
        iat = int(exp - self.lifetime)
        claims = self.claims(iat, rng)
        claims["exp"] = int(exp)
        return self.issuer.sign(claims, kid=self.issuer.kid_at(iat))

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


def check_times(claims: dict[str, Any], now: float, leeway: int) -> None:
    """PyJWT's ``exp``/``nbf`` checks against the simulated clock, raising PyJWT's own exceptions."""
    if int(claims["exp"]) <= now - leeway:
        raise E.ExpiredSignatureError("Signature has expired")
    nbf = claims.get("nbf")
    if isinstance(nbf, int) and nbf > now + leeway:
        raise E.ImmatureSignatureError("The token is not yet valid (nbf)")
