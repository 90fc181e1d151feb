"""``configure(defer=True)``: events built on a background thread are identical to synchronous ones."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, DEFAULT_ON

import jwtobs
from jwtobs import pipeline
from jwtobs.events import ValidationEvent

from .conftest import AUD, ISS, Keys, claims


def _validate(
    tokens: list[str], keys: Keys, *, defer: bool, sinks: list[Any], clock: Any = None
) -> tuple[InMemoryMetricReader, Any]:
    """Configure (spans never sampled, an in-memory metric reader) and validate ``tokens`` with a wrapped
    ``jwt.decode``; the caller's dict is changed after each return (it owns it). Returns (reader, state)."""
    reader = InMemoryMetricReader()
    state = jwtobs.configure(
        defer=defer,
        sinks=sinks,
        fingerprint_key="k" * 16,
        clock=clock,
        tracer_provider=TracerProvider(sampler=ALWAYS_OFF),
        meter_provider=MeterProvider(metric_readers=[reader]),
        from_env=False,
    )
    decode = jwtobs.wrap(jwt.decode)
    for t in tokens:
        try:
            result = decode(t, keys.hmac, algorithms=["HS256"], audience=AUD)
            result["sub"] = "changed-after-return"  # the caller owns its dict
        except jwt.PyJWTError:
            pass
    return reader, state


def _run(defer: bool, tokens: list[str], keys: Keys, clock: Any) -> tuple[list[dict[str, Any]], int]:
    events: list[ValidationEvent] = []
    reader, _ = _validate(tokens, keys, defer=defer, sinks=[events.append], clock=clock)
    if defer:
        assert len(events) < len(tokens)  # not built on the request thread
    jwtobs.flush()
    data = reader.get_metrics_data()
    count = sum(
        p.count
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name == "jwtobs.validation.duration"
        for p in m.data.data_points
    )
    return [e.to_dict() for e in events], count


def _loss_counts(reader: Any) -> dict[str, float]:
    """The exported totals of ``jwtobs.events.dropped`` and ``jwtobs.telemetry.failures`` (an InMemoryMetricReader)."""
    data = reader.get_metrics_data()
    return {
        m.name: sum(p.value for p in m.data.data_points)
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name in ("jwtobs.events.dropped", "jwtobs.telemetry.failures")
    }


def test_deferred_events_equal_synchronous_ones(keys: Keys) -> None:
    tokens = [
        jwt.encode(claims(exp=int(time.time()) + (600 if i % 3 else -600)), keys.hmac, algorithm="HS256")
        for i in range(30)
    ]
    ticks = iter(range(10_000))
    sync, n_sync = _run(False, tokens, keys, lambda: 1_800_000_000.0 + next(ticks))
    ticks = iter(range(10_000))
    deferred, n_deferred = _run(True, tokens, keys, lambda: 1_800_000_000.0 + next(ticks))
    for a, b in zip(sync, deferred, strict=True):
        a.pop("duration_s"), b.pop("duration_s")
        assert a == b
    assert n_sync == n_deferred == 30
    assert all(e["sub_hash"] == sync[0]["sub_hash"] for e in deferred)  # hashed before the caller's change


def test_sampled_spans_are_built_with_the_request_parent(keys: Keys) -> None:
    exporter = InMemorySpanExporter()
    tp = TracerProvider(sampler=DEFAULT_ON)
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    events: list[ValidationEvent] = []
    jwtobs.configure(defer=True, tracer_provider=tp, sinks=[events.append], fingerprint_key="k" * 16, from_env=False)
    with tp.get_tracer("app").start_as_current_span("GET /invoices") as request_span:
        jwtobs.wrap(jwt.decode)(
            jwt.encode(claims(), keys.hmac, algorithm="HS256"), keys.hmac, algorithms=["HS256"], audience=AUD
        )
    assert events == []
    jwtobs.flush()
    (span,) = [s for s in exporter.get_finished_spans() if s.name.startswith("jwt.validate")]
    assert span.parent is not None and span.parent.span_id == request_span.get_span_context().span_id
    assert events[0].span_id == f"{span.context.span_id:016x}"
    assert span.start_time < span.end_time <= request_span.end_time  # type: ignore[operator]


