"""The one flow: from a finished validation to a :class:`ValidationEvent`, then to telemetry and sinks.

:func:`jwtobs.wrap`, :class:`jwtobs.Verifier` and the web integrations all call :func:`record`; nothing else
builds events. :func:`record` never raises: a failure in telemetry or a sink is counted and swallowed, so
observing a validation can never change its outcome.

Deferred by default: the request thread keeps a :data:`Pending` record (a tuple: the token, a copy of the
claims, the timing, the OpenTelemetry context) in a bounded queue and returns. A daemon thread turns each into an
event (header peek, keyed fingerprints, the event record, span and metric measurements, sinks). The queue
is bounded: when it is full the record is dropped and counted (``jwtobs.events.dropped``), the request is
never blocked. :func:`flush` (``jwtobs.flush()``) builds everything waiting and flushes the sinks; so does
process exit. ``configure(defer=False)`` or ``JWTOBS_DEFER=0`` builds the event on the calling thread
instead (events complete when the call returns: scripts, tests).
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any, Final, NamedTuple, Protocol

from opentelemetry import context as otel_context

from jwtobs import _forksafe, config, telemetry
from jwtobs._otel_compat import context_getter
from jwtobs.events import FLUSH_WAIT as _SINK_FLUSH_WAIT
from jwtobs.events import JsonlSink, KeySetChange, Outcome, ValidationEvent
from jwtobs.failures import QuietLogger
from jwtobs.header import TokenPeek
from jwtobs.header import peek as peek_token
from jwtobs.sanitize import detail_label, sanitize
from jwtobs.telemetry import _parent_ids

__all__ = [
    "Pending",
    "Site",
    "accepted",
    "observed",
    "record",
    "claim_int",
    "NUMERIC_DATE_LIMIT",
    "CLIENT_CLAIMS",
    "client_of",
    "event_client",
    "ID_TOKEN_CLAIMS",
    "flush",
    "emit_keyset_change",
    "MAX_QUEUED",
]

_log = QuietLogger("jwtobs")  # (never raises: see QuietLogger)
#: Tokens longer than this are not fingerprinted (hashing cost); their event has token_fp = None.
_MAX_FP_BYTES: Final = 1 << 20
#: Validations waiting for the background builder beyond which new ones are dropped (and counted).
MAX_QUEUED: Final = 100_000
#: Header segment of an accepted token -> its sanitised (alg, kid, typ); bounded, filled only from tokens
#: the validator accepted (so not by an attacker), read by the builder instead of a full peek.
#: the event times a configured ``clock`` may give (POSIX seconds of years 1970 to 9999: what an event's RFC 3339
#: time can say). ``time.time_ns``, a clock in milliseconds, NaN or a non-number is none: that record is lost and
#: counted (``ClockValueError``), as with a clock that raises. Before session 20 the event was built and the JSON
#: lines sink failed on it: every record of its batch was dropped, logged as "cannot write events to <path>".
CLOCK_RANGE: Final = (0.0, 253402300800.0)


class ClockValueError(ValueError):
    """A configured ``clock`` returned no POSIX seconds (its record is lost and counted)."""


def checked_time(value: Any) -> float:
    """``value`` from a configured clock, or :class:`ClockValueError` when it is no time an event can hold."""
    if type(value) is not bool and isinstance(value, (int, float)) and CLOCK_RANGE[0] <= value < CLOCK_RANGE[1]:
        return float(value)
    raise ClockValueError(
        "the configured clock returned no POSIX seconds (like time.time(); not time.time_ns() or milliseconds)"
    )


_SAFE_BY_HEADER: dict[str, tuple[str | None, str | None, str | None]] = {}
_MAX_SAFE_HEADERS: Final = 1024


#: NumericDates at or beyond this magnitude are no dates (the exact integers of a JSON number as a double): the
#: builder leaves them out of events, and the analysis engines read them as missing in files written elsewhere
NUMERIC_DATE_LIMIT: Final = 1 << 53


def claim_int(value: object) -> int | None:
    """A NumericDate claim as int, or None (bools, strings, NaN, huge values are not dates)."""
    if type(value) is int:
        return value if -NUMERIC_DATE_LIMIT < value < NUMERIC_DATE_LIMIT else None
    if type(value) is float and value == value and -9e15 < value < 9e15:
        return int(value)
    return None


#: The claims naming the client a token was issued to, first present wins: OpenID Connect's authorized party
#: (``azp``: Auth0, Keycloak, Google, Microsoft identity platform v2), RFC 9068/8693 ``client_id`` (Cognito,
#: Ping, ForgeRock), Okta's ``cid``, Microsoft identity platform v1's ``appid``. The event's ``client_id``, the
#: Verifier's ``allowed_clients`` and a principal's ``subject_kind`` all read it through :func:`client_of`.
CLIENT_CLAIMS: Final = ("azp", "client_id", "cid", "appid")


def client_of(claims: Mapping[str, Any]) -> object:
    """The value of the first of :data:`CLIENT_CLAIMS` that is present and neither ``None`` nor empty, or
    ``None``. The raw value: callers check its type (``_label`` for the event, ``str`` for policy)."""
    get = claims.get
    for name in CLIENT_CLAIMS:
        value = get(name)
        if value is not None and value != "":
            return value
    return None


#: Claims that only an OpenID Connect ID token carries (OIDC Core 1.0: the authentication request's ``nonce``, the
#: access token's and the code's hashes ``at_hash``/``c_hash``).
ID_TOKEN_CLAIMS: Final = ("nonce", "at_hash", "c_hash")


def event_client(claims: Mapping[str, Any]) -> object:
    """The event's ``client_id``: :func:`client_of`, or for an OpenID Connect ID token naming none of
    :data:`CLIENT_CLAIMS` (one holding a claim of :data:`ID_TOKEN_CLAIMS`, or Cognito's ``token_use: "id"``) its
    one audience, which OIDC Core requires to be the relying party's client id (Auth0's and Cognito's ID tokens
    carry no ``azp``: an ID token sent to an API would otherwise name no client). Only the event's label: the
    Verifier's ``allowed_clients`` reads :func:`client_of` alone."""
    client = client_of(claims)
    if client is None and (any(name in claims for name in ID_TOKEN_CLAIMS) or claims.get("token_use") == "id"):
        aud = claims.get("aud")
        if type(aud) is list and len(aud) == 1:
            aud = aud[0]
        if type(aud) is str and aud:
            return aud
    return client


