"""The validation event (schema v1) and the sinks that receive it.

One :class:`ValidationEvent` is produced per validation, by :func:`jwtobs.wrap` and by
:class:`jwtobs.Verifier` alike. Spans, metrics, the JSONL event file and the analysis all derive from it.
It never holds the token, its signature, or a raw identifying claim: ``jti`` and ``sub`` appear only as
keyed fingerprints (:mod:`jwtobs.fingerprint`).

Sinks are callables taking one record (:class:`EventSink`): a :class:`ValidationEvent`, or a
:class:`KeySetChange` when a JWKS key set changes. Two are provided: :class:`JsonlSink` (append-only JSON
lines, buffered, rotation-safe) and :class:`LoggerSink` (a stdlib or structlog logger; rejections at WARNING).
Records are serialised by :func:`encode` (one place for the JSON form).
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import threading
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol, TypeAlias

try:  # a compiled encoder (~4x the stdlib on our events); the stdlib where no wheel exists
    import orjson as _orjson
except ImportError:  # pragma: no cover - a core dependency wherever CPython wheels exist
    _orjson = None  # type: ignore[assignment]

__all__ = [
    "KeySetChange",
    "ValidationEvent",
    "EventSink",
    "Record",
    "encode",
    "JsonlSink",
    "LoggerSink",
    "SCHEMA_VERSION",
    "EVENT_FIELDS",
    "format_time",
]

SCHEMA_VERSION: Final = 1

Outcome = Literal["accepted", "rejected"]


@dataclass(slots=True)
class ValidationEvent:
    """One validation. Field meanings are documented in ``docs/contract.md``.

    ``time`` is the validation time as POSIX seconds (float) on the object and RFC 3339 UTC in the JSON form.
    """

    time: float
    outcome: Outcome
    reason: str | None
    detail: str | None
    library: str
    profile: str
    issuer: str | None
    alg: str | None
    kid: str | None
    typ: str | None
    client_id: str | None
    token_fp: str | None
    jti_hash: str | None
    sub_hash: str | None
    tenant: str | None
    iat: int | None
    nbf: int | None
    exp: int | None
    token_bytes: int
    duration_s: float
    trace_id: str | None = None
    span_id: str | None = None
    service: str | None = None
    schema: int = SCHEMA_VERSION

    @property
    def accepted(self) -> bool:
        return self.outcome == "accepted"

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``schema`` first, ``time`` as RFC 3339 UTC, every field present."""
        return {
            "schema": self.schema,
            "time": format_time(self.time),
            "outcome": self.outcome,
            "reason": self.reason,
            "detail": self.detail,
            "library": self.library,
            "profile": self.profile,
            "issuer": self.issuer,
            "alg": self.alg,
            "kid": self.kid,
            "typ": self.typ,
            "client_id": self.client_id,
            "token_fp": self.token_fp,
            "jti_hash": self.jti_hash,
            "sub_hash": self.sub_hash,
            "tenant": self.tenant,
            "iat": self.iat,
            "nbf": self.nbf,
            "exp": self.exp,
            "token_bytes": self.token_bytes,
            "duration_s": self.duration_s,
            "trace_id": self.trace_id,
            "span_id": self.span_id,
            "service": self.service,
        }

    def to_json(self) -> str:
        """The JSON line (without the newline): :func:`encode` as text."""
        return encode(self).decode("utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValidationEvent:
        """Inverse of :meth:`to_dict` (unknown keys are ignored, missing optional keys are ``None``)."""
        kwargs: dict[str, Any] = {f: data.get(f) for f in EVENT_FIELDS if f not in ("time", "schema")}
        t = data.get("time")
        ts = datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() if isinstance(t, str) else float(t or 0)
        kwargs["token_bytes"] = kwargs.get("token_bytes") or 0
        kwargs["duration_s"] = kwargs.get("duration_s") or 0.0
        return cls(time=ts, schema=int(data.get("schema", SCHEMA_VERSION)), **kwargs)


EVENT_FIELDS: Final[tuple[str, ...]] = (
    "schema",
    "time",
    *tuple(f.name for f in fields(ValidationEvent) if f.name not in ("schema", "time")),
)
#: The last second formatted (one tuple, replaced whole: threads never see a half-updated pair).
_time_cache: list[tuple[int, str]] = [(-1, "")]
#: ".000Z" ... ".999Z": the millisecond suffixes of :func:`format_time`.
_MILLIS: Final = tuple(f".{i:03d}Z" for i in range(1000))


@dataclass(slots=True)
class KeySetChange:
    """A JWKS key set changed (kids added or removed). Written to the same sinks as validation events so
    the rotation analysis can line validations up against key-set changes. Its JSON form carries
    ``"event": "jwks.keyset_changed"``; validation events have no ``event`` key.
    """

    time: float
    issuer: str | None
    added: tuple[str, ...]
    removed: tuple[str, ...]
    keys: int
    service: str | None = None
    schema: int = SCHEMA_VERSION

    EVENT_NAME = "jwks.keyset_changed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "event": self.EVENT_NAME,
            "time": format_time(self.time),
            "issuer": self.issuer,
            "added": list(self.added),
            "removed": list(self.removed),
            "keys": self.keys,
            "service": self.service,
        }

    def to_json(self) -> str:
        return encode(self).decode("utf-8")


