"""FastAPI: a dependency that returns the verified :class:`~jwtobs.integrations.common.Principal`.

One line per route (or per router, ``APIRouter(dependencies=[...])``)::

    auth = BearerAuth(verifier.verify, realm="billing")

    @app.get("/tenants/{tenant}/invoices")
    async def invoices(p: Principal = Depends(jwt_auth(auth, scopes=["invoices:read"], tenant=tenant_from_path()))):
        ...

or with FastAPI's security scopes (the scopes of every ``Security(...)`` in the chain are required)::

    user = jwt_auth(auth)
    async def admin(p: Principal = Security(user, scopes=["admin"])): ...

Rejections are ``HTTPException`` with the RFC 6750 status and headers (400/401/403/503, see
:mod:`jwtobs.integrations.common`). A request is verified once per authenticator even when several
dependencies ask (and when :class:`~jwtobs.integrations.starlette.JwtAuthMiddleware` already did with the same
``BearerAuth``): the principal is kept in the ASGI scope with the authenticator that verified it, so there is
one validation event per request and authenticator; a dependency with another ``BearerAuth`` (another issuer,
key set or audience) verifies the token itself. The dependency also declares an HTTP bearer security scheme,
so the OpenAPI page shows the padlock.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from jwtobs import extras

try:
    from fastapi import Depends, HTTPException
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, SecurityScopes
    from starlette.exceptions import WebSocketException
    from starlette.requests import HTTPConnection
except ModuleNotFoundError as _exc:  # the extra is not installed: say which
    raise extras.missing(_exc, "jwtobs.integrations.fastapi") from None

from jwtobs.integrations import common
from jwtobs.integrations.common import AuthDenied, BearerAuth, Denial, Principal, RouteRule, TenantSource
from jwtobs.integrations.starlette import PRINCIPAL_KEY, JwtobsLifespan

__all__ = ["JwtobsLifespan", "http_exception", "jwt_auth"]

_DENIAL_KEY = "jwtobs.denial"
#: RFC 6455 §7.4.1 policy violation: a refused WebSocket is closed with it (as JwtAuthMiddleware does)
_WS_POLICY_VIOLATION = 1008


def http_exception(denial: Denial) -> HTTPException:
    """The ``HTTPException`` for a denial: its status, its headers, and a generic ``detail``."""
    detail: Any = json.loads(denial.body)
    detail = detail.get("error", detail.get("detail"))
    return HTTPException(status_code=denial.status, detail=detail, headers=denial.header_dict())


def _refusal(scope: Any, denial: Denial) -> Exception:
    """The HTTPException of a denial, or for a WebSocket the close with 1008 (before it is accepted: the server
    answers the handshake with 403)."""
    if scope.get("type") == "websocket":
        return WebSocketException(_WS_POLICY_VIOLATION, denial.error or "authentication required")
    return http_exception(denial)


def jwt_auth(
    auth: BearerAuth,
    *,
    scopes: Iterable[str] | str = (),
    tenant: TenantSource | None = None,
    scheme_name: str = "bearer",
) -> Callable[..., Awaitable[Principal]]:
    """A dependency (``Depends(...)`` / ``Security(..., scopes=[...])``) returning the request's Principal, on HTTP
    and WebSocket routes (a refused WebSocket is closed with 1008, policy violation).

    scopes: required on every route using this dependency (added to the ``Security`` scopes).
    tenant: bind the request tenant (``tenant_from_path("tenant")`` / ``tenant_from_header("X-Tenant")``)
        to the token's tenant; needs an authenticator that takes ``tenant=`` (``Verifier.verify`` does).
    """
    if not isinstance(auth, BearerAuth):
        raise TypeError("jwt_auth needs a jwtobs.integrations.BearerAuth")
    base = auth.rule(scopes, tenant)  # checked at import time, not on a request
    openapi = HTTPBearer(auto_error=False, scheme_name=scheme_name)
    rules: dict[frozenset[str], RouteRule] = {}

    async def principal(
        request: HTTPConnection,  # a Request, or a WebSocket on a websocket route
        security_scopes: SecurityScopes,
        _scheme: HTTPAuthorizationCredentials | None = Depends(openapi),  # noqa: B008 - FastAPI's idiom
    ) -> Principal:
        rule = base
        if security_scopes.scopes:
            key = frozenset(security_scopes.scopes)
            rule = rules.get(key) or rules.setdefault(key, RouteRule(base.scopes | key, base.tenant))
        scope = request.scope
        denied = scope.get(_DENIAL_KEY)
        if isinstance(denied, Denial):  # an earlier dependency of this request was refused
            raise _refusal(scope, denied)
        found = common.verified_principal(scope, auth)  # (this authenticator's only)
        try:
            if found is not None:
                # verified earlier in this request: another tenant is refused and recorded, never widened
                tenant = auth.tenant_of(rule, request.path_params, request.headers.getlist)
                return auth.reused(found, rule, tenant)
            headers = request.headers.getlist("authorization")
            query = request.query_params.getlist(auth.query_param) if auth.query_param else []
            tenant_value = auth.tenant_of(rule, request.path_params, request.headers.getlist)
            result = await auth.aauthenticate(headers, query, tenant=tenant_value)
            common.remember_principal(scope, auth, result)
            scope[PRINCIPAL_KEY] = result
            return auth.check(result, rule)
        except AuthDenied as exc:
            if exc.denial.status != 403:
                scope[_DENIAL_KEY] = exc.denial
            raise _refusal(scope, exc.denial) from None

    return principal
