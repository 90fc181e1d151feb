"""Failure modes of the JWKS source not covered elsewhere (session 22): a fork while a fetch or a name resolution
runs, a clock set back. Real HTTP servers on 127.0.0.1, real RSA keys. Each fork case runs in a subprocess (a fork
inside the pytest process would copy its threads' state); the only stub is the resolver of ``localhost``, as in
``test_network.py``. Every wait is bounded; no assertion on elapsed time."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import jwtobs
from tests.jwks.server import AUD, ISS, NOW, FakeClock, JwksServer, RsaKey, claims

ROOT = Path(__file__).resolve().parents[2]

_PRELUDE = """
import json, os, socket, sys, threading, time
import jwtobs
from tests.jwks.server import FakeClock, JwksServer, RsaKey

jwtobs.configure(fingerprint_key=b"k" * 32, from_env=False, defer=False)
srv = JwksServer()
srv.publish(RsaKey("k0"))
clock = FakeClock()


def child_report(calls):
    # runs in the child: its verdicts go to the parent through a pipe, then the child ends at once
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        out = []
        try:
            out = calls()
        finally:
            os.write(w, json.dumps(out).encode())
            os._exit(0)
    os.close(w)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    data = os.read(r, 1 << 16)
    print(json.dumps({"child": json.loads(data or b"null"), "requests": srv.requests}))


def verdict(src):
    try:
        src.get("k0")
        return "ok"
    except jwtobs.TokenRejected as exc:
        return f"{exc.reason.value}/{exc.detail}"
"""


def _run(body: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", _PRELUDE + body], capture_output=True, text=True, timeout=90, env=env, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr[-2000:]
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_a_fork_during_a_name_resolution_leaves_the_child_able_to_fetch() -> None:
    """The parent's warm-up fetch gives up on a resolver that does not answer (timeout 0.3 s), its resolver thread
    still running; the process forks (a preloading server starting its workers). Before: the child inherited the
    pending resolution, whose thread does not exist in it, and every fetch of that host waited for it and failed as
    ``timeout``, that of a new JwksSource too: 4 of 4 calls JWT_JWKS_UNAVAILABLE/timeout, 0 requests. After: the
    child resolves again, 1 request per source, every call accepted."""
    result = _run("""
real = socket.getaddrinfo
release = threading.Event()
def getaddrinfo(host, *args, **kwargs):
    if host == "localhost":
        release.wait(10)  # the parent's resolver does not answer until the end
        return real("127.0.0.1", *args, **kwargs)
    return real(host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo
url = f"http://localhost:{srv.httpd.server_address[1]}/jwks.json"
src = jwtobs.JwksSource(url, timeout=0.3, cooldown=30, clock=clock)
assert verdict(src) == "JWT_JWKS_UNAVAILABLE/timeout"

def calls():
    release.set()  # in the child the resolver answers at once
    out = []
    for _ in range(3):
        clock.advance(31)  # past the cooldown of the parent's failed fetch
        out.append(verdict(src))
    out.append(verdict(jwtobs.JwksSource(url, timeout=0.3, cooldown=30, clock=clock)))
    return out

child_report(calls)
release.set()
""")
    assert result["child"] == ["ok", "ok", "ok", "ok"]
    assert result["requests"] == 2  # the child's two sources, one fetch each


def test_a_fork_during_a_fetch_leaves_the_child_a_fetch_lock_it_can_take() -> None:
    """A thread of the parent is fetching (the endpoint answers after 1 s) when the main thread forks. Before: the
    child's fetch lock stayed held for ever (the fetching thread, which would release it, does not exist in the
    child): every call of the child waited the whole ``timeout`` (2 s) and was JWT_JWKS_UNAVAILABLE/no_keys, 3 of 3,
    the lock still held after them. After: the child fetches itself (1 request), every call accepted."""
    result = _run("""
srv.delay = 1.0
src = jwtobs.JwksSource(srv.url, timeout=2, cooldown=30, clock=clock)
t = threading.Thread(target=src.refresh)
t.start()
deadline = time.monotonic() + 10
while srv.requests == 0 and time.monotonic() < deadline:
    time.sleep(0.01)
assert src._fetch_lock.locked()

def calls():
    out = []
    for _ in range(3):
        clock.advance(31)
        out.append(verdict(src))
    out.append(src._fetch_lock.locked())
    return out

