"""Profile: the policy one API applies to the tokens it accepts, and ProfileSet for several issuers.

A :class:`Profile` is trusted configuration. Nothing in it is ever taken from a token: the issuer, the
audience, the algorithm allowlist and the key source are fixed here, and the token is only checked against
them (see :mod:`jwtobs.verifier` for the order of the checks).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, cast

from jwtobs.exceptions import ConfigurationError

__all__ = ["Profile", "ProfileSet", "MAX_LEEWAY", "ASYMMETRIC_ALGS", "HMAC_ALGS"]

#: Leeway above this (seconds) is a configuration error: clock skew is not a reason to accept old tokens.
MAX_LEEWAY: Final = 300
HMAC_ALGS: Final = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "ES256K", "EdDSA", "Ed25519"}
)


@dataclass(frozen=True, slots=True)
class Profile:
    """What one API accepts. Validated at construction (a bad profile never reaches a request).

    name: low-cardinality label used in telemetry (``jwtobs.profile``).
    issuer: the exact ``iss`` this API trusts (compared byte for byte).
    audience: this API's identifier (or several); the token's ``aud`` must contain one of them.
    algorithms: allowlist; ``none`` is refused, and HMAC is never mixed with public-key algorithms.
    token_type: expected JOSE ``typ`` (``at+jwt`` for RFC 9068 access tokens), ``None`` to skip the check.
    required_claims: claims that must be present (``exp`` is always required).
    leeway: clock skew tolerated for ``exp``/``nbf``/``iat``, at most :data:`MAX_LEEWAY` seconds.
    max_age: maximum seconds since ``iat`` (``iat`` then becomes required).
    max_token_bytes: tokens longer than this are rejected before any parsing.
    forbidden_headers: header parameters that make a token be rejected (remote/inline key hints).
    tenant_claim: claim carrying the tenant; checked against the request tenant and ``issuer_tenant``.
    issuer_tenant: the tenant this issuer serves, if it serves exactly one.
    prohibited_claims: claims that must not be present (e.g. ``nonce`` of ID tokens at an API).
    allowed_clients: when set, the token's client (``azp``, else ``client_id``, ``cid``, ``appid``) must be one
        of these.
    subject_pattern: when set, ``sub`` must match this regular expression entirely (subject kind, e.g.
        ``user:[0-9]+`` so a service account's token is not taken as a user's).
    require_binding: accept only sender-constrained tokens (``cnf`` with ``x5t#S256`` or ``jkt``); a bound
        token is always checked against ``verify(binding=...)``, whatever this says (see :mod:`jwtobs.binding`).
    """

    name: str
    issuer: str
    audience: str | tuple[str, ...]
    algorithms: tuple[str, ...] = ("RS256",)
    token_type: str | None = "at+jwt"
    required_claims: tuple[str, ...] = ("iss", "sub", "aud", "exp")
    leeway: int = 30
    max_age: int | None = None
    max_token_bytes: int = 8192
    forbidden_headers: tuple[str, ...] = ("jku", "x5u", "x5c", "jwk")
    tenant_claim: str | None = None
    issuer_tenant: str | None = None
    prohibited_claims: tuple[str, ...] = ()
    allowed_clients: tuple[str, ...] = ()
    subject_pattern: str | None = None
    require_binding: bool = False
    audiences: frozenset[str] = field(init=False, repr=False, compare=False)
    subject_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigurationError("Profile.name must be a non-empty string")
        if not isinstance(self.issuer, str) or not self.issuer:
            raise ConfigurationError("Profile.issuer must be a non-empty string")
        auds = (self.audience,) if isinstance(self.audience, str) else tuple(self.audience)
        if not auds or not all(isinstance(a, str) and a for a in auds):
            raise ConfigurationError("Profile.audience must be a non-empty string or tuple of strings")
        object.__setattr__(self, "audiences", frozenset(auds))
        algs = _names("algorithms", self.algorithms)
        if not algs:
            raise ConfigurationError("Profile.algorithms must not be empty")
        for alg in algs:
            if not isinstance(alg, str) or alg.strip().lower() == "none":
                raise ConfigurationError("Profile.algorithms must not contain 'none'")
            if alg not in HMAC_ALGS and alg not in ASYMMETRIC_ALGS:
                raise ConfigurationError(f"Profile.algorithms: unsupported algorithm {alg!r}")
        if any(a in HMAC_ALGS for a in algs) and any(a in ASYMMETRIC_ALGS for a in algs):
            raise ConfigurationError("Profile.algorithms must not mix HMAC and public-key algorithms")
        object.__setattr__(self, "algorithms", algs)
        # (bool is an int: leeway=True would be one second)
        if not _is_int(self.leeway) or not 0 <= self.leeway <= MAX_LEEWAY:
            raise ConfigurationError(f"Profile.leeway must be an int in [0, {MAX_LEEWAY}]")
        if self.max_age is not None and (not _is_int(self.max_age) or self.max_age <= 0):
            raise ConfigurationError("Profile.max_age must be a positive int or None")
        if not _is_int(self.max_token_bytes) or self.max_token_bytes <= 0:
            raise ConfigurationError("Profile.max_token_bytes must be a positive int")
        for name in ("required_claims", "forbidden_headers", "prohibited_claims", "allowed_clients"):
            object.__setattr__(self, name, _names(name, getattr(self, name)))
        try:
            pattern = None if self.subject_pattern is None else re.compile(self.subject_pattern)
        except re.error as exc:
            raise ConfigurationError(f"Profile.subject_pattern: {exc}") from None
        object.__setattr__(self, "subject_re", pattern)

    def accepts_type(self, typ: str | None) -> bool:
        """RFC 8725 §3.11 / RFC 7515 §4.1.9: ``typ`` compared case-insensitively, ``application/`` optional."""
        if self.token_type is None:
            return True
        if typ is None:
            return False
        return _media_type(typ) == _media_type(self.token_type)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _names(field_name: str, value: object) -> tuple[str, ...]:
    """A tuple of non-empty strings. A string alone is refused: ``prohibited_claims=("nonce")`` (the comma of a
    one-element tuple forgotten) was ``("n", "o", "n", "c", "e")``, and a token with a ``nonce`` was accepted
    (session 36)."""
    if isinstance(value, (str, bytes)):
        raise ConfigurationError(
            f"Profile.{field_name} must be a tuple of strings, not the string {value!r} "
            f"(a one-element tuple needs its comma: ({value!r},))"
        )
    if not isinstance(value, Iterable):
        raise ConfigurationError(f"Profile.{field_name} must be a tuple of strings")
    names: tuple[object, ...] = tuple(value)
    if not all(isinstance(n, str) and n for n in names):
        raise ConfigurationError(f"Profile.{field_name} must hold non-empty strings only")
    return cast("tuple[str, ...]", names)


def _media_type(value: str) -> str:
    v = value.strip().lower()
    return v[len("application/") :] if v.startswith("application/") else v


class ProfileSet:
    """Several profiles keyed by their configured issuer; see :class:`jwtobs.verifier.VerifierSet`.

    The profile is chosen from this trusted mapping: a token naming an issuer that is not configured is
    rejected (JWT_ISSUER_MISMATCH) and the token never supplies its own key location.
    """

    def __init__(self, profiles: Iterable[Profile] | Mapping[str, Profile]) -> None:
        items = list(profiles.values()) if isinstance(profiles, Mapping) else list(profiles)
        by_issuer: dict[str, Profile] = {}
        for p in items:
            if not isinstance(p, Profile):
                raise ConfigurationError("ProfileSet takes Profile objects")
            if p.issuer in by_issuer:
                raise ConfigurationError(f"two profiles for issuer {p.issuer!r}")
            by_issuer[p.issuer] = p
        if not by_issuer:
            raise ConfigurationError("ProfileSet needs at least one profile")
        self._by_issuer = by_issuer

    def for_issuer(self, issuer: object) -> Profile | None:
        return self._by_issuer.get(issuer) if isinstance(issuer, str) else None

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._by_issuer.values())

    def __len__(self) -> int:
        return len(self._by_issuer)
