"""Session 33: a Starlette route's declared requirements are always enforced, the FastAPI dependency works on
WebSocket routes, and CORS preflights pass ``JwtAuthMiddleware`` when a ``CORSMiddleware`` behind it answers them.

Real Starlette/FastAPI apps (TestClient), a key generated for the session, real RS256 tokens. Before this session:
a route under ``Host(...)``, behind ``JwtAuthMiddleware(app, auth=...)`` or decorated on an ``HTTPEndpoint``
method fell back to the default rule (any valid token: 200 for a token without the scope); ``optional=True`` ran
a route declaring scopes or a tenant for a request without credential (200, anonymous); ``Depends(jwt_auth(...))``
on a WebSocket route raised ``TypeError`` for every connection; a preflight got 401 and a ``JWT_MISSING`` event.
"""

from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Security, WebSocket
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint, WebSocketEndpoint
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Host, Mount, Route, Router, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

import jwtobs
from jwtobs.events import ValidationEvent
from jwtobs.exceptions import ConfigurationError
from jwtobs.integrations import BearerAuth, Principal, tenant_from_path
from jwtobs.integrations.fastapi import jwt_auth
from jwtobs.integrations.starlette import JwtAuthMiddleware, jwt_route
from tests.integrations.harness import AUD, ISS, REALM, Keys, Stack

Events = list[tuple[str, str | None]]


@pytest.fixture
def auth(keys: Keys, stack: Stack) -> BearerAuth:
    profile = jwtobs.Profile(name="items", issuer=ISS, audience=AUD, tenant_claim="tid")
    verifier = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k1": keys.good.private.public_key()}))
    return BearerAuth(verifier.verify, realm=REALM)


def events(stack: Stack) -> Events:
    jwtobs.flush()
    found = [(e.outcome, e.reason) for e in stack.events if isinstance(e, ValidationEvent)]
    stack.events.clear()
    return found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@jwt_route(scopes=["items:admin"])
async def admin(request: Request) -> JSONResponse:
    return JSONResponse({"ran": "admin", "sub": request.user.principal.subject})


@jwt_route(scopes=["items:admin"])
def admin_sync(request: Request) -> JSONResponse:  # (Starlette runs it in a worker thread)
    return JSONResponse({"ran": "admin_sync", "sub": request.user.principal.subject})


@jwt_route(tenant=tenant_from_path("tenant"))
async def tenant_data(request: Request) -> JSONResponse:
    return JSONResponse({"tenant": request.path_params["tenant"]})


@jwt_route(public=True)
async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def plain(request: Request) -> JSONResponse:
    return JSONResponse({"authenticated": request.user.is_authenticated})


ROUTES = [
    Route("/admin", admin),
    Route("/admin-sync", admin_sync),
    Route("/t/{tenant}/data", tenant_data),
    Route("/health", health),
    Route("/plain", plain),
]


def check_admin_routes(client: TestClient, keys: Keys, stack: Stack, prefix: str = "") -> None:
    """/admin needs items:admin: a read token gets 403 (one accepted event), an admin token 200; /health is
    public: 200 without a token, no event."""
    for path in ("/admin", "/admin-sync"):
        r = client.get(prefix + path, headers=bearer(keys.token()))
        assert (r.status_code, r.json()) == (403, {"error": "insufficient_scope", "scope": "items:admin"}), path
        assert events(stack) == [("accepted", None)]
        r = client.get(prefix + path, headers=bearer(keys.token(scope="items:read items:admin")))
        assert r.status_code == 200 and r.json()["sub"] == "user-123", path
        assert events(stack) == [("accepted", None)]
    r = client.get(prefix + "/health")
    assert r.status_code == 200 and events(stack) == []


# -- issue 4: a route's requirements are enforced wherever the route is -------------------------------------
def test_host_routes(auth: BearerAuth, keys: Keys, stack: Stack) -> None:
    """Before: /admin under Host(...) answered 200 to a read token, /health 401 without one."""
    app = Starlette(
        routes=[Host("api.example.com", app=Router(routes=ROUTES)), Mount("/m", routes=ROUTES)],
        middleware=[Middleware(JwtAuthMiddleware, auth=auth)],
    )
    check_admin_routes(TestClient(app, base_url="http://api.example.com"), keys, stack)
    check_admin_routes(TestClient(app, base_url="http://other.example.com"), keys, stack, prefix="/m")


