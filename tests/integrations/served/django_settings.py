"""Django settings for ``runserver`` and gunicorn
(``DJANGO_SETTINGS_MODULE=tests.integrations.served.django_settings``)."""

DEBUG = False
SECRET_KEY = "tests-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "tests.integrations.served.django_urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
DATABASES: dict[str, object] = {}
MIDDLEWARE = ["jwtobs.integrations.django.JwtAuthMiddleware"]
JWTOBS = {"AUTHENTICATOR": "tests.integrations.served.django_urls.header_auth"}
USE_TZ = True
