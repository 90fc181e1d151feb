"""Fast loading (pyarrow) and its bad input; the rolling, Hive-partitioned event sink."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import jwtobs.analysis as A
from jwtobs.analysis import load
from jwtobs.analysis.load import EventsError
from jwtobs.events import JsonlSink, KeySetChange, ValidationEvent
from jwtobs.rolling import RollingJsonlSink

T0 = 1_793_491_200.0  # 2026-11-01T00:00:00Z


def event(
    t: float, i: int, *, outcome: str = "accepted", reason: str | None = None, schema: int = 1
) -> ValidationEvent:
    return ValidationEvent(
        time=t,
        outcome=outcome,  # type: ignore[arg-type]
        reason=reason,
        detail=None,
        library="pyjwt",
        profile="billing-api",
        issuer="https://issuer.test",
        alg="RS256",
        kid="k1",
        typ="at+jwt",
        client_id=f"client-{i % 7}",
        token_fp=f"fp{i:06d}",
        jti_hash=f"j{i:06d}",
        sub_hash=f"s{i % 13}",
        tenant=None,
        iat=int(t) - 60,
        nbf=None,
        exp=int(t) + 600,
        token_bytes=800,
        duration_s=0.0004,
        trace_id=None,
        span_id=None,
        service="billing",
        schema=schema,
    )


def write(path: Path, events: list[ValidationEvent | KeySetChange], tail: str = "") -> Path:
    path.write_text("".join(e.to_json() + "\n" for e in events) + tail)
    return path


@pytest.fixture()
def jsonl(tmp_path: Path) -> Path:
    evs: list[ValidationEvent | KeySetChange] = [event(T0 + i, i) for i in range(200)]
    evs.insert(50, KeySetChange(T0 + 50.5, "https://issuer.test", ("k2",), (), 2))
    evs.append(event(T0 + 300, 300, outcome="rejected", reason="JWT_EXPIRED"))
    return write(tmp_path / "events.jsonl", evs)


@pytest.mark.parametrize("duckdb_reader", [True, False], ids=["duckdb-reader", "pyarrow-reader"])
def test_jsonl_loads_with_the_documented_dtypes(
    jsonl: Path, duckdb_reader: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load, "USE_DUCKDB", duckdb_reader)
    df = A.load_events(jsonl)
    assert len(df) == 201  # the key-set change line is not a validation
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"
    assert df["time"].iloc[0] == pd.Timestamp(T0, unit="s", tz="UTC")
    assert isinstance(df["reason"].dtype, pd.CategoricalDtype) and str(df["exp"].dtype) == "Int64"
    assert isinstance(df["token_fp"].dtype, pd.StringDtype) and df["token_fp"].iloc[3] == "fp000003"
    assert df["nbf"].isna().all() and df["schema"].eq(1).all()
    assert df.iloc[-1]["reason"] == "JWT_EXPIRED"
    assert len(A.load_keyset_changes(jsonl)) == 1


def test_both_jsonl_readers_give_the_same_frame(jsonl: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    by_duckdb = A.load_events(jsonl)
    monkeypatch.setattr(load, "USE_DUCKDB", False)
    pd.testing.assert_frame_equal(by_duckdb, A.load_events(jsonl))


def test_events_out_of_order_and_missing_optional_fields_are_normalised(tmp_path: Path) -> None:
    lines = [
        {"time": "2026-11-01T00:00:05Z", "outcome": "accepted", "library": "pyjwt", "profile": "p"},
        {"schema": 1, "time": "2026-11-01T00:00:01.250Z", "outcome": "rejected", "reason": "JWT_MALFORMED"},
    ]
    (tmp_path / "e.jsonl").write_text("".join(json.dumps(d) + "\n" for d in lines))
    df = A.load_events(tmp_path / "e.jsonl")
    assert df["reason"].tolist()[0] == "JWT_MALFORMED" and df["time"].is_monotonic_increasing
    assert df["schema"].tolist() == [1, 1] and df["token_bytes"].tolist() == [0, 0]


def test_a_torn_last_line_is_tolerated_a_complete_one_kept(jsonl: Path) -> None:
    whole = jsonl.read_text()
    jsonl.write_text(whole + '{"schema":1,"time":"2026-11-01T00:10')
    assert len(A.load_events(jsonl)) == 201
    last = event(T0 + 400, 400).to_json()
    jsonl.write_text(whole + last)  # valid, just without its newline
    assert len(A.load_events(jsonl)) == 202


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json at all\n", "not a jwtobs events file"),
        ('{"schema":1,"time":"2026-11-01T00:00:00Z","outcome":"accepted"}\ngarbage\n{"schema":1}\n', "not a jwtobs"),
        ('{"schema":1,"time":"2026-11-01T00:00:00Z","outcome":"accepted","exp":"soon"}\n', "not a jwtobs"),
        ('{"schema":1,"time":"yesterday","outcome":"accepted"}\n', "bad event time|not a jwtobs events file"),
        ("2026-11-01 12:00:00 INFO GET /health 200\n", "not a jwtobs events file"),
    ],
)
@pytest.mark.parametrize("duckdb_reader", [True, False], ids=["duckdb-reader", "pyarrow-reader"])
def test_corrupt_jsonl_is_one_clear_error(
    tmp_path: Path, content: str, message: str, duckdb_reader: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load, "USE_DUCKDB", duckdb_reader)
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(EventsError, match=message) as err:
        A.load_events(path)
    text = str(err.value)
    assert str(path) in text and "\n" not in text and "Traceback" not in text


def test_future_schema_version_is_refused_naming_the_file(tmp_path: Path, jsonl: Path) -> None:
    shutil.copy(jsonl, tmp_path / "a.jsonl")
    write(tmp_path / "b.jsonl", [event(T0 + 1000 + i, i, schema=2) for i in range(5)])
    jsonl.unlink()
    with pytest.raises(EventsError, match=r"b\.jsonl: event schema version 2; this jwtobs reads 1"):
        A.load_events(tmp_path)


def test_parquet_corrupt_truncated_or_of_another_type_is_refused(tmp_path: Path, jsonl: Path) -> None:
    df = A.load_events(jsonl)
    good = tmp_path / "d" / "date=2026-11-01" / "a.parquet"
    good.parent.mkdir(parents=True)
    df.to_parquet(good)
    assert A.load_events(tmp_path / "d")["token_fp"].equals(df["token_fp"])
    truncated = good.with_name("b.parquet")
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(EventsError, match=r"b\.parquet: unreadable Parquet file"):
        A.load_events(tmp_path / "d")
    truncated.unlink()
    other = pa.table({"time": pa.array([int(T0)], pa.timestamp("s", tz="UTC")), "exp": ["tomorrow"]})
    pq.write_table(other, good.with_name("c.parquet"))
    with pytest.raises(EventsError, match=r"c\.parquet: column 'exp' is string"):
        A.load_events(tmp_path / "d")


@pytest.mark.parametrize("duckdb_reader", [True, False], ids=["duckdb-reader", "pyarrow-reader"])
def test_gzip_compressed_jsonl_is_read_like_the_plain_file(
    tmp_path: Path, jsonl: Path, monkeypatch: pytest.MonkeyPatch, duckdb_reader: bool
) -> None:
    """Rotated and compressed events files (logrotate's ``events.jsonl.1``, ``events.jsonl-20261101.gz``) hold
    the same events and key-set changes as the plain file, for both readers, the DuckDB engine and ``jwtobs
    report``; a truncated, corrupt or not-gzip ``.gz`` is one clear error."""
    from jwtobs.analysis import duck

    monkeypatch.setattr(load, "USE_DUCKDB", duckdb_reader)
    plain = A.load_events(jsonl)
    changes = A.load_keyset_changes(jsonl)
    d = tmp_path / "rotated"
    (d / "date=2026-11-01").mkdir(parents=True)
    raw = jsonl.read_bytes()
    third = raw.index(b"\n", len(raw) // 3) + 1
    half = raw.index(b"\n", len(raw) // 2) + 1
    (d / "date=2026-11-01" / "events.jsonl-20261101.gz").write_bytes(gzip.compress(raw[:third]))
    (d / "events.jsonl.1").write_bytes(raw[third:half])
    (d / "events.jsonl").write_bytes(raw[half:])
    (d / "events.jsonl.bak").write_bytes(b"not events\n")  # (not a rotation's name: left alone)
    for source in (d, d / "date=2026-11-01" / "events.jsonl-20261101.gz"):
        got = A.load_events(source)
        assert len(got) == (len(plain) if source == d else got["time"].size) > 0
    both = A.load_events(d).sort_values("time", kind="stable").reset_index(drop=True)
    assert both["token_fp"].equals(plain["token_fp"]) and both["time"].equals(plain["time"])
    assert A.load_keyset_changes(d)["added"].tolist() == changes["added"].tolist() == [["k2"]]
    assert duck.keyset_changes(d)["added"].tolist() == [["k2"]]
    assert duck.aggregate(d).counts["count"].sum() == len(plain)
    run = subprocess.run(
        [sys.executable, "-m", "jwtobs", "report", str(d), "--out", str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0 and f"{len(plain)} validations" in run.stdout, run.stderr
    good = gzip.compress(raw)
    bad = {
        "truncated": good[: len(good) // 2],
        "corrupt": good[:40] + bytes(range(256)) * 4 + good[40 + 1024 :],
        "not-gzip": raw,
    }
    for name, data in bad.items():
        f = tmp_path / name / "events.jsonl.gz"
        f.parent.mkdir()
        f.write_bytes(data)
        for read in (A.load_events, A.load_keyset_changes):
            with pytest.raises(EventsError, match=r"events\.jsonl\.gz: unreadable gzip file \(") as err:
                read(f.parent)
            assert "\n" not in str(err.value)
        run = subprocess.run(
            [sys.executable, "-m", "jwtobs", "report", str(f.parent), "--out", str(tmp_path / "x.html")],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 2 and run.stdout == "", name
        assert run.stderr.startswith(f"jwtobs report: {f}: unreadable gzip file (") and run.stderr.count("\n") == 1
        assert not (tmp_path / "x.html").exists()


# -- the rolling sink ----------------------------------------------------------------------------------------
def test_rolling_sink_partitions_by_event_hour_and_rolls_by_size(tmp_path: Path) -> None:
    sink = RollingJsonlSink(tmp_path / "ev", max_bytes=40_000, flush_interval=60)
    n = 0
    for i in range(3 * 360):  # three hours, one event every 10 s
        sink(event(T0 + 10 * i, i))
        n += 1
        if i % 100 == 0:
            sink(KeySetChange(T0 + 10 * i, "https://issuer.test", (f"k{i}",), (), 2))
            sink.flush()
    sink.close()
    parts = sorted(p.relative_to(tmp_path / "ev").parent.as_posix() for p in (tmp_path / "ev").rglob("*.jsonl"))
    assert sorted(set(parts)) == ["date=2026-11-01/hour=00", "date=2026-11-01/hour=01", "date=2026-11-01/hour=02"]
    sizes = [p.stat().st_size for p in (tmp_path / "ev").rglob("*.jsonl")]
    assert len(sizes) > 3 and max(sizes) <= 40_000  # rolled by size inside each hour
    assert sink.files == len(sizes) and sink.written == n + 11 and sink.dropped == 0
    df = A.load_events(tmp_path / "ev")
    assert len(df) == n and df["time"].is_monotonic_increasing
    assert df["token_fp"].tolist() == [f"fp{i:06d}" for i in range(n)]
    assert len(A.load_keyset_changes(tmp_path / "ev")) == 11


def test_rolling_sink_late_events_go_to_their_own_hour(tmp_path: Path) -> None:
    sink = RollingJsonlSink(tmp_path, flush_interval=60)
    sink(event(T0 + 3600 + 5, 1))
    sink(event(T0 + 3599, 2))  # late: belongs to hour 00
    sink.close()
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.jsonl"))
    assert [f.split("/")[1] for f in files] == ["hour=00", "hour=01"]
    assert A.load_events(tmp_path)["token_fp"].tolist() == ["fp000002", "fp000001"]


def test_rolling_sinks_of_several_threads_and_replicas_share_a_directory(tmp_path: Path) -> None:
    sinks = [RollingJsonlSink(tmp_path, max_bytes=20_000, max_buffer=64) for _ in range(2)]

    def feed(k: int) -> None:
        for i in range(500):
            sinks[k % 2](event(T0 + i, k * 1000 + i))

    threads = [threading.Thread(target=feed, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for s in sinks:
        s.close()
    df = A.load_events(tmp_path)
    assert len(df) == 2000 and df["token_fp"].is_unique
    assert sum(s.written for s in sinks) == 2000


def test_rolling_sink_write_errors_are_counted_never_raised(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        blocker = tmp_path / "date=2026-11-01"
        blocker.write_text("a file where the partition directory should go")
    else:  # pragma: no cover - non-root
        os.chmod(tmp_path, 0o500)
    sink = RollingJsonlSink(tmp_path, flush_interval=60)
    for i in range(10):
        sink(event(T0 + i, i))
    sink.close()
    assert sink.dropped == 10 and sink.written == 0


def test_rolling_sink_on_an_unwritable_directory_never_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the events directory should be")
    sink = RollingJsonlSink(blocker / "events", flush_interval=60)  # no exception at construction either
    sink(event(T0, 1))
    sink.close()
    assert sink.dropped == 1 and sink.written == 0


def test_rolling_sink_files_are_valid_while_being_written(tmp_path: Path) -> None:
    """A reader in another process sees whole lines only (the writer writes whole batches)."""
    sink = RollingJsonlSink(tmp_path, flush_interval=60)
    for i in range(100):
        sink(event(T0 + i, i))
    sink.flush()
    code = "import sys, jwtobs.analysis as A; print(len(A.load_events(sys.argv[1])))"
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "100", out.stderr
    sink.close()


def test_configure_events_dir_writes_partitions(tmp_path: Path) -> None:
    import jwtobs
    from jwtobs import config

    jwtobs.configure(events_dir=tmp_path / "ev", fingerprint_key="k" * 32)
    try:
        sinks = [s for s in config.current().sinks if isinstance(s, RollingJsonlSink)]
        assert len(sinks) == 1 and not any(type(s) is JsonlSink for s in config.current().sinks)
        sinks[0](event(T0, 1))
        jwtobs.flush()
        assert len(A.load_events(tmp_path / "ev")) == 1
    finally:
        jwtobs.configure()


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize("bad", ["null", "1990-01-01T00:00:00Z", "2200-01-01T00:00:00Z"])
def test_one_event_without_a_time_or_with_a_wrong_clock_is_one_clear_error(
    tmp_path: Path, jsonl: Path, engine: str, bad: str
) -> None:
    """3000 good events and one whose time is missing or decades off: `jwtobs report` grew to 6-9 GB (the
    per-minute arrays span 1970/1990 to now) until killed or a MemoryError (exit 4). Now one line and exit 2,
    under a 3 GB address-space limit, in both engines."""
    lines = [e.to_json() for e in (event(T0 + i, i) for i in range(3000))]
    odd = json.loads(lines[1500])
    odd["time"] = None if bad == "null" else bad
    lines.insert(1500, json.dumps(odd))
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)); "
        "from jwtobs.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "report", "--engine", engine, "--out", str(tmp_path / "r.html"), str(path)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 2, out.stderr
    lines_err = out.stderr.strip().splitlines()
    assert len(lines_err) == 1, out.stderr
    expected = "1 event without a time" if bad == "null" else "days analysed at once"
    assert expected in lines_err[0] and "Traceback" not in out.stderr
    assert not (tmp_path / "r.html").exists()