def _label(value: object) -> str | None:
    if value is None:
        return None
    if type(value) is str and len(value) <= 128 and value.isascii() and value.isprintable():
        return value
    return sanitize(value)


class _Labels(NamedTuple):
    """A :class:`Site` for :func:`record`'s callers, which pass the labels themselves."""

    library: str
    profile: str


_LABELS: dict[tuple[str, str], _Labels] = {}


def _labels(library: str, profile: str) -> _Labels:
    """One :class:`_Labels` per (library, profile), made once (a NamedTuple's ``__new__`` is Python-level);
    bounded: a caller passing ever-new profiles cannot grow it past 1024."""
    key = (library, profile)
    labels = _LABELS.get(key)
    if labels is None:
        if len(_LABELS) >= 1024:
            _LABELS.clear()
        labels = _LABELS[key] = _Labels(library, profile)
    return labels


#: One finished validation, everything its event is built from (on the background thread, or at once): a
#: plain tuple, made on the request thread with one ``BUILD_TUPLE`` and read by the builder with one unpack:
#: ``(state, site, token, claims, start_ns, end_ns, time, context, outcome, peek, reason, detail, tenant)``.
#: ``site`` carries ``library`` and ``profile``; ``claims`` ``None``: the claims of the peek; ``time`` the event
#: time (POSIX seconds), ``None``: ``end_ns`` (a ``time.time_ns()`` value); ``context`` the OpenTelemetry
#: context of the validation (the span's parent); ``peek`` ``None``: the token is peeked when the event is built
#: (a :func:`jwtobs.header.peek_later` is peeked then too, if the classification did not need it).
Pending = tuple[
    config.State,
    "Site",
    object,
    "Mapping[str, Any] | None",
    int,
    int,
    "float | None",
    "otel_context.Context | None",
    Outcome,
    "TokenPeek | None",
    "str | None",
    "str | None",
    "str | None",
]


def record(
    *,
    outcome: Outcome,
    reason: str | None,
    detail: str | None,
    library: str,
    profile: str,
    token: object,
    peek: TokenPeek | None,
    claims: Mapping[str, Any] | None,
    start_ns: int,
    end_ns: int,
    tenant: str | None = None,
    state: config.State | None = None,
) -> ValidationEvent | None:
    """Record one validation: its event is built and emitted everywhere. Never raises.

    Returns the event when it was built on this thread (``configure(defer=False)``), ``None`` when it is
    built on the background thread (the default) or could not be built.
    """
    try:
        st = state if state is not None else config.current()
        clock = st.clock
        if st.defer:
            if isinstance(claims, dict):
                claims = _dict_copy(claims)  # the caller owns the original and may change it after we return
            context = _get_context()  # the span (if sampled) is built later with this parent
        else:
            context = None
        item: Pending = (
            st,
            _labels(library, profile),
            bytes(token) if type(token) is bytearray else token,  # the caller may reuse a bytearray
            claims,
            start_ns,
            end_ns,
            time.time() if clock is None else clock(),
            context,
            outcome,
            peek,
            reason,
            detail,
            tenant,
        )
    except Exception as exc:  # a clock that raises...: this validation's record is lost, and counted as such
        _failed(state, "event", exc, lost=1)
        return None
    if st.defer:
        _queue.put(item)
        return None
    return _process(item)


class Site(Protocol):
    """Where validations are observed (a wrapped function, a patched entry point): its labels."""

    @property
    def library(self) -> str: ...
    @property
    def profile(self) -> str: ...


_current = config.current
_dict_copy = dict.copy  # a plain dict, also of a dict subclass
_get_context = context_getter()  # otel_context.get_current without its two Python calls (see _otel_compat)


