"""Session 36's probe of the Verifier (documented API only; real keys, real backends). Each test failed before:

- an X.509 certificate (an IdP's signing certificate: its JWK's ``x5c``, a PEM body without armour, raw DER), a PEM
  after explanatory text (RFC 7468 allows it: ``openssl pkcs12``'s "Bag Attributes"), a JWK with a UTF-8 byte-order
  mark or inside a JSON array were accepted as an HS256 secret, and an HS256 token MAC'd with that public text was
  accepted (up to all five backends);
- ``Profile(prohibited_claims=("nonce"))`` (a one-element tuple's comma forgotten) was ``("n", "o", "n", "c", "e")``
  and a token with a ``nonce`` was accepted; ``leeway=True`` was one second;
- a PS256 signature starting with a zero byte was accepted with that byte dropped too (every PS backend): a second
  token string, another fingerprint, for the same signed claims;
- ``verify(now=nan)`` (or a clock returning NaN) accepted a token that expired in 1970;
- ``b64: false`` listed in ``crit`` was JWT_CRIT_UNSUPPORTED, where docs/verifier.md says JWT_HEADER_INVALID/b64.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

import jwtobs
from jwtobs import Reason, TokenRejected
from jwtobs.backends import BACKENDS

ISS = "https://idp.example/s36"
AUD = "orders-api"
NOW = 1_800_000_000
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _certificate() -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example signing")])
    import datetime as dt

    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365))
        .sign(KEY, hashes.SHA256())
    )


CERT = _certificate()
CERT_DER = CERT.public_bytes(serialization.Encoding.DER)
CERT_PEM = CERT.public_bytes(serialization.Encoding.PEM)
PUBLIC_JWK = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
PUBLIC_PEM = KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

PUBLIC_TEXTS: dict[str, bytes] = {
    "x5c (base64 DER certificate)": base64.b64encode(CERT_DER),
    "certificate PEM body without armour": b"".join(CERT_PEM.splitlines()[1:-1]),
    "certificate PEM body, its line breaks kept": b"\n".join(CERT_PEM.splitlines()[1:-1]),
    "raw DER certificate": CERT_DER,
    "base64url DER certificate": _b64u(CERT_DER).encode(),
    "hex DER certificate": CERT_DER.hex().encode(),
    "PEM after explanatory text": b"Bag Attributes\n    friendlyName: idp signing key\n"
    + b"x" * 80
    + b"\n"
    + PUBLIC_PEM,
    "certificate PEM after a comment": b"# idp.example signing certificate, rotated 2026-11\n" + CERT_PEM,
    "JWK with a UTF-8 byte-order mark": b"\xef\xbb\xbf" + json.dumps(PUBLIC_JWK).encode(),
    "JWK inside a JSON array": json.dumps([PUBLIC_JWK]).encode(),
    "JWK set after blanks and a byte-order mark": b"\xef\xbb\xbf \n" + json.dumps({"keys": [PUBLIC_JWK]}).encode(),
}


def _claims(**over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"iss": ISS, "sub": "u-1", "aud": AUD, "exp": NOW + 600, "iat": NOW - 5}
    c.update(over)
    return c


def _hs_profile() -> jwtobs.Profile:
    return jwtobs.Profile(name="orders-api", issuer=ISS, audience=AUD, algorithms=("HS256",))


@pytest.mark.parametrize("form", sorted(PUBLIC_TEXTS))
def test_public_key_texts_are_no_hmac_secret(form: str) -> None:
    secret = PUBLIC_TEXTS[form]
    for backend in sorted(BACKENDS):
        with pytest.raises(jwtobs.ConfigurationError):
            jwtobs.Verifier(_hs_profile(), keys=jwtobs.StaticKeys({"k": secret}), backend=backend)
    with pytest.raises(jwtobs.ConfigurationError):
        jwtobs.StaticKeys({"k": secret})
    try:
        text = secret.decode("utf-8")
    except UnicodeDecodeError:
        return  # (raw DER: no text form)
    with pytest.raises(jwtobs.ConfigurationError):
        jwtobs.StaticKeys({"k": text})


def test_ordinary_secrets_are_still_secrets() -> None:
    import os

    for secret in (
        os.urandom(48),
        b"[not json but brackets] and 32+ characters",
        b"{also not JSON, and 32 characters or more}",
    ):
        verifier = jwtobs.Verifier(_hs_profile(), keys=jwtobs.StaticKeys({"k": secret}))
        token = jwt.encode(_claims(), secret, algorithm="HS256", headers={"typ": "at+jwt", "kid": "k"})
        assert verifier.verify(token, now=NOW).claims["sub"] == "u-1"


@pytest.mark.parametrize("field", ["required_claims", "forbidden_headers", "prohibited_claims", "allowed_clients"])
def test_a_string_where_a_tuple_of_names_belongs_is_refused(field: str) -> None:
    with pytest.raises(jwtobs.ConfigurationError, match=rf"Profile\.{field} .*comma"):
        jwtobs.Profile(name="api", issuer=ISS, audience=AUD, **{field: "nonce"})
    with pytest.raises(jwtobs.ConfigurationError):
        jwtobs.Profile(name="api", issuer=ISS, audience=AUD, **{field: ("nonce", "")})
    jwtobs.Profile(name="api", issuer=ISS, audience=AUD, **{field: ("nonce",)})  # the tuple itself is fine


def test_prohibited_claim_given_with_its_comma_rejects_the_claim() -> None:
    profile = jwtobs.Profile(name="api", issuer=ISS, audience=AUD, prohibited_claims=("nonce",))
    verifier = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys(KEY.public_key()))
    token = jwt.encode(_claims(nonce="n-1"), KEY, algorithm="RS256", headers={"typ": "at+jwt"})
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token, now=NOW)
    assert info.value.reason is Reason.PROHIBITED_CLAIM


@pytest.mark.parametrize("field", ["leeway", "max_age", "max_token_bytes"])
def test_a_bool_is_no_number_of_seconds(field: str) -> None:
    with pytest.raises(jwtobs.ConfigurationError, match=rf"Profile\.{field}"):
        jwtobs.Profile(name="api", issuer=ISS, audience=AUD, **{field: True})


def _pss_token_with_leading_zero(alg: str) -> str:
    """A PS256/RS256 token whose signature starts with a zero byte (re-signed with a new jti until one does: 1 in
    256 each, bounded)."""
    for n in range(20_000):
        header = _b64u(json.dumps({"alg": alg, "typ": "at+jwt"}).encode())
        payload = _b64u(json.dumps(_claims(jti=f"j-{n}")).encode())
        signing_input = f"{header}.{payload}".encode()
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32) if alg == "PS256" else padding.PKCS1v15()
        sig = KEY.sign(signing_input, pad, hashes.SHA256())
        if sig[0] == 0:
            return f"{header}.{payload}.{_b64u(sig)}"
    raise AssertionError("no signature with a leading zero byte in 20 000 tries")


@pytest.mark.parametrize("alg", ["PS256", "RS256"])
def test_an_rsa_signature_without_its_leading_zero_byte_is_refused(alg: str) -> None:
    token = _pss_token_with_leading_zero(alg)
    header, payload, sig = token.split(".")
    short = f"{header}.{payload}.{_b64u(base64.urlsafe_b64decode(sig + '==')[1:])}"
    profile = jwtobs.Profile(name="api", issuer=ISS, audience=AUD, algorithms=(alg,))
    tried = 0
    for backend in sorted(BACKENDS):
        try:
            verifier = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys(KEY.public_key()), backend=backend)
        except jwtobs.ConfigurationError:
            continue  # (this backend does not verify the algorithm)
        tried += 1
        assert verifier.verify(token, now=NOW).claims["sub"] == "u-1"
        with pytest.raises(TokenRejected) as info:
            verifier.verify(short, now=NOW)
        assert (info.value.reason, info.value.detail) == (Reason.BAD_SIGNATURE, "signature"), backend
    assert tried >= 4


@pytest.mark.parametrize("now", [math.nan, math.inf, -math.inf])
def test_a_time_that_is_no_number_fails_closed(now: float) -> None:
    profile = jwtobs.Profile(name="api", issuer=ISS, audience=AUD)
    token = jwt.encode(_claims(iat=0, exp=60), KEY, algorithm="RS256", headers={"typ": "at+jwt"})
    for verifier, kwargs in (
        (jwtobs.Verifier(profile, keys=jwtobs.StaticKeys(KEY.public_key())), {"now": now}),
        (jwtobs.Verifier(profile, keys=jwtobs.StaticKeys(KEY.public_key()), clock=lambda: now), {}),
    ):
        with pytest.raises(TokenRejected) as info:
            verifier.verify(token, **kwargs)
        assert info.value.reason is Reason.VALIDATOR_ERROR


def test_b64_false_listed_in_crit_is_a_header_error() -> None:
    profile = jwtobs.Profile(name="api", issuer=ISS, audience=AUD)
    verifier = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys(KEY.public_key()))
    for extra in ({"b64": False, "crit": ["b64"]}, {"b64": False}):
        token = jwt.encode(_claims(), KEY, algorithm="RS256", headers={"typ": "at+jwt", **extra})
        with pytest.raises(TokenRejected) as info:
            verifier.verify(token, now=NOW)
        assert (info.value.reason, info.value.detail) == (Reason.HEADER_INVALID, "b64")
    token = jwt.encode(_claims(), KEY, algorithm="RS256", headers={"typ": "at+jwt", "crit": ["exp"], "exp": 1})
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token, now=NOW)
    assert info.value.reason is Reason.CRIT_UNSUPPORTED
