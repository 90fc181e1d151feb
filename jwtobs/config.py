"""Process-wide configuration: providers, fingerprint key, service name, event sinks.

``jwtobs.configure(...)`` builds a new immutable :class:`State` and swaps it in atomically; every wrapped
validator reads the current state once per call. With nothing configured, the global OpenTelemetry
providers are used, there is no event file, and a random fingerprint key is generated (with a warning).
:func:`override` swaps a state in for a ``with`` block and puts the previous one back (tests, simulations).

Environment variables (read when the first state is built, and by ``configure(from_env=True)``):

``JWTOBS_FINGERPRINT_KEY``      secret for keyed fingerprints (at least 16 bytes; ``jwtobs key new`` makes one)
``JWTOBS_FINGERPRINT_KEY_ID``   short id ([0-9a-z]{1,16}) written in every fingerprint; derived if unset
``JWTOBS_EVENTS_PATH``          append validation events to this JSONL file
``JWTOBS_EVENTS_DIR``           write validation events into hourly partitions of this directory (rolled)
``JWTOBS_SERVICE``              service name in events (falls back to ``OTEL_SERVICE_NAME``)
``JWTOBS_TRUSTED_ISSUERS``      comma-separated issuers allowed as metric attribute values
``JWTOBS_LOG_EVENTS``           ``1``: also log events through the ``jwtobs.events`` logger
``JWTOBS_DEFER``                ``0``: build events on the calling thread (synchronous; scripts and tests).
                                Read whenever ``defer`` is not passed, also with ``from_env=False``: it
                                picks how the process runs, not what it records. Default ``1`` (deferred)
"""

from __future__ import annotations

import contextlib
import inspect
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, TypedDict, Unpack

from jwtobs import _forksafe
from jwtobs import fingerprint as _fingerprint
from jwtobs.events import EventSink, JsonlSink, LoggerSink
from jwtobs.exceptions import ConfigurationError
from jwtobs.failures import QuietLogger
from jwtobs.telemetry import CardinalityGuard, Telemetry, exit_flush_first

__all__ = [
    "Options",
    "State",
    "before_flush",
    "configure",
    "current",
    "flush",
    "override",
    "reset",
    "use_providers",
]

_log = QuietLogger("jwtobs")  # (never raises: see QuietLogger)
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class Options(TypedDict, total=False):
    """The parameters of :func:`configure` and :func:`override`; every one is optional.

    tracer_provider, meter_provider: OpenTelemetry providers (default: the global ones, looked up lazily).
    fingerprint_key: secret for keyed fingerprints of tokens, ``jti`` and ``sub`` (default:
        ``JWTOBS_FINGERPRINT_KEY``, else a random per-process key with a warning).
    fingerprint_key_id: short id written in every fingerprint (default ``JWTOBS_FINGERPRINT_KEY_ID``/derived).
    service: service name written in events (default ``JWTOBS_SERVICE`` / ``OTEL_SERVICE_NAME``).
    events_path: append one JSON line per validation to this file (default ``JWTOBS_EVENTS_PATH``). A path
        that cannot be written (read-only filesystem) never fails a call: its events are dropped, counted in
        ``jwtobs.events.dropped`` and the problem is logged once; writing is retried at every flush.
    events_dir: write the JSON lines into ``date=YYYY-MM-DD/hour=HH/`` partitions of this directory, rolled
        hourly and at 128 MiB (:class:`jwtobs.rolling.RollingJsonlSink`; default ``JWTOBS_EVENTS_DIR``).
    sinks: extra callables receiving every record (:class:`~jwtobs.events.EventSink`): each
        :class:`~jwtobs.events.ValidationEvent` and each :class:`~jwtobs.events.KeySetChange`.
    log_events: ``True`` to log events via the ``jwtobs.events`` logger, or a logger (stdlib or structlog).
    issuers, kids: values trusted as metric attribute values (others become ``_unknown``).
    tenant_claim: claim whose value ``wrap()`` records as the event's ``tenant``.
    clock: time source for event timestamps (default ``time.time``); the simulator uses a simulated clock.
    defer: ``True`` (the default; ``JWTOBS_DEFER``): the request thread keeps what the event needs in a
        bounded queue and returns; a background thread builds the event (header peek, fingerprints, span,
        metric measurements, sinks) within a second. A full queue drops and counts, never blocks.
        ``False``: the event is complete when the validation returns. ``jwtobs.flush()`` builds and writes
        everything waiting, in either mode; process exit does too.
    from_env: also read the environment variables for anything not given here (default ``True``).
    """

    tracer_provider: Any
    meter_provider: Any
    fingerprint_key: bytes | str | None
    fingerprint_key_id: str | None
    service: str | None
    events_path: str | os.PathLike[str] | None
    events_dir: str | os.PathLike[str] | None
    sinks: Iterable[EventSink]
    log_events: bool | Any
    issuers: Iterable[str]
    kids: Iterable[str]
    tenant_claim: str | None
    clock: Callable[[], float] | None
    defer: bool | None
    from_env: bool


