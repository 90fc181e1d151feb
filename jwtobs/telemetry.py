"""OpenTelemetry emission: instrument and attribute names, the cardinality guard, spans and metrics.

Every metric and attribute name jwtobs exports is defined here and nowhere else. Spans and metrics are
derived from the :class:`~jwtobs.events.ValidationEvent`; nothing here builds a second record.

Cost model (see ``docs/performance.md``): the per-validation histograms are not recorded on the request
path. ``record`` appends the measurement to an in-process buffer (~0.1 µs); the buffer is replayed into the
SDK instruments by an observable-instrument callback when a metric reader collects, so the SDK's
attribute hashing runs on the exporter's thread. The buffer is bounded: past ``MAX_PENDING`` measurements
(a reader that never collects) measurements are recorded directly, so nothing is lost and memory is
bounded. Spans are created only when they can be sampled: the tracer provider's sampler is inspected once
and a span that the sampler would drop is never built.
"""

from __future__ import annotations

import atexit
import functools
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from jwtobs import _forksafe
from jwtobs._otel_compat import (
    ALWAYS,
    NEVER,
    PARENT_OR_ROOT,
    histogram_recorder,
    histogram_replay,
    is_proxy_meter_provider,
    meter_enabled,
    span_policy,
)
from jwtobs.failures import QuietLogger
from jwtobs.version import __version__

if TYPE_CHECKING:
    from jwtobs.events import ValidationEvent

_log = QuietLogger("jwtobs")  # (never raises: see QuietLogger)

__all__ = [
    "CardinalityGuard",
    "Telemetry",
    "UNKNOWN",
    "SCOPE",
    "VALIDATION_DURATION",
    "TOKEN_EXPIRY_OFFSET",
    "JWKS_FETCHES",
    "JWKS_FETCH_DURATION",
    "JWKS_REFRESH_SUPPRESSED",
    "JWKS_KEYS",
    "JWKS_STALENESS",
    "REDACTIONS",
    "EVENTS_DROPPED",
    "TELEMETRY_FAILURES",
    "PROMETHEUS_NAMES",
    "NEAR_EXPIRY_S",
]

#: Instrumentation scope name of every tracer and meter jwtobs uses.
SCOPE: Final = "jwtobs"

# -- instrument names (OTel dot names; Prometheus sees e.g. jwtobs_validation_duration_seconds_count) --
VALIDATION_DURATION: Final = "jwtobs.validation.duration"
TOKEN_EXPIRY_OFFSET: Final = "jwtobs.token.expiry_offset"
JWKS_FETCHES: Final = "jwtobs.jwks.fetches"
JWKS_FETCH_DURATION: Final = "jwtobs.jwks.fetch.duration"
JWKS_REFRESH_SUPPRESSED: Final = "jwtobs.jwks.refresh.suppressed"
JWKS_KEYS: Final = "jwtobs.jwks.keys"
JWKS_STALENESS: Final = "jwtobs.jwks.staleness"
REDACTIONS: Final = "jwtobs.redactions"
EVENTS_DROPPED: Final = "jwtobs.events.dropped"
TELEMETRY_FAILURES: Final = "jwtobs.telemetry.failures"

# -- attribute names --
ATTR_OUTCOME: Final = "jwtobs.outcome"
ATTR_REASON: Final = "jwtobs.reason"
ATTR_ERROR_TYPE: Final = "error.type"
ATTR_LIBRARY: Final = "jwtobs.library"
ATTR_PROFILE: Final = "jwtobs.profile"
ATTR_ISSUER: Final = "jwtobs.issuer"
ATTR_ALG: Final = "jwtobs.alg"
ATTR_KID: Final = "jwtobs.kid"
ATTR_DETAIL: Final = "jwtobs.detail"
ATTR_TRIGGER: Final = "jwtobs.trigger"
ATTR_WHY: Final = "jwtobs.why"
ATTR_KIND: Final = "jwtobs.kind"
ATTR_SINK: Final = "jwtobs.sink"
#: On the telemetry failure counter: ``span``, ``metrics``, ``sink``, ``event_queue``, ``event``, ``span_queue``.
ATTR_COMPONENT: Final = "jwtobs.component"
ATTR_JTI_HASH: Final = "jwtobs.jti.hash"
ATTR_SUB_HASH: Final = "jwtobs.sub.hash"
ATTR_TOKEN_FP: Final = "jwtobs.token.fingerprint"
ATTR_TENANT: Final = "jwtobs.tenant"
#: On the expiry offset histogram: ``after_exp`` (the token was past exp) or ``before_exp`` (time was left).
ATTR_EXPIRY_SIDE: Final = "jwtobs.expiry_side"

#: Placeholder for an attacker-controlled value that is not known to be legitimate.
UNKNOWN: Final = "_unknown"
#: Span name prefix; the profile name follows (``jwt.validate billing-api``).
SPAN_NAME: Final = "jwt.validate"

#: Registered JWS/JWE algorithm names (RFC 7518, RFC 8037, RFC 9864); only these become ``jwtobs.alg``.
JWA_NAMES: Final = frozenset(
    {
        "HS256",
        "HS384",
        "HS512",
        "RS256",
        "RS384",
        "RS512",
        "ES256",
        "ES384",
        "ES512",
        "ES256K",
        "PS256",
        "PS384",
        "PS512",
        "EdDSA",
        "Ed25519",
        "Ed448",
        "none",
        "RSA1_5",
        "RSA-OAEP",
        "RSA-OAEP-256",
        "RSA-OAEP-384",
        "RSA-OAEP-512",
        "A128KW",
        "A192KW",
        "A256KW",
        "dir",
        "ECDH-ES",
        "ECDH-ES+A128KW",
        "ECDH-ES+A192KW",
        "ECDH-ES+A256KW",
        "A128GCMKW",
        "A192GCMKW",
        "A256GCMKW",
        "PBES2-HS256+A128KW",
        "PBES2-HS384+A192KW",
        "PBES2-HS512+A256KW",
    }
)