child_report(calls)
t.join(10)
""")
    assert result["child"] == ["ok", "ok", "ok", False]
    assert result["requests"] == 2  # the parent's fetch and the child's one


# -- a clock set back ----------------------------------------------------------------------------------------
# ``clock`` is documented as monotonic, but nothing stops ``clock=time.time`` (a wall clock NTP steps back) or a
# test's time machine. Before: every time the source keeps (TTL, cooldown, retry after a failure, negative cache)
# waited for the clock to come back to where it had been.


def _calls_until(fn: Any, clock: FakeClock, limit: int = 4000) -> int | None:
    """Simulated seconds (one call per second) until ``fn`` stops raising TokenRejected; None within ``limit``."""
    for i in range(limit):
        try:
            fn()
            return i
        except jwtobs.TokenRejected:
            clock.advance(1)
    return None


def test_a_clock_set_back_does_not_hold_a_failed_source_unavailable(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]
) -> None:
    """Cold source, the endpoint fails (500), the clock is set back one hour, the endpoint recovers. Before: 3 630
    simulated seconds of JWT_JWKS_UNAVAILABLE (the retry waited for the clock to catch up); after: 30 (the
    cooldown), with one request more."""
    server.status = 500
    src = jwtobs.JwksSource(server.url, timeout=1, cooldown=30, clock=clock)
    with pytest.raises(jwtobs.TokenRejected):
        src.get("k0")
    server.status = 200
    server.publish(rsa_keys[0])
    clock.advance(-3600)
    assert _calls_until(lambda: src.get("k0"), clock) == 30
    assert server.requests == 2


def test_a_clock_set_back_does_not_delay_a_rotation(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]
) -> None:
    """Warm source; the IdP adds a key; the clock is set back one hour. Before: the new kid was JWT_UNKNOWN_KID for
    3 601 simulated seconds (the cooldown since the last fetch counted from an hour ahead); after: 1 (the coalescing
    window after the last fetch), with 2 requests in all."""
    server.publish(rsa_keys[0])
    src = jwtobs.JwksSource(server.url, timeout=1, cooldown=30, clock=clock)
    src.get("k0")
    server.publish(rsa_keys[0], rsa_keys[1])
    clock.advance(-3600)
    assert _calls_until(lambda: src.get("k1"), clock) == 1
    assert server.requests == 2


def test_a_clock_set_back_keeps_the_ttl(server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]) -> None:
    """Warm source (max-age 300), the clock set back one hour: the next TTL refresh comes 300 simulated seconds
    after the last fetch (before: 3 900), and the keys never go stale in between."""
    server.publish(rsa_keys[0])
    src = jwtobs.JwksSource(server.url, timeout=1, cooldown=30, clock=clock, min_ttl=60, max_stale=600)
    src.get("k0")
    clock.advance(-3600)
    refreshed_after = None
    for second in range(4000):
        src.get("k0")  # never rejected: the keys are fresh, then refreshed
        if server.requests > 1:
            refreshed_after = second
            break
        clock.advance(1)
    assert refreshed_after == 300
    assert server.requests == 2


def test_a_clock_set_back_moves_the_negative_cache_too(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]
) -> None:
    """An unknown kid is remembered for the cooldown (30 s), then may force a refresh again; set back one hour, it
    stays remembered 30 s, not 3 630: the IdP publishes it meanwhile, it is found at the first call past 30 s."""
    server.publish(rsa_keys[0])
    src = jwtobs.JwksSource(server.url, timeout=1, cooldown=30, clock=clock)
    src.get("k0")
    clock.advance(40)  # past the coalescing window and the cooldown
    with pytest.raises(jwtobs.TokenRejected):
        src.get("k2")  # forces a refresh (2 requests), then remembered as unknown
    server.publish(rsa_keys[0], rsa_keys[2])
    clock.advance(-3600)
    assert _calls_until(lambda: src.get("k2"), clock) == 30
    assert server.requests == 3


# -- the event loop: a check, then the lookup ------------------------------------------------------------------
# ``aget`` and ``averify`` ask ``needs_io`` on the loop, then, when it says no, look the key up inline. Time passes
# between the two: when the TTL ends (or the cooldown of an unknown kid) in between, the inline lookup found a fetch
# due and ran it on the event loop. The window is a few microseconds (``aget``) to tens (``averify``: the form,
# header and algorithm checks come first), hit at a TTL boundary at a rate of requests x window (1 % of TTL
# boundaries at 1 000 requests/s), and under a flood of random kids at nearly every cooldown's end. Here it is made
# certain: the clock passes the boundary right after ``needs_io`` answers.


class _LateClockSource(jwtobs.AsyncJwksSource):
    """A real AsyncJwksSource whose clock moves ``late`` seconds right after each ``needs_io`` (the time a lookup
    takes to reach the cache after the check), and which notes the thread of each fetch."""

    late = 0.0
    fetch_threads: list[str]

    def needs_io(self, kid: str | None) -> bool:
        answer = super().needs_io(kid)
        self.clock.advance(self.late)  # type: ignore[attr-defined]
        self.late = 0.0
        return answer

    def _download(self) -> tuple[bytes, int | None]:
        self.fetch_threads.append(threading.current_thread().name)
        return super()._download()


def _late_source(server: JwksServer, clock: FakeClock) -> _LateClockSource:
    src = _LateClockSource(server.url, timeout=1, cooldown=30, clock=clock)
    src.fetch_threads = []
    return src


@pytest.mark.parametrize("via", ["aget", "averify"])
@pytest.mark.parametrize("due", ["ttl", "unknown_kid"])
def test_a_fetch_that_falls_due_after_the_check_never_runs_on_the_event_loop(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey], via: str, due: str
) -> None:
    """Warm source; the TTL (300 s) ends, or the cooldown after the last fetch (30 s) for a kid published since,
    between ``needs_io`` and the lookup. Before: the fetch ran on the event loop's thread (4 of 4 cases: the loop
    stood still for the whole fetch, up to ``timeout``). After: in a worker thread, the verdict unchanged (accepted,
    1 fetch more)."""
    jwtobs.configure(fingerprint_key=b"k" * 32, from_env=False, defer=False)
    server.publish(rsa_keys[0])
    src = _late_source(server, clock)
    v = jwtobs.Verifier(jwtobs.Profile(name="api", issuer=ISS, audience=AUD), keys=src)
    kid = "k0" if due == "ttl" else "k1"
    token = rsa_keys[0 if due == "ttl" else 1].sign(claims(iat=NOW, exp=NOW + 3600))

    async def main() -> str:
        await src.aget("k0")  # the startup fetch (in a worker thread)
        if due == "unknown_kid":
            clock.advance(5)
            with pytest.raises(jwtobs.TokenRejected):
                await src.aget("k-probe")  # an unknown kid forces a refresh (in a worker thread): the cooldown starts
            server.publish(rsa_keys[0], rsa_keys[1])
            clock.advance(20)  # within the cooldown: another unknown kid may not force a refresh yet
            src.late = 11.0  # ... and may once the lookup reaches the cache
        else:
            clock.advance(290)  # the TTL has 10 s left at the check
            src.late = 11.0
        loop_thread = threading.current_thread().name
        if via == "aget":
            assert (await src.aget(kid)).kid == kid
        else:
            await v.averify(token, now=NOW)
        return loop_thread

    loop_thread = asyncio.run(main())
    fetches = 2 if due == "ttl" else 3
    assert len(src.fetch_threads) == fetches and server.requests == fetches
    assert loop_thread not in src.fetch_threads


def test_averify_keeps_the_verify_of_a_subclass_on_the_inline_path(
    server: JwksServer, clock: FakeClock, rsa_keys: list[RsaKey]
) -> None:
    """The inline lookup above bypasses ``verify()`` (it calls the observed verification with its own lookup): a
    Verifier subclass whose ``verify`` adds a check keeps it on a warm cache, as before (``averify`` then calls
    ``verify``). Without the guard, the valid token was accepted past the subclass's refusal."""

    class Refusing(jwtobs.Verifier):
        def verify(self, token: object, **kwargs: Any) -> Any:
            raise jwtobs.TokenRejected(jwtobs.Reason.TENANT_MISMATCH, "subclass")

    jwtobs.configure(fingerprint_key=b"k" * 32, from_env=False, defer=False)
    server.publish(rsa_keys[0])
    src = jwtobs.AsyncJwksSource(server.url, timeout=1, cooldown=30, clock=clock)
    src.get("k0")  # warm: averify answers inline
    v = Refusing(jwtobs.Profile(name="api", issuer=ISS, audience=AUD), keys=src)
    token = rsa_keys[0].sign(claims(iat=NOW, exp=NOW + 3600))
    with pytest.raises(jwtobs.TokenRejected) as info:
        asyncio.run(v.averify(token, now=NOW))
    assert info.value.detail == "subclass"
