"""Fixtures shared by the five-library tests: real keys per algorithm, a ``mint`` helper, recorded events.

Stable names (other test modules import them):

``ISS``, ``AUD``, ``SUB``           the trusted issuer, this API's audience, a subject
``ALGS``                            the algorithms keys exist for: RS256, PS256, ES256, EdDSA, HS256
``LibKeys`` / ``lib_keys``          session fixture: ``private(alg)``, ``public(alg)``, ``other_private(alg)``,
                                    ``public_jwk(alg)`` / ``private_jwk(alg)`` (dicts with ``kid``/``alg``/
                                    ``use``), ``public_pem(alg)`` (bytes; HMAC secret for HS*), ``kid(alg)``
``claims(**over)``                  a valid claim set; ``name=None`` drops a claim
``mint(alg, claims, headers)``      a compact JWS signed with ``lib_keys.private(alg)`` (PyJWT signs; None drops)
``b64``, ``with_header``,           raw token surgery: base64url, replace a header, sign arbitrary header and
``sign_raw``, ``unsigned``          payload bytes, an ``alg: none`` token in any spelling
``Recorded`` / ``recorded``         function fixture: jwtobs configured with in-memory span exporter, metric
                                    reader and an event list; ``.events``, ``.spans()``, ``.exported_text()``
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import jwtobs
from jwtobs import config
from jwtobs.events import ValidationEvent
from tests.core.conftest import JwksServer

ISS: Final = "https://issuer.libraries.test"
AUD: Final = "orders-api"
SUB: Final = "user-4711"
ALGS: Final = ("RS256", "PS256", "ES256", "EdDSA", "HS256")

_FAMILY: Final = {"RS256": "rsa", "PS256": "rsa", "ES256": "ec", "EdDSA": "ed", "HS256": "hmac"}


def b64(data: bytes | str) -> str:
    """base64url without padding."""
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _gen(family: str) -> Any:
    if family == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if family == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if family == "ed":
        return ed25519.Ed25519PrivateKey.generate()
    return os.urandom(32)


@dataclass
class LibKeys:
    """One key (and one unrelated key) per key family; algorithms map onto families."""

    keys: dict[str, Any] = field(default_factory=dict)
    others: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def generate() -> LibKeys:
        fams = ("rsa", "ec", "ed", "hmac")
        return LibKeys({f: _gen(f) for f in fams}, {f: _gen(f) for f in fams})

    @staticmethod
    def kid(alg: str) -> str:
        return f"{_FAMILY[alg]}-1"

    def private(self, alg: str) -> Any:
        """The signing key: a cryptography private key, or the HMAC secret (bytes)."""
        return self.keys[_FAMILY[alg]]

    def other_private(self, alg: str) -> Any:
        """An unrelated key of the same family (for bad signatures)."""
        return self.others[_FAMILY[alg]]

    def public(self, alg: str) -> Any:
        """The verification key: a cryptography public key, or the HMAC secret (bytes)."""
        k = self.private(alg)
        return k if isinstance(k, bytes) else k.public_key()

    def public_pem(self, alg: str) -> bytes:
        """SubjectPublicKeyInfo PEM of the verification key (the raw secret for HS*)."""
        k = self.public(alg)
        if isinstance(k, bytes):
            return k
        return bytes(k.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))

    def _jwk(self, alg: str, key: Any) -> dict[str, Any]:
        algo: Any = jwt.get_algorithm_by_name(alg)
        out: dict[str, Any] = json.loads(algo.to_jwk(key))
        out.update({"kid": self.kid(alg), "alg": alg, "use": "sig"})
        return out

    def public_jwk(self, alg: str) -> dict[str, Any]:
        """Public JWK as a dict with ``kid``, ``alg``, ``use`` (for HS*: the ``oct`` key)."""
        return self._jwk(alg, self.public(alg))

    def private_jwk(self, alg: str) -> dict[str, Any]:
        return self._jwk(alg, self.private(alg))


_SESSION_KEYS: list[LibKeys] = []


def _default_keys() -> LibKeys:
    if not _SESSION_KEYS:
        _SESSION_KEYS.append(LibKeys.generate())
    return _SESSION_KEYS[0]


@pytest.fixture(scope="session")
def lib_keys() -> LibKeys:
    """The process's key set: the same one ``mint`` signs with by default."""
    return _default_keys()


