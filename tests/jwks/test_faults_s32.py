"""Key sets and cache headers a probe of session 32 found mishandled. Real HTTP servers on 127.0.0.1, real RSA keys,
a fake clock; every wait bounded.

- A kid naming a signing key and an entry that cannot verify (an encryption key: RFC 7517 lets one kid name keys of
  different uses; a member without key material) dropped the signing key as ambiguous: on a cold start no token of
  that kid ever verified (``JWT_JWKS_UNAVAILABLE`` on every call), with other keys beside it ``JWT_UNKNOWN_KID``.
- ``cooldown=0`` was taken: 200 tokens of random kids made 200 requests to the key set endpoint.
- ``Cache-Control: max-age=3600abc`` was read as 3600, a ``max-age=5`` inside another directive's quoted argument as
  the key set's max-age, and an ``Age`` of 11 digits or more was ignored (RFC 9111: 2^31)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import jwtobs
from jwtobs.exceptions import ConfigurationError
from jwtobs.jwks import MIN_COOLDOWN, parse_jwks
from jwtobs.reasons import Reason
from tests.jwks.server import AUD, ISS, FakeClock, JwksServer, RsaKey, claims

KEY = RsaKey("k1")
OTHER = RsaKey("k2")


def _enc(key: RsaKey) -> dict[str, Any]:
    return key.jwk() | {"use": "enc", "alg": "RSA-OAEP-256"}


@pytest.fixture
def srv() -> Iterator[JwksServer]:
    s = JwksServer()
    yield s
    s.close()


def _verifier(src: jwtobs.KeySource) -> jwtobs.Verifier:
    return jwtobs.Verifier(jwtobs.Profile(name="api", issuer=ISS, audience=AUD), keys=src, clock=lambda: 1_800_000_010)


@pytest.mark.parametrize(
    "companion",
    [
        pytest.param(lambda: _enc(RsaKey("x")), id="an_encryption_key"),
        pytest.param(lambda: _enc(KEY), id="the_same_key_for_encryption"),
        pytest.param(lambda: {"kid": "k1"}, id="no_key_material"),
        pytest.param(lambda: {"kty": "OKP", "crv": "X25519", "x": "A" * 43}, id="a_key_agreement_key"),
    ],
)
@pytest.mark.parametrize("with_other", [False, True])
def test_an_entry_that_cannot_verify_makes_no_kid_ambiguous(srv: JwksServer, companion: Any, with_other: bool) -> None:
    second = companion() | {"kid": "k1"}
    srv.keys = [KEY.jwk(), second, *([OTHER.jwk()] if with_other else [])]
    src = jwtobs.JwksSource(srv.url, clock=FakeClock())
    assert _verifier(src).verify(KEY.sign(claims())).kid == "k1"
    assert src.last_error is None and srv.requests == 1
    by_kid, _ = parse_jwks({"keys": srv.keys}, secrets=False)
    assert set(by_kid) == ({"k1", "k2"} if with_other else {"k1"})


def test_two_signing_keys_under_one_kid_are_still_ambiguous(srv: JwksServer) -> None:
    srv.keys = [KEY.jwk(), RsaKey("k1").jwk(), OTHER.jwk()]
    src = jwtobs.JwksSource(srv.url, clock=FakeClock())
    with pytest.raises(jwtobs.TokenRejected) as ei:
        _verifier(src).verify(KEY.sign(claims()))
    assert ei.value.reason is Reason.UNKNOWN_KID
    assert _verifier(src).verify(OTHER.sign(claims())).kid == "k2"


@pytest.mark.parametrize("cooldown", [0, 0.0, 0.001, 0.5, -1, float("nan")])
def test_a_cooldown_under_a_second_is_a_configuration_error(srv: JwksServer, cooldown: float) -> None:
    with pytest.raises(ConfigurationError, match="cooldown must be at least 1 s"):
        jwtobs.JwksSource(srv.url, cooldown=cooldown)


def test_random_kids_at_the_least_cooldown_make_one_request(srv: JwksServer) -> None:
    srv.publish(KEY)
    clock = FakeClock()
    src = jwtobs.JwksSource(srv.url, clock=clock, cooldown=MIN_COOLDOWN)
    ver = _verifier(src)
    ver.verify(KEY.sign(claims()))
    clock.advance(2 * MIN_COOLDOWN)  # (past the coalescing window: the first unknown kid forces a refresh)
    for _ in range(200):
        with pytest.raises(jwtobs.TokenRejected):
            ver.verify(OTHER.sign(claims(), kid=uuid.uuid4().hex))
    assert srv.requests == 2  # the first fetch, one forced refresh within the cooldown


@pytest.mark.parametrize(
    ("cache_control", "age", "ttl"),
    [
        ("max-age=3600", None, 3600),
        ("max-age=3600abc", None, 300),  # no delta-seconds: absent (default_ttl), was 3600
        ('foo="bar, max-age=5", max-age=7200', None, 7200),  # a quoted argument is not a directive: was 60
        ('ext="no-store", max-age=600', None, 600),  # nor there: was min_ttl
        ("max-age = 900 , must-revalidate", None, 900),
        ("max-age=600, max-age=120", None, 120),  # several: the smallest
        ("max-age=7200", "12345678901", 60),  # an Age beyond 10 digits is 2^31 (stale: min_ttl), was ignored
        ("max-age=7200", "3000", 4200),
        ("no-store", None, 60),
    ],
)
def test_cache_headers_are_read_directive_by_directive(
    srv: JwksServer, cache_control: str, age: str | None, ttl: float
) -> None:
    srv.publish(KEY)
    srv.headers = {"Cache-Control": cache_control, **({"Age": age} if age is not None else {})}
    clock = FakeClock()
    src = jwtobs.JwksSource(srv.url, clock=clock, min_ttl=60, max_ttl=86400, default_ttl=300)
    src.get("k1")
    clock.advance(ttl - 1)
    src.get("k1")
    assert srv.requests == 1, (cache_control, age)
    clock.advance(2)
    src.get("k1")
    assert srv.requests == 2, (cache_control, age)
