"""Django views and URLs (the settings' ``ROOT_URLCONF``); ``wsgi`` is the WSGI application for gunicorn."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path

from jwtobs.integrations.django import jwt_required
from tests.integrations import served

header_auth, query_auth = served.setup()


@jwt_required()
def items(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sub": request.principal.subject})  # type: ignore[attr-defined]


@jwt_required(auth=query_auth)
def q_items(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"sub": request.principal.subject})  # type: ignore[attr-defined]


def public(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


@jwt_required()
def boom(request: HttpRequest) -> JsonResponse:
    served.boom(dict(request.headers))
    return JsonResponse({})


urlpatterns = [path("items", items), path("q/items", q_items), path("public", public), path("boom", boom)]
