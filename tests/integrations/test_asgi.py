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
