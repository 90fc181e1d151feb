"""Signature backends for :class:`jwtobs.Verifier`: one module per library.

A backend only verifies the JWS signature of a compact token with a key the Verifier chose from the trusted
source; every other check (form, headers, algorithm allowlist, claims) is done by jwtobs itself, so the
verdict is the same whichever library runs. Each backend module defines ``NAME`` and
``verify_signature(token, key, alg) -> None`` raising :class:`jwtobs.TokenRejected` on failure.
"""

from __future__ import annotations

from typing import Final, Protocol, cast

from jwtobs import libraries
from jwtobs.jwks import Key

__all__ = ["Backend", "get", "able_to", "BACKENDS"]

#: library name -> backend module (derived from the registry, :mod:`jwtobs.libraries`)
BACKENDS: Final[dict[str, str]] = {lib.name: lib.backend for lib in libraries.LIBRARIES}


class Backend(Protocol):
    NAME: str
    ALGORITHMS: frozenset[str]

    def verify_signature(self, token: str, key: Key, alg: str) -> None: ...


def get(name: str) -> Backend:
    """The backend module for a library name or alias (``pyjwt``, ``joserfc``, ``jose``/``python-jose``,
    ``jwcrypto``, ``authlib``); :class:`~jwtobs.ConfigurationError` naming the extra when it is not installed."""
    return cast(Backend, libraries.load_backend(name))


def able_to(algorithms: list[str]) -> list[str]:
    """The installed backends that can verify every one of ``algorithms`` (for an error message: imports each)."""
    able = []
    for name in BACKENDS:
        try:
            backend = get(name)
        except Exception:  # not installed
            continue
        if set(algorithms) <= backend.ALGORITHMS:
            able.append(name)
    return able or ["none installed"]
