"""The event record and its sinks: JSONL file (buffered, rotation-safe), loggers (stdlib, structlog), env."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
import structlog

import jwtobs
from jwtobs.events import EVENT_FIELDS, JsonlSink, KeySetChange, LoggerSink, ValidationEvent, format_time

from .conftest import AUD, Keys, claims


def _event(**over: object) -> ValidationEvent:
    base = dict(
        time=1795000000.25,
        outcome="rejected",
        reason="JWT_EXPIRED",
        detail="exp",
        library="pyjwt",
        profile="billing",
        issuer='https://i"\\',
        alg="RS256",
        kid="k1",
        typ="JWT",
        client_id="c",
        token_fp="ab12-0123456789ab",
        jti_hash=None,
        sub_hash="ab12-ffffffffffff",
        tenant=None,
        iat=1,
        nbf=None,
        exp=2,
        token_bytes=500,
        duration_s=0.00012,
        trace_id=None,
        span_id=None,
        service="svc",
    )
    base.update(over)
    return ValidationEvent(**base)  # type: ignore[arg-type]


def test_json_forms_agree_and_round_trip() -> None:
    ev = _event(issuer="https://ü\u2028")
    assert json.loads(ev.to_json()) == json.loads(json.dumps(ev.to_dict()))
    d = ev.to_dict()
    assert list(d) == list(EVENT_FIELDS) and d["time"] == "2026-11-18T11:06:40.250000Z"
    back = ValidationEvent.from_dict(json.loads(ev.to_json()))
    assert back.to_dict() == d
    assert format_time(0.999) == "1970-01-01T00:00:00.999000Z"


def test_two_validations_in_one_millisecond_stay_two_records(tmp_path: Path) -> None:
    """One token validated twice within a millisecond, both taking the same time to the clock's resolution: before
    session 20 the two lines were equal (the time written to the millisecond), and the analysis - which counts a
    record written twice once - read one validation (a one-token loop at 27 a millisecond lost 7.7 % of its
    records). The time is written to the microsecond; files written with milliseconds still load."""
    pytest.importorskip("pandas")
    from jwtobs.analysis import load_events
    from jwtobs.events import encode_lines

    first, second = _event(time=1795000000.250101), _event(time=1795000000.250437)
    lines = encode_lines([first, second, first])  # (the first written twice: a file read twice)
    assert [json.loads(line)["time"] for line in lines.splitlines()] == [
        "2026-11-18T11:06:40.250101Z",
        "2026-11-18T11:06:40.250437Z",
        "2026-11-18T11:06:40.250101Z",
    ]
    path = tmp_path / "e.jsonl"
    path.write_bytes(lines)
    assert len(load_events(path)) == 2
    old = tmp_path / "old.jsonl"
    old.write_bytes(lines.replace(b"250101Z", b"250Z").replace(b"250437Z", b"251Z"))
    events = load_events(old)
    assert len(events) == 2 and events["time"].dt.microsecond.tolist() == [250000, 251000]
    assert format_time(-1.5) == "1969-12-31T23:59:58.500000Z"


def test_jsonl_sink_wakes_its_writer_once_per_batch_and_loses_nothing(tmp_path: Path) -> None:
    import threading

    sink = JsonlSink(tmp_path / "e.jsonl", max_buffer=16, flush_interval=60.0)
    sets = 0
    real_set = sink._wake.set

    def counting_set() -> None:
        nonlocal sets
        sets += 1
        real_set()

    sink._wake.set = counting_set  # type: ignore[method-assign]
    sink._start()  # the writer runs (starting it takes the lock held below)
    with sink._lock:  # the writer cannot write meanwhile: the buffer fills far past max_buffer
        for i in range(16 * 20):
            sink(_event(kid=f"k{i}"))
    assert sets <= 25  # once per batch (and every max_buffer events while the flag stays set), not 300 times
    sink.flush()
    sink.close()
    lines = (tmp_path / "e.jsonl").read_text().splitlines()
    assert [json.loads(line)["kid"] for line in lines] == [f"k{i}" for i in range(16 * 20)]

    # a writer that did not survive (a fork) with the wake flag left set is restarted within max_buffer events
    sink2 = JsonlSink(tmp_path / "f.jsonl", max_buffer=16, flush_interval=60.0)
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    sink2._thread = dead
    sink2._wake.set()
    for i in range(40):
        sink2(_event(kid=f"k{i}"))
    assert sink2._thread is not dead and sink2._thread.is_alive()
    sink2.close()
    assert len((tmp_path / "f.jsonl").read_text().splitlines()) == 40


def test_jsonl_sink_batches_and_survives_rotation(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "events.jsonl"
    sink = JsonlSink(path, max_buffer=10, flush_interval=60)
    for i in range(25):
        sink(_event(kid=f"k{i}"))
    sink.flush()
    assert len(path.read_text().splitlines()) == 25
    rotated = tmp_path / "logs" / "events.jsonl.1"
    os.rename(path, rotated)  # logrotate: move, then the writer must create a new file
    sink(_event(kid="after"))
    sink(KeySetChange(time=1795000001.0, issuer="https://i", added=("k2",), removed=("k1",), keys=1))
    sink.close()
    assert len(rotated.read_text().splitlines()) == 25
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["kid"] == "after"
    assert lines[1]["event"] == "jwks.keyset_changed" and lines[1]["added"] == ["k2"]


def test_jsonl_writer_thread_flushes_on_interval(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    sink = JsonlSink(path, flush_interval=0.05)
    sink(_event())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (path.exists() and path.read_text()):
        time.sleep(0.02)
    assert path.read_text().count("\n") == 1
    sink.close()


def test_jsonl_write_failure_is_counted_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    target = tmp_path / "dir-not-file"
    target.mkdir()
    sink = JsonlSink(target)
    sink(_event())
    with caplog.at_level(logging.WARNING, logger="jwtobs"):
        sink.flush()
    assert sink.dropped == 1 and "cannot write events" in caplog.text


def test_pending_events_are_bounded(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "e.jsonl", max_buffer=5, max_pending=5, flush_interval=60)
    sink._start = lambda: None  # type: ignore[method-assign]  # no writer: the buffer only fills
    for _ in range(20):
        sink(_event())
    assert len(sink._buffer) == 5 and sink.dropped == 15


def test_logger_sink_stdlib_and_structlog(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="jwtobs.events"):
        LoggerSink()(_event())
        LoggerSink()(_event(outcome="accepted", reason=None, detail=None))
    levels = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert levels == [
        ("WARNING", "jwt validation rejected reason=JWT_EXPIRED"),
        ("DEBUG", "jwt validation accepted reason=None"),
    ]
    assert caplog.records[0].jwtobs["kid"] == "k1"  # type: ignore[attr-defined]

    captured: list[dict[str, object]] = []

    def capture(logger: object, name: str, event_dict: dict[str, object]) -> dict[str, object]:
        captured.append(dict(event_dict, level=name))
        raise structlog.DropEvent

    log = structlog.wrap_logger(structlog.PrintLogger(), processors=[capture], wrapper_class=structlog.BoundLogger)
    LoggerSink(log)(_event())
    assert captured[0]["event"] == "jwt validation rejected" and captured[0]["reason"] == "JWT_EXPIRED"
    assert captured[0]["level"] == "warning"
    # a key-set change (JwksSource): before session 20 a TypeError (two values for structlog's "event"), counted
    # as a sink failure, so a structlog logger never saw a rotation
    change = KeySetChange(time=1795000000.0, issuer="https://i", added=("k2",), removed=("k1",), keys=1, service="s")
    LoggerSink(log)(change)
    assert captured[1]["event"] == "jwks key set changed" and captured[1]["level"] == "info"
    assert (captured[1]["added"], captured[1]["removed"], captured[1]["keys"]) == (["k2"], ["k1"], 1)


def test_events_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: Keys) -> None:
    path = tmp_path / "env-events.jsonl"
    monkeypatch.setenv("JWTOBS_EVENTS_PATH", str(path))
    monkeypatch.setenv("JWTOBS_SERVICE", "orders")
    monkeypatch.setenv("JWTOBS_FINGERPRINT_KEY", "k" * 16)
    jwtobs.config.reset()
    token = jwt.encode(claims(), keys.hmac, algorithm="HS256")
    jwtobs.wrap(jwt.decode)(token, keys.hmac, algorithms=["HS256"], audience=AUD)
    jwtobs.flush()
    (line,) = path.read_text().splitlines()
    ev = json.loads(line)
    assert ev["service"] == "orders" and ev["outcome"] == "accepted"
    assert token not in path.read_text()


def test_configure_clock_sets_event_time(keys: Keys) -> None:
    events: list[ValidationEvent] = []
    jwtobs.configure(sinks=[events.append], clock=lambda: 1_000_000.5, fingerprint_key="k" * 16, from_env=False)
    jwtobs.wrap(jwt.decode)(
        jwt.encode(claims(), keys.hmac, algorithm="HS256"), keys.hmac, algorithms=["HS256"], audience=AUD
    )
    assert events[0].time == 1_000_000.5


def test_jsonl_sink_writes_records_that_arrive_after_close(tmp_path: Path) -> None:
    """A validation that read the configuration just before configure() replaced it hands its record to the
    old sink after close(): it is written then (it used to wait in a buffer no writer would ever flush)."""
    path = tmp_path / "e.jsonl"
    sink = JsonlSink(path, flush_interval=60)
    sink(_event(kid="before"))
    sink.close()
    sink(_event(kid="late-call"))
    sink.extend([_event(kid="late-batch-1"), _event(kid="late-batch-2")])
    assert [json.loads(line)["kid"] for line in path.read_text().splitlines()] == [
        "before",
        "late-call",
        "late-batch-1",
        "late-batch-2",
    ]
    assert sink.waiting == 0 and sink.dropped == 0


@pytest.mark.parametrize("defer", [True, False])
def test_configure_racing_validations_loses_no_event(tmp_path: Path, keys: Keys, defer: bool) -> None:
    """Threads validating while the main thread reconfigures 20 times, each time to a new events file: every
    validation's event is in exactly one of the files."""
    import threading

    tokens = [jwt.encode(claims(jti=f"j{i}"), keys.hmac, "HS256") for i in range(200)]

    def validate(token: str) -> object:
        return jwt.decode(token, keys.hmac, algorithms=["HS256"], audience=AUD)

    wrapped = jwtobs.wrap(validate, library="pyjwt")
    stop = threading.Event()
    counts = [0] * 4

    def work(n: int) -> None:
        i = 0
        while not stop.is_set() and i < 20_000:  # bounded
            wrapped(tokens[i % len(tokens)])
            i += 1
        counts[n] = i

    paths = [tmp_path / f"e{k}.jsonl" for k in range(20)]
    jwtobs.configure(events_path=paths[0], defer=defer, from_env=False, fingerprint_key=b"k" * 32)
    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        for p in paths[1:]:
            time.sleep(0.02)
            jwtobs.configure(events_path=p, defer=defer, from_env=False, fingerprint_key=b"k" * 32)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    jwtobs.flush()
    jwtobs.configure(from_env=False)  # closes the last file's sink
    written = sum(len(p.read_text().splitlines()) for p in paths if p.exists())
    assert written == sum(counts) > 0


