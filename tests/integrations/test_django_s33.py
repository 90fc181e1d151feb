"""Django/DRF findings of session 33's probe, each with the real Django test client (WSGI, and ASGI for async
views), real keys generated for the session and real RS256 tokens: the rule of the view actually served (subclasses,
ViewSet actions), async views under ``jwt_required``, ``JwtUser`` and Django's permission API, joined
``Authorization`` headers in DRF, and ``JwtRequirements`` for views another authentication class may serve."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("rest_framework")

from tests.integrations.django_server import setup

setup()  # (DRF's view classes read the settings when they are defined)

from django.contrib.auth.models import Group  # noqa: E402
from django.http import HttpRequest, JsonResponse  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402
from django.urls import path  # noqa: E402
from django.utils.decorators import method_decorator  # noqa: E402
from django.views import View  # noqa: E402
from rest_framework import viewsets  # noqa: E402
from rest_framework.authentication import BaseAuthentication  # noqa: E402
from rest_framework.decorators import action  # noqa: E402
from rest_framework.permissions import (  # noqa: E402
    AllowAny,
    DjangoModelPermissions,
    IsAdminUser,
    IsAuthenticated,
)
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.routers import SimpleRouter  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

import jwtobs  # noqa: E402
from jwtobs.events import ValidationEvent  # noqa: E402
from jwtobs.exceptions import ConfigurationError  # noqa: E402
from jwtobs.integrations import BearerAuth, Principal, tenant_from_path  # noqa: E402
from jwtobs.integrations.django import JwtAuthentication, JwtUser, jwt_required  # noqa: E402
from tests.integrations.harness import AUD, ISS, REALM, Keys, Stack  # noqa: E402


# -- views ----------------------------------------------------------------------------------------------------
class _Base(APIView):
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response({"view": type(self).__name__, "sub": request.auth.subject})


class ReadView(_Base):
    required_scopes = ("items:read",)


class AdminView(ReadView):  # a subclass that needs more than its parent
    required_scopes = ("items:admin",)


class PropertyItems(viewsets.ViewSet):
    """Per-action scopes from a property on ``self.action``."""

    permission_classes = (IsAuthenticated,)

    @property
    def required_scopes(self) -> list[str]:
        return ["items:write"] if self.action in ("create", "destroy") else ["items:read"]

    def list(self, request: Request) -> Response:
        return Response(["a"])

    def create(self, request: Request) -> Response:
        return Response({"created": True}, status=201)


class ActionItems(viewsets.ViewSet):
    """DRF's idiom: ``@action(required_scopes=...)`` overrides the class's (as an initkwarg on the instance)."""

    permission_classes = (IsAuthenticated,)
    required_scopes = ("items:read",)

    def list(self, request: Request) -> Response:
        return Response(["a"])

    @action(detail=False, methods=["post"], required_scopes=["items:admin"])
    def purge(self, request: Request) -> Response:
        return Response({"purged": True})


class ActionItemsAdminFirst(ActionItems):
    """The same, for the other order of requests (a class of its own: the old code kept state on the class)."""


class Anyone(APIView):
    permission_classes = (AllowAny,)

    def get(self, request: Request) -> Response:
        return Response({"auth": request.auth is not None})


class Authed(_Base):
    pass


class ModelPerms(APIView):
    permission_classes = (DjangoModelPermissions,)
    queryset = Group.objects.none()

    def get(self, request: Request) -> Response:
        return Response([])

    def post(self, request: Request) -> Response:
        return Response({"created": True}, status=201)


class AdminOnly(APIView):
    permission_classes = (IsAdminUser,)

    def get(self, request: Request) -> Response:
        return Response({"ran": True})


class ApiKeyUser:
    is_authenticated = True


class ApiKeyAuth(BaseAuthentication):  # type: ignore[misc]
    """Another authentication class listed before JwtAuthentication (an API key, a session)."""

    def authenticate(self, request: Request) -> tuple[ApiKeyUser, None] | None:
        return (ApiKeyUser(), None) if request.headers.get("X-Api-Key") == "reader-key" else None


def _requirements() -> Any:
    from jwtobs.integrations.django import JwtRequirements  # (new in session 33)

    return JwtRequirements


class _Mixed(APIView):
    authentication_classes = (ApiKeyAuth, JwtAuthentication)

    def get_permissions(self) -> list[Any]:
        return [IsAuthenticated(), _requirements()()]

    def get(self, request: Request, **kwargs: Any) -> Response:
        return Response({"view": type(self).__name__})


class MixedAdmin(_Mixed):
    required_scopes = ("items:admin",)


class MixedTenant(_Mixed):
    jwt_tenant = tenant_from_path("tenant")


class MixedOpen(_Mixed):
    pass


class StringScopes(APIView):
    from jwtobs.integrations.django import HasScopes

    permission_classes = (HasScopes,)
    required_scopes = "items:read"  # one scope, as RouteRule.of reads a string

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


class StringTenant(_Base):
    jwt_tenant = "tenant"  # not tenant_from_path("tenant"): a mistake that must not bind nothing silently


@jwt_required(scopes=["items:read"])
async def async_view(request: HttpRequest) -> JsonResponse:
    await asyncio.sleep(0)
    return JsonResponse({"sub": request.principal.subject, "async": True})  # type: ignore[attr-defined]


class AsyncCbv(View):
    async def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"sub": request.principal.subject, "cbv": True})  # type: ignore[attr-defined]


@method_decorator(jwt_required(scopes=["items:read"]), name="dispatch")
class AsyncDispatch(View):
    async def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse({"sub": request.principal.subject, "dispatch": True})  # type: ignore[attr-defined]


router = SimpleRouter()
router.register("prop-items", PropertyItems, basename="prop-items")
router.register("action-items", ActionItems, basename="action-items")
router.register("action-items-2", ActionItemsAdminFirst, basename="action-items-2")

urlpatterns = [
    path("read", ReadView.as_view()),
    path("admin", AdminView.as_view()),
    path("anyone", Anyone.as_view()),
    path("authed", Authed.as_view()),
    path("model-perms", ModelPerms.as_view()),
    path("admin-only", AdminOnly.as_view()),
    path("mixed/admin", MixedAdmin.as_view()),
    path("mixed/tenants/<str:tenant>", MixedTenant.as_view()),
    path("mixed/open", MixedOpen.as_view()),
    path("string-scopes", StringScopes.as_view()),
    path("string-tenant/<str:tenant>", StringTenant.as_view()),
    path("async", async_view),
    path("async-cbv", jwt_required(scopes=["items:read"])(AsyncCbv.as_view())),
    path("async-dispatch", AsyncDispatch.as_view()),
    *router.urls,
]


# -- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture
def auth(keys: Keys, stack: Stack) -> BearerAuth:
    profile = jwtobs.Profile(name="items", issuer=ISS, audience=AUD, tenant_claim="tid")
    verifier = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k1": keys.good.private.public_key()}))
    return BearerAuth(verifier.verify, realm=REALM)


@pytest.fixture
def site(auth: BearerAuth) -> Iterator[None]:
    with override_settings(
        ROOT_URLCONF=sys.modules[__name__], JWTOBS={"AUTHENTICATOR": auth}, ALLOWED_HOSTS=["testserver"]
    ):
        yield


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def reasons(stack: Stack, before: int = 0) -> list[str]:
    jwtobs.flush()
    return [e.reason or e.outcome for e in stack.events[before:] if isinstance(e, ValidationEvent)]


# -- 2: the rule of the view instance and action served ----------------------------------------------------------
def test_subclass_scopes_not_inherited_from_parent_rule(site: None, keys: Keys, stack: Stack) -> None:
    """AdminView(ReadView) needs items:admin: a read-only token was served 200 once ReadView had been hit."""
    c = Client()
    read = keys.token(scope="items:read")
    assert c.get("/read", **bearer(read)).status_code == 200
    r = c.get("/admin", **bearer(read))
    assert r.status_code == 403, r.content
    assert r["WWW-Authenticate"] == f'Bearer realm="{REALM}", error="insufficient_scope", scope="items:admin"'
    assert c.get("/admin", **bearer(keys.token(scope="items:admin"))).json() == {"view": "AdminView", "sub": "user-123"}
    assert c.get("/read", **bearer(read)).status_code == 200


def test_viewset_property_scopes_per_action(site: None, keys: Keys, stack: Stack) -> None:
    """required_scopes as a property of self.action: POST create got 201 with a read token after one GET."""
    c = Client()
    read = keys.token(scope="items:read")
    assert c.get("/prop-items/", **bearer(read)).status_code == 200
    assert c.post("/prop-items/", **bearer(read)).status_code == 403
    assert c.post("/prop-items/", **bearer(keys.token(scope="items:write"))).status_code == 201
    assert c.get("/prop-items/", **bearer(read)).status_code == 200


def test_action_initkwarg_scopes_both_orders(site: None, keys: Keys, stack: Stack) -> None:
    """@action(required_scopes=["items:admin"]) over a class items:read: a read token purged (200) after a GET, and
    in the other order a reader was refused (403) after an admin's purge."""
    c = Client()
    read, admin = keys.token(scope="items:read"), keys.token(scope="items:admin")
    assert c.get("/action-items/", **bearer(read)).status_code == 200
    assert c.post("/action-items/purge/", **bearer(read)).status_code == 403
    assert c.post("/action-items/purge/", **bearer(admin)).status_code == 200
    # the other order, on a class no request has reached yet
    assert c.post("/action-items-2/purge/", **bearer(admin)).status_code == 200
    assert c.get("/action-items-2/", **bearer(read)).status_code == 200
    assert c.post("/action-items-2/purge/", **bearer(read)).status_code == 403


