"""Spans only when they can be sampled, deferred histograms, cardinality guard, counters and gauges."""

from __future__ import annotations

import time

import jwt
import pytest
from opentelemetry import trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, DEFAULT_OFF, DEFAULT_ON, TraceIdRatioBased

import jwtobs
from jwtobs import telemetry
from jwtobs.events import ValidationEvent
from jwtobs.telemetry import UNKNOWN, CardinalityGuard

from .conftest import AUD, Keys, claims


def _provider(sampler: object) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tp = TracerProvider(sampler=sampler)  # type: ignore[arg-type]
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return tp, exporter


@pytest.mark.parametrize(
    ("sampler", "parent_sampled", "expect_span"),
    [
        (ALWAYS_OFF, None, False),
        (DEFAULT_OFF, None, False),  # ParentBased(ALWAYS_OFF), no parent
        (DEFAULT_OFF, True, True),  # sampled parent: child sampled
        (DEFAULT_ON, None, True),
        (DEFAULT_ON, False, False),  # unsampled parent: child dropped
        (TraceIdRatioBased(1.0), None, True),  # not a recognised shape: the SDK decides per call
    ],
)
def test_span_only_when_sampled(keys: Keys, sampler: object, parent_sampled: bool | None, expect_span: bool) -> None:
    tp, exporter = _provider(sampler)
    events: list[ValidationEvent] = []
    jwtobs.configure(tracer_provider=tp, sinks=[events.append], fingerprint_key="k" * 16, from_env=False)
    decode = jwtobs.wrap(jwt.decode)
    token = jwt.encode(claims(), keys.hmac, algorithm="HS256")
    if parent_sampled is None:
        decode(token, keys.hmac, algorithms=["HS256"], audience=AUD)
        parent = None
    else:
        ptp, _ = _provider(DEFAULT_ON if parent_sampled else ALWAYS_OFF)
        with ptp.get_tracer("app").start_as_current_span("request") as parent_span:
            parent = parent_span.get_span_context()
            decode(token, keys.hmac, algorithms=["HS256"], audience=AUD)
    spans = exporter.get_finished_spans()
    assert len(spans) == (1 if expect_span else 0)
    ev = events[0]
    if expect_span:
        assert ev.span_id == f"{spans[0].context.span_id:016x}"
        if parent is not None:
            assert spans[0].parent is not None and spans[0].parent.span_id == parent.span_id
    if parent is not None:
        assert ev.trace_id == f"{parent.trace_id:032x}"  # correlatable even without our own span