@pytest.mark.parametrize("inner", ["Starlette", "Router"])
def test_middleware_wrapped_around_the_app(inner: str, auth: BearerAuth, keys: Keys, stack: Stack) -> None:
    """``JwtAuthMiddleware(app, auth=...)``: no ``scope["app"]`` yet; the router behind the middleware is used.
    Before: 200 for a read token on /admin, 401 on the public /health."""
    app: Any = Starlette(routes=ROUTES) if inner == "Starlette" else Router(routes=ROUTES)
    check_admin_routes(TestClient(JwtAuthMiddleware(app, auth=auth)), keys, stack)


class Opaque:
    """A middleware that hides what is behind it (no ``app`` attribute): the route lookup cannot see through."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._inner(scope, receive, send)


def test_endpoint_enforces_what_the_lookup_missed(auth: BearerAuth, keys: Keys, stack: Stack) -> None:
    """A route the middleware cannot find gets its default rule (a valid token), and the decorated endpoint then
    enforces its own requirements (scopes, tenant) when it is called. Before: 200 for both."""
    app = Starlette(
        routes=[Mount("/o", app=Opaque(Router(routes=ROUTES)))], middleware=[Middleware(JwtAuthMiddleware, auth=auth)]
    )
    client = TestClient(app)
    for path in ("/o/admin", "/o/admin-sync"):
        r = client.get(path, headers=bearer(keys.token()))
        assert (r.status_code, r.json()) == (403, {"error": "insufficient_scope", "scope": "items:admin"}), path
        assert events(stack) == [("accepted", None)]  # verified once (middleware), checked again at the endpoint
        r = client.get(path, headers=bearer(keys.token(scope="items:admin")))
        assert r.status_code == 200 and events(stack) == [("accepted", None)]
    r = client.get("/o/t/globex/data", headers=bearer(keys.token()))  # an acme token
    assert (r.status_code, r.headers["www-authenticate"]) == (401, f'Bearer realm="{REALM}", error="invalid_token"')
    assert events(stack)[-1] == ("rejected", "JWT_TENANT_MISMATCH")
    r = client.get("/o/t/acme/data", headers=bearer(keys.token()))
    assert (r.status_code, r.json()) == (200, {"tenant": "acme"})


def test_endpoint_without_middleware(auth: BearerAuth, keys: Keys, stack: Stack) -> None:
    """A decorated endpoint no middleware guards: with ``auth=`` of its own it authenticates by itself (RFC 6750
    answers, one event); without, it refuses every request (500, ConfigurationError) rather than run."""

    @jwt_route(scopes=["items:admin"], auth=auth)
    async def own(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.principal.subject})

    app = Starlette(routes=[Route("/own", own), Route("/admin", admin)])
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/own")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, f'Bearer realm="{REALM}"')
    assert events(stack) == [("rejected", "JWT_MISSING")]
    assert client.get("/own", headers=bearer(keys.token())).status_code == 403
    r = client.get("/own", headers=bearer(keys.token(scope="items:admin")))
    assert (r.status_code, r.json()) == (200, {"sub": "user-123"})
    assert client.get("/admin", headers=bearer(keys.token(scope="items:admin"))).status_code == 500
    with pytest.raises(ConfigurationError):
        TestClient(app).get("/admin", headers=bearer(keys.token(scope="items:admin")))


def test_httpendpoint_methods(auth: BearerAuth, keys: Keys, stack: Stack) -> None:
    """``@jwt_route`` on an HTTPEndpoint method (where Starlette's ``@requires`` goes), async and sync; a class
    requirement and a method's add up. Before: the method's was ignored (201 for a read token)."""

    class Items(HTTPEndpoint):
        async def get(self, request: Request) -> JSONResponse:
            return JSONResponse({"items": []})

        @jwt_route(scopes=["items:write"])
        async def post(self, request: Request) -> JSONResponse:
            return JSONResponse({"created": True}, status_code=201)

        @jwt_route(scopes=["items:delete"])
        def delete(self, request: Request) -> PlainTextResponse:
            return PlainTextResponse("", status_code=204)

    @jwt_route(scopes=["items:read"])
    class Locked(HTTPEndpoint):
        @jwt_route(scopes=["items:write"])
        async def post(self, request: Request) -> JSONResponse:
            return JSONResponse({"created": True}, status_code=201)

    app = Starlette(
        routes=[Route("/items", Items), Route("/locked", Locked)], middleware=[Middleware(JwtAuthMiddleware, auth=auth)]
    )
    client = TestClient(app)
    read, write = bearer(keys.token()), bearer(keys.token(scope="items:write"))
    assert client.get("/items", headers=read).status_code == 200
    r = client.post("/items", headers=read)
    assert (r.status_code, r.json()) == (403, {"error": "insufficient_scope", "scope": "items:write"})
    assert client.post("/items", headers=write).status_code == 201
    assert client.delete("/items", headers=write).status_code == 403
    assert client.delete("/items", headers=bearer(keys.token(scope="items:delete"))).status_code == 204
    assert client.post("/items").status_code == 401
    assert client.post("/locked", headers=write).status_code == 403  # the class's items:read is missing
    assert client.post("/locked", headers=read).status_code == 403
    assert client.post("/locked", headers=bearer(keys.token(scope="items:read items:write"))).status_code == 201
    events(stack)
    # behind an opaque mount the middleware sees neither: the class and the method enforce themselves
    hidden = Starlette(
        routes=[Mount("/o", app=Opaque(Router(routes=[Route("/items", Items)])))],
        middleware=[Middleware(JwtAuthMiddleware, auth=auth)],
    )
    r = TestClient(hidden).post("/o/items", headers=read)
    assert r.status_code == 403 and events(stack) == [("accepted", None)]


def test_jwt_route_refuses_what_it_cannot_guard() -> None:
    class NotAnEndpoint:
        pass

    with pytest.raises(ConfigurationError):
        jwt_route(scopes=["a"])(NotAnEndpoint)
    with pytest.raises(ConfigurationError):
        jwt_route(scopes=["a"])(Opaque(None))


# -- issue 5: optional=True never makes a declared requirement optional ---------------------------------------
def test_optional_keeps_declared_requirements(auth: BearerAuth, keys: Keys, stack: Stack) -> None:
    """Before: /admin and /t/globex/data ran as anonymous (200, no event) for a request without credential."""
    app = Starlette(routes=ROUTES, middleware=[Middleware(JwtAuthMiddleware, auth=auth, optional=True)])
    client = TestClient(app)
    for path in ("/admin", "/admin-sync", "/t/globex/data"):
        r = client.get(path)
        assert (r.status_code, r.headers["www-authenticate"]) == (401, f'Bearer realm="{REALM}"'), path
        assert events(stack) == [("rejected", "JWT_MISSING")]
    r = client.get("/plain")  # no requirement declared: anonymous, as before
    assert (r.status_code, r.json()) == (200, {"authenticated": False}) and events(stack) == []
    r = client.get("/plain", headers=bearer(keys.token()))
    assert (r.status_code, r.json()) == (200, {"authenticated": True}) and events(stack) == [("accepted", None)]


# -- WebSockets: the handshake refused with the HTTP denial, or closed with 1008 ---------------------------------
def ws_outcome(client: TestClient, path: str, headers: dict[str, str]) -> Any:
    """The JSON the endpoint sent, the close code of a refused WebSocket, or ``(status, WWW-Authenticate)`` of a
    handshake refused with an HTTP response (the ASGI extension ``websocket.http.response``, session 34)."""
    try:
        with client.websocket_connect(path, headers=headers) as ws:
            return ws.receive_json()
    except WebSocketDenialResponse as denial:  # (a WebSocketDisconnect too)
        return denial.status_code, denial.headers.get("www-authenticate", "").split(",")[-1].strip()
    except WebSocketDisconnect as exc:
        return exc.code


class WithoutHttpDenial:
    """A server without the ``websocket.http.response`` extension (uvicorn before 0.30, Daphne): the refusal is
    a close with 1008 before the WebSocket is accepted."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        scope = {**scope, "extensions": {k: v for k, v in (scope.get("extensions") or {}).items() if "http" not in k}}
        await self.app(scope, receive, send)


def test_fastapi_dependency_on_websocket_routes(auth: BearerAuth, keys: Keys, stack: Stack) -> None:
    """Before: TypeError (principal() missing 'request') for every connection, no event."""
    app = FastAPI()
    user = jwt_auth(auth)

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, p: Annotated[Principal, Depends(user)]) -> None:
        await websocket.accept()
        await websocket.send_json({"sub": p.subject})
        await websocket.close()

    @app.websocket("/ws/admin")
    async def ws_admin(websocket: WebSocket, p: Annotated[Principal, Security(user, scopes=["items:admin"])]) -> None:
        await websocket.accept()
        await websocket.send_json({"sub": p.subject})
        await websocket.close()

    client = TestClient(app)
    assert ws_outcome(client, "/ws", bearer(keys.token())) == {"sub": "user-123"}
    assert events(stack) == [("accepted", None)]
    assert ws_outcome(client, "/ws", {}) == 1008
    assert events(stack) == [("rejected", "JWT_MISSING")]
    assert ws_outcome(client, "/ws", bearer(keys.token(exp=1))) == 1008
    assert events(stack) == [("rejected", "JWT_EXPIRED")]
    assert ws_outcome(client, "/ws/admin", bearer(keys.token())) == 1008
    assert events(stack) == [("accepted", None)]
    assert ws_outcome(client, "/ws/admin", bearer(keys.token(scope="items:admin"))) == {"sub": "user-123"}