def test_jwt_tenant_that_is_no_tenant_source_is_an_error(site: None, keys: Keys, stack: Stack) -> None:
    """``jwt_tenant = "tenant"`` bound nothing (any tenant's token passed); now a ConfigurationError, never a 200."""
    c = Client()
    with pytest.raises(ConfigurationError):
        c.get("/string-tenant/globex", **bearer(keys.token(tid="acme")))


def test_has_scopes_reads_a_string_as_scopes(site: None, keys: Keys, stack: Stack) -> None:
    """HasScopes read ``required_scopes = "items:read"`` as its characters (403 for the right token)."""
    c = Client()
    assert c.get("/string-scopes", **bearer(keys.token(scope="items:read"))).status_code == 200
    assert c.get("/string-scopes", **bearer(keys.token(scope="items:other"))).status_code == 403


# -- 8a: async views ----------------------------------------------------------------------------------------------
def test_jwt_required_async_views_wsgi_and_asgi(site: None, keys: Keys, stack: Stack) -> None:
    token = keys.token()
    c = Client(raise_request_exception=True)
    r = c.get("/async", **bearer(token))
    assert (r.status_code, r.json()) == (200, {"sub": "user-123", "async": True})
    assert c.get("/async-cbv", **bearer(token)).json() == {"sub": "user-123", "cbv": True}
    assert c.get("/async-dispatch", **bearer(token)).json() == {"sub": "user-123", "dispatch": True}
    assert c.get("/async").status_code == 401
    assert c.get("/async", **bearer(keys.token(scope="other"))).status_code == 403
    assert reasons(stack) == ["accepted", "accepted", "accepted", "JWT_MISSING", "accepted"]

    async def over_asgi() -> list[tuple[int, Any]]:
        ac = AsyncClient(raise_request_exception=True)
        out = []
        for p, headers in (("/async", {"Authorization": f"Bearer {token}"}), ("/async-cbv", {}), ("/async", {})):
            r = await ac.get(p, headers=headers)
            out.append((r.status_code, r.json()))
        r = await ac.get("/async-cbv", headers={"Authorization": f"Bearer {token}"})
        out.append((r.status_code, r.json()))
        return out

    assert asyncio.run(over_asgi()) == [
        (200, {"sub": "user-123", "async": True}),
        (401, {"detail": "authentication required"}),
        (401, {"detail": "authentication required"}),
        (200, {"sub": "user-123", "cbv": True}),
    ]


