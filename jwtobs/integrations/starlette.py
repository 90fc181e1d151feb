"""Starlette: an ``AuthenticationBackend`` (``request.user`` / ``request.auth``) and a middleware that answers
with RFC 6750 responses.

One line::

    app = Starlette(routes=..., middleware=[Middleware(JwtAuthMiddleware, auth=BearerAuth(verifier.verify))])

Every route then requires a valid token; per-route rules come from the :func:`jwt_route` decorator on the
endpoint (scopes, tenant from a path parameter or a header, or ``public=True``), on an ``HTTPEndpoint`` class or
on its methods. The route is found with Starlette's own matching in the router behind the middleware (through
``Mount`` and ``Host``) before the endpoint runs, so path parameters are available for tenant binding; a decorated
endpoint the lookup missed enforces its requirements itself when it is called.

The verified :class:`~jwtobs.integrations.common.Principal` is ``request.user.principal`` (and
``request.scope["jwtobs.principal"]``; :mod:`jwtobs.integrations.fastapi` reuses it for the same ``BearerAuth``,
so a request is never verified, nor recorded, twice by one authenticator). ``request.auth.scopes`` are the token's
scopes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any, Final, TypeVar

from jwtobs import extras

try:
    import anyio.from_thread
    from starlette.authentication import (
        AuthCredentials,
        AuthenticationBackend,
        AuthenticationError,
        BaseUser,
        UnauthenticatedUser,
    )
    from starlette.datastructures import Headers
    from starlette.endpoints import HTTPEndpoint, WebSocketEndpoint
    from starlette.exceptions import WebSocketException
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import HTTPConnection
    from starlette.responses import Response
    from starlette.routing import BaseRoute, Host, Match, Mount, Router
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
    from starlette.websockets import WebSocket
except ModuleNotFoundError as _exc:  # the extra is not installed: say which
    raise extras.missing(_exc, "jwtobs.integrations.starlette") from None

from jwtobs.exceptions import ConfigurationError, JwtobsError
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
#: ASGI scope keys: the middleware's BearerAuth, and the (jwt_route spec, BearerAuth) pairs enforced so far
_AUTH_KEY: Final = "jwtobs.auth"
_ENFORCED_KEY: Final = "jwtobs.enforced"
#: RFC 6455 §7.4.1: the close code of a refused WebSocket
_WS_POLICY_VIOLATION: Final = 1008

F = TypeVar("F", bound=Callable[..., Any])

#: the request JwtAuthMiddleware is passing on (for endpoints that take no request argument)
_SCOPE: ContextVar[Scope | None] = ContextVar("jwtobs_starlette_scope", default=None)


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
    return _http_response(denial)


def jwt_route(
    *,
    scopes: Iterable[str] | str = (),
    tenant: TenantSource | None = None,
    public: bool = False,
    auth: BearerAuth | None = None,
) -> Callable[[F], F]:
    """Declare an endpoint's requirements: every scope in ``scopes``, the tenant bound to the token's tenant,
    or ``public=True`` (no authentication, no event). ``auth``: this route's own :class:`BearerAuth` (another
    issuer or key set) instead of the middleware's.

    Decorates an endpoint function (sync or async, HTTP or WebSocket), an ``HTTPEndpoint``/``WebSocketEndpoint``
    class, or a method of one (``async def post(self, request)``, where Starlette's ``@requires`` goes). The
    middleware enforces the requirements before the endpoint runs; the decorated endpoint also checks, when it is
    called, that they were enforced for this request, and enforces them itself otherwise (a route the middleware's
    lookup missed: under ``Host(...)``, behind a router it cannot see), so a lookup miss never drops a requirement.
    A requirement declared on a route is mandatory also with ``optional=True``. Anything else (another class, an
    ASGI app object) raises :class:`~jwtobs.exceptions.ConfigurationError` here."""
    spec: object = (
        _PUBLIC if public else _Spec(RouteRule.of(scopes, tenant) if auth is None else auth.rule(scopes, tenant), auth)
    )

    def decorate(endpoint: F) -> F:
        guarded: F = _guard(endpoint, spec)
        return guarded

    return decorate


class _Spec:
    __slots__ = ("auth", "rule")

    def __init__(self, rule: RouteRule, auth: BearerAuth | None) -> None:
        self.rule = rule
        self.auth = auth


def _guard(endpoint: Any, spec: object) -> Any:
    """``endpoint`` marked with ``spec`` and, unless public, checking at call time that it was enforced."""
    if inspect.isclass(endpoint):
        if not issubclass(endpoint, (HTTPEndpoint, WebSocketEndpoint)):
            raise ConfigurationError(
                f"jwt_route cannot guard the class {endpoint.__name__}: decorate an endpoint function, an "
                "HTTPEndpoint or WebSocketEndpoint class, or one of their methods"
            )
        setattr(endpoint, _RULE_ATTR, spec)
        if isinstance(spec, _Spec):
            setattr(endpoint, "dispatch", _guarded_dispatch(endpoint.dispatch, spec))  # noqa: B010 - a class attribute
        return endpoint
    if not (inspect.isfunction(endpoint) or inspect.ismethod(endpoint) or isinstance(endpoint, functools.partial)):
        raise ConfigurationError(
            f"jwt_route cannot guard a {type(endpoint).__name__}: decorate an endpoint function, an HTTPEndpoint or "
            "WebSocketEndpoint class, or one of their methods"
        )
    if not isinstance(spec, _Spec):  # public: nothing to enforce at call time
        try:
            setattr(endpoint, _RULE_ATTR, spec)
            return endpoint
        except (AttributeError, TypeError):  # a bound method: mark a wrapper instead
            pass
    guarded = _guarded_function(endpoint, spec)
    setattr(guarded, _RULE_ATTR, spec)
    return guarded


def _is_async(fn: Any) -> bool:
    """Whether Starlette awaits ``fn`` (it runs a synchronous endpoint in a worker thread)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn)


