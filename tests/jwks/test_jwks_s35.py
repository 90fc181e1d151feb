"""Session 35: JwksSource's numeric arguments are checked at construction, and its metrics keep being exported
through repeated configure() calls. Real HTTP server on 127.0.0.1, real RSA keys, a fake clock."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import jwtobs
from jwtobs import config
from jwtobs.exceptions import ConfigurationError
from jwtobs.reasons import Reason
from tests.core.test_telemetry_s35 import _points
from tests.jwks.server import AUD, ISS, NOW, FakeClock, JwksServer, RsaKey, claims

KEY = RsaKey("k1")
INF, NAN = float("inf"), float("nan")

_SECONDS_OPEN = r"must be a finite number of seconds in \(0, 315360000\]"
_CASES = [
    *[
        ("timeout", v, r"timeout must be a finite number of seconds in \(0, 300\]")
        for v in (INF, -INF, NAN, 1e10, 301, 0, -1, True, "3", None)
    ],
    *[
        ("negative_cache_size", v, r"negative_cache_size must be an integer in \[0, 100000\]")
        for v in (-1, 1.5, 1024.0, True, "5", 10**6, None)
    ],
    *[("max_bytes", v, r"max_bytes must be an integer in \[1, 67108864\]") for v in (0, -1, 2**40, 1.5, True, "1")],
    *[("cooldown", v, r"cooldown must be a finite number of seconds in \[1, 315360000\]") for v in (INF, 1e10)],
    *[("min_ttl", v, "min_ttl " + _SECONDS_OPEN) for v in (INF, NAN, 0, -5, True)],
    *[("max_ttl", v, "max_ttl " + _SECONDS_OPEN) for v in (INF, NAN, 1e10, "86400")],
    *[("default_ttl", v, "default_ttl " + _SECONDS_OPEN) for v in (INF, NAN, 0, -1)],
    *[("max_stale", v, "max_stale " + _SECONDS_OPEN) for v in (INF, NAN, 1e10)],
    *[("coalesce", v, r"coalesce must be a finite number of seconds in \[0, 315360000\]") for v in (INF, NAN, -1)],
]


@pytest.mark.parametrize(("name", "value", "message"), _CASES, ids=[f"{n}={v!r}" for n, v, _ in _CASES])
@pytest.mark.parametrize("cls", [jwtobs.JwksSource, jwtobs.AsyncJwksSource], ids=["sync", "async"])
def test_a_numeric_argument_out_of_its_range_is_a_configuration_error(
    cls: type[jwtobs.JwksSource], name: str, value: Any, message: str
) -> None:
    """The error names the argument and its range. Before session 35 timeout=inf/1e10 and negative_cache_size=-1
    were taken (every verification JWT_VALIDATOR_ERROR: OverflowError, KeyError), as were an infinite or NaN TTL,
    max_stale, cooldown, default_ttl; the others were refused as "inconsistent timeout/cooldown/ttl/..." or by a
    TypeError from a comparison."""
    with pytest.raises(ConfigurationError, match=message):
        cls("http://127.0.0.1:9/jwks.json", **{name: value})


def test_the_bounds_of_each_range_are_taken_and_work() -> None:
    """The largest and smallest values each argument takes; negative_cache_size=0 remembers no unknown kid and an
    unknown kid is still JWT_UNKNOWN_KID (negative_cache_size=-1 was JWT_VALIDATOR_ERROR/KeyError)."""
    from jwtobs.jwks import MAX_BYTES_LIMIT, MAX_NEGATIVE_CACHE, MAX_SECONDS, MAX_TIMEOUT

    assert (MAX_TIMEOUT, MAX_SECONDS, MAX_BYTES_LIMIT, MAX_NEGATIVE_CACHE) == (300.0, 315360000.0, 2**26, 100_000)
    url = "http://127.0.0.1:9/jwks.json"
    big = jwtobs.JwksSource(
        url,
        timeout=MAX_TIMEOUT,
        cooldown=MAX_SECONDS,
        min_ttl=MAX_SECONDS,
        max_ttl=MAX_SECONDS,
        default_ttl=MAX_SECONDS,
        max_stale=MAX_SECONDS,
        coalesce=MAX_SECONDS,
        max_bytes=MAX_BYTES_LIMIT,
        negative_cache_size=MAX_NEGATIVE_CACHE,
    )
    assert big.coalesce == MAX_SECONDS == big.cooldown
    small = jwtobs.JwksSource(
        url,
        timeout=0.001,
        min_ttl=0.001,
        max_ttl=0.001,
        default_ttl=0.001,
        max_stale=0.001,
        coalesce=0,
        max_bytes=1,
        negative_cache_size=0,
    )
    assert small.default_ttl == 0.001

    server = JwksServer()
    try:
        server.publish(KEY)
        clock = FakeClock()
        src = jwtobs.JwksSource(server.url, clock=clock, negative_cache_size=0, timeout=2.0)
        verifier = jwtobs.Verifier(jwtobs.Profile(name="api", issuer=ISS, audience=AUD), keys=src)
        assert verifier.verify(KEY.sign(claims()), now=NOW).kid == "k1"
        for kid, advance in (("unknown-1", 5), ("unknown-2", 40)):
            clock.advance(advance)
            with pytest.raises(jwtobs.TokenRejected) as ei:
                verifier.verify(KEY.sign(claims(), kid=kid), now=NOW)
            assert ei.value.reason is Reason.UNKNOWN_KID
        assert len(src._negative) == 0
    finally:
        server.close()


def test_jwks_metrics_are_exported_through_repeated_configure() -> None:
    """A source fetches at startup under one configuration, then refreshes its TTL and is asked for unknown kids
    under a second and a third on the same SDK MeterProvider: every fetch and suppressed refresh is exported, and the
    keys gauge. Before session 35 only the first configuration's callbacks were registered: the TTL fetch and the
    suppressed refreshes were never exported."""
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    server = JwksServer()
    try:
        server.publish(KEY)
        clock = FakeClock()
        jwtobs.configure(meter_provider=mp, fingerprint_key=b"k" * 32, from_env=False, defer=False)
        src = jwtobs.JwksSource(server.url, clock=clock, timeout=2.0, cooldown=30)
        verifier = jwtobs.Verifier(jwtobs.Profile(name="api", issuer=ISS, audience=AUD), keys=src)
        assert verifier.verify(KEY.sign(claims()), now=NOW).kid == "k1"
        jwtobs.configure(meter_provider=mp, fingerprint_key=b"k" * 32, from_env=False, defer=False)
        clock.advance(301)  # past the TTL (max-age=300)
        assert verifier.verify(KEY.sign(claims()), now=NOW).kid == "k1"
        jwtobs.configure(meter_provider=mp, fingerprint_key=b"k" * 32, from_env=False, defer=False)
        clock.advance(5)  # past the coalescing window: the first unknown kid forces a refresh, the next ones wait
        for i in range(3):
            with pytest.raises(jwtobs.TokenRejected):
                verifier.verify(KEY.sign(claims(), kid=f"new-{i}"), now=NOW)
        jwtobs.flush()
        assert server.requests == 3
        base = {"jwtobs.issuer": ISS, "jwtobs.outcome": "success"}
        assert _points(reader, "jwtobs.jwks.fetches") == {
            json.dumps(dict(sorted((base | {"jwtobs.trigger": "startup"}).items()))): 1,
            json.dumps(dict(sorted((base | {"jwtobs.trigger": "ttl"}).items()))): 1,
            json.dumps(dict(sorted((base | {"jwtobs.trigger": "unknown_kid"}).items()))): 1,
        }
        suppressed = _points(reader, "jwtobs.jwks.refresh.suppressed")
        assert suppressed == {json.dumps({"jwtobs.issuer": ISS, "jwtobs.why": "cooldown"}): 2}
        assert _points(reader, "jwtobs.jwks.keys") == {json.dumps({"jwtobs.issuer": ISS}): 1.0}
    finally:
        config.reset()
        mp.shutdown()
        server.close()
