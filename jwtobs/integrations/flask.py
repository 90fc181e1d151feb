"""Flask: an extension and a decorator; the verified principal is ``g.principal``.

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
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from jwtobs import extras

try:
    from flask import Flask, Response, g, request
except ModuleNotFoundError as _exc:  # the extra is not installed: say which
    raise extras.missing(_exc, "jwtobs.integrations.flask") from None

from jwtobs.exceptions import ConfigurationError
from jwtobs.integrations import common
from jwtobs.integrations.common import AuthDenied, BearerAuth, Principal, TenantSource, install_redaction

__all__ = ["JwtAuth", "current_principal"]

F = TypeVar("F", bound=Callable[..., Any])
_EXTENSION = "jwtobs"


def current_principal() -> Principal | None:
    """The principal of the current request (``g.principal``), or ``None``."""
    p = g.get("principal")
    return p if isinstance(p, Principal) else None


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
    """The Flask extension. ``auth``: the :class:`BearerAuth` (default: from the app config)."""

    def __init__(self, app: Flask | None = None, *, auth: BearerAuth | None = None) -> None:
        self._auth = auth
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if self._auth is None:
            configured = app.config.get("JWTOBS_AUTH")
            if isinstance(configured, BearerAuth):
                self._auth = configured
            elif callable(configured):
                self._auth = BearerAuth(configured, realm=app.config.get("JWTOBS_REALM", "api"))
            else:
                raise ConfigurationError("JwtAuth needs auth=BearerAuth(...) or app.config['JWTOBS_AUTH']")
        app.extensions[_EXTENSION] = self
        app.register_error_handler(AuthDenied, _respond)
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
        if self._auth is None:
            raise ConfigurationError("JwtAuth.init_app(app) was not called")
        return self._auth

    def required(self, *, scopes: Iterable[str] | str = (), tenant: TenantSource | None = None) -> Callable[[F], F]:
        """Decorator: the view runs only for a valid token with every scope (and the bound tenant)."""
        auth = self.auth
        rule = auth.rule(scopes, tenant)

        def decorate(view: F) -> F:
            @functools.wraps(view)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                try:
                    _authorize()
                except AuthDenied as exc:  # answered here, so a JwtAuth without init_app still responds
                    return _respond(exc)
                return view(*args, **kwargs)

            def _authorize() -> None:
                found = common.verified_principal(g, auth)  # (this authenticator's only)
                if found is None:
                    tenant_value = auth.tenant_of(rule, request.view_args or {}, request.headers.getlist)
                    query = request.args.getlist(auth.query_param) if auth.query_param else []
                    g.principal = auth.authenticate(
                        request.headers.getlist("Authorization"), query, rule=rule, tenant=tenant_value
                    )
                    common.remember_principal(g, auth, g.principal)
                else:
                    if rule.tenant is not None:
                        tenant_value = auth.tenant_of(rule, request.view_args or {}, request.headers.getlist)
                        if tenant_value != found.tenant:
                            raise AuthDenied(auth.invalid_token)
                    auth.check(found, rule)

            return cast(F, guarded)

        return decorate


def _respond(exc: AuthDenied) -> Response:
    d = exc.denial
    return Response(d.body, status=d.status, headers=d.header_dict(), content_type=d.content_type)