def test_starlette_websockets_closed_with_policy_violation(auth: BearerAuth, keys: Keys, stack: Stack) -> None:
    """``JwtAuthMiddleware`` refuses a WebSocket's handshake with the HTTP denial (401 with its challenge, 403
    insufficient_scope) where the server allows one, else closes it with 1008 (Starlette's AuthenticationMiddleware,
    which it used, closes with 1000, a normal closure), and a decorated WebSocket endpoint enforces its scopes."""

    @jwt_route(scopes=["items:admin"])
    async def ws(websocket: Any) -> None:
        await websocket.accept()
        await websocket.send_json({"sub": websocket.user.principal.subject})
        await websocket.close()

    @jwt_route(scopes=["items:admin"])
    class Echo(WebSocketEndpoint):
        encoding = "json"

        async def on_connect(self, websocket: Any) -> None:
            await websocket.accept()
            await websocket.send_json({"sub": websocket.user.principal.subject})

    routes = [WebSocketRoute("/ws", ws), WebSocketRoute("/echo", Echo)]
    for app in (
        Starlette(routes=routes, middleware=[Middleware(JwtAuthMiddleware, auth=auth)]),
        Starlette(
            routes=[Mount("/o", app=Opaque(Router(routes=routes)))],
            middleware=[Middleware(JwtAuthMiddleware, auth=auth)],
        ),
    ):
        prefix = "/o" if isinstance(app.routes[0], Mount) else ""
        for client, missing, scope in (
            # the handshake's HTTP response: 401 with the challenge, 403 insufficient_scope (session 34)
            (TestClient(app), (401, f'Bearer realm="{REALM}"'), (403, 'scope="items:admin"')),
            (TestClient(WithoutHttpDenial(app)), 1008, 1008),
        ):
            for path in ("/ws", "/echo"):
                assert ws_outcome(client, prefix + path, {}) == missing
                assert events(stack) == [("rejected", "JWT_MISSING")]
                assert ws_outcome(client, prefix + path, bearer(keys.token())) == scope
                assert events(stack) == [("accepted", None)]
                got = ws_outcome(client, prefix + path, bearer(keys.token(scope="items:admin")))
                assert got == {"sub": "user-123"}
                assert events(stack) == [("accepted", None)]


