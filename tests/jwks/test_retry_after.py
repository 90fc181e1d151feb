"""A JWKS endpoint answering 429 or 503 with ``Retry-After`` (RFC 9110 §10.2.3) gets the pause it asks for, within
``jwks.MAX_RETRY_AFTER``; any other answer, or a Retry-After that is not one, leaves the cooldown in charge. Before
session 40 the header was ignored: a rate-limited IdP was asked again after every cooldown (30 s).

Real server on 127.0.0.1, real RS256 tokens, the source's clock advanced by the test (the HTTP-date form is read
against the host's wall clock, as a server's Date is)."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import pytest

from jwtobs import jwks
from tests.jwks.server import FakeClock, JwksServer, RsaKey, claims
from tests.jwks.test_jwks import make, verdict


def _rate_limited(server: JwksServer, clock: FakeClock, key: RsaKey, status: int, retry_after: str | None) -> Any:
    """A source that fetched once, then a token of a kid it lacks while the endpoint answers ``status``."""
    server.publish(key)
    src, v = make(server, clock, cooldown=30)
    assert verdict(v, key.sign(claims())) == "accepted"
    server.status = status
    server.headers = {"Cache-Control": "max-age=300"} | ({"Retry-After": retry_after} if retry_after else {})
    clock.advance(301)  # the TTL ended: the next validation refreshes, and the refresh fails
    assert verdict(v, key.sign(claims())) == "accepted"  # (last-known-good)
    assert server.requests == 2
    return src, v


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_in_seconds_postpones_the_retry(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], events: list[Any], status: int
) -> None:
    key = rsa_keys[0]
    _src, v = _rate_limited(server, clock, key, status, "120")
    server.status = 200
    for _ in range(11):  # 110 s, past the cooldown: no request while the endpoint asked for 120
        clock.advance(10)
        assert verdict(v, key.sign(claims())) == "accepted"
    assert server.requests == 2
    clock.advance(11)
    assert verdict(v, key.sign(claims())) == "accepted"
    assert server.requests == 3


def test_a_retry_after_as_an_http_date_postpones_the_retry(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], events: list[Any]
) -> None:
    key = rsa_keys[0]
    _src, v = _rate_limited(server, clock, key, 503, email.utils.formatdate(time.time() + 90, usegmt=True))
    server.status = 200
    clock.advance(60)
    assert verdict(v, key.sign(claims())) == "accepted"
    assert server.requests == 2
    clock.advance(40)
    assert verdict(v, key.sign(claims())) == "accepted"
    assert server.requests == 3


def test_a_retry_after_of_days_is_held_to_the_maximum(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], events: list[Any]
) -> None:
    key = rsa_keys[0]
    _src, v = _rate_limited(server, clock, key, 429, "99999999999999999999999")
    server.status = 200
    clock.advance(jwks.MAX_RETRY_AFTER - 1)
    verdict(v, key.sign(claims()))
    assert server.requests == 2
    clock.advance(2)
    assert verdict(v, key.sign(claims())) == "accepted"
    assert server.requests == 3


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(500, "120"), (429, "soon"), (429, "-5"), (503, "1.5e3"), (429, "١٢٠"), (503, None), (429, "Mon, 99 Foo 2026")],
)
def test_other_answers_retry_after_the_cooldown(
    server: JwksServer,
    clock: FakeClock,
    rsa_keys: list[RsaKey],
    events: list[Any],
    status: int,
    retry_after: str | None,
) -> None:
    """A 500's Retry-After, and values that are neither delay-seconds nor an HTTP-date (Arabic-Indic digits too)."""
    key = rsa_keys[0]
    _src, v = _rate_limited(server, clock, key, status, retry_after)
    server.status = 200
    clock.advance(29)
    assert verdict(v, key.sign(claims())) == "accepted"
    assert server.requests == 2
    clock.advance(2)
    assert verdict(v, key.sign(claims())) == "accepted"
    assert server.requests == 3


def test_an_unknown_kid_waits_for_the_retry_after_too(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], events: list[Any]
) -> None:
    """A kid the key set lacks forces a refresh at most once per cooldown - not while the endpoint asked for a
    pause: JWT_JWKS_UNAVAILABLE (the key set that could hold it could not be fetched), no request."""
    key, new = rsa_keys[0], rsa_keys[1]
    _src, v = _rate_limited(server, clock, key, 429, "300")
    server.publish(key, new)
    server.status = 200
    clock.advance(60)
    assert verdict(v, new.sign(claims())) == "JWT_JWKS_UNAVAILABLE"
    assert server.requests == 2
    clock.advance(241)
    assert verdict(v, new.sign(claims())) == "accepted"
    assert server.requests == 3
