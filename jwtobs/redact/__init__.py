"""Keep tokens and credentials out of logs, traces and error reports.

>>> from jwtobs import redact
>>> redact.scrub("Authorization: Bearer eyJ...")      # -> "Authorization: Bearer [REDACTED:jwt:<fp>]"
>>> redact.scrub_value({"headers": [("Cookie", "sid=abc")]})
>>> structlog.configure(processors=[..., structlog.processors.format_exc_info,
...                                 redact.StructlogRedactor(), structlog.processors.JSONRenderer()])
>>> handler.addFilter(redact.LoggingRedactor())        # or redact.install()
>>> exporter = redact.RedactingSpanExporter(OTLPSpanExporter())
>>> log_exporter = redact.RedactingLogExporter(OTLPLogExporter())

See docs/redaction.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jwtobs.redact.processors import (
    FRAMEWORK_LOGGERS,
    LoggingRedactor,
    RedactedException,
    StructlogRedactor,
    install,
    uninstall,
)
from jwtobs.redact.scrub import FAILED, Scrubber, scrub, scrub_value

if TYPE_CHECKING:
    from jwtobs.redact.otel import RedactingLogExporter, RedactingSpanExporter

__all__ = [
    "FAILED",
    "FRAMEWORK_LOGGERS",
    "LoggingRedactor",
    "RedactedException",
    "RedactingLogExporter",
    "RedactingSpanExporter",
    "Scrubber",
    "StructlogRedactor",
    "install",
    "scrub",
    "scrub_value",
    "uninstall",
]


def __getattr__(name: str) -> Any:
    # the exporters import the OpenTelemetry SDK's trace and logs modules: only when asked for
    if name in ("RedactingSpanExporter", "RedactingLogExporter"):
        from jwtobs.redact import otel

        return getattr(otel, name)
    raise AttributeError(f"module 'jwtobs.redact' has no attribute {name!r}")
