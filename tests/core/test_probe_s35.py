"""Session 35's probe of ``jwtobs.wrap``: verdicts a wrapped validator gives without raising, or gives later.

Real RS256 tokens signed with keys generated here, real PyJWT / Authlib / jwcrypto, a real HTTP key set endpoint on
127.0.0.1. Each test failed before session 35 (see docs/core.md for the behaviour before)."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import http.server
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import jwtobs
from jwtobs.header import MAX_HEADER_BYTES, MAX_TOKEN_BYTES, peek
from tests.core.conftest import AUD, ISS, Keys, Otel, claims, loopback


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(header: dict[str, Any], payload: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    """An RS256 JWS of exactly this header (PyJWT would add or reorder members)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64(signature)}"


def _unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}."


def _points(otel: Otel, attribute: str) -> set[Any]:
    jwtobs.flush()
    return {p.attributes.get(attribute) for p in otel.metrics().get("jwtobs.validation.duration", [])}


# -- 1. a validator that refuses by returning None or False ------------------------------------------------------
def test_a_validator_returning_none_records_a_rejection_and_the_guard_learns_nothing(keys: Keys, otel: Otel) -> None:
    public = keys.rsa.public_key()

    def validate(token: str) -> dict[str, Any] | None:
        try:
            return jwt.decode(token, public, algorithms=["RS256"], audience=AUD, issuer=ISS)
        except jwt.PyJWTError:
            return None

    wrapped = jwtobs.wrap(validate, library="pyjwt")
    for i in range(5):  # forged: another key, the forger's own issuer and kid
        forged = jwt.encode(
            claims(iss=f"https://attacker{i}.example"), keys.other_rsa, algorithm="RS256", headers={"kid": f"evil-{i}"}
        )
        assert wrapped(forged) is None  # the result is the validator's, unchanged
    jwtobs.flush()
    assert [(e.outcome, e.reason, e.detail) for e in otel.events] == [
        ("rejected", "JWT_VALIDATOR_ERROR", "returned_none")
    ] * 5
    assert _points(otel, "jwtobs.kid") == {"_unknown"}
    assert _points(otel, "jwtobs.issuer") == {"_unknown"}
    # a valid token is still accepted, with its claims
    good = jwt.encode(claims(), keys.rsa, algorithm="RS256", headers={"kid": "k1"})
    assert wrapped(good)["sub"] == "alice@example.com"
    assert otel.events[-1].outcome == "accepted"


def test_false_and_an_async_none_are_rejections(keys: Keys, otel: Otel) -> None:
    public = keys.rsa.public_key()
    expired = jwt.encode(claims(exp=int(time.time()) - 3600), keys.rsa, algorithm="RS256")

    def check(token: str) -> bool:
        try:
            jwt.decode(token, public, algorithms=["RS256"], audience=AUD, issuer=ISS)
        except jwt.PyJWTError:
            return False
        return True

    async def avalidate(token: str) -> dict[str, Any] | None:
        try:
            return jwt.decode(token, public, algorithms=["RS256"], audience=AUD, issuer=ISS)
        except jwt.PyJWTError:
            return None

    assert jwtobs.wrap(check, library="pyjwt")(expired) is False
    assert asyncio.run(jwtobs.wrap(avalidate, library="pyjwt")(expired)) is None
    jwtobs.flush()
    assert [(e.outcome, e.reason, e.detail) for e in otel.events] == [
        ("rejected", "JWT_VALIDATOR_ERROR", "returned_false"),
        ("rejected", "JWT_VALIDATOR_ERROR", "returned_none"),
    ]


# -- 2. PyJWKClient and a key set endpoint answering 200 with HTML ----------------------------------------------
class _Html(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>Service temporarily unavailable</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def html_jwks() -> Iterator[str]:
    with loopback(_Html) as url:
        yield f"{url}/.well-known/jwks.json"


@pytest.mark.parametrize("library", ["pyjwt", "authlib"])
def test_pyjwk_client_html_body_is_jwks_unavailable(library: str, keys: Keys, otel: Otel, html_jwks: str) -> None:
    client = jwt.PyJWKClient(html_jwks, timeout=5)

    def validate(token: str) -> dict[str, Any]:
        key = client.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["RS256"], audience=AUD, issuer=ISS)

    token = jwt.encode(claims(), keys.rsa, algorithm="RS256", headers={"kid": "k1"})
    with pytest.raises(json.JSONDecodeError) as info:  # the exception PyJWT lets escape, unchanged
        jwtobs.wrap(validate, library=library)(token)
    assert (jwtobs.reason_of(info.value), jwtobs.detail_of(info.value)) == (
        jwtobs.Reason.JWKS_UNAVAILABLE,
        "invalid_json",
    )
    # the same error raised by the application's own code is no key set failure
    with pytest.raises(json.JSONDecodeError) as own:
        jwtobs.wrap(lambda t: json.loads("<html>"), library=library)(token)
    assert jwtobs.reason_of(own.value) is jwtobs.Reason.VALIDATOR_ERROR


