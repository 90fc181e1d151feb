"""The FastAPI and Starlette test apps: the same routes as the Flask and Django apps."""

import logging
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request, Security
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request as SRequest
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwtobs.integrations import Principal, tenant_from_header, tenant_from_path
from jwtobs.integrations.fastapi import jwt_auth
from jwtobs.integrations.starlette import JwtAuthMiddleware, jwt_route
from tests.integrations.harness import AsgiServerSpan, Authenticators, Stack

app_log = logging.getLogger("app")


class LogHeaders:
    """What careless apps do: log every request header (Authorization and Cookie included)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            app_log.info("request %s %s headers=%s", scope["method"], scope["path"], headers)
        await self.app(scope, receive, send)


def fastapi_app(a: Authenticators, stack: Stack) -> FastAPI:
    app = FastAPI()
    read = jwt_auth(a.main, scopes=["items:read"])
    user = jwt_auth(a.main)  # /admin adds its scope with Security(...)
    by_path = jwt_auth(a.main, scopes=["items:read"], tenant=tenant_from_path("tenant"))
    by_header = jwt_auth(a.main, tenant=tenant_from_header("X-Tenant"))
    down = jwt_auth(a.down)
    wrapped = jwt_auth(a.wrapped)

    @app.get("/items")
    async def items(p: Annotated[Principal, Depends(read)]) -> dict[str, Any]:
        return p.as_dict()

    @app.get("/admin")
    async def admin(p: Annotated[Principal, Security(user, scopes=["items:write"])]) -> dict[str, Any]:
        return p.as_dict()

    @app.get("/tenants/{tenant}/items")
    async def tenant_items(tenant: str, p: Annotated[Principal, Depends(by_path)]) -> dict[str, Any]:
        return p.as_dict()

    @app.get("/h/items")
    async def header_items(p: Annotated[Principal, Depends(by_header)]) -> dict[str, Any]:
        return p.as_dict()

    @app.get("/down/items")
    async def down_items(p: Annotated[Principal, Depends(down)]) -> dict[str, Any]:
        return p.as_dict()

    @app.get("/wrapped/items")
    def wrapped_items(p: Annotated[Principal, Depends(wrapped)]) -> dict[str, Any]:
        return p.as_dict()

    @app.get("/public")
    async def public() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/boom")
    async def boom(request: Request, p: Annotated[Principal, Depends(read)]) -> dict[str, Any]:
        raise RuntimeError(f"backend refused {request.headers['authorization']}")

    app.add_middleware(LogHeaders)
    app.add_middleware(AsgiServerSpan, tracer=lambda: stack.tracer)
    return app


def starlette_app(a: Authenticators, stack: Stack) -> Starlette:
    def me(request: SRequest) -> JSONResponse:
        assert request.user.is_authenticated
        assert set(request.auth.scopes) == set(request.user.principal.scopes)
        return JSONResponse(request.user.principal.as_dict())

    @jwt_route(scopes=["items:read"])
    async def items(request: SRequest) -> JSONResponse:
        return me(request)

    @jwt_route(scopes=["items:write"])
    async def admin(request: SRequest) -> JSONResponse:
        return me(request)

    @jwt_route(scopes=["items:read"], tenant=tenant_from_path("tenant"))
    async def tenant_items(request: SRequest) -> JSONResponse:
        return me(request)

    @jwt_route(tenant=tenant_from_header("X-Tenant"))
    async def header_items(request: SRequest) -> JSONResponse:
        return me(request)

    @jwt_route(auth=a.down)
    async def down_items(request: SRequest) -> JSONResponse:
        return me(request)

    @jwt_route(auth=a.wrapped)
    async def wrapped_items(request: SRequest) -> JSONResponse:
        return me(request)

    @jwt_route(public=True)
    async def public(request: SRequest) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def boom(request: SRequest) -> JSONResponse:
        raise RuntimeError(f"backend refused {request.headers['authorization']}")

    routes = [
        Route("/items", items),
        Route("/admin", admin),
        Route("/tenants/{tenant}/items", tenant_items),
        Route("/h/items", header_items),
        Route("/down/items", down_items),
        Route("/wrapped/items", wrapped_items),
        Route("/public", public),
        Route("/boom", boom),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(AsgiServerSpan, tracer=lambda: stack.tracer),
            Middleware(LogHeaders),
            Middleware(JwtAuthMiddleware, auth=a.main),
        ],
    )
