"""The one flow: from a finished validation to a :class:`ValidationEvent`, then to telemetry and sinks.

:func:`jwtobs.wrap` and :class:`jwtobs.Verifier` both call :func:`record`; nothing else builds events.
:func:`record` never raises: a failure in telemetry or a sink is counted and swallowed, so observing a
validation can never change its outcome.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context

from jwtobs import config
from jwtobs.events import KeySetChange, Outcome, ValidationEvent
from jwtobs.header import TokenPeek
from jwtobs.header import peek as peek_token
from jwtobs.sanitize import sanitize

__all__ = ["record", "claim_int", "drain_deferred", "emit_keyset_change"]

_log = logging.getLogger("jwtobs")
_warned: set[str] = set()
#: Tokens longer than this are not fingerprinted (hashing cost); their event has token_fp = None.
_MAX_FP_BYTES = 1 << 20


def claim_int(value: object) -> int | None:
    """A NumericDate claim as int, or None (bools, strings, NaN, huge values are not dates)."""
    if type(value) is int:
        return value if -(1 << 53) < value < (1 << 53) else None
    if type(value) is float and value == value and -9e15 < value < 9e15:
        return int(value)
    return None


def _label(value: object) -> str | None:
    if value is None:
        return None
    if type(value) is str and len(value) <= 128 and value.isascii() and value.isprintable():
        return value
    return sanitize(value)


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
    """Build the event for one validation and emit it everywhere. Never raises.

    ``peek`` may be ``None`` (the token is peeked when the event is built, possibly on the background
    thread); ``claims`` ``None`` means "the unverified claims from the peek" (for rejected tokens).

    Returns the event, or ``None`` when it is built later on the background thread
    (``configure(defer=True)``) or could not be built.
    """
    try:
        st = state if state is not None else config.current()
        clock = st.clock
        now = time.time() if clock is None else clock()
        if st.defer:
            ctx = otel_context.get_current()  # the span (if sampled) is built later with this parent
            if type(claims) is dict:
                claims = claims.copy()  # the caller owns the original and may change it after we return
            _deferred.submit(
                (st, outcome, reason, detail, library, profile, token, peek, claims, start_ns, end_ns, tenant, now, ctx)
            )
            return None
        event = _build(
            st, outcome, reason, detail, library, profile, token, peek, claims, start_ns, end_ns, tenant, now
        )
    except Exception as exc:  # pragma: no cover - defensive
        _warn_once("build", exc)
        return None
    emit(st, event, start_ns, end_ns)
    return event


def _build(
    st: config.State,
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
    tenant: str | None,
    now: float,
) -> ValidationEvent:
    if peek is None:
        peek = peek_token(token)
    if claims is None:
        claims = peek.claims()
    fp = st.fingerprinter
    if isinstance(token, str):
        token_fp = fp.token(token) if 0 < len(token) <= _MAX_FP_BYTES else None
    elif isinstance(token, (bytes, bytearray)):
        token_fp = fp.token(bytes(token)) if 0 < len(token) <= _MAX_FP_BYTES else None
    else:
        token_fp = None
    if claims is not None:
        get = claims.get
        jti = get("jti")
        sub = get("sub")
        iss = get("iss")
        client_id = get("azp") or get("client_id")
        iat, nbf, exp = claim_int(get("iat")), claim_int(get("nbf")), claim_int(get("exp"))
        if tenant is None and st.tenant_claim is not None:
            tenant = _label(get(st.tenant_claim))
    else:
        jti = sub = iss = client_id = None
        iat = nbf = exp = None
    alg_s, kid_s, typ_s = peek.safe
    event = ValidationEvent(
        now,
        outcome,
        reason,
        detail,
        library,
        profile,
        None if iss is None else _label(iss),
        alg_s,
        kid_s,
        typ_s,
        None if client_id is None else _label(client_id),
        token_fp,
        None if jti is None else fp.claim("jti", jti),
        None if sub is None else fp.claim("sub", sub),
        tenant,
        iat,
        nbf,
        exp,
        peek.token_bytes,
        (end_ns - start_ns) / 1e9,
        None,
        None,
        st.service,
    )
    if outcome == "accepted":
        st.guard.learn(event.issuer, event.kid)
    return event


class _Deferred:
    """Builds and emits events on a background thread, for ``configure(defer=True)``.

    The request thread appends the raw ingredients (the token, the peeked header, a copy of the claims, the
    OpenTelemetry context) to a queue; a daemon thread turns them into events every ``interval`` seconds, or
    as soon as ``batch`` are waiting, and at :func:`jwtobs.flush` and exit. Past ``max_pending`` waiting
    items the request thread builds its own event (back-pressure: nothing is dropped, memory stays bounded).
    """

    def __init__(self, *, batch: int = 4096, interval: float = 0.5, max_pending: int = 100_000) -> None:
        self.batch = batch
        self.interval = interval
        self.max_pending = max_pending
        self._items: deque[tuple[Any, ...]] = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, item: tuple[Any, ...]) -> None:
        n = len(self._items)
        if n >= self.batch:
            if n >= self.max_pending:
                self._process(item)
                return
            self._wake.set()
        if self._thread is None:
            self._start()
        self._items.append(item)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="jwtobs-events", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            self.drain()

    def drain(self) -> None:
        items, process = self._items, self._process
        with self._lock:
            while True:
                try:
                    item = items.popleft()
                except IndexError:
                    return
                process(item)

    @staticmethod
    def _process(item: tuple[Any, ...]) -> None:
        st, outcome, reason, detail, library, profile, token, peek, claims, s_ns, e_ns, tenant, now, ctx = item
        try:
            event = _build(st, outcome, reason, detail, library, profile, token, peek, claims, s_ns, e_ns, tenant, now)
        except Exception as exc:  # pragma: no cover - defensive
            _warn_once("build", exc)
            return
        emit(st, event, s_ns, e_ns, ctx)

    def after_fork(self) -> None:
        """In a forked child: forget the parent's queue (the parent emits those) and its thread."""
        self._items = deque()
        self._thread = None
        self._wake = threading.Event()
        self._lock = threading.Lock()


