"""Process-wide configuration: providers, fingerprint key, service name, event sinks.

``jwtobs.configure(...)`` builds a new immutable :class:`State` and swaps it in atomically; every wrapped
validator reads the current state once per call. With nothing configured, the global OpenTelemetry
providers are used, there is no event file, and a random fingerprint key is generated (with a warning).

Environment variables (read when the first state is built, and by ``configure(from_env=True)``):

``JWTOBS_FINGERPRINT_KEY``      secret for keyed fingerprints (at least 16 bytes; ``jwtobs key new`` makes one)
``JWTOBS_FINGERPRINT_KEY_ID``   short id ([0-9a-z]{1,16}) written in every fingerprint; derived if unset
``JWTOBS_EVENTS_PATH``          append validation events to this JSONL file
``JWTOBS_EVENTS_DIR``           write validation events into hourly partitions of this directory (rolled)
``JWTOBS_SERVICE``              service name in events (falls back to ``OTEL_SERVICE_NAME``)
``JWTOBS_TRUSTED_ISSUERS``      comma-separated issuers allowed as metric attribute values
``JWTOBS_LOG_EVENTS``           ``1``: also log events through the ``jwtobs.events`` logger
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from jwtobs import fingerprint as _fingerprint
from jwtobs.events import EventSink, JsonlSink, LoggerSink, ValidationEvent
from jwtobs.telemetry import CardinalityGuard, Telemetry

__all__ = ["State", "configure", "current", "flush", "reset", "use_providers"]


@dataclass(frozen=True)
class State:
    fingerprinter: _fingerprint.Fingerprinter
    telemetry: Telemetry
    guard: CardinalityGuard
    sinks: tuple[EventSink | Callable[[ValidationEvent], None], ...] = ()
    service: str | None = None
    #: claim holding the tenant, used for the event's ``tenant`` field by wrap()
    tenant_claim: str | None = None
    clock: Callable[[], float] | None = None
    #: build events on a background thread (``configure(defer=True)``)
    defer: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


_lock = threading.Lock()
_state: State | None = None


def current() -> State:
    """The state in force (built from the environment on first use)."""
    state = _state
    if state is None:
        return _init_from_env()
    return state


def _init_from_env() -> State:
    global _state
    with _lock:
        if _state is None:
            _state = _build(from_env=True)
        return _state


def _env_list(name: str) -> list[str]:
    return [v.strip() for v in os.environ.get(name, "").split(",") if v.strip()]


def _build(
    *,
    from_env: bool,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    fingerprint_key: bytes | str | None = None,
    fingerprint_key_id: str | None = None,
    service: str | None = None,
    events_path: str | os.PathLike[str] | None = None,
    events_dir: str | os.PathLike[str] | None = None,
    sinks: Iterable[EventSink | Callable[[ValidationEvent], None]] = (),
    log_events: bool | Any = False,
    issuers: Iterable[str] = (),
    kids: Iterable[str] = (),
    tenant_claim: str | None = None,
    clock: Callable[[], float] | None = None,
    defer: bool = False,
) -> State:
    if fingerprint_key:
        fp = _fingerprint.Fingerprinter(fingerprint_key, key_id=fingerprint_key_id)
    else:
        fp = _fingerprint.from_environment(use_env=from_env, key_id=fingerprint_key_id)
    issuers = list(issuers)
    out_sinks: list[EventSink | Callable[[ValidationEvent], None]] = list(sinks)
    if from_env:
        service = service or os.environ.get("JWTOBS_SERVICE") or os.environ.get("OTEL_SERVICE_NAME") or None
        events_path = events_path or os.environ.get("JWTOBS_EVENTS_PATH") or None
        events_dir = events_dir or os.environ.get("JWTOBS_EVENTS_DIR") or None
        issuers += _env_list("JWTOBS_TRUSTED_ISSUERS")
        if not log_events and os.environ.get("JWTOBS_LOG_EVENTS", "").lower() in ("1", "true", "yes"):
            log_events = True
        if not defer and os.environ.get("JWTOBS_DEFER", "").lower() in ("1", "true", "yes"):
            defer = True
    if events_path:
        out_sinks.append(JsonlSink(events_path))
    if events_dir:
        from jwtobs.rolling import RollingJsonlSink

        out_sinks.append(RollingJsonlSink(events_dir))
    if log_events is True:
        out_sinks.append(LoggerSink())
    elif log_events:
        out_sinks.append(LoggerSink(log_events))
    guard = CardinalityGuard(issuers, kids)
    telemetry = Telemetry(guard, tracer_provider=tracer_provider, meter_provider=meter_provider)
    return State(fp, telemetry, guard, tuple(out_sinks), service, tenant_claim, clock, defer)


def configure(
    *,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    fingerprint_key: bytes | str | None = None,
    fingerprint_key_id: str | None = None,
    service: str | None = None,
    events_path: str | os.PathLike[str] | None = None,
    events_dir: str | os.PathLike[str] | None = None,
    sinks: Sequence[EventSink | Callable[[ValidationEvent], None]] = (),
    log_events: bool | Any = False,
    issuers: Iterable[str] = (),
    kids: Iterable[str] = (),
    tenant_claim: str | None = None,
    clock: Callable[[], float] | None = None,
    defer: bool = False,
    from_env: bool = True,
) -> State:
    """Configure jwtobs for this process. Every argument is optional.

    tracer_provider, meter_provider: OpenTelemetry providers (default: the global ones, looked up lazily).
    fingerprint_key: secret for keyed fingerprints of tokens, ``jti`` and ``sub`` (default:
        ``JWTOBS_FINGERPRINT_KEY``, else a random per-process key with a warning).
    service: service name written in events (default ``JWTOBS_SERVICE`` / ``OTEL_SERVICE_NAME``).
    events_path: append one JSON line per validation to this file (default ``JWTOBS_EVENTS_PATH``).
    events_dir: write the JSON lines into ``date=YYYY-MM-DD/hour=HH/`` partitions of this directory, rolled
        hourly and at 128 MiB (:class:`jwtobs.rolling.RollingJsonlSink`; default ``JWTOBS_EVENTS_DIR``).
    sinks: extra callables receiving each :class:`ValidationEvent`.
    log_events: ``True`` to log events via the ``jwtobs.events`` logger, or a logger (stdlib or structlog).
    issuers, kids: values trusted as metric attribute values (others become ``_unknown``).
    tenant_claim: claim whose value ``wrap()`` records as the event's ``tenant``.
    clock: time source for event timestamps (default ``time.time``); the simulator uses a simulated clock.
    defer: build events (fingerprints, event record, sinks, metric measurements) on a background thread, so
        the request pays only for the header peek and a queue append; events appear within half a second
        (``JWTOBS_DEFER=1``). Spans are built there too, with explicit timestamps and the request's context as
        parent. Call ``jwtobs.flush()`` before reading events in tests.
    from_env: also read the environment variables for anything not given here.

    Returns the new state. Existing wrapped validators use it from their next call. Pending events of the
    previous state are flushed.
    """
    global _state
    new = _build(
        from_env=from_env,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        fingerprint_key=fingerprint_key,
        fingerprint_key_id=fingerprint_key_id,
        service=service,
        events_path=events_path,
        events_dir=events_dir,
        sinks=sinks,
        log_events=log_events,
        issuers=issuers,
        kids=kids,
        tenant_claim=tenant_claim,
        clock=clock,
        defer=defer,
    )
    with _lock:
        old, _state = _state, new
    if old is not None:
        _flush_state(old, close=True)
    return new


def use_providers(*, tracer_provider: Any = None, meter_provider: Any = None) -> State:
    """Swap in OpenTelemetry providers, keeping every other setting of the state in force (fingerprint key,
    sinks, issuers, defer...). A provider left ``None`` stays as it was. Used by
    ``JwtInstrumentor().instrument(tracer_provider=..., meter_provider=...)``, which must not undo a user's
    :func:`configure`."""
    global _state
    with _lock:
        old = _state if _state is not None else _build(from_env=True)
        tel = old.telemetry
        telemetry = Telemetry(
            old.guard,
            tracer_provider=tracer_provider if tracer_provider is not None else tel._fixed_tp,
            meter_provider=meter_provider if meter_provider is not None else tel._fixed_mp,
        )
        new = _state = replace(old, telemetry=telemetry)
    if tel._metrics_on:
        from jwtobs.pipeline import drain_deferred

        drain_deferred()
        tel.drain()  # buffered measurements go to the provider they were made under; sinks stay open (shared)
    return new


def _flush_state(state: State, *, close: bool = False) -> None:
    from jwtobs.pipeline import drain_deferred  # pipeline imports this module

    drain_deferred()
    if state.telemetry._metrics_on:
        state.telemetry.drain()
    for sink in state.sinks:
        fn = getattr(sink, "close" if close else "flush", None)
        if callable(fn):
            try:
                fn()
            except Exception:  # pragma: no cover - a sink's failure never reaches the caller
                pass


def flush() -> None:
    """Write buffered events and record buffered metric measurements now."""
    state = _state
    if state is not None:
        _flush_state(state)


def reset() -> None:
    """Drop the configuration (tests): the next call rebuilds it from the environment."""
    global _state
    with _lock:
        old, _state = _state, None
    if old is not None:
        _flush_state(old, close=True)
