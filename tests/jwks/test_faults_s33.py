"""A kid the last-known-good keys lack while the key set endpoint is failing (session 32's probe, left then as F1).

Before session 33 such a token was ``JWT_UNKNOWN_KID`` (401) - as for a kid the issuer never published - so a key
rotated in during an outage rejected every token of it as unknown until the endpoint came back (200 of 200 calls over
100 s in the probe: clients told to sign in again), while PyJWKClient's path reported its failed refetch as
``JWT_JWKS_UNAVAILABLE``. Now the key set that could hold the kid could not be fetched: ``JWT_JWKS_UNAVAILABLE``
(503, detail the fetch's ``error.type``) while the last fetch failed; known kids keep verifying from the
last-known-good keys, and a kid absent from a key set fetched successfully is ``JWT_UNKNOWN_KID`` as before.
Real HTTP servers on 127.0.0.1, real RSA keys, a fake clock; every wait bounded."""

from __future__ import annotations

import asyncio
import json
import uuid

import jwt

import jwtobs
from jwtobs.jwks import _MAX_KID_CHARS
from jwtobs.reasons import Reason
from tests.jwks.server import FakeClock, JwksServer, RsaKey, claims
from tests.jwks.test_faults_s32 import _verifier

OLD = RsaKey("k-old")
NEW = RsaKey("k-new")


def _reason(ver: jwtobs.Verifier, token: str) -> tuple[Reason | None, str | None]:
    try:
        ver.verify(token)
    except jwtobs.TokenRejected as exc:
        return exc.reason, exc.detail
    return None, None


def _outage(server: JwksServer, clock: FakeClock) -> tuple[jwtobs.JwksSource, jwtobs.Verifier]:
    """A warm source holding OLD, its TTL over, the endpoint answering 503 and the issuer rotated to NEW."""
    server.publish(OLD)
    src = jwtobs.JwksSource(server.url, clock=clock, cooldown=30)
    ver = _verifier(src)
    assert _reason(ver, OLD.sign(claims())) == (None, None)
    server.status = 503
    server.keys = [OLD.jwk(), NEW.jwk()]  # what the endpoint would serve if it answered
    clock.advance(301)
    return src, ver


def test_a_kid_rotated_in_during_an_outage_is_unavailable_not_unknown(server: JwksServer) -> None:
    clock = FakeClock()
    src, ver = _outage(server, clock)
    assert _reason(ver, OLD.sign(claims())) == (None, None)  # last-known-good
    assert src.last_error == "http_503"
    for _ in range(50):  # every call while the endpoint fails: 503, one request per cooldown at most
        assert _reason(ver, NEW.sign(claims())) == (Reason.JWKS_UNAVAILABLE, "http_503")
        assert _reason(ver, OLD.sign(claims())) == (None, None)
    assert server.requests == 2  # the first fetch and the TTL refresh that failed
    assert Reason.JWKS_UNAVAILABLE.http_status == 503
    server.status = 200
    clock.advance(31)  # the retry after the failure is due: the same token verifies
    assert _reason(ver, NEW.sign(claims())) == (None, None)
    assert src.last_error is None


def test_a_kid_absent_from_a_key_set_fetched_is_still_unknown(server: JwksServer) -> None:
    clock = FakeClock()
    server.publish(OLD)
    src = jwtobs.JwksSource(server.url, clock=clock, cooldown=30)
    ver = _verifier(src)
    assert _reason(ver, OLD.sign(claims())) == (None, None)
    clock.advance(2)
    assert _reason(ver, NEW.sign(claims(), kid=uuid.uuid4().hex)) == (Reason.UNKNOWN_KID, None)  # forced refresh
    for _ in range(20):  # negative cache and cooldown: no request, still the token's fault
        assert _reason(ver, NEW.sign(claims(), kid=uuid.uuid4().hex)) == (Reason.UNKNOWN_KID, None)
    assert server.requests == 2 and src.last_error is None


def test_a_refresh_forced_by_the_kid_that_fails_is_unavailable(server: JwksServer) -> None:
    clock = FakeClock()
    server.publish(OLD)
    src = jwtobs.JwksSource(server.url, clock=clock, cooldown=30)
    ver = _verifier(src)
    assert _reason(ver, OLD.sign(claims())) == (None, None)
    clock.advance(2)  # keys fresh (no TTL refresh due); the endpoint breaks: the unknown kid's refresh fails
    server.body = b'{"keys": ['
    assert _reason(ver, NEW.sign(claims())) == (Reason.JWKS_UNAVAILABLE, "invalid_json")
    assert server.requests == 2
    assert _reason(ver, OLD.sign(claims())) == (None, None)


def test_a_token_without_kid_or_with_an_oversized_one_stays_the_tokens_fault(server: JwksServer) -> None:
    clock = FakeClock()
    server.publish(OLD)
    server.keys = [OLD.jwk(), RsaKey("k-other").jwk()]  # two keys: a token without kid selects none
    src = jwtobs.JwksSource(server.url, clock=clock, cooldown=30)
    ver = _verifier(src)
    assert _reason(ver, OLD.sign(claims())) == (None, None)
    server.status = 503
    clock.advance(301)
    assert _reason(ver, OLD.sign(claims())) == (None, None)
    assert src.last_error == "http_503"
    no_kid = jwt.PyJWS().encode(
        json.dumps(claims()).encode(), NEW.private, algorithm="RS256", headers={"typ": "at+jwt"}
    )
    assert _reason(ver, no_kid) == (Reason.UNKNOWN_KID, "no_kid")
    assert _reason(ver, NEW.sign(claims(), kid="x" * (_MAX_KID_CHARS + 1)))[0] is Reason.UNKNOWN_KID


def test_async_and_verifier_set_answer_alike(server: JwksServer) -> None:
    clock = FakeClock()
    server.publish(OLD)
    src = jwtobs.AsyncJwksSource(server.url, clock=clock, cooldown=30)
    ver = _verifier(src)
    vset = jwtobs.VerifierSet([ver])

    async def run() -> list[Reason | None]:
        out: list[Reason | None] = []
        await ver.averify(OLD.sign(claims()))
        server.status = 500
        clock.advance(301)
        for token in (OLD.sign(claims()), NEW.sign(claims()), NEW.sign(claims())):
            try:
                await vset.averify(token)
                out.append(None)
            except jwtobs.TokenRejected as exc:
                out.append(exc.reason)
        return out

    assert asyncio.run(run()) == [None, Reason.JWKS_UNAVAILABLE, Reason.JWKS_UNAVAILABLE]


def test_the_http_status_through_fastapi(server: JwksServer) -> None:
    from fastapi import Depends, FastAPI
    from fastapi.testclient import TestClient

    from jwtobs.integrations.fastapi import BearerAuth, jwt_auth

    clock = FakeClock()
    _, ver = _outage(server, clock)
    app = FastAPI()
    auth = jwt_auth(BearerAuth(ver.verify))

    @app.get("/")
    def root(principal: object = Depends(auth)) -> dict[str, str]:
        return {"ok": "yes"}

    with TestClient(app) as client:
        old = client.get("/", headers={"Authorization": f"Bearer {OLD.sign(claims())}"})
        new = client.get("/", headers={"Authorization": f"Bearer {NEW.sign(claims())}"})
    assert (old.status_code, new.status_code) == (200, 503)
    assert NEW.sign(claims()) not in new.text