def test_async_view_without_middleware_refuses(site: None, keys: Keys, stack: Stack) -> None:
    """A decorated view reached without the middleware refuses (fail closed): as a 401, not a 500 (TypeError:
    Django awaited the refusal of an async class-based view)."""
    with override_settings(MIDDLEWARE=[]):
        c = Client(raise_request_exception=True)
        for route in ("/async", "/async-cbv", "/async-dispatch"):
            r = c.get(route, **bearer(keys.token()))
            assert (r.status_code, r.json()) == (401, {"error": "invalid_token"}), route

        async def over_asgi() -> list[int]:
            ac = AsyncClient(raise_request_exception=True)
            headers = {"Authorization": f"Bearer {keys.token()}"}
            return [(await ac.get(route, headers=headers)).status_code for route in ("/async-cbv", "/async-dispatch")]

        assert asyncio.run(over_asgi()) == [401, 401]


# -- 9b: JwtUser and Django's permission API ------------------------------------------------------------------
def test_drf_model_permissions_and_admin_user(site: None, keys: Keys, stack: Stack) -> None:
    """DjangoModelPermissions / IsAdminUser with a valid token: 500 (AttributeError: has_perms) before."""
    c = Client(raise_request_exception=True)
    token = keys.token()
    assert c.get("/model-perms", **bearer(token)).status_code == 200  # GET needs no model permission (DRF's map)
    assert c.post("/model-perms", **bearer(token)).status_code == 403  # auth.add_group: a token has none
    assert c.get("/admin-only", **bearer(token)).status_code == 403
    assert reasons(stack) == ["accepted", "accepted", "accepted"]