def _conn_of(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> HTTPConnection:
    for value in (*args, *kwargs.values()):
        if isinstance(value, HTTPConnection):
            return value
    scope = _SCOPE.get()  # an endpoint without a request parameter (a FastAPI path operation): JwtAuthMiddleware's
    if scope is not None:
        return HTTPConnection(scope)
    # fail closed: without the request nothing can be checked
    raise ConfigurationError(
        "a jwt_route endpoint was called without a request or websocket argument, and not behind JwtAuthMiddleware"
    )


def _guarded_function(endpoint: Any, spec: object) -> Any:
    if _is_async(endpoint):

        @functools.wraps(endpoint)
        async def guarded(*args: Any, **kwargs: Any) -> Any:
            conn = _conn_of(args, kwargs)
            if isinstance(spec, _Spec) and not _was_enforced(conn.scope, spec):
                denial = await _backstop(conn, spec)
                if denial is not None:
                    return await _refusal(conn, denial, endpoint_is_function=bool(args) and args[0] is conn)
            return await endpoint(*args, **kwargs)

        return guarded

    @functools.wraps(endpoint)
    def guarded_sync(*args: Any, **kwargs: Any) -> Any:  # Starlette runs it in a worker thread of anyio's pool
        conn = _conn_of(args, kwargs)
        if isinstance(spec, _Spec) and not _was_enforced(conn.scope, spec):
            denial = anyio.from_thread.run(_backstop, conn, spec)  # (raises outside anyio's worker threads)
            if denial is not None:
                if conn.scope.get("type") != "http":
                    raise WebSocketException(_WS_POLICY_VIOLATION, denial.error or "authentication required")
                return _http_response(denial)
        return endpoint(*args, **kwargs)

    return guarded_sync


def _guarded_dispatch(dispatch: Callable[[Any], Awaitable[None]], spec: _Spec) -> Callable[[Any], Awaitable[None]]:
    @functools.wraps(dispatch)
    async def guarded(self: Any) -> None:
        scope = self.scope
        if not _was_enforced(scope, spec):
            conn = HTTPConnection(scope)
            denial = await _backstop(conn, spec)
            if denial is not None:
                await _send_refusal(scope, self.receive, self.send, denial)
                return
        await dispatch(self)

    return guarded


def _was_enforced(scope: Mapping[str, Any], spec: _Spec) -> bool:
    auth = spec.auth or scope.get(_AUTH_KEY)
    return any(s is spec and a is auth for s, a in scope.get(_ENFORCED_KEY, ()))


def _mark(scope: Scope, spec: _Spec, auth: BearerAuth) -> None:
    enforced = scope.get(_ENFORCED_KEY)
    if not isinstance(enforced, list):
        enforced = scope[_ENFORCED_KEY] = []
    enforced.append((spec, auth))


async def _backstop(conn: HTTPConnection, spec: _Spec) -> Denial | None:
    """Enforce ``spec`` at the endpoint (the middleware did not, for this request): None, or the refusal."""
    scope = conn.scope
    auth = spec.auth or scope.get(_AUTH_KEY)
    if not isinstance(auth, BearerAuth):  # no middleware, and no auth= of its own: never run unauthenticated
        raise ConfigurationError(
            "a jwt_route endpoint was reached without JwtAuthMiddleware (or JwtAuthBackend) in front of it, and "
            "declares no auth= of its own: refused"
        )
    rule = auth.rule(spec.rule.scopes, spec.rule.tenant)  # (tenant support, as the middleware checks it)
    try:
        principal = await _enforce(conn, auth, rule, conn.path_params)
    except AuthDenied as denied:
        return denied.denial
    _mark(scope, spec, auth)
    if not isinstance(scope.get("user"), JwtUser):  # request.user works without the middleware, too
        scope["auth"], scope["user"] = AuthCredentials(sorted(principal.scopes)), JwtUser(principal)
        scope[PRINCIPAL_KEY] = principal
    return None


async def _enforce(conn: HTTPConnection, auth: BearerAuth, rule: RouteRule, params: Mapping[str, Any]) -> Principal:
    """The request's principal for ``rule``: the one ``auth`` verified earlier in the request (its tenant must be the
    route's), else verified now (one event). Raises AuthDenied."""
    scope = conn.scope
    existing = common.verified_principal(scope, auth)  # (by this authenticator only)
    tenant = auth.tenant_of(rule, params, conn.headers.getlist)
    if existing is not None:  # another tenant than it was verified for: refused and recorded, never widened
        return auth.reused(existing, rule, tenant)
    headers = conn.headers.getlist("authorization")
    query = conn.query_params.getlist(auth.query_param) if auth.query_param else []
    principal = await auth.aauthenticate(headers, query, rule=rule, tenant=tenant)
    common.remember_principal(scope, auth, principal)
    return principal


def _http_response(denial: Denial) -> Response:
    return Response(
        denial.body, status_code=denial.status, headers=denial.header_dict(), media_type=denial.content_type
    )


def _http_denial(scope: Mapping[str, Any]) -> bool:
    """Whether the server lets a WebSocket handshake be answered with an HTTP response (the ASGI extension
    ``websocket.http.response``: uvicorn, Hypercorn, Starlette's TestClient): then a refused WebSocket gets the
    same 401/403/503 with its ``WWW-Authenticate`` challenge as an HTTP request, not a bare 403."""
    return "websocket.http.response" in (scope.get("extensions") or {})


async def _deny_handshake(send: Send, denial: Denial) -> None:
    """The denial as the WebSocket handshake's HTTP response (:func:`_http_denial`), or a close with 1008 before
    the WebSocket is accepted (the server answers the handshake with 403)."""
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in denial.headers]
    headers += [(b"content-type", denial.content_type.encode()), (b"content-length", str(len(denial.body)).encode())]
    await send({"type": "websocket.http.response.start", "status": denial.status, "headers": headers})
    await send({"type": "websocket.http.response.body", "body": denial.body, "more_body": False})


