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
import errno
import json
import logging
import math
import os
import stat
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol, TypeAlias

from jwtobs import _forksafe
from jwtobs.failures import QuietLogger

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
    "encode_lines",
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
    """RFC 3339 UTC with microsecond precision, e.g. ``2026-11-28T17:53:20.123456Z`` (milliseconds before session
    20: one token validated twice in a millisecond, both taking the same time to the clock's resolution, made two
    records that no field told apart, and the analysis counts equal records once)."""
    sec = math.floor(ts)
    second, prefix = _time_cache[0]
    if second != sec:
        prefix = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _time_cache[0] = (sec, prefix)
    return f"{prefix}.{int((ts - sec) * 1_000_000):06d}Z"


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


#: The JSON of a validation event's label fields (``"outcome":...`` to ``"client_id":...,``, no braces, the comma
#: after them included) per distinct
#: tuple of their values: a handful per validation site, bounded (details, issuers and client ids of rejected
#: tokens are chosen by whoever sends them).
_LABELS_JSON: dict[tuple[Any, ...], bytes] = {}
_MAX_LABELS_JSON: Final = 4096
_EVENT_HEAD: Final = b'{"schema":%d,"time":"' % SCHEMA_VERSION


def _labels_json(ev: ValidationEvent, key: tuple[Any, ...]) -> bytes:
    """The JSON of an event's ten label fields and the comma after them (no braces), remembered under ``key``
    (their values; bounded)."""
    assert _orjson is not None
    labels: bytes = (
        _orjson.dumps(
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
        + b","
    )
    if len(_LABELS_JSON) < _MAX_LABELS_JSON:
        _LABELS_JSON[key] = labels
    return labels


def encode(record: ValidationEvent | KeySetChange) -> bytes:
    """The JSON form of a record as one UTF-8 line without the newline (non-finite floats are ``null``).

    orjson when installed; the stdlib encoder otherwise and for what orjson refuses (lone surrogates)."""
    if _orjson is not None and type(record) is ValidationEvent and record.schema == SCHEMA_VERSION:
        return encode_lines((record,))[:-1]
    return _encode_general(record)


def _encode_general(record: ValidationEvent | KeySetChange) -> bytes:
    """:func:`encode` through :meth:`to_dict` (any record, any field values)."""
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


#: The first bytes of a validation event's line up to its time's second, for the last second seen (replaced whole).
_line_head: list[tuple[int, bytes]] = [(-1, b"")]


def encode_lines(records: Sequence[ValidationEvent | KeySetChange]) -> bytes:
    """The JSON lines of many records at once: ``b"".join(encode(r) + b"\n" for r in records)``, the same bytes.

    A validation event (schema 1, orjson installed) is four parts: the line's head up to its time's second
    (remembered per second), the microseconds, its ten label fields' JSON (remembered per distinct values) and
    one orjson call for the rest (the newline included); all joined once. The bytes are those of orjson
    encoding :meth:`ValidationEvent.to_dict` (``tests/core/test_builder.py`` compares them). An unhashable
    field value, or one orjson refuses, takes the general path (:meth:`to_dict`; the stdlib encoder)."""
    if _orjson is None:  # pragma: no cover - orjson is a core dependency wherever CPython wheels exist
        return b"".join([_encode_general(r) + b"\n" for r in records])
    parts: list[bytes] = []
    add = parts.extend
    remembered = _LABELS_JSON
    dumps = _orjson.dumps
    newline = _orjson.OPT_APPEND_NEWLINE
    head_second, head = _line_head[0]
    for ev in records:
        if type(ev) is not ValidationEvent or ev.schema != SCHEMA_VERSION:
            add((_encode_general(ev), b"\n"))
            continue
        try:
            key = (
                ev.outcome,
                ev.reason,
                ev.detail,
                ev.library,
                ev.profile,
                ev.issuer,
                ev.alg,
                ev.kid,
                ev.typ,
                ev.client_id,
            )
            labels = remembered.get(key)
            if labels is None:
                labels = _labels_json(ev, key)
            rest = dumps(
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
                },
                option=newline,
            )
        except TypeError:  # an unhashable field value, or what orjson refuses: the general path
            add((_encode_general(ev), b"\n"))
            continue
        ts = ev.time
        if not ts >= 0:  # (before 1970: format_time's floor, on the general path)
            add((_encode_general(ev), b"\n"))
            continue
        sec = int(ts)
        if sec != head_second:  # format_time's prefix for this second
            head_second, head = sec, _EVENT_HEAD + format_time(float(sec))[:-8].encode("ascii")
            _line_head[0] = (head_second, head)
        add((head, b'.%06dZ",' % int((ts - sec) * 1_000_000), labels, rest[1:]))
    return b"".join(parts)


