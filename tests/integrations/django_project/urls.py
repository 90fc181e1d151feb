from __future__ import annotations

from django.urls import path

from tests.integrations.django_project import views

urlpatterns = [
    path("items", views.items),
    path("admin", views.admin),
    path("tenants/<str:tenant>/items", views.tenant_items),
    path("h/items", views.header_items),
    path("down/items", views.per_view("down")),
    path("wrapped/items", views.per_view("wrapped")),
    path("public", views.public),
    path("boom", views.boom),
    path("drf/items", views.DrfItems.as_view()),
    path("drf/admin", views.DrfAdmin.as_view()),
    path("drf/tenants/<str:tenant>/items", views.DrfTenantItems.as_view()),
    path("drf/h/items", views.DrfHeaderItems.as_view()),
    path("drf/down/items", views.DrfDown.as_view()),
    path("drf/wrapped/items", views.DrfWrapped.as_view()),
    path("drf/public", views.DrfPublic.as_view()),
]
