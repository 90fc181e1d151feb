"""``jwtobs report`` on what session 33's CLI probe found (real events from ``jwtobs simulate``, both engines):

- ``--out`` naming the events file (also through a symlink or a hard link, or an events file inside the events
  directory) replaced the events with the HTML report, exit 0; ``scrub`` refused the same case;
- a directory's ``x.parquet`` was read instead of its ``x.jsonl`` whatever their ages: events appended to the JSONL
  file after the copy was written were dropped without a word;
- Ctrl-C while DuckDB ran a query exited 4 (internal error) instead of 130."""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path

import pytest

from jwtobs.analysis import load_events
from jwtobs.cli import _interrupted
from tests.analysis.test_report_bad_input_s20 import ENGINES, one_line_error, report, sim  # noqa: F401


def _events_file(sim: Path) -> Path:  # noqa: F811
    return sorted((sim / "events").glob("*.jsonl"))[0]


@pytest.mark.parametrize("engine", ENGINES)
def test_report_never_overwrites_its_input(
    sim: Path,  # noqa: F811
    tmp_path: Path,
    engine: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    events = tmp_path / "events.jsonl"
    shutil.copy(_events_file(sim), events)
    before = events.read_bytes()
    (tmp_path / "link.jsonl").symlink_to(events)
    os.link(events, tmp_path / "hard.jsonl")
    directory = tmp_path / "dir"
    directory.mkdir()
    shutil.copy(events, directory / "svc.jsonl")
    for source, out in (
        (events, events),
        (events, tmp_path / "link.jsonl"),
        (events, tmp_path / "hard.jsonl"),
        (directory, directory / "svc.jsonl"),
    ):
        code, _, err = report(capsys, str(source), "--engine", engine, "--out", str(out))
        line = one_line_error(code, err)
        assert "is an input events file" in line, line
    assert events.read_bytes() == before and (directory / "svc.jsonl").read_bytes() == before
    # an HTML file of an earlier run in the events directory is no input: replaced as usual
    html = directory / "report.html"
    html.write_text("old")
    code, _, err = report(capsys, str(directory), "--engine", engine, "--out", str(html))
    assert code == 0, err
    assert html.read_text().lstrip().lower().startswith("<!doctype html>")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_stale_parquet_copy_gives_way_to_its_newer_jsonl_file(
    sim: Path,  # noqa: F811
    tmp_path: Path,
    engine: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    d = tmp_path / "events"
    d.mkdir()
    src = _events_file(sim)
    lines = src.read_bytes().splitlines(keepends=True)
    head = b"".join(lines[: len(lines) // 2])
    (d / "x.jsonl").write_bytes(head)
    load_events(d / "x.jsonl").to_parquet(d / "x.parquet")  # the copy of the first half
    old = time.time() - 60
    os.utime(d / "x.jsonl", (old - 10, old - 10))
    os.utime(d / "x.parquet", (old, old))
    half = load_events(d / "x.parquet")
    assert load_events(d)["token_fp"].tolist() == half["token_fp"].tolist()  # the copy, as before
    (d / "x.jsonl").write_bytes(src.read_bytes())  # events appended after the copy was written
    with caplog.at_level(logging.WARNING):
        got = load_events(d)
    assert len(got) == len(load_events(src)) > len(half)
    assert "stale Parquet copy" in caplog.text
    code, out, err = report(capsys, str(d), "--engine", engine, "--out", str(tmp_path / "r.html"))
    assert code == 0, err
    assert out.split(" validations")[0].replace(" ", "").isdigit()
    assert int(out.split(" validations")[0].replace(" ", "")) == len(got)


def test_a_duckdb_query_interrupted_is_an_interrupt() -> None:
    import duckdb

    assert _interrupted(duckdb.InterruptException("INTERRUPT Error: Interrupted!"))
    assert _interrupted(RuntimeError("Query interrupted"))
    try:
        try:
            raise duckdb.InterruptException("x")
        except duckdb.InterruptException as inner:
            raise ValueError("wrapped") from inner
    except ValueError as outer:
        assert _interrupted(outer)
    assert not _interrupted(RuntimeError("boom")) and not _interrupted(ValueError("Query"))


def test_a_directory_of_many_small_files_reads_as_their_concatenation(sim: Path, tmp_path: Path) -> None:  # noqa: F811
    """One DuckDB connection per thread reads them (before session 33 one per file, ~30 ms each: 10 000 one-event
    files took over 300 s, now ~40 s); two threads reading at once get the same events."""
    import threading

    lines = [ln for ln in _events_file(sim).read_bytes().splitlines(keepends=True) if b'"outcome"' in ln][:120]
    d = tmp_path / "many"
    d.mkdir()
    for i, line in enumerate(lines):
        (d / f"e{i:04d}.jsonl").write_bytes(line)
    whole = tmp_path / "whole.jsonl"
    whole.write_bytes(b"".join(lines))
    expected = sorted(load_events(whole)["token_fp"].astype(str))
    got: list[list[str]] = []

    def read() -> None:
        got.append(sorted(load_events(d)["token_fp"].astype(str)))

    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert got == [expected, expected]


def test_range_options_without_prometheus_are_refused(
    sim: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Before session 33 ``--start``/``--end``/``--job`` with an events file were ignored (the whole file, exit 0)."""
    out = tmp_path / "r.html"
    for option in (["--start", "2026-01-01"], ["--end", "2026-01-02"], ["--job", "api"]):
        code, _, err = report(capsys, str(_events_file(sim)), *option, "--out", str(out))
        line = one_line_error(code, err)
        assert f"{option[0]}: only with --prometheus" in line, line
        assert not out.exists()


def test_scrub_to_a_dash_is_refused_not_a_file_named_dash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jwtobs.cli import main

    src = tmp_path / "in.log"
    src.write_text("GET /x Authorization: Bearer abc.def.ghi\n")
    monkeypatch.chdir(tmp_path)
    assert main(["scrub", str(src), "-"]) == 2
    assert not (tmp_path / "-").exists()
    assert main(["scrub", str(src), "./-"]) == 0 and (tmp_path / "-").exists()  # a file named -, asked for
