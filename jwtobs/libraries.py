"""The JOSE libraries jwtobs supports: one record per library, the single place their names live.

Every table keyed by library name derives from :data:`LIBRARIES`: the adapter :func:`jwtobs.wrap` uses, the
signature backend of :class:`jwtobs.Verifier`, the entry points :class:`jwtobs.instrumentation.JwtInstrumentor`
patches, the ``jwtobs.library`` attribute of events, spans and metrics, and the package extra that installs
the library. :func:`resolve` accepts the canonical name or any alias in every one of those places
(``wrap(fn, library="python-jose")`` and ``Verifier(..., backend="jose")`` both mean ``jose``), and the
canonical name is what telemetry reports.

Importing this module imports no JOSE library. :func:`load_adapter` / :func:`load_backend` import one, and
raise :class:`~jwtobs.exceptions.ConfigurationError` naming the extra to install when it is missing.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType
from typing import Final

from jwtobs.exceptions import ConfigurationError

__all__ = ["Library", "Target", "LIBRARIES", "NAMES", "resolve", "get", "from_module", "load_adapter", "load_backend"]


@dataclass(frozen=True)
class Target:
    """One entry point the instrumentor patches: ``module`` + dotted ``name``, and how its calls are observed.

    kinds: ``call`` (one call is one validation), ``decode`` (first step of a two-step library; ``claims_of``
    names where its result holds the claims), ``claims`` (the second step; ``claims_of`` ``self``: the claims
    are the instance, else its first argument), ``jwcrypto_deserialize`` and ``jwcrypto_validate``.
    """

    library: str
    module: str
    name: str
    kind: str
    claims_of: str = ""
    #: position of an ``options`` argument whose ``verify_signature: False`` makes the call a peek, not a validation
    options_at: int | None = None
    #: ``call`` kind: whether the entry point may run other validation code (another patched entry point, a
    #: key or claim callback of the application): then it marks its call as observing (jwtobs.wrap.ACTIVE) so
    #: that nested validations record nothing. ``False`` for an entry point that calls neither (PyJWT's
    #: ``decode_complete``, python-jose's ``decode``: keys are values, no callbacks): its call is not marked (one
    #: context-variable write and reset less per validation), it is still skipped when nested in a marked one.
    marks: bool = True


@dataclass(frozen=True)
class Library:
    """One supported JOSE library."""

    #: canonical name: the ``library=``/``backend=`` value, the ``jwtobs.library`` telemetry attribute
    name: str
    #: other names accepted for it (compared after lower-casing and ``_`` -> ``-``)
    aliases: tuple[str, ...]
    #: PyPI distribution and the version range jwtobs supports (checked by the instrumentor)
    distribution: str
    requirement: str
    #: top-level import package (a callable from it is inferred as this library)
    package: str
    #: the module whose import completes the library (the instrumentor patches after it is imported)
    trigger: str
    #: ``jwtobs.adapters.<...>`` (wrap) and ``jwtobs.backends.<...>`` (Verifier) modules
    adapter: str
    backend: str
    #: ``pip install "jwtobs[<extra>]"`` installs the library
    extra: str
    #: validation entry points the instrumentor patches
    targets: tuple[Target, ...]

    @property
    def install_hint(self) -> str:
        return f"pip install 'jwtobs[{self.extra}]'"


def _lib(name: str, aliases: tuple[str, ...], distribution: str, minimum: str, package: str, trigger: str,
         targets: tuple[tuple[str, str, str, str, int | None, bool], ...]) -> Library:  # fmt: skip
    return Library(
        name=name,
        aliases=aliases,
        distribution=distribution,
        requirement=f"{distribution} >= {minimum}",
        package=package,
        trigger=trigger,
        adapter=f"jwtobs.adapters.{name}",
        backend=f"jwtobs.backends.{name}",
        extra=name,
        targets=tuple(Target(name, m, n, k, c, o, mk) for m, n, k, c, o, mk in targets),
    )


LIBRARIES: Final[tuple[Library, ...]] = (
    _lib("pyjwt", ("jwt",), "PyJWT", "2.10", "jwt", "jwt", (
        ("jwt.api_jwt", "PyJWT.decode_complete", "call", "", 3, False),
        ("jwt.api_jwt", "PyJWT.decode", "call", "", 3, True),  # calls self.decode_complete
    )),
    _lib("joserfc", (), "joserfc", "1.0", "joserfc", "joserfc", (
        ("joserfc.jwt", "decode", "decode", "claims", None, True),
        ("joserfc.jwt", "JWTClaimsRegistry.validate", "claims", "", None, True),
    )),
    _lib("jose", ("python-jose",), "python-jose", "3.3", "jose", "jose", (
        ("jose.jwt", "decode", "call", "", 3, False),
    )),
    _lib("jwcrypto", (), "jwcrypto", "1.5", "jwcrypto", "jwcrypto", (
        ("jwcrypto.jwt", "JWT.deserialize", "jwcrypto_deserialize", "", None, True),
        ("jwcrypto.jwt", "JWT.validate", "jwcrypto_validate", "", None, True),
    )),
    _lib("authlib", ("authlib.jose",), "Authlib", "1.3", "authlib", "authlib.jose", (
        ("authlib.jose.rfc7519.jwt", "JsonWebToken.decode", "decode", "self", None, True),
        ("authlib.jose.rfc7519.claims", "JWTClaims.validate", "claims", "self", None, True),
    )),
)  # fmt: skip

#: canonical names, in registry order
NAMES: Final[tuple[str, ...]] = tuple(lib.name for lib in LIBRARIES)

_BY_NAME: Final[dict[str, Library]] = {
    key: lib for lib in LIBRARIES for key in (lib.name, lib.distribution.lower(), *lib.aliases)
}
_BY_PACKAGE: Final[dict[str, Library]] = {lib.package: lib for lib in LIBRARIES}


def resolve(name: object) -> str:
    """The canonical name for a library name or alias; :class:`ConfigurationError` for anything else."""
    return get(name).name


def get(name: object) -> Library:
    """The record for a library name or alias (case-insensitive; ``python_jose`` = ``python-jose``)."""
    lib = _BY_NAME.get(name.strip().lower().replace("_", "-")) if isinstance(name, str) else None
    if lib is None:
        shown = repr(name)[:80]
        raise ConfigurationError(f"unknown library {shown}; expected a JOSE library: {', '.join(NAMES)} (or an alias)")
    return lib


def from_module(module: str) -> Library | None:
    """The library a module belongs to (``jwt.api_jwt`` -> pyjwt), or ``None``."""
    return _BY_PACKAGE.get(module.split(".", 1)[0])


def _load(lib: Library, modname: str, what: str) -> ModuleType:
    try:
        if importlib.util.find_spec(lib.package) is None:
            raise ModuleNotFoundError(f"No module named {lib.package!r}", name=lib.package)
        return importlib.import_module(modname)
    except ImportError as exc:
        missing = (getattr(exc, "name", None) or "").split(".", 1)[0]
        if missing == "jwtobs" or not missing:
            raise
        raise ConfigurationError(
            f"{what} {lib.name!r} needs {lib.distribution}, which is not installed ({missing!r} cannot be "
            f"imported): {lib.install_hint}"
        ) from exc


def load_adapter(name: object) -> ModuleType:
    """The adapter module of a library (for :func:`jwtobs.wrap`); the library must be installed."""
    lib = get(name)
    return _load(lib, lib.adapter, "library")


def load_backend(name: object) -> ModuleType:
    """The signature backend module of a library (for :class:`jwtobs.Verifier`)."""
    lib = get(name)
    return _load(lib, lib.backend, "backend")
