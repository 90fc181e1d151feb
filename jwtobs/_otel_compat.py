"""Every place jwtobs reads OpenTelemetry internals, in one module, for a tested range of SDK versions.

jwtobs decides once per provider whether a validation span could ever be sampled (so an unsampled span is
never built) and whether a meter provider is a real one. The public API does not expose a sampler's fixed
decision nor the proxy provider class, so these functions read private attributes of the SDK
(``StaticSampler._decision``, ``ParentBased._root`` and its four child samplers, ``TracerProvider._disabled``)
and of the API (``metrics._internal._ProxyMeterProvider``).

They are read only for SDK versions in :data:`TESTED_SDK` (``tests/core/test_otel_compat.py`` checks each
read against the installed SDK, and ``pyproject.toml`` bounds the dependency to the same range). Outside it,
or when an attribute is missing, every function answers conservatively: spans are asked for on every call
(``ALWAYS``) and a meter provider is used; correctness never depends on these reads, only cost does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from typing import Any, Final

from opentelemetry import metrics, trace
from opentelemetry.context import get_current

__all__ = [
    "NEVER",
    "PARENT_OR_ROOT",
    "ALWAYS",
    "TESTED_SDK",
    "FAST_RECORD_SDK",
    "sdk_in_range",
    "span_policy",
    "is_proxy_meter_provider",
    "histogram_recorder",
    "histogram_replay",
    "Replay",
    "context_getter",
]

#: Span policies: the sampler drops everything / a standard ParentBased sampler (a span only under a sampled
#: parent, or at the root when the root sampler is not ALWAYS_OFF) / ask the SDK on every call.
NEVER: Final = 0
PARENT_OR_ROOT: Final = 1
ALWAYS: Final = 2

#: SDK versions whose internals the functions below were checked against (lower inclusive, upper exclusive).
TESTED_SDK: Final = ((1, 30), (2, 0))
#: SDK versions whose synchronous-histogram internals :func:`histogram_recorder` and :func:`histogram_replay`
#: were checked against (``Histogram.record``'s body: ``_is_enabled``, ``_measurement_consumer``,
#: ``Measurement``'s five fields; ``SynchronousMeasurementConsumer._reader_storages``/``_sdk_config``,
#: ``MetricReaderStorage._get_or_init_view_instrument_match``, ``_ViewInstrumentMatch``'s ``_view._attribute_keys``,
#: ``_reset_on_collect``, ``_attributes_aggregation`` keyed by ``_hash_attributes``, ``_Aggregation.aggregate``).
FAST_RECORD_SDK: Final = ((1, 45), (1, 46))


def _sdk_version() -> tuple[int, ...] | None:
    try:
        raw = metadata.version("opentelemetry-sdk")
    except metadata.PackageNotFoundError:
        return None
    parts: list[int] = []
    for piece in raw.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            return None
        parts.append(int(digits))
    return tuple(parts)


def sdk_in_range(version: tuple[int, ...] | None = None) -> bool:
    """Whether the installed (or given) SDK version is in :data:`TESTED_SDK`."""
    v = _sdk_version() if version is None else version
    return v is not None and TESTED_SDK[0] <= v < TESTED_SDK[1]


_IN_RANGE: Final = sdk_in_range()
_FAST_RECORD: Final = (lambda v: v is not None and FAST_RECORD_SDK[0] <= v < FAST_RECORD_SDK[1])(_sdk_version())


def _static_decision(sampler: Any) -> Any:
    from opentelemetry.sdk.trace.sampling import StaticSampler

    return getattr(sampler, "_decision", None) if type(sampler) is StaticSampler else None


def span_policy(provider: Any) -> tuple[int, bool]:
    """``(policy, root_sampled)`` for a tracer provider, decided once per provider."""
    if isinstance(provider, (trace.NoOpTracerProvider, trace.ProxyTracerProvider)):
        return NEVER, False
    try:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import Decision, ParentBased
    except ImportError:  # pragma: no cover - no SDK: someone else's provider
        return ALWAYS, True
    if not _IN_RANGE or not isinstance(provider, TracerProvider):
        return ALWAYS, True
    if getattr(provider, "_disabled", False):
        return NEVER, False
    sampler = provider.sampler
    if _static_decision(sampler) is Decision.DROP:
        return NEVER, False
    if type(sampler) is ParentBased:
        sampled = (getattr(sampler, "_remote_parent_sampled", None), getattr(sampler, "_local_parent_sampled", None))
        not_sampled = (
            getattr(sampler, "_remote_parent_not_sampled", None),
            getattr(sampler, "_local_parent_not_sampled", None),
        )
        if all(_static_decision(c) is Decision.RECORD_AND_SAMPLE for c in sampled) and all(
            _static_decision(c) is Decision.DROP for c in not_sampled
        ):
            return PARENT_OR_ROOT, _static_decision(getattr(sampler, "_root", None)) is not Decision.DROP
    return ALWAYS, True


_PROXY_METER_PROVIDER: Final[type | None] = getattr(getattr(metrics, "_internal", None), "_ProxyMeterProvider", None)


def is_proxy_meter_provider(provider: Any) -> bool:
    """Whether ``provider`` is the API's placeholder (no global meter provider set yet)."""
    return _PROXY_METER_PROVIDER is not None and isinstance(provider, _PROXY_METER_PROVIDER)