def _observed(
    site: Site,
    token: object,
    claims: Mapping[str, Any] | None,
    start_ns: int,
    end_ns: int,
    outcome: Outcome = "accepted",
    peek: TokenPeek | None = None,
    reason: str | None = None,
    detail: str | None = None,
) -> None:
    try:
        st = config._state  # config.current() without its call, once configured
        if st is None:
            st = _current()
        if not st.defer:
            record(
                outcome=outcome,
                reason=reason,
                detail=detail,
                library=site.library,
                profile=site.profile,
                token=token,
                peek=peek,
                claims=claims,
                start_ns=start_ns,
                end_ns=end_ns,
                state=st,
            )
            return
        # Deferred: one tuple (the Pending record) appended to the queue
        clock = st.clock
        item: Pending = (
            st,
            site,
            bytes(token) if type(token) is bytearray else token,
            # the caller may change its dict after we return; a dict subclass (Authlib's JWTClaims, with its
            # header and options) is copied to a plain dict too, so the record keeps no library object alive
            _dict_copy(claims) if isinstance(claims, dict) else claims,
            start_ns,
            end_ns,
            None if clock is None else clock(),
            _get_context(),
            outcome,
            peek,
            reason,
            detail,
            None,
        )
        items = _queue.items
        if len(items) < _queue.fast_limit:  # fewer than a batch waiting, the builder started
            items += item  # the fields, flat (a list.extend): the tuple is freed now (no GC-tracked object per record)
        else:
            _queue.put(item)
    except Exception as exc:  # a clock that raises...: this validation's record is lost, and counted as such
        _failed(None, "event", exc, lost=1)


#: ``observed(site, token, claims, start_ns, end_ns, outcome="accepted", peek=None, reason=None, detail=None)``:
#: :func:`record` for a validation observed by a wrapper or a patched entry point, positional arguments only
#: (timestamps ``time.time_ns()`` values; claims ``None``: read from the token when the event is built).
#: Never raises.
observed: Final = _observed

#: ``accepted(site, token, claims, start_ns, end_ns)``: :func:`record` for an accepted validation whose
#: timestamps are wall-clock ``time.time_ns()`` values (claims ``None``: read from the token when the event is
#: built): the request-thread fast path of :func:`jwtobs.wrap` and the instrumentor. Never raises. (The
#: recorder itself, not a function calling it: one Python call less on every request.)
accepted: Final = _observed


_UNCONFIGURED_WARNED: list[bool] = [False]


def _failed(state: config.State | None, component: str, exc: BaseException, lost: int = 0) -> None:
    """Count a failure of ``component`` (and ``lost`` records that will never reach a sink because of it)."""
    try:
        telemetry = (state if state is not None else config.current()).telemetry
        telemetry.failed(component, exc)
        if lost:
            telemetry.lost(lost)
    except Exception as broken:  # the configuration itself cannot be built: nothing left to count with
        if not _UNCONFIGURED_WARNED[0]:
            # (a bad JWTOBS_* variable: every validation still runs, none is recorded; say so once, loudly)
            _UNCONFIGURED_WARNED[0] = True
            _log.warning(
                "jwtobs: no configuration can be built (%s: %s); validations are unaffected but NO event, span or "
                "metric is recorded until it is fixed",
                type(broken).__name__,
                str(broken)[:200],
            )
        _log.debug("jwtobs: %s failed", component, exc_info=True)


def build(item: Pending | list[Any]) -> ValidationEvent:
    """The :class:`ValidationEvent` of one validation (peek, keyed fingerprints, labels)."""
    st, site, token, claims, start_ns, end_ns, event_time, _, outcome, peek, reason, detail, tenant = item
    safe = None
    if peek is None and claims is not None and type(token) is str and token.isascii():
        # accepted tokens: (alg, kid, typ) per distinct header segment, no full peek (a handful per issuer)
        safe = _SAFE_BY_HEADER.get(token[: token.find(".")])
        token_bytes = len(token)
    if safe is None:
        if peek is None:
            peek = peek_token(token)
            if outcome == "accepted" and peek.kind == "jws" and len(_SAFE_BY_HEADER) < _MAX_SAFE_HEADERS:
                if type(token) is str and token.isascii():
                    _SAFE_BY_HEADER[token[: token.find(".")]] = peek.safe
        if claims is None:
            claims = peek.claims()
        safe = peek.safe
        token_bytes = peek.token_bytes
    alg, kid, typ = safe
    # Nobody can read the fingerprints, client id, tenant, iat or nbf of an event that is deferred (the caller
    # never gets it), goes to no sink and can never be a span's attributes: metrics and the cardinality guard
    # read only the labels, duration, time and exp. Such an event is built without them (no keyed hashes).
    full = bool(st.sinks) or not st.defer or st.telemetry.spans_possible()
    fp = st.fingerprinter
    token_fp: str | None = None
    if full and isinstance(token, (str, bytes)) and 0 < len(token) <= _MAX_FP_BYTES:
        token_fp = fp.token(token)
    issuer = client_id = jti_hash = sub_hash = None
    iat = nbf = exp = None
    if claims is not None:
        # claim_int and _label with their common case inline (a str issuer that is already a clean label, int
        # dates in range): three to five Python calls less per event
        get = claims.get
        iss = get("iss")
        issuer = iss if type(iss) is str and len(iss) <= 128 and iss.isascii() and iss.isprintable() else _label(iss)
        exp = get("exp")
        if type(exp) is not int or not -(1 << 53) < exp < (1 << 53):
            exp = claim_int(exp)
        if full:
            jti, sub = get("jti"), get("sub")
            client = event_client(claims)
            client_id = None if client is None else _label(client)
            jti_hash = None if jti is None else fp.jti(jti)
            sub_hash = None if sub is None else fp.claim("sub", sub)
            iat, nbf = get("iat"), get("nbf")
            if type(iat) is not int or not -(1 << 53) < iat < (1 << 53):
                iat = claim_int(iat)
            if nbf is not None:
                nbf = claim_int(nbf)
            if tenant is None and st.tenant_claim is not None:
                tenant = _label(get(st.tenant_claim))
    # positional, in the field order of ValidationEvent (tests/core/test_builder.py pins it): a dataclass
    # __init__ called with 21 keywords costs ~3 µs more than with positions
    event = ValidationEvent(
        end_ns / 1e9 if event_time is None else checked_time(event_time),
        outcome,
        reason,
        detail if detail is None else detail_label(detail),
        site.library,
        site.profile,
        issuer,
        alg,
        kid,
        typ,
        client_id,
        token_fp,
        jti_hash,
        sub_hash,
        tenant,
        iat,
        nbf,
        exp,
        token_bytes,
        (end_ns - start_ns) / 1e9,
        None,  # trace_id, span_id: set by telemetry
        None,
        st.service,
    )
    if outcome == "accepted":
        guard = st.guard
        if issuer not in guard.known_issuers or kid not in guard.known_kids:  # (a learned pair: no call)
            guard.learn(issuer, kid)
    return event


