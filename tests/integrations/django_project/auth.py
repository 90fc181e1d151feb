"""Authenticators the Django test settings point at (``JWTOBS["AUTHENTICATOR"]``); set by the test fixture."""

from __future__ import annotations

from jwtobs.integrations import BearerAuth

#: the settings' authenticator (a BearerAuth); per-view ones are in AUTHS
MAIN: BearerAuth | None = None
AUTHS: dict[str, BearerAuth] = {}
