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
verified, and a refused one is answered with the RFC 6750 response. The rule is read from the view instance
serving the request (a subclass's own ``required_scopes``, an ``@action(required_scopes=...)``, a property on
``self.action``). With other authentication classes listed before it, add :class:`JwtRequirements` to the
permission classes: DRF never asks this class about a request another one authenticated.
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
from jwtobs.integrations.common import AuthDenied, BearerAuth, Denial, Principal, RouteRule
from jwtobs.reasons import Reason

__all__ = ["HasScopes", "JwtAuthentication", "JwtDenied", "JwtRequirements"]

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
    """The rule of the view instance serving this request: its ``required_scopes`` and ``jwt_tenant`` as they are
    now (a subclass's own, an ``@action(required_scopes=...)``'s, a property that depends on ``self.action``).

    Not cached: before session 33 the first request's rule was kept on the view class, where a subclass inherited
    it and every action of a ViewSet shared it (a read-only token passed an ``items:admin`` subclass or action once
    the parent view or another action had been hit). Building it costs a few microseconds."""
    scopes = getattr(view, "required_scopes", None) or ()
    tenant = getattr(view, "jwt_tenant", None)
    if not scopes and tenant is None:
        return None
    # (a jwt_tenant that is no tenant_from_path/tenant_from_header is a ConfigurationError, never ignored)
    return auth.rule(scopes, tenant)


def _no_bearer(authorization: str | None) -> bool:
    """Whether an ``Authorization`` value holds no bearer credential at all (absent or empty, or another scheme such
    as ``Basic`` for the next authentication class). Not: ``Bearer`` glued to a character no scheme holds (a malformed
    bearer header, 400), nor headers a server joined of which one is a bearer credential (``, Bearer x``,
    ``Basic y, Bearer x``: two credentials, 400 JWT_AMBIGUOUS, as the plain middleware answers; before session 33
    DRF took them for no credential: anonymous on a public view, 401 JWT_MISSING under IsAuthenticated)."""
    if not authorization:
        return True
    scheme = common.auth_scheme(authorization)[0]
    if not scheme:
        return False  # present but blank: verified, which answers 401 JWT_MISSING (as before session 33)
    if scheme.lower() == "bearer" or common.broken_bearer(scheme):
        return False
    return not common.joined_bearer(authorization)


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
                if rule is not None:  # another tenant than it was verified for: refused and recorded, never widened
                    auth.reused(found, rule, auth.tenant_of(rule, kwargs, _header(request)))
                return JwtUser(found), found
            authorization = request.headers.get("Authorization")
            query = request.query_params.getlist(auth.query_param) if auth.query_param else []
            if _no_bearer(authorization) and not query and rule is None:
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
    """Permission: the request carries a verified token (``request.auth`` is a :class:`Principal`) with every scope in
    the view's ``required_scopes`` (403 insufficient_scope). Refuses any request without a token, also on a view
    that requires no scope; for a default next to other authentication classes, use :class:`JwtRequirements`."""

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.auth
        if not isinstance(principal, Principal):
            return False
        # (RouteRule.of reads "a b" as two scopes: before session 33 a string was read as its characters)
        required = RouteRule.of(getattr(view, "required_scopes", None) or ()).scopes
        if required and not principal.scopes.issuperset(required):
            raise JwtDenied(_auth_of(view).insufficient_scope(required))
        return True


class JwtRequirements(BasePermission):  # type: ignore[misc]
    """Permission: a view's ``required_scopes`` and ``jwt_tenant`` hold whatever authenticated the request.

    :class:`JwtAuthentication` enforces them itself, but DRF asks the authentication classes in order and stops at
    the first that authenticates: a request that ``SessionAuthentication`` or an API-key class listed before it
    authenticated never reached it, and ran a view that declares ``required_scopes = ["items:admin"]`` with no
    scope at all (before session 33). Put this class in ``DEFAULT_PERMISSION_CLASSES`` (next to
    ``IsAuthenticated``) when several authentication classes are configured:

    - a view that declares neither requirement is left to the other permission classes (True);
    - a view that declares them admits only a :class:`Principal` that its own authenticator (``jwt_auth`` or
      ``settings.JWTOBS``) verified in this request, with the scopes (403 insufficient_scope) and the tenant;
    - any other principal (a session user, an API key, another ``BearerAuth``'s token) has no scope and no tenant:
      403 ``insufficient_scope`` naming the required scopes (DRF's 403 when only a tenant is required); such a
      request holds no token, so no event is recorded (the ``jwtobs.integrations`` logger says why at INFO).
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        auth = _auth_of(view)
        rule = _rule_of(view, auth)
        if rule is None:
            return True
        principal = request.auth
        if isinstance(principal, Principal) and common.verified_principal(request._request, auth) is principal:
            try:  # (JwtAuthentication checked both for this view already; checked again, it is cheap)
                auth.reused(
                    principal, rule, auth.tenant_of(rule, getattr(view, "kwargs", None) or {}, _header(request))
                )
            except AuthDenied as exc:
                raise JwtDenied(exc.denial) from None
            return True
        if not getattr(request.user, "is_authenticated", False):
            return False  # anonymous (JwtAuthentication is not among the view's classes): DRF answers 401/403
        common.log.info(
            "jwtobs: 403 %s profile=%s required=%s authenticated_by=%s (no token of this view's authenticator)",
            "insufficient_scope" if rule.scopes else "forbidden",
            auth.profile,
            " ".join(sorted(rule.scopes)) or "-",
            type(getattr(request, "successful_authenticator", None)).__name__,
        )
        if rule.scopes:
            raise JwtDenied(auth.insufficient_scope(rule.scopes))
        return False


def _header(request: Request) -> Any:
    def get(name: str) -> list[str]:
        value = request.headers.get(name)
        return [] if value is None else [value]

    return get
