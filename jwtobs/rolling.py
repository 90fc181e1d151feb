"""A JSONL event sink that rolls its files into a Hive-partitioned directory.

>>> sink = RollingJsonlSink("/var/log/jwtobs/events", max_bytes=128 << 20)  # or configure(events_dir=...)

Events go to ``DIR/date=YYYY-MM-DD/hour=HH/events-HOST-PID-START-RANDOM-SEQ.jsonl``, partitioned by the event's
own time (UTC), so a partition holds exactly the events of its hour however late they were written. A file
is closed and the next one (``SEQ + 1``) started when the hour changes or the file reaches ``max_bytes``.
Each process writes its own files (host, pid, start time and a random part are in the name), so replicas can share the
directory. ``jwtobs.analysis.load_events(DIR)`` and the DuckDB engine (``jwtobs.analysis.duck``) read the
whole directory as one table; DuckDB also prunes partitions by ``date``/``hour``.

Buffering, the writer thread, dropping under overload and never raising into the caller are those of
:class:`jwtobs.events.JsonlSink`. Only whole lines are written (one ``write`` per batch and file); a reader
that meets the file being written may see a torn last line, which the loaders tolerate.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from datetime import UTC, datetime
from typing import Final

from jwtobs.events import JsonlSink, KeySetChange, ValidationEvent

__all__ = ["RollingJsonlSink", "DEFAULT_MAX_BYTES"]

#: a file is rolled when it reaches this size (bytes)
DEFAULT_MAX_BYTES: Final = 128 << 20


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:64] or "host"


class RollingJsonlSink(JsonlSink):
    """Appends events as JSON lines to hourly partitions of ``directory``, rolling at ``max_bytes``.

    ``directory``: root of the partitioned tree (created if missing). ``max_bytes``: size at which a file is
    closed and the next one started (default 128 MiB). ``prefix``: file name prefix. The other arguments are
    :class:`jwtobs.events.JsonlSink`'s. :attr:`files` counts the files this sink has started.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        prefix: str = "events",
        max_buffer: int = 512,
        flush_interval: float = 1.0,
        max_pending: int = 200_000,
    ) -> None:
        self.directory = os.path.abspath(os.fspath(directory))  # created by JsonlSink (never raises; retried)
        super().__init__(
            os.path.join(self.directory, "_"),
            max_buffer=max_buffer,
            flush_interval=flush_interval,
            max_pending=max_pending,
        )
        if max_bytes < 1:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = int(max_bytes)
        self.prefix = _safe(prefix)
        self._new_stem()
        self._partition: str | None = None  # the open file's partition
        self._size = 0
        self._hour_cache: tuple[int, str] = (-1, "")
        self._lines_done = 0  # lines of the partition being written that are already in a file

    def _hour(self, t: float) -> str:
        hour = int(t // 3600)
        if self._hour_cache[0] != hour:
            self._hour_cache = (hour, datetime.fromtimestamp(hour * 3600, UTC).strftime("date=%Y-%m-%d/hour=%H"))
        return self._hour_cache[1]

    def _take(self, records: list[ValidationEvent] | list[ValidationEvent | KeySetChange]) -> None:
        """Buffer the records of :meth:`extend` as they are (each goes to the partition of its own hour)."""
        self._buffer.extend(records)

    def _new_stem(self) -> None:
        """This process's file names: host, pid, start time and a random part (replicas share the directory)."""
        host, ms = _safe(socket.gethostname()), time.time_ns() // 1_000_000
        self._stem = f"{self.prefix}-{host}-{os.getpid()}-{ms}-{secrets.token_hex(3)}"
        self.files = 0

    def _after_fork(self) -> None:
        """A forked child writes files of its own (its pid in their names), never its parent's open one."""
        super()._after_fork()
        self._close_fd()
        self._new_stem()

    def _write_locked(self) -> None:
        """Write every buffered event, each into the partition of its hour (the caller holds ``_lock``)."""
        buf = self._buffer
        groups: dict[str, list[bytes]] = {}
        n = 0
        while True:  # popleft is atomic: an event appended concurrently is never lost
            try:
                e = buf.popleft()
            except IndexError:
                break
            assert not isinstance(e, bytes)  # (only JsonlSink._take buffers JSON lines)
            groups.setdefault(self._hour(e.time), []).append((e.to_json() + "\n").encode("utf-8"))
            n += 1
        for partition, lines in groups.items():
            self._lines_done = 0
            try:
                self._write(partition, lines)
                self.written += len(lines)
            except Exception as exc:  # never break the caller's request
                # lines already in an earlier file of this partition count as written (before: all dropped)
                self.written += self._lines_done
                self.dropped += len(lines) - self._lines_done
                self._close_fd()
                if not self._warned:
                    self._warned = True
                    self._log_drop(exc)

    def _log_drop(self, exc: BaseException) -> None:
        logging.getLogger("jwtobs").warning(
            "jwtobs: could not write events under %s (%s); events dropped", self.directory, type(exc).__name__
        )

    def _write(self, partition: str, lines: list[bytes]) -> None:
        """Whole lines into the partition's current file, rolling whenever the next line would pass
        ``max_bytes`` (a single line longer than that gets a file of its own)."""
        i = 0
        while i < len(lines):
            if self._fd is None or partition != self._partition:
                self._roll(partition)
            room, j, size = self.max_bytes - self._size, i, 0
            while j < len(lines) and (size + len(lines[j]) <= room or (self._size == 0 and j == i)):
                size += len(lines[j])
                j += 1
            if j == i:
                self._roll(partition)
                continue
            data = b"".join(lines[i:j])
            view = memoryview(data)
            try:
                while view:
                    assert self._fd is not None
                    written = os.write(self._fd, view)
                    view = view[written:]
            except OSError:
                # a full disk's cut line taken back as JsonlSink does (this process alone writes the file; the next
                # write starts a new one - before session 21 the cut line stayed at its end); the whole lines before
                # it stay, counted as written (session 37)
                done = size - len(view)
                if done and self._fd is not None:
                    kept, keep = self._keep_whole(data, done, False)
                    self._lines_done += kept
                    if keep < done:
                        self._take_back(self._fd, self._size + keep, done - keep)
                raise
            self._size += size
            self._lines_done += j - i
            i = j

    def _roll(self, partition: str) -> None:
        self._close_fd()
        folder = os.path.join(self.directory, partition)
        os.makedirs(folder, exist_ok=True)
        self.files += 1
        self.path = os.path.join(folder, f"{self._stem}-{self.files:04d}.jsonl")
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        self._fd = os.open(self.path, flags, 0o640)
        self._partition, self._size = partition, 0

    def _close_fd(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            finally:
                self._fd, self._partition = None, None

    def __repr__(self) -> str:
        return f"RollingJsonlSink({self.directory!r}, max_bytes={self.max_bytes})"