def claims(**over: Any) -> dict[str, Any]:
    """A valid claim set for ``ISS``/``AUD``; keyword ``name=None`` removes a claim."""
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISS,
        "aud": AUD,
        "sub": SUB,
        "jti": os.urandom(8).hex(),
        "iat": now - 5,
        "nbf": now - 5,
        "exp": now + 600,
    }
    for k, v in over.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = v
    return base


def mint(
    alg: str,
    claims: dict[str, Any] | None = None,
    headers: dict[str, Any] | None = None,
    *,
    keys: LibKeys | None = None,
    key: Any = None,
) -> str:
    """A compact JWS over ``claims`` (default: a valid set) with ``kid`` set, signed by PyJWT.

    headers: extra header parameters; a ``None`` value removes one (``{"kid": None}``: no kid).

    keys: the key set (default: the process's set, the one the ``lib_keys`` fixture returns).
    key: sign with this key instead (e.g. ``lib_keys.other_private(alg)`` for a bad signature).
    """
    ks = keys if keys is not None else _default_keys()
    hdr: dict[str, Any] = {"kid": ks.kid(alg)}
    hdr.update(headers or {})
    hdr = {k: v for k, v in hdr.items() if v is not None}
    payload = globals()["claims"]() if claims is None else claims
    return jwt.encode(payload, key if key is not None else ks.private(alg), algorithm=alg, headers=hdr)


def with_header(token: str, header: dict[str, Any]) -> str:
    """The token with its header replaced (the signature no longer matches unless nothing changed)."""
    _, p, s = token.split(".")
    return f"{b64(json.dumps(header))}.{p}.{s}"


def sign_raw(alg: str, header: dict[str, Any], payload: bytes, key: Any) -> str:
    """A compact JWS over arbitrary header and payload bytes (signed correctly)."""
    algo: Any = jwt.get_algorithm_by_name(alg)
    signing_input = f"{b64(json.dumps(header))}.{b64(payload)}".encode()
    sig = algo.sign(signing_input, algo.prepare_key(key))
    return f"{signing_input.decode()}.{b64(sig)}"


def unsigned(spelling: str = "none", claim_set: dict[str, Any] | None = None) -> str:
    """An unsecured JWT (empty signature) with ``alg`` spelled as given."""
    return f"{b64(json.dumps({'alg': spelling, 'typ': 'JWT'}))}.{b64(json.dumps(claim_set or claims()))}."


@dataclass
class Recorded:
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    events: list[ValidationEvent]

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def clear(self) -> None:
        self.exporter.clear()
        self.events.clear()

    def exported_text(self) -> str:
        """Spans, metric points and events, serialized."""
        jwtobs.flush()
        parts = [s.to_json() for s in self.spans()]
        data = self.reader.get_metrics_data()
        if data is not None:
            parts.append(data.to_json())
        parts += [e.to_json() for e in self.events]
        return "\n".join(parts)


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    events: list[ValidationEvent] = []
    config.configure(
        tracer_provider=tp,
        meter_provider=mp,
        fingerprint_key="libraries-test-key",
        sinks=[events.append],
        issuers=[ISS],
        from_env=False,
    )
    try:
        yield Recorded(exporter, reader, events)
    finally:
        config.reset()
        tp.shutdown()
        mp.shutdown()


class JsonServer(JwksServer):
    """The core tests' JWKS endpoint (127.0.0.1, counts requests), started at once, with the document and path
    given: a JWKS endpoint for PyJWKClient, or a trap that a token-supplied URL must never reach."""

    def __init__(self, jwks: Any, path: str = "/jwks.json") -> None:
        super().__init__()
        self.jwks = jwks
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = self.base + path
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