def _process(item: Pending | list[Any]) -> ValidationEvent | None:
    st = item[0]
    try:
        event = build(item)
    except Exception as exc:  # a clock that gave no time (ClockValueError); anything else: defensive
        st.telemetry.lost()
        st.telemetry.failed("event", exc)
        return None
    st.telemetry.emit(event, item[4], item[5], item[7])  # emit(), one call less per event
    _to_sinks(st, event)
    return event


def _process_batch(batch: list[Any]) -> None:
    """Build and emit a batch of whole records taken from the queue (flat, :data:`RECORD_WIDTH` fields each), in
    order: each event is built and handed to telemetry before the next one is built (the cardinality guard
    learns from an accepted token before the following validations are labelled, as on the synchronous path);
    the sinks get the events of a run of records under one configuration :data:`_HAND_OFF` at a time, a key-set
    change after the validations queued before it. Spans are started here and ended by the span thread
    (:class:`_SpanEnder`) once their events are with the sinks: ending a span runs the span processors, and an
    exporter that blocks under the SDK's ``SimpleSpanProcessor`` held every later event here (session 38)."""
    st: config.State | None = None
    events: list[ValidationEvent] = []
    ends: list[Any] = []  # the started spans of ``events``: span, end_ns, one after the other
    tel = None
    width = RECORD_WIDTH
    try:
        for i in range(0, len(batch), width):
            first = batch[i]
            if type(first) is _KeySetItem:
                if events:
                    assert st is not None and tel is not None
                    _hand_off(st, tel, events, ends)
                    events, ends = [], []
                _to_sinks(first.state, first.change)
                continue
            item = batch[i : i + width]
            if first is not st:
                if events:
                    assert st is not None and tel is not None
                    _hand_off(st, tel, events, ends)
                    events, ends = [], []
                st = first
                tel = first.telemetry
            assert tel is not None
            try:
                event = build(item)
            except Exception as exc:  # a clock that gave no time (ClockValueError): this record only; else defensive
                tel.lost()
                tel.failed("event", exc)
                continue
            tel.emit(event, item[4], item[5], item[7], ends)
            batch[i + 3] = None  # the claims copy goes now (its record's slice goes at the next one)
            events.append(event)
            if len(events) >= _HAND_OFF:
                _hand_off(st, tel, events, ends)
                events, ends = [], []
        if events:
            assert st is not None
            _to_sinks_many(st, events)
    finally:
        if ends:  # (also when a sink raised a BaseException: the spans started are ended, as before)
            assert tel is not None
            _spans.hand(tel, ends)


def _hand_off(st: config.State, tel: telemetry.Telemetry, events: list[ValidationEvent], ends: list[Any]) -> None:
    """A run of events to the sinks, then their started spans (``ends``) to the span thread."""
    _to_sinks_many(st, events)
    if ends:
        _spans.hand(tel, ends)


def emit(
    st: config.State, event: ValidationEvent, start_ns: int, end_ns: int, ctx: otel_context.Context | None = None
) -> None:
    """Hand a finished event to telemetry (span and metrics, each on its own) and every sink. Never raises."""
    st.telemetry.emit(event, start_ns, end_ns, ctx)  # counts its own failures
    _to_sinks(st, event)


def _to_sinks(st: config.State, record: ValidationEvent | KeySetChange) -> None:
    for sink in st.sinks:
        try:
            sink(record)
        except Exception as exc:  # retried with the next record; counted; logged once per sink
            st.telemetry.lost()
            st.telemetry.failed("sink", exc, sink)