# -- issue 17: CORS preflights ---------------------------------------------------------------------------------
PREFLIGHT = {
    "Origin": "https://app.example",
    "Access-Control-Request-Method": "GET",
    "Access-Control-Request-Headers": "authorization",
}


def test_cors_preflight_behind_the_middleware(auth: BearerAuth, keys: Keys, stack: Stack) -> None:
    """``[JwtAuthMiddleware, CORSMiddleware]``: the preflight (no credentials, by the Fetch standard) is answered
    by CORSMiddleware's preflight response, without an event; anything else still needs a token. Before: 401 and
    a JWT_MISSING event for every preflight."""
    ran: list[str] = []

    class Options(HTTPEndpoint):
        async def options(self, request: Request) -> PlainTextResponse:
            ran.append("options")
            return PlainTextResponse("options ran")

    routes = [Route("/items", plain), Route("/opt", Options)]
    cors = Middleware(CORSMiddleware, allow_origins=["https://app.example"], allow_methods=["*"], allow_headers=["*"])
    app = Starlette(routes=routes, middleware=[Middleware(JwtAuthMiddleware, auth=auth), cors])
    client = TestClient(app)
    for path in ("/items", "/opt"):
        r = client.options(path, headers=PREFLIGHT)
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example", path
        assert events(stack) == []
    assert ran == []  # the preflight never reaches an endpoint
    # an OPTIONS that is no preflight (no Access-Control-Request-Method), and a GET: authenticated as before
    assert client.options("/opt", headers={"Origin": "https://app.example"}).status_code == 401
    assert client.get("/items", headers={"Origin": "https://app.example"}).status_code == 401
    assert events(stack) == [("rejected", "JWT_MISSING")] * 2 and ran == []
    # no CORSMiddleware behind it: a preflight-shaped request is authenticated like any other
    bare = TestClient(Starlette(routes=routes, middleware=[Middleware(JwtAuthMiddleware, auth=auth)]))
    assert bare.options("/opt", headers=PREFLIGHT).status_code == 401
    assert events(stack) == [("rejected", "JWT_MISSING")] and ran == []