def test_global_providers_set_after_configure_are_picked_up(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    # the OTel API refuses to replace a global provider once set: emulate a fresh process
    import opentelemetry.metrics._internal as m_internal
    import opentelemetry.trace as t_mod

    monkeypatch.setattr(t_mod, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(t_mod, "_TRACER_PROVIDER_SET_ONCE", t_mod.Once())
    monkeypatch.setattr(m_internal, "_METER_PROVIDER", None)
    monkeypatch.setattr(m_internal, "_METER_PROVIDER_SET_ONCE", m_internal.Once())
    jwtobs.configure(fingerprint_key="k" * 16, from_env=False)
    decode = jwtobs.wrap(jwt.decode)
    token = jwt.encode(claims(), keys.hmac, algorithm="HS256")
    decode(token, keys.hmac, algorithms=["HS256"], audience=AUD)  # nothing set yet: no telemetry, no crash
    tp, exporter = _provider(DEFAULT_ON)
    reader = InMemoryMetricReader()
    trace.set_tracer_provider(tp)
    from opentelemetry import metrics

    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    tel = jwtobs.config.current().telemetry
    tel._tp_next_check = tel._mp_next_check = 0.0  # skip the 1 s re-check interval
    decode(token, keys.hmac, algorithms=["HS256"], audience=AUD)
    assert len(exporter.get_finished_spans()) == 1
    data = reader.get_metrics_data()
    names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert telemetry.VALIDATION_DURATION in names


def test_deferred_histogram_counts_are_exact_and_bounded(keys: Keys, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = InMemoryMetricReader()
    jwtobs.configure(meter_provider=MeterProvider(metric_readers=[reader]), fingerprint_key="k" * 16, from_env=False)
    monkeypatch.setattr(telemetry, "MAX_PENDING", 50)  # a reader that never collects: direct recording
    decode = jwtobs.wrap(jwt.decode)
    exp = int(time.time()) + 200  # near expiry: the offset is recorded for accepted tokens too
    tokens = [jwt.encode(claims(exp=exp), keys.hmac, algorithm="HS256") for _ in range(120)]
    for t in tokens:
        decode(t, keys.hmac, algorithms=["HS256"], audience=AUD)
    tel = jwtobs.config.current().telemetry
    assert len(tel._pending) == 50 * 4  # flat: (attrs, seconds, time, exp) per measurement
    data = reader.get_metrics_data()
    points = {m.name: m.data.data_points for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert sum(p.count for p in points[telemetry.VALIDATION_DURATION]) == 120
    assert sum(p.count for p in points[telemetry.TOKEN_EXPIRY_OFFSET]) == 120
    (offset,) = points[telemetry.TOKEN_EXPIRY_OFFSET]
    assert dict(offset.attributes)["jwtobs.expiry_side"] == "before_exp"
    assert 150 < offset.sum / offset.count <= 200  # |now - exp| for tokens with 200 s left
    assert not tel._pending


def test_expiry_offset_only_where_it_carries_information(keys: Keys) -> None:
    """Rejected tokens and tokens within NEAR_EXPIRY_S of exp: recorded; accepted ones with more time left: not."""
    reader = InMemoryMetricReader()
    jwtobs.configure(meter_provider=MeterProvider(metric_readers=[reader]), fingerprint_key="k" * 16, from_env=False)
    decode = jwtobs.wrap(jwt.decode)
    now = int(time.time())
    for exp, n in ((now + 3600, 5), (now + 60, 3), (now - 30, 2)):
        for _ in range(n):
            try:
                decode(
                    jwt.encode(claims(exp=exp), keys.hmac, algorithm="HS256"),
                    keys.hmac,
                    algorithms=["HS256"],
                    audience=AUD,
                )
            except jwt.ExpiredSignatureError:
                pass
    data = reader.get_metrics_data()
    points = {m.name: m.data.data_points for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert sum(p.count for p in points[telemetry.VALIDATION_DURATION]) == 10
    by_side = {
        (dict(p.attributes)["jwtobs.outcome"], dict(p.attributes)["jwtobs.expiry_side"]): p.count
        for p in points[telemetry.TOKEN_EXPIRY_OFFSET]
    }
    assert by_side == {("accepted", "before_exp"): 3, ("rejected", "after_exp"): 2}


def test_cardinality_guard() -> None:
    g = CardinalityGuard(issuers=["https://a"], kids=["k1"], max_learned=2)
    assert g.issuer("https://a") == "https://a" and g.issuer("https://evil") == UNKNOWN
    assert g.kid("k1") == "k1" and g.kid("../../etc/passwd") == UNKNOWN and g.kid(None) == UNKNOWN
    assert g.alg("RS256") == "RS256" and g.alg("rs256") == UNKNOWN and g.alg("none") == "none"
    for i in range(10):
        g.learn(f"https://learned{i}", f"kid{i}")
    assert g.issuer("https://learned1") == "https://learned1"
    assert g.issuer("https://learned5") == UNKNOWN  # bounded
    g.trust_kids(["k9"])
    assert g.kid("k9") == "k9"
    # the views the builder tests before calling learn() follow trusting and learning
    g.trust_issuers(["https://b"])
    assert {
        "https://a",
        "https://b",
        "https://learned1",
    } <= g.known_issuers and "https://learned5" not in g.known_issuers
    assert {"k1", "k9", "kid0"} <= g.known_kids


def test_attack_flood_does_not_grow_metric_series(keys: Keys) -> None:
    reader = InMemoryMetricReader()
    jwtobs.configure(meter_provider=MeterProvider(metric_readers=[reader]), fingerprint_key="k" * 16, from_env=False)
    decode = jwtobs.wrap(jwt.decode)
    for i in range(300):
        forged = jwt.encode(
            claims(iss=f"https://evil{i}"), b"y" * 32, algorithm="HS256", headers={"kid": f"../../kid-{i}\n"}
        )
        with pytest.raises(jwt.InvalidSignatureError):
            decode(forged, keys.hmac, algorithms=["HS256"], audience=AUD)
    data = reader.get_metrics_data()
    (points,) = [
        m.data.data_points
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == telemetry.VALIDATION_DURATION
    ]
    assert len(points) == 1
    assert dict(points[0].attributes)["jwtobs.kid"] == UNKNOWN


def test_counters_and_gauges_export() -> None:
    reader = InMemoryMetricReader()
    jwtobs.configure(meter_provider=MeterProvider(metric_readers=[reader]), fingerprint_key="k" * 16, from_env=False)
    tel = jwtobs.config.current().telemetry
    attrs = ((telemetry.ATTR_KIND, "jwt"), (telemetry.ATTR_SINK, "logging"))
    tel.count(telemetry.REDACTIONS, attrs)
    tel.count(telemetry.REDACTIONS, attrs, 2)
    tel.set_gauge(telemetry.JWKS_KEYS, ((telemetry.ATTR_ISSUER, "https://a"),), 3)
    tel.set_gauge(telemetry.JWKS_STALENESS, ((telemetry.ATTR_ISSUER, "https://a"),), lambda: 12.5)
    data = reader.get_metrics_data()
    got = {m.name: m.data.data_points for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert got[telemetry.REDACTIONS][0].value == 3
    assert dict(got[telemetry.REDACTIONS][0].attributes) == {"jwtobs.kind": "jwt", "jwtobs.sink": "logging"}
    assert got[telemetry.JWKS_KEYS][0].value == 3
    assert got[telemetry.JWKS_STALENESS][0].value == 12.5


def test_buffered_measurements_are_no_gc_tracked_objects(keys: Keys) -> None:
    """A reader may collect only every minute: the measurements waiting for it must not each be a GC-tracked
    object (every one would be promoted and traversed by the full collections of a busy process)."""
    import gc

    reader = InMemoryMetricReader()
    jwtobs.configure(
        meter_provider=MeterProvider(metric_readers=[reader]), fingerprint_key="k" * 16, defer=False, from_env=False
    )
    decode = jwtobs.wrap(jwt.decode)
    tokens = [jwt.encode(claims(exp=int(time.time()) + 200), keys.hmac, algorithm="HS256") for _ in range(50)]
    for t in tokens[:10]:
        decode(t, keys.hmac, algorithms=["HS256"], audience=AUD)
    reader.get_metrics_data()
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(40):
        for t in tokens:
            decode(t, keys.hmac, algorithms=["HS256"], audience=AUD)
    gc.collect()
    grown = len(gc.get_objects()) - before
    assert len(jwtobs.config.current().telemetry._pending) == 2000 * 4
    assert grown < 100  # 2000 measurements waiting (a tuple each would be 2000)
    data = reader.get_metrics_data()
    points = {m.name: m.data.data_points for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert sum(p.count for p in points[telemetry.VALIDATION_DURATION]) == 2010  # cumulative: the first 10 too
