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


def _rewrite(src: Path, dst: Path, change: object) -> Path:
    lines = []
    for line in src.read_text().splitlines():
        d = json.loads(line)
        change(d)  # type: ignore[operator]
        lines.append(json.dumps(d))
    dst.write_text("\n".join(lines) + "\n")
    return dst


def _events_file(sim: Path) -> Path:  # noqa: F811
    return sorted((sim / "events").glob("*.jsonl"))[0]


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