_OPEN_SINKS: weakref.WeakSet[JsonlSink] = weakref.WeakSet()
_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)  # (see JsonlSink._open)
_OPEN_FLAGS: Final = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | _NONBLOCK
#: how long :meth:`JsonlSink.flush` (and its close at process exit) waits for a write in progress, and
#: :func:`jwtobs.flush` for the event builder (:data:`jwtobs.pipeline.FLUSH_WAIT`)
FLUSH_WAIT: Final = 10.0
#: how long a file ending without a newline must stay so, its size unchanged, before a sink opening it takes its
#: last line for one a writer left cut (and ends it): a live writer completes a line in well under this
CUT_SETTLE: Final = 0.05


def _flush_open_sinks() -> None:
    for sink in list(_OPEN_SINKS):
        sink.close()


def _forget_in_child() -> None:
    """A forked child starts with its parent's buffered events, which the parent writes: the child forgets them
    (it wrote every one a second time at its exit) and starts its own locks and writer."""
    for sink in list(_OPEN_SINKS):
        sink._after_fork()


atexit.register(_flush_open_sinks)
_forksafe.at_worker_end(_flush_open_sinks)  # (a multiprocessing child ends with os._exit: no atexit there)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)

_log = QuietLogger("jwtobs")  # (never raises: see QuietLogger)


def _in_order(
    batch: list[ValidationEvent | KeySetChange | bytes],
    lines: list[bytes],
    records: list[ValidationEvent | KeySetChange],
) -> list[bytes]:
    """The JSON lines of a sink's buffered ``batch`` in order: its ``bytes`` entries (``lines``) as they are, each
    run of records between them encoded at once (``records``: the batch's records, in order)."""
    if not lines:
        return [encode_lines(records)]
    out: list[bytes] = []
    run: list[ValidationEvent | KeySetChange] = []
    for item in batch:
        if type(item) is bytes:
            if run:
                out.append(encode_lines(run))
                run = []
            out.append(item)
        else:
            run.append(item)  # type: ignore[arg-type]
    if run:
        out.append(encode_lines(run))
    return out