def format_time(ts: float) -> str:
    """RFC 3339 UTC with millisecond precision, e.g. ``2026-11-28T17:53:20.123Z``."""
    sec = int(ts)
    second, prefix = _time_cache[0]
    if second != sec:
        prefix = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _time_cache[0] = (sec, prefix)
    ms = int((ts - sec) * 1000)
    return prefix + (_MILLIS[ms] if 0 <= ms < 1000 else f".{ms:03d}Z")


#: What a sink receives: one :class:`ValidationEvent` per validation, a :class:`KeySetChange` when a JWKS key
#: set gains or loses kids.
Record: TypeAlias = "ValidationEvent | KeySetChange"


class EventSink(Protocol):
    """What ``jwtobs.configure(sinks=[...])`` accepts: a callable taking one record, either kind.

    A sink that only cares about validations checks ``isinstance(record, ValidationEvent)`` (a key rotation
    would otherwise reach code that reads ``record.outcome``). A sink that raises never affects a validation:
    the record is counted in ``jwtobs.events.dropped`` and ``jwtobs.telemetry.failures``, and the failure is
    logged once per sink.
    """

    def __call__(self, record: ValidationEvent | KeySetChange, /) -> None: ...


#: The JSON of a validation event's label fields (``"outcome":...`` to ``"client_id":...``, no braces) per distinct
#: tuple of their values: a handful per validation site, bounded (details, issuers and client ids of rejected
#: tokens are chosen by whoever sends them).
_LABELS_JSON: dict[tuple[Any, ...], bytes] = {}
_MAX_LABELS_JSON: Final = 4096
_EVENT_HEAD: Final = b'{"schema":%d,"time":"' % SCHEMA_VERSION


def _encode_event(ev: ValidationEvent) -> bytes:
    """:func:`encode` of a validation event with orjson: the ten label fields' JSON remembered per distinct
    values, the rest encoded per event; the same bytes as encoding :meth:`ValidationEvent.to_dict`."""
    assert _orjson is not None
    key = (ev.outcome, ev.reason, ev.detail, ev.library, ev.profile, ev.issuer, ev.alg, ev.kid, ev.typ, ev.client_id)
    labels = _LABELS_JSON.get(key)
    if labels is None:
        labels = _orjson.dumps(
            {
                "outcome": ev.outcome,
                "reason": ev.reason,
                "detail": ev.detail,
                "library": ev.library,
                "profile": ev.profile,
                "issuer": ev.issuer,
                "alg": ev.alg,
                "kid": ev.kid,
                "typ": ev.typ,
                "client_id": ev.client_id,
            }
        )[1:-1]
        if len(_LABELS_JSON) < _MAX_LABELS_JSON:
            _LABELS_JSON[key] = labels
    rest = _orjson.dumps(
        {
            "token_fp": ev.token_fp,
            "jti_hash": ev.jti_hash,
            "sub_hash": ev.sub_hash,
            "tenant": ev.tenant,
            "iat": ev.iat,
            "nbf": ev.nbf,
            "exp": ev.exp,
            "token_bytes": ev.token_bytes,
            "duration_s": ev.duration_s,
            "trace_id": ev.trace_id,
            "span_id": ev.span_id,
            "service": ev.service,
        }
    )
    return b"".join((_EVENT_HEAD, format_time(ev.time).encode("ascii"), b'",', labels, b",", rest[1:]))