#: Bucket boundaries (seconds) of the validation duration histogram: 10 µs to 2.5 s.
DURATION_BUCKETS: Final = (
    0.00001,
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
#: Bucket boundaries (seconds) of the expiry offset histogram (|validation time - exp|).
EXPIRY_OFFSET_BUCKETS: Final = (
    1.0,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    21600.0,
    86400.0,
    604800.0,
)

#: Bucket boundaries (seconds) of the JWKS fetch duration histogram: 5 ms to 30 s (the SDK's default
#: boundaries are meant for milliseconds and would put every fetch in the first bucket).
JWKS_FETCH_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

#: Counters exported from in-process totals (see :meth:`Telemetry.count`): name -> (unit, description).
COUNTERS: Final[dict[str, tuple[str, str]]] = {
    JWKS_FETCHES: ("{fetch}", "JWKS fetches (jwtobs.trigger: startup, ttl, unknown_kid, manual)"),
    JWKS_REFRESH_SUPPRESSED: (
        "{refresh}",
        "Unknown-kid refreshes not performed (cooldown, negative_cache, inflight, coalesced)",
    ),
    REDACTIONS: ("{redaction}", "Credentials replaced by a redaction marker"),
}

#: Gauges exported from in-process values (see :meth:`Telemetry.set_gauge`): name -> (unit, description).
GAUGES: Final[dict[str, tuple[str, str]]] = {
    JWKS_KEYS: ("{key}", "Usable keys in the cached key set"),
    JWKS_STALENESS: ("s", "Seconds since the key set was last fetched successfully"),
}

#: Buffered measurements beyond which metrics are recorded directly (a reader that never collects).
MAX_PENDING: Final = 200_000

#: The expiry offset is recorded for every rejected token, and for accepted tokens only within this many
#: seconds of their ``exp`` (or past it, inside the validator's leeway): there it tells about clock skew,
#: leeway use and clients refreshing late. An accepted token with more time left carries no signal the
#: dashboards use, and skipping it halves the SDK work of an accepted validation. What is lost: the
#: distribution of remaining lifetime of accepted tokens beyond this window (no shipped panel or rule uses it).
NEAR_EXPIRY_S: Final = 300.0


def _prometheus_name(name: str, unit: str, counter: bool) -> str:
    base = name.replace(".", "_") + ("_seconds" if unit == "s" else "")
    return base + "_total" if counter else base


#: OTel instrument name -> the metric family name Prometheus shows (histograms add _bucket/_count/_sum).
#: Dashboards and alert rules import these instead of spelling them.
PROMETHEUS_NAMES: Final[dict[str, str]] = {
    VALIDATION_DURATION: _prometheus_name(VALIDATION_DURATION, "s", False),
    TOKEN_EXPIRY_OFFSET: _prometheus_name(TOKEN_EXPIRY_OFFSET, "s", False),
    JWKS_FETCH_DURATION: _prometheus_name(JWKS_FETCH_DURATION, "s", False),
    EVENTS_DROPPED: _prometheus_name(EVENTS_DROPPED, "{event}", True),
    TELEMETRY_FAILURES: _prometheus_name(TELEMETRY_FAILURES, "{failure}", True),
    **{n: _prometheus_name(n, unit, True) for n, (unit, _) in COUNTERS.items()},
    **{n: _prometheus_name(n, unit, False) for n, (unit, _) in GAUGES.items()},
}


#: kids trusted from fetched key sets over a process's life (:meth:`CardinalityGuard.trust_kids`): 10 rotations a
#: day of 3 issuers for a month, after which new kids are UNKNOWN until learned from accepted tokens (bounded too)
MAX_TRUSTED_KIDS: Final = 1000


class CardinalityGuard:
    """Decides which attacker-controlled values may become metric attribute values.

    A value is used as-is when it is *known*: an issuer or kid configured as trusted, or learned from a
    token that the validator accepted (at most ``max_learned`` of each), or an algorithm in
    :data:`JWA_NAMES`. Anything else becomes :data:`UNKNOWN`. Lookups are one set membership test.
    """

    def __init__(self, issuers: Iterable[str] = (), kids: Iterable[str] = (), *, max_learned: int = 100) -> None:
        self._issuers: set[str] = set(issuers)
        self._kids: set[str] = set(kids)
        #: the trusted and learned values (read-only views for callers that test membership before learning)
        self.known_issuers: set[str] = self._issuers
        self.known_kids: set[str] = self._kids
        self._max_learned = max_learned
        self._learned_issuers = 0
        self._learned_kids = 0
        self._trusted_kids = 0  # (trust_kids: from key sets, bounded)
        self._lock = _forksafe.Lock()
        #: bumped whenever a value becomes trusted, so caches of derived labels can be dropped
        self.version = 0

    def trust_issuers(self, issuers: Iterable[str]) -> None:
        with self._lock:
            self._issuers |= {i for i in issuers if isinstance(i, str)}
            self.version += 1

    def trust_kids(self, kids: Iterable[str]) -> None:
        """Trust the kids of a fetched key set, up to :data:`MAX_TRUSTED_KIDS` in all: a key set whose kids keep
        changing (a misbehaving IdP) must not grow the metric attribute values without bound."""
        with self._lock:
            fresh = {k for k in kids if isinstance(k, str) and k not in self._kids}
            room = MAX_TRUSTED_KIDS - self._trusted_kids
            if room <= 0 or not fresh:
                return
            fresh = set(sorted(fresh)[:room])
            self._kids |= fresh
            self._trusted_kids += len(fresh)
            self.version += 1

    def learn(self, issuer: str | None, kid: str | None) -> None:
        """Remember the issuer and kid of an accepted token (bounded)."""
        if issuer is not None and issuer not in self._issuers and self._learned_issuers < self._max_learned:
            with self._lock:
                self._issuers.add(issuer)
                self._learned_issuers += 1
                self.version += 1
        if kid is not None and kid not in self._kids and self._learned_kids < self._max_learned:
            with self._lock:
                self._kids.add(kid)
                self._learned_kids += 1
                self.version += 1

    def issuer(self, value: str | None) -> str:
        return value if value is not None and value in self._issuers else UNKNOWN

    def kid(self, value: str | None) -> str:
        return value if value is not None and value in self._kids else UNKNOWN

    @staticmethod
    def alg(value: str | None) -> str:
        return value if value is not None and value in JWA_NAMES else UNKNOWN


#: jwtobs's flush at exit (:func:`jwtobs.pipeline.flush`; registered by the pipeline): kept the last atexit
#: handler registered, so it runs before every other one (``atexit`` runs them last in, first out)
_EXIT_FLUSH: list[Callable[[], None]] = []
_EXITING: list[bool] = [False]
_THREADING_HOOK: list[bool] = [False]


def flush_at_exit(fn: Callable[[], None]) -> None:
    """Register ``fn`` (the pipeline's flush) to run at exit, before the handlers of OpenTelemetry providers."""
    _EXIT_FLUSH.append(fn)
    atexit.register(fn)
    # Moving the handler when a configuration is made or a provider is adopted (exit_flush_first) misses a provider
    # created after configure() whose first event is built only at exit (a short script: the builder wakes once a
    # second): its shutdown, registered after jwtobs's handler, ran first and every span was refused ("Processor is
    # already shutdown", 0 of 300; session 35). So the handler is moved once more when the interpreter starts to
    # shut down: threading's own exit hooks (threading._register_atexit, what concurrent.futures uses) run when the
    # main thread has finished, before any atexit handler, whatever order the providers were created in, and every
    # provider of the application exists by then. Moving, not flushing there: the flush stays where it was (after
    # the non-daemon threads have ended, so their last validations are in it, and once: a sink that blocks costs
    # one FLUSH_WAIT at exit, not two). Without that private hook (another Python), the moves above remain.
    if not _THREADING_HOOK[0]:
        register = getattr(threading, "_register_atexit", None)
        if callable(register):
            try:
                register(exit_flush_first)
                _THREADING_HOOK[0] = True
            except Exception:  # pragma: no cover - imported while the interpreter shuts down
                pass


def exiting() -> None:
    """The flush at exit has started: the handlers are not moved any more."""
    _EXITING[0] = True


def exit_flush_first() -> None:
    """Move jwtobs's flush at exit after every atexit handler registered so far, so that it runs first.

    An OpenTelemetry SDK ``TracerProvider``/``MeterProvider`` registers its shutdown at exit when it is created,
    usually after ``import jwtobs``: the shutdown then ran before jwtobs's flush, and the records still waiting
    for the builder (every validation of a short script, the last second of a service) got their spans and
    measurements refused by shut-down providers ("Processor is already shutdown" once per span). Called when a
    configuration is made and whenever a provider is adopted (both come after the provider was created), and once
    more when the interpreter starts to shut down (see :func:`flush_at_exit`)."""
    if _EXITING[0]:
        return
    for fn in _EXIT_FLUSH:
        atexit.unregister(fn)
        atexit.register(fn)


_Key = tuple[str, tuple[tuple[str, str], ...]]


class _Totals:
    """What one :class:`Telemetry` counted for its observable instruments: kept apart from it, so that the
    meter's :class:`_MeterHub` still exports the counts of a configuration that has been replaced and is gone."""

    __slots__ = ("counts", "dropped", "dropped_sources", "failures", "gauges", "lock")

    def __init__(self) -> None:
        self.lock = _forksafe.Lock()
        self.counts: dict[_Key, int] = {}
        self.gauges: dict[_Key, Any] = {}
        self.failures: dict[str, int] = {}
        #: records lost by jwtobs itself (a sink raised, the event queue was full)
        self.dropped = 0
        #: callables returning records lost inside a sink (``JsonlSink.dropped``), added by the configuration
        self.dropped_sources: list[Callable[[], int]] = []


def _read_source(source: Callable[[], int]) -> int:
    try:
        return int(source())
    except Exception:  # a sink's counter that cannot be read adds nothing
        return 0


#: retired sink-loss sources a hub keeps reading (each holds a closed sink); past this, the oldest is read once more
#: and its count kept as a number
_MAX_RETIRED_SOURCES: Final = 256


class _MeterHub:
    """jwtobs's instruments on one meter provider, created once, whatever number of configurations use it.

    The SDK keeps the first registration of an instrument name on a meter and silently drops the callbacks of a
    second one (it returns the instrument it has): before session 35 each configuration registered its own
    observable instruments, so after a second ``configure()`` - or one validation before the application's
    ``configure()``, which builds the implicit configuration - ``jwtobs.events.dropped``, ``jwtobs.telemetry.failures``
    and every ``jwtobs.jwks.*`` counter and gauge exported the first configuration's values for ever (a sink losing
    every record: 0 exported). Here each instrument is registered once per provider, and its callback reads every
    configuration that has used the provider (:meth:`attach`): counters are their sum (a replaced configuration's
    counts stay in it, so the exported counter never goes back), a sink shared by two configurations counted once;
    gauges are the provider's own (the last value set, by whichever configuration).
    """

    def __init__(self, meter: Any) -> None:
        self.meter = meter
        self.lock = _forksafe.Lock()
        self._members: list[tuple[weakref.ref[Telemetry], _Totals]] = []
        self._retired = _Totals()  # the sums of the members that are gone
        self._retired_sources: dict[Any, None] = {}  # their sink-loss sources (ordered: oldest first)
        self.gauges: dict[_Key, Any] = {}
        self.duration = meter.create_histogram(
            VALIDATION_DURATION,
            unit="s",
            description="Duration of JWT validations, accepted and rejected",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )
        self.expiry = meter.create_histogram(
            TOKEN_EXPIRY_OFFSET,
            unit="s",
            description="Distance between validation time and the token's exp (see jwtobs.expiry_side)",
            explicit_bucket_boundaries_advisory=list(EXPIRY_OFFSET_BUCKETS),
        )
        self.fetch_duration = meter.create_histogram(
            JWKS_FETCH_DURATION,
            unit="s",
            description="Duration of JWKS fetches",
            explicit_bucket_boundaries_advisory=list(JWKS_FETCH_BUCKETS),
        )
        self.record_duration = histogram_recorder(self.duration)
        self.record_expiry = histogram_recorder(self.expiry)
        self.replay_duration = histogram_replay(self.duration)
        self.replay_expiry = histogram_replay(self.expiry)
        meter.create_observable_counter(
            EVENTS_DROPPED,
            callbacks=[self._collect],
            unit="{event}",
            description="Events and key-set changes that never reached a sink or that a sink failed to write",
        )
        meter.create_observable_counter(
            TELEMETRY_FAILURES,
            callbacks=[self._observe_failures],
            unit="{failure}",
            description="Failures of spans, metrics, sinks (jwtobs.component); validations are unaffected",
        )
        for name, (unit, description) in COUNTERS.items():
            meter.create_observable_counter(
                name, callbacks=[self._observe_counter(name)], unit=unit, description=description
            )
        for name, (unit, description) in GAUGES.items():
            meter.create_observable_gauge(
                name, callbacks=[self._observe_gauge(name)], unit=unit, description=description
            )

    def attach(self, telemetry: Telemetry) -> None:
        """``telemetry`` uses this provider from now on: its counts are exported with the others."""
        totals = telemetry._totals
        with self.lock:
            if any(t is totals for _, t in self._members):
                return
            self._members.append((weakref.ref(telemetry), totals))
            with totals.lock:  # gauges set while the configuration had no meter yet
                self.gauges.update(totals.gauges)

    def set_gauge(self, key: _Key, value: Any) -> None:
        with self.lock:
            if value is None:
                self.gauges.pop(key, None)
            else:
                self.gauges[key] = value

    def _live(self) -> tuple[list[Telemetry], list[_Totals]]:
        """The members still alive, and the totals to export (theirs and the retired ones); the members that are
        gone are folded into the retired totals. Under :attr:`lock`."""
        live: list[Telemetry] = []
        kept: list[tuple[weakref.ref[Telemetry], _Totals]] = []
        retired = self._retired
        for ref, totals in self._members:
            member = ref()
            if member is not None:
                live.append(member)
                kept.append((ref, totals))
                continue
            with totals.lock:
                for key, n in totals.counts.items():
                    retired.counts[key] = retired.counts.get(key, 0) + n
                for component, n in totals.failures.items():
                    retired.failures[component] = retired.failures.get(component, 0) + n
                retired.dropped += totals.dropped
                sources = list(totals.dropped_sources)
            for source in sources:
                self._retire_source(source)
        if len(kept) != len(self._members):
            self._members = kept
            self._trim_sources(kept)
        return live, [t for _, t in kept] + [retired]

    def _retire_source(self, source: Callable[[], int]) -> None:
        try:
            self._retired_sources[source] = None
        except TypeError:  # unhashable: read now, counted as it stands
            self._retired.dropped += _read_source(source)

    def _trim_sources(self, kept: list[tuple[weakref.ref[Telemetry], _Totals]]) -> None:
        while len(self._retired_sources) > _MAX_RETIRED_SOURCES:
            oldest = next(iter(self._retired_sources))
            del self._retired_sources[oldest]
            if not any(oldest in t.dropped_sources for _, t in kept):  # (a live member still counts it)
                self._retired.dropped += _read_source(oldest)

    def events_dropped(self) -> int:
        with self.lock:
            _, all_totals = self._live()
            total = 0
            sources: dict[Any, None] = dict(self._retired_sources)
            unhashable: list[Callable[[], int]] = []
            for totals in all_totals:
                total += totals.dropped
                for source in list(totals.dropped_sources):
                    try:
                        sources[source] = None
                    except TypeError:
                        unhashable.append(source)
        return total + sum(_read_source(s) for s in [*sources, *unhashable])

    def _collect(self, options: CallbackOptions) -> Iterable[Observation]:
        """Runs when a reader collects: replay every member's buffered measurements, then report dropped events."""
        with self.lock:
            live, _ = self._live()
        for member in live:
            member.drain()
        return [Observation(self.events_dropped())]

    def _observe_failures(self, options: CallbackOptions) -> Iterable[Observation]:
        sums: dict[str, int] = {}
        with self.lock:
            for totals in self._live()[1]:
                with totals.lock:
                    for component, n in totals.failures.items():
                        sums[component] = sums.get(component, 0) + n
        return [Observation(n, {ATTR_COMPONENT: c}) for c, n in sorted(sums.items())]

    def _observe_counter(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            # one observation per attribute set, whatever order the callers listed the attributes in
            sums: dict[frozenset[tuple[str, str]], int] = {}
            with self.lock:
                for totals in self._live()[1]:
                    with totals.lock:
                        items = [(attrs, v) for (n, attrs), v in totals.counts.items() if n == name]
                    for attrs, v in items:
                        key = frozenset(attrs)
                        sums[key] = sums.get(key, 0) + v
            return [Observation(v, dict(attrs)) for attrs, v in sums.items()]

        return callback

    def _observe_gauge(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            with self.lock:
                items = [(attrs, v) for (n, attrs), v in self.gauges.items() if n == name]
            out = []
            for attrs, v in items:
                try:
                    value = v() if callable(v) else v
                except Exception:
                    continue
                if value is not None:
                    out.append(Observation(value, dict(attrs)))
            return out

        return callback


#: id(meter provider) -> (a reference to the provider, its hub); the reference is checked (an id can be reused)
_HUBS: dict[int, tuple[Callable[[], Any], _MeterHub]] = {}
_HUBS_LOCK = _forksafe.Lock()


def _hub_for(provider: Any) -> _MeterHub:
    """The hub of ``provider``, made (``get_meter``, the instruments) the first time. May raise (a provider whose
    ``get_meter`` or instruments raise): nothing is kept then, the next configuration tries again."""
    key = id(provider)
    with _HUBS_LOCK:
        entry = _HUBS.get(key)
        if entry is not None and entry[0]() is provider:
            return entry[1]
        hub = _MeterHub(provider.get_meter(SCOPE, __version__))
        ref: Callable[[], Any]
        try:

            def forget(dead: object, key: int = key) -> None:
                # (no lock: the garbage collector may run this inside _hub_for; a dict operation is atomic)
                current = _HUBS.get(key)
                if current is not None and current[0] is dead:
                    _HUBS.pop(key, None)

            ref = weakref.ref(provider, forget)
        except TypeError:  # not weakly referenceable: kept
            ref = functools.partial(_same, provider)
        _HUBS[key] = (ref, hub)
        return hub


def _same(obj: object) -> object:
    return obj


class Telemetry:
    """Emits spans and metrics for validation events. One instance per configuration.

    ``tracer_provider``/``meter_provider`` default to the global providers, which are looked up on each
    call (an identity check) so that providers installed after :func:`jwtobs.configure` are picked up.
    """

    def __init__(self, guard: CardinalityGuard, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self.guard = guard
        self._fixed_tp = tracer_provider
        self._fixed_mp = meter_provider
        self._tp: Any = object()
        self._mp: Any = object()
        self._tp_final = self._mp_final = False
        self._tp_next_check = self._mp_next_check = 0.0
        self._tracer: trace.Tracer | None = None
        self._policy, self._root_sampled = NEVER, False
        self._metrics_on = False
        #: measurements waiting for a reader, flat: (attrs, seconds, time, exp) one after the other; flat so that a
        #: waiting measurement is no GC-tracked object (a reader may collect only every minute)
        self._pending: list[Any] = []
        self._attr_sets: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
        self._attr_version = -1
        self._pending_lock = _forksafe.Lock()
        self._attr_cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._offset_attr_cache: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._span_names: dict[str, str] = {}  # profile -> span name
        #: what the observable instruments export (the meter provider's hub reads it, also once this is gone)
        self._totals = totals = _Totals()
        self._hub: _MeterHub | None = None
        #: callables returning records lost inside a sink (``JsonlSink.dropped``), added by the configuration
        self.dropped_sources: list[Callable[[], int]] = totals.dropped_sources
        self._failures = totals.failures
        self._failure_logged: set[tuple[int, str]] = set()
        self._counts = totals.counts
        self._gauges = totals.gauges
        self._counts_lock = totals.lock

    # -- public accessors ---------------------------------------------------------------------------
    @property
    def tracer_provider(self) -> Any:
        """The tracer provider given to the configuration (``None``: the global one, looked up lazily)."""
        return self._fixed_tp

    @property
    def meter_provider(self) -> Any:
        """The meter provider given to the configuration (``None``: the global one, looked up lazily)."""
        return self._fixed_mp

    @property
    def dropped_events(self) -> int:
        """Records lost by jwtobs itself (a sink raised, the event queue was full); see :meth:`lost`."""
        return self._totals.dropped

    @dropped_events.setter
    def dropped_events(self, value: int) -> None:
        self._totals.dropped = value

    @property
    def metrics_enabled(self) -> bool:
        """Whether a real meter provider has been seen (measurements are buffered for it)."""
        return self._metrics_on

    # -- failures of observability (never of a validation) ---------------------------------------------
    def failed(self, component: str, exc: BaseException, culprit: object = None, n: int = 1) -> None:
        """Count ``n`` failures of ``component`` (``span``, ``metrics``, ``sink``...); log it once per culprit
        instance (a sink, a tracer provider) with the exception's class only (its message could echo a token)."""
        with self._counts_lock:
            self._failures[component] = self._failures.get(component, 0) + n
        try:  # the observable counters exist even when no event was ever emitted (every record lost: a clock
            self._resolve_meter()  # giving no time; before session 20 the failures were then never exported)
        except Exception:  # pragma: no cover - _resolve_meter counts its own failures
            pass
        key = (id(culprit if culprit is not None else self), component)
        if key not in self._failure_logged:
            self._failure_logged.add(key)
            _log.warning(
                "jwtobs: %s %r failed (%s); validation outcome unaffected, failures counted in %s",
                component,
                culprit if culprit is not None else "",
                type(exc).__name__,
                TELEMETRY_FAILURES,
            )

    def lost(self, n: int = 1) -> None:
        """Count ``n`` records that never reached a sink (``jwtobs.events.dropped``)."""
        self.dropped_events += n

    def failures(self) -> dict[str, int]:
        """Failures so far per component (what ``jwtobs.telemetry.failures`` exports)."""
        with self._counts_lock:
            return dict(self._failures)

    def events_dropped(self) -> int:
        """Records lost so far under this configuration: by jwtobs (:meth:`lost`) and inside sinks
        (``jwtobs.events.dropped`` exports the sum over every configuration that used the meter provider)."""
        return self.dropped_events + sum(_read_source(source) for source in list(self.dropped_sources))

    # -- provider resolution (identity check per call; rebuild only on change) -------------------------
    # A global provider can be set only once (OpenTelemetry refuses to override it), so once a real one
    # is seen it is final; while none is set, the global is looked up again at most once per second
    # (the lookup itself costs ~1 µs, too much for every validation).
    def _resolve_tracer(self) -> None:
        if self._tp_final:
            return
        now = time.monotonic()
        if now < self._tp_next_check:
            return
        self._tp_next_check = now + 1.0
        tp = self._fixed_tp if self._fixed_tp is not None else trace.get_tracer_provider()
        self._tp_final = self._fixed_tp is not None or not isinstance(tp, trace.ProxyTracerProvider)
        if tp is not self._tp:
            exit_flush_first()
            self._tp = tp
            self._tracer = None
            try:
                self._policy, self._root_sampled = span_policy(tp)
            except Exception:  # a provider whose sampler cannot be read: spans asked for on every validation
                self._policy, self._root_sampled = ALWAYS, True
            if self._policy != NEVER:
                # Never raises: this runs in pipeline.build (spans_possible) too, before the event exists. Before
                # session 35 a get_tracer that raised lost the first record whole (its metrics too: 49 of 50
                # validations measured, counted as events.dropped) and every later span failed on an assert; now
                # _span asks again and the failure is counted there, once per span (component span), metrics on.
                try:
                    self._tracer = tp.get_tracer(SCOPE, __version__)
                except Exception:
                    self._tracer = None

    def _resolve_meter(self) -> None:
        if self._mp_final:
            return
        now = time.monotonic()
        if now < self._mp_next_check:
            return
        self._mp_next_check = now + 1.0
        mp = self._fixed_mp if self._fixed_mp is not None else metrics.get_meter_provider()
        self._mp_final = self._fixed_mp is not None or not is_proxy_meter_provider(mp)
        if mp is self._mp:
            return
        exit_flush_first()
        self._mp = mp
        self._metrics_on = False
        self._hub = None
        if not meter_enabled(mp):
            return
        try:
            self._make_instruments(mp)
        except Exception as exc:  # a provider whose get_meter or instruments raise: no metrics, counted
            self._metrics_failed(exc)
            return
        self._metrics_on = True

    def _make_instruments(self, mp: Any) -> None:
        hub = _hub_for(mp)  # the instruments exist once per provider (see _MeterHub)
        self.meter = hub.meter
        self._record_duration, self._record_expiry = hub.record_duration, hub.record_expiry
        self._replay_duration, self._replay_expiry = hub.replay_duration, hub.replay_expiry
        hub.attach(self)
        self._hub = hub

    def drain(self) -> int:
        """Record every buffered measurement into the SDK instruments; returns how many."""
        # the buffer is flat (attrs, seconds, time, exp per measurement, each added by one atomic extend): this
        # drain (the only consumer, under the lock) takes whole measurements from the front while producers only
        # append after them, so a measurement appended concurrently is drained now or at the next collection
        pending = self._pending
        with self._pending_lock:
            k = len(pending)
            if not k:
                return 0
            batch = pending[:k]
            del pending[:k]
            try:
                self._replay(batch)
            except Exception as exc:  # (flush() and configure() drain too: nothing may raise into them)
                self._metrics_failed(exc)
        return k // 4

    def _replay(self, batch: list[Any]) -> None:
        """Replay one batch of buffered measurements into the SDK instruments."""
        # each histogram's measurements in one replay (the SDK finds each attribute set's aggregation once);
        # the fields taken by strided slices (C loops): attribute sets, durations, times, exps
        attrs_all = batch[0::4]
        self._replay_duration(batch[1::4], attrs_all, self._metrics_failed)
        # an accepted token far from its exp is not recorded (see _expiry_measurement)
        near = -NEAR_EXPIRY_S
        amounts, expiry_attrs = [], []
        for attrs, t, exp in zip(attrs_all, batch[2::4], batch[3::4], strict=True):
            if exp is not None and (t - exp >= near or attrs[ATTR_OUTCOME] != "accepted"):
                m = self._expiry_measurement(attrs, t, exp)
                if m is not None:
                    amounts.append(m[0])
                    expiry_attrs.append(m[1])
        if amounts:
            self._replay_expiry(amounts, expiry_attrs, self._metrics_failed)

    def _metrics_failed(self, exc: BaseException) -> None:
        """A meter that raised: counted, the other measurements still go."""
        self.failed("metrics", exc, self._mp)

    # -- the per-validation path ------------------------------------------------------------------------
    def spans_possible(self) -> bool:
        """Whether any validation span could ever be sampled with the tracer provider in force (cheap)."""
        if not self._tp_final:
            self._resolve_tracer()
        return self._policy != NEVER

    def span_wanted(self) -> bool:
        """Whether a span could be sampled for a validation in the current context (cheap; no span built)."""
        if not self._tp_final:
            self._resolve_tracer()
        policy = self._policy
        if policy == NEVER:
            return False
        if policy == PARENT_OR_ROOT:
            parent = trace.get_current_span().get_span_context()
            return bool(parent.trace_flags.sampled) if parent.is_valid else self._root_sampled
        return True

    def emit(
        self,
        event: ValidationEvent,
        start_ns: int,
        end_ns: int,
        ctx: Context | None = None,
        ends: list[Any] | None = None,
    ) -> None:
        """Span (when it can be sampled) and metrics for one event. Fills event.trace_id/span_id.

        ``ctx`` is the context the validation ran in (default: the current one); the deferred pipeline passes
        the context captured on the request thread, so the span gets the right parent. ``ends``: the span is
        started here and appended to it with its end time (``span, end_ns``) instead of being ended: the
        deferred pipeline ends it on its own thread, after the event has reached the sinks (ending a span runs
        the span processors, and the SDK's ``SimpleSpanProcessor`` exports right there; an exporter that blocks
        held the event file).
        """
        labels = None
        try:
            if not self._tp_final:
                self._resolve_tracer()
            if self._policy != NEVER:
                labels = self._labels(event)
                self._span(event, labels, start_ns, end_ns, ctx, ends)
            elif ctx is None or ctx:  # an empty captured context (no span in it) has no parent to name
                _parent_ids(event, ctx)
        except Exception as exc:  # a tracer or span processor that raises leaves the metrics on
            self.failed("span", exc, self._tp)
        try:
            self.emit_metrics(event, labels)
        except Exception as exc:
            self.failed("metrics", exc, self._mp)

    def emit_metrics(self, event: ValidationEvent, labels: dict[str, Any] | None = None) -> None:
        """The metric measurements of one event (buffered until a reader collects); ``labels``: its
        :meth:`_labels`, when already looked up."""
        if not self._mp_final:
            self._resolve_meter()
        if self._metrics_on:
            attrs = self._labels(event) if labels is None else labels
            pending = self._pending
            if len(pending) < MAX_PENDING * 4:
                pending.extend((attrs, event.duration_s, event.time, event.exp))  # atomic: one measurement
            else:
                self._record(attrs, event.duration_s, event.time, event.exp)

    def _labels(self, event: ValidationEvent) -> dict[str, Any]:
        """The metric attribute set of an event (the guard's labels; one dict shared by every event with the
        same raw values). Keyed by the raw values (one dict lookup instead of three guard lookups); the cache is
        bounded and dropped whenever the guard learns or is told a new trusted value. Also the first attributes
        of the event's span, in the same order."""
        key = (event.outcome, event.reason, event.library, event.profile, event.issuer, event.alg, event.kid)
        if self._attr_version != self.guard.version:
            self._attr_cache.clear()
            self._attr_version = self.guard.version
        attrs = self._attr_cache.get(key)
        if attrs is None:
            attrs = self._attributes(key)
        return attrs

    def _record(self, attrs: dict[str, Any], duration_s: float, t: float, exp: int | None) -> None:
        self._record_duration(duration_s, attrs)
        if exp is not None:
            m = self._expiry_measurement(attrs, t, exp)
            if m is not None:
                self._record_expiry(*m)

    def _expiry_measurement(self, attrs: dict[str, Any], t: float, exp: int) -> tuple[float, dict[str, Any]] | None:
        """The expiry offset measurement of a validation at ``t`` of a token expiring at ``exp`` (``None``: an
        accepted token with more than :data:`NEAR_EXPIRY_S` left, not recorded)."""
        offset = t - exp
        if offset < -NEAR_EXPIRY_S and attrs[ATTR_OUTCOME] == "accepted":
            return None
        side = "after_exp" if offset > 0 else "before_exp"
        okey = (attrs[ATTR_OUTCOME], attrs[ATTR_ISSUER], side)
        expiry_attrs = self._offset_attr_cache.get(okey)
        if expiry_attrs is None:
            expiry_attrs = self._offset_attr_cache.setdefault(
                okey, {ATTR_OUTCOME: okey[0], ATTR_ISSUER: okey[1], ATTR_EXPIRY_SIDE: side}
            )
        return abs(offset), expiry_attrs

    def _attributes(self, key: tuple[Any, ...]) -> dict[str, Any]:
        outcome, reason, library, profile, issuer, alg, kid = key
        guard = self.guard
        attrs = {
            ATTR_OUTCOME: outcome,
            ATTR_LIBRARY: library,
            ATTR_PROFILE: profile,
            ATTR_ISSUER: guard.issuer(issuer),
            ATTR_ALG: guard.alg(alg),
            ATTR_KID: guard.kid(kid),
        }
        if reason is not None:
            attrs[ATTR_REASON] = reason
            attrs[ATTR_ERROR_TYPE] = reason
        # share one dict per distinct attribute set; bound the raw-value cache (attackers control iss/kid/alg)
        canonical = self._attr_sets.setdefault(tuple(attrs.items()), attrs) if len(self._attr_sets) < 10_000 else attrs
        if len(self._attr_cache) < 10_000:
            self._attr_cache[key] = canonical
        return canonical

    def _span(
        self,
        event: ValidationEvent,
        labels: dict[str, Any],
        start_ns: int,
        end_ns: int,
        ctx: Context | None = None,
        ends: list[Any] | None = None,
    ) -> None:
        if self._policy == PARENT_OR_ROOT:
            parent = trace.get_current_span(ctx).get_span_context()
            if parent.is_valid:
                if not parent.trace_flags.sampled:
                    event.trace_id = f"{parent.trace_id:032x}"
                    return
            elif not self._root_sampled:
                return
        # the metric attributes (outcome, library, profile, issuer, alg, kid; reason and error.type on a
        # rejection), then the event's own
        attrs = labels.copy()
        if event.detail is not None:
            attrs[ATTR_DETAIL] = event.detail
        if event.token_fp is not None:
            attrs[ATTR_TOKEN_FP] = event.token_fp
        if event.jti_hash is not None:
            attrs[ATTR_JTI_HASH] = event.jti_hash
        if event.sub_hash is not None:
            attrs[ATTR_SUB_HASH] = event.sub_hash
        if event.tenant is not None:
            attrs[ATTR_TENANT] = event.tenant
        name = self._span_names.get(event.profile)
        if name is None:
            name = f"{SPAN_NAME} {event.profile}"
            if len(self._span_names) < 1024:
                self._span_names[event.profile] = name
        tracer = self._tracer
        if tracer is None:  # get_tracer raised when the provider was adopted: asked again (raises: counted as span)
            tracer = self._tracer = self._tp.get_tracer(SCOPE, __version__)
        span = tracer.start_span(
            name,
            context=ctx,
            kind=SpanKind.INTERNAL,
            attributes=attrs,
            start_time=start_ns,
            record_exception=False,
            set_status_on_exception=False,
        )
        sc = span.get_span_context()
        if sc.is_valid:
            event.trace_id = f"{sc.trace_id:032x}"
            if sc.trace_flags.sampled:
                event.span_id = f"{sc.span_id:016x}"
        if event.reason is not None:
            span.set_status(Status(StatusCode.ERROR, event.reason))
        if ends is None or not span.is_recording():  # (a span no processor sees: ended here, nothing to wait for)
            span.end(end_time=end_ns)
        else:  # ended by the pipeline's span thread (see emit)
            ends.append(span)
            ends.append(end_ns)

    # -- pre-aggregated counters (redactions, JWKS fetches, suppressed refreshes) ------------------------
    def count(self, name: str, attributes: tuple[tuple[str, str], ...], n: int = 1) -> None:
        """Add ``n`` to the counter ``name`` (one of :data:`COUNTERS`) for an attribute set.

        Hot-path cost is one dict update; the totals are exported by observable counters when a reader
        collects. ``attributes`` must be a tuple of (name, value) pairs with low-cardinality values.
        """
        self._resolve_meter()  # make sure the observable instruments exist
        key = (name, attributes)
        with self._counts_lock:
            self._counts[key] = self._counts.get(key, 0) + n

    def set_gauge(
        self, name: str, attributes: tuple[tuple[str, str], ...], value: float | Callable[[], float | None] | None
    ) -> None:
        """Set gauge ``name`` (one of :data:`GAUGES`) for an attribute set to a value, or to a callable read
        at collection time (e.g. key-set staleness). ``None`` removes the series."""
        self._resolve_meter()
        with self._counts_lock:
            if value is None:
                self._gauges.pop((name, attributes), None)
            else:
                self._gauges[(name, attributes)] = value
        hub = self._hub
        if hub is not None and self._metrics_on:
            hub.set_gauge((name, attributes), value)

    # -- JWKS instruments (rare events: recorded directly) -----------------------------------------------
    def instruments(self) -> dict[str, Any] | None:
        """The synchronous JWKS instruments, created on first use; ``None`` when metrics are off."""
        self._resolve_meter()
        if not self._metrics_on:
            return None
        inst: dict[str, Any] | None = getattr(self, "_aux", None)
        hub = self._hub
        if (inst is None or inst.get("_mp") is not self._mp) and hub is not None:
            inst = {
                "_mp": self._mp,
                JWKS_FETCH_DURATION: hub.fetch_duration,
                # the counters are the observable ones of COUNTERS: a second, synchronous instrument of the
                # same name would be exported as a second metric family, and Prometheus rejects the whole
                # scrape ("second TYPE line"), so .add() goes to count()
                **{name: _CounterView(self, name) for name in COUNTERS},
            }
            self._aux = inst
        return inst


class _CounterView:
    """A counter-like ``add(amount, attributes)`` onto :meth:`Telemetry.count` (see ``instruments()``)."""

    __slots__ = ("_name", "_telemetry")

    def __init__(self, telemetry: Telemetry, name: str) -> None:
        self._telemetry = telemetry
        self._name = name

    def add(self, amount: int = 1, attributes: dict[str, str] | None = None, context: Any = None) -> None:
        self._telemetry.count(self._name, tuple(sorted((attributes or {}).items())), int(amount))


def _parent_ids(event: ValidationEvent, context: Context | None = None) -> None:
    ctx = trace.get_current_span(context).get_span_context()
    if ctx.is_valid:
        event.trace_id = f"{ctx.trace_id:032x}"
        if ctx.trace_flags.sampled:
            event.span_id = f"{ctx.span_id:016x}"