def meter_enabled(provider: Any) -> bool:
    """Whether measurements made through ``provider`` can go anywhere (not the no-op or placeholder)."""
    return not isinstance(provider, metrics.NoOpMeterProvider) and not is_proxy_meter_provider(provider)


def histogram_recorder(instrument: Any) -> Callable[[float, Mapping[str, Any]], None]:
    """``record(amount, attributes)`` for a histogram whose attribute dicts are built once, already clean
    (string values, never mutated afterwards: jwtobs's shared attribute sets).

    The SDK's ``Histogram.record`` re-cleans the attribute mapping into a new dict on every call
    (``Measurement.__post_init__``: about a third of a record's cost with six attributes). For an SDK
    histogram of a version in :data:`FAST_RECORD_SDK` this does what ``Histogram.record`` does (the same
    enabled check, amount checks, timestamp, context and measurement consumer) with the attribute dict passed
    as it is. Anything else, or a measurement the SDK would warn about, goes through ``instrument.record``.
    """
    public: Callable[[float, Mapping[str, Any]], None] = instrument.record
    if not _FAST_RECORD:
        return public
    try:
        from opentelemetry.sdk.metrics._internal.instrument import Histogram
        from opentelemetry.sdk.metrics._internal.measurement import Measurement
    except ImportError:  # pragma: no cover - checked by FAST_RECORD_SDK
        return public
    is_enabled = getattr(instrument, "_is_enabled", None)
    consume = getattr(getattr(instrument, "_measurement_consumer", None), "consume_measurement", None)
    if not isinstance(instrument, Histogram) or is_enabled is None or consume is None:
        return public
    fields = tuple(Measurement.__dataclass_fields__)
    if fields != ("value", "time_unix_nano", "instrument", "context", "attributes"):  # pragma: no cover
        return public
    new = object.__new__
    isfinite = math.isfinite
    from time import time_ns

    def record(amount: float, attributes: Mapping[str, Any]) -> None:
        if not is_enabled() or not isfinite(amount) or amount < 0:
            public(amount, attributes)  # the SDK's own handling (no-op when disabled, its warnings)
            return
        m = new(Measurement)
        m.__dict__.update(
            value=amount, time_unix_nano=time_ns(), instrument=instrument, context=get_current(), attributes=attributes
        )
        consume(m)

    return record


#: ``replay(amounts, attributes, on_error)``: record ``amounts[i]`` with ``attributes[i]`` for every ``i``, in order;
#: ``on_error(exc)`` is called for each measurement whose recording raised (the others are still recorded).
Replay = Callable[[Sequence[float], Sequence[Mapping[str, Any]], Callable[[BaseException], None]], None]