def encode(record: ValidationEvent | KeySetChange) -> bytes:
    """The JSON form of a record as one UTF-8 line without the newline (non-finite floats are ``null``).

    orjson when installed; the stdlib encoder otherwise and for what orjson refuses (lone surrogates)."""
    if _orjson is not None and type(record) is ValidationEvent and record.schema == SCHEMA_VERSION:
        try:
            return _encode_event(record)
        except TypeError:  # an unhashable field value, or what orjson refuses: the general path
            pass
    data = record.to_dict()
    if _orjson is not None:
        try:
            return _orjson.dumps(data)
        except TypeError:  # orjson.JSONEncodeError
            pass
    for k, v in data.items():
        if type(v) is float and not math.isfinite(v):
            data[k] = None
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode("ascii")


_OPEN_SINKS: weakref.WeakSet[JsonlSink] = weakref.WeakSet()


def _flush_open_sinks() -> None:
    for sink in list(_OPEN_SINKS):
        sink.close()


atexit.register(_flush_open_sinks)

_log = logging.getLogger("jwtobs")


class JsonlSink:
    """Appends one JSON line per event to ``path``.

    The request thread only appends the event to a buffer. A daemon writer thread encodes and writes the
    buffer every ``flush_interval`` seconds, or as soon as ``max_buffer`` events are waiting; also at
    :func:`jwtobs.flush`, on :meth:`close` and at interpreter exit. The file is opened with ``O_APPEND``
    (several processes may share it) and reopened when it is rotated away (``logrotate`` move/create).
    If the writer falls behind by more than ``max_pending`` events, new events are dropped and counted
    rather than blocking requests or growing memory. A write error never reaches the caller: the batch is
    counted in :attr:`dropped` and logged once.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_buffer: int = 512,
        flush_interval: float = 1.0,
        max_pending: int = 200_000,
    ) -> None:
        self.path = os.fspath(path)
        self.max_buffer = max(1, int(max_buffer))
        self.flush_interval = float(flush_interval)
        self.max_pending = max(self.max_buffer, int(max_pending))
        self.dropped = 0
        self.written = 0
        self._buffer: deque[ValidationEvent | KeySetChange] = deque()
        self._lock = threading.Lock()  # serialises writers (thread, flush(), close())
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._fd: int | None = None
        self._ino: tuple[int, int] | None = None
        self._warned = False
        try:
            self._makedirs()
        except OSError as exc:  # a read-only filesystem, a missing mount: retried at every write
            self._warn(exc)
        _OPEN_SINKS.add(self)

    def _makedirs(self) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)

    def _warn(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            _log.warning(
                "jwtobs: cannot write events to %s (%s); events are dropped and counted in jwtobs.events.dropped",
                self.path,
                type(exc).__name__,
            )

    def __call__(self, event: ValidationEvent | KeySetChange) -> None:
        buf = self._buffer
        n = len(buf)
        if n >= self.max_buffer:
            # wake the writer once per batch, not on every event past the threshold (each set() would also
            # wake it for a few events at a time); its liveness is checked then, and every max_buffer events
            # while the wake flag stays set (a writer that did not survive a fork)
            wake = self._wake
            if not wake.is_set() or n % self.max_buffer == 0:
                if self._thread is None or not self._thread.is_alive():
                    self._start()
                wake.set()
            if n >= self.max_pending:
                self.dropped += 1
                return
        elif self._thread is None:
            self._start()
        buf.append(event)

    def extend(self, records: list[ValidationEvent] | list[ValidationEvent | KeySetChange]) -> None:
        """Take many records at once (the background event builder hands over a batch): what calling the sink
        once per record does (drop and count past ``max_pending``, wake the writer past ``max_buffer``), in
        one call."""
        buf = self._buffer
        room = self.max_pending - len(buf)
        if room < len(records):
            room = max(room, 0)
            self.dropped += len(records) - room
            records = records[:room]
        if self._thread is None:
            self._start()
        buf.extend(records)
        if len(buf) >= self.max_buffer:
            if self._thread is None or not self._thread.is_alive():  # a writer that did not survive a fork
                self._start()
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(target=self._run, name="jwtobs-events-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Write every buffered event now (called by the writer thread, :func:`jwtobs.flush`, close)."""
        with self._lock:
            buf, batch = self._buffer, []
            while True:  # popleft is atomic: an event appended concurrently is never lost
                try:
                    batch.append(buf.popleft())
                except IndexError:
                    break
            if not batch:
                return
            try:
                data = b"".join([encode(e) + b"\n" for e in batch])
                fd = self._open()
                view = memoryview(data)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                self.written += len(batch)
            except Exception as exc:  # never break the caller's request
                self.dropped += len(batch)
                self._warn(exc)

    def _open(self) -> int:
        try:
            st = os.stat(self.path)
            current: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            current = None
        if self._fd is not None and current == self._ino:
            return self._fd
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if current is None:
            self._makedirs()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o640)
        st = os.fstat(fd)
        self._fd, self._ino = fd, (st.st_dev, st.st_ino)
        return fd

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self.flush()
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __repr__(self) -> str:
        return f"JsonlSink({self.path!r})"


