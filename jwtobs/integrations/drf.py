"""Django REST framework: :class:`JwtAuthentication` (``request.user`` / ``request.auth``) and :class:`HasScopes`.

Configure ``settings.JWTOBS`` as described in :mod:`jwtobs.integrations.django`, then::

    REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["jwtobs.integrations.django.JwtAuthentication"]}

    class Invoices(APIView):
        required_scopes = ["invoices:read"]          # enforced by JwtAuthentication (403 insufficient_scope)
        jwt_tenant = tenant_from_path("tenant")     # bound to the token's tenant
        jwt_auth = BearerAuth(...)                   # optional: this view's own authenticator

``request.user`` is a :class:`~jwtobs.integrations.django.JwtUser`, ``request.auth`` the
:class:`~jwtobs.integrations.common.Principal`. A view that declares neither lets requests without any
credential through as anonymous (DRF's permission classes decide; a ``NotAuthenticated`` then gets
``WWW-Authenticate: Bearer realm="..."`` and the JWT_MISSING event); a credential that is present is always
verified, and a refused one is answered with the RFC 6750 response.
"""

from __future__ import annotations

from typing import Any

from jwtobs import extras

try:
    from rest_framework.authentication import BaseAuthentication
    from rest_framework.exceptions import APIException
    from rest_framework.permissions import BasePermission
    from rest_framework.request import Request
except ModuleNotFoundError as _exc:  # the extra is not installed: say which
    raise extras.missing(_exc, "jwtobs.integrations.drf") from None

from jwtobs.exceptions import JwtobsError
from jwtobs.integrations import common
from jwtobs.integrations._django_auth import JwtUser, get_auth
from jwtobs.integrations.common import AuthDenied, BearerAuth, Denial, Principal, RouteRule, TenantSource
from jwtobs.reasons import Reason

__all__ = ["HasScopes", "JwtAuthentication", "JwtDenied"]

_MISSING_ATTR = "_jwtobs_missing"


class JwtDenied(APIException, JwtobsError):  # type: ignore[misc]
    """The RFC 6750 refusal as a DRF exception (DRF's exception handler writes status and headers)."""

    def __init__(self, denial: Denial) -> None:
        self.status_code = denial.status
        self.auth_header = denial.www_authenticate
        if denial.status == 503:
            self.wait = 5
        APIException.__init__(
            self, detail=denial.error or "authentication required", code=denial.error or "not_authenticated"
        )


def _auth_of(view: Any) -> BearerAuth:
    own = getattr(view, "jwt_auth", None)
    return own if isinstance(own, BearerAuth) else get_auth()


def _rule_of(view: Any, auth: BearerAuth) -> RouteRule | None:
    scopes = getattr(view, "required_scopes", None) or ()
    tenant = getattr(view, "jwt_tenant", None)
    if not scopes and tenant is None:
        return None
    cached = getattr(type(view), "_jwtobs_rule", None)
    if isinstance(cached, RouteRule):
        return cached
    rule = auth.rule(scopes, tenant if isinstance(tenant, TenantSource) else None)
    try:
        type(view)._jwtobs_rule = rule
    except (AttributeError, TypeError):  # pragma: no cover
        pass
    return rule


class JwtAuthentication(BaseAuthentication):  # type: ignore[misc]
    """Bearer-token authentication with the ``settings.JWTOBS`` authenticator."""

    def authenticate(self, request: Request) -> tuple[JwtUser, Principal] | None:
        context = getattr(request, "parser_context", None) or {}
        view = context.get("view")
        kwargs = context.get("kwargs") or {}
        auth = _auth_of(view)
        rule = _rule_of(view, auth) if view is not None else None
        django_request = request._request
        try:
            found = common.verified_principal(django_request, auth)  # the plain middleware verified it with this auth
            if found is not None:
                if rule is not None:
                    if rule.tenant is not None and auth.tenant_of(rule, kwargs, _header(request)) != found.tenant:
                        raise AuthDenied(auth.invalid_token)
                    auth.check(found, rule)
                return JwtUser(found), found
            authorization = request.headers.get("Authorization")
            query = request.query_params.getlist(auth.query_param) if auth.query_param else []
            scheme = common.auth_scheme(authorization or "")[0]
            # (a broken bearer header, "Bearer" glued to CR LF or a no-break space, is refused as malformed: 400)
            other_scheme = bool(scheme) and scheme.lower() != "bearer" and not common.broken_bearer(scheme)
            if (not authorization or other_scheme) and not query and rule is None:
                # no bearer credentials (none, or another scheme such as Basic for the next authentication class):
                # anonymous for this class; recorded as JWT_MISSING if DRF refuses the request
                setattr(django_request, _MISSING_ATTR, True)
                return None
            tenant = auth.tenant_of(rule, kwargs, _header(request)) if rule is not None else None
            principal = auth.authenticate([authorization] if authorization else [], query, rule=rule, tenant=tenant)
        except AuthDenied as exc:
            raise JwtDenied(exc.denial) from None
        common.remember_principal(django_request, auth, principal)
        django_request.principal = principal
        return JwtUser(principal), principal

    def authenticate_header(self, request: Request) -> str:
        """Called by DRF only when it answers 401 ``NotAuthenticated``: record that request's JWT_MISSING."""
        context = getattr(request, "parser_context", None) or {}
        auth = _auth_of(context.get("view"))
        django_request = request._request
        if getattr(django_request, _MISSING_ATTR, False):
            setattr(django_request, _MISSING_ATTR, False)
            try:
                auth.reject(Reason.MISSING)
            except AuthDenied:
                pass
        return auth.missing.www_authenticate or f'Bearer realm="{auth.realm}"'


class HasScopes(BasePermission):  # type: ignore[misc]
    """Permission: the token has every scope in the view's ``required_scopes`` (403 insufficient_scope)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.auth
        if not isinstance(principal, Principal):
            return False
        required = frozenset(getattr(view, "required_scopes", None) or ())
        if required and not principal.scopes.issuperset(required):
            raise JwtDenied(_auth_of(view).insufficient_scope(required))
        return True


def _header(request: Request) -> Any:
    def get(name: str) -> list[str]:
        value = request.headers.get(name)
        return [] if value is None else [value]

    return get