# -- 3. cancelled async validations ------------------------------------------------------------------------------
def test_a_cancelled_async_validation_records_one_rejection(keys: Keys, otel: Otel) -> None:
    public = keys.rsa.public_key()

    async def validate(token: str) -> dict[str, Any]:
        await asyncio.sleep(5)  # a slow key set fetch
        return jwt.decode(token, public, algorithms=["RS256"], audience=AUD, issuer=ISS)

    wrapped = jwtobs.wrap(validate, library="pyjwt")
    token = jwt.encode(claims(), keys.rsa, algorithm="RS256")

    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(wrapped(token), 0.05)
        task = asyncio.ensure_future(wrapped(token))
        await asyncio.sleep(0.01)
        task.cancel("client gone")
        with pytest.raises(asyncio.CancelledError) as info:
            await task
        assert info.value.args == ("client gone",)  # propagated unchanged

    asyncio.run(main())
    jwtobs.flush()
    assert [(e.outcome, e.reason, e.detail) for e in otel.events] == [
        ("rejected", "JWT_VALIDATOR_ERROR", "cancelled")
    ] * 2


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), SystemExit(3)])
def test_keyboard_interrupt_and_system_exit_propagate_unchanged(exc: BaseException, keys: Keys, otel: Otel) -> None:
    def validate(token: str) -> dict[str, Any]:
        raise exc

    async def avalidate(token: str) -> dict[str, Any]:
        raise exc

    token = jwt.encode(claims(), keys.rsa, algorithm="RS256")
    with pytest.raises(type(exc)) as info:
        jwtobs.wrap(validate, library="pyjwt", raise_as="jwtobs")(token)
    assert info.value is exc
    with pytest.raises(type(exc)) as ainfo:
        asyncio.run(jwtobs.wrap(avalidate, library="pyjwt", raise_as="jwtobs")(token))
    assert ainfo.value is exc


