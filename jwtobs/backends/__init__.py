"""Signature backends for :class:`jwtobs.Verifier`: one module per library.

A backend only verifies the JWS signature of a compact token with a key the Verifier chose from the trusted
source; every other check (form, headers, algorithm allowlist, claims) is done by jwtobs itself, so the
verdict is the same whichever library runs. Each backend module defines ``NAME`` and
``verify_signature(token, key, alg) -> None`` raising :class:`jwtobs.TokenRejected` on failure.
"""

from __future__ import annotations

import importlib
from typing import Final, Protocol, cast

from jwtobs.exceptions import ConfigurationError
from jwtobs.jwks import Key

__all__ = ["Backend", "get", "BACKENDS"]

BACKENDS: Final[dict[str, str]] = {
    "pyjwt": "jwtobs.backends.pyjwt",
    "joserfc": "jwtobs.backends.joserfc",
    "jwcrypto": "jwtobs.backends.jwcrypto",
    "authlib": "jwtobs.backends.authlib",
    "python-jose": "jwtobs.backends.jose",
}


class Backend(Protocol):
    NAME: str

    def verify_signature(self, token: str, key: Key, alg: str) -> None: ...


def get(name: str) -> Backend:
    modname = BACKENDS.get(name)
    if modname is None:
        raise ConfigurationError(f"unknown backend {name!r}; expected one of {sorted(BACKENDS)}")
    return cast(Backend, importlib.import_module(modname))
