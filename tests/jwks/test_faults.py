"""JwksSource against a real HTTP endpoint on 127.0.0.1: rotation, early removal, faults, floods."""

from __future__ import annotations

import json
import random
import threading
import time
from typing import Any

import pytest

import jwtobs
from jwtobs import Reason, TokenRejected
from jwtobs.events import KeySetChange
from tests.jwks.server import FakeClock, JwksServer, RsaKey

ISS = "https://idp.example/t"
AUD = "billing-api"
NOW = 1_800_000_000.0


def claims(**over: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"iss": ISS, "sub": "u", "aud": AUD, "exp": NOW + 600, "iat": NOW - 5, "tenant_id": "acme"}
    c.update(over)
    return c


def verifier(source: jwtobs.JwksSource) -> jwtobs.Verifier:
    p = jwtobs.Profile(name="billing-api", issuer=ISS, audience=AUD, algorithms=("RS256",), token_type="at+jwt")
    return jwtobs.Verifier(p, keys=source, backend="pyjwt")


def reason(v: jwtobs.Verifier, tok: str) -> Reason | None:
    try:
        v.verify(tok, now=NOW)
    except TokenRejected as exc:
        return exc.reason
    return None


def test_rotation_with_overlap_zero_rejections(server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]) -> None:
    old, new = rsa_keys[0], rsa_keys[1]
    server.publish(old)
    src = jwtobs.JwksSource(server.url, clock=clock)
    v = verifier(src)
    rejections = 0
    tok_old = old.sign(claims())
    rejections += reason(v, tok_old) is not None
    server.publish(old, new)  # 1. publish the new key
    clock.advance(301)  # next TTL refresh picks it up
    rejections += reason(v, tok_old) is not None
    tok_new = new.sign(claims())  # 2. start signing with it
    rejections += reason(v, tok_new) is not None
    rejections += reason(v, tok_old) is not None  # old tokens still valid
    clock.advance(601)  # 3. retire the old key after max token lifetime
    server.publish(new)
    rejections += reason(v, tok_new) is not None
    assert rejections == 0
    assert src.kids == {new.kid}


def test_signing_before_publishing_recovers_after_cooldown(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]
) -> None:
    old, new = rsa_keys[0], rsa_keys[1]
    server.publish(old)
    src = jwtobs.JwksSource(server.url, clock=clock, cooldown=30)
    v = verifier(src)
    assert reason(v, old.sign(claims())) is None
    tok = new.sign(claims())
    assert reason(v, tok) is Reason.UNKNOWN_KID  # forced refresh: still not published
    fetches = server.requests
    server.publish(old, new)
    for _ in range(50):
        assert reason(v, tok) is Reason.UNKNOWN_KID  # within the cooldown: no new fetch
    assert server.requests == fetches
    clock.advance(31)
    assert reason(v, tok) is None  # next allowed refresh recovers
    assert server.requests == fetches + 1


def test_old_key_removed_too_early(server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]) -> None:
    old, new = rsa_keys[0], rsa_keys[1]
    server.publish(old, new)
    src = jwtobs.JwksSource(server.url, clock=clock)
    v = verifier(src)
    tok_old = old.sign(claims())  # still valid for 600 s
    assert reason(v, tok_old) is None
    server.publish(new)
    clock.advance(301)
    assert reason(v, tok_old) is Reason.UNKNOWN_KID
    assert reason(v, new.sign(claims())) is None


def test_keyset_change_events(server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]) -> None:
    got: list[Any] = []
    jwtobs.configure(sinks=[got.append])
    server.publish(rsa_keys[0])
    src = jwtobs.JwksSource(server.url, clock=clock, issuer=ISS)
    src.get(rsa_keys[0].kid)
    server.publish(rsa_keys[1])
    clock.advance(301)
    src.get(rsa_keys[1].kid)
    jwtobs.flush()
    changes = [c for c in got if isinstance(c, KeySetChange)]
    assert [(c.added, c.removed) for c in changes] == [(("k0",), ()), (("k1",), ("k0",))]


FAULTS = ["down", "slow", "500", "invalid_json", "huge", "redirect_loop"]


