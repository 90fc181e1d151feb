"""Session 38's probe of three failure modes left open: an exporter that blocks under the SDK's
``SimpleSpanProcessor``, an ``events_dir`` sink made while the process had no file descriptor left, and daemon threads
that go on validating after the flush at exit.

Real HS256 tokens signed with PyJWT and keys generated here, real ``jwt.decode`` inside ``jwtobs.wrap``, the real
OpenTelemetry SDK, real files and processes (resource limits set in a child). Every wait is bounded. Each test but
the two marked as guards failed before session 38 (see docs/core.md for the behaviour before)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import jwt
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

import jwtobs
from jwtobs import config, pipeline

_ROOT = str(Path(__file__).resolve().parents[2])

#: the child scripts' tokens: a key made per run; ``n`` (copied to the event's ``tenant``) numbers each token
_TOKENS = """
import os, sys, time, jwt, jwtobs
KEY = os.urandom(32)
decode = jwtobs.wrap(jwt.decode)
def token(i):
    return jwt.encode({"sub": "alice", "n": f"t{i}", "exp": int(time.time()) + 300}, KEY, algorithm="HS256")
def run(n):
    for i in range(n):
        assert decode(token(i), KEY, algorithms=["HS256"])["sub"] == "alice"
"""


def _child(
    tmp_path: Path, script: str, *args: str, timeout: float = 60
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run ``script`` (after :data:`_TOKENS`) in a fresh interpreter without ``JWTOBS_*`` variables; returns the
    result and the seconds it took."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTOBS_")}
    env["PYTHONPATH"] = _ROOT + os.pathsep + env.get("PYTHONPATH", "")
    main = tmp_path / "child_main.py"
    main.write_text(_TOKENS + textwrap.dedent(script))
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, str(main), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    return result, time.monotonic() - started


def _lines(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes() if path.exists() else b""
    assert not data or data.endswith(b"\n"), "a cut line was left in the file"
    return [json.loads(line) for line in data.splitlines()]


# -- 1. an exporter that blocks under the SDK's SimpleSpanProcessor -------------------------------------------------
class _BlockingExporter(SpanExporter):
    """Exports once ``release`` is set (each export waits at most ``limit`` seconds)."""

    def __init__(self, limit: float = 30.0) -> None:
        self.release = threading.Event()
        self.limit = limit
        self.exported: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait(self.limit)
        self.exported.extend(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


@pytest.fixture
def blocked() -> Iterator[tuple[_BlockingExporter, TracerProvider]]:
    exporter = _BlockingExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield exporter, tp
    finally:
        exporter.release.set()
        config.reset()
        tp.shutdown()


def _wait_for_lines(path: Path, n: int, limit: float = 5.0) -> int:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        got = len(_lines(path))
        if got >= n:
            return got
        time.sleep(0.05)
    return len(_lines(path))


def test_an_exporter_that_blocks_does_not_hold_the_events_file(
    tmp_path: Path, blocked: tuple[_BlockingExporter, TracerProvider]
) -> None:
    """While each export blocks, the 300 events reach the file within 5 s (the JSONL writer wakes each second), each
    naming its span; once the exporter answers, every span is exported with the validation's own times. Before:
    none in the file (the builder was inside the first export)."""
    exporter, tp = blocked
    path = tmp_path / "events.jsonl"
    jwtobs.configure(events_path=path, tracer_provider=tp, fingerprint_key="k" * 16, defer=True, from_env=False)
    key = os.urandom(32)
    decode = jwtobs.wrap(jwt.decode)
    for i in range(300):
        token = jwt.encode({"sub": "alice", "n": i, "exp": int(time.time()) + 300}, key, algorithm="HS256")
        assert decode(token, key, algorithms=["HS256"])["n"] == i
    assert _wait_for_lines(path, 300) == 300
    assert not exporter.exported  # (the first export still blocks)
    exporter.release.set()
    jwtobs.flush()
    events = _lines(path)
    assert len(exporter.exported) == 300
    assert {e["span_id"] for e in events} == {f"{s.context.span_id:016x}" for s in exporter.exported}
    for span in exporter.exported:
        assert span.end_time is not None and span.start_time is not None and 0 < span.end_time - span.start_time < 1e9


def test_spans_waiting_for_a_blocked_exporter_are_bounded_and_counted(
    tmp_path: Path, blocked: tuple[_BlockingExporter, TracerProvider], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spans wait for a blocked exporter at most ``MAX_SPANS_WAITING`` (here 50): the next ones are dropped and
    counted under ``span_queue``, the events all written. Before: no bound (no such component)."""
    monkeypatch.setattr(pipeline, "MAX_SPANS_WAITING", 50)
    exporter, tp = blocked
    path = tmp_path / "events.jsonl"
    state = jwtobs.configure(events_path=path, tracer_provider=tp, fingerprint_key="k" * 16, defer=True, from_env=False)
    key = os.urandom(32)
    decode = jwtobs.wrap(jwt.decode)
    for i in range(300):
        decode(jwt.encode({"n": i}, key, algorithm="HS256"), key, algorithms=["HS256"])
    assert _wait_for_lines(path, 300) == 300
    dropped = state.telemetry.failures().get("span_queue", 0)
    assert 300 - 50 - 1 <= dropped <= 300 - 50  # (the span being exported left the queue)
    exporter.release.set()
    jwtobs.flush()
    assert len(exporter.exported) == 300 - dropped
    assert state.telemetry.events_dropped() == 0  # the events are all written: only spans were dropped


