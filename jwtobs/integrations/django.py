"""Django: a plain middleware for function/class views, and a Django REST framework authentication class.

Settings-driven; one setting plus one line::

    JWTOBS = {
        "AUTHENTICATOR": "myproject.auth.verifier",  # dotted path: a BearerAuth, Verifier, or authenticator
        "REALM": "billing",                          # optional; also QUERY_PARAM, ALLOW_QUERY, TENANT_CLAIM
    }
    MIDDLEWARE = [..., "jwtobs.integrations.django.JwtAuthMiddleware"]
    # and/or, for DRF:
    REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["jwtobs.integrations.django.JwtAuthentication"]}

Plain views opt in with :func:`jwt_required` (scopes, tenant from a URL kwarg or a header); the middleware
verifies them in ``process_view`` (URL kwargs are known there) and sets ``request.user`` (a :class:`JwtUser`)
and ``request.principal``. DRF views declare ``required_scopes = [...]`` and ``jwt_tenant =
tenant_from_path("tenant")`` as class attributes; :class:`JwtAuthentication` enforces them and answers with
the RFC 6750 response (400/401/403/503, see :mod:`jwtobs.integrations.common`).
:class:`JwtAuthentication`, :class:`HasScopes` and :class:`JwtRequirements` are imported lazily, so this module works
without DRF. :func:`jwt_required` keeps an ``async def`` view (or an async class-based view) async.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

from jwtobs import extras

try:
    from asgiref.sync import iscoroutinefunction
    from django.http import HttpRequest, HttpResponse
except ModuleNotFoundError as _exc:  # the extra is not installed: say which
    raise extras.missing(_exc, "jwtobs.integrations.django") from None

from jwtobs.exceptions import ConfigurationError
from jwtobs.integrations import common
from jwtobs.integrations._django_auth import JwtUser, get_auth
from jwtobs.integrations.common import (
    AuthDenied,
    BearerAuth,
    Denial,
    Principal,
    RouteRule,
    TenantSource,
    install_redaction,
)

__all__ = ["JwtAuthMiddleware", "JwtUser", "get_auth", "jwt_required", "response_for"]

F = TypeVar("F", bound=Callable[..., Any])
_RULE_ATTR: Final = "jwtobs_rule"
_AUTH_ATTR: Final = "jwtobs_auth"


def response_for(denial: Denial) -> HttpResponse:
    """The RFC 6750 ``HttpResponse`` of a denial."""
    response = HttpResponse(denial.body, status=denial.status, content_type=denial.content_type)
    for k, v in denial.headers:
        response[k] = v
    return response


def jwt_required(
    *, scopes: Iterable[str] | str = (), tenant: TenantSource | None = None, auth: BearerAuth | None = None
) -> Callable[[F], F]:
    """Mark a view (function, or ``View.as_view()``) as requiring a valid token, scopes and tenant binding.

    auth: this view's :class:`BearerAuth` (another issuer or key set); default: the one from ``settings.JWTOBS``.

    Enforced by :class:`JwtAuthMiddleware`. A marked view reached without the middleware refuses every
    request (fail closed) rather than run unauthenticated.
    """
    rule = RouteRule.of(scopes, tenant) if auth is None else auth.rule(scopes, tenant)

    def decorate(view: F) -> F:
        guarded: Callable[..., Any]
        if iscoroutinefunction(view):
            # an async view (``async def``, or an async class-based view's ``as_view()``) stays one: Django awaits
            # what it returns only when the view is a coroutine function (before session 33 every request to a
            # decorated ``async def`` view was a 500, "returned an unawaited coroutine", under WSGI and ASGI)
            @functools.wraps(view)
            async def guarded_async(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                if not isinstance(getattr(request, "principal", None), Principal):
                    return response_for(get_auth().invalid_token)  # middleware missing: never run unauthenticated
                return await view(request, *args, **kwargs)

            guarded = guarded_async
        else:

            @functools.wraps(view)
            def guarded_sync(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
                if not isinstance(getattr(request, "principal", None), Principal):
                    refused = response_for(get_auth().invalid_token)  # middleware missing: never run unauthenticated
                    return _awaitable(refused) if _async_class_view(view) else refused
                return view(request, *args, **kwargs)

            guarded = guarded_sync

        setattr(guarded, _RULE_ATTR, rule)
        setattr(guarded, _AUTH_ATTR, auth)
        return guarded  # type: ignore[return-value]

    return decorate


def _async_class_view(view: Callable[..., Any]) -> bool:
    """Whether ``view`` is the ``dispatch`` of an async class-based view, decorated with ``method_decorator``
    (a ``partial`` of the bound method): Django awaits what that view returns."""
    owner = getattr(getattr(view, "func", None), "__self__", None)
    return bool(getattr(owner, "view_is_async", False))


async def _awaitable(response: HttpResponse) -> HttpResponse:
    return response


def _headers(request: HttpRequest) -> Callable[[str], list[str]]:
    def get(name: str) -> list[str]:
        value = request.headers.get(name)
        return [] if value is None else [value]

    return get


def authenticate_request(
    request: HttpRequest, rule: RouteRule, path_params: Mapping[str, Any], auth: BearerAuth | None = None
) -> Principal:
    """Verify the request's bearer token for ``rule``; raises :class:`AuthDenied`."""
    if auth is None:
        auth = get_auth()
    if rule.tenant is not None and not auth.accepts_tenant:
        raise ConfigurationError("tenant binding needs an authenticator that takes tenant= (Verifier.verify)")
    tenant = auth.tenant_of(rule, path_params, _headers(request))
    authorization = request.headers.get("Authorization")  # the server joins repeated headers with ','
    query = request.GET.getlist(auth.query_param) if auth.query_param else []
    principal = auth.authenticate([] if authorization is None else [authorization], query, rule=rule, tenant=tenant)
    common.remember_principal(request, auth, principal)
    return principal


class JwtAuthMiddleware:
    """Verifies requests to views marked with :func:`jwt_required`; other views are untouched."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        install_redaction()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        rule = getattr(view_func, _RULE_ATTR, None)
        if not isinstance(rule, RouteRule):
            return None
        try:
            principal = authenticate_request(request, rule, view_kwargs, getattr(view_func, _AUTH_ATTR, None))
        except AuthDenied as exc:
            return response_for(exc.denial)
        request.principal = principal
        request.user = JwtUser(principal)
        return None


def __getattr__(name: str) -> Any:
    # DRF classes live in jwtobs.integrations.drf (importing it needs djangorestframework)
    if name in ("JwtAuthentication", "HasScopes", "JwtRequirements"):
        from jwtobs.integrations import drf

        return getattr(drf, name)
    if name == "RedactingExceptionReporter":  # (django.views.debug loads the template engine: only when asked for)
        from jwtobs.integrations._django_debug import RedactingExceptionReporter

        return RedactingExceptionReporter
    raise AttributeError(name)