def _to_sinks_many(st: config.State, records: list[ValidationEvent]) -> None:
    """:func:`_to_sinks` for many events: a :class:`JsonlSink` takes them in one call (``extend``), any
    other sink one record at a time (a failure loses that record only)."""
    for sink in st.sinks:
        if isinstance(sink, JsonlSink):
            try:
                sink.extend(records)
            except Exception as exc:  # pragma: no cover - extend only appends to a deque and counts
                st.telemetry.lost(len(records))
                st.telemetry.failed("sink", exc, sink)
            continue
        for record in records:
            try:
                sink(record)
            except Exception as exc:  # retried with the next record; counted; logged once per sink
                st.telemetry.lost()
                st.telemetry.failed("sink", exc, sink)


#: fields per record in the queue (:data:`Pending`'s length)
RECORD_WIDTH: Final = 13
#: records the builder takes from the queue at a time
_TAKE: Final = 1024
#: events the builder hands the sinks at a time: few enough that they are gone before a generation-0 garbage
#: collection (700 net allocations) would find them (each such collection, on whichever thread allocated last
#: and often a request thread, traversed every event still waiting)
_HAND_OFF: Final = 256


class _Queue:
    """The bounded queue between request threads and the background event builder.

    ``items`` is a flat list: each record's :data:`RECORD_WIDTH` fields one after the other. ``put`` (and the
    request thread's fast path in :func:`_observed`) is one ``list.extend`` of the record's tuple, atomic under
    the GIL, unless the queue is full: then the record is dropped and counted, never waited for. Flat, because a
    tuple kept per waiting record was a GC-tracked allocation per validation: with a few thousand waiting,
    the request thread paid generation-0/1 collections (measured 0.7-1.8 µs per call on HS256; with the flat
    list: none). The builder (the only consumer, under ``lock``) takes whole records from the front with a
    slice and a ``del``, while producers only append at the end. A :class:`_KeySetItem` takes one record's
    width (its first field, the rest padding). The daemon thread wakes every ``interval`` seconds, or as soon
    as ``batch`` records wait, and builds everything waiting; :func:`flush` and process exit do the same on the
    caller's thread.
    """

    def __init__(self, *, batch: int = 8192, interval: float = 1.0, max_queued: int = MAX_QUEUED) -> None:
        self.interval = interval
        self.max_queued = max_queued
        self.after_fork()
        self.batch = batch

    @property
    def batch(self) -> int:
        return self._batch

    @batch.setter
    def batch(self, value: int) -> None:
        self._batch = value
        self._set_fast_limit()

    def _set_fast_limit(self) -> None:
        #: the request thread's fast path (:func:`_observed`) appends while ``len(items)`` is below this: a
        #: batch's fields once the builder thread runs, 0 before (``put`` starts it): one comparison per record
        self.fast_limit = self._batch * RECORD_WIDTH if self.thread is not None and not self.exited else 0

    def after_fork(self) -> None:
        """Fresh state (also in a forked child: the parent builds its own records)."""
        #: the flush at exit has begun: a record is built on the thread that made it, its event written at once
        #: (see :func:`_late`)
        self.exited = False
        self.items: list[Any] = []
        self.wake = threading.Event()
        self.lock = threading.Lock()  # held while draining
        self.idle = threading.Event()  # set by the builder thread after each pass (flush waits on it)
        self.start_lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.fast_limit = 0

    def put(self, item: Pending | _KeySetItem) -> None:
        if self.exited:
            _late(item)
            return
        items = self.items
        n = len(items) // RECORD_WIDTH
        if n >= self.batch:
            if n >= self.max_queued:
                st = item.state if isinstance(item, _KeySetItem) else item[0]
                st.telemetry.lost()
                st.telemetry.failed("event_queue", _QueueFull())
                return
            if not self.wake.is_set():  # once per batch, not on every request past it
                self.wake.set()
        if self.thread is None:
            self._start()
        items.extend(_keyset_record(item) if isinstance(item, _KeySetItem) else item)

    def _start(self) -> None:
        with self.start_lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="jwtobs-events", daemon=True)
                self.thread.start()
                self._set_fast_limit()
        _forksafe.watch_worker_end()

    def _run(self) -> None:
        while True:
            self.wake.wait(self.interval)
            self.wake.clear()
            try:
                self.drain()
            except BaseException as exc:  # a sink's CancelledError, gevent Timeout, SystemExit...: not meant for
                # this thread; the thread ending would leave every later record unbuilt (sinks' Exceptions are
                # counted where they are called; the batch is counted lost by drain)
                name = type(exc).__name__
                if name not in _WARNED_BASE:
                    _WARNED_BASE.add(name)
                    _log.warning("jwtobs: a sink raised %s; the rest of its batch of events is lost (counted)", name)
            self.idle.set()

    def drain(self, wait: float | None = None) -> int:
        """Build and emit every waiting record; returns how many, or -1 when the builder thread still held the
        queue after ``wait`` seconds (a sink it is calling has not returned; ``None``: wait as long as it takes)."""
        items, n, width = self.items, 0, RECORD_WIDTH
        if not self.lock.acquire(timeout=-1 if wait is None else wait):
            return -1
        try:
            while True:
                k = min(len(items), _TAKE * width)  # whole records: each was added by one atomic extend
                if not k:
                    return n
                batch = items[:k]
                del items[:k]  # (producers only append after index k meanwhile)
                try:
                    _process_batch(batch)
                except BaseException as exc:  # not an Exception (those are counted per sink): the batch is lost
                    _lost_batch(batch, exc)
                    raise
                n += k // width
        finally:
            self.lock.release()


