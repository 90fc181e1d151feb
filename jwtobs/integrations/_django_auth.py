"""What the Django middleware and the DRF classes share: ``request.user`` for a verified token and the
:class:`~jwtobs.integrations.common.BearerAuth` built from ``settings.JWTOBS``. Its own module so that
:mod:`jwtobs.integrations.django` (which re-exports the DRF classes lazily) and :mod:`jwtobs.integrations.drf`
do not import each other."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
    """``request.user`` for a verified token: authenticated, and without any Django permission or group.

    A token's principal is no row of Django's user table: it has scopes (``request.principal.scopes``), not Django
    model permissions. ``has_perm``, ``has_perms`` (true only for an empty list, as for any Django user),
    ``has_module_perms`` and their ``a``-prefixed async forms say no, the ``get_*_permissions`` methods return an
    empty set, and ``groups`` / ``user_permissions`` are empty managers, as on Django's ``AnonymousUser``; the
    authentication backends are not asked (``ModelBackend`` would look the principal up in the database). So DRF's
    ``DjangoModelPermissions`` answers 403 to a write and lets a read through, and ``IsAdminUser`` answers 403
    (before session 33 both were a 500, AttributeError, for every valid token). ``save``, ``delete``,
    ``set_password`` and ``check_password`` raise ``NotImplementedError``."""

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

    # -- Django's permission API: a token principal has no Django permission --------------------------------------
    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perm_list: Iterable[str], obj: Any = None) -> bool:
        if not isinstance(perm_list, Iterable) or isinstance(perm_list, str):
            raise ValueError("perm_list must be an iterable of permissions.")  # (Django's check and message)
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, module: str) -> bool:
        return False

    def get_user_permissions(self, obj: Any = None) -> set[str]:
        return set()

    def get_group_permissions(self, obj: Any = None) -> set[str]:
        return set()

    def get_all_permissions(self, obj: Any = None) -> set[str]:
        return set()

    async def ahas_perm(self, perm: str, obj: Any = None) -> bool:
        return self.has_perm(perm, obj)

    async def ahas_perms(self, perm_list: Iterable[str], obj: Any = None) -> bool:
        return self.has_perms(perm_list, obj)

    async def ahas_module_perms(self, module: str) -> bool:
        return self.has_module_perms(module)

    async def aget_user_permissions(self, obj: Any = None) -> set[str]:
        return set()

    async def aget_group_permissions(self, obj: Any = None) -> set[str]:
        return set()

    async def aget_all_permissions(self, obj: Any = None) -> set[str]:
        return set()

    @property
    def groups(self) -> Any:
        """An empty ``Group`` manager (needs ``django.contrib.auth`` in ``INSTALLED_APPS``, as Django's own does)."""
        return _empty_manager("Group")

    @property
    def user_permissions(self) -> Any:
        """An empty ``Permission`` manager (needs ``django.contrib.auth`` in ``INSTALLED_APPS``)."""
        return _empty_manager("Permission")

    def save(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("a token's principal has no database row")

    def delete(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("a token's principal has no database row")

    def set_password(self, raw_password: str) -> None:
        raise NotImplementedError("a token's principal has no password")

    def check_password(self, raw_password: str) -> bool:
        raise NotImplementedError("a token's principal has no password")


def _empty_manager(model: str) -> Any:
    # (imported when asked for: django.contrib.auth.models needs the app registry, and the auth app, to be ready)
    from django.contrib.auth import models
    from django.db.models.manager import EmptyManager

    return EmptyManager(getattr(models, model))


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