def histogram_replay(instrument: Any) -> Replay:
    """``replay(amounts, attributes, on_error)``: many buffered measurements of one histogram at once, each
    attribute dict built once, clean and shared (jwtobs's attribute sets; few distinct ones per replay).

    The SDK copies and hashes the attribute dict of every measurement to find its aggregation
    (``_ViewInstrumentMatch.consume_measurement``: ``_hash_attributes``, about half of a record with six
    attributes), then aggregates it in a locked Python method. For an SDK histogram of a version in
    :data:`FAST_RECORD_SDK` the first measurement of each attribute dict in a replay goes through the SDK's own
    path (which creates its aggregation, or routes it to the cardinality overflow); the following ones with the
    same dict go straight to the aggregations that path used, with the same exemplar decision the SDK makes per
    measurement. Only where that is exactly what the SDK would do: every reader's views for the instrument keep
    all attributes, none resets its aggregations on collection (delta temporality), no aggregation is an
    overflow. Where no exemplar is offered (the SDK's context-only filters deciding "no" for the replay's
    context: the usual case), an explicit-bucket aggregation takes the rest of an attribute set's amounts in
    one step under its lock: the sum added in the same order (``functools.reduce``: the same float additions),
    the bucket counts, min and max of the same values, so the exported point is the same as with one record
    per measurement. Anything else, another SDK version or another meter: every measurement is recorded one by
    one (:func:`histogram_recorder`).
    """
    record = histogram_recorder(instrument)

    def one_by_one(
        amounts: Sequence[float], attributes: Sequence[Mapping[str, Any]], on_error: Callable[[BaseException], None]
    ) -> None:
        for amount, attrs in zip(amounts, attributes, strict=True):
            try:
                record(amount, attrs)
            except Exception as exc:
                on_error(exc)

    if record == instrument.record:  # no fast path for this instrument / SDK version
        return one_by_one
    try:
        from opentelemetry.sdk.metrics._internal._view_instrument_match import _hash_attributes
        from opentelemetry.sdk.metrics._internal.aggregation import _ExplicitBucketHistogramAggregation
        from opentelemetry.sdk.metrics._internal.exemplar import (
            AlwaysOffExemplarFilter,
            AlwaysOnExemplarFilter,
            TraceBasedExemplarFilter,
        )
        from opentelemetry.sdk.metrics._internal.measurement import Measurement
    except ImportError:  # pragma: no cover - checked by FAST_RECORD_SDK
        return one_by_one
    # exemplar filters whose decision depends on the context alone (not on the value, time or attributes)
    context_only_filters = (AlwaysOnExemplarFilter, AlwaysOffExemplarFilter, TraceBasedExemplarFilter)
    consumer = instrument._measurement_consumer
    is_enabled = instrument._is_enabled
    exemplar_filter = getattr(getattr(consumer, "_sdk_config", None), "exemplar_filter", None)
    if getattr(consumer, "_reader_storages", None) is None or exemplar_filter is None:
        return one_by_one
    should_sample = exemplar_filter.should_sample
    consume = consumer.consume_measurement
    new = object.__new__
    isfinite = math.isfinite
    from bisect import bisect_left
    from collections import Counter
    from functools import partial, reduce
    from itertools import compress
    from operator import add
    from time import time_ns

    def aggregations(storages: Mapping[Any, Any], attributes: Mapping[str, Any]) -> list[Any] | None:
        """The aggregations the SDK's path put a measurement with ``attributes`` in, or None (then the SDK's
        path is used for every measurement with them)."""
        try:
            key = _hash_attributes(dict(attributes))
            found = []
            for storage in storages.values():
                for match in storage._get_or_init_view_instrument_match(instrument):
                    if match._view._attribute_keys is not None or match._reset_on_collect:
                        return None
                    aggregation = match._attributes_aggregation.get(key)
                    if aggregation is None:  # overflowed (cardinality limit): the SDK routes each one
                        return None
                    found.append(aggregation)
            return found
        except Exception:  # pragma: no cover - an SDK that does not look as checked: its own path
            return None

    def bulk(aggregation: Any, values: Sequence[float]) -> None:
        """What ``aggregation.aggregate`` does for each of ``values`` in turn, without exemplars (all finite,
        non-negative): one lock, the sum's additions in order, the counts, min and max of the same values."""
        with aggregation._lock:
            if aggregation._value is None:
                aggregation._value = aggregation._get_empty_bucket_counts()
            aggregation._sum = reduce(add, values, aggregation._sum)
            if aggregation._record_min_max:
                aggregation._min = min(aggregation._min, min(values))
                aggregation._max = max(aggregation._max, max(values))
            counts = aggregation._value
            for index, n in Counter(map(partial(bisect_left, aggregation._boundaries), values)).items():
                counts[index] += n

    def replay(
        amounts: Sequence[float], attributes: Sequence[Mapping[str, Any]], on_error: Callable[[BaseException], None]
    ) -> None:
        if not amounts:
            return
        ctx = get_current()
        # one replay is one instant: one timestamp, one enabled check; and for the SDK's three exemplar filters
        # (always on, always off, trace based: the sampled flag of the span in ``ctx``) one exemplar decision
        now = time_ns()
        enabled = is_enabled()
        fixed = type(exemplar_filter) in context_only_filters
        if enabled and fixed:
            groups = _whole_groups(amounts, attributes, ctx, now)
            if groups is not None:
                for aggregations_, values in groups:
                    for aggregation in aggregations_:
                        try:
                            bulk(aggregation, values)
                        except Exception as exc:  # pragma: no cover - checked by FAST_RECORD_SDK
                            on_error(exc)
                return
        storages = consumer._reader_storages
        seen: dict[int, list[Any] | None] = {}  # id(attributes) -> aggregations; the dicts outlive the replay
        sample = False
        template = {"value": 0.0, "time_unix_nano": now, "instrument": instrument, "context": ctx, "attributes": None}
        for amount, attrs in zip(amounts, attributes, strict=True):
            try:
                if not enabled or not isfinite(amount) or amount < 0:
                    record(amount, attrs)  # the SDK's own handling (no-op when disabled, its warnings)
                    continue
                if consumer._reader_storages is not storages:  # a reader was added or removed: start over
                    storages = consumer._reader_storages
                    seen.clear()
                m = new(Measurement)
                fields = m.__dict__
                fields.update(template)
                fields["value"] = amount
                fields["attributes"] = attrs
                key = id(attrs)
                if key in seen:
                    found = seen[key]
                    if found is not None:
                        if not fixed:
                            sample = should_sample(amount, now, attrs, ctx)
                        for aggregation in found:
                            aggregation.aggregate(m, sample)
                        continue
                    consume(m)
                else:
                    consume(m)
                    seen[key] = aggregations(storages, attrs)
                    if fixed:
                        sample = should_sample(amount, now, attrs, ctx)
            except Exception as exc:
                on_error(exc)

    def _whole_groups(
        amounts: Sequence[float], attributes: Sequence[Mapping[str, Any]], ctx: Any, now: int
    ) -> list[tuple[list[Any], Sequence[float]]] | None:
        """The replay as (aggregations, amounts) per distinct attribute dict, when each group can be added in
        one step and that gives what recording them in order gives: every amount finite and non-negative, no
        exemplar offered, each dict's explicit-bucket aggregations already made by the SDK (by an earlier
        replay) and no aggregation shared by two dicts (then the order of their additions would differ).
        ``None``: record in order."""
        try:
            if len(amounts) != len(attributes) or not all(map(isfinite, amounts)) or min(amounts) < 0:
                return None
            if should_sample(amounts[0], now, attributes[0], ctx):
                return None
            storages = consumer._reader_storages
            ids = list(map(id, attributes))
            distinct = dict.fromkeys(ids)  # each distinct attribute dict, in order of first use
            groups: list[tuple[list[Any], Sequence[float]]] = []
            used: set[int] = set()
            for key in distinct:
                attrs = attributes[ids.index(key)]
                found = aggregations(storages, attrs)
                if not found or any(type(a) is not _ExplicitBucketHistogramAggregation for a in found):
                    return None
                for aggregation in found:
                    if id(aggregation) in used:
                        return None
                    used.add(id(aggregation))
                values = amounts if len(distinct) == 1 else list(compress(amounts, map(key.__eq__, ids)))
                groups.append((found, values))
            return groups
        except Exception:  # amounts that are no numbers, an unexpected SDK: in order (each error reported)
            return None

    return replay


def context_getter() -> Callable[[], Any]:
    """``opentelemetry.context.get_current`` for the request thread: where the API's runtime context is its
    contextvars one (the default; checked for API versions in :data:`TESTED_SDK`), that context variable's own
    ``get`` (what ``get_current`` returns, without its two Python-level calls); ``get_current`` otherwise."""
    if not _IN_RANGE:
        return get_current
    try:
        from opentelemetry import context as context_api
        from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
    except ImportError:  # pragma: no cover - part of the API in the tested range
        return get_current
    runtime = getattr(context_api, "_RUNTIME_CONTEXT", None)
    getter: Callable[[], Any] | None = getattr(getattr(runtime, "_current_context", None), "get", None)
    if type(runtime) is not ContextVarsRuntimeContext or getter is None:
        return get_current
    return getter