#: BaseException classes a sink raised on the builder thread, warned about once each
_WARNED_BASE: set[str] = set()


def _lost_batch(batch: list[Any], exc: BaseException) -> None:
    """Count every record of ``batch`` as lost with its configuration (a sink raised a BaseException amid it:
    which sinks had which of its events is not known, so all count; the JSONL sink had none of them)."""
    per_state: dict[int, tuple[config.State, int]] = {}
    for i in range(0, len(batch), RECORD_WIDTH):
        first = batch[i]
        st = first.state if type(first) is _KeySetItem else first
        key = id(st)
        per_state[key] = (st, per_state.get(key, (st, 0))[1] + 1)
    for st, n in per_state.values():
        _failed(st, "sink", exc, lost=n)


class _QueueFull(Exception):
    """The event queue was full: a record was dropped (counted, never blocking the request)."""


#: spans started by the builder and not ended yet beyond which the next ones are never ended (not exported; counted
#: in ``jwtobs.telemetry.failures{jwtobs.component="span_queue"}``): twice the SDK ``BatchSpanProcessor``'s queue
MAX_SPANS_WAITING: Final = 4096
#: ... and the builder waits for room instead while the span thread goes on (the builder outran a processor that
#: exports each span at once, fast: a probe lost 256 of a burst): unless that thread has been inside one span's end
#: for SPAN_STALL seconds (blocked), and for SPAN_WAIT seconds a batch at most (a slow exporter does not set the
#: events' pace): then the spans left are dropped and counted
SPAN_STALL: Final = 0.25
SPAN_WAIT: Final = 0.5


class _SpanQueueFull(Exception):
    """Too many spans waited for a span processor that has not returned: a span was dropped (counted)."""


