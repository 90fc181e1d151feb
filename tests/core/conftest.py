"""Fixtures for the core tests: real keys, a real JWKS server on 127.0.0.1, in-memory OTel exporters."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import jwtobs
from jwtobs import config
from jwtobs.events import ValidationEvent
from tests.loopback import reply

ISS = "https://issuer.test"
AUD = "billing-api"


@dataclass
class Keys:
    rsa: rsa.RSAPrivateKey
    ec: ec.EllipticCurvePrivateKey
    ed: ed25519.Ed25519PrivateKey
    hmac: bytes
    other_rsa: rsa.RSAPrivateKey


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(
        rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ec=ec.generate_private_key(ec.SECP256R1()),
        ed=ed25519.Ed25519PrivateKey.generate(),
        hmac=os.urandom(32),
        other_rsa=rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


def claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISS,
        "aud": AUD,
        "sub": "alice@example.com",
        "jti": os.urandom(8).hex(),
        "iat": now - 5,
        "exp": now + 600,
        "azp": "client-1",
    }
    for k, v in over.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base


@dataclass
class Otel:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    events: list[ValidationEvent]
    events_path: Path
    log_records: list[logging.LogRecord] = field(default_factory=list)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def metrics(self) -> dict[str, list[Any]]:
        """name -> data points (after a collection)."""
        out: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        if data is None:
            return out
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out.setdefault(m.name, []).extend(m.data.data_points)
        return out

    def exported_text(self) -> str:
        """Everything exported, serialized: spans, metric points, events (objects and file), log records."""
        jwtobs.flush()
        parts = [s.to_json() for s in self.spans()]
        data = self.reader.get_metrics_data()
        if data is not None:
            parts.append(data.to_json())
        parts += [e.to_json() for e in self.events]
        if self.events_path.exists():
            parts.append(self.events_path.read_text())
        parts += [r.getMessage() + json.dumps(getattr(r, "jwtobs", {}), default=str) for r in self.log_records]
        return "\n".join(parts)


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record)


@pytest.fixture
def otel(tmp_path: Path) -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    events: list[ValidationEvent] = []
    path = tmp_path / "events.jsonl"
    o = Otel(exporter, reader, events, path)
    logger = logging.getLogger("jwtobs.events")
    handler = _ListHandler(o.log_records)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    config.configure(
        tracer_provider=tp,
        meter_provider=mp,
        fingerprint_key="core-tests-fingerprint-key",
        sinks=[events.append],
        events_path=path,
        log_events=True,
        issuers=[ISS],
        from_env=False,
    )
    try:
        yield o
    finally:
        logger.removeHandler(handler)
        config.reset()
        tp.shutdown()
        mp.shutdown()


class JwksServer:
    """A real HTTP JWKS endpoint on 127.0.0.1 serving whatever ``jwks`` holds; counts requests."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.requests = 0
        self.status = 200
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                body = json.dumps(outer.jwks).encode()
                reply(self, outer.status, body, "application/json")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def publish(self, *entries: tuple[Any, str, str]) -> None:
        """entries: (public key, kid, alg)."""
        keys = []
        for key, kid, alg in entries:
            algo = jwt.get_algorithm_by_name(alg)
            jwk = json.loads(algo.to_jwk(key))
            jwk.update({"kid": kid, "alg": alg, "use": "sig"})
            keys.append(jwk)
        self.jwks = {"keys": keys}


@pytest.fixture
def jwks_server() -> Iterator[JwksServer]:
    srv = JwksServer()
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.server.shutdown()
        srv.server.server_close()


@contextlib.contextmanager
def loopback(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on 127.0.0.1 from a thread: its base URL, the server shut down after."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()
