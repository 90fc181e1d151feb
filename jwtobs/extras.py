"""Which extra installs an optional dependency, and the error for one that is missing.

The one table of the project's optional imports: the CLI (exit 3, ``jwtobs <command>: needs ...``) and every
module that needs an extra (``import jwtobs.integrations.fastapi`` without FastAPI) say the same thing.
"""

from __future__ import annotations

from typing import Final

from jwtobs import libraries

__all__ = ["EXTRA_OF_MODULE", "extra_for", "missing"]

#: top-level import name of an optional dependency -> the extra that installs it (JOSE libraries: the registry)
EXTRA_OF_MODULE: Final[dict[str, str]] = {
    **{lib.package: lib.extra for lib in libraries.LIBRARIES},
    "cryptography": "pyjwt",
    "pandas": "analysis",
    "numpy": "analysis",
    "pyarrow": "analysis",
    "matplotlib": "analysis",
    "duckdb": "analysis",
    "ruptures": "analysis",
    "hyperscan": "scan",
    "sentry_sdk": "sentry",
    "wrapt": "instruments",
    "fastapi": "fastapi",
    "starlette": "fastapi",
    "anyio": "fastapi",  # (starlette's own dependency: jwtobs.integrations.starlette imports it first)
    "flask": "flask",
    "django": "django",
    "rest_framework": "django",
    "asgiref": "django",  # (Django's own dependency: jwtobs.integrations.django imports it first)
}


def extra_for(module: str | None) -> str | None:
    """The extra that installs an optional dependency (``opentelemetry.sdk`` -> ``sdk``), or ``None``."""
    if not module:
        return None
    if module.startswith("opentelemetry.sdk") or module.startswith("opentelemetry.exporter"):
        return "otlp" if "exporter.otlp" in module else "sdk"
    return EXTRA_OF_MODULE.get(module.split(".", 1)[0])


def missing(exc: ModuleNotFoundError, needed_by: str, extra: str | None = None) -> ModuleNotFoundError:
    """The error to raise (``from None``) when ``needed_by`` cannot import an optional dependency: a
    ``ModuleNotFoundError`` of the same ``name`` whose message names the extra to install. ``exc`` itself when
    the missing module is jwtobs's own (a broken installation, not a missing extra)."""
    name = exc.name or ""
    if name == "jwtobs" or name.startswith("jwtobs."):
        return exc
    extra = extra or extra_for(name) or "all"
    return ModuleNotFoundError(
        f"{needed_by} needs {name or 'a dependency'}, which is not installed: pip install 'jwtobs[{extra}]'",
        name=exc.name,
    )