_FILLING_DISK = r"""
import os, resource, sys, time, warnings
warnings.simplefilter("ignore")
import jwt, jwtobs
path, defer = sys.argv[1], sys.argv[2] == "1"
jwtobs.configure(events_path=path, defer=defer, fingerprint_key=b"f" * 32, from_env=False)
decode = jwtobs.wrap(jwt.decode)
key = b"k" * 32
token = jwt.encode({"sub": "u", "exp": int(time.time()) + 600}, key, algorithm="HS256")
def validate(n):
    for _ in range(n):
        decode(token, key, algorithms=["HS256"])
    jwtobs.flush()
validate(20)
# the disk fills: room for about three more lines (the file size limit: the kernel writes what fits, then EFBIG)
resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(path) + 1200, resource.RLIM_INFINITY))
validate(20)
resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))  # space again
validate(20)
"""


def _fill_the_disk(script: str, path: Path, defer: bool) -> str:
    """Run ``script`` (a process whose disk fills up, then has room again) writing to ``path``; its stderr."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", script, str(path), "1" if defer else "0"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


@pytest.mark.parametrize("defer", [True, False])
def test_a_write_cut_by_a_full_disk_leaves_no_broken_line(tmp_path: Path, defer: bool) -> None:
    """A disk that fills up in the middle of a batch: the kernel writes what fits, then the write fails. Before
    session 20 the cut line stayed in the file and the next batch, once there was room again, was appended to
    it: one broken line in the middle, and ``jwtobs report`` refused the whole file ("not a jwtobs events file").
    The part written is taken back (its records are the ones counted as dropped); the file stays whole lines."""
    path = tmp_path / "events.jsonl"
    assert "cannot write events" in _fill_the_disk(_FILLING_DISK, path, defer)  # the failure was real, said once
    data = path.read_bytes()
    assert data.endswith(b"\n")
    lines = [json.loads(line) for line in data.splitlines()]  # every line whole
    assert len(lines) >= 40 and {e["outcome"] for e in lines} == {"accepted"}
    pytest.importorskip("pandas")
    from jwtobs.analysis import load_events
    from jwtobs.analysis.aggregate import RECORD_KEY

    # the report reads the file; it counts once the records equal in every field that tells two validations apart
    # (one token validated twice in a millisecond, both taking the same time to the clock's resolution: this loop
    # validates one token ~30 times a millisecond)
    distinct = {tuple(e.get(k) for k in RECORD_KEY) for e in lines}
    assert len(load_events(path)) == len(distinct)


_FILLING_DISK_ROLLING = _FILLING_DISK.replace("events_path=path", "events_dir=path").replace(
    "os.path.getsize(path)", "sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)"
)


@pytest.mark.parametrize("defer", [True, False])
def test_a_write_cut_by_a_full_disk_in_the_rolling_directory_leaves_whole_lines(tmp_path: Path, defer: bool) -> None:
    """The same filling disk under ``events_dir``: before session 21 the cut line stayed at the end of the file
    the failure closed (the next write starts a new file, so nothing was glued to it: the readers skip it, a log
    shipper waits for its newline forever). It is taken back: every file ends with a whole line."""
    root = tmp_path / "events"
    assert "could not write events" in _fill_the_disk(_FILLING_DISK_ROLLING, root, defer)  # the failure was real
    files = sorted(root.rglob("*.jsonl"))
    assert len(files) >= 2  # the failure closed a file, the next write started another
    lines = []
    for f in files:
        data = f.read_bytes()
        if data:
            assert data.endswith(b"\n"), f
            lines += [json.loads(line) for line in data.splitlines()]  # every line whole
    assert len(lines) >= 40 and {e["outcome"] for e in lines} == {"accepted"}


def test_a_rolling_write_that_fails_in_its_second_file_counts_the_first_files_lines_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One flush whose lines fill more than one file: the first file's lines are on disk when the second file's
    write fails. Before session 21 all of them were counted as dropped (``written + dropped`` overstated the
    loss); now ``written`` equals the lines in the files."""
    import errno

    from jwtobs import rolling as rolling_module
    from jwtobs.rolling import RollingJsonlSink

    sink = RollingJsonlSink(tmp_path / "ev", max_bytes=3 * len(_event().to_json()) + 10, flush_interval=60.0)
    real_write = os.write
    calls = [0]

    def write(fd: int, data: Any) -> int:
        calls[0] += 1
        if calls[0] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(rolling_module.os, "write", write)
    for i in range(7):
        sink(_event(jti_hash=f"j-{i}"))
    sink.flush()
    sink.close()
    on_disk = [
        json.loads(line) for f in sorted((tmp_path / "ev").rglob("*.jsonl")) for line in f.read_bytes().splitlines()
    ]
    assert len(on_disk) == 3
    assert (sink.written, sink.dropped) == (3, 4)


