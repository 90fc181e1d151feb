"""Sender-constrained tokens (RFC 8705 mTLS ``x5t#S256``, RFC 9449 DPoP ``jkt``): real certificates, real keys.

Thumbprints are cross-checked against independent implementations (``cryptography``'s certificate
fingerprint, jwcrypto's RFC 7638 thumbprint), so a bug in jwtobs's own thumbprint code cannot hide.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from jwcrypto import jwk as jwcrypto_jwk

import jwtobs
from jwtobs import Binding, Reason, TokenRejected
from jwtobs.binding import cert_thumbprint, jwk_thumbprint
from jwtobs.exceptions import ConfigurationError
from tests.jwks.server import RsaKey
from tests.verifier.test_checklist import AUD, ISS, NOW, claims

pytestmark = pytest.mark.filterwarnings("ignore::jwtobs.fingerprint.EphemeralKeyWarning")


def _cert(common_name: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def signer() -> RsaKey:
    return RsaKey("bind-1")


@pytest.fixture
def verifier(signer: RsaKey) -> jwtobs.Verifier:
    return _verifier(signer)


def _verifier(signer: RsaKey, **profile: Any) -> jwtobs.Verifier:
    prof = jwtobs.Profile(name="bound-api", issuer=ISS, audience=AUD, **profile)
    return jwtobs.Verifier(prof, keys={"keys": [signer.jwk()]}, clock=lambda: NOW)


def _reject(v: jwtobs.Verifier, token: str, **kw: Any) -> TokenRejected:
    with pytest.raises(TokenRejected) as info:
        v.verify(token, **kw)
    return info.value


def test_cert_thumbprint_matches_cryptography_fingerprint() -> None:
    cert = _cert("client-a")
    expected = _b64(cert.fingerprint(hashes.SHA256()))
    der = cert.public_bytes(Encoding.DER)
    pem = cert.public_bytes(Encoding.PEM)
    assert cert_thumbprint(cert) == cert_thumbprint(der) == cert_thumbprint(pem) == cert_thumbprint(pem.decode())
    assert cert_thumbprint(cert) == expected
    with pytest.raises(ConfigurationError):
        cert_thumbprint(12345)


@pytest.mark.parametrize("kind", ["EC", "OKP", "RSA", "oct"])
def test_jwk_thumbprint_matches_jwcrypto(kind: str) -> None:
    if kind == "EC":
        key = jwcrypto_jwk.JWK.generate(kty="EC", crv="P-256")
    elif kind == "OKP":
        key = jwcrypto_jwk.JWK.generate(kty="OKP", crv="Ed25519")
    elif kind == "RSA":
        key = jwcrypto_jwk.JWK.generate(kty="RSA", size=2048)
    else:
        key = jwcrypto_jwk.JWK.generate(kty="oct", size=256)
    public = json.loads(key.export(private_key=kind == "oct"))
    public["kid"] = "ignored-by-rfc7638"
    assert jwk_thumbprint(public) == key.thumbprint()


def test_jwk_thumbprint_refuses_incomplete_keys() -> None:
    with pytest.raises(ConfigurationError):
        jwk_thumbprint({"kty": "EC", "crv": "P-256", "x": "abc"})
    with pytest.raises(ConfigurationError):
        jwk_thumbprint({"kty": "XYZ"})


def test_mtls_bound_token_accepted_with_its_certificate(verifier: jwtobs.Verifier, signer: RsaKey) -> None:
    cert = _cert("client-a")
    token = signer.sign(claims(exp=NOW + 600, cnf={"x5t#S256": cert_thumbprint(cert)}))
    verified = verifier.verify(token, binding=Binding(x5t_s256=cert_thumbprint(cert)))
    assert verified.claims["cnf"]["x5t#S256"] == cert_thumbprint(cert)


def test_mtls_bound_token_with_another_certificate_is_binding_mismatch(
    verifier: jwtobs.Verifier, signer: RsaKey
) -> None:
    token = signer.sign(claims(cnf={"x5t#S256": cert_thumbprint(_cert("client-a"))}))
    exc = _reject(verifier, token, binding=Binding(x5t_s256=cert_thumbprint(_cert("thief"))))
    assert (exc.reason, exc.detail) == (Reason.BINDING_MISMATCH, "x5t#S256")
    assert exc.event is not None and exc.event.reason == "JWT_BINDING_MISMATCH"
    assert Reason.BINDING_MISMATCH.attack_signal


def test_bound_token_presented_without_proof_is_unbound_request(verifier: jwtobs.Verifier, signer: RsaKey) -> None:
    token = signer.sign(claims(cnf={"x5t#S256": cert_thumbprint(_cert("client-a"))}))
    exc = _reject(verifier, token)  # e.g. a stolen mTLS token replayed over a plain TLS connection
    assert (exc.reason, exc.detail) == (Reason.BINDING_MISMATCH, "unbound_request")
    dpop_only = Binding(jkt=jwk_thumbprint(json.loads(jwcrypto_jwk.JWK.generate(kty="EC").export_public())))
    assert _reject(verifier, token, binding=dpop_only).detail == "unbound_request"


def test_dpop_bound_token(verifier: jwtobs.Verifier, signer: RsaKey) -> None:
    proof_key = ed25519.Ed25519PrivateKey.generate()
    public_jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(proof_key.public_key()))
    jkt = jwk_thumbprint(public_jwk)
    token = signer.sign(claims(cnf={"jkt": jkt}))
    assert verifier.verify(token, binding=Binding(jkt=jkt)).subject == "user-1"
    thief = ed25519.Ed25519PrivateKey.generate().public_key()
    other = jwk_thumbprint(json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(thief)))
    exc = _reject(verifier, token, binding=Binding(jkt=other))
    assert (exc.reason, exc.detail) == (Reason.BINDING_MISMATCH, "jkt")


@pytest.mark.parametrize(
    "cnf",
    [
        "not-an-object",
        {"jwk": {"kty": "EC"}},  # RFC 7800 jwk confirmation: not checkable here -> fail closed
        {"x5t#S256": 12345},
        {},
    ],
)
def test_unsupported_cnf_fails_closed(verifier: jwtobs.Verifier, signer: RsaKey, cnf: Any) -> None:
    token = signer.sign(claims(cnf=cnf))
    exc = _reject(verifier, token, binding=Binding(x5t_s256="abc", jkt="def"))
    assert (exc.reason, exc.detail) == (Reason.BINDING_MISMATCH, "unsupported")


def test_require_binding_refuses_bearer_tokens(signer: RsaKey) -> None:
    strict = _verifier(signer, require_binding=True)
    exc = _reject(strict, signer.sign(claims()))
    assert (exc.reason, exc.detail) == (Reason.BINDING_MISMATCH, "unbound_token")
    relaxed = _verifier(signer)
    assert relaxed.verify(signer.sign(claims()), binding=Binding(jkt="unused")).subject == "user-1"


def test_binding_checked_after_signature(verifier: jwtobs.Verifier, signer: RsaKey) -> None:
    """A forged token with a cnf never gets as far as the binding check: the signature fails first."""
    token = RsaKey("bind-1").sign(claims(cnf={"jkt": "x"}))  # same kid, another key
    assert _reject(verifier, token, binding=Binding(jkt="y")).reason is Reason.BAD_SIGNATURE


def test_binding_rejects_bad_configuration() -> None:
    with pytest.raises(ConfigurationError):
        Binding(x5t_s256="")
    with pytest.raises(ConfigurationError):
        Binding(jkt="x" * 500)


def test_averify_passes_the_binding(verifier: jwtobs.Verifier, signer: RsaKey) -> None:
    token = signer.sign(claims(cnf={"jkt": "abc"}))
    assert asyncio.run(verifier.averify(token, binding=Binding(jkt="abc"))).subject == "user-1"
    with pytest.raises(TokenRejected):
        asyncio.run(verifier.averify(token, binding=Binding(jkt="abd")))
