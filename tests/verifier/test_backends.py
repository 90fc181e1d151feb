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


def _signed_with(alg: str) -> tuple[str, Any]:
    """A valid token of ``alg`` (every algorithm a Profile allows, signed with cryptography directly) and the
    public key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}.get(alg[-3:], hashes.SHA256())
    header = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": "k"}).encode())
    payload = _b64(json.dumps({"iss": ISS, "aud": AUD, "sub": "u", "exp": NOW + 60}).encode())
    si = f"{header}.{payload}".encode()
    key: Any
    if alg.startswith("HS"):
        import hmac

        secret = bytes(range(1, digest.digest_size + 1))  # (RFC 7518 §3.2: at least the hash's size)
        sig, key = hmac.new(secret, si, digest.name).digest(), secret
    elif alg.startswith("RS"):
        sig, key = RSA_KEY.sign(si, padding.PKCS1v15(), digest), RSA_KEY.public_key()
    elif alg.startswith("PS"):
        pss = padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size)
        sig, key = RSA_KEY.sign(si, pss, digest), RSA_KEY.public_key()
    elif alg.startswith("ES"):
        curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1(), "ES256K": ec.SECP256K1()}
        private = ec.generate_private_key(curve[alg])
        sig, key = _ecdsa_raw(private, si, digest), private.public_key()
    else:  # EdDSA, Ed25519 (RFC 9864)
        sig, key = ED_KEY.sign(si), ED_KEY.public_key()
    return f"{header}.{payload}.{_b64(sig)}", key


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_every_algorithm_is_verified_or_refused_at_configuration(backend: str) -> None:
    """A backend's ALGORITHMS is what it can verify: a valid token of each is accepted; a profile allowing any
    other is a ConfigurationError naming the backends that can (before session 13: python-jose refused EdDSA,
    PS* and ES256K tokens and PyJWT and Authlib Ed25519 tokens on every request, JWT_ALG_NOT_ALLOWED)."""
    from jwtobs import backends
    from jwtobs.profile import ASYMMETRIC_ALGS, HMAC_ALGS

    able = backends.get(backend).ALGORITHMS
    for alg in sorted(HMAC_ALGS | ASYMMETRIC_ALGS):
        token, key = _signed_with(alg)
        profile = jwtobs.Profile(name="p", issuer=ISS, audience=AUD, algorithms=(alg,), token_type="JWT")
        if alg in able:
            v = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k": key}), backend=backend)
            assert v.verify(token, now=NOW).claims["sub"] == "u", alg
        else:
            with pytest.raises(jwtobs.ConfigurationError, match=f"cannot verify {alg}.*can: .*joserfc"):
                jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k": key}), backend=backend)
    assert {"RS256", "ES256", "HS256"} <= able


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_an_hmac_key_shorter_than_the_hash_is_key_invalid_on_every_backend(alg: str) -> None:
    """RFC 7518 §3.2 (key at least the hash's size): a 32-byte secret with HS384/HS512 was accepted by four
    backends and JWT_BAD_SIGNATURE with jwcrypto; now JWT_KEY_INVALID/length with each, before the backend."""
    import hashlib
    import hmac

    header = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": "k"}).encode())
    payload = _b64(json.dumps({"iss": ISS, "aud": AUD, "sub": "u", "exp": NOW + 60}).encode())
    digest = hashlib.sha384 if alg == "HS384" else hashlib.sha512
    profile = jwtobs.Profile(name="p", issuer=ISS, audience=AUD, algorithms=(alg,), token_type="JWT")
    for size, verdict in ((32, (Reason.KEY_INVALID, "length")), (digest().digest_size, None)):
        secret = bytes(range(1, size + 1))
        token = f"{header}.{payload}." + _b64(hmac.new(secret, f"{header}.{payload}".encode(), digest).digest())
        got = set()
        for backend in sorted(BACKENDS):
            try:
                jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k": secret}), backend=backend).verify(token, now=NOW)
                got.add(None)
            except TokenRejected as exc:
                got.add((exc.reason, exc.detail))
        assert got == {verdict}, (size, got)


def _rs256(signing_input: bytes) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return RSA_KEY.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("extra", [{"nonce": "n"}, {"app": "x"}, {"x5t#S256": "A" * 43, "note": "n" * 600}])
def test_header_parameters_only_joserfc_refused_are_accepted(backend: str, extra: dict[str, Any]) -> None:
    """A valid token whose header has a parameter joserfc does not register, or is over 512 bytes: accepted by
    every backend (joserfc's registry refused them: JWT_HEADER_INVALID with that backend only)."""
    header = {"alg": "RS256", "typ": "JWT", "kid": "k", **extra}
    token = _raw_token(header, {"iss": ISS, "aud": AUD, "sub": "u", "exp": NOW + 60}, _rs256)
    profile = jwtobs.Profile(name="p", issuer=ISS, audience=AUD, algorithms=("RS256",), token_type="JWT")
    v = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k": RSA_KEY.public_key()}), backend=backend)
    assert v.verify(token, now=NOW).claims["sub"] == "u"


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