async def _close_refused(scope: Mapping[str, Any], send: Send, denial: Denial) -> None:
    if _http_denial(scope):
        await _deny_handshake(send, denial)
    else:
        await send({"type": "websocket.close", "code": _WS_POLICY_VIOLATION, "reason": ""})


async def _refusal(conn: HTTPConnection, denial: Denial, *, endpoint_is_function: bool) -> Response | None:
    if conn.scope.get("type") == "http":
        return _http_response(denial)
    if endpoint_is_function and isinstance(conn, WebSocket):  # the websocket endpoint itself: refuse the handshake
        await _close_refused(conn.scope, conn.send, denial)
        return None
    raise WebSocketException(_WS_POLICY_VIOLATION, denial.error or "authentication required")


async def _send_refusal(scope: Scope, receive: Receive, send: Send, denial: Denial) -> None:
    if scope.get("type") == "http":
        await _http_response(denial)(scope, receive, send)
    else:
        await _close_refused(scope, send, denial)


def _find_route(routes: Iterable[BaseRoute], scope: Scope, depth: int = 0) -> tuple[Any, dict[str, Any]]:
    """The endpoint and path parameters the router will pick, or ``(None, {})``: Starlette's own matching, through
    ``Mount`` and ``Host`` (and any route holding ``routes``). ``matches`` reads the scope and returns the child's
    part, as the router calls it (no copy of the scope per route and request)."""
    for route in routes:
        match, child = route.matches(scope)
        if match is not Match.FULL:
            continue
        params = dict(child.get("path_params", {}))
        inner = getattr(route, "routes", None)
        if isinstance(route, (Mount, Host)) or (isinstance(inner, list) and not hasattr(route, "endpoint")):
            if depth >= _MAX_MOUNT_DEPTH or not isinstance(inner, list):
                return None, params
            endpoint, sub = _find_route(inner, {**scope, **child}, depth + 1)
            return endpoint, {**params, **sub}
        return getattr(route, "endpoint", None), params
    return None, {}


