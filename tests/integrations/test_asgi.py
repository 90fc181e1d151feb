"""FastAPI and Starlette served by uvicorn on 127.0.0.1, driven by real HTTP requests with real tokens."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.integrations.asgi_apps import fastapi_app, starlette_app
from tests.integrations.harness import Authenticators, Keys, Stack, UvicornThread, check_span_parents, run_matrix

APPS = {"fastapi": fastapi_app, "starlette": starlette_app}


@pytest.mark.parametrize("framework", sorted(APPS))
def test_matrix(framework: str, keys: Keys, stack: Stack, auths: Authenticators) -> None:
    with UvicornThread(APPS[framework](auths, stack), log_level="warning") as server:
        failures = run_matrix(server.base, stack, keys)
    assert failures == []
    assert check_span_parents(stack) == []


@pytest.mark.parametrize("framework", sorted(APPS))
@pytest.mark.parametrize("threadpool", [True, False])
def test_sync_authenticator_off_the_loop(framework: str, threadpool: bool, keys: Keys, stack: Stack) -> None:
    """A synchronous authenticator that blocks (a PyJWKClient fetching a slow key set) runs in a worker thread:
    a public request on the same server is answered meanwhile. With ``threadpool=False`` it runs on the
    loop, and the public request waits for it (what every request did before session 13)."""
    from concurrent.futures import ThreadPoolExecutor

    import jwt
    from fastapi import Depends, FastAPI
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    import jwtobs
    from jwtobs.integrations import BearerAuth, Principal
    from jwtobs.integrations.fastapi import jwt_auth
    from jwtobs.integrations.starlette import JwtAuthMiddleware, jwt_route
    from tests.integrations.harness import AUD, ISS, REALM, request

    other_answered = threading.Event()
    seen: dict[str, object] = {}
    pub = keys.good.private.public_key()

    def validate(token: str) -> dict[str, Any]:
        seen["thread"] = threading.current_thread().name
        seen["waited"] = other_answered.wait(3.0)  # the key-set fetch: until the public request is answered
        return jwt.decode(token, pub, algorithms=["RS256"], audience=AUD, issuer=ISS)  # type: ignore[no-any-return]

    wrapped = jwtobs.wrap(validate, library="pyjwt", profile="slow", raise_as="jwtobs")
    auth = BearerAuth(wrapped, realm=REALM, threadpool=threadpool)
    app: Any
    if framework == "fastapi":
        app = FastAPI()
        dep = jwt_auth(auth)

        @app.get("/slow")
        async def slow(p: Principal = Depends(dep)) -> dict[str, str]:  # noqa: B008
            return {"sub": str(p.subject)}

        @app.get("/health")
        async def health() -> dict[str, str]:
            return {"ok": "yes"}

    else:

        async def slow_ep(req: Any) -> JSONResponse:
            return JSONResponse({"sub": str(req.user.principal.subject)})

        @jwt_route(public=True)
        async def health_ep(req: Any) -> JSONResponse:
            return JSONResponse({"ok": "yes"})

        app = Starlette(
            routes=[Route("/slow", slow_ep), Route("/health", health_ep)],
            middleware=[Middleware(JwtAuthMiddleware, auth=auth)],
        )
    with UvicornThread(app, log_level="warning") as server, ThreadPoolExecutor(2) as pool:
        token = keys.token()
        slow_reply = pool.submit(request, server.base, "/slow", (("Authorization", f"Bearer {token}"),))
        deadline = time.monotonic() + 3
        while "thread" not in seen and time.monotonic() < deadline:
            time.sleep(0.005)
        health = pool.submit(request, server.base, "/health")
        health_reply = health.result(10)
        other_answered.set()
        reply = slow_reply.result(10)
    assert reply.status == 200 and health_reply.status == 200
    assert seen["waited"] is threadpool
    assert (seen["thread"] == server.thread.name) is not threadpool  # the loop's thread, or a worker
    assert [e.outcome for e in stack.events] == ["accepted"]


@pytest.mark.parametrize("middleware", ["JwtobsLifespan", "JwtAuthMiddleware"])
def test_events_are_written_at_the_lifespan_shutdown(middleware: str, keys: Keys, tmp_path: Any) -> None:
    """uvicorn ends its process on SIGTERM by raising the signal again after its shutdown, so jwtobs's ``atexit``
    flush never runs there: the events still buffered (the builder and the writer run about once a second) were
    lost on every ``docker stop`` (tests/integrations/test_real_servers.py: 209 of 209 on uvicorn and gunicorn's
    uvicorn worker before session 21). The middleware writes them before answering the lifespan shutdown."""
    import asyncio

    from fastapi import Depends, FastAPI
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    import jwtobs
    from jwtobs.integrations import BearerAuth, Principal
    from jwtobs.integrations.fastapi import JwtobsLifespan, jwt_auth
    from jwtobs.integrations.starlette import JwtAuthMiddleware
    from tests.integrations.harness import AUD, ISS, REALM

    events = tmp_path / "events.jsonl"
    jwtobs.configure(events_path=events, fingerprint_key="k" * 32, issuers=[ISS], from_env=False)  # deferred
    verifier = jwtobs.Verifier(
        jwtobs.Profile(name="items", issuer=ISS, audience=AUD),
        keys=jwtobs.StaticKeys({"k1": keys.good.private.public_key()}),
    )
    auth = BearerAuth(verifier.verify, realm=REALM)
    app: Any
    if middleware == "JwtobsLifespan":
        app = FastAPI()

        @app.get("/items")
        async def items(p: Principal = Depends(jwt_auth(auth))) -> dict[str, str]:  # noqa: B008
            return {"sub": str(p.subject)}

        app.add_middleware(JwtobsLifespan)
    else:

        async def items_ep(req: Any) -> JSONResponse:
            return JSONResponse({"sub": str(req.user.principal.subject)})

        app = Starlette(routes=[Route("/items", items_ep)], middleware=[Middleware(JwtAuthMiddleware, auth=auth)])

    lines_at_complete: list[int] = []

    async def lifespan_and_requests() -> list[int]:
        import httpx

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            codes = [
                (await client.get("/items", headers={"Authorization": f"Bearer {tok}"})).status_code
                for tok in (keys.token(), keys.token(sub="other"), "abc.def.ghi")
            ]
        inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        for message in ("lifespan.startup", "lifespan.shutdown"):
            inbox.put_nowait({"type": message})

        async def send(message: Any) -> None:
            if message["type"] == "lifespan.shutdown.complete":  # what the server waits for before exiting
                lines_at_complete.append(len(events.read_text().splitlines()) if events.exists() else 0)

        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, send)
        return codes

    assert asyncio.run(lifespan_and_requests()) == [200, 200, 401]
    assert lines_at_complete == [3]