def test_deferred_queue_is_bounded_drops_and_counts(keys: Keys, monkeypatch: Any) -> None:
    monkeypatch.setattr(pipeline._queue, "max_queued", 5)
    monkeypatch.setattr(pipeline._queue, "batch", 5)
    events: list[ValidationEvent] = []
    reader = InMemoryMetricReader()
    state = jwtobs.configure(
        defer=True,
        sinks=[events.append],
        fingerprint_key="k" * 16,
        meter_provider=MeterProvider(metric_readers=[reader]),
        from_env=False,
    )
    decode = jwtobs.wrap(jwt.decode)
    token = jwt.encode(claims(), keys.hmac, algorithm="HS256")
    with pipeline._queue.lock:  # the background builder cannot drain meanwhile
        for _ in range(20):
            assert decode(token, keys.hmac, algorithms=["HS256"], audience=AUD)["iss"] == ISS  # never blocks
        assert pipeline.queued() == 5
        assert events == []  # nothing built on the request thread
    jwtobs.flush()
    assert len(events) == 5
    assert state.telemetry.events_dropped() == 15
    assert state.telemetry.failures() == {"event_queue": 15}
    assert _loss_counts(reader) == {"jwtobs.events.dropped": 15, "jwtobs.telemetry.failures": 15}


def test_deferred_is_the_default_and_jwtobs_defer_0_is_synchronous(keys: Keys, monkeypatch: Any) -> None:
    monkeypatch.delenv("JWTOBS_DEFER")
    assert jwtobs.configure(fingerprint_key="k" * 16, from_env=False).defer is True
    monkeypatch.setenv("JWTOBS_DEFER", "0")
    assert jwtobs.configure(fingerprint_key="k" * 16, from_env=False).defer is False
    assert jwtobs.configure(fingerprint_key="k" * 16, defer=True, from_env=False).defer is True  # an argument wins


def test_guard_learns_from_accepted_tokens_when_deferred(keys: Keys) -> None:
    state = jwtobs.configure(defer=True, fingerprint_key="k" * 16, from_env=False)
    token = jwt.encode(claims(iss="https://learned.example"), keys.hmac, algorithm="HS256", headers={"kid": "k-7"})
    jwtobs.wrap(jwt.decode)(token, keys.hmac, algorithms=["HS256"], audience=AUD)
    jwtobs.flush()
    assert state.guard.issuer("https://learned.example") == "https://learned.example"
    assert state.guard.kid("k-7") == "k-7"


def test_process_exit_drains_the_queue(keys: Keys, tmp_path: Any) -> None:
    """No flush(): the at-exit handler builds and writes every waiting event before the file closes."""
    import subprocess
    import sys

    path = tmp_path / "events.jsonl"
    script = f"""
import os, time, jwt, jwtobs
os.environ.pop("JWTOBS_DEFER", None)
jwtobs.configure(events_path={str(path)!r}, fingerprint_key="k" * 16, from_env=False)
decode = jwtobs.wrap(jwt.decode)
secret = b"s" * 32
for i in range(500):
    decode(jwt.encode({{"sub": str(i), "exp": int(time.time()) + 60}}, secret, algorithm="HS256"), secret,
           algorithms=["HS256"])
"""
    env = {k: v for k, v in __import__("os").environ.items() if k != "JWTOBS_DEFER"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=120)
    lines = path.read_text().splitlines()
    assert len(lines) == 500


