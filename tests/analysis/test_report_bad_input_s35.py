"""The DuckDB engine's checks name the file (left by session 34): an event of another outcome, an event without a
time, or one of a schema version this jwtobs cannot read, in one file of a directory of many, was reported against
the directory (the pandas engine named the file). Now both engines name the file, found by querying halves of the
files (only once a check failed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import jwtobs.analysis as A
from tests.analysis.test_report_bad_input_s20 import sim  # noqa: F401
from tests.analysis.test_report_bad_input_s33 import _events_file


def _split(src: Path, out: Path, n: int) -> list[Path]:
    out.mkdir()
    lines = src.read_text().splitlines()
    files = [out / f"e{i:05d}.jsonl" for i in range(n)]
    for i, f in enumerate(files):
        f.write_text("".join(line + "\n" for line in lines[i::n]))
    return files


def _spoil(path: Path, change: object) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    change(rows[len(rows) // 2])  # type: ignore[operator]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.mark.parametrize("files", [3, 9, 80])
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(outcome="denied"), "events with outcome 'denied'"),
        (lambda d: d.pop("outcome"), "events with outcome <none>"),
        (lambda d: d.update(schema=99), "event schema version 99"),
    ],
    ids=["outcome", "no-outcome", "schema"],
)
def test_both_engines_name_the_file(
    sim: Path,  # noqa: F811
    tmp_path: Path,
    files: int,
    change: object,
    message: str,
) -> None:
    from jwtobs.analysis import duck
    from jwtobs.analysis.load import EventsError

    parts = _split(_events_file(sim), tmp_path / "d", files)
    bad = parts[(files * 2) // 3]
    _spoil(bad, change)
    with pytest.raises(EventsError) as duck_err:
        duck.aggregate(tmp_path / "d")
    with pytest.raises(EventsError) as pandas_err:
        A.load_events(tmp_path / "d")
    for err in (duck_err, pandas_err):
        assert str(err.value).startswith(f"{bad}: "), str(err.value)
        assert message in str(err.value), str(err.value)