@dataclass(frozen=True)
class State:
    fingerprinter: _fingerprint.Fingerprinter
    telemetry: Telemetry
    guard: CardinalityGuard
    sinks: tuple[EventSink, ...] = ()
    service: str | None = None
    #: claim holding the tenant, used for the event's ``tenant`` field by wrap()
    tenant_claim: str | None = None
    clock: Callable[[], float] | None = None
    #: build events on the background thread (see :class:`Options`)
    defer: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


_lock = _forksafe.Lock()
_state: State | None = None
_before_flush: list[Callable[[], object]] = []


def current() -> State:
    """The state in force (built from the environment on first use)."""
    state = _state
    if state is None:
        return _init_from_env()
    return state


def installed() -> State | None:
    """The state in force, or None when none is built yet (unlike :func:`current`, never builds one)."""
    return _state


def _init_from_env() -> State:
    global _state
    with _lock:
        if _state is None:
            _state = _build({"from_env": True})
        return _state


def _env_list(name: str) -> list[str]:
    return [v.strip() for v in os.environ.get(name, "").split(",") if v.strip()]


_ENV_WARNED: set[str] = set()


def _env_flag(name: str) -> bool | None:
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if value and name not in _ENV_WARNED:  # (session 37: JWTOBS_DEFER=maybe, JWTOBS_LOG_EVENTS=2 were ignored unsaid)
        _ENV_WARNED.add(name)
        _log.warning("jwtobs: %s=%r is none of %s; it is ignored", name, value[:16], "/".join((*_TRUE, *_FALSE)))
    return None


#: the names :func:`configure` and :func:`override` take (:class:`Options`)
OPTION_NAMES: frozenset[str] = frozenset(Options.__optional_keys__ | Options.__required_keys__)


def _bad(name: str, value: object, wanted: str) -> ConfigurationError:
    return ConfigurationError(f"configure({name}=...): {wanted}, not {type(value).__name__}")


def _path_option(options: Options, name: str) -> str | None:
    """``events_path``/``events_dir`` as text (``bytes`` decoded as the filesystem does), or ``None``."""
    value = options.get(name)
    if value is None:
        return None
    if isinstance(value, (str, bytes, os.PathLike)):
        path = os.fsdecode(value)
        return path or None  # (an empty path: no sink, as before)
    raise _bad(name, value, "a path (str, bytes or os.PathLike)")


def _names_option(options: Options, name: str) -> list[str]:
    """``issuers``/``kids``: one string is one value (before session 37 ``issuers="https://idp"`` trusted each of
    its characters, and not the issuer)."""
    value: Any = options.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        values = list(value)
    except TypeError:
        raise _bad(name, value, "a string or an iterable of strings") from None
    for v in values:
        if not isinstance(v, str):
            raise _bad(name, v, "strings")
    return values


def _iterable(value: object) -> bool:
    try:
        iter(value)  # type: ignore[call-overload]
    except TypeError:
        return False
    return True


