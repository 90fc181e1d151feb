"""Replay/revocation hook: real signed tokens, verdicts as JWT_REPLAYED / JWT_REVOKED events."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import jwtobs
from jwtobs import Reason, TokenRejected
from jwtobs.events import ValidationEvent
from jwtobs.replay import InMemoryReplayChecker, ReplayChecker

ISS, AUD, NOW = "https://idp.example/t", "api", 1_800_000_000
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ABSENT: Any = object()  # token(claim=ABSENT): the claim is left out (None is a JSON null)


def token(**over: Any) -> str:
    c: dict[str, Any] = {"iss": ISS, "sub": "u1", "aud": AUD, "exp": NOW + 600, "jti": "j-1"}
    c.update(over)
    c = {k: v for k, v in c.items() if v is not ABSENT}
    return jwt.PyJWS().encode(json.dumps(c).encode(), KEY, algorithm="RS256", headers={"kid": "k", "typ": "at+jwt"})


def make(checker: InMemoryReplayChecker) -> jwtobs.Verifier:
    assert isinstance(checker, ReplayChecker)
    p = jwtobs.Profile(name="api", issuer=ISS, audience=AUD)
    return jwtobs.Verifier(p, keys={"k": KEY.public_key()}, replay=checker)


def reason(v: jwtobs.Verifier, tok: str) -> Reason | None:
    try:
        v.verify(tok, now=NOW)
    except TokenRejected as exc:
        return exc.reason
    return None


def test_one_time_jti() -> None:
    events: list[Any] = []
    jwtobs.configure(sinks=[events.append])
    v = make(InMemoryReplayChecker(one_time=True))
    assert reason(v, token()) is None
    assert reason(v, token()) is Reason.REPLAYED
    assert reason(v, token(jti=ABSENT)) is Reason.REPLAYED  # no jti: cannot be proven fresh
    assert reason(v, token(jti="j-2")) is None
    # a null jti is not "no jti" but a jti of the wrong type, refused before the hook (before session 13: the
    # hook saw it as absent, JWT_REPLAYED)
    assert reason(v, token(jti=None)) is Reason.CLAIM_INVALID
    jwtobs.flush()
    got = [e.reason for e in events if isinstance(e, ValidationEvent)]
    assert got == [None, "JWT_REPLAYED", "JWT_REPLAYED", None, "JWT_CLAIM_INVALID"]


def test_revoked_jti_and_authz_version() -> None:
    checker = InMemoryReplayChecker(authz_version_claim="ver")
    v = make(checker)
    assert reason(v, token(ver=3)) is None
    checker.revoke("j-1")
    assert reason(v, token(ver=3)) is Reason.REVOKED
    checker.set_authz_version("u1", 4)
    assert reason(v, token(jti="j-9", ver=3)) is Reason.REVOKED
    assert reason(v, token(jti="j-9", ver=4)) is None
    assert reason(v, token(jti="j-9")) is Reason.REVOKED  # version claim missing once one is recorded


def test_bad_signature_never_reaches_state() -> None:
    checker = InMemoryReplayChecker(one_time=True)
    v = make(checker)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.PyJWS().encode(
        json.dumps({"iss": ISS, "aud": AUD, "sub": "u", "exp": NOW + 60, "jti": "x"}).encode(),
        other,
        algorithm="RS256",
        headers={"kid": "k", "typ": "at+jwt"},
    )
    assert reason(v, forged) is Reason.BAD_SIGNATURE
    assert len(checker.memory) == 0


@pytest.mark.parametrize("n", [10])
def test_store_bounded(n: int) -> None:
    checker = InMemoryReplayChecker(one_time=True, max_entries=n)
    v = make(checker)
    for i in range(3 * n):
        assert reason(v, token(jti=f"j{i}")) is None
    assert len(checker.memory) == n