def test_jwt_user_answers_no_like_anonymous_user(site: None) -> None:
    from django.contrib.auth.models import AnonymousUser, Permission

    user = JwtUser(Principal("user-123", "user", None, frozenset({"items:read"}), ("SCOPE_items:read",), {}))
    anon = AnonymousUser()
    for u in (user, anon):
        assert u.has_perm("auth.add_group") is False
        assert u.has_perms(["auth.add_group", "auth.view_group"]) is False
        assert u.has_perms([]) is True  # (Django: all of none)
        assert u.has_module_perms("auth") is False
        with pytest.raises(ValueError):
            u.has_perms("auth.add_group")
    assert user.get_all_permissions() == user.get_user_permissions() == user.get_group_permissions() == set()
    assert user.groups.model is Group and user.user_permissions.model is Permission
    assert user.groups.none().query.is_empty()
    assert asyncio.run(user.ahas_perm("auth.add_group")) is False
    assert asyncio.run(user.ahas_perms(["auth.add_group"])) is False
    assert asyncio.run(user.aget_all_permissions()) == set()
    assert user.is_authenticated and not user.is_staff and not user.is_superuser
    with pytest.raises(NotImplementedError):
        user.save()


# -- 10: joined Authorization headers in DRF ------------------------------------------------------------------
def test_drf_joined_headers_are_two_credentials(site: None, keys: Keys, stack: Stack) -> None:
    """What Django's servers make of two Authorization headers (``, Bearer x``, ``Basic y, Bearer x``): 200 anonymous
    (no event) on AllowAny and 401 JWT_MISSING under IsAuthenticated before; the docs and the plain middleware
    answer 400 JWT_AMBIGUOUS. Another scheme alone stays no credential for JwtAuthentication."""
    c = Client()
    token = keys.token()
    for route in ("/anyone", "/authed"):
        for prefix in (", ", "Basic dXNlcjpwdw==, "):
            before = len(stack.events)
            r = c.get(route, HTTP_AUTHORIZATION=prefix + "Bearer " + token)
            assert r.status_code == 400, (route, prefix, r.content)
            assert r["WWW-Authenticate"] == f'Bearer realm="{REALM}", error="invalid_request"'
            assert reasons(stack, before) == ["JWT_AMBIGUOUS"]
    before = len(stack.events)
    assert c.get("/anyone", HTTP_AUTHORIZATION="Basic dXNlcjpwdw==").json() == {"auth": False}
    assert c.get("/anyone", HTTP_AUTHORIZATION="Basic a,b").json() == {"auth": False}
    assert reasons(stack, before) == []
    r = c.get("/authed", HTTP_AUTHORIZATION="Basic dXNlcjpwdw==")
    assert (r.status_code, r["WWW-Authenticate"]) == (401, f'Bearer realm="{REALM}"')
    assert reasons(stack, before) == ["JWT_MISSING"]


# -- 15: another authentication class first -------------------------------------------------------------------
def test_requirements_hold_for_other_authentication_classes(site: None, keys: Keys, stack: Stack) -> None:
    """An API-key class before JwtAuthentication: its requests ran an items:admin view with no scope (200)."""
    c = Client()
    r = c.get("/mixed/admin", HTTP_X_API_KEY="reader-key")
    assert r.status_code == 403, r.content
    assert r["WWW-Authenticate"] == f'Bearer realm="{REALM}", error="insufficient_scope", scope="items:admin"'
    assert c.get("/mixed/tenants/acme", HTTP_X_API_KEY="reader-key").status_code == 403
    assert reasons(stack) == []  # no token in those requests: nothing to record
    assert c.get("/mixed/open", HTTP_X_API_KEY="reader-key").json() == {"view": "MixedOpen"}  # no requirement
    assert c.get("/mixed/admin", **bearer(keys.token(scope="items:read"))).status_code == 403
    assert c.get("/mixed/admin", **bearer(keys.token(scope="items:admin"))).status_code == 200
    assert c.get("/mixed/tenants/acme", **bearer(keys.token(tid="acme"))).status_code == 200
    assert c.get("/mixed/tenants/globex", **bearer(keys.token(tid="acme"))).status_code == 401
    assert c.get("/mixed/admin").status_code == 401
    assert c.get("/mixed/open", **bearer(keys.token())).status_code == 200
    assert reasons(stack) == ["accepted", "accepted", "accepted", "JWT_TENANT_MISMATCH", "JWT_MISSING", "accepted"]
