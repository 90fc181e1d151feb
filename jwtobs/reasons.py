"""Reason codes: the one taxonomy every validation failure is classified into.

This module is the single place that lists the codes and their metadata (category, HTTP status, RFC 6750
``error`` value, whether the code is an attack signal). ``Reason`` is a ``str`` enum whose value is the
code, so ``Reason.EXPIRED == "JWT_EXPIRED"`` and reasons serialise as plain strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Category = Literal["structure", "crypto", "claims", "policy", "state", "dependency", "internal"]


@dataclass(frozen=True, slots=True)
class ReasonInfo:
    """Metadata of one reason code."""

    category: Category
    http_status: int
    oauth_error: Literal["invalid_token", "invalid_request"]
    attack_signal: bool
    summary: str


class Reason(StrEnum):
    """A validation failure reason. The value is the stable code used in telemetry and events."""

    MISSING = "JWT_MISSING"
    AMBIGUOUS = "JWT_AMBIGUOUS"
    MALFORMED = "JWT_MALFORMED"
    OVERSIZED = "JWT_OVERSIZED"
    UNEXPECTED_FORM = "JWT_UNEXPECTED_FORM"
    HEADER_INVALID = "JWT_HEADER_INVALID"
    CRIT_UNSUPPORTED = "JWT_CRIT_UNSUPPORTED"
    FORBIDDEN_HEADER = "JWT_FORBIDDEN_HEADER"
    TYPE_MISMATCH = "JWT_TYPE_MISMATCH"
    UNSIGNED = "JWT_UNSIGNED"
    ALG_NOT_ALLOWED = "JWT_ALG_NOT_ALLOWED"
    UNKNOWN_KID = "JWT_UNKNOWN_KID"
    KEY_INVALID = "JWT_KEY_INVALID"
    JWKS_UNAVAILABLE = "JWT_JWKS_UNAVAILABLE"
    BAD_SIGNATURE = "JWT_BAD_SIGNATURE"
    DECRYPTION_FAILED = "JWT_DECRYPTION_FAILED"
    EXPIRED = "JWT_EXPIRED"
    NOT_YET_VALID = "JWT_NOT_YET_VALID"
    MISSING_CLAIM = "JWT_MISSING_CLAIM"
    CLAIM_INVALID = "JWT_CLAIM_INVALID"
    ISSUER_MISMATCH = "JWT_ISSUER_MISMATCH"
    AUDIENCE_MISMATCH = "JWT_AUDIENCE_MISMATCH"
    TENANT_MISMATCH = "JWT_TENANT_MISMATCH"
    CLAIM_MISMATCH = "JWT_CLAIM_MISMATCH"
    PROHIBITED_CLAIM = "JWT_PROHIBITED_CLAIM"
    REPLAYED = "JWT_REPLAYED"
    REVOKED = "JWT_REVOKED"
    BINDING_MISMATCH = "JWT_BINDING_MISMATCH"
    VALIDATOR_ERROR = "JWT_VALIDATOR_ERROR"

    def __str__(self) -> str:
        return self.value

    @property
    def info(self) -> ReasonInfo:
        return REASON_INFO[self]

    @property
    def category(self) -> Category:
        return REASON_INFO[self].category

    @property
    def http_status(self) -> int:
        return REASON_INFO[self].http_status

    @property
    def oauth_error(self) -> str:
        return REASON_INFO[self].oauth_error

    @property
    def attack_signal(self) -> bool:
        return REASON_INFO[self].attack_signal


def _i(
    category: Category,
    summary: str,
    *,
    attack: bool = False,
    status: int = 401,
    error: Literal["invalid_token", "invalid_request"] = "invalid_token",
) -> ReasonInfo:
    return ReasonInfo(category, status, error, attack, summary)


REASON_INFO: dict[Reason, ReasonInfo] = {
    Reason.MISSING: _i("structure", "no token presented", error="invalid_request"),
    Reason.AMBIGUOUS: _i("structure", "more than one token presented", status=400, error="invalid_request"),
    Reason.MALFORMED: _i("structure", "not compact form, bad base64url, or header/payload not a JSON object"),
    Reason.OVERSIZED: _i("structure", "token, part or decompressed payload over the size limit", attack=True),
    Reason.UNEXPECTED_FORM: _i("structure", "JWE where JWS expected (or the reverse), JSON serialization, nesting"),
    Reason.HEADER_INVALID: _i("structure", "a header parameter has the wrong type or value"),
    Reason.CRIT_UNSUPPORTED: _i("structure", "unknown or absent critical header extension", attack=True),
    Reason.FORBIDDEN_HEADER: _i("policy", "jku / x5u / x5c / jwk present where the profile forbids them", attack=True),
    Reason.TYPE_MISMATCH: _i("policy", "header typ or token-use claim is not the accepted type"),
    Reason.UNSIGNED: _i("crypto", "alg none in any spelling, or an empty signature", attack=True),
    Reason.ALG_NOT_ALLOWED: _i("crypto", "alg missing, unknown, not allowed, or not matching the key", attack=True),
    Reason.UNKNOWN_KID: _i("crypto", "no trusted key matches the token's kid"),
    Reason.KEY_INVALID: _i(
        "crypto", "the key cannot be used (wrong type, public key as HMAC secret, short secret)", attack=True
    ),
    Reason.JWKS_UNAVAILABLE: _i("dependency", "the key set could not be fetched or parsed", status=503),
    Reason.BAD_SIGNATURE: _i("crypto", "signature does not verify", attack=True),
    Reason.DECRYPTION_FAILED: _i("crypto", "JWE could not be decrypted", attack=True),
    Reason.EXPIRED: _i("claims", "exp passed beyond leeway"),
    Reason.NOT_YET_VALID: _i("claims", "nbf or iat in the future beyond leeway"),
    Reason.MISSING_CLAIM: _i("claims", "a required claim is absent"),
    Reason.CLAIM_INVALID: _i("claims", "a claim has the wrong type or format, or nbf > exp"),
    Reason.ISSUER_MISMATCH: _i("claims", "iss is not the exact trusted issuer"),
    Reason.AUDIENCE_MISMATCH: _i("claims", "aud does not include this API"),
    Reason.TENANT_MISMATCH: _i("policy", "token tenant, request tenant and issuer tenant disagree"),
    Reason.CLAIM_MISMATCH: _i("policy", "another claim check failed (sub kind, azp, scope, custom)"),
    Reason.PROHIBITED_CLAIM: _i("policy", "a claim the profile forbids is present"),
    Reason.REPLAYED: _i("state", "jti seen before", attack=True),
    Reason.REVOKED: _i("state", "jti revoked, or subject/authz version stale"),
    Reason.BINDING_MISMATCH: _i("state", "sender constraint failed (cnf, x5t#S256, DPoP)", attack=True),
    Reason.VALIDATOR_ERROR: _i("internal", "the validator failed unexpectedly (fail closed)"),
}

ATTACK_REASONS: frozenset[Reason] = frozenset(r for r, i in REASON_INFO.items() if i.attack_signal)