@pytest.mark.parametrize("fault", FAULTS)
def test_faults_keep_last_known_good(server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], fault: str) -> None:
    key = rsa_keys[0]
    server.publish(key)
    timeout = 0.5
    src = jwtobs.JwksSource(server.url, clock=clock, timeout=timeout, max_bytes=64 * 1024)
    v = verifier(src)
    tok = key.sign(claims())
    assert reason(v, tok) is None
    if fault == "down":
        server.close()
    elif fault == "slow":
        server.delay = 5.0
    elif fault == "500":
        server.status = 500
    elif fault == "invalid_json":
        server.body = b'{"keys": ['
    elif fault == "huge":
        server.body = json.dumps({"keys": [key.jwk()] * 2000}).encode()
    else:
        server.redirect_to = server.url
    clock.advance(301)  # TTL expired: the next request triggers a refresh, which fails
    worst = 0.0
    for _ in range(5):
        t0 = time.monotonic()
        assert reason(v, tok) is None  # last-known-good
        worst = max(worst, time.monotonic() - t0)
    assert src.last_error is not None
    assert src.fetch_count == 2  # one failed refresh, then retry waits for the cooldown
    assert worst < timeout + 1.0
    # a kid the last-known-good keys lack while the fetch fails: the key set is unavailable (503), no request more
    # (before session 33: JWT_UNKNOWN_KID; tests/jwks/test_faults_s33.py)
    assert reason(v, rsa_keys[1].sign(claims())) is Reason.JWKS_UNAVAILABLE
    assert src.fetch_count == 2
    # beyond max_stale nothing usable remains: 503-class
    clock.advance(86400 + 1)
    assert reason(v, tok) is Reason.JWKS_UNAVAILABLE


def test_endpoint_down_from_start_is_unavailable(clock: FakeClock) -> None:
    src = jwtobs.JwksSource("http://127.0.0.1:9/jwks.json", clock=clock, timeout=0.5)
    with pytest.raises(TokenRejected) as ei:
        src.get("k0")
    assert ei.value.reason is Reason.JWKS_UNAVAILABLE


def test_random_kid_flood_one_fetch_per_cooldown(server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]) -> None:
    server.publish(rsa_keys[0])
    src = jwtobs.JwksSource(server.url, clock=clock, cooldown=30, negative_cache_size=256)
    src.get("k0")
    rnd = random.Random(7)
    windows = 0
    for i in range(10_000):
        if i and i % 2_500 == 0:
            clock.advance(30)
            windows += 1
        with pytest.raises(TokenRejected) as ei:
            src.get(f"rand-{rnd.getrandbits(64):x}")
        assert ei.value.reason is Reason.UNKNOWN_KID
    # 1 startup fetch + at most one forced refresh per cooldown window
    assert server.requests <= 1 + (windows + 1)
    assert src.negative_cache_len <= 256


def test_concurrent_unknown_kid_single_flight(server: JwksServer, rsa_keys: list[RsaKey]) -> None:
    server.publish(rsa_keys[0])
    src = jwtobs.JwksSource(server.url, cooldown=30, coalesce=0)  # (k1 is published right after the first fetch)
    src.get("k0")
    before = server.requests
    server.publish(rsa_keys[0], rsa_keys[1])
    server.delay = 0.2  # the refresh is in flight while the others arrive
    barrier = threading.Barrier(100)
    results: list[str | None] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait(timeout=10)
        try:
            k = src.get("k1")
            r = k.kid
        except TokenRejected as exc:
            r = exc.reason.value
        with lock:
            results.append(r)

    threads = [threading.Thread(target=call) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(results) == 100
    assert server.requests - before == 1
    assert results.count("k1") >= 1


def test_cache_control_bounds(server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]) -> None:
    server.publish(rsa_keys[0])
    server.headers = {"Cache-Control": "max-age=5"}
    src = jwtobs.JwksSource(server.url, clock=clock, min_ttl=60, max_ttl=600)
    src.get("k0")
    clock.advance(30)
    src.get("k0")
    assert server.requests == 1  # max-age 5 raised to min_ttl 60
    clock.advance(31)
    src.get("k0")
    assert server.requests == 2
    server.headers = {"Cache-Control": "max-age=999999"}
    clock.advance(61)
    src.get("k0")
    clock.advance(601)
    src.get("k0")
    assert server.requests == 4  # capped at max_ttl 600


def test_evict_and_filters(server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]) -> None:
    weak = RsaKey("weak", bits=1024)
    enc = rsa_keys[1].jwk() | {"use": "enc", "kid": "enc"}
    server.keys = [rsa_keys[0].jwk(), weak.jwk(), enc]
    src = jwtobs.JwksSource(server.url, clock=clock)
    src.get("k0")
    assert src.kids == {"k0"}  # RSA < 2048 and use=enc dropped
    src.evict("k0")
    with pytest.raises(TokenRejected):
        src.get("k0")
    clock.advance(301)
    with pytest.raises(TokenRejected):
        src.get("k0")  # stays evicted across refreshes


def test_duplicate_kids_rejected(server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]) -> None:
    server.keys = [rsa_keys[0].jwk(), rsa_keys[1].jwk() | {"kid": "k0"}]
    src = jwtobs.JwksSource(server.url, clock=clock)
    with pytest.raises(TokenRejected) as ei:
        src.get("k0")
    assert ei.value.reason is Reason.JWKS_UNAVAILABLE