_EXIT_SCRIPT = """
import os, sys, time, jwt, jwtobs
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
out = open(sys.argv[1], "w")
class Spans(SpanExporter):
    def export(self, spans):
        out.write("span\\n" * len(spans)); out.flush(); return SpanExportResult.SUCCESS
class Metrics(MetricExporter):  # the final export of the provider's shutdown: the validations counted
    def __init__(self): super().__init__(preferred_temporality={})
    def export(self, data, timeout_millis=0, **kw):
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == "jwtobs.validation.duration":
                        out.write(f"measured {sum(dp.count for dp in m.data.data_points)}\\n")
        out.flush(); return MetricExportResult.SUCCESS
    def force_flush(self, timeout_millis=0): return True
    def shutdown(self, timeout_millis=0, **kw): pass
tp = TracerProvider(); tp.add_span_processor(SimpleSpanProcessor(Spans()))
mp = MeterProvider(metric_readers=[PeriodicExportingMetricReader(Metrics(), export_interval_millis=3_600_000)])
if sys.argv[2] == "configure":
    jwtobs.configure(tracer_provider=tp, meter_provider=mp, fingerprint_key="k" * 16, from_env=False)
else:  # the application installs global providers after configure(): adopted by the builder
    jwtobs.configure(fingerprint_key="k" * 16, from_env=False)
    trace.set_tracer_provider(tp); metrics.set_meter_provider(mp)
    time.sleep(1.1)  # (providers are looked up at most once a second)
decode = jwtobs.wrap(jwt.decode)
secret = b"s" * 32
for i in range(300):
    decode(jwt.encode({"sub": str(i), "exp": int(time.time()) + 60}, secret, algorithm="HS256"), secret,
           algorithms=["HS256"])
"""


