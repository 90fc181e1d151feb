"""Starlette: an ``AuthenticationBackend`` (``request.user`` / ``request.auth``) and a middleware that answers
with RFC 6750 responses.

One line::

    app = Starlette(routes=..., middleware=[Middleware(JwtAuthMiddleware, auth=BearerAuth(verifier.verify))])

Every route then requires a valid token; per-route rules come from the :func:`jwt_route` decorator on the
endpoint (scopes, tenant from a path parameter or a header, or ``public=True``). The route is found with the
app's own router before the endpoint runs, so path parameters are available for tenant binding.

The verified :class:`~jwtobs.integrations.common.Principal` is ``request.user.principal`` (and
``request.scope["jwtobs.principal"]``; :mod:`jwtobs.integrations.fastapi` reuses it for the same ``BearerAuth``,
so a request is never verified, nor recorded, twice by one authenticator). ``request.auth.scopes`` are the token's
scopes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

from jwtobs import extras

try:
    from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.requests import HTTPConnection
    from starlette.responses import Response
    from starlette.routing import BaseRoute, Match, Mount
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
except ModuleNotFoundError as _exc:  # the extra is not installed: say which
    raise extras.missing(_exc, "jwtobs.integrations.starlette") from None

from jwtobs.exceptions import JwtobsError
from jwtobs.integrations import common
from jwtobs.integrations.common import AuthDenied, BearerAuth, Denial, Principal, RouteRule, TenantSource

__all__ = [
    "JwtAuthBackend",
    "JwtAuthMiddleware",
    "JwtUser",
    "JwtobsLifespan",
    "PRINCIPAL_KEY",
    "denial_response",
    "jwt_route",
]

#: ASGI scope key holding the request's Principal once verified
PRINCIPAL_KEY: Final = "jwtobs.principal"
_RULE_ATTR: Final = "__jwtobs_rule__"
_PUBLIC: Final = object()
_MAX_MOUNT_DEPTH: Final = 8

F = TypeVar("F", bound=Callable[..., Any])


class JwtUser(BaseUser):
    """``request.user`` for a verified token."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.principal.subject or ""

    @property
    def identity(self) -> str:
        return self.principal.subject or ""


class DeniedError(AuthenticationError, JwtobsError):
    """Carries the :class:`Denial` from the backend to :func:`denial_response` (message stays generic)."""

    def __init__(self, denial: Denial) -> None:
        self.denial = denial
        super().__init__(f"request refused ({denial.status})")


def denial_response(conn: HTTPConnection, exc: Exception) -> Response:
    """``on_error`` for Starlette's ``AuthenticationMiddleware``: the RFC 6750 response, nothing more."""
    denial = getattr(exc, "denial", None)
    if not isinstance(denial, Denial):  # another backend's error: a plain 400, as Starlette does
        return Response("authentication error", status_code=400)
    return Response(
        denial.body, status_code=denial.status, headers=denial.header_dict(), media_type=denial.content_type
    )


def jwt_route(
    *,
    scopes: Iterable[str] | str = (),
    tenant: TenantSource | None = None,
    public: bool = False,
    auth: BearerAuth | None = None,
) -> Callable[[F], F]:
    """Declare an endpoint's requirements: every scope in ``scopes``, the tenant bound to the token's tenant,
    or ``public=True`` (no authentication, no event). ``auth``: this route's own :class:`BearerAuth` (another
    issuer or key set) instead of the middleware's."""
    spec: object = (
        _PUBLIC if public else _Spec(RouteRule.of(scopes, tenant) if auth is None else auth.rule(scopes, tenant), auth)
    )

    def decorate(endpoint: F) -> F:
        setattr(endpoint, _RULE_ATTR, spec)
        return endpoint

    return decorate


class _Spec:
    __slots__ = ("auth", "rule")

    def __init__(self, rule: RouteRule, auth: BearerAuth | None) -> None:
        self.rule = rule
        self.auth = auth


def _find_route(routes: Iterable[BaseRoute], scope: Mapping[str, Any], depth: int = 0) -> tuple[Any, dict[str, Any]]:
    """The endpoint and path parameters the router will pick, or ``(None, {})``."""
    for route in routes:
        match, child = route.matches(dict(scope))
        if match is not Match.FULL:
            continue
        params = dict(child.get("path_params", {}))
        if isinstance(route, Mount) and depth < _MAX_MOUNT_DEPTH:
            inner = getattr(route, "routes", None) or []
            endpoint, sub = _find_route(inner, {**scope, **child}, depth + 1)
            return endpoint, {**params, **sub}
        return getattr(route, "endpoint", None), params
    return None, {}