def _check_options(options: Options) -> None:
    """Refuse what :func:`configure` could only misread (session 37: an unknown name - a typo such as
    ``event_path=`` - was ignored without a word, ``service=5`` was written as a number into every event,
    ``defer="no"`` meant deferred, ``log_events="yes"`` made a sink failing on every record, ``sinks=fn`` and
    ``issuers=None`` raised a bare ``TypeError``). Run once per configuration, never on a request. (A provider that
    is not one stays a failure counted at run time, as documented.)"""
    unknown = sorted(set(options) - OPTION_NAMES)
    if unknown:
        raise ConfigurationError(
            f"configure(): unknown option {', '.join(unknown)} (the options: {', '.join(sorted(OPTION_NAMES))})"
        )
    for name in ("service", "tenant_claim"):
        value = options.get(name)
        if value is not None and not isinstance(value, str):
            raise _bad(name, value, "a string or None")
    for name in ("defer", "from_env"):
        value = options.get(name)
        if value is not None and type(value) is not bool:
            raise _bad(name, value, "True, False or None")
    clock = options.get("clock")
    if clock is not None and not callable(clock):
        raise _bad("clock", clock, "a callable returning POSIX seconds")
    log_events: Any = options.get("log_events")
    if log_events is not None and type(log_events) is not bool and not callable(getattr(log_events, "warning", None)):
        raise _bad("log_events", log_events, "True, False or a logger (stdlib or structlog)")
    sinks: Any = options.get("sinks")
    if sinks is not None and (isinstance(sinks, (str, bytes)) or not _iterable(sinks)):
        raise _bad("sinks", sinks, "a list of callables")


def _build(options: Options) -> State:
    _check_options(options)
    from_env = options.get("from_env", True)
    key = options.get("fingerprint_key")
    key_id = options.get("fingerprint_key_id")
    if key:
        fp = _fingerprint.Fingerprinter(key, key_id=key_id)
    else:
        fp = _fingerprint.from_environment(use_env=from_env, key_id=key_id)
    issuers = _names_option(options, "issuers")
    kids = _names_option(options, "kids")
    sinks: list[EventSink] = list(options.get("sinks") or ())
    for sink in sinks:
        _check_sink(sink)
    service = options.get("service")
    events_path = _path_option(options, "events_path")
    events_dir = _path_option(options, "events_dir")
    log_events = options.get("log_events") or False
    defer = options.get("defer")
    if from_env:
        service = service or os.environ.get("JWTOBS_SERVICE") or os.environ.get("OTEL_SERVICE_NAME") or None
        events_path = events_path or os.environ.get("JWTOBS_EVENTS_PATH") or None
        events_dir = events_dir or os.environ.get("JWTOBS_EVENTS_DIR") or None
        issuers += _env_list("JWTOBS_TRUSTED_ISSUERS")
        if not log_events and _env_flag("JWTOBS_LOG_EVENTS"):
            log_events = True
    if defer is None:
        env_defer = _env_flag("JWTOBS_DEFER")
        defer = True if env_defer is None else env_defer
    # "~/events.jsonl" is the user's home (session 37: a directory named "~" was made in the working directory)
    events_path = os.path.expanduser(events_path) if events_path else None
    events_dir = os.path.expanduser(events_dir) if events_dir else None
    if events_path:
        sinks.append(JsonlSink(events_path))  # never raises: an unwritable path drops and counts
    if events_dir:
        try:
            sinks.append(_rolling_sink(events_dir))
        except (OSError, ValueError) as exc:  # no descriptor left: the records are counted as dropped, and retried
            sinks.append(_UnavailableSink(os.fspath(events_dir), exc, lambda: _rolling_sink(events_dir)))
    if log_events is True:
        sinks.append(LoggerSink())
    elif log_events:
        sinks.append(LoggerSink(log_events))
    guard = CardinalityGuard(issuers, kids)
    telemetry = Telemetry(
        guard, tracer_provider=options.get("tracer_provider"), meter_provider=options.get("meter_provider")
    )
    _count_sink_losses(telemetry, sinks)
    return State(
        fingerprinter=fp,
        telemetry=telemetry,
        guard=guard,
        sinks=tuple(sinks),
        service=service,
        tenant_claim=options.get("tenant_claim"),
        clock=options.get("clock"),
        defer=bool(defer),
    )


def _rolling_sink(events_dir: str) -> EventSink:
    from jwtobs.rolling import RollingJsonlSink  # (its import reads a file: no descriptor left, EMFILE)

    return RollingJsonlSink(events_dir)


