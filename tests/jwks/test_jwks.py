"""JwksSource against a real HTTP server on 127.0.0.1: rotation, faults, floods. Time is a fake clock."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import jwtobs
from jwtobs import TokenRejected
from jwtobs.events import KeySetChange, ValidationEvent
from jwtobs.telemetry import JWKS_FETCH_DURATION, JWKS_FETCHES, JWKS_KEYS, JWKS_REFRESH_SUPPRESSED
from tests.jwks.server import AUD, ISS, NOW, FakeClock, JwksServer, RsaKey, claims


@pytest.fixture
def sink(events: list[Any]) -> list[Any]:
    return events


def make(server: JwksServer, clock: FakeClock, **kw: Any) -> tuple[jwtobs.JwksSource, jwtobs.Verifier]:
    src = jwtobs.JwksSource(server.url, clock=clock, proxies={}, **kw)
    prof = jwtobs.Profile(name="api", issuer=ISS, audience=AUD, leeway=0)
    return src, jwtobs.Verifier(prof, keys=src)


def verdict(v: jwtobs.Verifier, token: str, now: float = NOW) -> str:
    try:
        v.verify(token, now=now)
    except TokenRejected as exc:
        return exc.reason.value
    return "accepted"


def validations(sink: list[Any]) -> list[ValidationEvent]:
    return [e for e in sink if isinstance(e, ValidationEvent)]


# -- rotation -------------------------------------------------------------------------------------------
def test_rotation_with_overlap_has_zero_rejections(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any]
) -> None:
    old, new = rsa_keys[0], rsa_keys[1]
    server.publish(old)
    _, v = make(server, clock)
    verdicts = []
    t = NOW
    # phase 1: old key only; phase 2: new key published (TTL elapses); phase 3: signing with new; phase 4: old
    # key retired after the max token lifetime
    for step in range(40):
        if step == 10:
            server.publish(old, new)
        if step == 10 + 6:  # > TTL (300 s) later: every cache has the new key
            signer = new
        else:
            signer = new if step > 16 else old
        if step == 30:
            server.publish(new)
        clock.advance(60)
        t += 60
        verdicts.append(verdict(v, signer.sign(claims(iat=t, exp=t + 600)), now=t))
    assert verdicts == ["accepted"] * 40
    changes = [e for e in sink if isinstance(e, KeySetChange)]
    assert [(c.added, c.removed) for c in changes] == [(("k0",), ()), (("k1",), ()), ((), ("k0",))]
    assert len(validations(sink)) == 40


def test_signing_before_publishing_recovers_after_cooldown(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any]
) -> None:
    old, new = rsa_keys[0], rsa_keys[1]
    server.publish(old)
    _, v = make(server, clock, cooldown=30)
    assert verdict(v, old.sign(claims())) == "accepted"
    clock.advance(31)
    # the issuer signs with the new key before publishing it
    assert verdict(v, new.sign(claims())) == "JWT_UNKNOWN_KID"  # forced refresh: still unpublished
    fetches = server.requests
    server.publish(old, new)
    for _ in range(5):
        clock.advance(5)
        assert verdict(v, new.sign(claims())) == "JWT_UNKNOWN_KID"  # within the cooldown: no fetch
    assert server.requests == fetches
    clock.advance(10)  # 35 s after the forced refresh
    assert verdict(v, new.sign(claims())) == "accepted"
    assert server.requests == fetches + 1


def test_old_key_removed_too_early(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any]
) -> None:
    old, new = rsa_keys[0], rsa_keys[1]
    server.publish(old, new)
    _, v = make(server, clock)
    still_valid = old.sign(claims())
    assert verdict(v, still_valid) == "accepted"
    server.publish(new)
    clock.advance(301)  # TTL
    assert verdict(v, still_valid) == "JWT_UNKNOWN_KID"
    assert verdict(v, new.sign(claims())) == "accepted"


# -- faults: last-known-good, bounded blocking ------------------------------------------------------------
def _break(server: JwksServer, fault: str) -> None:
    if fault == "down":
        server.close()
    elif fault == "slow":
        server.delay = 5.0
    elif fault == "500":
        server.status = 500
    elif fault == "invalid_json":
        server.body = b"{not json"
    elif fault == "not_a_jwks":
        server.body = b'{"keys": 5}'
    elif fault == "huge":
        server.body = json.dumps({"keys": [], "pad": "x" * (2 << 20)}).encode()
    elif fault == "redirect_loop":
        server.redirect_to = server.url
    elif fault == "trickle":
        server.trickle = 0.05  # ~400 bytes: 20 s to send, each byte well inside the socket timeout


@pytest.mark.parametrize(
    "fault", ["down", "slow", "trickle", "500", "invalid_json", "not_a_jwks", "huge", "redirect_loop"]
)
def test_faults_keep_last_known_good(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any], fault: str
) -> None:
    key = rsa_keys[0]
    server.publish(key)
    src, v = make(server, clock, timeout=0.5, cooldown=30)
    token = key.sign(claims())
    assert verdict(v, token) == "accepted"
    _break(server, fault)
    clock.advance(301)  # TTL elapsed: the next request refreshes, and the refresh fails
    t0 = time.monotonic()
    assert verdict(v, token) == "accepted"
    assert time.monotonic() - t0 < 0.5 + 0.5  # blocked at most about the timeout
    assert src.last_error is not None and src.failure_count == 1
    # the next requests within the cooldown do not retry (and do not block)
    t0 = time.monotonic()
    for _ in range(20):
        clock.advance(1)
        assert verdict(v, token) == "accepted"
    assert time.monotonic() - t0 < 0.5
    assert src.failure_count == 1


@pytest.mark.parametrize("fault", ["down", "slow", "trickle", "500", "invalid_json", "huge", "redirect_loop"])
def test_no_keys_ever_is_jwks_unavailable(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any], fault: str
) -> None:
    _break(server, fault)
    _, v = make(server, clock, timeout=0.5)
    t0 = time.monotonic()
    assert verdict(v, rsa_keys[0].sign(claims())) == "JWT_JWKS_UNAVAILABLE"
    assert time.monotonic() - t0 < 1.0
    assert validations(sink)[-1].reason == "JWT_JWKS_UNAVAILABLE"


def test_max_stale_bounds_last_known_good(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any]
) -> None:
    server.publish(rsa_keys[0])
    _, v = make(server, clock, max_stale=3600)
    token = rsa_keys[0].sign(claims())
    assert verdict(v, token) == "accepted"
    server.status = 500
    clock.advance(3000)
    assert verdict(v, token) == "accepted"
    clock.advance(700)
    assert verdict(v, token) == "JWT_JWKS_UNAVAILABLE"
    server.status = 200
    clock.advance(31)
    assert verdict(v, token) == "accepted"


def test_a_max_age_beyond_max_stale_refreshes_before_the_keys_go_stale(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any]
) -> None:
    """An endpoint whose max-age (3600 s) outlives max_stale (600 s): the refresh is due when the keys would go
    stale, so a healthy endpoint never leaves callers with JWT_JWKS_UNAVAILABLE (before: 200 of 200 unavailable
    from 601 s on, no fetch until the hour ended)."""
    server.publish(rsa_keys[0])
    server.headers = {"Cache-Control": "max-age=3600"}
    src, v = make(server, clock, max_stale=600)
    token = rsa_keys[0].sign(claims())
    verdicts = []
    for _ in range(200):  # 2000 s, one validation every 10 s
        verdicts.append(verdict(v, token))
        clock.advance(10)
    assert verdicts == ["accepted"] * 200
    assert src.fetch_count == server.requests == 4  # at 0, 600, 1200 and 1800 s
    with pytest.raises(jwtobs.ConfigurationError, match=r"max_stale \(30 s\) must be at least min_ttl \(60 s\)"):
        jwtobs.JwksSource(server.url, max_stale=30)


# -- floods -------------------------------------------------------------------------------------------
def test_random_kid_flood_is_bounded(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any]
) -> None:
    server.publish(rsa_keys[0])
    src, v = make(server, clock, cooldown=30, negative_cache_size=256)
    assert verdict(v, rsa_keys[0].sign(claims())) == "accepted"
    start_requests = server.requests
    attacker = RsaKey("x")
    template = attacker.sign(claims())
    _, p, s = template.split(".")
    seconds = 0.0
    for i in range(10_000):
        hdr = base64.urlsafe_b64encode(json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": f"r{i}"}).encode())
        token = f"{hdr.rstrip(b'=').decode()}.{p}.{s}"
        assert verdict(v, token) == "JWT_UNKNOWN_KID"
        clock.advance(0.01)  # 10,000 tokens over 100 s
        seconds += 0.01
        assert src.negative_cache_len <= 256
    fetches = server.requests - start_requests
    # at most one forced refresh per cooldown window (plus the TTL refresh, none here: 100 s < 300 s)
    assert fetches <= int(seconds // 30) + 1, fetches
    assert len(validations(sink)) == 10_001


def test_concurrent_unknown_kid_callers_single_flight(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any]
) -> None:
    server.publish(rsa_keys[0])
    _, v = make(server, clock)
    assert verdict(v, rsa_keys[0].sign(claims())) == "accepted"
    server.publish(rsa_keys[0], rsa_keys[1])
    server.delay = 0.2  # the fetch is in flight while the others arrive
    clock.advance(31)
    before = server.requests
    token = rsa_keys[1].sign(claims())
    barrier = threading.Barrier(100)
    results: list[str] = []

    def call() -> None:
        barrier.wait()
        results.append(verdict(v, token))

    threads = [threading.Thread(target=call) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert server.requests - before == 1
    assert results.count("accepted") + results.count("JWT_UNKNOWN_KID") == 100
    assert results.count("accepted") >= 1
    assert len(validations(sink)) == 101


def test_concurrent_cold_start_single_flight(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any]
) -> None:
    server.publish(rsa_keys[0])
    server.delay = 0.2
    _, v = make(server, clock)
    token = rsa_keys[0].sign(claims())
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(verdict(v, token))) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert server.requests == 1 and results == ["accepted"] * 50


@pytest.mark.parametrize("state", ["cold", "expired", "expired_async"])
def test_an_unknown_kid_never_costs_two_fetches_in_one_call(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any], state: str
) -> None:
    """A token with a new kid on a cold cache or an expired TTL: the call's own startup/TTL fetch (or the one it
    waited for) is the freshest key set there is, so no forced refresh follows it. Before: two fetches in a row
    in one call, each up to ``timeout`` (probe: 0.5 s timeout, 0.4 s endpoint, 64 threads on a cold cache or
    400 ``averify`` on an expired one, half with unknown kids: 2 requests, worst call 0.81 s; now 1, 0.42 s).
    The forced refresh still comes one cooldown later, and finds a key published since."""
    server.publish(rsa_keys[0])
    cls = jwtobs.AsyncJwksSource if state == "expired_async" else jwtobs.JwksSource
    src = cls(server.url, clock=clock, proxies={}, cooldown=30)
    v = jwtobs.Verifier(jwtobs.Profile(name="api", issuer=ISS, audience=AUD), keys=src)

    def check(token: str) -> str:
        if state != "expired_async":
            return verdict(v, token)
        try:
            asyncio.run(v.averify(token, now=NOW))
        except TokenRejected as exc:
            return exc.reason.value
        return "accepted"

    if state != "cold":
        assert check(rsa_keys[0].sign(claims())) == "accepted"
        clock.advance(301)
    before = server.requests
    assert check(rsa_keys[1].sign(claims())) == "JWT_UNKNOWN_KID"
    assert server.requests - before == 1
    assert check(rsa_keys[1].sign(claims())) == "JWT_UNKNOWN_KID"  # negative cache: no fetch
    assert server.requests - before == 1
    server.publish(rsa_keys[0], rsa_keys[1])  # signing before publishing: found one cooldown later
    clock.advance(30)
    assert check(rsa_keys[1].sign(claims())) == "accepted"
    assert server.requests - before == 2


# -- TTL, filtering, evict, telemetry ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cache_control", "ttl"),
    [("max-age=120", 120), ("max-age=5", 60), ("max-age=999999", 3600), ("", 300), ("no-store", 60)],
)
def test_cache_control_within_bounds(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any], cache_control: str, ttl: int
) -> None:
    server.publish(rsa_keys[0])
    server.headers = {"Cache-Control": cache_control} if cache_control else {}
    _, v = make(server, clock, min_ttl=60, max_ttl=3600)
    token = rsa_keys[0].sign(claims())
    verdict(v, token)
    clock.advance(ttl - 1)
    verdict(v, token)
    assert server.requests == 1
    clock.advance(2)
    verdict(v, token)
    assert server.requests == 2


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_keys_are_filtered(server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any]) -> None:
    weak = RsaKey("weak", bits=1024)
    enc = rsa_keys[1].jwk() | {"use": "enc", "kid": "enc"}
    dup_a = rsa_keys[0].jwk() | {"kid": "dup"}
    dup_b = rsa_keys[2].jwk() | {"kid": "dup"}
    none_alg = rsa_keys[2].jwk() | {"kid": "none", "alg": "none"}
    server.keys = [rsa_keys[0].jwk(), weak.jwk(), enc, dup_a, dup_b, none_alg, {"kty": "XYZ", "kid": "odd"}, 5]
    src, v = make(server, clock)
    assert verdict(v, rsa_keys[0].sign(claims())) == "accepted"
    assert src.kids == {"k0"}
    assert verdict(v, weak.sign(claims())) == "JWT_UNKNOWN_KID"


def test_evict(server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], sink: list[Any]) -> None:
    server.publish(rsa_keys[0], rsa_keys[1])
    src, v = make(server, clock)
    token = rsa_keys[0].sign(claims())
    assert verdict(v, token) == "accepted"
    src.evict("k0")
    assert verdict(v, token) == "JWT_UNKNOWN_KID"
    clock.advance(301)  # still published, still evicted
    assert verdict(v, token) == "JWT_UNKNOWN_KID"
    assert verdict(v, rsa_keys[1].sign(claims())) == "accepted"
    assert any(isinstance(e, KeySetChange) and e.removed == ("k0",) for e in sink)


def test_telemetry(server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]) -> None:
    reader = InMemoryMetricReader()
    jwtobs.configure(meter_provider=MeterProvider(metric_readers=[reader]), fingerprint_key="k" * 16, from_env=False)
    server.publish(rsa_keys[0])
    _, v = make(server, clock)
    verdict(v, rsa_keys[0].sign(claims()))
    verdict(v, _retoken(rsa_keys[0], "early"))  # an unknown kid moments after the fetch: answered by it (coalesced)
    clock.advance(1)
    for i in range(3):  # unknown kids: one forced refresh, then two suppressed by the cooldown
        verdict(v, _retoken(rsa_keys[0], f"u{i}"))
    server.status = 500
    clock.advance(301)
    verdict(v, rsa_keys[0].sign(claims()))
    jwtobs.flush()
    data = reader.get_metrics_data()
    points: dict[str, list[Any]] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                points.setdefault(m.name, []).extend(m.data.data_points)
    fetches = {(p.attributes["jwtobs.trigger"], p.attributes["jwtobs.outcome"]): p.value for p in points[JWKS_FETCHES]}
    assert fetches == {("startup", "success"): 1, ("unknown_kid", "success"): 1, ("ttl", "error"): 1}
    assert all(p.attributes["jwtobs.issuer"] == ISS for p in points[JWKS_FETCHES])
    # a failed fetch carries its low-cardinality error.type; successes carry none
    assert {p.attributes.get("error.type") for p in points[JWKS_FETCHES]} == {None, "http_500"}
    suppressed = {p.attributes["jwtobs.why"]: p.value for p in points[JWKS_REFRESH_SUPPRESSED]}
    assert suppressed == {"coalesced": 1, "cooldown": 2}
    assert sum(p.count for p in points[JWKS_FETCH_DURATION]) == 3
    assert [p.value for p in points[JWKS_KEYS]] == [1]


def _retoken(key: RsaKey, kid: str) -> str:
    return key.sign(claims(), kid=kid)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_static_keys_forms(rsa_keys: list[RsaKey], sink: list[Any]) -> None:
    prof = jwtobs.Profile(name="api", issuer=ISS, audience=AUD)
    token = rsa_keys[0].sign(claims())
    for keys in ({"keys": [rsa_keys[0].jwk()]}, rsa_keys[0].jwk(), {"k0": rsa_keys[0].private.public_key()}):
        assert verdict(jwtobs.Verifier(prof, keys=jwtobs.StaticKeys(keys)), token) == "accepted"
    with pytest.raises(jwtobs.ConfigurationError):
        jwtobs.StaticKeys({"keys": [RsaKey("w", bits=1024).jwk()]})
    with pytest.raises(jwtobs.ConfigurationError):
        jwtobs.JwksSource("http://example.com/jwks")  # plain http only for loopback
