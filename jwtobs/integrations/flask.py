"""Flask: an extension and a decorator; the verified principal is ``g.principal`` (or :func:`current_principal`).

One line for the app, one decorator per view::

    jwt = JwtAuth(app, auth=BearerAuth(verifier.verify, realm="billing"))

    @app.get("/tenants/<tenant>/invoices")
    @jwt.required(scopes=["invoices:read"], tenant=tenant_from_path())
    def invoices(tenant):
        return {"sub": g.principal.subject}

``JwtAuth(app)`` without ``auth=`` reads ``app.config["JWTOBS_AUTH"]`` (a :class:`BearerAuth`, or an
authenticator callable wrapped with ``JWTOBS_REALM``). ``init_app`` installs :mod:`jwtobs.redact` for
logging and an error handler that answers with the RFC 6750 response (400/401/403/503, see
:mod:`jwtobs.integrations.common`). A request is verified once even when decorated views nest.

The app factory pattern works: ``jwt = JwtAuth()`` at module level, views decorated at import, ``jwt.init_app(app)``
in ``create_app``; each app keeps its own authenticator (``app.extensions["jwtobs"]``), looked up through
``current_app`` when a request arrives. ``async def`` views can be decorated (Flask runs them with ``ensure_sync``).

What a request verified belongs to that request (its WSGI environ), never to the app context: ``g`` lives in the
app context, which every request shares when one is pushed already (``app.app_context().push()`` at import under
gunicorn's sync worker, a test's ``with app.app_context():``). Before session 33 the principal was kept on ``g``
only, so there a request without a token, with garbage or with another user's expired token was served (200) as
the previous caller. ``g.principal`` is still set for the view, from the request's own principal, and removed
when the request ends.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar, cast

from jwtobs import extras

try:
    from flask import Flask, Response, after_this_request, current_app, g, has_app_context, has_request_context, request
except ModuleNotFoundError as _exc:  # the extra is not installed: say which
    raise extras.missing(_exc, "jwtobs.integrations.flask") from None

from jwtobs.exceptions import ConfigurationError
from jwtobs.integrations import common
from jwtobs.integrations.common import AuthDenied, BearerAuth, Principal, RouteRule, TenantSource, install_redaction

__all__ = ["JwtAuth", "current_principal"]

F = TypeVar("F", bound=Callable[..., Any])
_EXTENSION: Final = "jwtobs"
#: the request's principal, in its WSGI environ (one dict per request, whatever app context it runs in)
_PRINCIPAL: Final = "jwtobs.principal"


def current_principal() -> Principal | None:
    """The principal the innermost ``@jwt.required`` verified for the current request, or ``None`` (no request, or
    no decorated check passed in it). Read from the request itself, never from the app context."""
    if not has_request_context():
        return None
    p = request.environ.get(_PRINCIPAL)
    return p if isinstance(p, Principal) else None


class _AppState:
    """What ``init_app`` keeps on one app (``app.extensions["jwtobs"]``): the authenticator of each :class:`JwtAuth`
    initialised for it (several may guard one app: users and admins of two issuers)."""

    __slots__ = ("auths",)

    def __init__(self) -> None:
        self.auths: dict[JwtAuth, BearerAuth] = {}


def _state_of(app: Flask) -> _AppState | None:
    state = app.extensions.get(_EXTENSION)
    return state if isinstance(state, _AppState) else None


def _forget_principal(exc: BaseException | None = None) -> None:
    """``teardown_request``: the request's ``g.principal`` goes with it (``g`` outlives the request when an app
    context was pushed around it)."""
    p = request.environ.get(_PRINCIPAL)
    if p is not None and g.get("principal") is p:
        g.pop("principal", None)


def _forget_after(response: Response) -> Response:
    _forget_principal()
    return response


def _configured_auth(app: Flask) -> BearerAuth:
    configured = app.config.get("JWTOBS_AUTH")
    if isinstance(configured, BearerAuth):
        return configured
    if callable(configured):
        return BearerAuth(configured, realm=app.config.get("JWTOBS_REALM", "api"))
    raise ConfigurationError(
        f"JwtAuth.init_app({app.name!r}): app.config['JWTOBS_AUTH'] is not set (a BearerAuth, or an authenticator "
        "such as verifier.verify); set it before init_app, or pass JwtAuth(auth=BearerAuth(...))"
    )


class _ScrubbedStream:
    """A request's ``wsgi.errors`` whose writes are scrubbed by :func:`jwtobs.redact.scrub` (which never raises)."""

    __slots__ = ("_stream",)

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> Any:
        from jwtobs.redact import scrub

        return self._stream.write(scrub(text) if isinstance(text, str) else text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _RedactedErrors:
    """WSGI middleware: the request's ``wsgi.errors`` scrubbed, in the environ every layer shares. Werkzeug's
    debugger (``flask run --debug``) writes a view's traceback there, outside logging, and so does Flask's own
    handler of ``app.logger``; before session 21 the debugger printed the exception message, token and all."""

    __slots__ = ("app",)

    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        errors = environ.get("wsgi.errors")
        if errors is not None and not isinstance(errors, _ScrubbedStream):
            environ["wsgi.errors"] = _ScrubbedStream(errors)
        return self.app(environ, start_response)


class JwtAuth:
    """The Flask extension. ``auth``: the :class:`BearerAuth` of every app (default: each app's own, from its
    config, read at ``init_app``)."""

    def __init__(self, app: Flask | None = None, *, auth: BearerAuth | None = None) -> None:
        self._auth = auth
        #: the authenticator of the latest init_app (for :attr:`auth` outside an app context)
        self._last: BearerAuth | None = None
        #: the rules declared with this extension, checked against each app's authenticator at init_app
        self._declared: set[RouteRule] = set()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Use this extension on ``app``: its authenticator is ``auth=`` or ``app.config["JWTOBS_AUTH"]`` (read now,
        for this app only). Raises :class:`ConfigurationError` when there is none, or when a view decorated
        already binds a tenant and this authenticator cannot."""
        auth = self._auth if self._auth is not None else _configured_auth(app)
        for rule in self._declared:
            if rule.tenant is not None:
                auth.rule(rule.scopes, rule.tenant)
        state = _state_of(app)
        if state is None:
            state = _AppState()
            app.extensions[_EXTENSION] = state
            app.teardown_request(_forget_principal)
            app.register_error_handler(AuthDenied, _respond)
        state.auths[self] = auth
        self._last = auth
        # Flask logs a view's exception on app.logger (named after the app, not "flask.app"), and gives it its
        # own handler, writing to the request's wsgi.errors, when no configured handler would take the record:
        # the logger itself is covered, whatever handler it gets later (before session 21 an app that configured
        # no logging printed the exception message, token and all, under flask run, gunicorn and waitress:
        # tests/integrations/test_real_servers.py). Not app.logger: reading it here would make Flask decide on its
        # handler now, before the app's own logging set-up
        install_redaction(app.name)
        if not isinstance(app.wsgi_app, _RedactedErrors):
            app.wsgi_app = _RedactedErrors(app.wsgi_app)  # type: ignore[method-assign]

    @property
    def auth(self) -> BearerAuth:
        """The authenticator: the current app's (in an app context), else ``auth=``, else the latest init_app's."""
        found = self._own() if has_app_context() else self._auth
        if found is not None:
            return found
        if self._last is not None:
            return self._last
        raise ConfigurationError("JwtAuth has no authenticator: call init_app(app), or pass JwtAuth(auth=...)")

    def _own(self) -> BearerAuth | None:
        """The current app's authenticator, else ``auth=``, else None. Never another app's."""
        state = _state_of(current_app)
        found = None if state is None else state.auths.get(self)
        return found if found is not None else self._auth

    def _request_auth(self) -> BearerAuth:
        """The authenticator for the request being served: its app's, else ``auth=``. Never another app's."""
        found = self._own()
        if found is not None:
            return found
        raise ConfigurationError(
            f"JwtAuth was not initialised for the app {current_app.name!r}: call jwt.init_app(app) (with "
            "app.config['JWTOBS_AUTH'] set), or pass JwtAuth(auth=BearerAuth(...)); request refused"
        )

    def required(self, *, scopes: Iterable[str] | str = (), tenant: TenantSource | None = None) -> Callable[[F], F]:
        """Decorator: the view runs only for a valid token with every scope (and the bound tenant).

        May be applied before ``init_app`` (app factories): the scopes are checked now, the authenticator is the
        app's when a request arrives. ``async def`` views stay coroutine functions."""
        rule = RouteRule.of(scopes, tenant)
        known = self._auth if self._auth is not None else self._last
        if known is not None:
            known.rule(rule.scopes, rule.tenant)  # a tenant binding this authenticator cannot do: say it now
        self._declared.add(rule)
        guard = functools.partial(self._guard, rule)

        def decorate(view: F) -> F:
            if inspect.iscoroutinefunction(view):

                @functools.wraps(view)
                async def aguarded(*args: Any, **kwargs: Any) -> Any:
                    denied = guard()
                    if denied is not None:
                        return denied
                    return await view(*args, **kwargs)

                return cast(F, aguarded)

            @functools.wraps(view)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                denied = guard()
                if denied is not None:
                    return denied
                return view(*args, **kwargs)

            return cast(F, guarded)

        return decorate

    def _guard(self, rule: RouteRule) -> Response | None:
        """Verify the current request for ``rule``: ``None`` (the principal set) or the refusal's response."""
        auth = self._request_auth()
        try:
            principal = _authorize(auth, rule)
        except AuthDenied as exc:  # answered here, so a JwtAuth without init_app still responds
            return _respond(exc)
        request.environ[_PRINCIPAL] = principal
        g.principal = principal
        if _state_of(current_app) is None:  # no init_app on this app, so no teardown: drop it when the request ends
            after_this_request(_forget_after)
        return None


def _authorize(auth: BearerAuth, rule: RouteRule) -> Principal:
    """The request's principal for ``auth`` and ``rule``, verified once per request and authenticator (kept in the
    request's environ, never on ``g``), or raises :class:`AuthDenied`."""
    if rule.tenant is not None:
        auth.rule(rule.scopes, rule.tenant)  # ConfigurationError when this app's authenticator cannot bind one
    holder = request.environ
    found = common.verified_principal(holder, auth)  # (this authenticator's only)
    tenant_value = auth.tenant_of(rule, request.view_args or {}, request.headers.getlist)
    if found is None:
        query = request.args.getlist(auth.query_param) if auth.query_param else []
        principal = auth.authenticate(request.headers.getlist("Authorization"), query, rule=rule, tenant=tenant_value)
        common.remember_principal(holder, auth, principal)
        return principal
    # an outer decorator of this authenticator verified it: another tenant is refused, and recorded (before session
    # 33 a 401 with no event of its own: the request's only event said accepted), then the scopes (403)
    return auth.reused(found, rule, tenant_value)


def _respond(exc: AuthDenied) -> Response:
    d = exc.denial
    return Response(d.body, status=d.status, headers=d.header_dict(), content_type=d.content_type)