def test_a_file_left_with_a_cut_line_by_a_killed_process_is_appended_on_a_new_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A process killed mid-write (or stopped by a full disk without taking the bytes back) leaves the file ending
    in a cut line; the next process's sink writes a newline first, so its own first line stays whole (before
    session 26 it was glued to the cut one and lost with it). ``load_events`` then reads every whole line and
    says it left one out."""
    import jwtobs.analysis as A

    path = tmp_path / "e.jsonl"
    first = JsonlSink(path, flush_interval=60.0)
    for i in range(150):
        first(_event(jti_hash=f"old-{i}", token_fp=f"fp-old-{i}"))
    first.close()
    whole = path.read_bytes()
    path.write_bytes(whole + whole.splitlines(keepends=True)[0][:40])  # killed in the middle of its next line
    sink = JsonlSink(path, flush_interval=60.0)
    for i in range(3):
        sink(_event(jti_hash=f"new-{i}", token_fp=f"fp-new-{i}"))
    sink.close()
    lines = path.read_bytes().split(b"\n")
    assert len(lines[150]) == 40 and [json.loads(ln)["jti_hash"] for ln in lines[151:-1]] == ["new-0", "new-1", "new-2"]
    with caplog.at_level(logging.WARNING, logger="jwtobs.analysis"):
        df = A.load_events(path)
    assert len(df) == 153
    assert any(f"{path}: 1 of 154 lines are not JSON objects" in r.getMessage() for r in caplog.records)
    again = JsonlSink(path, flush_interval=60.0)  # a file that ends a line: nothing added
    again(_event(jti_hash="last"))
    again.close()
    after = path.read_bytes().split(b"\n")
    assert after[:-2] == lines[:-1] and json.loads(after[-2])["jti_hash"] == "last" and after[-1] == b""


def test_a_cut_line_that_cannot_be_taken_back_is_ended(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the cut part cannot be removed (the truncation fails, or another process appended meanwhile), the next
    write starts with a newline: only the cut line is broken, the lines after it are whole (not glued to it)."""
    import errno

    from jwtobs import events as ev_module

    path = tmp_path / "e.jsonl"
    sink = JsonlSink(path, flush_interval=60.0)
    real_write = os.write
    calls = [0]

    def write(fd: int, data: Any) -> int:
        calls[0] += 1
        if calls[0] == 1:
            return real_write(fd, bytes(data[:50]))  # what fits (a short write, as the kernel does) ...
        if calls[0] == 2:
            raise OSError(errno.ENOSPC, "No space left on device")  # ... then the disk is full
        return real_write(fd, data)

    def no_truncate(fd: int, length: int) -> None:
        raise OSError(errno.EPERM, "not permitted")

    monkeypatch.setattr(ev_module.os, "write", write)
    monkeypatch.setattr(ev_module.os, "ftruncate", no_truncate)
    for i in range(3):
        sink(_event(jti_hash=f"cut-{i}"))
    sink.flush()
    for i in range(3):
        sink(_event(jti_hash=f"kept-{i}"))
    sink.flush()
    sink.close()
    lines = path.read_bytes().split(b"\n")
    assert len(lines[0]) == 50 and lines[-1] == b""  # the cut line alone, ended
    assert [json.loads(line)["jti_hash"] for line in lines[1:-1]] == ["kept-0", "kept-1", "kept-2"]
    assert (sink.written, sink.dropped) == (3, 3)


def test_a_file_another_writer_is_appending_to_gets_no_empty_line(tmp_path: Path) -> None:
    """Several processes (gunicorn workers) share one events file: a sink that opens it while another process's
    batch of several pages is half written sees it end in the middle of a line. That writer completes its line a
    moment later; the sink must not take it for a cut line and end it with a newline of its own, which made an
    empty line between the two writers' lines (a JSONL reader's ``json.loads('')`` failed; session 27's CI)."""
    import threading

    path = tmp_path / "e.jsonl"
    line = json.dumps({"schema": 1, "event": "other-worker", "pad": "x" * 9000}).encode() + b"\n"
    path.write_bytes(line)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(fd, line[:4096])  # the other worker's first page is in, the rest follows in 10 ms
    rest = threading.Timer(0.01, lambda: os.write(fd, line[4096:]))
    rest.start()
    try:
        sink = JsonlSink(path, flush_interval=60.0)
        sink(_event(jti_hash="mine"))
        sink.close()
    finally:
        rest.join()
        os.close(fd)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(lines[:-1]), [ln[:40] for ln in lines]
    assert [json.loads(ln).get("jti_hash") for ln in lines[:-1]] == [None, None, "mine"]
