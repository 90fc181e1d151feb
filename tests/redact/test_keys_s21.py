"""Session 21: a credential in a key of the mapping a log redactor scrubs (a structlog event's key, a logging
``extra`` name, an OpenTelemetry span, event or log record attribute name) was kept raw; keys of nested
mappings, and Sentry's, were already scrubbed."""

from __future__ import annotations

import io
import logging
from typing import Any

import jwt
import pytest
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import jwtobs
from jwtobs.redact import LoggingRedactor, StructlogRedactor
from jwtobs.redact.otel import RedactingLogExporter, RedactingSpanExporter

TOKEN = jwt.encode({"sub": "alice", "exp": 2_000_000_000}, "k" * 32, algorithm="HS256")
PAYLOAD = TOKEN.split(".")[1]


@pytest.fixture(autouse=True)
def _key() -> None:
    jwtobs.configure(fingerprint_key="redact-session-21-key", fingerprint_key_id="s")


def _keys(n: int) -> dict[str, Any]:
    return {f"field_{i}": f"value {i}" for i in range(n)}


@pytest.mark.parametrize("others", [0, 3, 12])  # (8 keys or more: the joined check of one call site's layout)
def test_structlog_event_key_holding_a_token(others: int) -> None:
    redact = StructlogRedactor()
    for _ in range(3):  # (the second and third events of a layout take the cached paths)
        for key in (TOKEN, f"Bearer {TOKEN}", f"session:{TOKEN}"):
            event = {"event": "cache filled", **_keys(others), key: "alice"}
            out = redact(None, "info", dict(event))
            assert PAYLOAD not in repr(out), key
            assert "[REDACTED:jwt:" in repr(out) and out["event"] == "cache filled"
            assert len(out) == len(event) and "alice" in out.values()


def test_logging_extra_name_holding_a_token() -> None:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "cache filled", (), None)
    record.__dict__.update({TOKEN: "alice", "user": "alice"})
    assert LoggingRedactor().filter(record)
    assert PAYLOAD not in repr(record.__dict__)
    assert any(k.startswith("[REDACTED:jwt:") for k in record.__dict__) and record.user == "alice"


def test_otel_attribute_names_holding_a_token() -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(spans)))
    with provider.get_tracer("t").start_as_current_span("s", attributes={TOKEN: "v", "ok": 1}) as span:
        span.add_event("e", {f"auth.{TOKEN}": "v"})
    (out,) = spans.get_finished_spans()
    seen = repr((dict(out.attributes or {}), [dict(e.attributes or {}) for e in out.events]))
    assert PAYLOAD not in seen and seen.count("[REDACTED:jwt:") == 2 and "'ok': 1" in seen

    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(RedactingLogExporter(logs)))
    log = logging.getLogger("tests.redact.s21")
    log.propagate = False
    handler = LoggingHandler(logger_provider=logger_provider)
    log.addHandler(handler)
    try:
        log.warning("cache filled", extra={TOKEN: "alice"})
    finally:
        log.removeHandler(handler)
    (record,) = logs.get_finished_logs()
    attrs = dict(record.log_record.attributes or {})
    assert PAYLOAD not in repr(attrs) and any(str(k).startswith("[REDACTED:jwt:") for k in attrs)


def test_structlog_redactor_after_the_renderer_scrubs_the_rendered_line() -> None:
    """Before: placed after the renderer (``processors=[..., JSONRenderer(), StructlogRedactor()]``), the redactor
    made a dict of the line's characters and ``logger.info(...)`` raised ``TypeError`` (``PrintLogger.msg() got an
    unexpected keyword argument '{'``) into the application; now the rendered line (str, bytes, or ``(args,
    kwargs)``) is scrubbed as it is."""
    structlog = pytest.importorskip("structlog")

    def as_args(logger: Any, method: str, event: Any) -> Any:
        return ((f"{event['event']} {event['token']}",), {})

    for renderer, bytes_out in (
        ([structlog.processors.JSONRenderer()], False),
        ([structlog.processors.KeyValueRenderer()], False),
        ([structlog.processors.JSONRenderer(), lambda logger, method, line: line.encode()], True),
        ([as_args], False),
    ):
        text, raw = io.StringIO(), io.BytesIO()
        sink = structlog.BytesLogger(raw) if bytes_out else structlog.PrintLogger(text)
        logger = structlog.wrap_logger(sink, processors=[*renderer, StructlogRedactor()])
        logger.info("login", token=TOKEN)
        line = raw.getvalue().decode() if bytes_out else text.getvalue()
        assert PAYLOAD not in line and "[REDACTED:jwt:" in line and "login" in line, line
