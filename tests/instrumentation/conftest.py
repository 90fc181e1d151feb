"""Fixtures for the JwtInstrumentor tests: real keys generated here, tokens signed by PyJWT, recorded events."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# imported before instrument(): patched at once (the import hook path has its own test)
import authlib.jose  # noqa: F401  (warns: AuthlibDeprecationWarning, harmless here)
import jose.jwt  # noqa: F401
import joserfc.jwt  # noqa: F401
import jwcrypto.jwt  # noqa: F401
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import jwtobs
from jwtobs import config
from jwtobs.events import ValidationEvent
from jwtobs.instrumentation import JwtInstrumentor

ISS = "https://issuer.instrumentation.test"
AUD = "inventory-api"


@dataclass(frozen=True)
class Keys:
    private: Any
    public: Any
    other: Any
    pem: bytes  # SubjectPublicKeyInfo of ``public``
    hmac: bytes

    def token(self, *, exp_in: int = 600, key: Any = None, alg: str = "RS256", **extra: Any) -> str:
        now = int(time.time())
        claims = {"iss": ISS, "aud": AUD, "sub": "user-1", "iat": now - 5, "exp": now + exp_in, **extra}
        signer = key if key is not None else (self.hmac if alg == "HS256" else self.private)
        return jwt.encode(claims, signer, algorithm=alg, headers={"kid": "k1"})


@pytest.fixture(scope="session")
def keys() -> Keys:
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return Keys(k, k.public_key(), other, pem, os.urandom(32))


@dataclass
class Recorder:
    events: list[ValidationEvent]
    exporter: InMemorySpanExporter

    def take(self) -> list[tuple[str, str, str | None]]:
        """(library, outcome, reason) of every event recorded so far, then clear."""
        config.flush()
        out = [(e.library, e.outcome, e.reason) for e in self.events]
        self.events.clear()
        return out


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    events: list[ValidationEvent] = []
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    jwtobs.configure(sinks=[events.append], fingerprint_key="instrumentation-tests", tracer_provider=tp, from_env=False)
    yield Recorder(events, exporter)


@pytest.fixture
def instrumented(recorder: Recorder) -> Iterator[Recorder]:
    inst = JwtInstrumentor()
    inst.instrument()
    try:
        yield recorder
    finally:
        inst.uninstrument()
