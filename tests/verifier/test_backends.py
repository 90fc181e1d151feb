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
