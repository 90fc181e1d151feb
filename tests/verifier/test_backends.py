"""Same token, same profile → same verdict, whichever library checks the signature (RSA, EC, Ed25519, HMAC)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import jwtobs
from jwtobs import Reason, TokenRejected
from jwtobs.backends import BACKENDS

ISS = "https://idp.example/t"
AUD = "billing-api"
NOW = 1_800_000_000
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
ED_KEY = ed25519.Ed25519PrivateKey.generate()
SECRET = b"s" * 32
KEYS: dict[str, Any] = {"rsa": RSA_KEY, "ec": EC_KEY, "ed": ED_KEY, "hs": SECRET}
pytestmark = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")
ALGS = {"rsa": "RS256", "ec": "ES256", "ed": "EdDSA", "hs": "HS256"}


def claims(**over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"iss": ISS, "sub": "u", "aud": AUD, "exp": NOW + 600, "iat": NOW - 5, "tenant_id": "acme"}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def sign(kind: str, c: dict[str, Any], key: Any = None, **hdr: Any) -> str:
    h = {"kid": kind, "typ": "at+jwt", **hdr}
    return jwt.PyJWS().encode(json.dumps(c).encode(), key or KEYS[kind], algorithm=ALGS[kind], headers=h)


def tamper(tok: str) -> str:
    h, p, s = tok.split(".")
    body = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    body["sub"] = "admin"
    return ".".join([h, base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode(), s])


CASES: dict[str, tuple[Callable[[str], str], Reason | None]] = {
    "good": (lambda k: sign(k, claims()), None),
    "tampered_payload": (lambda k: tamper(sign(k, claims())), Reason.BAD_SIGNATURE),
    "wrong_key": (
        lambda k: sign(
            k,
            claims(),
            key={
                "rsa": OTHER_RSA,
                "ec": ec.generate_private_key(ec.SECP256R1()),
                "ed": ed25519.Ed25519PrivateKey.generate(),
                "hs": b"t" * 32,
            }[k],
        ),
        Reason.BAD_SIGNATURE,
    ),
    "expired": (lambda k: sign(k, claims(exp=NOW - 100)), Reason.EXPIRED),
    "wrong_aud": (lambda k: sign(k, claims(aud="other-api")), Reason.AUDIENCE_MISMATCH),
    "wrong_iss": (lambda k: sign(k, claims(iss="https://evil.example")), Reason.ISSUER_MISMATCH),
    "id_token_typ": (lambda k: sign(k, claims(), typ="JWT"), Reason.TYPE_MISMATCH),
    "unknown_kid": (lambda k: sign(k, claims(), kid="nope"), Reason.UNKNOWN_KID),
    "jku": (lambda k: sign(k, claims(), jku="https://evil.example/jwks"), Reason.FORBIDDEN_HEADER),
    "tenant": (lambda k: sign(k, claims(tenant_id="other")), Reason.TENANT_MISMATCH),
}


def verdict(backend: str, kind: str, case: str) -> str | None:
    keys = jwtobs.StaticKeys({kind: KEYS[kind]})
    profile = jwtobs.Profile(
        name="billing-api",
        issuer=ISS,
        audience=AUD,
        algorithms=(ALGS[kind],),
        token_type="at+jwt",
        tenant_claim="tenant_id",
    )
    v = jwtobs.Verifier(profile, keys=keys, backend=backend)
    try:
        v.verify(CASES[case][0](kind), tenant="acme", now=NOW)
    except TokenRejected as exc:
        return exc.reason.value
    return None


@pytest.mark.parametrize("kind", sorted(KEYS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_verdict_every_backend(kind: str, case: str) -> None:
    expected = CASES[case][1]
    got = {b: verdict(b, kind, case) for b in sorted(BACKENDS) if not (b == "jose" and kind == "ed")}
    assert set(got.values()) == {None if expected is None else expected.value}, got


def test_all_backends_landed() -> None:
    assert set(BACKENDS) == {"pyjwt", "joserfc", "jwcrypto", "authlib", "jose"}


def test_python_jose_refuses_eddsa() -> None:
    assert verdict("python-jose", "ed", "good") == Reason.ALG_NOT_ALLOWED.value  # no EdDSA: rejected, not accepted


# -- issue #14 item 6: cases where the libraries disagreed; jwtobs decides before the backend runs ----------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _ecdsa_raw(key: ec.EllipticCurvePrivateKey, msg: bytes, hash_alg: Any) -> bytes:
    """JWS ECDSA signature (r || s, each as long as the key's curve) over ``msg`` with ``hash_alg``,
    computed with cryptography directly, so no library refuses to produce the mismatched token."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(key.sign(msg, ec.ECDSA(hash_alg)))
    size = (key.curve.key_size + 7) // 8
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _raw_token(header: dict[str, Any], payload: dict[str, Any], sign_fn: Callable[[bytes], bytes]) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{_b64(sign_fn(signing_input.encode()))}"


def _verdict_with(backend: str, keys: Any, alg: str, token: str) -> str | None:
    profile = jwtobs.Profile(name="billing-api", issuer=ISS, audience=AUD, algorithms=(alg,), token_type="at+jwt")
    try:
        jwtobs.Verifier(profile, keys=jwtobs.StaticKeys(keys), backend=backend).verify(token, now=NOW)
    except TokenRejected as exc:
        return exc.reason.value
    return None


@pytest.mark.parametrize("curve", ["P-384", "secp256k1"])
def test_es256_on_the_wrong_curve_one_verdict(curve: str) -> None:
    """python-jose accepted ES256 tokens signed with P-384 / secp256k1 keys."""
    from cryptography.hazmat.primitives import hashes

    key = ec.generate_private_key(ec.SECP384R1() if curve == "P-384" else ec.SECP256K1())
    header = {"alg": "ES256", "typ": "at+jwt", "kid": "ec"}
    token = _raw_token(header, claims(), lambda m: _ecdsa_raw(key, m, hashes.SHA256()))
    got = {b: _verdict_with(b, {"ec": key.public_key()}, "ES256", token) for b in sorted(BACKENDS)}
    assert set(got.values()) == {Reason.ALG_NOT_ALLOWED.value}, got
    # the same through a JWK set: a P-384 key published with "alg": "ES256" is not a usable key at all
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key())) | {"kid": "ec", "alg": "ES256"}
    with pytest.raises(jwtobs.ConfigurationError):
        jwtobs.StaticKeys({"keys": [jwk]})


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_b64_false_one_verdict(kind: str) -> None:
    """``b64: false`` without ``crit``: authlib and python-jose accepted, the others refused for 3 reasons."""
    header = {"alg": ALGS[kind], "typ": "at+jwt", "kid": kind, "b64": False}
    algo = jwt.get_algorithm_by_name(ALGS[kind])
    prepared = algo.prepare_key(KEYS[kind])
    token = _raw_token(header, claims(), lambda m: algo.sign(m, prepared))
    backends = [b for b in sorted(BACKENDS) if not (b == "jose" and kind == "ed")]
    got = {b: _verdict_with(b, {kind: KEYS[kind]}, ALGS[kind], token) for b in backends}
    assert set(got.values()) == {Reason.HEADER_INVALID.value}, got


