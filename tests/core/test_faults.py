"""Observability that breaks never decides (issue #14 items 3, 4): real failures, counted, logged once.

Unwritable events paths (a read-only filesystem: /sys), a full disk (/dev/full), a span processor that raises
in on_start, a meter whose instruments raise, a span exporter that raises, sinks that raise.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

import jwtobs
from jwtobs import config
from jwtobs.events import JsonlSink, KeySetChange, ValidationEvent
from jwtobs.redact import scrub

from .conftest import AUD, ISS, Keys, claims

UNWRITABLE = "/sys/jwtobs-test/events.jsonl"  # sysfs: no directory can be created there, not even by root


def _metric_sums(reader: InMemoryMetricReader) -> dict[str, dict[tuple[tuple[str, Any], ...], float]]:
    out: dict[str, dict[tuple[tuple[str, Any], ...], float]] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                for p in m.data.data_points:
                    key = tuple(sorted(dict(p.attributes or {}).items()))
                    value = getattr(p, "value", None)
                    out.setdefault(m.name, {})[key] = float(p.count if value is None else value)  # type: ignore[attr-defined]
    return out


def _decode_ok(keys: Keys, n: int = 1) -> None:
    decode = jwtobs.wrap(jwt.decode)
    for _ in range(n):
        token = jwt.encode(claims(), keys.hmac, algorithm="HS256")
        assert decode(token, keys.hmac, algorithms=["HS256"], audience=AUD)["iss"] == ISS


@pytest.mark.parametrize("defer", [False, True])
def test_unwritable_events_path_from_the_environment_changes_no_verdict(
    keys: Keys, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, defer: bool
) -> None:
    monkeypatch.setenv("JWTOBS_EVENTS_PATH", UNWRITABLE)
    monkeypatch.setenv("JWTOBS_DEFER", "1" if defer else "0")
    config.reset()
    with caplog.at_level(logging.WARNING, logger="jwtobs"):
        state = config.current()  # built from the environment: does not raise
        _decode_ok(keys, 3)
        verifier = jwtobs.Verifier(
            jwtobs.Profile(name="api", issuer=ISS, audience=AUD, algorithms=("HS256",), token_type=None),
            keys=jwtobs.StaticKeys({"k1": keys.hmac}),
        )
        token = jwt.encode(claims(), keys.hmac, algorithm="HS256", headers={"kid": "k1"})
        assert verifier.verify(token).claims["iss"] == ISS
        bearer = "Authorization: Bearer " + token
        assert token not in scrub(bearer) and "REDACTION_FAILED" not in scrub(bearer)
        jwtobs.flush()
    assert state.telemetry.events_dropped() == 4
    assert caplog.text.count("cannot write events") == 1  # logged once for the sink


def test_unwritable_events_path_given_to_configure(keys: Keys) -> None:
    reader = InMemoryMetricReader()
    jwtobs.configure(
        events_path=UNWRITABLE,
        meter_provider=MeterProvider(metric_readers=[reader]),
        fingerprint_key="k" * 16,
        from_env=False,
    )
    _decode_ok(keys, 5)
    jwtobs.flush()
    assert _metric_sums(reader)["jwtobs.events.dropped"] == {(): 5.0}


def test_full_disk_events_are_counted(keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    if not Path("/dev/full").exists():  # pragma: no cover - Linux has it
        pytest.skip("no /dev/full")
    reader = InMemoryMetricReader()
    state = jwtobs.configure(
        events_path="/dev/full",
        meter_provider=MeterProvider(metric_readers=[reader]),
        fingerprint_key="k" * 16,
        from_env=False,
    )
    with caplog.at_level(logging.WARNING, logger="jwtobs"):
        _decode_ok(keys, 20)
        jwtobs.flush()
        _decode_ok(keys, 5)
        jwtobs.flush()
    (sink,) = [s for s in state.sinks if isinstance(s, JsonlSink)]
    assert (sink.written, sink.dropped) == (0, 25)
    assert _metric_sums(reader)["jwtobs.events.dropped"] == {(): 25.0}
    assert caplog.text.count("cannot write events to /dev/full") == 1


class _RaisingOnStart(SpanProcessor):
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        raise RuntimeError("processor broke")


class _RaisingExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise ConnectionError("collector down")


@pytest.mark.parametrize("defer", [False, True])
def test_a_tracer_raising_in_on_start_leaves_metrics_on(
    keys: Keys, caplog: pytest.LogCaptureFixture, defer: bool
) -> None:
    tp = TracerProvider(sampler=ALWAYS_ON)
    tp.add_span_processor(_RaisingOnStart())
    reader = InMemoryMetricReader()
    events: list[ValidationEvent | KeySetChange] = []
    state = jwtobs.configure(
        tracer_provider=tp,
        meter_provider=MeterProvider(metric_readers=[reader]),
        sinks=[events.append],
        fingerprint_key="k" * 16,
        defer=defer,
        from_env=False,
    )
    with caplog.at_level(logging.WARNING, logger="jwtobs"):
        _decode_ok(keys, 20)
        jwtobs.flush()
    sums = _metric_sums(reader)
    assert sum(sums["jwtobs.validation.duration"].values()) == 20  # all 20 measured
    assert sums["jwtobs.telemetry.failures"] == {(("jwtobs.component", "span"),): 20.0}
    assert len(events) == 20 and state.telemetry.events_dropped() == 0
    assert caplog.text.count("span") == 1 and "RuntimeError" in caplog.text and "processor broke" not in caplog.text


def test_a_raising_span_exporter_changes_nothing(keys: Keys) -> None:
    tp = TracerProvider(sampler=ALWAYS_ON)
    tp.add_span_processor(SimpleSpanProcessor(_RaisingExporter()))
    reader = InMemoryMetricReader()
    jwtobs.configure(
        tracer_provider=tp, meter_provider=MeterProvider(metric_readers=[reader]), fingerprint_key="k" * 16
    )
    _decode_ok(keys, 3)
    with pytest.raises(jwt.ExpiredSignatureError):  # a rejection stays the library's own
        jwtobs.wrap(jwt.decode)(
            jwt.encode(claims(exp=1), keys.hmac, algorithm="HS256"), keys.hmac, algorithms=["HS256"], audience=AUD
        )
    jwtobs.flush()
    assert sum(_metric_sums(reader)["jwtobs.validation.duration"].values()) == 4


class _BrokenInstrument:
    def record(self, *args: Any, **kwargs: Any) -> None:
        raise ValueError("meter broke")

    def add(self, *args: Any, **kwargs: Any) -> None:
        raise ValueError("meter broke")


class _BrokenMeter:
    def create_histogram(self, *args: Any, **kwargs: Any) -> _BrokenInstrument:
        return _BrokenInstrument()

    def create_observable_counter(self, *args: Any, **kwargs: Any) -> None:
        return None

    def create_observable_gauge(self, *args: Any, **kwargs: Any) -> None:
        return None


class _BrokenMeterProvider:
    def get_meter(self, *args: Any, **kwargs: Any) -> _BrokenMeter:
        return _BrokenMeter()


def test_a_raising_meter_is_counted_and_spans_stay_on(keys: Keys) -> None:
    exporter = InMemorySpanExporter()
    tp = TracerProvider(sampler=ALWAYS_ON)
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    events: list[ValidationEvent | KeySetChange] = []
    state = jwtobs.configure(
        tracer_provider=tp,
        meter_provider=_BrokenMeterProvider(),
        sinks=[events.append],
        fingerprint_key="k" * 16,
        from_env=False,
    )
    _decode_ok(keys, 4)
    jwtobs.flush()
    assert len([s for s in exporter.get_finished_spans() if s.name.startswith("jwt.validate")]) == 4
    assert len(events) == 4
    assert state.telemetry.failures() == {"metrics": 4}


class _NoMeterProvider:
    """A provider whose get_meter raises (an SDK misconfigured, a vendor shim)."""

    def get_meter(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("no meter")


class _NoHistogramMeter(_BrokenMeter):
    def create_histogram(self, *args: Any, **kwargs: Any) -> _BrokenInstrument:
        raise RuntimeError("no histogram")


class _NoHistogramProvider:
    def get_meter(self, *args: Any, **kwargs: Any) -> _NoHistogramMeter:
        return _NoHistogramMeter()


@pytest.mark.parametrize("provider", [_NoMeterProvider, _NoHistogramProvider, lambda: "not a meter provider"])
@pytest.mark.parametrize("defer", [True, False])
def test_a_meter_provider_that_cannot_make_instruments_breaks_no_flush(keys: Keys, provider: Any, defer: bool) -> None:
    """get_meter or create_histogram raising (or no provider at all): no metrics, counted; validations, events,
    jwtobs.flush() and the next configure() go on. Before: flush() and configure() raised AttributeError
    ('Telemetry' object has no attribute '_replay_duration') into the caller."""
    events: list[ValidationEvent | KeySetChange] = []
    state = jwtobs.configure(
        meter_provider=provider(), sinks=[events.append], fingerprint_key="k" * 16, from_env=False, defer=defer
    )
    _decode_ok(keys, 3)
    jwtobs.flush()
    assert len(events) == 3
    assert set(state.telemetry.failures()) <= {"metrics"} and state.telemetry.failures().get("metrics", 0) >= 1
    jwtobs.configure(fingerprint_key="k" * 16, from_env=False)
    jwtobs.flush()


def test_a_bad_environment_is_said_once_and_changes_no_verdict(
    keys: Keys, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """JWTOBS_FINGERPRINT_KEY too short: no configuration can be built, so nothing is recorded (nor counted:
    there is nothing to count with). Validations are unaffected and a warning says it once (before: a debug
    line only; every event was lost without a sign)."""
    from jwtobs import config, pipeline

    monkeypatch.setenv("JWTOBS_FINGERPRINT_KEY", "k3y!")
    monkeypatch.setattr(pipeline, "_UNCONFIGURED_WARNED", [False])
    config.reset()
    decode = jwtobs.wrap(jwt.decode)
    with caplog.at_level(logging.WARNING, logger="jwtobs"):
        for _ in range(3):
            assert decode(jwt.encode(claims(), keys.hmac, algorithm="HS256"), keys.hmac, algorithms=["HS256"],
                          audience=AUD)["sub"]  # fmt: skip
            with pytest.raises(jwt.ExpiredSignatureError):
                decode(jwt.encode(claims(exp=1), keys.hmac, algorithm="HS256"), keys.hmac, algorithms=["HS256"],
                       audience=AUD)  # fmt: skip
        jwtobs.flush()
    said = [r.getMessage() for r in caplog.records if "no configuration can be built" in r.getMessage()]
    assert len(said) == 1 and "JWTOBS_FINGERPRINT_KEY" in said[0] and "k3y!" not in said[0]  # (never the key)
    monkeypatch.delenv("JWTOBS_FINGERPRINT_KEY")
    config.reset()


def test_each_failing_sink_is_logged_once_and_counted(keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    good: list[ValidationEvent | KeySetChange] = []

    def first(record: ValidationEvent | KeySetChange) -> None:
        raise OSError("first")

    def second(record: ValidationEvent | KeySetChange) -> None:
        raise KeyError("second")

    state = jwtobs.configure(sinks=[first, second, good.append], fingerprint_key="k" * 16, from_env=False)
    with caplog.at_level(logging.WARNING, logger="jwtobs"):
        _decode_ok(keys, 3)
        jwtobs.flush()
    assert len(good) == 3
    assert state.telemetry.events_dropped() == 6
    assert state.telemetry.failures() == {"sink": 6}
    warnings = [r.getMessage() for r in caplog.records if "sink" in r.getMessage()]
    assert len(warnings) == 2 and "OSError" in warnings[0] and "KeyError" in warnings[1]
