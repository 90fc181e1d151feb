"""What the Django middleware and the DRF classes share: ``request.user`` for a verified token and the
:class:`~jwtobs.integrations.common.BearerAuth` built from ``settings.JWTOBS``. Its own module so that
:mod:`jwtobs.integrations.django` (which re-exports the DRF classes lazily) and :mod:`jwtobs.integrations.drf`
do not import each other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from jwtobs import extras

try:
    from django.conf import settings
    from django.core.signals import setting_changed
    from django.utils.module_loading import import_string
except ModuleNotFoundError as _exc:  # the extra is not installed: say which
    raise extras.missing(_exc, "jwtobs.integrations._django_auth") from None

from jwtobs.exceptions import ConfigurationError
from jwtobs.integrations.common import BearerAuth, Principal

__all__ = ["JwtUser", "get_auth"]

_cache: dict[str, Any] = {}


class JwtUser:
    """``request.user`` for a verified token (duck-types Django's user for ``is_authenticated`` checks)."""

    is_authenticated: Final = True
    is_anonymous: Final = False
    is_active: Final = True
    is_staff: Final = False
    is_superuser: Final = False

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.pk = self.id = self.username = principal.subject or ""

    def get_username(self) -> str:
        return self.username

    def __str__(self) -> str:
        return self.username


def get_auth() -> BearerAuth:
    """The :class:`BearerAuth` built from ``settings.JWTOBS`` (once; rebuilt when the setting changes)."""
    auth = _cache.get("auth")
    if isinstance(auth, BearerAuth):
        return auth
    conf: Mapping[str, Any] = getattr(settings, "JWTOBS", None) or {}
    target = conf.get("AUTHENTICATOR")
    if target is None:
        raise ConfigurationError("settings.JWTOBS['AUTHENTICATOR'] is not set")
    obj = import_string(target) if isinstance(target, str) else target
    if isinstance(obj, BearerAuth):
        auth = obj
    else:
        verify = getattr(obj, "verify", None)  # a Verifier / VerifierSet object
        fn = verify if callable(verify) and not isinstance(obj, type) else obj
        auth = BearerAuth(
            fn,
            realm=conf.get("REALM", "api"),
            query_param=conf.get("QUERY_PARAM", "access_token"),
            allow_query=bool(conf.get("ALLOW_QUERY", False)),
            tenant_claim=conf.get("TENANT_CLAIM"),
        )
    _cache["auth"] = auth
    return auth


def _reset(*, setting: str, **_: Any) -> None:
    if setting == "JWTOBS":
        _cache.clear()


setting_changed.connect(_reset)