def _targets(endpoint: Any, scope: Mapping[str, Any]) -> tuple[Any, ...]:
    """What may carry a jwt_route mark for this request: the endpoint, and an HTTPEndpoint's method handler."""
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    if inspect.isclass(endpoint) and issubclass(endpoint, HTTPEndpoint) and scope.get("type") == "http":
        method = str(scope.get("method", "GET"))
        name = "get" if method == "HEAD" and not hasattr(endpoint, "head") else method.lower()
        handler = getattr(endpoint, name, None)  # (as HTTPEndpoint.dispatch picks it)
        if handler is not None:
            return endpoint, handler
    return (endpoint,)


class _Resolved:
    __slots__ = ("auth", "rule", "spec")

    def __init__(self, spec: _Spec | None, auth: BearerAuth, rule: RouteRule) -> None:
        self.spec = spec
        self.auth = auth
        self.rule = rule


class JwtAuthBackend(AuthenticationBackend):
    """Authenticates bearer tokens with a :class:`BearerAuth` (use with Starlette's ``AuthenticationMiddleware``
    and ``on_error=denial_response``, or through :class:`JwtAuthMiddleware`).

    rule: the default for routes without :func:`jwt_route` (default: a valid token, no scope, no tenant).
    optional: requests without any credential pass as anonymous (no event) instead of getting a 401, on routes
        that declare no :func:`jwt_route` requirement (a declared one is mandatory: 401 ``JWT_MISSING``).
    """

    def __init__(self, auth: BearerAuth, *, rule: RouteRule | None = None, optional: bool = False) -> None:
        if not isinstance(auth, BearerAuth):
            raise TypeError("JwtAuthBackend needs a jwtobs.integrations.BearerAuth")
        self.auth = auth
        self.default = rule or RouteRule()
        self.optional = optional
        self._rules: dict[Any, object] = {}
        self._default: tuple[_Resolved, ...] = (_Resolved(None, auth, self.default),)
        #: set by JwtAuthMiddleware: the router behind it (when it can see it), else scope["app"]'s is used
        self._router_source: Callable[[], Any] | None = None

    def _routes(self, scope: Mapping[str, Any]) -> Iterable[BaseRoute]:
        router = self._router_source() if self._router_source is not None else None
        if router is None:
            router = getattr(scope.get("app"), "router", None)
        routes = getattr(router, "routes", None)
        return routes if isinstance(routes, list) else ()

    def _resolve(self, target: Any) -> object:
        spec = getattr(target, _RULE_ATTR, None)
        if isinstance(spec, _Spec):
            auth = spec.auth or self.auth
            return _Resolved(spec, auth, auth.rule(spec.rule.scopes, spec.rule.tenant))  # tenant support, once
        return spec if spec is _PUBLIC else None

    def _rule_for(self, targets: tuple[Any, ...]) -> object:
        """``_PUBLIC``, or the requirements to enforce: every jwt_route of the endpoint (class and method), else
        the default. A requirement wins over ``public=True`` (never widened)."""
        key = targets if len(targets) > 1 else targets[0]
        try:
            cached = self._rules.get(key)
        except TypeError:  # unhashable endpoint
            cached = None
        if cached is not None:
            return cached
        found = [self._resolve(t) for t in targets if t is not None]
        declared = tuple(r for r in found if isinstance(r, _Resolved))
        rule: object = declared or (_PUBLIC if _PUBLIC in found else self._default)
        if len(self._rules) < 4096:
            try:
                self._rules[key] = rule
            except TypeError:
                pass
        return rule

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        scope = conn.scope
        scope[_AUTH_KEY] = self.auth
        endpoint, params = _find_route(self._routes(scope), scope)
        resolved = self._rule_for(_targets(endpoint, scope))
        if resolved is _PUBLIC:
            return None
        assert isinstance(resolved, tuple)
        if self.optional and resolved is self._default:  # (a route's declared requirement is mandatory)
            headers = conn.headers.getlist("authorization")
            query = conn.query_params.getlist(self.auth.query_param) if self.auth.query_param else []
            if not headers and not query:
                return None
        principal: Principal | None = None
        try:
            for item in resolved:
                found = await _enforce(conn, item.auth, item.rule, params)
                if item.spec is not None:
                    _mark(scope, item.spec, item.auth)
                if principal is None or item.auth is self.auth:
                    principal = found
        except AuthDenied as denied:
            raise DeniedError(denied.denial) from None
        assert principal is not None
        scope[PRINCIPAL_KEY] = principal
        return AuthCredentials(sorted(principal.scopes)), JwtUser(principal)