class JsonlSink:
    """Appends one JSON line per event to ``path``.

    The request thread only appends the event to a buffer (the background event builder hands over its batches
    already encoded, see :meth:`extend`). A daemon writer thread encodes and writes the buffer every
    ``flush_interval`` seconds, or as soon as ``max_buffer`` events are waiting; also at
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
        # absolute now: a relative path followed the working directory, and a process that changed it after
        # configure() (a daemon's chdir("/")) split its events between two files (session 37); logging's
        # FileHandler does the same
        self.path = os.path.abspath(os.fsdecode(path))
        self.max_buffer = max(1, int(max_buffer))
        self.flush_interval = float(flush_interval)
        self.max_pending = max(self.max_buffer, int(max_pending))
        self.dropped = 0
        self.written = 0
        #: records, and JSON lines of many records (``bytes``, from :meth:`extend`), in arrival order
        self._buffer: deque[ValidationEvent | KeySetChange | bytes] = deque()
        #: records inside the buffer's ``bytes`` entries beyond one per entry: ``len(_buffer) + _in_lines`` records
        #: wait (changed under ``_count_lock``; read without it where an approximate bound is enough)
        self._in_lines = 0
        self._count_lock = threading.Lock()
        self._lock = threading.Lock()  # serialises writers (thread, flush(), close())
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._fd: int | None = None
        self._ino: tuple[int, int] | None = None
        self._warned = False
        #: the file (device, inode) that a failed write left ending in a cut line which could not be taken back
        self._cut_in: tuple[int, int] | None = None
        try:
            self._makedirs()
        except OSError as exc:  # a read-only filesystem, a missing mount: retried at every write
            self._warn(exc)
        _OPEN_SINKS.add(self)

    def _after_fork(self) -> None:
        """In a forked child (:func:`_forget_in_child`): the parent's buffer is the parent's to write."""
        self._buffer.clear()
        self._in_lines = 0
        self._count_lock = threading.Lock()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None

    def _makedirs(self) -> None:
        folder = os.path.dirname(os.path.abspath(self.path))
        try:
            os.makedirs(folder, exist_ok=True)
        except FileExistsError:  # a component is a regular file: say so (before session 35 the warning named
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", folder) from None  # FileExistsError)

    def _warn(self, exc: BaseException) -> None:
        if not self._warned:
            self._warned = True
            _log.warning(
                "jwtobs: cannot write events to %s (%s); events are dropped and counted in jwtobs.events.dropped",
                self.path,
                type(exc).__name__,
            )

    @property
    def waiting(self) -> int:
        """Records buffered, not yet written."""
        return len(self._buffer) + self._in_lines

    def __call__(self, event: ValidationEvent | KeySetChange) -> None:
        buf = self._buffer
        n = len(buf) + self._in_lines
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
        if self._closed:  # a record of a validation that raced configure(): written now, no writer is left
            self.flush()

    def extend(self, records: list[ValidationEvent] | list[ValidationEvent | KeySetChange]) -> None:
        """Take many records at once (the background event builder hands over a batch): what calling the sink
        once per record does (drop and count past ``max_pending``, wake the writer past ``max_buffer``), in
        one call. The records are encoded here, on the caller's thread (:func:`encode_lines`: the builder's,
        off the request path), into one ``bytes`` entry: the buffer holds no event object until the writer
        runs (no garbage-collector work per waiting event) and the writer only writes."""
        buf = self._buffer
        waiting = len(buf) + self._in_lines
        room = self.max_pending - waiting
        if room < len(records):
            room = max(room, 0)
            self.dropped += len(records) - room
            records = records[:room]
        if self._thread is None:
            self._start()
        if not records:
            return
        self._take(records)
        if self._closed:  # (as in __call__)
            self.flush()
            return
        if waiting + len(records) >= self.max_buffer:
            if self._thread is None or not self._thread.is_alive():  # a writer that did not survive a fork
                self._start()
            self._wake.set()

    def _take(self, records: list[ValidationEvent] | list[ValidationEvent | KeySetChange]) -> None:
        """Buffer the records of :meth:`extend`: as one ``bytes`` entry of their JSON lines."""
        try:
            lines = encode_lines(records)
        except Exception as exc:  # a record that cannot be encoded (a NaN time): the batch is counted as lost
            self.dropped += len(records)
            self._warn(exc)
            return
        with self._count_lock:
            self._in_lines += len(records) - 1
        self._buffer.append(lines)

    def _start(self) -> None:
        with self._lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(target=self._run, name="jwtobs-events-writer", daemon=True)
            try:
                self._thread.start()
            except RuntimeError:  # Python >= 3.12 in an atexit handler: the flush and the close at exit write them
                self._thread = None
                return
        _forksafe.watch_worker_end()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            with self._lock:
                self._write_locked()

    def flush(self) -> None:
        """Write every buffered event now (:func:`jwtobs.flush`, close). Waits at most :data:`FLUSH_WAIT` seconds
        for a write in progress (a pipe whose reader stopped blocks it): then warns and returns, the events still
        buffered (the writer thread writes them when it can)."""
        if not self._lock.acquire(timeout=FLUSH_WAIT):
            _log.warning(
                "jwtobs: flushing events to %s gave up after %.0f s: a write has not returned (a pipe whose reader "
                "stopped?); %d events wait",
                self.path,
                FLUSH_WAIT,
                self.waiting,
            )
            return
        try:
            self._write_locked()
        finally:
            self._lock.release()

    def _write_locked(self) -> None:
        """Write every buffered event (the caller holds ``_lock``)."""
        buf, batch = self._buffer, []
        while True:  # popleft is atomic: an event appended concurrently is never lost
            try:
                batch.append(buf.popleft())
            except IndexError:
                break
        if not batch:
            return
        # JSON lines from extend() as they are; runs of records encoded at once, in order
        parts: list[bytes] = []
        records: list[ValidationEvent | KeySetChange] = []
        count = in_lines = 0
        for item in batch:
            if type(item) is bytes:
                parts.append(item)
                n = item.count(b"\n")  # one newline per JSON line (JSON text never holds a raw one)
                count += n
                in_lines += n - 1
            else:
                records.append(item)  # type: ignore[arg-type]
                count += 1
        if in_lines:
            with self._count_lock:
                self._in_lines -= in_lines
        kept = 0  # lines of the batch in the file when a write failed part way
        try:
            if records:
                parts = _in_order(batch, parts, records)
            data = parts[0] if len(parts) == 1 else b"".join(parts)
            fd = self._open()
            ended = self._cut_in is not None and self._cut_in == self._ino
            if ended:
                data = b"\n" + data  # end the cut line first: the lines that follow stay whole
            before = os.fstat(fd).st_size
            view = memoryview(data)
            try:
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
            except OSError:
                done = len(data) - len(view)
                if done:  # a full disk (or RLIMIT_FSIZE) takes what fits, then fails: a line was cut
                    kept, keep = self._keep_whole(data, done, ended)
                    if keep < done:
                        self._take_back(fd, before + keep, done - keep)
                raise
            self._cut_in = None
            self.written += count
        except Exception as exc:  # never break the caller's request
            self.written += kept
            self.dropped += count - kept
            self._warn(exc)

    def _keep_whole(self, data: bytes, done: int, ended: bool) -> tuple[int, int]:
        """After a write that stopped ``done`` bytes into ``data`` (``ended``: it starts with the newline ending a cut
        line): how many of its lines are whole in the file, and the bytes they take. Those stay (counted as written,
        the rest of the batch as dropped) and only the cut line is taken back. Before session 37 the whole batch was
        taken back: with 100 KiB left on the disk a batch of 150 KiB wrote nothing (0 of 300 lines), and a service
        whose writer wakes at the batch size wrote nothing until the disk had room for a whole batch."""
        keep = data.rfind(b"\n", 0, done) + 1
        if keep and ended:
            self._cut_in = None  # (the cut line is ended now)
        return max(data.count(b"\n", 0, keep) - ended, 0), keep

    def _take_back(self, fd: int, before: int, done: int) -> None:
        """After a write cut by a full disk: remove the ``done`` bytes it wrote (the file was ``before`` bytes long),
        so that no cut line stays in the file; the batch is counted as dropped. Before session 20 the cut line
        stayed, the next batch was appended to it once there was room, and ``jwtobs report`` refused the whole
        file for that broken line. When another process appended meanwhile (the size is not ``before + done``),
        nothing is removed and the next write starts with a newline: only the cut line is broken."""
        try:
            if os.fstat(fd).st_size == before + done:
                os.ftruncate(fd, before)
                return
        except OSError:
            pass
        self._cut_in = self._ino

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
        # non-blocking open: a named pipe that no process reads fails at once (ENXIO: counted as dropped) instead of
        # blocking the caller for ever (session 21: jwtobs.flush() and the exit hung on a FIFO without a reader);
        # the writes then block as usual (a stuck one is what FLUSH_WAIT bounds)
        fd = os.open(self.path, _OPEN_FLAGS, 0o640)
        if _NONBLOCK:
            os.set_blocking(fd, True)
        st = os.fstat(fd)
        self._fd, self._ino = fd, (st.st_dev, st.st_ino)
        if st.st_size and stat.S_ISREG(st.st_mode) and self._cut_at_end(fd, st.st_size):
            # the last line is cut (a process killed mid-write, a full disk): end it before the first line we
            # write, so that only the cut line is broken, not ours joined to it
            self._cut_in = self._ino
        return fd

    def _cut_at_end(self, fd: int, size: int) -> bool:
        """Whether the file ends in a line its writer left cut: its last byte is no newline, and stays so while the
        size does not move for CUT_SETTLE s. Another live process appending a batch of several pages is seen half
        way by ``fstat`` (the pages are added one by one): ending *its* line with a newline of ours made an empty
        line in a file several workers share (session 27: gunicorn with Django, one events file)."""
        if self._last_byte(size) in (b"\n", b""):
            return False
        time.sleep(CUT_SETTLE)
        try:
            return os.fstat(fd).st_size == size and self._last_byte(size) not in (b"\n", b"")
        except OSError:
            return False

    def _last_byte(self, size: int) -> bytes:
        try:
            with open(self.path, "rb") as f:
                f.seek(size - 1)
                return f.read(1)
        except OSError:  # (unreadable to us, a file replaced meanwhile: as before, nothing is added)
            return b"\n"

    def close(self) -> None:
        """Write what waits and stop the writer thread. A record that arrives later (from a validation that read
        the configuration just before :func:`jwtobs.configure` replaced it) is written at once, by its caller."""
        self._closed = True
        self._wake.set()
        self.flush()
        if not self._lock.acquire(timeout=FLUSH_WAIT):  # (a write that does not return keeps its descriptor)
            return
        try:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        finally:
            self._lock.release()

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
        # structlog's "event" is the message: a key-set change's own "event" field (its record type, which the
        # message says) would be a second value for it, a TypeError that lost every key-set change (session 20)
        if "event" in fields_:
            fields_ = {k: v for k, v in fields_.items() if k != "event"}
        # structlog loggers expose one method per level name (warning, info, debug...)
        getattr(self.logger, logging.getLevelName(level).lower(), self.logger.info)(msg, **fields_)
