"""``configure(defer=True)``: events built on a background thread are identical to synchronous ones."""

from __future__ import annotations

import time
from typing import Any

import jwt
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, DEFAULT_ON

import jwtobs
from jwtobs import pipeline
from jwtobs.events import ValidationEvent

from .conftest import AUD, Keys, claims


def _run(defer: bool, tokens: list[str], keys: Keys, clock: Any) -> tuple[list[dict[str, Any]], int]:
    events: list[ValidationEvent] = []
    reader = InMemoryMetricReader()
    jwtobs.configure(
        defer=defer,
        sinks=[events.append],
        fingerprint_key="k" * 16,
        clock=clock,
        tracer_provider=TracerProvider(sampler=ALWAYS_OFF),
        meter_provider=MeterProvider(metric_readers=[reader]),
        from_env=False,
    )
    decode = jwtobs.wrap(jwt.decode)
    for t in tokens:
        try:
            result = decode(t, keys.hmac, algorithms=["HS256"], audience=AUD)
            result["sub"] = "changed-after-return"  # the caller owns its dict
        except jwt.PyJWTError:
            pass
    if defer:
        assert len(events) < len(tokens)  # not built on the request thread
    jwtobs.flush()
    data = reader.get_metrics_data()
    count = sum(
        p.count
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "jwtobs.validation.duration"
        for p in m.data.data_points
    )
    return [e.to_dict() for e in events], count


def test_deferred_events_equal_synchronous_ones(keys: Keys) -> None:
    tokens = [
        jwt.encode(claims(exp=int(time.time()) + (600 if i % 3 else -600)), keys.hmac, algorithm="HS256")
        for i in range(30)
    ]
    ticks = iter(range(10_000))
    sync, n_sync = _run(False, tokens, keys, lambda: 1_800_000_000.0 + next(ticks))
    ticks = iter(range(10_000))
    deferred, n_deferred = _run(True, tokens, keys, lambda: 1_800_000_000.0 + next(ticks))
    for a, b in zip(sync, deferred, strict=True):
        a.pop("duration_s"), b.pop("duration_s")
        assert a == b
    assert n_sync == n_deferred == 30
    assert all(e["sub_hash"] == sync[0]["sub_hash"] for e in deferred)  # hashed before the caller's change


def test_sampled_spans_are_built_with_the_request_parent(keys: Keys) -> None:
    exporter = InMemorySpanExporter()
    tp = TracerProvider(sampler=DEFAULT_ON)
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    events: list[ValidationEvent] = []
    jwtobs.configure(defer=True, tracer_provider=tp, sinks=[events.append], fingerprint_key="k" * 16, from_env=False)
    with tp.get_tracer("app").start_as_current_span("GET /invoices") as request_span:
        jwtobs.wrap(jwt.decode)(
            jwt.encode(claims(), keys.hmac, algorithm="HS256"), keys.hmac, algorithms=["HS256"], audience=AUD
        )
    assert events == []
    jwtobs.flush()
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("jwt.validate")]
    assert span.parent is not None and span.parent.span_id == request_span.get_span_context().span_id
    assert events[0].span_id == f"{span.context.span_id:016x}"
    assert span.start_time < span.end_time <= request_span.end_time  # type: ignore[operator]


def test_deferred_queue_is_bounded(keys: Keys, monkeypatch: Any) -> None:
    monkeypatch.setattr(pipeline._deferred, "max_pending", 5)
    monkeypatch.setattr(pipeline._deferred, "batch", 5)
    events: list[ValidationEvent] = []
    jwtobs.configure(defer=True, sinks=[events.append], fingerprint_key="k" * 16, from_env=False)
    decode = jwtobs.wrap(jwt.decode)
    token = jwt.encode(claims(), keys.hmac, algorithm="HS256")
    with pipeline._deferred._lock:
        for _ in range(20):
            decode(token, keys.hmac, algorithms=["HS256"], audience=AUD)
        assert len(pipeline._deferred._items) == 5
        assert len(events) == 15  # built on the request thread once the queue was full: nothing dropped
    jwtobs.flush()
    assert len(events) == 20