class _UnavailableSink:
    """Stands for an event sink that could not be created (``events_dir`` while the process had no file descriptor
    left: EMFILE): every record it would have written is counted in ``jwtobs.events.dropped`` (the problem is
    logged once, when the configuration is built), and the sink is made again (``make``) at a record or a flush at
    most once per :data:`RETRY_FIRST` doubling to :data:`RETRY_MAX` seconds - not at every record - then takes the
    records itself. Before session 38 it stayed unavailable: every later record was dropped although the process
    had its descriptors back."""

    #: the first wait before making the sink again, doubled after each failure up to ``RETRY_MAX`` seconds
    RETRY_FIRST = 0.25
    RETRY_MAX = 5.0

    def __init__(self, where: str, exc: BaseException, make: Callable[[], EventSink] | None = None) -> None:
        self.where = where
        self._own_dropped = 0
        self._make = make
        self._sink: EventSink | None = None
        self._delay = self.RETRY_FIRST
        self._next = time.monotonic() + self._delay
        self._closed = False
        self._lock = _forksafe.Lock()
        #: attempts to make the sink (the first, failed one included)
        self.attempts = 1
        _log.warning(
            "jwtobs: cannot write events under %s (%s); events are dropped and counted in jwtobs.events.dropped%s",
            where,
            type(exc).__name__,
            " (retried)" if make is not None else "",
        )

    @property
    def dropped(self) -> int:
        """Records lost: here while the sink did not exist, then inside it."""
        return self._own_dropped + int(getattr(self._sink, "dropped", 0))

    def _ready(self) -> EventSink | None:
        """The sink, made now when its wait is over (``None``: not yet)."""
        sink = self._sink
        if sink is not None or self._make is None or self._closed or time.monotonic() < self._next:
            return sink
        if not self._lock.acquire(blocking=False):  # (another thread is making it)
            return None
        try:
            if self._sink is None:
                self.attempts += 1
                try:
                    self._sink = self._make()
                except (OSError, ValueError):
                    self._delay = min(self._delay * 2, self.RETRY_MAX)
                    self._next = time.monotonic() + self._delay
                else:
                    _log.warning("jwtobs: writing events under %s again", self.where)
            return self._sink
        finally:
            self._lock.release()

    def __call__(self, record: object, /) -> None:
        sink = self._sink or self._ready()
        if sink is None:
            self._own_dropped += 1
            return
        sink(record)  # type: ignore[arg-type]

    def flush(self) -> None:
        sink = self._sink or self._ready()
        flush = getattr(sink, "flush", None)
        if callable(flush):
            flush()

    def close(self) -> None:
        self._closed = True
        close = getattr(self._sink, "close", None)
        if callable(close):
            close()

    def __repr__(self) -> str:
        return f"_UnavailableSink({self.where!r})"


def _check_sink(sink: object) -> None:
    """A sink must be a plain callable. Before session 22 anything was taken: a string failed on every record (counted,
    but only seen in the metrics), and an ``async def`` sink returned a coroutine nobody awaited - every record lost
    and counted nowhere (3 validations: 0 delivered, 0 dropped, 0 failures; a RuntimeWarning per record)."""
    if not callable(sink):
        raise ConfigurationError(f"configure(sinks=...): {type(sink).__name__} object is not callable")
    if inspect.iscoroutinefunction(sink) or inspect.iscoroutinefunction(type(sink).__call__):
        raise ConfigurationError(
            f"configure(sinks=...): {getattr(sink, '__qualname__', type(sink).__name__)} is an async function; sinks "
            "are called synchronously (on jwtobs's event thread with the default defer=True), so its coroutine would "
            "never run: pass a plain function (for an event loop: one that calls loop.call_soon_threadsafe)"
        )


def _count_sink_losses(telemetry: Telemetry, sinks: Iterable[EventSink]) -> None:
    """Sinks that count their own losses (``JsonlSink.dropped``) add them to ``jwtobs.events.dropped``."""
    for sink in sinks:
        if isinstance(getattr(sink, "dropped", None), int):
            telemetry.dropped_sources.append(_SinkLosses(sink))


