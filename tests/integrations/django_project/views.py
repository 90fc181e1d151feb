"""Plain Django views (JwtAuthMiddleware + jwt_required) and DRF views (JwtAuthentication), same routes."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, JsonResponse
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jwtobs.integrations import BearerAuth, tenant_from_header, tenant_from_path
from jwtobs.integrations.django import jwt_required
from tests.integrations.django_project import auth

app_log = logging.getLogger("app")


class _Lazy(BearerAuth):
    """A BearerAuth resolved from the fixture at request time (views are built at import time)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattribute__(self, item: str) -> Any:
        if item in ("_name", "__class__"):
            return object.__getattribute__(self, item)
        return getattr(auth.AUTHS[object.__getattribute__(self, "_name")], item)


def _me(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    return JsonResponse(request.principal.as_dict())  # type: ignore[attr-defined]


items = jwt_required(scopes=["items:read"])(_me)
admin = jwt_required(scopes=["items:write"])(_me)
tenant_items = jwt_required(scopes=["items:read"], tenant=tenant_from_path("tenant"))(_me)
header_items = jwt_required(tenant=tenant_from_header("X-Tenant"))(_me)


def public(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


@jwt_required(scopes=["items:read"])
def boom(request: HttpRequest) -> JsonResponse:
    raise RuntimeError(f"backend refused {request.headers['Authorization']}")


def per_view(name: str) -> Any:
    """A view using auth.AUTHS[name] (another key set / validator) instead of the settings' authenticator."""

    def view(request: HttpRequest) -> JsonResponse:
        return _me(request)

    view.__name__ = f"{name}_items"
    return jwt_required(auth=_Lazy(name))(view)


class DrfBase(APIView):
    permission_classes = (IsAuthenticated,)

    def get(self, request: Request, **kwargs: Any) -> Response:
        assert request.user.is_authenticated and request.auth is request.user.principal
        return Response(request.auth.as_dict())


class DrfItems(DrfBase):
    required_scopes = ("items:read",)


class DrfAdmin(DrfBase):
    required_scopes = ("items:write",)


class DrfTenantItems(DrfBase):
    required_scopes = ("items:read",)
    jwt_tenant = tenant_from_path("tenant")


class DrfHeaderItems(DrfBase):
    jwt_tenant = tenant_from_header("X-Tenant")


class DrfDown(DrfBase):
    jwt_auth = _Lazy("down")


class DrfWrapped(DrfBase):
    jwt_auth = _Lazy("wrapped")


class DrfPublic(APIView):
    permission_classes = (AllowAny,)

    def get(self, request: Request) -> Response:
        return Response({"ok": True})
