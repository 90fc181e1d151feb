"""``jwtobs report`` on events whose ``time`` is not the contract's RFC 3339 string (session 29: a user's own logs
converted to events with POSIX seconds or a web server's date): one line naming the file, the value DuckDB could
not read and the form ``time`` must have, exit 2, both engines. The contract's forms (``Z``, an offset, milliseconds)
are read."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.analysis.test_report_bad_input_s20 import ENGINES, one_line_error, report, sim  # noqa: F401


def _rows(events: Path) -> list[dict[str, object]]:
    path = sorted((events / "events").glob("*.jsonl"))[0]
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in rows if "outcome" in r]


def _time(row: dict[str, object]) -> datetime:
    return datetime.fromisoformat(str(row["time"]).replace("Z", "+00:00"))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_time_that_is_no_rfc_3339_string_is_named_with_the_form_it_must_have(
    sim: Path,  # noqa: F811
    tmp_path: Path,
    engine: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rows = _rows(sim)
    cases = {
        "epoch": [dict(r, time=_time(r).timestamp()) for r in rows],
        "clf": [dict(r, time=_time(r).strftime("%d/%b/%Y:%H:%M:%S +0000")) for r in rows],
    }
    out = tmp_path / "r.html"
    for name, bad in cases.items():
        path = tmp_path / name / "events.jsonl"
        path.parent.mkdir()
        path.write_text("".join(json.dumps(r) + "\n" for r in bad))
        code, _, err = report(capsys, str(path), "--engine", engine, "--out", str(out))
        line = one_line_error(code, err)
        assert line.startswith(f"jwtobs report: {path}: not a jwtobs events file"), line
        assert "`time` must be an RFC 3339 string" in line, line
        assert not out.exists()
    # the contract's own forms: an offset other than Z, milliseconds
    plus2 = timezone(timedelta(hours=2))
    good = [dict(r, time=_time(r).astimezone(plus2).isoformat(timespec="milliseconds")) for r in rows]
    path = tmp_path / "offset" / "events.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in good))
    code, _, err = report(capsys, str(path), "--engine", engine, "--out", str(out))
    assert code == 0 and out.exists(), err