_deferred = _Deferred()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_deferred.after_fork)
atexit.register(lambda: _deferred.drain())


def drain_deferred() -> None:
    """Build every event still waiting for the background thread (``jwtobs.flush`` calls this)."""
    _deferred.drain()


def emit(
    st: config.State, event: ValidationEvent, start_ns: int, end_ns: int, ctx: otel_context.Context | None = None
) -> None:
    """Hand a finished event to telemetry and every sink. Never raises."""
    try:
        st.telemetry.emit(event, start_ns, end_ns, ctx)
    except Exception as exc:
        _warn_once("telemetry", exc)
    _to_sinks(st, event)


def _to_sinks(st: config.State, event: ValidationEvent) -> None:
    for sink in st.sinks:
        try:
            sink(event)
        except Exception as exc:
            st.telemetry.dropped_events += 1
            _warn_once(f"sink:{type(sink).__name__}", exc)


def _warn_once(where: str, exc: BaseException) -> None:
    if where not in _warned:
        _warned.add(where)
        # the exception's class only: its message could echo a token
        _log.warning("jwtobs: %s failed (%s); validation outcome unaffected", where, type(exc).__name__)


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
        now = time.time() if st.clock is None else st.clock()
        change = KeySetChange(
            now,
            None if issuer is None else _label(issuer),
            tuple(sanitize(k) or "" for k in added),
            tuple(sanitize(k) or "" for k in removed),
            keys,
            st.service,
        )
    except Exception as exc:  # pragma: no cover - defensive
        _warn_once("keyset", exc)
        return None
    for sink in st.sinks:
        try:
            sink(change)  # type: ignore[arg-type]
        except Exception as exc:
            _warn_once(f"sink:{type(sink).__name__}", exc)
    return change