class JwtAuthBackend(AuthenticationBackend):
    """Authenticates bearer tokens with a :class:`BearerAuth` (use with Starlette's ``AuthenticationMiddleware``
    and ``on_error=denial_response``, or through :class:`JwtAuthMiddleware`).

    rule: the default for routes without :func:`jwt_route` (default: a valid token, no scope, no tenant).
    optional: requests without any credential pass as anonymous (no event) instead of getting a 401.
    """

    def __init__(self, auth: BearerAuth, *, rule: RouteRule | None = None, optional: bool = False) -> None:
        if not isinstance(auth, BearerAuth):
            raise TypeError("JwtAuthBackend needs a jwtobs.integrations.BearerAuth")
        self.auth = auth
        self.default = rule or RouteRule()
        self.optional = optional
        self._rules: dict[Any, object] = {}
        self._default = _Spec(self.default, None)

    def _rule_for(self, endpoint: Any) -> object:
        if endpoint is None:
            return self._default
        try:
            cached = self._rules.get(endpoint)
        except TypeError:  # unhashable endpoint
            cached = None
        if cached is not None:
            return cached
        spec = getattr(endpoint, _RULE_ATTR, None)
        if isinstance(spec, _Spec):
            auth = spec.auth or self.auth
            rule: object = _Spec(auth.rule(spec.rule.scopes, spec.rule.tenant), auth)  # tenant support, once
        elif spec is _PUBLIC:
            rule = _PUBLIC
        else:
            rule = self._default
        if len(self._rules) < 4096:
            try:
                self._rules[endpoint] = rule
            except TypeError:
                pass
        return rule

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        scope = conn.scope
        app = scope.get("app")
        router = getattr(app, "router", None)
        endpoint, params = _find_route(getattr(router, "routes", ()), scope) if router is not None else (None, {})
        spec = self._rule_for(endpoint)
        if spec is _PUBLIC:
            return None
        assert isinstance(spec, _Spec)
        rule = spec.rule
        auth = spec.auth or self.auth
        existing = common.verified_principal(scope, auth)  # (by this authenticator only)
        if existing is not None:
            return AuthCredentials(sorted(existing.scopes)), JwtUser(existing)
        headers = conn.headers.getlist("authorization")
        query = conn.query_params.getlist(auth.query_param) if auth.query_param else []
        if self.optional and not headers and not query:
            return None
        try:
            tenant = auth.tenant_of(rule, params, conn.headers.getlist)
            principal = await auth.aauthenticate(headers, query, rule=rule, tenant=tenant)
        except AuthDenied as denied:
            raise DeniedError(denied.denial) from None
        common.remember_principal(scope, auth, principal)
        scope[PRINCIPAL_KEY] = principal
        return AuthCredentials(sorted(principal.scopes)), JwtUser(principal)


class JwtAuthMiddleware(AuthenticationMiddleware):
    """Starlette's ``AuthenticationMiddleware`` with :class:`JwtAuthBackend` and RFC 6750 error responses; it also
    does what :class:`JwtobsLifespan` does at the ASGI lifespan startup and shutdown."""

    def __init__(
        self, app: ASGIApp, *, auth: BearerAuth, rule: RouteRule | None = None, optional: bool = False
    ) -> None:
        super().__init__(app, backend=JwtAuthBackend(auth, rule=rule, optional=optional), on_error=denial_response)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, _lifespan_send(send))
            return
        await super().__call__(scope, receive, send)


class JwtobsLifespan:
    """ASGI middleware for the server's lifespan: at startup it installs log redaction again, on the handlers the
    server configured since the application was imported; at shutdown it writes jwtobs's buffered events
    (:func:`jwtobs.flush`) before the application answers. FastAPI::

        app.add_middleware(JwtobsLifespan)

    Shutdown: events are built and written by background threads about once a second, and the rest at process exit
    (``atexit``). uvicorn (alone, and as gunicorn's ``uvicorn.workers.UvicornWorker``) ends its process on SIGTERM
    by raising the signal again once it has shut down, so ``atexit`` never runs there: before session 21 every event
    of the last second or two before a ``docker stop`` or a rolling deploy was lost (209 of 209 in
    ``tests/integrations/test_real_servers.py``, stopped right after its requests).

    Startup: ``uvicorn.run(app, log_config=...)`` configures logging after the application's module ran
    ``redact.install()``; the root handler it makes had no filter, and the application's own log lines reached it
    unredacted (2 tokens of 2 before session 21).

    :class:`JwtAuthMiddleware` does both by itself. Needs the server's lifespan protocol on (uvicorn's and
    hypercorn's default ``auto``). Neither step ever stops the startup or the shutdown (a failure is logged)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, _lifespan_send(send) if scope["type"] == "lifespan" else send)


_STARTUP_MESSAGES: Final = frozenset({"lifespan.startup.complete"})
_SHUTDOWN_MESSAGES: Final = frozenset({"lifespan.shutdown.complete", "lifespan.shutdown.failed"})


def _lifespan_send(send: Send) -> Send:
    """``send`` that installs redaction before passing on the application's answer to the lifespan startup, and
    runs :func:`jwtobs.flush` (in a worker thread: it may wait for a write) before its answer to the shutdown."""

    async def lifespan_send(message: Message) -> None:
        kind = message.get("type")
        if kind in _STARTUP_MESSAGES:
            common.install_redaction()  # (never raises)
        elif kind in _SHUTDOWN_MESSAGES:
            await _flush_events()
        await send(message)

    return lifespan_send


async def _flush_events() -> None:
    from jwtobs import config

    try:
        await common._run_sync(config.flush)
    except Exception:  # observability never breaks the shutdown
        common.log.warning("jwtobs: writing the buffered events at shutdown failed", exc_info=True)