def test_middleware_on_a_mount(auth: BearerAuth, keys: Keys, stack: Stack) -> None:
    """``Mount(..., middleware=[Middleware(JwtAuthMiddleware, ...)])``: the routes are looked up in the mount's
    router, not in the app's (``scope["app"]``), whose public /admin answered for the mount's /s/admin before (the
    mounted endpoint ran without a token: 200)."""

    @jwt_route(public=True)
    async def outer_admin(request: Request) -> JSONResponse:
        return JSONResponse({"outer": True})

    mounted = Mount("/s", routes=ROUTES, middleware=[Middleware(JwtAuthMiddleware, auth=auth)])
    client = TestClient(Starlette(routes=[Route("/admin", outer_admin), mounted]))
    assert client.get("/admin").status_code == 200
    r = client.get("/s/admin")
    assert (r.status_code, r.headers["www-authenticate"]) == (401, f'Bearer realm="{REALM}"')
    assert events(stack) == [("rejected", "JWT_MISSING")]
    check_admin_routes(client, keys, stack, prefix="/s")


def test_fastapi_path_operation_marked_with_jwt_route(auth: BearerAuth, keys: Keys, stack: Stack) -> None:
    """A FastAPI path operation without a request parameter, marked ``@jwt_route`` behind ``JwtAuthMiddleware``:
    enforced also when the lookup cannot see it (a sub-application behind an opaque wrapper; before: 200 for a
    read token), through the request the middleware passes on."""
    sub = FastAPI()

    @sub.get("/admin")
    @jwt_route(scopes=["items:admin"])
    def sub_admin() -> dict[str, bool]:
        return {"ran": True}

    app = FastAPI()
    app.mount("/o", Opaque(sub))
    app.add_middleware(JwtAuthMiddleware, auth=auth)
    client = TestClient(app)
    r = client.get("/o/admin", headers=bearer(keys.token()))
    assert (r.status_code, r.json()) == (403, {"error": "insufficient_scope", "scope": "items:admin"})
    assert events(stack) == [("accepted", None)]
    r = client.get("/o/admin", headers=bearer(keys.token(scope="items:admin")))
    assert (r.status_code, r.json()) == (200, {"ran": True})
    assert client.get("/o/admin").status_code == 401


def test_fastapi_reused_principal_refused_for_another_tenant_is_recorded(
    auth: BearerAuth, keys: Keys, stack: Stack
) -> None:
    """A router's dependency verifies the token (no tenant), the route's binds the path tenant: a token of another
    tenant is refused (401) and the refusal recorded. Before: 401 with the router's ``accepted`` as the only
    event, so the events said the request was accepted."""
    from fastapi import APIRouter

    router = APIRouter(dependencies=[Depends(jwt_auth(auth))])
    bound = jwt_auth(auth, tenant=tenant_from_path("tenant"))

    @router.get("/tenants/{tenant}/data")
    async def data(tenant: str, p: Annotated[Principal, Depends(bound)]) -> dict[str, str]:
        return {"tenant": tenant}

    app = FastAPI()
    app.include_router(router)
    client = TestClient(app)
    r = client.get("/tenants/acme/data", headers=bearer(keys.token()))
    assert (r.status_code, r.json()) == (200, {"tenant": "acme"}) and events(stack) == [("accepted", None)]
    r = client.get("/tenants/globex/data", headers=bearer(keys.token()))
    assert (r.status_code, r.headers["www-authenticate"]) == (401, f'Bearer realm="{REALM}", error="invalid_token"')
    assert events(stack) == [("accepted", None), ("rejected", "JWT_TENANT_MISMATCH")]
    r = client.get("/tenants/globex/data", headers=bearer(keys.token(tid=None)))  # a token without a tenant
    assert r.status_code == 401 and events(stack) == [("accepted", None), ("rejected", "JWT_TENANT_MISMATCH")]