class _SpanEnder:
    """The span thread (``jwtobs-spans``): ends the spans the builder started, after their events went to the sinks.

    Ending a span runs the span processors on the calling thread; the SDK's ``SimpleSpanProcessor`` exports there,
    so an exporter that blocks (a collector that does not answer) held the builder, and with it every later event,
    the JSONL file included (a probe, session 37: an export blocking 30 s, 300 validations, none in the file). Here
    such an exporter holds this thread only: the builder goes on, and the spans wait, at most
    :data:`MAX_SPANS_WAITING` (then dropped and counted; memory stays bounded). :func:`flush` and the exit wait for
    the waiting spans within the same :data:`FLUSH_WAIT`."""

    def __init__(self) -> None:
        self.after_fork()

    def after_fork(self) -> None:
        """Fresh state (also in a forked child: the parent ends its own spans)."""
        self.chunks: deque[tuple[telemetry.Telemetry, list[Any]]] = deque()
        self.waiting = 0  # spans in ``chunks`` and in the chunk being ended
        self.at = 0  # twice the spans of the chunk being ended that were ended already
        self.count_lock = threading.Lock()
        self.lock = threading.Lock()  # held while ending spans
        self.wake = threading.Event()
        self.idle = threading.Event()
        self.start_lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.freed = threading.Event()  # set by the span thread whenever it ended a chunk
        self.since: float | None = None  # time.monotonic() when the span thread began ending its current span

    def _progressing(self) -> bool:
        """Whether the span thread runs and is not stuck in one span's end (:data:`SPAN_STALL`); never on itself."""
        thread = self.thread
        if thread is None or not thread.is_alive() or threading.current_thread() is thread:
            return False
        since = self.since
        return since is None or time.monotonic() - since < SPAN_STALL

    def hand(self, tel: telemetry.Telemetry, spans: list[Any]) -> None:
        """Take started spans (``span, end_ns`` one after the other) to end, as many at a time as there is room for
        (:data:`MAX_SPANS_WAITING`); for the rest, wait while the span thread goes on ending spans (a processor
        exporting each span at once, fast or slow: the builder must not outrun it and lose them), else drop and
        count them (a span thread inside one span's end for :data:`SPAN_STALL` seconds: blocked, it must not hold
        the builder), or once it waited :data:`SPAN_WAIT` seconds in this call (a slow exporter must not set the
        events' pace either)."""
        until = None
        while spans:
            with self.count_lock:
                take = min(len(spans) // 2, max(MAX_SPANS_WAITING - self.waiting, 0))
                if not take:
                    now = time.monotonic()
                    until = now + SPAN_WAIT if until is None else until
                    if now >= until or not self._progressing():
                        break
                self.waiting += take
                self.freed.clear()
            if take:
                self.chunks.append((tel, spans[: 2 * take]))
                spans = spans[2 * take :]
                self.hand_over()
            else:
                self.freed.wait(0.05)
        if spans:
            tel.failed("span_queue", _SpanQueueFull(), n=len(spans) // 2)

    def hand_over(self) -> None:
        """Wake the span thread (started the first time). Where no thread can start - Python >= 3.12 in an
        ``atexit`` handler, the flush at exit of a script whose first spans are built there - the spans are ended
        here, on the caller's thread (the builder's), as before session 38."""
        if self.thread is None:
            with self.start_lock:
                if self.thread is None:
                    thread = self.thread = threading.Thread(target=self._run, name="jwtobs-spans", daemon=True)
                    try:
                        thread.start()
                    except RuntimeError:  # "can't create new thread at interpreter shutdown"
                        self.thread = None
            if self.thread is None:
                self._end_all()
                return
        self.wake.set()

    def _run(self) -> None:
        while True:
            self.wake.wait(1.0)
            self.wake.clear()
            self._end_all()
            self.idle.set()

    def _end_all(self) -> None:
        try:
            self.end_waiting()
        except BaseException as exc:  # (as the builder: the span thread ending would leave every later span open)
            name = type(exc).__name__
            if name not in _WARNED_BASE:
                _WARNED_BASE.add(name)
                _log.warning("jwtobs: a span processor raised %s; spans of its batch are lost", name)

    def end_waiting(self) -> None:
        """End every waiting span (on the span thread)."""
        chunks = self.chunks
        with self.lock:
            while chunks:
                tel, spans = chunks.popleft()
                i = 0
                try:
                    for i in range(0, len(spans), 2):
                        self.at = i  # (spans of this chunk ended so far, doubled: for flush's warning)
                        self.since = time.monotonic()
                        try:
                            spans[i].end(end_time=spans[i + 1])
                        except Exception as exc:  # a span processor that raises: counted, the next span goes on
                            tel.failed("span", exc, tel._tp)
                        self.since = None
                except BaseException as exc:  # (KeyboardInterrupt, SystemExit...): this span and the rest of its
                    tel.failed("span", exc, tel._tp, n=(len(spans) - i) // 2)  # chunk are lost, counted
                    raise
                finally:
                    self.since = None
                    with self.count_lock:
                        self.waiting -= len(spans) // 2
                        self.at = 0
                    self.freed.set()

    def left(self) -> int:
        """Spans handed over and not ended yet (the one being ended included)."""
        return max(self.waiting - self.at // 2, 0)

    def busy(self) -> bool:
        return bool(self.chunks) or self.lock.locked()


_queue = _Queue()
_spans = _SpanEnder()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_queue.after_fork)
    os.register_at_fork(after_in_child=_spans.after_fork)


def queued() -> int:
    """Records waiting for the background builder."""
    return len(_queue.items) // RECORD_WIDTH


#: how long :func:`flush` (and the flush at process exit) waits for the builder thread to finish the batch it is
#: emitting: a sink that blocks must not hang the caller or the process's exit (its records stay queued, warned);
#: the JSONL sinks' own bound (:data:`jwtobs.events.FLUSH_WAIT`)
FLUSH_WAIT: Final = _SINK_FLUSH_WAIT


def _drain_for_flush() -> None:
    """The builder thread builds and emits every waiting record while this waits, at most FLUSH_WAIT seconds (the
    sinks run on that thread, so one that blocks holds it, not the caller); without a builder thread (none
    started yet, or a forked child's), here. Then the span thread ends the spans started, within the same
    FLUSH_WAIT."""
    q = _queue
    thread = q.thread
    if thread is not None and threading.current_thread() is thread:
        return  # a sink flushing from the builder thread, amid the drain it is part of (would wait on itself)
    deadline = time.monotonic() + FLUSH_WAIT
    if _drain_records(q, thread, deadline):
        _wait_for_spans(deadline)


def _wait_for_spans(deadline: float) -> None:
    """Wait until the span thread has ended every span handed to it, at most until ``deadline``."""
    sp = _spans
    if threading.current_thread() is sp.thread:
        return  # a span processor calling jwtobs.flush()
    if sp.chunks and (sp.thread is None or not sp.thread.is_alive()):  # pragma: no cover - defensive
        sp.thread = None
        sp.hand_over()
    while sp.busy():
        left = deadline - time.monotonic()
        if left <= 0:
            _log.warning(
                "jwtobs: flush gave up after %.0f s: a span processor has not returned (%d spans are not ended yet; "
                "the events are written)",
                FLUSH_WAIT,
                sp.left(),
            )
            return
        sp.idle.clear()
        sp.wake.set()
        sp.idle.wait(min(left, 0.05))  # set by the span thread after each pass


def _drain_records(q: _Queue, thread: threading.Thread | None, deadline: float) -> bool:
    """:func:`_drain_for_flush`'s records: ``False`` when it gave up (warned)."""
    if thread is None or not thread.is_alive():
        # (bounded all the same: the builder may still be inside a sink of a configuration replaced since. Before
        # session 32 this ran whenever jwtobs's own sinks were the only ones, to save ~50 us; but building a record
        # also ended its span until session 38, and a span processor that exports synchronously - the SDK's
        # SimpleSpanProcessor - with an exporter that blocks held flush() and the process's exit for as long: 60 s
        # for 3 spans; spans are ended on the span thread now, and a sink of the application's can block too)
        if q.drain(wait=FLUSH_WAIT) < 0:
            _log.warning(
                "jwtobs: flush gave up after %.0f s: a sink has not returned (%d records are not written yet)",
                FLUSH_WAIT,
                queued(),
            )
            return False
        return True
    # done when nothing waits and the builder holds no batch (records leave the queue only under its lock)
    while q.items or q.lock.locked():
        left = deadline - time.monotonic()
        if left <= 0:
            _log.warning(
                "jwtobs: flush gave up after %.0f s: a sink has not returned (the batch it was given and %d more "
                "records are not written yet)",
                FLUSH_WAIT,
                queued(),
            )
            return False
        q.idle.clear()
        q.wake.set()
        q.idle.wait(min(left, 0.05))  # set by the builder after each pass
    return True


def flush() -> None:
    """Build every waiting event, then write buffered events and record buffered metric measurements now.

    ``jwtobs.flush()``. Call it before reading events or metrics right after validations (tests, scripts),
    and before a process ends without running ``atexit`` handlers (``os._exit``, some pre-fork servers). Waits at
    most :data:`FLUSH_WAIT` seconds for a sink that is still writing (then warns and returns).
    """
    config.flush()  # runs _drain_for_flush first (registered below with config.before_flush)


def _at_exit() -> None:
    telemetry.exiting()
    q = _queue
    q.exited = True  # from now on a record is written by the thread that made it (_late)
    q.fast_limit = 0  # (the request threads' fast path goes through put)
    try:
        flush()
        if q.items:  # appended by a thread that passed the fast path's check just before it closed
            q.drain(wait=0.0)
    except Exception:  # pragma: no cover - at exit, nothing left to tell
        _log.debug("jwtobs: flush at exit failed", exc_info=True)


#: how long a record made after the exit flush began waits for the builder's batch in progress (see :func:`_late`)
_LATE_WAIT: Final = 1.0
#: not empty once that wait gave up (a sink that blocks the builder): the later records do not wait
_LATE_GAVE_UP: list[bool] = []


def _late(item: Pending | _KeySetItem) -> None:
    """A record made once the flush at exit has begun (a daemon thread still validating): built on the thread that
    made it and handed to the sinks at once (a :class:`JsonlSink` closed at exit writes it before returning),
    without span or metric measurement (the providers shut down right after jwtobs's flush). Before session 38 it
    waited in the queue for a builder that never woke again and was lost, counted nowhere (a daemon thread
    validating while an ``atexit`` handler of the application took 0.5 s: 717 of 1458 validations). Records a
    thread left in the queue just before are built first, in order, and a batch the builder is handing to the sinks
    goes before it (waited for at most :data:`_LATE_WAIT` seconds, once: a sink that blocks the builder does not
    hold every late validation; session 38's probe: without the wait the first record made after the flush began
    was written before the builder's last batch, ahead of 300 to 400 earlier ones). Never raises."""
    q = _queue
    if (q.items or q.lock.locked()) and threading.current_thread() is not q.thread:
        if q.drain(wait=0.0 if _LATE_GAVE_UP else _LATE_WAIT) < 0:
            _LATE_GAVE_UP.append(True)
    if isinstance(item, _KeySetItem):
        _to_sinks(item.state, item.change)
        return
    st = item[0]
    try:
        event = build(item)
        context = item[7]
        if context is None or context:
            _parent_ids(event, context)
    except Exception as exc:  # a clock that gave no time: this record only
        _failed(st, "event", exc, lost=1)
        return
    _to_sinks(st, event)


# Runs before JsonlSink's own at-exit close (registered when jwtobs.events was imported, earlier): every
# waiting record reaches the sinks before they close; and, moved last whenever a configuration is made or a
# provider adopted (telemetry.exit_flush_first), before OpenTelemetry providers shut down.
telemetry.flush_at_exit(_at_exit)
_forksafe.at_worker_end(_at_exit)  # (and at the end of a multiprocessing child, which runs no atexit handler)
config.before_flush(_drain_for_flush)


def emit_keyset_change(
    *,
    issuer: str | None,
    added: tuple[str, ...],
    removed: tuple[str, ...],
    keys: int,
    state: config.State | None = None,
) -> KeySetChange | None:
    """Write a :class:`KeySetChange` (a JWKS key set gained or lost kids) to every sink. Never raises."""
    try:
        st = state if state is not None else config.current()
        now = time.time() if st.clock is None else checked_time(st.clock())
        change = KeySetChange(
            time=now,
            issuer=None if issuer is None else _label(issuer),
            added=tuple(sanitize(k) or "" for k in added),
            removed=tuple(sanitize(k) or "" for k in removed),
            keys=keys,
            service=st.service,
        )
    except Exception as exc:  # pragma: no cover - defensive
        _failed(state, "keyset", exc)
        return None
    if st.defer:
        _queue.put(_KeySetItem(st, change))  # after the validations recorded before it, like in the file
    else:
        _to_sinks(st, change)
    return change


class _KeySetItem:
    """A key-set change waiting in the queue behind the validations recorded before it."""

    __slots__ = ("change", "state")

    def __init__(self, state: config.State, change: KeySetChange) -> None:
        self.state = state
        self.change = change


def _keyset_record(item: _KeySetItem) -> tuple[Any, ...]:
    """A key-set change as one record's width of queue items (the change first, then padding)."""
    return (item,) + (None,) * (RECORD_WIDTH - 1)
