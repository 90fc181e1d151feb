"""``_otel_compat.histogram_recorder``: the SDK histogram fast path records exactly what ``Histogram.record`` does."""

from __future__ import annotations

import math
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from jwtobs import _otel_compat


def _points(reader: InMemoryMetricReader) -> list[tuple[Any, ...]]:
    data = reader.get_metrics_data()
    assert data is not None
    out = []
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    attrs = tuple(sorted(p.attributes.items()))
                    out.append((metric.name, attrs, p.count, p.sum, p.min, p.max, tuple(p.bucket_counts)))
    return sorted(out)


def _histogram(reader: InMemoryMetricReader) -> Any:
    return MeterProvider(metric_readers=[reader]).get_meter("t").create_histogram(
        "h", unit="s", explicit_bucket_boundaries_advisory=[0.001, 0.01, 0.1, 1.0]
    )


def test_the_fast_path_records_what_the_sdk_records() -> None:
    attrs_a = {"jwtobs.outcome": "accepted", "jwtobs.library": "pyjwt", "jwtobs.kid": "k1"}
    attrs_b = {"jwtobs.outcome": "rejected", "jwtobs.library": "pyjwt", "jwtobs.reason": "JWT_EXPIRED"}
    values = [0.0, 0.0004, 0.003, 0.05, 0.7, 3.0, -1.0, math.inf, math.nan, 0.02]
    public_reader, fast_reader = InMemoryMetricReader(), InMemoryMetricReader()
    public, fast = _histogram(public_reader), _histogram(fast_reader)
    record = _otel_compat.histogram_recorder(fast)
    if _otel_compat.sdk_in_range() and _otel_compat._FAST_RECORD:
        assert record != fast.record  # the fast path is in use with this SDK
    for i, v in enumerate(values * 3):
        attrs = attrs_a if i % 3 else attrs_b
        public.record(v, attrs)
        record(v, attrs)
    assert _points(fast_reader) == _points(public_reader)
    assert sum(p[2] for p in _points(fast_reader)) == 3 * 7  # negative and non-finite amounts are not recorded
    assert attrs_a == {"jwtobs.outcome": "accepted", "jwtobs.library": "pyjwt", "jwtobs.kid": "k1"}


def test_outside_the_checked_versions_the_public_record_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    hist = _histogram(InMemoryMetricReader())
    monkeypatch.setattr(_otel_compat, "_FAST_RECORD", False)
    assert _otel_compat.histogram_recorder(hist) == hist.record


def test_other_instruments_use_their_own_record() -> None:
    class Other:
        def __init__(self) -> None:
            self.seen: list[tuple[float, Any]] = []

        def record(self, amount: float, attributes: Any = None) -> None:
            self.seen.append((amount, attributes))

    other = Other()
    _otel_compat.histogram_recorder(other)(0.5, {"a": "b"})
    assert other.seen == [(0.5, {"a": "b"})]