@pytest.mark.parametrize("providers", ["configure", "global"])
def test_process_exit_builds_waiting_records_before_the_sdk_shuts_down(tmp_path: Any, providers: str) -> None:
    """A script that validates and exits without flush(), with SDK providers created after ``import jwtobs``
    (their shutdown is registered at exit after jwtobs's flush): every span and measurement still reaches the
    exporters, and nothing is logged. Before session 13 the providers shut down first: 0 of 300 spans, 0
    measurements, one "Processor is already shutdown" line per span."""
    import subprocess
    import sys

    out = tmp_path / "exported.txt"
    env = {k: v for k, v in __import__("os").environ.items() if k != "JWTOBS_DEFER"}
    proc = subprocess.run(
        [sys.executable, "-c", _EXIT_SCRIPT, str(out), providers], env=env, timeout=120, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert lines.count("span") == 300 and lines[-1] == "measured 300", lines[-3:]
    assert "shutdown" not in proc.stderr, proc.stderr[:300]


def test_a_sink_that_blocks_hangs_neither_flush_nor_process_exit(tmp_path: Any) -> None:
    """An application's sink that never returns (a network call without timeout): jwtobs.flush() waits at most
    pipeline.FLUSH_WAIT, warns and returns; the process exits (at-exit flush, same bound) instead of hanging
    forever; validations were never slowed. (Before, flush() called the sink itself or waited on the builder's
    lock without end: a probe killed both after 40 s.)"""
    import subprocess
    import sys

    script = """
import sys, threading, time, jwt, jwtobs
from jwtobs import pipeline
pipeline.FLUSH_WAIT = 1.0
gate = threading.Event()
def sink(record):
    gate.wait()  # never set
jwtobs.configure(sinks=[sink], fingerprint_key="k" * 16, from_env=False, defer=True)
decode = jwtobs.wrap(jwt.decode)
secret = b"s" * 32
t0 = time.monotonic()
for i in range(50):
    decode(jwt.encode({"sub": str(i), "exp": int(time.time()) + 60}, secret, algorithm="HS256"), secret,
           algorithms=["HS256"])
assert time.monotonic() - t0 < 5
t0 = time.monotonic()
jwtobs.flush()
print(f"flush {time.monotonic() - t0:.1f}", flush=True)
"""
    t0 = time.monotonic()
    env = {k: v for k, v in __import__("os").environ.items() if k != "JWTOBS_DEFER"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in ("flush 1.0", "flush 1.1", "flush 1.2"), out.stdout
    assert out.stderr.count("flush gave up after 1 s: a sink has not returned") == 2, out.stderr  # flush, exit
    assert time.monotonic() - t0 < 30


def test_replacing_a_configuration_whose_sink_blocks_is_bounded_too(tmp_path: Any) -> None:
    """configure() / reset() / exit after a blocking application sink was replaced by jwtobs's own: the builder
    may still be inside the old sink, and the flush they run waits at most FLUSH_WAIT (before: the new
    configuration had no application sink, so it waited on the builder's lock without end: a probe killed the
    process after 60 s)."""
    import subprocess
    import sys

    script = f"""
import threading, time, jwt, jwtobs
from jwtobs import config, pipeline
pipeline.FLUSH_WAIT = 1.0
gate = threading.Event()
jwtobs.configure(sinks=[lambda record: gate.wait()], fingerprint_key="k" * 16, from_env=False, defer=True)
decode = jwtobs.wrap(jwt.decode)
secret = b"s" * 32
for i in range(20):
    decode(jwt.encode({{"sub": str(i)}}, secret, algorithm="HS256"), secret, algorithms=["HS256"])
jwtobs.flush()  # gives up: the builder is inside the sink
t0 = time.monotonic()
jwtobs.configure(events_path={str(tmp_path / "e.jsonl")!r}, fingerprint_key="k" * 16, from_env=False, defer=True)
config.reset()
print(f"replaced {{time.monotonic() - t0:.0f}}", flush=True)
"""
    env = {k: v for k, v in __import__("os").environ.items() if k != "JWTOBS_DEFER"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in ("replaced 1", "replaced 2", "replaced 3"), out.stdout
    assert out.stderr.count("flush gave up after 1 s") >= 3, out.stderr  # flush, configure, reset (and exit)


def test_an_events_file_that_is_a_stalled_pipe_hangs_neither_flush_nor_exit(tmp_path: Any) -> None:
    """events_path on a FIFO whose reader stopped reading (a stuck log shipper): the writer thread blocks in
    write(); jwtobs.flush() and the exit's flush wait for it at most events.FLUSH_WAIT, warn and return (before:
    without end, holding the process at exit)."""
    import os
    import subprocess
    import sys

    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # open, never read: the pipe fills up
    try:
        script = f"""
import time, jwt, jwtobs
from jwtobs import events
events.FLUSH_WAIT = 1.0
jwtobs.configure(events_path={str(fifo)!r}, fingerprint_key="k" * 16, from_env=False, defer=True)
decode = jwtobs.wrap(jwt.decode)
secret = b"s" * 32
for i in range(3000):  # ~1.5 MB of events: far more than a pipe holds
    decode(jwt.encode({{"sub": str(i)}}, secret, algorithm="HS256"), secret, algorithms=["HS256"])
t0 = time.monotonic()
jwtobs.flush()
jwtobs.flush()
print(f"flushed {{time.monotonic() - t0:.0f}}", flush=True)
"""
        env = {k: v for k, v in os.environ.items() if k != "JWTOBS_DEFER"}
        t0 = time.monotonic()
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() in ("flushed 1", "flushed 2", "flushed 3"), out.stdout
        assert "gave up after 1 s: a write has not returned" in out.stderr, out.stderr
        assert time.monotonic() - t0 < 40
    finally:
        os.close(reader)


def test_a_sink_that_flushes_does_not_stall_the_builder() -> None:
    """A sink calling jwtobs.flush() runs on the builder thread, inside the drain that flush would wait for:
    it returns at once (before: 10 s and a "flush gave up" warning per event)."""
    import threading

    delivered: list[Any] = []

    def flushing(record: Any) -> None:
        delivered.append(record)
        jwtobs.flush()

    jwtobs.configure(sinks=[flushing], fingerprint_key="k" * 16, from_env=False, defer=True)
    decode = jwtobs.wrap(jwt.decode)
    secret = b"s" * 32
    for i in range(3):
        decode(jwt.encode({"sub": str(i)}, secret, algorithm="HS256"), secret, algorithms=["HS256"])
    t0 = time.monotonic()
    jwtobs.flush()
    assert time.monotonic() - t0 < 5 and len(delivered) == 3
    assert any(t.name == "jwtobs-events" for t in threading.enumerate())


@pytest.mark.parametrize("sink", ["events_path", "events_dir"])
def test_a_forked_child_writes_no_event_of_its_parent(tmp_path: Any, sink: str) -> None:
    """os.fork() while the JSONL sink holds built, unwritten events (up to ~1 s after each batch): the parent writes
    them, the child forgets them and writes only its own, into files of its own (a rolled directory names files by
    pid). Before: the child wrote the parent's 100 buffered events again at its exit (201 lines for 101)."""
    import os
    import subprocess
    import sys

    where = tmp_path / ("e.jsonl" if sink == "events_path" else "events")
    script = f"""
import collections, json, os, pathlib, sys, time, jwt, jwtobs
st = jwtobs.configure({sink}={str(where)!r}, fingerprint_key="k" * 16, from_env=False, defer=True)
decode = jwtobs.wrap(jwt.decode)
secret = b"s" * 32
for i in range(100):
    decode(jwt.encode({{"sub": "p", "jti": f"parent-{{i}}"}}, secret, algorithm="HS256"), secret, algorithms=["HS256"])
deadline = time.monotonic() + 10
while st.sinks[0].waiting < 100 and time.monotonic() < deadline:  # handed to the sink, not written yet
    time.sleep(0.01)
assert st.sinks[0].waiting == 100, st.sinks[0].waiting
pid = os.fork()
if pid == 0:
    decode(jwt.encode({{"sub": "c", "jti": "child"}}, secret, algorithm="HS256"), secret, algorithms=["HS256"])
    sys.exit(0)
os.waitpid(pid, 0)
jwtobs.flush()
root = pathlib.Path({str(where)!r})
files = [root] if root.is_file() else sorted(root.rglob("*.jsonl"))
lines = [json.loads(line) for f in files for line in f.read_text().splitlines()]
print(len(lines), len({{e["jti_hash"] for e in lines}}), len(files))
"""
    env = {k: v for k, v in os.environ.items() if k != "JWTOBS_DEFER"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    lines, distinct, files = map(int, out.stdout.split())
    assert (lines, distinct) == (101, 101)
    assert files == (1 if sink == "events_path" else 2)  # a rolled directory: the child's own file


class Stop(BaseException):
    """A BaseException that is not an Exception (a gevent Timeout, a CancelledError)."""


class SinkRaisingOnce:
    """A sink whose first call raises :class:`Stop`; it keeps the records of the later calls in ``got``."""

    def __init__(self) -> None:
        self.calls = 0
        self.got: list[Any] = []

    def __call__(self, record: Any) -> None:
        self.calls += 1
        if self.calls == 1:
            raise Stop
        self.got.append(record)


def test_a_sink_raising_a_base_exception_does_not_end_the_builder_thread() -> None:
    """A sink raising a BaseException that is not an Exception (a gevent Timeout, CancelledError) once: the
    builder thread warned and went on; before, it ended and no later validation was ever built."""
    import threading

    sink = SinkRaisingOnce()
    got = sink.got
    state = jwtobs.configure(sinks=[sink], fingerprint_key=b"k" * 32, from_env=False, defer=True)
    decode = jwtobs.wrap(jwt.decode)
    secret = b"s" * 32
    for i in range(3):
        decode(jwt.encode({"sub": f"u{i}", "exp": int(time.time()) + 60}, secret, algorithm="HS256"), secret,
               algorithms=["HS256"])  # fmt: skip
        jwtobs.flush()
    assert pipeline._queue.thread is not None and pipeline._queue.thread.is_alive()
    assert len(got) == 2 and threading.active_count() >= 2
    # the lost record is counted (before: 0 dropped, no failure: a sink's KeyboardInterrupt lost 100 silently)
    assert state.telemetry.events_dropped() == 1 and state.telemetry.failures() == {"sink": 1}


def test_a_clock_that_raises_loses_records_counted() -> None:
    """configure(clock=...) raising: the validation is unaffected, its record lost and counted as dropped (before:
    a failure was counted, events_dropped stayed 0)."""

    def clock() -> float:
        raise OSError("no time")

    for defer in (True, False):
        got: list[Any] = []
        state = jwtobs.configure(
            sinks=[got.append], fingerprint_key=b"k" * 32, from_env=False, defer=defer, clock=clock
        )
        secret = b"s" * 32
        for _ in range(3):
            jwtobs.wrap(jwt.decode)(jwt.encode({"sub": "u"}, secret, algorithm="HS256"), secret, algorithms=["HS256"])
        jwtobs.flush()
        assert got == [] and state.telemetry.events_dropped() == 3 and state.telemetry.failures() == {"event": 3}


@pytest.mark.parametrize("defer", [True, False])
@pytest.mark.parametrize(
    "bad",
    [time.time_ns(), time.time() * 1000, float("nan"), -1.0, "now"],
    ids=["ns", "ms", "nan", "negative", "str"],
)
def test_a_clock_giving_no_time_loses_its_record_only(defer: bool, bad: Any, tmp_path: Path) -> None:
    """A configured clock that returns no POSIX seconds (``time.time_ns``, milliseconds, NaN, a string) loses
    that validation's record, counted as a clock that raises is, and nothing else: before session 20 the event
    was built and the JSON lines sink failed on it, dropping every record of its batch (9 of 10) with a warning
    that the events file could not be written; and with every record lost, the counters were never exported."""
    calls = [0]

    def clock() -> Any:
        calls[0] += 1
        return bad if calls[0] == 3 else time.time()

    path = tmp_path / "events.jsonl"
    reader = InMemoryMetricReader()
    state = jwtobs.configure(
        events_path=str(path),
        fingerprint_key=b"k" * 32,
        from_env=False,
        defer=defer,
        clock=clock,
        meter_provider=MeterProvider(metric_readers=[reader]),
    )
    secret = b"s" * 32
    token = jwt.encode({"sub": "u", "exp": int(time.time()) + 60}, secret, algorithm="HS256")
    decode = jwtobs.wrap(jwt.decode)
    for _ in range(10):
        assert decode(token, secret, algorithms=["HS256"])["sub"] == "u"
    jwtobs.flush()
    lines = path.read_text().splitlines()
    assert len(lines) == 9 and all(json.loads(line)["outcome"] == "accepted" for line in lines)
    assert state.telemetry.events_dropped() == 1 and state.telemetry.failures() == {"event": 1}

    # every record lost (time.time_ns as the clock): the losses are exported all the same
    reader = InMemoryMetricReader()
    jwtobs.configure(
        fingerprint_key=b"k" * 32, from_env=False, defer=defer, clock=time.time_ns,
        meter_provider=MeterProvider(metric_readers=[reader]),
    )  # fmt: skip
    for _ in range(4):
        decode(token, secret, algorithms=["HS256"])
    jwtobs.flush()
    assert _loss_counts(reader) == {"jwtobs.events.dropped": 4, "jwtobs.telemetry.failures": 4}


def test_resetting_the_configuration_builds_none_from_the_environment() -> None:
    """config.reset() flushes the old state; the flush asked config.current() whether the sinks were the
    application's, which built a new state from the environment (a random fingerprint key unless one is set in
    the environment) while the builder thread ran: a configuration nobody made was then in force."""
    from jwtobs import config

    jwtobs.configure(sinks=[lambda record: None], fingerprint_key=b"k" * 32, from_env=False, defer=True)
    secret = b"s" * 32
    jwtobs.wrap(jwt.decode)(jwt.encode({"exp": int(time.time()) + 60}, secret, algorithm="HS256"), secret,
                            algorithms=["HS256"])  # fmt: skip
    jwtobs.flush()
    assert pipeline._queue.thread is not None and pipeline._queue.thread.is_alive()
    config.reset()
    assert config.installed() is None


def test_flush_hands_an_applications_sink_to_the_builder_and_still_delivers_everything(keys: Keys) -> None:
    """With an application's sink, flush() lets the builder thread call it and waits: every record is there when
    flush() returns, also while other threads keep validating."""
    import threading

    got: list[Any] = []
    jwtobs.configure(sinks=[got.append], fingerprint_key=b"k" * 32, from_env=False, defer=True)
    decode = jwtobs.wrap(jwt.decode)
    secret = b"s" * 32
    stop = threading.Event()

    def busy() -> None:
        while not stop.is_set():
            decode(jwt.encode({"sub": "bg", "exp": int(time.time()) + 60}, secret, algorithm="HS256"), secret,
                   algorithms=["HS256"])  # fmt: skip

    t = threading.Thread(target=busy)
    t.start()
    try:
        for i in range(200):
            decode(jwt.encode({"sub": f"u{i}", "exp": int(time.time()) + 60}, secret, algorithm="HS256"), secret,
                   algorithms=["HS256"])  # fmt: skip
            jwtobs.flush()
            assert len(got) >= i + 1 and got[-1].outcome == "accepted"
    finally:
        stop.set()
        t.join()


def _metric_series(sinks: list[Any], tokens: list[str], keys: Keys, monkeypatch: Any) -> tuple[Any, int, Any]:
    """Validate ``tokens`` deferred with spans never sampled: (metric series, keyed hashes made, guard)."""
    from jwtobs.fingerprint import Fingerprinter

    hashes = 0
    real_token, real_claim = Fingerprinter.token, Fingerprinter.claim

    def token(self: Fingerprinter, raw: Any) -> str:
        nonlocal hashes
        hashes += 1
        return real_token(self, raw)

    def claim(self: Fingerprinter, name: str, value: object) -> str:
        nonlocal hashes
        hashes += 1
        return real_claim(self, name, value)

    real_jti = Fingerprinter.jti

    def jti(self: Fingerprinter, value: object) -> str:
        nonlocal hashes
        hashes += 1
        return real_jti(self, value)

    monkeypatch.setattr(Fingerprinter, "token", token)
    monkeypatch.setattr(Fingerprinter, "claim", claim)
    monkeypatch.setattr(Fingerprinter, "jti", jti)
    reader, state = _validate(tokens, keys, defer=True, sinks=sinks)
    jwtobs.flush()
    data = reader.get_metrics_data()
    series = sorted(
        (m.name, tuple(sorted(p.attributes.items())), p.count, tuple(p.bucket_counts) if "expiry" in m.name else ())
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
        if m.name in ("jwtobs.validation.duration", "jwtobs.token.expiry_offset")
        for p in m.data.data_points
    )
    monkeypatch.undo()
    return series, hashes, state.guard


def test_without_sinks_or_spans_no_fingerprint_is_made_and_metrics_are_the_same(keys: Keys, monkeypatch: Any) -> None:
    now = int(time.time())
    tokens = [
        jwt.encode(
            claims(exp=now + (3600 if i % 3 else -600) - (i % 5) * 100, iss=f"https://idp{i % 2}.example"),
            keys.hmac,
            algorithm="HS256",
            headers={"kid": f"k{i % 2}"},
        )
        for i in range(40)
    ]
    events: list[ValidationEvent] = []
    with_sink, hashed, _ = _metric_series([events.append], tokens, keys, monkeypatch)
    metrics_only, not_hashed, guard = _metric_series([], tokens, keys, monkeypatch)
    assert len(events) == 40 and hashed == 40 * 3  # the token, its jti and sub
    assert not_hashed == 0  # nothing could have read them
    assert metrics_only == with_sink and sum(s[2] for s in with_sink if s[0] == "jwtobs.validation.duration") == 40
    assert guard.kid("k0") == "k0" and guard.issuer("https://idp1.example") == "https://idp1.example"  # still learns
