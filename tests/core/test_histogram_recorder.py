"""``_otel_compat.histogram_recorder``: the SDK histogram fast path records exactly what ``Histogram.record`` does."""

from __future__ import annotations

import math
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from jwtobs import _otel_compat


def _points(reader: InMemoryMetricReader) -> list[tuple[Any, ...]]:
    """Each data point, with its exemplars (value, span, trace; not their time: a replay happens later)."""
    data = reader.get_metrics_data()
    assert data is not None
    out = []
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for p in metric.data.data_points:
                    attrs = tuple(sorted(p.attributes.items()))
                    exemplars = tuple((e.value, e.span_id, e.trace_id) for e in p.exemplars)
                    out.append((metric.name, attrs, p.count, p.sum, p.min, p.max, tuple(p.bucket_counts), exemplars))
    return sorted(out)


def _histogram(reader: InMemoryMetricReader) -> Any:
    return (
        MeterProvider(metric_readers=[reader])
        .get_meter("t")
        .create_histogram("h", unit="s", explicit_bucket_boundaries_advisory=[0.001, 0.01, 0.1, 1.0])
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


# -- histogram_replay: many buffered measurements at once -------------------------------------------------------


def _attr_sets(n: int) -> list[dict[str, str]]:
    return [
        {"jwtobs.outcome": "accepted" if i % 2 else "rejected", "jwtobs.library": "pyjwt", "jwtobs.kid": f"k{i}"}
        for i in range(n)
    ]


def _stream(attr_sets: list[dict[str, str]], n: int) -> list[tuple[float, dict[str, str]]]:
    values = [0.0, 0.0004, 0.003, 0.05, 0.7, 3.0, -1.0, math.inf, math.nan, 0.02, 0.009]
    return [(values[i % len(values)], attr_sets[(i * 7) % len(attr_sets)]) for i in range(n)]


def _replay_matches_public(make_provider: Any, attr_sets: list[dict[str, str]], *, collects: int = 3) -> None:
    """Replay and the public record, fed the same measurements, export the same points (across collections)."""
    public_readers, public = make_provider()
    replay_readers, replayed = make_provider()
    replay = _otel_compat.histogram_replay(replayed)
    errors: list[BaseException] = []
    stream = _stream(attr_sets, 400)
    step = len(stream) // collects
    for c in range(collects):
        part = stream[c * step : (c + 1) * step]
        for amount, attrs in part:
            public.record(amount, attrs)
        replay([a for a, _ in part], [attrs for _, attrs in part], errors.append)
        for pr, rr in zip(public_readers, replay_readers, strict=True):
            assert _points(rr) == _points(pr)
    assert errors == []


def _provider_with(*readers_kw: dict[str, Any], views: Any = (), exemplar_filter: Any = None) -> Any:
    def make() -> tuple[list[InMemoryMetricReader], Any]:
        readers = [InMemoryMetricReader(**kw) for kw in readers_kw]
        mp = MeterProvider(metric_readers=readers, views=list(views), exemplar_filter=exemplar_filter)
        hist = mp.get_meter("t").create_histogram(
            "h", unit="s", explicit_bucket_boundaries_advisory=[0.001, 0.01, 0.1, 1.0]
        )
        return readers, hist

    return make


def test_replay_records_what_the_sdk_records() -> None:
    _readers, hist = _provider_with({})()
    if _otel_compat.sdk_in_range() and _otel_compat._FAST_RECORD:
        assert _otel_compat.histogram_replay(hist).__name__ == "replay"  # the fast path is in use with this SDK
    _replay_matches_public(_provider_with({}), _attr_sets(5))


def test_replay_with_two_readers_one_of_them_delta() -> None:
    from opentelemetry.sdk.metrics import Histogram
    from opentelemetry.sdk.metrics.export import AggregationTemporality

    delta = {"preferred_temporality": {Histogram: AggregationTemporality.DELTA}}
    _replay_matches_public(_provider_with({}, delta), _attr_sets(4))


def test_replay_with_a_view_that_drops_attributes() -> None:
    from opentelemetry.sdk.metrics.view import View

    _replay_matches_public(
        _provider_with({}, views=[View(instrument_name="h", attribute_keys={"jwtobs.outcome"})]), _attr_sets(6)
    )


def test_replay_past_the_cardinality_limit() -> None:
    from opentelemetry.sdk.metrics.view import View

    view = View(instrument_name="h", aggregation_cardinality_limit=3)
    _replay_matches_public(_provider_with({}, views=[view]), _attr_sets(8))


def test_replay_under_a_sampled_span_counts_the_same() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    with TracerProvider().get_tracer("t").start_as_current_span("parent"):
        _replay_matches_public(_provider_with({}), _attr_sets(3))


def test_replay_under_a_sampled_span_keeps_the_same_exemplars() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    with TracerProvider().get_tracer("t").start_as_current_span("parent"):
        public_readers, public = _provider_with({})()
        replay_readers, replayed = _provider_with({})()
        stream = _stream(_attr_sets(3), 60)
        for amount, attrs in stream:
            public.record(amount, attrs)
        _otel_compat.histogram_replay(replayed)([a for a, _ in stream], [attrs for _, attrs in stream], pytest.fail)
    points = _points(replay_readers[0])
    assert points == _points(public_readers[0])
    assert all(p[-1] for p in points)  # the trace-based filter sampled: every point carries exemplars


def test_replay_with_the_always_on_and_off_exemplar_filters() -> None:
    from opentelemetry.sdk.metrics import AlwaysOffExemplarFilter, AlwaysOnExemplarFilter

    for exemplar_filter in (AlwaysOnExemplarFilter(), AlwaysOffExemplarFilter()):
        _replay_matches_public(_provider_with({}, exemplar_filter=exemplar_filter), _attr_sets(4))


def test_replay_asks_another_exemplar_filter_for_every_measurement() -> None:
    """A filter whose decision depends on the value: the replay asks it per measurement (the SDK's three
    filters depend on the context alone, asked once per replay)."""
    from opentelemetry.sdk.metrics import ExemplarFilter

    class Large(ExemplarFilter):
        def __init__(self) -> None:
            self.asked = 0

        def should_sample(self, value: float, time_unix_nano: int, attributes: Any, context: Any) -> bool:
            self.asked += 1
            return value > 0.01

    large = Large()
    _replay_matches_public(_provider_with({}, exemplar_filter=large), _attr_sets(4))
    used = _stream(_attr_sets(4), 400)[: 3 * (400 // 3)]  # what _replay_matches_public feeds in three parts
    valid = sum(1 for amount, _ in used if math.isfinite(amount) and amount >= 0)
    assert large.asked == 2 * valid  # both sides, once per finite non-negative measurement


def test_replay_counts_failures_and_records_the_rest() -> None:
    class Flaky:
        def __init__(self) -> None:
            self.seen: list[float] = []

        def record(self, amount: float, attributes: Any = None) -> None:
            if amount > 1:
                raise RuntimeError("meter down")
            self.seen.append(amount)

    flaky = Flaky()
    errors: list[BaseException] = []
    _otel_compat.histogram_replay(flaky)([0.5, 2.0, 0.25], [{}, {}, {}], errors.append)
    assert flaky.seen == [0.5, 0.25] and [type(e) for e in errors] == [RuntimeError]


def test_replay_outside_the_checked_versions_records_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_otel_compat, "_FAST_RECORD", False)
    _replay_matches_public(_provider_with({}), _attr_sets(3))


# -- whole attribute sets in one step (no exemplar, aggregations made by an earlier replay) ----------------------


def _valid_stream(attr_sets: list[dict[str, str]], n: int, seed: int) -> list[tuple[float, dict[str, str]]]:
    """Finite non-negative amounts over many buckets, in an order where float addition order matters."""
    import random

    rng = random.Random(seed)
    return [
        (rng.choice((0.0, 1e-7, 3.0)) + rng.random() * 10 ** rng.randint(-6, 1), rng.choice(attr_sets))
        for _ in range(n)
    ]


def _aggregate_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from opentelemetry.sdk.metrics._internal.aggregation import _ExplicitBucketHistogramAggregation

    calls = [0]
    original = _ExplicitBucketHistogramAggregation.aggregate

    def counting(self: Any, measurement: Any, should_sample_exemplar: bool = True) -> None:
        calls[0] += 1
        original(self, measurement, should_sample_exemplar)

    monkeypatch.setattr(_ExplicitBucketHistogramAggregation, "aggregate", counting)
    return calls


def _replay_parts(make_provider: Any, parts: list[list[tuple[float, dict[str, str]]]]) -> list[int]:
    """Replay each part, record the same measurements publicly; the points are equal after every part.
    Returns the aggregate() calls each part's replay made."""
    public_readers, public = make_provider()
    replay_readers, replayed = make_provider()
    replay = _otel_compat.histogram_replay(replayed)
    from opentelemetry.sdk.metrics._internal.aggregation import _ExplicitBucketHistogramAggregation

    calls = []
    for part in parts:
        for amount, attrs in part:
            public.record(amount, attrs)
        before = _ExplicitBucketHistogramAggregation.aggregate.calls[0]  # type: ignore[attr-defined]
        replay([a for a, _ in part], [attrs for _, attrs in part], pytest.fail)
        calls.append(_ExplicitBucketHistogramAggregation.aggregate.calls[0] - before)  # type: ignore[attr-defined]
        for pr, rr in zip(public_readers, replay_readers, strict=True):
            assert _points(rr) == _points(pr)
    return calls


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry.sdk.metrics._internal.aggregation import _ExplicitBucketHistogramAggregation

    calls = _aggregate_calls(monkeypatch)
    _ExplicitBucketHistogramAggregation.aggregate.calls = calls  # type: ignore[attr-defined]


fast_sdk = pytest.mark.skipif(
    not (_otel_compat.sdk_in_range() and _otel_compat._FAST_RECORD), reason="the fast path needs a checked SDK"
)


@fast_sdk
def test_whole_sets_after_the_first_replay_give_the_same_points(counted: None) -> None:
    sets = _attr_sets(4)
    parts = [_valid_stream(sets, 300, seed) for seed in range(4)]
    calls = _replay_parts(_provider_with({}), parts)
    assert calls[0] > 0  # the first replay makes the aggregations (in order, the SDK's path)
    # later replays: each attribute set's amounts in one step, sums/counts/min/max/buckets exactly as recorded
    # one by one (the two providers' points compared after every part)
    assert calls[1:] == [0, 0, 0]


@fast_sdk
def test_whole_sets_with_two_cumulative_readers(counted: None) -> None:
    parts = [_valid_stream(_attr_sets(3), 200, seed) for seed in range(3)]
    assert _replay_parts(_provider_with({}, {}), parts)[1:] == [0, 0]


@fast_sdk
def test_equal_attribute_dicts_sharing_one_aggregation_are_recorded_in_order(counted: None) -> None:
    # two distinct dicts with the same content share an aggregation: adding them set by set would change the
    # order of the float additions of its sum
    sets = [{"jwtobs.outcome": "accepted"}, {"jwtobs.outcome": "accepted"}, {"jwtobs.outcome": "rejected"}]
    parts = [_valid_stream(sets, 300, seed) for seed in range(3)]
    calls = _replay_parts(_provider_with({}), parts)
    assert all(c > 0 for c in calls)


@fast_sdk
def test_a_delta_reader_a_view_or_a_sampled_span_keep_the_in_order_path(counted: None) -> None:
    from opentelemetry.sdk.metrics import Histogram
    from opentelemetry.sdk.metrics.export import AggregationTemporality
    from opentelemetry.sdk.metrics.view import View
    from opentelemetry.sdk.trace import TracerProvider

    delta = {"preferred_temporality": {Histogram: AggregationTemporality.DELTA}}
    view = View(instrument_name="h", attribute_keys={"jwtobs.outcome"})
    for make in (_provider_with({}, delta), _provider_with({}, views=[view])):
        parts = [_valid_stream(_attr_sets(4), 200, seed) for seed in range(3)]
        assert all(c > 0 for c in _replay_parts(make, parts))
    with TracerProvider().get_tracer("t").start_as_current_span("parent"):  # exemplars offered: one by one
        parts = [_valid_stream(_attr_sets(3), 100, seed) for seed in range(3)]
        assert all(c > 0 for c in _replay_parts(_provider_with({}), parts))


@fast_sdk
def test_a_replay_with_an_invalid_amount_is_recorded_in_order(counted: None) -> None:
    sets = _attr_sets(3)
    parts = [_valid_stream(sets, 100, 1), [*_valid_stream(sets, 100, 2), (math.nan, sets[0]), (-1.0, sets[1])]]
    parts.append(_valid_stream(sets, 100, 3))
    assert _replay_parts(_provider_with({}), parts)[1:] == [100, 0]  # the 100 valid ones, one by one
