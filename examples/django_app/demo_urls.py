"""Plain views (``jwt_required``) under /, the same endpoints as DRF views under /drf/."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from jwtobs.integrations import tenant_from_path
from jwtobs.integrations.django import jwt_required


@jwt_required(scopes=["items:read"])
def items(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"items": ["a", "b"], "principal": request.principal.as_dict()})  # type: ignore[attr-defined]


@jwt_required(scopes=["items:write"])
def admin(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"admin": True})


@jwt_required(scopes=["items:read"], tenant=tenant_from_path("tenant"))
def tenant_items(request: HttpRequest, tenant: str) -> JsonResponse:
    return JsonResponse({"tenant": tenant, "items": ["t1"]})


class DrfItems(APIView):
    required_scopes = ("items:read",)

    def get(self, request: Request) -> Response:
        return Response({"items": ["a", "b"], "principal": request.auth.as_dict()})


class DrfTenantItems(APIView):
    required_scopes = ("items:read",)
    jwt_tenant = tenant_from_path("tenant")

    def get(self, request: Request, tenant: str) -> Response:
        return Response({"tenant": tenant})


urlpatterns: list[Any] = [
    path("items", items),
    path("admin", admin),
    path("tenants/<str:tenant>/items", tenant_items),
    path("drf/items", DrfItems.as_view()),
    path("drf/tenants/<str:tenant>/items", DrfTenantItems.as_view()),
]
