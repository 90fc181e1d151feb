"""``jwtobs report`` on bad input found in session 20, on real simulated events (``jwtobs.cli.main`` in process:
the subprocess runs of each case took over a minute): one line on stderr and exit 2, never an internal error
(exit 4), and no report written.

* ``--labels`` that is not a simulator ``labels.json``: an events file, an empty, truncated, binary or JSON-array
  file, incidents of the wrong shape, a time that is not one (before: ``internal error (JSONDecodeError)``,
  ``AttributeError``, ``KeyError``, ``UnicodeDecodeError``... exit 4);
* ``--prometheus`` over a range without any rejection (no ``jwtobs_reason`` label on any series), or with labels a
  relabeling rule dropped: before, ``internal error (KeyError)``; a JSON answer that is not a range query's result
  (AttributeError, KeyError, RecursionError before): one line naming the URL;
* a key-set change record stamped outside the nanosecond range of the validations' times (year 9999, 0001: a
  clock gone wrong, a hand-edited file): before, ``internal error (OutOfBoundsDatetime)`` with the pandas engine
  and the whole report refused with the DuckDB one; the change is dropped like one without a time. Session 21:
  the same for a change whose time is not a time (``"yesterday"``, month 13, a number), which DuckDB refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jwtobs.cli import main
from tests.core.test_cli_bad_input_s9 import jwtobs

pytest.importorskip("pandas")
pytest.importorskip("jwt")

ENGINES = ("pandas", "duckdb")


def report(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``jwtobs report ARGS`` in process: (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str) -> str:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, (code, err)
    assert lines[0].startswith("jwtobs report: ") and "internal error" not in err, lines
    return lines[0]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    proc = jwtobs("simulate", "--hours", "1", "--no-parquet", "--out", str(out), timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def _labels_cases(sim: Path, d: Path) -> dict[str, Path]:
    good = json.loads((sim / "labels.json").read_text())
    first = good["incidents"][0]
    contents: dict[str, bytes] = {
        "empty": b"",
        "truncated": (sim / "labels.json").read_bytes()[:100],
        "binary": bytes(range(256)) * 4,
        "array": b"[1, 2]",
        "incidents_not_a_list": json.dumps({"incidents": 5}).encode(),
        "incident_not_an_object": json.dumps({"incidents": ["x"]}).encode(),
        "incident_without_times": json.dumps({"incidents": [{"kind": "jwks_outage", "count": 3}]}).encode(),
        "count_not_a_number": json.dumps({"incidents": [{**first, "count": "many"}]}).encode(),
        "time_not_a_time": json.dumps({"incidents": [{**first, "count": 5, "start": "yesterday"}]}).encode(),
        "deep": b"[" * 100_000 + b"]" * 100_000,
    }
    cases = {}
    for name, data in contents.items():
        cases[name] = d / f"{name}.json"
        cases[name].write_bytes(data)
    events_file = sorted((sim / "events").glob("*.jsonl"))[0]
    cases["events_file"] = events_file  # the wrong file given as --labels
    cases["directory_without_labels"] = sim / "events"
    return cases


@pytest.mark.parametrize("engine", ENGINES)
def test_labels_that_are_not_labels_are_bad_input(
    sim: Path, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    events = str(sim / "events")
    for name, labels in _labels_cases(sim, tmp_path).items():
        code, _, err = report(capsys, events, "--engine", engine, "--labels", str(labels), "--out", str(out))
        line = one_line_error(code, err)
        assert str(labels) in line, (name, line)
        assert not out.exists(), name
    # the simulator's own labels (the file, or the directory holding it) still score the detections
    for labels in (sim / "labels.json", sim):
        code, stdout, err = report(capsys, events, "--engine", engine, "--labels", str(labels), "--out", str(out))
        assert code == 0, err
        assert "recall" in stdout


# (a deprecation is an error here: pandas 3 warned that it would read the number 12345 as an epoch in pandas 4)
@pytest.mark.filterwarnings("error::DeprecationWarning")
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "stamp",
    [
        "9999-12-31T23:59:59.999Z",
        "0001-01-01T00:00:00.000Z",
        "2262-04-12T00:00:00Z",
        # not a time at all (session 21: the DuckDB engine refused the whole file, "not a jwtobs events file")
        "yesterday",
        "2026-13-45T00:00:00Z",
        12345,
    ],
)
def test_a_keyset_change_out_of_range_is_dropped(
    sim: Path, tmp_path: Path, engine: str, stamp: object, capsys: pytest.CaptureFixture[str]
) -> None:
    src = sorted((sim / "events").glob("*.jsonl"))[0]
    lines = src.read_text().splitlines()
    changes = [i for i, line in enumerate(lines) if '"event":"jwks.keyset_changed"' in line]
    assert changes, "the simulated day rotates keys"
    bad = json.loads(lines[changes[0]])
    bad["time"] = stamp
    lines[changes[0]] = json.dumps(bad, separators=(",", ":"))
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")
    out = tmp_path / "report.html"
    code, _, err = report(capsys, str(events), "--engine", engine, "--out", str(out))
    assert code == 0, err
    assert out.exists()

    from jwtobs.analysis import load_keyset_changes

    got = load_keyset_changes(events)
    assert len(got) == len(changes) - 1  # the others kept, in nanoseconds like the validations' times
    assert str(got["time"].dtype) == "datetime64[ns, UTC]"


# -- report --prometheus: what a Prometheus (or something else) answers -------------------------------------------
T0 = 1_795_000_020.0  # a minute boundary + 20 s: the range below starts before the series' first sample


class _PromAPI:
    """A loopback server speaking the Prometheus range-query API with canned series: ``answer(query)`` gives the
    body of ``/api/v1/query_range`` for a PromQL ``query``."""

    def __init__(self, answer: Any) -> None:
        import http.server
        import threading
        import urllib.parse

        from tests.loopback import reply

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("query", [""])[0]
                reply(self, 200, answer(query), "application/json")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).isoformat()


def _matrix(result: list[dict[str, Any]]) -> bytes:
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()


def _accepted_only(drop: tuple[str, ...] = ()) -> Any:
    """What Prometheus answers for jwtobs metrics of a range without a rejection: the validation counter's series
    have no ``jwtobs_reason`` (it is set on rejections only, docs/contract.md), 10 validations a minute."""
    labels = {
        "__name__": "jwtobs_validation_duration_seconds_count",
        "job": "billing-api",
        "instance": "10.0.0.7:9464",
        "jwtobs_outcome": "accepted",
        "jwtobs_library": "pyjwt",
        "jwtobs_profile": "billing-api",
        "jwtobs_issuer": "https://login.example.com",
        "jwtobs_alg": "RS256",
        "jwtobs_kid": "2026-11",
    }
    metric = {k: v for k, v in labels.items() if k not in drop}
    values = [[T0 + 60 * i, str(10 * i)] for i in range(31)]

    def answer(query: str) -> bytes:
        return _matrix([{"metric": metric, "values": values}] if "validation_duration_seconds_count" in query else [])

    return answer


@pytest.mark.parametrize("drop", [(), ("jwtobs_kid", "jwtobs_issuer")])
def test_report_from_prometheus_without_rejections(
    tmp_path: Path, drop: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    """A range without any rejection (a healthy service), and series whose kid and issuer labels a relabeling rule
    dropped: before session 20 ``jwtobs report --prometheus`` was an internal error (KeyError 'reason')."""
    prom = _PromAPI(_accepted_only(drop))
    out = tmp_path / "report.html"
    try:
        start, end = _iso(T0 - 60), _iso(T0 + 1800)
        code, stdout, err = report(capsys, "--prometheus", prom.url, "--start", start, "--end", end, "--out", str(out))
    finally:
        prom.close()
    assert code == 0, err
    assert "300 validations, 0 rejected" in stdout and out.exists()


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({"status": "success", "data": 5}).encode(),
        json.dumps({"status": "success"}).encode(),
        _matrix([{"values": [[T0, "1"]]}]),  # a series without labels
        _matrix([{"metric": {"job": "j"}, "values": [["x", "y"]]}]),
        _matrix([{"metric": {"job": "j"}, "values": 7}]),
        b"[" * 100_000 + b"]" * 100_000,
    ],
    ids=["data-not-an-object", "no-data", "no-metric", "values-not-numbers", "values-not-a-list", "deep"],
)
def test_report_from_something_not_prometheus_is_one_line(
    tmp_path: Path, body: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSON answer that is not a range query's result (another JSON API, a proxy): one line naming the URL, exit
    2 (before session 20: internal errors AttributeError, KeyError, RecursionError)."""
    prom = _PromAPI(lambda query: body)
    try:
        code, _, err = report(capsys, "--prometheus", prom.url, "--start", _iso(T0), "--end", _iso(T0 + 600),
                              "--out", str(tmp_path / "r.html"))  # fmt: skip
    finally:
        prom.close()
    line = one_line_error(code, err)
    assert line.startswith(f"jwtobs report: {prom.url}/api/v1/query_range: "), line


@pytest.mark.parametrize("engine", ENGINES)
def test_report_out_a_directory_says_so(
    sim: Path, tmp_path: Path, engine: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--out`` naming a directory: one line saying it is one (before session 20: "not a regular file (a device,
    pipe or socket)"), exit 2, the directory untouched."""
    out = tmp_path / "reports"
    out.mkdir()
    code, _, err = report(capsys, str(sim / "events"), "--engine", engine, "--out", str(out))
    assert (
        one_line_error(code, err) == f"jwtobs report: {out}: cannot write: is a directory (give the file name to write)"
    )
    assert list(out.iterdir()) == []