def test_exit_with_an_exporter_that_blocks_writes_every_event_within_the_flush_wait(tmp_path: Path) -> None:
    """A script whose exporter blocks 30 s per export validates 300 tokens and exits without ``flush()``: the 300
    events are in the file 3 s later and at exit, which waits ``FLUSH_WAIT`` (10 s) for the spans, then warns.
    Before: none in the file, at 3 s nor at exit (the file was never created)."""
    path = tmp_path / "events.jsonl"
    result, took = _child(
        tmp_path,
        """
        import threading
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
        class Blocking(SpanExporter):
            def export(self, spans):
                threading.Event().wait(30)
                return SpanExportResult.SUCCESS
        tp = TracerProvider()
        tp.add_span_processor(SimpleSpanProcessor(Blocking()))
        jwtobs.configure(events_path=sys.argv[1], tracer_provider=tp, fingerprint_key="k" * 16, from_env=False)
        run(300)
        time.sleep(3)
        print(open(sys.argv[1], "rb").read().count(b"\\n") if os.path.exists(sys.argv[1]) else 0, flush=True)
        """,
        str(path),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["300"]
    assert len(_lines(path)) == 300
    assert took < 3 + pipeline.FLUSH_WAIT + 8  # (interpreter start, 300 signatures, the 3 s sleep, one wait)
    assert "a span processor has not returned (300 spans" in result.stderr


# -- 2. an events_dir sink made while no file descriptor was left ---------------------------------------------------
def test_an_events_dir_made_without_descriptors_writes_once_they_are_back(tmp_path: Path) -> None:
    """``configure(events_dir=...)`` with every descriptor taken (``RLIMIT_NOFILE`` 64, all open): 9 validations
    dropped and counted, 500 more while still none is free cost a handful of attempts to make the sink (not one per
    record); then the descriptors are closed, and once the retry wait is over (a flush) the next 20 are written. Before:
    the sink stayed unavailable, 0 of the 20 written."""
    directory = tmp_path / "events"
    result, _ = _child(
        tmp_path,
        """
        import glob, resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        held = []
        try:
            while len(held) < 4096:
                held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            pass
        state = jwtobs.configure(events_dir=sys.argv[1], fingerprint_key="k" * 16, from_env=False, defer=False)
        (sink,) = state.sinks
        run(9)
        jwtobs.flush()
        before = state.telemetry.events_dropped()
        run(500)  # while no descriptor is free, as fast as they come
        storm = getattr(sink, "attempts", -1)
        for fd in held:
            os.close(fd)
        deadline = time.monotonic() + 12  # (the longest retry wait is 5 s)
        while getattr(sink, "_sink", None) is None and time.monotonic() < deadline:
            jwtobs.flush()
            time.sleep(0.1)
        dropped = state.telemetry.events_dropped()
        run(20)
        jwtobs.flush()
        files = glob.glob(os.path.join(sys.argv[1], "**", "*.jsonl"), recursive=True)
        lines = sum(open(f, "rb").read().count(b"\\n") for f in files)
        print(before, storm, lines, state.telemetry.events_dropped() - dropped)
        """,
        str(directory),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    before, storm, lines, dropped_after = (int(x) for x in result.stdout.split())
    assert before == 9
    assert 1 <= storm <= 4  # attempts within the first fraction of a second: not one per record
    assert lines == 20 and dropped_after == 0
    assert "writing events under" in result.stderr


def test_an_events_path_recovers_after_the_descriptors_run_out_at_a_write(tmp_path: Path) -> None:
    """Guard (passed before): a JSONL file reopened while no descriptor is free (rotated away, ``RLIMIT_NOFILE``
    below every free number) drops that batch and counts it; once the limit is back, the next batch is written."""
    path = tmp_path / "events.jsonl"
    result, _ = _child(
        tmp_path,
        """
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        state = jwtobs.configure(events_path=sys.argv[1], fingerprint_key="k" * 16, from_env=False, defer=False)
        run(5)
        jwtobs.flush()
        os.rename(sys.argv[1], sys.argv[1] + ".1")
        resource.setrlimit(resource.RLIMIT_NOFILE, (3, hard))
        run(7)
        jwtobs.flush()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        run(11)
        jwtobs.flush()
        print(state.telemetry.events_dropped())
        """,
        str(path),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["7"]
    assert len(_lines(path)) == 11 and len(_lines(Path(str(path) + ".1"))) == 5


# -- 3. daemon threads validating after the flush at exit -----------------------------------------------------------
_DAEMON = """
import atexit, threading
jwtobs.configure(events_path=sys.argv[1], tenant_claim="n", fingerprint_key="k" * 16, from_env=False{extra})
ledger = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND)
tokens = [token(i) for i in range(4000)]
def validate():
    for i, t in enumerate(tokens):
        decode(t, KEY, algorithms=["HS256"])
        os.write(ledger, b"%d\\n" % i)  # after the call returned: the validation is done
        time.sleep(0.0005)
def after_flush():  # an application's own exit handler (a pool closing), run after jwtobs's flush at exit
    with open(sys.argv[3], "w") as f:
        f.write(str(os.fstat(ledger).st_size))
    time.sleep(0.5)
threading.Thread(target=validate, daemon=True).start()
atexit.register(after_flush)
time.sleep(0.3)
"""


def test_validations_of_daemon_threads_after_the_exit_flush_are_written(tmp_path: Path) -> None:
    """A daemon thread validates on while an exit handler of the application takes 0.5 s after jwtobs's flush: every
    validation whose call returned is in the file, those after the flush included, in whole lines. Before: those
    made after the flush were lost, counted nowhere (717 of 1458 in a probe)."""
    path, ledger, mark = tmp_path / "events.jsonl", tmp_path / "ledger", tmp_path / "mark"
    result, took = _child(tmp_path, _DAEMON.format(extra=""), str(path), str(ledger), str(mark))
    assert result.returncode == 0, result.stderr[-2000:]
    done = [int(x) for x in ledger.read_text().split()]
    at_flush = ledger.read_bytes()[: int(mark.read_text())].count(b"\n")
    assert len(done) > at_flush + 50  # the thread went on validating after the flush
    written = {int(e["tenant"][1:]) for e in _lines(path)}
    assert set(done) - written == set()
    assert took < 20


def test_a_sink_that_blocks_after_the_exit_flush_does_not_hold_the_exit(tmp_path: Path) -> None:
    """Guard: a record made after the flush at exit is handed to the sinks on the daemon thread that made it, so an
    application sink that blocks there (30 s) holds that thread, not the exit (within 10 s)."""
    path, ledger, mark = tmp_path / "events.jsonl", tmp_path / "ledger", tmp_path / "mark"
    sink = """, sinks=[lambda r: os.path.exists(sys.argv[3]) and threading.Event().wait(30)]"""
    result, took = _child(tmp_path, _DAEMON.format(extra=sink), str(path), str(ledger), str(mark))
    assert result.returncode == 0, result.stderr[-2000:]
    assert took < 10
