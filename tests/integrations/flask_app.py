"""The Flask test app: the same routes as the ASGI and Django apps."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, request

from jwtobs.integrations import tenant_from_header, tenant_from_path
from jwtobs.integrations.flask import JwtAuth
from tests.integrations.harness import Authenticators, Stack, wsgi_server_span

app_log = logging.getLogger("app")


def flask_app(a: Authenticators, stack: Stack) -> Flask:
    app = Flask("items_app")
    jwt = JwtAuth(app, auth=a.main)
    down = JwtAuth(auth=a.down)
    wrapped = JwtAuth(auth=a.wrapped)

    @app.before_request
    def log_headers() -> None:
        app_log.info("request %s %s headers=%s", request.method, request.path, dict(request.headers))

    @app.get("/items")
    @jwt.required(scopes=["items:read"])
    def items() -> Any:
        return g.principal.as_dict()

    @app.get("/admin")
    @jwt.required(scopes=["items:write"])
    def admin() -> Any:
        return g.principal.as_dict()

    @app.get("/tenants/<tenant>/items")
    @jwt.required(scopes=["items:read"], tenant=tenant_from_path("tenant"))
    def tenant_items(tenant: str) -> Any:
        return g.principal.as_dict()

    @app.get("/h/items")
    @jwt.required(tenant=tenant_from_header("X-Tenant"))
    def header_items() -> Any:
        return g.principal.as_dict()

    @app.get("/down/items")
    @down.required()
    def down_items() -> Any:
        return g.principal.as_dict()

    @app.get("/wrapped/items")
    @wrapped.required()
    def wrapped_items() -> Any:
        return g.principal.as_dict()

    @app.get("/public")
    def public() -> Any:
        return {"ok": True}

    @app.get("/boom")
    @jwt.required(scopes=["items:read"])
    def boom() -> Any:
        raise RuntimeError(f"backend refused {request.headers['Authorization']}")

    app.wsgi_app = wsgi_server_span(app.wsgi_app, lambda: stack.tracer)  # type: ignore[method-assign]
    return app
