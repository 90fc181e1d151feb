"""Django settings of the example: the jwtobs part is JWTOBS, the middleware line and REST_FRAMEWORK."""

from __future__ import annotations

SECRET_KEY = "example-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "demo_urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
DATABASES: dict[str, object] = {}
USE_TZ = True

JWTOBS = {"AUTHENTICATOR": "demo_auth.VERIFIER", "REALM": "demo"}
MIDDLEWARE = ["jwtobs.integrations.django.JwtAuthMiddleware"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["jwtobs.integrations.django.JwtAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