class LoggerSink:
    """Logs events through a stdlib ``logging.Logger`` or a structlog logger.

    Rejections are logged at ``rejected_level`` (WARNING), acceptances at ``accepted_level`` (DEBUG; pass
    ``None`` to skip them). The message is ``"jwt validation rejected"``/``"... accepted"``; the event fields
    go in ``extra={"jwtobs": {...}}`` for stdlib and as key-value pairs for structlog. The fields are the
    event's, so nothing secret is in them.
    """

    def __init__(
        self, logger: Any = None, *, rejected_level: int = logging.WARNING, accepted_level: int | None = logging.DEBUG
    ) -> None:
        self.logger = logger if logger is not None else logging.getLogger("jwtobs.events")
        self.rejected_level = rejected_level
        self.accepted_level = accepted_level
        # structlog loggers have bind(); stdlib loggers have isEnabledFor(). Decide once.
        self._emit: Callable[[int, str, dict[str, Any]], None]
        if hasattr(self.logger, "bind") and not isinstance(self.logger, logging.Logger):
            self._emit = self._emit_structlog
        else:
            self._emit = self._emit_stdlib

    def __call__(self, event: ValidationEvent | KeySetChange) -> None:
        if isinstance(event, KeySetChange):
            self._emit(logging.INFO, "jwks key set changed", event.to_dict())
        elif event.outcome == "rejected":
            self._emit(self.rejected_level, "jwt validation rejected", event.to_dict())
        elif self.accepted_level is not None:
            self._emit(self.accepted_level, "jwt validation accepted", event.to_dict())

    def _emit_stdlib(self, level: int, msg: str, fields_: dict[str, Any]) -> None:
        if self.logger.isEnabledFor(level):
            self.logger.log(level, "%s reason=%s", msg, fields_.get("reason"), extra={"jwtobs": fields_})

    def _emit_structlog(self, level: int, msg: str, fields_: dict[str, Any]) -> None:
        # structlog loggers expose one method per level name (warning, info, debug...)
        getattr(self.logger, logging.getLevelName(level).lower(), self.logger.info)(msg, **fields_)