class _SinkLosses:
    """The records a sink lost (its ``dropped``). Equal for the same sink: ``use_providers()`` keeps the sinks of the
    configuration it replaces, and the exported ``jwtobs.events.dropped`` (summed over the configurations that used
    a meter provider) counts a sink the two share once."""

    __slots__ = ("sink",)

    def __init__(self, sink: object) -> None:
        self.sink = sink

    def __call__(self) -> int:
        return int(getattr(self.sink, "dropped", 0))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SinkLosses) and other.sink is self.sink

    def __hash__(self) -> int:
        return id(self.sink)


def configure(**options: Unpack[Options]) -> State:
    """Configure jwtobs for this process. Every argument is optional; see :class:`Options`.

    Returns the new state. Existing wrapped validators use it from their next call. Pending events of the
    previous state are built and written, and its sinks closed.
    """
    global _state
    new = _build(options)
    with _lock:
        old, _state = _state, new
    if old is not None:
        _flush_state(old, close=True)
    exit_flush_first()  # the providers passed here exist now: jwtobs's flush at exit goes before their shutdown
    return new


@contextlib.contextmanager
def override(**options: Unpack[Options]) -> Iterator[State]:
    """A state for the duration of a ``with`` block, then the previous one back (events of the block built,
    its sinks closed; the previous state's sinks stay open)::

        with jwtobs.config.override(events_path=tmp / "events.jsonl", defer=False) as state:
            ...

    The swap goes through the same lock as :func:`configure`. Like structlog's ``capture_logs``, it is
    process-wide, not per thread.
    """
    global _state
    new = _build(options)
    with _lock:
        previous, _state = _state, new
    try:
        yield new
    finally:
        with _lock:
            _state = previous
        _flush_state(new, close=True)


def use_providers(*, tracer_provider: Any = None, meter_provider: Any = None) -> State:
    """Swap in OpenTelemetry providers, keeping every other setting of the state in force (fingerprint key,
    sinks, issuers, defer...). A provider left ``None`` stays as it was. Used by
    ``JwtInstrumentor().instrument(tracer_provider=..., meter_provider=...)``, which must not undo a user's
    :func:`configure`."""
    global _state
    with _lock:
        old = _state if _state is not None else _build({"from_env": True})
        tel = old.telemetry
        telemetry = Telemetry(
            old.guard,
            tracer_provider=tracer_provider if tracer_provider is not None else tel.tracer_provider,
            meter_provider=meter_provider if meter_provider is not None else tel.meter_provider,
        )
        _count_sink_losses(telemetry, old.sinks)
        new = _state = replace(old, telemetry=telemetry)
    _run_before_flush()
    if tel.metrics_enabled:
        tel.drain()  # buffered measurements go to the provider they were made under; sinks stay open (shared)
    return new


def before_flush(hook: Callable[[], object]) -> None:
    """Run ``hook`` first whenever a state is flushed or replaced (the pipeline builds its waiting events)."""
    if hook not in _before_flush:
        _before_flush.append(hook)


def _run_before_flush() -> None:
    for hook in _before_flush:
        try:
            hook()
        except Exception:  # pragma: no cover - the hooks never raise (they count their own failures)
            _log.debug("jwtobs: flush hook failed", exc_info=True)


def _flush_state(state: State, *, close: bool = False) -> None:
    _run_before_flush()
    if state.telemetry.metrics_enabled:
        state.telemetry.drain()
    for sink in state.sinks:
        fn = getattr(sink, "close" if close else "flush", None)
        if callable(fn):
            try:
                fn()
            except Exception as exc:  # a sink's failure never reaches the caller: counted, logged once
                state.telemetry.failed("sink", exc, sink)


def flush() -> None:
    """Build waiting events, write buffered events and record buffered metric measurements now
    (``jwtobs.flush()``; see :func:`jwtobs.pipeline.flush`)."""
    state = _state
    if state is None:
        _run_before_flush()
    else:
        _flush_state(state)  # (runs the hooks first)


def reset() -> None:
    """Drop the configuration (tests): the next call rebuilds it from the environment."""
    global _state
    with _lock:
        old, _state = _state, None
    if old is not None:
        _flush_state(old, close=True)
