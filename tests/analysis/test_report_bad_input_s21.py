"""``jwtobs report`` on compressed events files it does not read (session 21): one line naming the format and what to
do, exit 2, with both engines. Before: ``not a jwtobs events file (JSON parse error: Invalid value. in row 0)`` for an
``events.jsonl.xz`` or ``.bz2`` and for a gzip file without ``.gz``, as if the file held something else than events."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import threading
from pathlib import Path

import pytest

from tests.analysis.test_report_bad_input_s20 import ENGINES, one_line_error, report, sim  # noqa: F401


@pytest.mark.parametrize("engine", ENGINES)
def test_compressed_events_files_are_named_not_parse_errors(
    sim: Path,  # noqa: F811
    tmp_path: Path,
    engine: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    events = sorted((sim / "events").glob("*.jsonl"))[0].read_bytes()
    cases = {
        "a.jsonl.xz": (lzma.compress(events), "xz-compressed file: jwtobs reads JSONL, gzip-compressed JSONL (.gz)"),
        "a.jsonl.bz2": (bz2.compress(events), "bzip2-compressed file: jwtobs reads JSONL"),
        "a.jsonl": (gzip.compress(events), "gzip-compressed file without a .gz name (rename it to end in .gz)"),
    }
    out = tmp_path / "r.html"
    for name, (data, said) in cases.items():
        d = tmp_path / name.replace(".", "_")
        d.mkdir()
        path = d / name
        path.write_bytes(data)
        code, _, err = report(capsys, str(path), "--engine", engine, "--out", str(out))
        assert one_line_error(code, err).startswith(f"jwtobs report: {path}: {said}"), err
        assert not out.exists()
    # in a directory: the gzip file named .jsonl is read by name, so it is refused the same way
    code, _, err = report(capsys, str(tmp_path / "a_jsonl"), "--engine", engine, "--out", str(out))
    assert "gzip-compressed file without a .gz name" in one_line_error(code, err)
    (tmp_path / "a_jsonl" / "a.jsonl").rename(tmp_path / "a_jsonl" / "a.jsonl.gz")
    code, _, err = report(capsys, str(tmp_path / "a_jsonl"), "--engine", engine, "--out", str(out))
    assert code == 0 and out.exists(), err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_fifo_given_as_events_is_not_opened_to_sniff_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The check of the first bytes reads regular files only: opening a FIFO without a writer waits for ever (the
    report said that it holds no validation events; since session 34, that it is no regular file)."""
    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    done = threading.Event()
    result: list[tuple[int, str, str]] = []

    def run() -> None:
        result.append(report(capsys, str(fifo), "--out", str(tmp_path / "r.html")))
        done.set()

    threading.Thread(target=run, daemon=True).start()
    assert done.wait(60), "jwtobs report blocked on the FIFO"
    code, _, err = result[0]
    assert "not a regular file (a pipe or a device)" in one_line_error(code, err)