# -- 4. futures returned by plain validators ---------------------------------------------------------------------
def test_a_returned_task_is_the_same_object_and_its_verdict_is_recorded(keys: Keys, otel: Otel) -> None:
    public = keys.rsa.public_key()

    async def check(token: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        return jwt.decode(token, public, algorithms=["RS256"], audience=AUD, issuer=ISS)

    created: list[asyncio.Task[dict[str, Any]]] = []

    def start(token: str) -> asyncio.Task[dict[str, Any]]:
        task = asyncio.get_running_loop().create_task(check(token))
        created.append(task)
        return task

    wrapped = jwtobs.wrap(start, library="pyjwt")
    good = jwt.encode(claims(), keys.rsa, algorithm="RS256")
    expired = jwt.encode(claims(exp=int(time.time()) - 3600), keys.rsa, algorithm="RS256")

    async def main() -> None:
        task = wrapped(good)
        assert task is created[-1]
        done, _ = await asyncio.wait([task], timeout=5)  # a coroutine would be refused (TypeError)
        assert task in done
        bad = wrapped(expired)
        assert bad is created[-1]
        with pytest.raises(jwt.ExpiredSignatureError):
            await bad
        slow = wrapped(good)
        slow.cancel()
        with pytest.raises(asyncio.CancelledError):
            await slow
        await asyncio.sleep(0)  # the done callbacks run on the loop

    asyncio.run(main())
    jwtobs.flush()
    assert [(e.outcome, e.reason, e.detail) for e in otel.events] == [
        ("accepted", None, None),
        ("rejected", "JWT_EXPIRED", "exp"),
        ("rejected", "JWT_VALIDATOR_ERROR", "cancelled"),
    ]


def test_a_returned_concurrent_future_is_recorded_with_its_verdict(keys: Keys, otel: Otel) -> None:
    public = keys.rsa.public_key()

    def check(token: str) -> dict[str, Any]:
        return jwt.decode(token, public, algorithms=["RS256"], audience=AUD, issuer=ISS)

    expired = jwt.encode(claims(exp=int(time.time()) - 3600), keys.rsa, algorithm="RS256")
    good = jwt.encode(claims(), keys.rsa, algorithm="RS256")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        wrapped = jwtobs.wrap(lambda t: pool.submit(check, t), library="pyjwt")
        future = wrapped(expired)
        assert isinstance(future, concurrent.futures.Future)
        with pytest.raises(jwt.ExpiredSignatureError):
            future.result(timeout=5)
        assert wrapped(good).result(timeout=5)["sub"] == "alice@example.com"
    jwtobs.flush()
    assert [(e.outcome, e.reason) for e in otel.events] == [("rejected", "JWT_EXPIRED"), ("accepted", None)]


def test_a_returned_generator_is_not_recorded(keys: Keys, otel: Otel) -> None:
    public = keys.rsa.public_key()

    def lazy(token: str) -> Iterator[dict[str, Any]]:
        yield jwt.decode(token, public, algorithms=["RS256"], audience=AUD, issuer=ISS)

    forged = jwt.encode(claims(), keys.other_rsa, algorithm="RS256")
    gen = jwtobs.wrap(lazy, library="pyjwt")(forged)
    with pytest.raises(jwt.InvalidSignatureError):
        next(gen)
    jwtobs.flush()
    assert otel.events == []  # no verdict when the call returned: nothing recorded (before: accepted)


# -- 5. headers past the old 4096-byte peek limit, and deeply nested ones ----------------------------------------
X5C = {"x5c": [_b64(b"\x30" * 1500), _b64(b"\x31" * 1500), _b64(b"\x32" * 1200)]}  # a three-certificate chain


def test_header_limits_cover_every_token_within_the_size_limit() -> None:
    assert MAX_HEADER_BYTES >= MAX_TOKEN_BYTES


def test_a_large_x5c_header_keeps_its_classification_and_labels(keys: Keys, otel: Otel) -> None:
    public = keys.rsa.public_key()

    def validate(token: str) -> dict[str, Any]:
        return jwt.decode(token, public, algorithms=["RS256"], audience=AUD, issuer=ISS)

    wrapped = jwtobs.wrap(validate, library="pyjwt")
    good = _signed({"alg": "RS256", "kid": "k1", "typ": "at+jwt", **X5C}, claims(), keys.rsa)
    assert good.find(".") > 4096
    wrapped(good)
    with pytest.raises(jwt.InvalidAlgorithmError) as info:
        wrapped(_unsigned({"alg": "none", "kid": "k1", **X5C}, claims()))
    assert (jwtobs.reason_of(info.value), jwtobs.detail_of(info.value)) == (jwtobs.Reason.UNSIGNED, "alg_none")
    jwtobs.flush()
    accepted = otel.events[0]
    assert (accepted.outcome, accepted.alg, accepted.kid, accepted.typ) == ("accepted", "RS256", "k1", "at+jwt")


def test_a_deeply_nested_header_is_classified_by_the_library(keys: Keys, otel: Otel) -> None:
    from jwcrypto import jwk
    from jwcrypto import jwt as jjwt

    nested: Any = "x"
    for _ in range(41):
        nested = {"n": nested}
    key = jwk.JWK.from_pyca(keys.rsa.public_key())
    key["kid"] = "k1"
    keyset = jwk.JWKSet()
    keyset.add(key)
    wrapped = jwtobs.wrap(jjwt.JWT, library="jwcrypto")
    forged = _signed({"alg": "RS256", "kid": "k1", "ext": nested}, claims(), keys.other_rsa)
    with pytest.raises(Exception) as info:
        wrapped(jwt=forged, key=keyset, algs=["RS256"], check_claims={"iss": ISS, "aud": AUD})
    assert jwtobs.reason_of(info.value) is jwtobs.Reason.BAD_SIGNATURE  # before: JWT_MALFORMED/header
    public = keys.rsa.public_key()
    decode = jwtobs.wrap(jwt.decode)
    with pytest.raises(jwt.InvalidAlgorithmError) as unsigned:
        decode(_unsigned({"alg": "none", "ext": nested}, claims()), public, algorithms=["RS256"], audience=AUD)
    assert jwtobs.reason_of(unsigned.value) is jwtobs.Reason.UNSIGNED
    decode(_signed({"alg": "RS256", "kid": "k1", "ext": nested}, claims(), keys.rsa), public, algorithms=["RS256"],
           audience=AUD)  # fmt: skip
    jwtobs.flush()
    assert (otel.events[-1].outcome, otel.events[-1].kid) == ("accepted", "k1")
    # the Verifier's own rule is unchanged: a header it cannot parse is malformed
    assert peek(forged).kind == "malformed"


# -- 6. token_arg naming a parameter passed positionally ---------------------------------------------------------
def test_token_arg_finds_a_positional_token(keys: Keys, otel: Otel) -> None:
    public = keys.rsa.public_key()

    def validate(access_token: str, audience: str = AUD) -> dict[str, Any]:
        return jwt.decode(access_token, public, algorithms=["RS256"], audience=audience, issuer=ISS)

    wrapped = jwtobs.wrap(validate, library="pyjwt", token_arg="access_token")
    expired = jwt.encode(claims(exp=int(time.time()) - 3600), keys.rsa, algorithm="RS256")
    with pytest.raises(jwt.ExpiredSignatureError) as positional:
        wrapped(expired)
    with pytest.raises(jwt.ExpiredSignatureError) as keyword:
        wrapped(access_token=expired)
    assert jwtobs.reason_of(positional.value) is jwtobs.Reason.EXPIRED
    assert jwtobs.reason_of(keyword.value) is jwtobs.Reason.EXPIRED

    class Service:
        def check(self, access_token: str) -> dict[str, Any]:
            return validate(access_token)

    method = jwtobs.wrap(Service.check, library="pyjwt", token_arg="access_token")
    with pytest.raises(jwt.ExpiredSignatureError) as through_self:
        method(Service(), expired)
    assert jwtobs.reason_of(through_self.value) is jwtobs.Reason.EXPIRED
    # a library entry point, the token named by keyword
    decode = jwtobs.wrap(jwt.decode, token_arg="jwt")
    with pytest.raises(jwt.ExpiredSignatureError):
        decode(jwt=expired, key=public, algorithms=["RS256"], audience=AUD)
    jwtobs.flush()
    assert all(e.token_fp is not None for e in otel.events)
    assert [e.reason for e in otel.events] == ["JWT_EXPIRED"] * 4


# -- 8. jwcrypto's JWT class: its token is its third parameter; without one it validates nothing -------------------
def test_jwcrypto_jwt_called_positionally_and_without_a_token(keys: Keys, otel: Otel) -> None:
    """``jwtobs.wrap(jwcrypto.jwt.JWT)`` called in jwcrypto's own order, ``JWT(header, claims, jwt, key)``, took the
    header (``None``) for the token: an expired token was JWT_MISSING. ``JWT(jwt=None, key=k)`` builds an empty JWT
    (jwcrypto deserializes only a token it is given) and was recorded as an accepted validation of no token; now
    it is no validation, as a call without a key."""
    from jwcrypto import jwk
    from jwcrypto import jwt as jjwt

    key = jwk.JWK.from_pyca(keys.rsa.public_key())
    wrapped = jwtobs.wrap(jjwt.JWT)
    expired = jwt.encode(claims(exp=int(time.time()) - 3600), keys.rsa, algorithm="RS256")
    with pytest.raises(jjwt.JWTExpired) as info:
        wrapped(None, None, expired, key, algs=["RS256"], check_claims={"exp": None})
    assert jwtobs.reason_of(info.value) is jwtobs.Reason.EXPIRED
    fresh = jwt.encode(claims(), keys.rsa, algorithm="RS256")
    assert wrapped(None, None, fresh, key, algs=["RS256"]).claims
    empty = wrapped(jwt=None, key=key, algs=["RS256"])
    assert isinstance(empty, jjwt.JWT)
    wrapped(key=key)
    jwtobs.flush()
    assert [(e.outcome, e.reason) for e in otel.events] == [("rejected", "JWT_EXPIRED"), ("accepted", None)]
    assert otel.events[0].token_fp and otel.events[1].token_fp
