"""Sender-constrained tokens: the ``cnf`` claim checked against what the request proved (RFC 8705, RFC 9449).

A sender-constrained access token carries ``cnf`` (RFC 7800) naming the key the client must prove possession
of: ``x5t#S256`` (the SHA-256 thumbprint of the client's mTLS certificate, RFC 8705 §3.1) or ``jkt`` (the
RFC 7638 thumbprint of the DPoP proof key, RFC 9449 §6). The TLS layer or the DPoP proof check of the caller
tells jwtobs what the request proved, as a :class:`Binding`; :func:`check` compares the two.

Verdicts (all JWT_BINDING_MISMATCH, an attack signal: a bound token presented without its key is a stolen
token until proven otherwise), with the event ``detail``:

``x5t#S256`` / ``jkt``   the request proved a different certificate / key
``unbound_request``       the token is bound but the request proved nothing of that kind
``unsupported``           ``cnf`` is not an object, or names only confirmation methods jwtobs cannot check
``unbound_token``         the profile requires sender-constrained tokens and the token has no ``cnf``
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from jwtobs.exceptions import ConfigurationError, TokenRejected
from jwtobs.reasons import Reason

__all__ = ["Binding", "cert_thumbprint", "jwk_thumbprint", "check"]

#: RFC 7638 §3.2: the required members of each key type, in lexicographic order
_THUMBPRINT_MEMBERS: Final = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "oct": ("k", "kty"),
}
_METHODS: Final = (("x5t#S256", "x5t_s256"), ("jkt", "jkt"))
_MAX_THUMBPRINT: Final = 128


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def cert_thumbprint(cert: bytes | str | Any) -> str:
    """``x5t#S256`` of a certificate: base64url SHA-256 of its DER encoding (RFC 8705 §3.1).

    cert: DER bytes, a PEM string/bytes, or a ``cryptography.x509.Certificate``.
    """
    if isinstance(cert, str):
        cert = cert.encode("ascii")
    if isinstance(cert, bytes) and not cert.lstrip().startswith(b"-----BEGIN"):
        return _b64url(hashlib.sha256(cert).digest())
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    if isinstance(cert, bytes):
        cert = x509.load_pem_x509_certificate(cert)
    if not isinstance(cert, x509.Certificate):
        raise ConfigurationError("cert_thumbprint needs DER bytes, PEM or a cryptography Certificate")
    return _b64url(hashlib.sha256(cert.public_bytes(Encoding.DER)).digest())


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): the ``jkt`` of a DPoP proof key (RFC 9449 §6.1)."""
    kty = jwk.get("kty")
    members = _THUMBPRINT_MEMBERS.get(kty) if isinstance(kty, str) else None
    if members is None:
        raise ConfigurationError(f"jwk_thumbprint: unsupported kty {kty!r}")
    picked = {}
    for m in members:
        value = jwk.get(m)
        if not isinstance(value, str):
            raise ConfigurationError(f"jwk_thumbprint: member {m!r} missing or not a string")
        picked[m] = value
    canonical = json.dumps(picked, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


@dataclass(frozen=True, slots=True)
class Binding:
    """What the request proved possession of (pass to ``Verifier.verify(binding=...)``).

    x5t_s256: thumbprint of the mTLS client certificate (:func:`cert_thumbprint`), when TLS verified one.
    jkt: thumbprint of the key of a DPoP proof *you have already verified* (:func:`jwk_thumbprint`).
    """

    x5t_s256: str | None = None
    jkt: str | None = None

    def __post_init__(self) -> None:
        for name in ("x5t_s256", "jkt"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not 0 < len(value) <= _MAX_THUMBPRINT):
                raise ConfigurationError(f"Binding.{name} must be a thumbprint string")


def check(claims: Mapping[str, Any], binding: Binding | None, *, required: bool) -> None:
    """Raise :class:`TokenRejected` (JWT_BINDING_MISMATCH) unless the token's ``cnf`` matches ``binding``."""
    cnf = claims.get("cnf")
    if cnf is None:
        if required:
            raise TokenRejected(Reason.BINDING_MISMATCH, "unbound_token")
        return
    if not isinstance(cnf, Mapping):
        raise TokenRejected(Reason.BINDING_MISMATCH, "unsupported")
    checked = False
    for claim_name, attr in _METHODS:
        expected = cnf.get(claim_name)
        if expected is None:
            continue
        if not isinstance(expected, str):
            raise TokenRejected(Reason.BINDING_MISMATCH, "unsupported")
        presented = getattr(binding, attr) if binding is not None else None
        if presented is None:
            raise TokenRejected(Reason.BINDING_MISMATCH, "unbound_request")
        if not hmac.compare_digest(expected.encode("utf-8", "replace"), presented.encode("utf-8", "replace")):
            raise TokenRejected(Reason.BINDING_MISMATCH, claim_name)
        checked = True
    if not checked:  # cnf with only methods we cannot verify (jwk, jku, kid...): fail closed
        raise TokenRejected(Reason.BINDING_MISMATCH, "unsupported")
