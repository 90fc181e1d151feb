"""Issue #14's fault-injection suite: a real misbehaving JWKS server on 127.0.0.1 (tests/jwks/faults.py).

Matrix: 11 faults x (cold, warm, expired TTL) x (sync, async), every case verified by the 5 backends sharing
one JwksSource, plus one request through FastAPI for the status code. Then a 32-thread run of each fault.

Targets (asserted): 0 exceptions other than TokenRejected; IdP requests <= 1 per cooldown per source; added
latency under any fault <= the configured timeout (plus a scheduling margin: the machine is shared); the same
verdict on every backend; one event per verification. ``pytest -s`` prints the rows of docs/jwks.md.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

import jwtobs
from jwtobs import TokenRejected
from jwtobs.backends import BACKENDS
from jwtobs.events import ValidationEvent
from jwtobs.integrations import BearerAuth, Principal
from jwtobs.integrations.fastapi import jwt_auth
from tests.jwks.faults import ERROR_TYPE, FAULTS, SLOW, FaultServer
from tests.jwks.server import AUD, ISS, NOW, FakeClock, RsaKey, claims

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TIMEOUT = 0.3  # JwksSource(timeout=...): the whole fetch
COOLDOWN = 30.0  # fake-clock seconds
MARGIN = 0.25  # scheduling margin on a shared 2-core machine (single caller)
THREAD_MARGIN = 0.75  # 32 threads verifying RSA signatures on 2 shared cores
PROFILE = jwtobs.Profile(name="api", issuer=ISS, audience=AUD)
#: state -> (verdict of every backend, HTTP status through FastAPI, IdP requests made during the fault)
EXPECTED = {"cold": ("JWT_JWKS_UNAVAILABLE", 503, 1), "warm": ("accepted", 200, 0), "expired": ("accepted", 200, 1)}
KEY = RsaKey("k0")


class Current:
    verifier: jwtobs.Verifier | None = None


@pytest.fixture(scope="module")
def fsrv() -> Iterator[FaultServer]:
    s = FaultServer()
    s.publish({"keys": [KEY.jwk()]})
    yield s
    s.close()


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """One FastAPI app: /sync runs Verifier.verify inline, /async goes through Verifier.averify."""

    def sync_auth(token: str, tenant: str | None = None) -> Any:
        assert Current.verifier is not None
        return Current.verifier.verify(token, now=NOW)

    async def async_auth(token: str, tenant: str | None = None) -> Any:
        assert Current.verifier is not None
        return await Current.verifier.averify(token, now=NOW)

    app = FastAPI()
    sync_dep, async_dep = jwt_auth(BearerAuth(sync_auth)), jwt_auth(BearerAuth(async_auth))

    @app.get("/sync")
    async def sync_route(p: Principal = Depends(sync_dep)) -> dict[str, str]:  # noqa: B008
        return {"sub": p.subject or ""}

    @app.get("/async")
    async def async_route(p: Principal = Depends(async_dep)) -> dict[str, str]:  # noqa: B008
        return {"sub": p.subject or ""}

    with TestClient(app) as c:
        yield c


def verdict(v: jwtobs.Verifier, token: str, mode: str) -> str:
    """The verdict; any exception other than TokenRejected escapes and fails the test."""
    try:
        if mode == "async":
            asyncio.run(v.averify(token, now=NOW))
        else:
            v.verify(token, now=NOW)
    except TokenRejected as exc:
        return exc.reason.value
    return "accepted"


def source(url: str, clock: FakeClock, mode: str) -> jwtobs.JwksSource:
    cls = jwtobs.AsyncJwksSource if mode == "async" else jwtobs.JwksSource
    return cls(url, clock=clock, timeout=TIMEOUT, cooldown=COOLDOWN, proxies={})


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("state", ["cold", "warm", "expired"])
@pytest.mark.parametrize("fault", FAULTS)
def test_fault_matrix(
    fault: str, state: str, mode: str, fsrv: FaultServer, client: TestClient, events: list[Any]
) -> None:
    clock = FakeClock()
    src = source(fsrv.url, clock, mode)
    verifiers = {b: jwtobs.Verifier(PROFILE, keys=src, backend=b) for b in sorted(BACKENDS)}
    token = KEY.sign(claims())
    fsrv.mode = "ok"
    verifications = 0
    if state != "cold":
        assert verdict(verifiers["pyjwt"], token, mode) == "accepted"
        verifications += 1
        if state == "expired":
            clock.advance(301)  # past the TTL (max-age=300)
    fsrv.mode = fault
    before = fsrv.requests
    got: dict[str, str] = {}
    worst = 0.0
    for name, v in verifiers.items():
        t0 = time.monotonic()
        got[name] = verdict(v, token, mode)
        worst = max(worst, time.monotonic() - t0)
        verifications += 1
    Current.verifier = verifiers["pyjwt"]
    status = client.get(f"/{mode}", headers={"Authorization": f"Bearer {token}"}).status_code
    verifications += 1
    requests = fsrv.requests - before
    fsrv.mode = "ok"

    want_verdict, want_status, want_requests = EXPECTED[state]
    print(f"ROW {fault} {state} {mode} {want_verdict} {status} requests={requests} worst={worst:.3f}s")
    assert set(got.values()) == {want_verdict}, got  # one verdict on every backend
    assert status == want_status
    assert requests == want_requests  # <= 1 per cooldown per source
    assert worst <= TIMEOUT + MARGIN  # added latency bounded by the timeout
    if fault not in SLOW:
        assert worst <= TIMEOUT  # fast failures do not even use the timeout
    if state == "warm":
        assert src.fetch_count == 1 and src.last_error is None
    else:
        assert src.last_error == ERROR_TYPE[fault]  # counted under a low-cardinality error.type
        assert src.errors == {ERROR_TYPE[fault]: 1}
    jwtobs.flush()
    recorded = [e for e in events if isinstance(e, ValidationEvent)]
    assert len(recorded) == verifications  # one event per verification, whatever the fault
    if state == "cold":  # the rejection names the fetch failure as its detail (same vocabulary)
        assert {(e.reason, e.detail) for e in recorded} == {("JWT_JWKS_UNAVAILABLE", ERROR_TYPE[fault])}


def _hammer(
    verifiers: list[jwtobs.Verifier], token: str, threads: int, loops: int
) -> tuple[Counter[str], list[float], list[BaseException]]:
    """``threads`` threads x ``loops`` verifications (round robin over the backends); every loop bounded."""
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    escaped: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def work(i: int) -> None:
        barrier.wait(timeout=10)
        for j in range(loops):
            v = verifiers[(i + j) % len(verifiers)]
            t0 = time.monotonic()
            try:
                v.verify(token, now=NOW)
                out = "accepted"
            except TokenRejected as exc:
                out = exc.reason.value
            except BaseException as exc:  # counted: the target is zero
                with lock:
                    escaped.append(exc)
                continue
            dt = time.monotonic() - t0
            with lock:
                outcomes[out] += 1
                latencies.append(dt)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in ts)
    return outcomes, latencies, escaped


@pytest.mark.parametrize("fault", FAULTS)
def test_32_threads(fault: str, fsrv: FaultServer, events: list[Any]) -> None:
    threads, loops = 32, 5
    token = KEY.sign(claims())
    rows = []
    # expired TTL: last-known-good for everyone, one fetch; then one cooldown later exactly one more
    clock = FakeClock()
    src = source(fsrv.url, clock, "sync")
    verifiers = [jwtobs.Verifier(PROFILE, keys=src, backend=b) for b in sorted(BACKENDS)]
    fsrv.mode = "ok"
    assert verdict(verifiers[0], token, "sync") == "accepted"
    fsrv.mode = fault
    for phase in ("expired", "expired+cooldown"):
        clock.advance(301 if phase == "expired" else COOLDOWN)
        before = fsrv.requests
        outcomes, lat, escaped = _hammer(verifiers, token, threads, loops)
        rows.append((phase, dict(outcomes), fsrv.requests - before, max(lat)))
        assert escaped == []
        assert outcomes == {"accepted": threads * loops}
        assert fsrv.requests - before == 1
        assert max(lat) <= TIMEOUT + THREAD_MARGIN
    # cold: nothing usable, 503 for everyone, one fetch
    cold = source(fsrv.url, FakeClock(), "sync")
    before = fsrv.requests
    outcomes, lat, escaped = _hammer(
        [jwtobs.Verifier(PROFILE, keys=cold, backend=b) for b in sorted(BACKENDS)], token, threads, loops
    )
    rows.append(("cold", dict(outcomes), fsrv.requests - before, max(lat)))
    fsrv.mode = "ok"
    assert escaped == []
    assert outcomes == {"JWT_JWKS_UNAVAILABLE": threads * loops}
    assert fsrv.requests - before == 1
    assert max(lat) <= TIMEOUT + THREAD_MARGIN
    for phase, out, reqs, worst in rows:
        print(f"THREADS {fault} {phase} {out} requests={reqs} worst={worst:.3f}s")
