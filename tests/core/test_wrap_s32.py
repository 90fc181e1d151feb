"""What a probe of the wrapper's invariants found in session 32 (real tokens, real libraries):

- an object whose ``__call__`` is ``async def``, and a plain function returning a coroutine or a future, were wrapped
  as synchronous: the event said ``accepted`` before anything was checked (150 of 150 forged tokens), and the
  cardinality guard learned the forgers' issuers and kids as metric attribute values;
- ``jwtobs.wrap(jwcrypto.jwt.JWT)`` called without a key (a parse: nothing verified) recorded forged tokens as
  accepted, as PyJWT's peeks were before session 20;
- a result the adapter cannot read (a mapping whose ``get`` raises) and an exception whose ``__setattr__`` raises
  lost their event without counting it;
- a span exporter that blocks behind the SDK's ``SimpleSpanProcessor`` held ``flush()`` and the process's exit for
  as long as every export took (60 s for 3 spans), past ``FLUSH_WAIT``."""

from __future__ import annotations

import asyncio
import collections.abc
import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

import jwtobs
from jwtobs import config

SECRET = b"s" * 32
ISS = "https://id.example"


def _token(key: bytes = SECRET, **headers: Any) -> str:
    claims = {"iss": ISS, "aud": "api", "sub": "alice", "exp": int(time.time()) + 600}
    return jwt.encode(claims, key, algorithm="HS256", headers=headers or None)


def _events(path: Path) -> list[dict[str, Any]]:
    jwtobs.flush()
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _decode(token: str) -> dict[str, Any]:
    return jwt.decode(token, SECRET, algorithms=["HS256"], audience="api", issuer=ISS)


class _AsyncValidator:
    async def __call__(self, token: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        return _decode(token)


def _returns_coroutine(token: str) -> Any:
    async def check() -> dict[str, Any]:
        return _decode(token)

    return check()


def _returns_future(token: str) -> Any:
    return asyncio.get_running_loop().run_in_executor(None, _decode, token)


@pytest.mark.parametrize(
    "validator", [_AsyncValidator(), _returns_coroutine, _returns_future], ids=["obj", "coro", "fut"]
)
def test_an_awaited_verdict_is_recorded_when_it_comes(validator: Any, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with config.override(events_path=path, fingerprint_key="k" * 32):
        wrapped = jwtobs.wrap(validator, library="pyjwt")

        async def run() -> tuple[int, dict[str, Any]]:
            rejected = 0
            for i in range(5):
                forged = _token(b"x" * 32, kid=f"evil-{i}")
                with pytest.raises(jwt.InvalidSignatureError):
                    await wrapped(forged)
                rejected += 1
            return rejected, await wrapped(_token())

        rejected, claims = asyncio.run(run())
        events = _events(path)
    assert rejected == 5 and claims["sub"] == "alice"
    assert [e["outcome"] for e in events] == ["rejected"] * 5 + ["accepted"], events
    assert {e["reason"] for e in events[:5]} == {"JWT_BAD_SIGNATURE"}
    if isinstance(validator, _AsyncValidator):
        assert inspect.iscoroutinefunction(wrapped)


def test_a_keyless_jwcrypto_parse_is_no_validation(tmp_path: Path) -> None:
    from jwcrypto import jwk
    from jwcrypto import jwt as cjwt
    from jwcrypto.common import JWException

    path = tmp_path / "events.jsonl"
    key = jwk.JWK(kty="oct", k=jwk.base64url_encode(SECRET))
    with config.override(events_path=path, fingerprint_key="k" * 32):
        JWT = jwtobs.wrap(cjwt.JWT)
        for i in range(3):
            JWT(jwt=_token(b"x" * 32, kid=f"evil-{i}"))  # a peek at the header to choose a key
        assert _events(path) == []
        JWT(jwt=_token(), key=key)  # the validation
        with pytest.raises(JWException):
            JWT(jwt="not.a.token")  # a parse failure is still a rejection
        events = _events(path)
    assert [e["outcome"] for e in events] == ["accepted", "rejected"], events


def test_a_result_the_adapter_cannot_read_is_counted_lost(tmp_path: Path) -> None:
    class Claims(collections.abc.Mapping[str, Any]):
        def __getitem__(self, k: str) -> Any:
            return {"sub": "alice"}[k]

        def __iter__(self) -> Any:
            return iter(["sub"])

        def __len__(self) -> int:
            return 1

        def get(self, k: str, d: Any = None) -> Any:
            raise RuntimeError("backend unavailable")

    path = tmp_path / "events.jsonl"
    with config.override(events_path=path, fingerprint_key="k" * 32, defer=False):
        wrapped = jwtobs.wrap(lambda token: Claims(), library="pyjwt")
        result = wrapped(_token())
        telemetry = config.current().telemetry
        dropped, failures = telemetry.events_dropped(), telemetry.failures()
    assert isinstance(result, Claims)
    assert dropped == 1 and failures.get("event") == 1, (dropped, failures)


def test_an_exception_that_refuses_attributes_still_gets_its_event(tmp_path: Path) -> None:
    class Refusing(jwt.InvalidTokenError):
        def __setattr__(self, name: str, value: Any) -> None:
            raise ValueError("frozen")

    def validate(token: str) -> Any:
        raise Refusing("no")

    path = tmp_path / "events.jsonl"
    with config.override(events_path=path, fingerprint_key="k" * 32):
        with pytest.raises(Refusing):
            jwtobs.wrap(validate, library="pyjwt")(_token())
        events = _events(path)
    assert [e["outcome"] for e in events] == ["rejected"]


def test_a_span_exporter_that_blocks_holds_flush_and_exit_at_most_flush_wait() -> None:
    script = """
import time, jwt, jwtobs
from jwtobs import pipeline
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
pipeline.FLUSH_WAIT = 1.0
class Slow(SpanExporter):
    def export(self, spans):
        time.sleep(20)
        return SpanExportResult.SUCCESS
tp = TracerProvider()
tp.add_span_processor(SimpleSpanProcessor(Slow()))
jwtobs.configure(tracer_provider=tp, fingerprint_key="k" * 16, from_env=False)
decode = jwtobs.wrap(jwt.decode)
secret = b"s" * 32
for i in range(3):
    decode(jwt.encode({"sub": str(i)}, secret, algorithm="HS256"), secret, algorithms=["HS256"])
t0 = time.monotonic()
jwtobs.flush()
print(f"flush {time.monotonic() - t0:.0f}", flush=True)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTOBS_")}
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "flush 1", out.stdout  # before: flush 60
    assert out.stderr.count("flush gave up after 1 s") == 2, out.stderr  # flush, exit
    assert time.monotonic() - t0 < 40  # (before: 120 s: each flush built the 3 spans on the caller's thread)
