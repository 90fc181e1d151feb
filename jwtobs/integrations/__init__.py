"""Web framework integrations: FastAPI/Starlette, Flask, Django/DRF (RFC 6750 responses, one event per request).

Import the framework module you use (``jwtobs.integrations.fastapi``...); importing :mod:`jwtobs` or this
package never imports a framework. The framework-free core is :mod:`jwtobs.integrations.common`.
"""

from __future__ import annotations

from jwtobs.integrations.common import (
    AuthDenied,
    BearerAuth,
    Denial,
    Principal,
    RouteRule,
    TenantSource,
    exit_on_sigterm,
    install_redaction,
    principal_from,
    tenant_from_header,
    tenant_from_path,
)

__all__ = [
    "AuthDenied",
    "BearerAuth",
    "Denial",
    "Principal",
    "RouteRule",
    "TenantSource",
    "exit_on_sigterm",
    "install_redaction",
    "principal_from",
    "tenant_from_header",
    "tenant_from_path",
]
