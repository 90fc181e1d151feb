"""Settings of the Django test project (configured in-process with ``settings.configure(**SETTINGS)``)."""

from __future__ import annotations

from typing import Any

SETTINGS: dict[str, Any] = {
    "DEBUG": False,
    "SECRET_KEY": "tests-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": ["127.0.0.1", "localhost"],
    "ROOT_URLCONF": "tests.integrations.django_project.urls",
    "INSTALLED_APPS": ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"],
    "DATABASES": {},
    "MIDDLEWARE": [
        "tests.integrations.django_project.middleware.LogHeaders",
        "jwtobs.integrations.django.JwtAuthMiddleware",
    ],
    "JWTOBS": {"AUTHENTICATOR": "tests.integrations.django_project.auth.MAIN"},
    "REST_FRAMEWORK": {
        "DEFAULT_AUTHENTICATION_CLASSES": ["jwtobs.integrations.django.JwtAuthentication"],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
        "UNAUTHENTICATED_USER": None,
    },
    "USE_TZ": True,
}
