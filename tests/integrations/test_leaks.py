"""No token, Authorization value or cookie value in any log line, span or event, while fingerprints are there.

Per framework: its real server with its default logging plus access logs at DEBUG, an app that logs every
request header and raises an exception whose message holds the token, the full matrix plus that failing
request, events also logged (``log_events``). Captured: every log record reaching the root logger and the
framework loggers (access loggers do not propagate), every span (in-memory exporter), every event.

What jwtobs itself emits (its spans, its events, its ``jwtobs.*`` log lines, the responses) is asserted clean
unconditionally. The framework's and the app's own lines (access log with a token in the query string, logged
headers, the exception message) are clean only with :mod:`jwtobs.redact` installed; those assertions are
skipped, with the reason, when that module is not present.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from werkzeug.serving import make_server

import jwtobs
from jwtobs import config
from jwtobs.events import ValidationEvent
from jwtobs.integrations import install_redaction
from tests.integrations.harness import (
    Authenticators,
    Keys,
    Stack,
    UvicornThread,
    WsgiThread,
    capture_logs,
    make_authenticators,
    matrix,
    request,
    run_matrix,
)

COOKIE_VALUE = "s3ss10n-" + "9f8e7d6c5b4a39281706f5e4d3c2b1a0" * 2
COOKIE = f"session={COOKIE_VALUE}; theme=dark"
LOGGERS = (
    "app",
    "jwtobs",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "werkzeug",
    "items_app",
    "django",
    "django.request",
    "django.server",
)
HAVE_REDACT = importlib.util.find_spec("jwtobs.redact") is not None
NO_REDACT = "jwtobs.redact (log redaction, another issue) is not in this tree yet"


def _server(framework: str, auths: Authenticators, stack: Stack) -> AbstractContextManager[Any]:
    if framework in ("fastapi", "starlette"):
        from tests.integrations.asgi_apps import fastapi_app, starlette_app

        app = (fastapi_app if framework == "fastapi" else starlette_app)(auths, stack)
        return UvicornThread(app, log_level="debug")  # uvicorn's default log config, access log on
    if framework == "flask":
        from tests.integrations.flask_app import flask_app

        return WsgiThread(make_server("127.0.0.1", 0, flask_app(auths, stack), threaded=True))
    from tests.integrations.django_server import serve

    return serve(auths, stack)


def _secrets(keys: Keys, good: str) -> list[str]:
    """Every credential the matrix sends: tokens, full Authorization values, the cookie value."""
    values = {good, f"Bearer {good}", COOKIE_VALUE}
    for case in matrix(keys):
        for name, value in case.headers:
            if name.lower() == "authorization":
                values.add(value)
                values.add(value.partition(" ")[2])
    return sorted(v for v in values if len(v) >= 16)  # "a b", "abc.def" are matrix noise, not secrets


def _span_text(span: Any, *, with_exception: bool) -> str:
    """Name and attributes; with_exception: also the status description and events (an instrumentation's
    recorded exception, whose message is the app's)."""
    parts = [span.name, json.dumps(dict(span.attributes or {}), default=str)]
    if with_exception:
        parts.append(str(span.status.description))
        for ev in span.events:
            parts.append(ev.name + json.dumps(dict(ev.attributes or {}), default=str))
    return "\n".join(parts)


@pytest.fixture
def leak_stack() -> Stack:
    return Stack(log_events=True)


@pytest.fixture
def redacted_spans(leak_stack: Stack) -> InMemorySpanExporter | None:
    """The same spans through jwtobs.redact.RedactingSpanExporter (what a user's exporter pipeline sees)."""
    if not HAVE_REDACT:
        return None
    from jwtobs.redact import RedactingSpanExporter

    exporter = InMemorySpanExporter()
    leak_stack.provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(exporter)))
    return exporter


@pytest.fixture
def leak_auths(keys: Keys, leak_stack: Stack) -> Iterator[Authenticators]:
    a = make_authenticators(keys)
    yield a
    a.close()


@pytest.mark.parametrize("framework", ["fastapi", "starlette", "flask", "django", "drf"])
def test_no_token_in_logs_spans_events(
    framework: str,
    keys: Keys,
    leak_stack: Stack,
    leak_auths: Authenticators,
    redacted_spans: InMemorySpanExporter | None,
) -> None:
    stack = leak_stack
    prefix = "/drf" if framework == "drf" else ""
    server = _server(framework, leak_auths, stack)  # before capture: servers configure logging at construction
    with capture_logs(*LOGGERS) as logs, server as srv:
        install_redaction()  # what every integration's setup does; a no-op (with a warning) without jwtobs.redact
        failures = run_matrix(srv.base, stack, keys, prefix=prefix, cookie=COOKIE)
        good = keys.token()
        boom = request(srv.base, "/boom", (("Authorization", f"Bearer {good}"),), COOKIE)
        jwtobs.flush()
    assert failures == []
    assert boom.status == 500
    secrets = _secrets(keys, good)
    fp = config.current().fingerprinter
    events = [e for e in stack.events if isinstance(e, ValidationEvent)]
    spans = stack.spans()
    ours = [s for s in spans if s.name.startswith("jwt.validate")]

    # -- what jwtobs emits: always clean -------------------------------------------------------------------
    event_text = "\n".join(e.to_json() for e in events)
    span_text = "\n".join(_span_text(s, with_exception=True) for s in ours)
    server_span_text = "\n".join(_span_text(s, with_exception=False) for s in spans if s not in ours)
    jwtobs_lines = "\n".join(line for line in logs.lines if line.startswith(("jwtobs ", "jwtobs.")))
    for where, text in (
        ("events", event_text),
        ("jwtobs spans", span_text),
        ("server span names/attributes", server_span_text),
        ("jwtobs log lines", jwtobs_lines),
    ):
        leaked = [s[:16] for s in secrets if s in text]
        assert leaked == [], f"{framework}: {where} contain a credential: {leaked}"
    # the fingerprints are there instead: in events, on spans, in jwtobs's own log lines
    token_fps = {e.token_fp for e in events if e.token_fp}
    assert fp.token(good) in token_fps
    assert len(token_fps) >= 4  # valid, expired, forged, wrong audience, other tenant...
    for f in token_fps:
        assert f in span_text, f"{framework}: fingerprint {f} missing from spans"
    assert re.search(r"token_fp=it-[0-9a-f]{12}", jwtobs_lines), "denial log lines carry the fingerprint"
    assert any(line.startswith("jwtobs.events") for line in logs.lines), "events were logged too"
    assert len(logs.lines) > 40

    # -- the framework's and the app's own lines: clean only with jwtobs.redact ---------------------------
    all_lines = "\n".join(logs.lines)
    unredacted = [s[:16] + "..." for s in secrets if s in all_lines]
    if not HAVE_REDACT:
        assert unredacted, "the app logs headers: without redaction the test must see the credentials"
        pytest.skip(f"{NO_REDACT}; framework/app log lines hold {len(unredacted)} credentials unredacted")
    assert unredacted == [], f"{framework}: log lines contain credentials"
    assert redacted_spans is not None
    exception_events = "\n".join(_span_text(s, with_exception=True) for s in redacted_spans.get_finished_spans())
    assert [s[:16] for s in secrets if s in exception_events] == [], f"{framework}: span exception events"
    for f in token_fps:  # the redacted copies keep jwtobs's own fingerprints
        assert f in exception_events
    assert fp.token(good) in all_lines, "redaction markers carry the token's fingerprint"