def _pem(kind: str) -> bytes:
    from cryptography.hazmat.primitives import serialization

    pub = KEYS[kind].public_key()
    return bytes(pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def _der(kind: str) -> bytes:
    from cryptography.hazmat.primitives import serialization

    pub = KEYS[kind].public_key()
    return bytes(pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def _ssh() -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(RSA_KEY.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH))


KEY_MATERIAL: dict[str, Callable[[], object]] = {
    "rsa_pem_bytes": lambda: _pem("rsa"),
    "rsa_pem_str": lambda: _pem("rsa").decode(),
    "ec_pem_leading_space": lambda: b"\n  " + _pem("ec"),
    "rsa_der": lambda: _der("rsa"),
    "ec_der": lambda: _der("ec"),
    "ssh": _ssh,
    "jwk_json": lambda: jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()),
    "rsa_key_object": lambda: RSA_KEY.public_key(),
}


@pytest.mark.parametrize("material", sorted(KEY_MATERIAL))
def test_key_material_refused_as_hmac_secret_at_configuration(material: str) -> None:
    """jwcrypto accepted a token HMAC'd with a public RSA PEM given as the HS256 secret."""
    secret = KEY_MATERIAL[material]()
    profile = jwtobs.Profile(name="billing-api", issuer=ISS, audience=AUD, algorithms=("HS256",))
    for backend in sorted(BACKENDS):
        with pytest.raises(jwtobs.ConfigurationError):
            jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k": secret}), backend=backend)
        with pytest.raises(jwtobs.ConfigurationError):
            jwtobs.Verifier(profile, keys={"k": secret}, backend=backend)


def test_ordinary_hmac_secrets_still_accepted() -> None:
    import os

    for secret in (os.urandom(32), b"s" * 32, "correct horse battery staple, 32+ chars", b"0" + os.urandom(40)):
        jwtobs.StaticKeys({"k": secret})
