"""AsyncJwksSource + Verifier.averify: same policy core, the event loop never blocks on a fetch."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

import jwtobs
from jwtobs import TokenRejected
from jwtobs.events import ValidationEvent
from tests.jwks.server import FakeClock, JwksServer, RsaKey

ISS, AUD, NOW = "https://idp.example", "api", 1_800_000_000


def claims() -> dict[str, Any]:
    return {"iss": ISS, "sub": "u", "aud": AUD, "exp": NOW + 600, "iat": NOW}


async def _verdict(v: jwtobs.Verifier, token: str) -> str:
    try:
        await v.averify(token, now=NOW)
    except TokenRejected as exc:
        return exc.reason.value
    return "accepted"


def test_cold_start_single_flight_and_loop_not_blocked(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]
) -> None:
    events: list[Any] = []
    jwtobs.configure(sinks=[events.append], fingerprint_key=b"k" * 32, from_env=False)
    server.publish(rsa_keys[0])
    server.delay = 0.3
    src = jwtobs.AsyncJwksSource(server.url, clock=clock, proxies={})
    v = jwtobs.Verifier(jwtobs.Profile(name="api", issuer=ISS, audience=AUD), keys=src)
    token = rsa_keys[0].sign(claims())

    async def main() -> tuple[list[str], int]:
        ticks = 0

        async def heartbeat() -> None:
            nonlocal ticks
            end = time.monotonic() + 0.25
            while time.monotonic() < end:
                ticks += 1
                await asyncio.sleep(0.01)

        hb = asyncio.create_task(heartbeat())
        results = await asyncio.gather(*(_verdict(v, token) for _ in range(100)))
        await hb
        return list(results), ticks

    # (a full collection of what earlier tests left behind can pause the process for the whole 0.25 s window)
    results, ticks = _run_without_gc(main)
    assert results == ["accepted"] * 100
    assert server.requests == 1
    # the loop kept running while the fetch was in flight: a loop blocked by the 0.3 s fetch ticks once or twice in
    # the 0.25 s window; a free one ~25 times (8 at a load average of 9.6 on 2 cores, session 39: >= 10 failed so)
    assert ticks >= 5
    assert len([e for e in events if isinstance(e, ValidationEvent)]) == 100


def test_cached_lookups_stay_inline_and_unknown_kid_is_bounded(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]
) -> None:
    server.publish(rsa_keys[0])
    src = jwtobs.AsyncJwksSource(server.url, clock=clock, proxies={}, cooldown=30)
    v = jwtobs.Verifier(jwtobs.Profile(name="api", issuer=ISS, audience=AUD), keys=src)

    async def main() -> list[str]:
        out = [await _verdict(v, rsa_keys[0].sign(claims()))]
        assert not src.needs_io("k0")
        assert not src.needs_io("k1")  # unknown, but the key set was fetched moments ago (coalesce): from memory
        clock.advance(1)
        assert src.needs_io("k1")  # unknown, cooldown not running, the coalescing window over: may fetch
        out.append(await _verdict(v, rsa_keys[1].sign(claims())))
        assert not src.needs_io("k1")  # now in the negative cache
        out.append(await _verdict(v, rsa_keys[1].sign(claims())))
        assert (await src.aget("k0")).kid == "k0"
        return out

    assert asyncio.run(main()) == ["accepted", "JWT_UNKNOWN_KID", "JWT_UNKNOWN_KID"]
    assert server.requests == 2


def test_an_unknown_kid_during_a_running_ttl_refresh_does_not_block_the_loop(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]
) -> None:
    """Before: while a TTL refresh ran in a worker thread, ``needs_io`` said "answer from memory" for every kid,
    so an unknown kid's forced refresh waited for the running fetch on the event loop (probe: the loop stopped
    0.40 s with a 0.5 s endpoint; up to ``timeout``, every request of the process with it). Now that lookup
    waits in a worker thread; the loop runs while it waits. The endpoint answers only when the test releases
    it, so "the loop ran while the lookup was pending" is an ordering, not a timing."""
    server.publish(rsa_keys[0])
    src = jwtobs.AsyncJwksSource(server.url, clock=clock, proxies={}, cooldown=30, timeout=2.0)
    v = jwtobs.Verifier(jwtobs.Profile(name="api", issuer=ISS, audience=AUD), keys=src)

    async def main() -> tuple[str, str, bool, tuple[bool, bool]]:
        assert await _verdict(v, rsa_keys[0].sign(claims())) == "accepted"
        server.delay = 2.0  # the next response waits for server.release (at most 2 s)
        clock.advance(301)  # the TTL has run out: the next lookup refreshes in a worker thread
        ttl = asyncio.create_task(_verdict(v, rsa_keys[0].sign(claims())))
        for _ in range(2000):  # until the worker holds the fetch (bounded)
            if src._fetch_lock.locked():
                break
            await asyncio.sleep(0.001)
        assert src._fetch_lock.locked()
        # unknown kid, a forced refresh allowed: not answered on the loop; known kid: last-known-good, at once
        io = (src.needs_io("k1"), src.needs_io("k0"))
        unknown = asyncio.create_task(_verdict(v, rsa_keys[1].sign(claims())))
        await asyncio.sleep(0)  # its first step ran (on the loop) ...
        pending = not unknown.done()  # ... and it is waiting for the fetch, with the loop free
        server.release.set()
        return await ttl, await unknown, pending, io

    ttl, unknown, pending, io = asyncio.run(main())
    assert pending  # before: False, the lookup had waited for the fetch inside its first step, on the loop
    assert (ttl, unknown, io) == ("accepted", "JWT_UNKNOWN_KID", (True, False))
    assert server.requests == 2  # the first fetch and the TTL refresh: the unknown kid waited for the latter


T = TypeVar("T")


def _run_without_gc(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """``asyncio.run(main())`` with the garbage collector off (after one collection): a full collection of what
    earlier tests left behind can pause the process for a whole measured window (seen once in a full run)."""
    gc.collect()
    gc.disable()
    try:
        return asyncio.run(main())
    finally:
        gc.enable()


# -- the arrival generation through Verifier.averify (a saturated default executor) -------------------------------
def _outcome(v: jwtobs.Verifier, token: str) -> tuple[str, str | None, Any]:
    """What ``v.verify`` gives for ``token`` (on the calling thread): its reason, detail and result."""
    try:
        out = v.verify(token, now=NOW)
    except TokenRejected as exc:
        return exc.reason.value, exc.detail, None
    return "accepted", None, out


async def _aoutcome(v: jwtobs.Verifier | jwtobs.VerifierSet, token: str) -> tuple[str, str | None, Any]:
    try:
        out = await v.averify(token, now=NOW)
    except TokenRejected as exc:
        return exc.reason.value, exc.detail, None
    return "accepted", None, out


def _saturated_run(
    servers: list[JwksServer], calls: list[tuple[Any, str]], *, workers: int = 4
) -> tuple[list[tuple[str, str | None, Any]], float, int]:
    """``averify`` of every (verifier or verifier set, token) at once on a loop whose default executor has
    ``workers`` threads, each endpoint holding its responses until every call has arrived and the loop has ticked
    20 times while all of them had a fetch in flight (an ordering, not a timing; the servers' own wait is the
    bound). Returns the outcomes, the longest gap between heartbeat ticks, and the ticks seen while held."""
    from concurrent.futures import ThreadPoolExecutor

    for server in servers:
        server.delay = 10.0  # held until server.release (at most 10 s)

    async def main() -> tuple[list[tuple[str, str | None, Any]], float, int]:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(workers))
        gaps: list[float] = []
        held_ticks = 0
        done = False

        async def heartbeat() -> None:
            nonlocal held_ticks
            last = time.monotonic()
            for _ in range(100_000):  # bounded: the calls end within the servers' 10 s bound
                if done:
                    return
                await asyncio.sleep(0.002)
                now = time.monotonic()
                gaps.append(now - last)
                last = now
                if all(s.requests for s in servers) and not servers[0].release.is_set():
                    held_ticks += 1
                    if held_ticks >= 20:  # every call arrived long ago: let the fetches complete
                        for s in servers:
                            s.release.set()

        hb = asyncio.create_task(heartbeat())
        results = await asyncio.gather(*(_aoutcome(v, token) for v, token in calls))
        done = True
        await hb
        return list(results), max(gaps), held_ticks

    return _run_without_gc(main)


def test_averify_on_a_saturated_executor_fetches_once(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]
) -> None:
    """200 concurrent ``averify`` on a cold cache, 4 executor threads, one call in four with a kid the endpoint
    does not publish (a different one each: no negative cache hit). Before: ``Verifier.averify`` ran ``verify``
    in a worker thread and ``get()`` read the generation there, so a call that queued for a thread until the
    startup fetch had completed counted as arriving after it and forced a second fetch (2 requests in every
    run). Now the lookup is taken when ``averify`` is called, on the loop: 1 request. Verdicts, details and
    results are those of ``verify``; one event per call; the loop kept ticking while the fetch was held."""
    events: list[Any] = []
    jwtobs.configure(sinks=[events.append], fingerprint_key=b"k" * 32, from_env=False)
    server.publish(rsa_keys[0])
    src = jwtobs.AsyncJwksSource(server.url, clock=clock, proxies={}, cooldown=30, timeout=15.0)
    v = jwtobs.Verifier(jwtobs.Profile(name="api", issuer=ISS, audience=AUD), keys=src)
    tokens = _mixed_tokens(rsa_keys[0], rsa_keys[1], 200)

    results, max_gap, held = _saturated_run([server], [(v, t) for t in tokens])

    assert server.requests == 1  # before: 2
    assert held >= 20
    assert max_gap < 0.5, max_gap  # no stall while the fetch was held (typically a few ms)
    assert [r[:2] for r in results] == [
        ("JWT_UNKNOWN_KID", None) if i % 4 == 3 else ("accepted", None) for i in range(200)
    ]
    assert results == [_outcome(v, t) for t in tokens]  # the same as verify (warm now: answered from memory)
    assert server.requests == 1
    assert len([e for e in events if isinstance(e, ValidationEvent)]) == 400  # 200 averify + 200 verify


def _mixed_tokens(key: RsaKey, gone: RsaKey, n: int, **over: Any) -> list[str]:
    """``n`` tokens signed by ``key``, one in four instead with a kid nobody publishes (a different one each)."""
    return [gone.sign(claims() | over, kid=f"gone{i}") if i % 4 == 3 else key.sign(claims() | over) for i in range(n)]


def test_verifier_set_averify_on_a_saturated_executor_fetches_once_per_issuer(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]
) -> None:
    """Issuer routing (``VerifierSet.averify``) hands each call to its issuer's ``Verifier.averify``, which takes
    the lookup on arrival: 2 issuers x 100 calls, 4 executor threads, 1 request per endpoint (before: 2 each)."""
    other = JwksServer()
    try:
        server.publish(rsa_keys[0])
        other.publish(rsa_keys[2])
        iss2 = "https://idp2.example"
        v1 = jwtobs.Verifier(
            jwtobs.Profile(name="one", issuer=ISS, audience=AUD),
            keys=jwtobs.AsyncJwksSource(server.url, clock=clock, proxies={}, cooldown=30, timeout=15.0),
        )
        v2 = jwtobs.Verifier(
            jwtobs.Profile(name="two", issuer=iss2, audience=AUD),
            keys=jwtobs.AsyncJwksSource(other.url, clock=clock, proxies={}, cooldown=30, timeout=15.0),
        )
        vs = jwtobs.VerifierSet([v1, v2])
        tokens = [
            t
            for pair in zip(
                _mixed_tokens(rsa_keys[0], rsa_keys[1], 100),
                _mixed_tokens(rsa_keys[2], rsa_keys[1], 100, iss=iss2),
                strict=True,
            )
            for t in pair
        ]

        results, max_gap, _ = _saturated_run([server, other], [(vs, t) for t in tokens])

        assert (server.requests, other.requests) == (1, 1)  # before: (2, 2)
        assert max_gap < 0.5, max_gap
        assert [r[0] for r in results].count("JWT_UNKNOWN_KID") == 50
        assert results == [_outcome(vs, t) for t in tokens]
        assert (server.requests, other.requests) == (1, 1)
    finally:
        other.close()


def test_averify_takes_the_lookup_on_arrival_only_from_sources_that_have_one(rsa_keys: list[RsaKey]) -> None:
    """A key source without generations (a custom ``KeySource`` that says it needs I/O, a ``JwksSource``
    subclass with its own ``get``) is asked through its own ``get`` in the worker thread, as before; StaticKeys
    answers inline. Verdicts and results are those of ``verify``; one event per call."""
    events: list[Any] = []
    jwtobs.configure(sinks=[events.append], fingerprint_key=b"k" * 32, from_env=False)
    from jwtobs.jwks import Key, KeySource

    static = jwtobs.StaticKeys({"keys": [rsa_keys[0].jwk()]})
    threads: list[str] = []

    class Custom(KeySource):
        def needs_io(self, kid: str | None) -> bool:
            return True

        def get(self, kid: str | None) -> Key:
            threads.append(threading.current_thread().name)
            return static.get(kid)

    class Wrapped(jwtobs.JwksSource):
        def get(self, kid: str | None) -> Key:
            threads.append(threading.current_thread().name)
            return static.get(kid)

        def needs_io(self, kid: str | None) -> bool:
            return True

    main = threading.current_thread().name
    profile = jwtobs.Profile(name="api", issuer=ISS, audience=AUD)
    sources: list[Any] = [static, Custom(), Wrapped("https://127.0.0.1:9/never-fetched", proxies={})]
    tokens = [rsa_keys[0].sign(claims()), rsa_keys[1].sign(claims()), rsa_keys[0].sign(claims() | {"aud": "other"})]
    for src in sources:
        v = jwtobs.Verifier(profile, keys=src)
        threads.clear()
        got = asyncio.run(_gather(v, tokens))
        assert got == [_outcome(v, t) for t in tokens]
        assert [r[:2] for r in got] == [("accepted", None), ("JWT_UNKNOWN_KID", None), ("JWT_AUDIENCE_MISMATCH", "aud")]
        if src is not static:  # the source's own get, in a worker thread (3 averify), then on this thread (3 verify)
            assert len(threads) == 6 and main not in threads[:3] and threads[3:] == [main] * 3
    assert len([e for e in events if isinstance(e, ValidationEvent)]) == 18


async def _gather(v: jwtobs.Verifier, tokens: list[str]) -> list[tuple[str, str | None, Any]]:
    return list(await asyncio.gather(*(_aoutcome(v, t) for t in tokens)))


def test_averify_inside_a_wrapped_function_takes_the_lookup_on_arrival(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]
) -> None:
    """Inside ``jwtobs.wrap`` (the nested path: the outer observation records) the worker thread uses the lookup
    taken on arrival too: 1 request (before: 2), one event per call, the outer one."""
    events: list[Any] = []
    jwtobs.configure(sinks=[events.append], fingerprint_key=b"k" * 32, from_env=False)
    server.publish(rsa_keys[0])
    src = jwtobs.AsyncJwksSource(server.url, clock=clock, proxies={}, cooldown=30, timeout=15.0)
    v = jwtobs.Verifier(jwtobs.Profile(name="api", issuer=ISS, audience=AUD), keys=src)

    async def authenticate(token: str, *, now: float) -> jwtobs.VerifiedToken:
        return await v.averify(token, now=now)

    class Outer:
        averify = staticmethod(jwtobs.wrap(authenticate, library="pyjwt", profile="outer", raise_as="jwtobs"))

    tokens = _mixed_tokens(rsa_keys[0], rsa_keys[1], 100)
    results, _, _ = _saturated_run([server], [(Outer, t) for t in tokens])
    assert server.requests == 1  # before: 2
    assert [r[:2] for r in results] == [
        ("JWT_UNKNOWN_KID", None) if i % 4 == 3 else ("accepted", None) for i in range(100)
    ]
    validations = [e for e in events if isinstance(e, ValidationEvent)]
    assert len(validations) == 100 and {e.profile for e in validations} == {"outer"}


def test_bearer_auth_on_a_saturated_executor_fetches_once(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]
) -> None:
    """FastAPI and Starlette authenticate through ``BearerAuth.aauthenticate``, which calls ``averify`` for a bound
    ``Verifier.verify``: 200 requests, 4 executor threads, 1 request to the IdP (before: 2), one event per
    request, the unknown kids refused with 401 invalid_token."""
    from jwtobs.integrations import AuthDenied, BearerAuth

    events: list[Any] = []
    jwtobs.configure(sinks=[events.append], fingerprint_key=b"k" * 32, from_env=False)
    server.publish(rsa_keys[0])
    src = jwtobs.AsyncJwksSource(server.url, clock=clock, proxies={}, cooldown=30, timeout=15.0)
    v = jwtobs.Verifier(jwtobs.Profile(name="api", issuer=ISS, audience=AUD), keys=src, clock=lambda: NOW)
    auth = BearerAuth(v.verify, redact=False)

    class Via:
        @staticmethod
        async def averify(token: str, *, now: float) -> Any:
            try:
                return (await auth.aauthenticate([f"Bearer {token}"])).subject
            except AuthDenied as exc:
                raise TokenRejected(
                    exc.denial.reason or jwtobs.Reason.VALIDATOR_ERROR, str(exc.denial.status)
                ) from None

    tokens = _mixed_tokens(rsa_keys[0], rsa_keys[1], 200)
    results, _, _ = _saturated_run([server], [(Via, t) for t in tokens])
    assert server.requests == 1  # before: 2
    assert results == [("JWT_UNKNOWN_KID", "401", None) if i % 4 == 3 else ("accepted", None, "u") for i in range(200)]
    assert len([e for e in events if isinstance(e, ValidationEvent)]) == 200


# -- a synchronous authenticator in anyio's worker threads (a plain ``def`` dependency calling verify) -------------
def _thread_run(
    server: JwksServer, v: jwtobs.Verifier, tokens: list[str], *, via: str, workers: int = 4
) -> list[tuple[str, str | None]]:
    """Every token verified at once by ``v.verify`` in anyio's worker threads (``workers`` of them): through
    ``anyio.to_thread.run_sync`` itself, or a FastAPI app whose plain ``def`` dependency calls ``verify``. The
    endpoint holds its response until every call that has no thread yet waits for one (an ordering: the
    limiter's statistics, not a timing; the server's own wait is the bound). Returns (verdict, detail) per token."""
    import anyio.to_thread

    server.delay = 10.0  # held until server.release (at most 10 s)

    def check(token: str) -> tuple[str, str | None]:
        return _outcome(v, token)[:2]

    async def main() -> list[tuple[str, str | None]]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = workers

        async def release() -> None:
            for _ in range(5000):  # bounded: 10 s
                if server.requests and limiter.statistics().tasks_waiting >= len(tokens) - workers:
                    break
                await asyncio.sleep(0.002)
            server.release.set()

        rel = asyncio.create_task(release())
        if via == "anyio":
            results = await asyncio.gather(*(anyio.to_thread.run_sync(check, t) for t in tokens))
        else:
            results = await _through_fastapi(check, tokens)
        await rel
        return list(results)

    return _run_without_gc(main)


async def _through_fastapi(check: Any, tokens: list[str]) -> list[tuple[str, str | None]]:
    import httpx
    from fastapi import Depends, FastAPI, Header

    app = FastAPI()

    def authenticated(authorization: str = Header()) -> tuple[str, str | None]:  # plain def: a worker thread
        return check(authorization.removeprefix("Bearer "))

    @app.get("/")
    async def root(verdict: tuple[str, str | None] = Depends(authenticated)) -> list[str | None]:
        return list(verdict)

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
        responses = await asyncio.gather(*(client.get("/", headers={"Authorization": f"Bearer {t}"}) for t in tokens))
    return [(r.json()[0], r.json()[1]) for r in responses]


@pytest.mark.parametrize("via", ["anyio", "fastapi"])
def test_verify_in_saturated_worker_threads_fetches_once(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], via: str
) -> None:
    """200 concurrent ``verify`` calls in anyio's worker threads (4 of them) on a cold cache, one in four with a kid
    nobody publishes (a different one each). The calls that get a thread only after the startup fetch completed
    read the generation then, in the thread: they cannot know they arrived while it ran. Before: the first of
    them with an unknown kid forced a second fetch (2 requests in every run; the ``averify`` fix takes the
    generation on the loop, which ``verify`` called from a thread never sees). Now a fetch completed less than
    ``coalesce`` (1 s) ago answers an unknown kid: 1 request. Once the window is over, an unknown kid forces a
    refresh again (the cooldown's bound is unchanged)."""
    server.publish(rsa_keys[0])
    src = jwtobs.JwksSource(server.url, clock=clock, proxies={}, cooldown=30, timeout=15.0)
    v = jwtobs.Verifier(jwtobs.Profile(name="api", issuer=ISS, audience=AUD), keys=src)
    tokens = _mixed_tokens(rsa_keys[0], rsa_keys[1], 200)

    results = _thread_run(server, v, tokens, via=via)

    assert server.requests == 1  # before: 2
    assert results == [("JWT_UNKNOWN_KID", None) if i % 4 == 3 else ("accepted", None) for i in range(200)]
    assert src.negative_cache_len == 0  # coalesced kids are not remembered: a kid published since is found later
    server.delay = 0.0
    server.publish(rsa_keys[0], rsa_keys[1])
    clock.advance(0.5)
    assert _outcome(v, rsa_keys[1].sign(claims()))[0] == "JWT_UNKNOWN_KID"  # still within the window
    clock.advance(0.5)
    assert _outcome(v, rsa_keys[1].sign(claims()))[0] == "accepted"  # the window is over: a forced refresh
    assert server.requests == 2
