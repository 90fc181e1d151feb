"""Events whose ``outcome`` or ``time`` is spelled otherwise (real events from ``jwtobs simulate``, both engines;
left by session 33's CLI probe):

- ``"outcome": "REJECTED"`` (or ``"denied"``, or none) was counted as neither outcome: the failures silently
  missing from every table and detector, exit 0. Now one line naming the file and the values, exit 2.
- RFC 3339 allows a lower-case ``t`` and ``z`` (``2026-11-18t11:06:46.4z``): such files were "not a jwtobs events
  file"; now read as the upper-case ones, validations and key-set changes alike."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import jwtobs.analysis as A
from tests.analysis.test_report_bad_input_s20 import ENGINES, one_line_error, report, sim  # noqa: F401
from tests.analysis.test_report_bad_input_s33 import _events_file


def _rewrite(src: Path, dst: Path, change: object) -> Path:
    lines = []
    for line in src.read_text().splitlines():
        d = json.loads(line)
        change(d)  # type: ignore[operator]
        lines.append(json.dumps(d))
    dst.write_text("\n".join(lines) + "\n")
    return dst


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("value", ["REJECTED", "denied", None])
def test_an_outcome_of_neither_kind_is_refused(
    sim: Path,  # noqa: F811
    tmp_path: Path,
    engine: str,
    value: str | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def change(d: dict[str, object]) -> None:
        if d.get("outcome") == "rejected":
            if value is None:
                del d["outcome"]
            else:
                d["outcome"] = value

    path = _rewrite(_events_file(sim), tmp_path / "events.jsonl", change)
    code, _out, err = report(capsys, str(path), "--engine", engine, "--out", str(tmp_path / "r.html"))
    line = one_line_error(code, err)
    shown = "<none>" if value is None else repr(value)
    assert str(path) in line and f"outcome {shown}" in line and "'accepted' or 'rejected'" in line, line
    assert not (tmp_path / "r.html").exists()


def test_the_outcome_check_is_one_place() -> None:
    from jwtobs.analysis.load import OUTCOMES

    assert OUTCOMES == {"accepted", "rejected"}


@pytest.mark.parametrize("engine", ENGINES)
def test_lower_case_rfc3339_times_are_read(
    sim: Path,  # noqa: F811
    tmp_path: Path,
    engine: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    src = _events_file(sim)

    def lower(d: dict[str, object]) -> None:
        d["time"] = str(d["time"]).replace("T", "t").replace("Z", "z")

    path = _rewrite(src, tmp_path / "events.jsonl", lower)
    assert "t" in json.loads(path.read_text().splitlines()[0])["time"][10]
    code, _out, err = report(capsys, str(path), "--engine", engine, "--out", str(tmp_path / "r.html"))
    assert code == 0, err
    if engine == "duckdb":
        from jwtobs.analysis import duck

        got, want = duck.aggregate(path), duck.aggregate(src)
        changes, changes_want = duck.keyset_changes(path), duck.keyset_changes(src)
    else:
        got, want = A.aggregate(A.load_events(path)), A.aggregate(A.load_events(src))
        changes, changes_want = A.load_keyset_changes(path), A.load_keyset_changes(src)
    pd.testing.assert_frame_equal(got.counts, want.counts)
    pd.testing.assert_frame_equal(got.lateness, want.lateness)
    assert len(changes_want) > 0
    pd.testing.assert_frame_equal(changes, changes_want)


@pytest.mark.parametrize("engine", ENGINES)
def test_file_names_that_are_not_utf8_are_read(
    sim: Path,  # noqa: F811
    tmp_path: Path,
    engine: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A file name of bytes that are not UTF-8 (kept by a Linux file system from an archive or another locale):
    DuckDB's SQL and pyarrow take names as UTF-8 text, and such a file was "not a jwtobs events file"; now read by
    Python's readers, JSONL (plain and gzip) and Parquet alike, the same events as under a plain name."""
    import gzip
    import os
    import shutil

    src = _events_file(sim)
    plain, odd = tmp_path / "plain", tmp_path / "odd"
    plain.mkdir()
    odd.mkdir()
    shutil.copy(src, plain / "a.jsonl")
    shutil.copy(src, Path(os.fsdecode(bytes(odd) + b"/a\xff.jsonl")))
    with gzip.open(Path(os.fsdecode(bytes(odd) + b"/b\xfe.jsonl.gz")), "wb") as f:
        f.write(src.read_bytes())
    with gzip.open(plain / "b.jsonl.gz", "wb") as f:
        f.write(src.read_bytes())
    A.load_events(src).to_parquet(plain / "c.parquet")
    shutil.copy(plain / "c.parquet", Path(os.fsdecode(bytes(odd) + b"/c\xfd.parquet")))
    code, _out, err = report(capsys, str(odd), "--engine", engine, "--out", str(tmp_path / "r.html"))
    assert code == 0, err
    if engine == "duckdb":
        from jwtobs.analysis import duck

        got, want = duck.aggregate(odd), duck.aggregate(plain)
        assert len(duck.keyset_changes(odd)) == len(duck.keyset_changes(plain)) > 0
    else:
        got, want = A.aggregate(A.load_events(odd)), A.aggregate(A.load_events(plain))
        assert len(A.load_keyset_changes(odd)) == len(A.load_keyset_changes(plain)) > 0
    pd.testing.assert_frame_equal(got.counts, want.counts)
    pd.testing.assert_frame_equal(got.lateness, want.lateness)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_pipe_is_refused_in_one_line(
    tmp_path: Path,
    engine: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``jwtobs report <(zcat events.jsonl.gz)`` or a named pipe: read once, no size; it said "no validation events
    in this file" with events in it. Now one line saying what it is and what to do, exit 2, nothing read (the
    writer is never waited for)."""
    import os

    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    for source in (fifo, Path(os.devnull)):
        code, _out, err = report(capsys, str(source), "--engine", engine, "--out", str(tmp_path / "r.html"))
        line = one_line_error(code, err)
        assert f"{source}: not a regular file" in line and "write the stream to a file first" in line, line


def _split(src: Path, out: Path, parts: int) -> Path:
    """``src``'s lines in ``parts`` files (one process's file per hour, or per replica and minute), every line once."""
    out.mkdir()
    lines = src.read_text().splitlines(keepends=True)
    for k in range(parts):
        (out / f"e{k:05d}.jsonl").write_text("".join(lines[k::parts]))
    return out


def test_many_small_files_read_once_give_the_same_events(
    sim: Path,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """More than ``duck.MANY_FILES`` JSONL files are read once into a temporary table by the DuckDB engine (each of
    its queries scanned every file again: 10 000 small files took 105 s, now 4.5 s of CPU), and more than
    ``load.BATCH_FILES`` complete ones by one DuckDB query in the pandas engine (one query each: 35 s, now 10 s;
    ``benchmarks/bench_scale.py files``). The same events, row for row, as each file read on its own; the same
    aggregates in both engines and as the same lines in one file; a file torn mid-line, or with a bad outcome, is
    still one error naming it; nothing is left behind in the connection."""
    from jwtobs.analysis import duck, load
    from jwtobs.analysis.load import EventsError

    src = _events_file(sim)
    many = _split(src, tmp_path / "many", duck.MANY_FILES + 6)
    assert duck._many_small(list(many.iterdir()))
    con = duck.connect()
    got = duck.aggregate(many, con=con)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchone() == (0,)
    events = A.load_events(many)
    with monkeypatch.context() as m:
        m.setattr(load, "BATCH_FILES", 10**9)
        pd.testing.assert_frame_equal(events, A.load_events(many))
    pandas = A.aggregate(events)
    one = duck.aggregate(src)
    for frame in ("counts", "lateness"):
        pd.testing.assert_frame_equal(getattr(got, frame), getattr(pandas, frame))
        pd.testing.assert_frame_equal(getattr(got, frame), getattr(one, frame))
    # a line torn in the middle of a small file (more than 1 % of its lines): no events file, in both engines alike
    torn = many / "e00003.jsonl"
    text = torn.read_text()
    torn.write_text(text.replace("\n", "", 1))
    for aggregate in (duck.aggregate, lambda p: A.aggregate(A.load_events(p))):
        with pytest.raises(EventsError, match=f"{torn}: not a jwtobs events file"):
            aggregate(many)
    torn.write_text(text)
    bad = many / "e00007.jsonl"
    _rewrite(bad, bad, lambda d: d.update(outcome="REJECTED") if "outcome" in d else None)
    # (both engines name the file; the DuckDB engine named the directory before session 35)
    with pytest.raises(EventsError, match=f"{bad}: events with outcome 'REJECTED'"):
        duck.aggregate(many)
    with pytest.raises(EventsError, match=f"{bad}: events with outcome 'REJECTED'"):
        A.load_events(many)
