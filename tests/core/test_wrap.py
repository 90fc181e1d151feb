"""``jwtobs.wrap``'s contract: same return value and exceptions, reason_of, raise_as, library inference,
user functions with PyJWT inside (PyJWKClient against a real local JWKS server), async, nesting."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import jwt
import pytest

import jwtobs
from jwtobs import ConfigurationError, Reason, TokenRejected

from .conftest import AUD, ISS, JwksServer, Keys, Otel, claims


def test_same_return_value_for_every_pyjwt_entry_point(keys: Keys, otel: Otel) -> None:
    token = jwt.encode(claims(), keys.rsa, algorithm="RS256", headers={"kid": "k1"})
    pub = keys.rsa.public_key()
    kw: dict[str, Any] = {"algorithms": ["RS256"], "audience": AUD, "issuer": ISS}
    for fn in (jwt.decode, jwt.api_jwt.decode, jwt.PyJWT().decode, jwt.decode_complete):
        wrapped = jwtobs.wrap(fn)
        assert wrapped(token, pub, **kw) == fn(token, pub, **kw)
        assert wrapped.__wrapped__ is fn  # type: ignore[attr-defined]
    jwtobs.flush()
    assert [e.outcome for e in otel.events] == ["accepted"] * 4
    # decode_complete's claims are read from its "payload"
    assert all(e.issuer == ISS and e.sub_hash for e in otel.events)


def test_claims_named_like_decode_complete_parts_are_claims(keys: Keys, otel: Otel) -> None:
    """A claims set with ``header``, ``payload`` and ``signature`` claims is what ``jwt.decode`` returned, not
    ``decode_complete``'s result: the event's sub, exp and client come from the token's own claims (before
    session 20 they came from its ``payload`` claim)."""
    pub = keys.rsa.public_key()
    inner = {"sub": "someone-else", "exp": 1, "azp": "other-client"}
    c = claims(sub="alice", azp="web", header={"alg": "none"}, payload=inner, signature="c2ln")
    token = jwt.encode(c, keys.rsa, algorithm="RS256", headers={"kid": "k1"})
    kw: dict[str, Any] = {"algorithms": ["RS256"], "audience": AUD, "issuer": ISS}
    assert jwtobs.wrap(jwt.decode)(token, pub, **kw)["payload"] == inner
    jwtobs.flush()
    (event,) = otel.events
    fp = jwtobs.config.current().fingerprinter
    assert (event.sub_hash, event.exp, event.client_id) == (fp.claim("sub", "alice"), c["exp"], "web")


def test_peeks_are_not_validations(keys: Keys, otel: Otel) -> None:
    """``decode = jwtobs.wrap(jwt.decode)`` used to read ``iss`` before choosing a key
    (``options={"verify_signature": False}``) peeks, as the instrumentor already knew: before session 20 a forged
    token peeked at was recorded as accepted, and the cardinality guard learned its issuer and kid (attacker
    strings as metric attributes). python-jose's decode, positional options, any falsy ``verify_signature``
    and a function of yours passing ``options`` on are peeks too; the verified decode is still recorded."""
    import jose.jwt

    forged = jwt.encode(claims(iss="https://evil.example"), "x" * 32, algorithm="HS256", headers={"kid": "evil-kid"})
    pub = keys.rsa.public_key()
    decode, complete, jdecode = jwtobs.wrap(jwt.decode), jwtobs.wrap(jwt.decode_complete), jwtobs.wrap(jose.jwt.decode)

    def mine(token: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
        return jwt.decode(token, pub, algorithms=["RS256"], options=options)  # type: ignore[no-any-return]

    own = jwtobs.wrap(mine, library="pyjwt")
    for falsy in (False, 0, None, ""):
        peek = {"verify_signature": falsy}
        assert decode(forged, options=peek) == jwt.decode(forged, options=peek)
        assert decode(forged, "", None, peek)["iss"] == "https://evil.example"  # options positional
        assert complete(forged, options=peek)["header"]["kid"] == "evil-kid"
        assert own(forged, options=peek)["iss"] == "https://evil.example"
        with pytest.raises(jwt.DecodeError):  # a peek that fails is no validation either
            decode("not.a-token", options=peek)
    jpeek = {"verify_signature": False, "verify_aud": False}
    assert jdecode(forged, "", options=jpeek)["iss"] == "https://evil.example"
    jwtobs.flush()
    assert otel.events == []
    # the same forged token validated: recorded, rejected, its kid and issuer never learned
    with pytest.raises(jwt.InvalidAlgorithmError):
        decode(forged, pub, algorithms=["RS256"], options={"verify_signature": True, "verify_aud": False})
    with pytest.raises(jwt.InvalidAlgorithmError):
        own(forged)
    jwtobs.flush()
    assert [e.outcome for e in otel.events] == ["rejected", "rejected"]
    points = otel.metrics()["jwtobs.validation.duration"]
    assert {p.attributes["jwtobs.kid"] for p in points} == {"_unknown"}
    assert {p.attributes["jwtobs.issuer"] for p in points} == {"_unknown"}


def test_wrapping_twice_is_idempotent() -> None:
    once = jwtobs.wrap(jwt.decode)
    assert jwtobs.wrap(once) is once


def test_library_cannot_be_inferred() -> None:
    def my_validator(token: str) -> dict[str, Any]:
        return {}

    with pytest.raises(ConfigurationError, match="library="):
        jwtobs.wrap(my_validator)
    with pytest.raises(ConfigurationError, match="unknown library"):
        jwtobs.wrap(my_validator, library="nope")
    with pytest.raises(ConfigurationError):
        jwtobs.wrap(jwt.decode, raise_as="other")  # type: ignore[arg-type]


def test_raise_as_jwtobs_chains_the_library_exception(keys: Keys, otel: Otel) -> None:
    token = jwt.encode(claims(exp=1), keys.hmac, algorithm="HS256")
    decode = jwtobs.wrap(jwt.decode, raise_as="jwtobs", profile="orders-api")
    with pytest.raises(TokenRejected) as info:
        decode(token, keys.hmac, algorithms=["HS256"], audience=AUD)
    assert info.value.reason is Reason.EXPIRED and info.value.detail == "exp"
    assert isinstance(info.value.__cause__, jwt.ExpiredSignatureError)
    assert jwtobs.reason_of(info.value) is Reason.EXPIRED
    assert info.value.http_status == 401
    assert token not in str(info.value)
    jwtobs.flush()
    assert otel.events[0].profile == "orders-api"
    assert otel.spans()[0].name == "jwt.validate orders-api"


def test_user_function_with_pyjwkclient_unknown_kid(keys: Keys, otel: Otel, jwks_server: JwksServer) -> None:
    jwks_server.publish((keys.rsa.public_key(), "current", "RS256"))
    client = jwt.PyJWKClient(jwks_server.url, cache_keys=True)

    def validate(token: str) -> dict[str, Any]:
        signing_key = client.get_signing_key_from_jwt(token)
        return jwt.decode(token, signing_key.key, algorithms=["RS256"], audience=AUD, issuer=ISS)

    observed = jwtobs.wrap(validate, library="pyjwt", profile="billing-api")
    good = jwt.encode(claims(), keys.rsa, algorithm="RS256", headers={"kid": "current"})
    assert observed(good)["iss"] == ISS
    unknown = jwt.encode(claims(), keys.other_rsa, algorithm="RS256", headers={"kid": "next-key"})
    with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key") as info:
        observed(token=unknown)
    assert jwtobs.reason_of(info.value) is Reason.UNKNOWN_KID
    assert jwks_server.requests >= 1  # a real server answered (PyJWKClient 2.15 rate-limits refetches)
    jwtobs.flush()
    accepted, rejected = otel.events
    assert accepted.kid == "current" and accepted.outcome == "accepted"
    assert rejected.reason == "JWT_UNKNOWN_KID" and rejected.kid == "next-key"
    # the accepted token's kid was learned as trusted; the unknown kid is not a metric attribute value
    kids = {dict(p.attributes)["jwtobs.kid"] for p in otel.metrics()["jwtobs.validation.duration"]}
    assert kids == {"current", "_unknown"}


def test_jwks_endpoint_down_is_a_dependency_fault(keys: Keys, otel: Otel) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = jwt.PyJWKClient(f"http://127.0.0.1:{port}/jwks.json", timeout=2)

    def validate(token: str) -> dict[str, Any]:
        return jwt.decode(token, client.get_signing_key_from_jwt(token).key, algorithms=["RS256"])

    token = jwt.encode(claims(), keys.rsa, algorithm="RS256", headers={"kid": "k"})
    with pytest.raises(jwt.PyJWKClientConnectionError) as info:
        jwtobs.wrap(validate, library="pyjwt")(token)
    assert jwtobs.reason_of(info.value) is Reason.JWKS_UNAVAILABLE
    assert Reason.JWKS_UNAVAILABLE.http_status == 503


def test_unexpected_exception_is_validator_error_and_propagates(keys: Keys, otel: Otel) -> None:
    def broken(token: str) -> dict[str, Any]:
        raise ZeroDivisionError("boom")

    with pytest.raises(ZeroDivisionError, match="boom") as info:
        jwtobs.wrap(broken, library="pyjwt")(jwt.encode(claims(), keys.hmac, algorithm="HS256"))
    assert jwtobs.reason_of(info.value) is Reason.VALIDATOR_ERROR
    jwtobs.flush()
    assert otel.events[0].reason == "JWT_VALIDATOR_ERROR"
    assert otel.events[0].detail == "builtins.ZeroDivisionError"


def test_nested_observed_calls_record_once(keys: Keys, otel: Otel) -> None:
    inner = jwtobs.wrap(jwt.decode)

    def outer(token: str) -> dict[str, Any]:
        return inner(token, keys.hmac, algorithms=["HS256"], audience=AUD)

    jwtobs.wrap(outer, library="pyjwt", profile="outer")(jwt.encode(claims(), keys.hmac, algorithm="HS256"))
    jwtobs.flush()
    assert [e.profile for e in otel.events] == ["outer"]


@pytest.mark.parametrize("raise_as", ["native", "jwtobs"])
def test_a_verifier_inside_a_wrapped_function_records_once(keys: Keys, otel: Otel, raise_as: str) -> None:
    """The outer observation records, with the Verifier's reason (before session 13: two events per call, the
    outer rejection JWT_VALIDATOR_ERROR/TokenRejected). Sync, async (averify) and the verdicts unchanged."""
    profile = jwtobs.Profile(name="billing", issuer=ISS, audience=AUD, algorithms=("HS256",), token_type="JWT")
    verifier = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k": keys.hmac}), backend="pyjwt")

    def authenticate(token: str) -> jwtobs.VerifiedToken:
        return verifier.verify(token)

    async def aauthenticate(token: str) -> jwtobs.VerifiedToken:
        return await verifier.averify(token)

    good = jwt.encode(claims(), keys.hmac, algorithm="HS256", headers={"kid": "k"})
    expired = jwt.encode(claims(exp=int(time.time()) - 600), keys.hmac, algorithm="HS256", headers={"kid": "k"})
    for fn in (authenticate, aauthenticate):
        wrapped: Any = jwtobs.wrap(fn, library="pyjwt", profile="outer", raise_as=raise_as)  # type: ignore[call-overload]
        call = (lambda t, w=wrapped: asyncio.run(w(t))) if fn is aauthenticate else wrapped
        assert call(good).claims["sub"] == "alice@example.com"
        with pytest.raises(jwtobs.TokenRejected) as info:
            call(expired)
        assert info.value.reason is Reason.EXPIRED and jwtobs.exceptions.was_recorded(info.value)
    jwtobs.flush()
    assert [(e.outcome, e.reason, e.detail, e.profile) for e in otel.events] == [
        ("accepted", None, None, "outer"),
        ("rejected", "JWT_EXPIRED", "exp", "outer"),
    ] * 2
    assert all(e.sub_hash for e in otel.events)
    with pytest.raises(jwtobs.TokenRejected):  # alone, the Verifier records its own event, as before
        verifier.verify(expired)
    jwtobs.flush()
    assert otel.events[-1].profile == "billing" and len(otel.events) == 5


def test_async_validator(keys: Keys, otel: Otel) -> None:
    async def validate(token: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        return jwt.decode(token, keys.hmac, algorithms=["HS256"], audience=AUD)

    observed = jwtobs.wrap(validate, library="pyjwt")
    good = jwt.encode(claims(), keys.hmac, algorithm="HS256")
    assert asyncio.run(observed(good))["aud"] == AUD
    with pytest.raises(jwt.InvalidAudienceError) as info:
        asyncio.run(observed(jwt.encode(claims(aud="x"), keys.hmac, algorithm="HS256")))
    assert jwtobs.reason_of(info.value) is Reason.AUDIENCE_MISMATCH
    jwtobs.flush()
    assert [e.outcome for e in otel.events] == ["accepted", "rejected"]


def test_works_without_any_configuration(keys: Keys) -> None:
    jwtobs.config.reset()
    token = jwt.encode(claims(), keys.hmac, algorithm="HS256")
    assert jwtobs.wrap(jwt.decode)(token, keys.hmac, algorithms=["HS256"], audience=AUD)["sub"]


def test_telemetry_failure_never_changes_the_outcome(keys: Keys) -> None:
    def exploding_sink(event: Any) -> None:
        raise RuntimeError("sink down")

    jwtobs.configure(sinks=[exploding_sink], fingerprint_key="k" * 16, from_env=False)
    decode = jwtobs.wrap(jwt.decode)
    good = jwt.encode(claims(), keys.hmac, algorithm="HS256")
    assert decode(good, keys.hmac, algorithms=["HS256"], audience=AUD)["sub"]
    with pytest.raises(jwt.ExpiredSignatureError):
        decode(jwt.encode(claims(exp=1), keys.hmac, algorithm="HS256"), keys.hmac, algorithms=["HS256"], audience=AUD)
    assert jwtobs.config.current().telemetry.dropped_events == 2


def test_reason_of_unrelated_exception() -> None:
    assert jwtobs.reason_of(ValueError("x")) is None
    assert jwtobs.reason_of(None) is None
