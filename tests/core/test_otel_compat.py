"""jwtobs/_otel_compat.py reads OpenTelemetry internals: each read checked against the installed SDK."""

from __future__ import annotations

from importlib import metadata

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    DEFAULT_OFF,
    DEFAULT_ON,
    ParentBased,
    TraceIdRatioBased,
)

from jwtobs import _otel_compat as compat


def test_installed_sdk_is_in_the_tested_range_and_pyproject_bounds_it() -> None:
    assert compat.sdk_in_range(), metadata.version("opentelemetry-sdk")
    assert not compat.sdk_in_range((2, 0)) and not compat.sdk_in_range((1, 29)) and compat.sdk_in_range((1, 45))
    requires = metadata.requires("jwtobs") or []
    (sdk,) = [r for r in requires if r.startswith("opentelemetry-sdk")]
    assert "<2" in sdk and ">=1.30" in sdk


def test_span_policy_reads_the_samplers() -> None:
    assert compat.span_policy(TracerProvider(sampler=ALWAYS_OFF)) == (compat.NEVER, False)
    assert compat.span_policy(TracerProvider(sampler=DEFAULT_ON)) == (compat.PARENT_OR_ROOT, True)
    assert compat.span_policy(TracerProvider(sampler=DEFAULT_OFF)) == (compat.PARENT_OR_ROOT, False)
    assert compat.span_policy(TracerProvider(sampler=ALWAYS_ON)) == (compat.ALWAYS, True)
    assert compat.span_policy(TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.5))))[0] == compat.PARENT_OR_ROOT
    assert compat.span_policy(TracerProvider(sampler=TraceIdRatioBased(0.5))) == (compat.ALWAYS, True)
    assert compat.span_policy(trace.NoOpTracerProvider()) == (compat.NEVER, False)
    # the private attributes read: present with the expected meaning on this SDK
    assert getattr(ALWAYS_OFF, "_decision", None) is not None
    assert all(
        hasattr(DEFAULT_ON, a)
        for a in (
            "_root",
            "_remote_parent_sampled",
            "_remote_parent_not_sampled",
            "_local_parent_sampled",
            "_local_parent_not_sampled",
        )
    )
    assert hasattr(TracerProvider(), "_disabled")


def test_meter_provider_kinds() -> None:
    assert compat.meter_enabled(MeterProvider())
    assert not compat.meter_enabled(metrics.NoOpMeterProvider())
    assert compat.is_proxy_meter_provider(metrics._internal._ProxyMeterProvider())
    assert not compat.is_proxy_meter_provider(MeterProvider())


def test_the_context_getter_returns_what_get_current_returns() -> None:
    from opentelemetry import context as context_api

    get = compat.context_getter()
    assert get() is context_api.get_current()
    with TracerProvider().get_tracer("t").start_as_current_span("parent"):
        inside = get()
        assert inside is context_api.get_current() and trace.get_current_span(inside).is_recording()
    assert get() is context_api.get_current()