class JwtAuthMiddleware(AuthenticationMiddleware):
    """Starlette's ``AuthenticationMiddleware`` with :class:`JwtAuthBackend` and RFC 6750 error responses; it also
    does what :class:`JwtobsLifespan` does at the ASGI lifespan startup and shutdown.

    The routes are looked up in the router behind it (``Starlette(middleware=[...])``, ``app.add_middleware``, or
    ``JwtAuthMiddleware(app, auth=...)`` around an app or a ``Router``), through ``Mount`` and ``Host``. A refused
    WebSocket is closed before it is accepted with 1008 (policy violation; the server answers the handshake with
    403). A CORS preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``, which carries no
    credentials) is answered by the ``CORSMiddleware`` behind this one, unauthenticated and unrecorded."""

    def __init__(
        self, app: ASGIApp, *, auth: BearerAuth, rule: RouteRule | None = None, optional: bool = False
    ) -> None:
        backend = JwtAuthBackend(auth, rule=rule, optional=optional)
        super().__init__(app, backend=backend, on_error=denial_response)
        self._backend = backend
        self._router: Any = None
        self._cors: Any = None
        self._walked = False
        backend._router_source = self._downstream_router

    def _walk(self) -> None:
        """The router and the CORSMiddleware behind this middleware, following the middlewares' ``app``."""
        obj: Any = self.app
        for _ in range(64):
            if isinstance(obj, CORSMiddleware) and self._cors is None:
                self._cors = obj
            if isinstance(obj, Router):
                self._router = obj
                break
            router = getattr(obj, "router", None)
            if isinstance(router, Router) and not isinstance(obj, BaseRoute):  # Starlette, FastAPI
                self._router = router
                break
            nxt = getattr(obj, "app", None)
            if nxt is None or nxt is obj:
                break
            obj = nxt
        self._walked = True

    def _downstream_router(self) -> Any:
        if not self._walked:
            self._walk()
        return self._router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, receive, _lifespan_send(send))
            return
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if kind == "http" and scope.get("method") == "OPTIONS":
            if not self._walked:
                self._walk()
            if self._cors is not None:
                headers = Headers(scope=scope)
                if "origin" in headers and "access-control-request-method" in headers:
                    # a CORS preflight, which the CORSMiddleware behind would answer without calling the app: it
                    # answers it here (nothing else runs, so nothing runs unauthenticated)
                    await self._cors.preflight_response(request_headers=headers)(scope, receive, send)
                    return
        conn = HTTPConnection(scope)
        try:
            result = await self._backend.authenticate(conn)
        except AuthenticationError as exc:
            denial = getattr(exc, "denial", None)
            if kind == "websocket" and isinstance(denial, Denial):
                # the handshake's HTTP response where the server allows one, else a close with 1008 (Starlette's
                # AuthenticationMiddleware closes with 1000, a normal closure)
                await _close_refused(scope, send, denial)
            elif kind == "websocket":
                await send({"type": "websocket.close", "code": _WS_POLICY_VIOLATION, "reason": ""})
            else:
                await self.on_error(conn, exc)(scope, receive, send)
            return
        scope["auth"], scope["user"] = result if result is not None else (AuthCredentials(), UnauthenticatedUser())
        token = _SCOPE.set(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            _SCOPE.reset(token)


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
