"""The DuckDB engine gives the pandas engine's aggregates and incidents, exactly, on the same files."""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

import jwtobs.analysis as A
from jwtobs.analysis import duck
from jwtobs.analysis.aggregate import OTHER, Aggregates, aggregate
from jwtobs.analysis.load import EventsError
from jwtobs.rolling import RollingJsonlSink
from jwtobs.simulate import default_scenario, simulate

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "benchmarks" / "bench_scale.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded simulated fleet (real tokens, real validators) with injected incidents: one JSONL + Parquet
    file per API replica (events/api-orders-0.jsonl is one of them)."""
    out = tmp_path_factory.mktemp("engines-day")
    simulate(default_scenario(seed=5, duration=3 * 3600), out)
    return out


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The benchmark's generated fleet (reused tokens, expired ones minutes to an hour late, scanners with
    random kids): exercises the bounded labels and both values of ``cont``."""
    out = tmp_path_factory.mktemp("engines-synth")
    return Path(_bench().generate(60_000, out, "jsonl", per_hour=20_000))


def assert_same(a: Aggregates, b: Aggregates) -> None:
    pd.testing.assert_frame_equal(a.counts, b.counts)
    pd.testing.assert_frame_equal(a.lateness, b.lateness)
    assert a.subjects is not None and b.subjects is not None
    pd.testing.assert_frame_equal(a.subjects, b.subjects)


def test_duckdb_aggregates_equal_pandas_on_jsonl_parquet_and_directory(day: Path) -> None:
    for src in (day / "events" / "api-orders-0.jsonl", day / "events" / "api-orders-0.parquet", day):
        pandas_aggs = aggregate(A.load_events(src))
        duck_aggs = duck.aggregate(src)
        assert duck_aggs.engine == "duckdb" and duck_aggs.has_cont
        assert not duck_aggs.counts.empty and not duck_aggs.lateness.empty
        assert duck_aggs.subjects is not None and (duck_aggs.subjects["subjects"] > 1).any()
        assert_same(pandas_aggs, duck_aggs)


def test_duckdb_and_pandas_find_identical_incidents(day: Path) -> None:
    changes = A.load_keyset_changes(day)
    pd.testing.assert_frame_equal(duck.keyset_changes(day), changes)
    by_pandas = A.incidents(A.load_events(day), changes)
    by_duckdb = A.incidents(duck.aggregate(day), duck.keyset_changes(day))
    assert len(by_pandas) >= 3  # the scenario's injected incidents are found
    pd.testing.assert_frame_equal(by_pandas, by_duckdb)


def test_duckdb_equals_pandas_on_scanner_noise_and_token_reuse(synthetic: Path) -> None:
    pandas_aggs = aggregate(A.load_events(synthetic))
    duck_aggs = duck.aggregate(synthetic)
    assert_same(pandas_aggs, duck_aggs)
    assert (duck_aggs.counts["kid"] == OTHER).any()  # random scanner kids fold into one value
    late = duck_aggs.lateness[duck_aggs.lateness["outcome"] == "rejected"]
    assert set(late["cont"]) == {True, False}
    assert set(late["paced"]) == {True, False}
    assert set(late["direction"]) == {"late", "early"}
    pd.testing.assert_frame_equal(A.incidents(pandas_aggs), A.incidents(duck_aggs))


def test_compacted_partitioned_parquet_gives_the_same_aggregates(day: Path, tmp_path: Path) -> None:
    n = duck.compact(day / "events" / "api-orders-0.jsonl", tmp_path / "pq")
    assert n == len(A.load_events(day / "events" / "api-orders-0.jsonl"))
    parts = sorted({p.parent.relative_to(tmp_path / "pq").as_posix() for p in (tmp_path / "pq").rglob("*.parquet")})
    assert len(parts) >= 3 and all(p.startswith("date=") and "/hour=" in p for p in parts)
    assert_same(duck.aggregate(day / "events" / "api-orders-0.jsonl"), duck.aggregate(tmp_path / "pq"))
    assert_same(duck.aggregate(tmp_path / "pq"), aggregate(A.load_events(tmp_path / "pq")))
    with pytest.raises(FileExistsError):
        duck.compact(day / "events" / "api-orders-0.jsonl", tmp_path / "pq")


def test_rolled_directory_is_one_table_for_both_engines(day: Path, tmp_path: Path) -> None:
    from jwtobs.events import ValidationEvent

    events = A.load_events(day / "events" / "api-orders-0.jsonl")
    sink = RollingJsonlSink(tmp_path / "rolled", max_bytes=400_000, flush_interval=60)
    for rec in events.to_dict("records"):
        rec["time"] = rec["time"].timestamp()
        rec = {k: (None if v is pd.NA or (isinstance(v, float) and v != v) else v) for k, v in rec.items()}
        sink(ValidationEvent(**rec))
    sink.close()
    assert sink.files > 3
    assert_same(aggregate(A.load_events(tmp_path / "rolled")), duck.aggregate(tmp_path / "rolled"))
    assert int(duck.aggregate(tmp_path / "rolled").counts["count"].sum()) == len(events)


# -- bad input ---------------------------------------------------------------------------------------------
def test_corrupt_parquet_in_a_directory_is_one_clear_error(day: Path, tmp_path: Path) -> None:
    d = tmp_path / "d" / "date=2026-11-01"
    d.mkdir(parents=True)
    shutil.copy(day / "events" / "api-orders-0.parquet", d / "a.parquet")
    shutil.copy(day / "events" / "api-orders-0.parquet", d / "c.parquet")
    data = (day / "events" / "api-orders-0.parquet").read_bytes()
    (d / "b.parquet").write_bytes(data[: len(data) // 3])
    with pytest.raises(EventsError) as err:
        duck.aggregate(tmp_path / "d")
    msg = str(err.value)
    # named first, though DuckDB's message also quotes the other files
    assert msg.startswith(f"{d / 'b.parquet'}: unreadable Parquet file") and "\n" not in msg, msg


def test_mixed_schema_versions_are_refused(day: Path, tmp_path: Path) -> None:
    lines = (day / "events" / "api-orders-0.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "a.jsonl").write_text("".join(lines[:100]))
    (tmp_path / "b.jsonl").write_text("".join(ln.replace('"schema":1,', '"schema":3,', 1) for ln in lines[100:200]))
    with pytest.raises(EventsError, match="event schema version 3; this jwtobs reads 1"):
        duck.aggregate(tmp_path)
    with pytest.raises(EventsError, match=r"b\.jsonl: event schema version 3"):
        A.load_events(tmp_path)


def test_jsonl_torn_tail_tolerated_corrupt_middle_refused(day: Path, tmp_path: Path) -> None:
    lines = (day / "events" / "api-orders-0.jsonl").read_text().splitlines(keepends=True)[:500]
    (tmp_path / "e.jsonl").write_text("".join(lines) + '{"schema":1,"ti')
    assert_same(aggregate(A.load_events(tmp_path / "e.jsonl")), duck.aggregate(tmp_path / "e.jsonl"))
    # 10 lines of 510 not JSON (2 %, over TORN_SHARE: see the test below for a few torn lines)
    (tmp_path / "e.jsonl").write_text("".join(lines[:200]) + "garbage line\n" * 10 + "".join(lines[200:]))
    with pytest.raises(EventsError, match=r"e\.jsonl: not a jwtobs events file"):
        duck.aggregate(tmp_path / "e.jsonl")


@pytest.mark.parametrize("duckdb_reader", [True, False], ids=["duckdb-reader", "pyarrow-reader"])
def test_lines_torn_mid_file_are_left_out_and_counted_by_both_engines(
    day: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, duckdb_reader: bool
) -> None:
    """A writer killed mid-line (or a full disk), and the next process appending after it: a line cut short in
    the middle of a file, joined to the next one. Both engines read the file without it (the same aggregates as
    the file without those lines), say so once per file, naming it and the count; the other files of the
    directory are read as they are; a file with more than 1 % of such lines is still no events file."""
    from jwtobs.analysis import load

    monkeypatch.setattr(load, "USE_DUCKDB", duckdb_reader)
    src = sorted((day / "events").glob("*.jsonl"), key=lambda f: -f.stat().st_size)
    lines = src[0].read_text().splitlines(keepends=True)
    assert len(lines) > 800
    torn, clean = tmp_path / "torn", tmp_path / "clean"
    torn.mkdir()
    clean.mkdir()
    for f in src[1:]:
        shutil.copy(f, torn / f.name)
        shutil.copy(f, clean / f.name)
    cut = {300, 700}  # each line cut in half, without its newline: it runs into the next line, both are lost
    text = "".join(ln[: len(ln) // 2] if i in cut else ln for i, ln in enumerate(lines))
    kept = [ln for i, ln in enumerate(lines) if i not in cut and i - 1 not in cut]
    (torn / src[0].name).write_text(text)
    (clean / src[0].name).write_text("".join(kept))
    with caplog.at_level(logging.WARNING, logger="jwtobs.analysis"):
        by_pandas = aggregate(A.load_events(torn))
        by_duckdb = duck.aggregate(torn)
    expected = aggregate(A.load_events(clean))
    assert_same(by_pandas, expected)
    assert_same(by_duckdb, expected)
    said = [r.getMessage() for r in caplog.records if r.name == "jwtobs.analysis"]
    assert said and all(f"{torn / src[0].name}: 2 of {len(lines) - 2} lines are not JSON objects" in m for m in said)
    many = "".join("garbage\n" + ln if i % 50 == 0 else ln for i, ln in enumerate(lines))
    (torn / src[0].name).write_text(many)
    for read in (A.load_events, duck.aggregate):
        with pytest.raises(EventsError, match=re.escape(f"{torn / src[0].name}: not a jwtobs events file")):
            read(torn)


def test_several_files_with_lines_torn_mid_file_are_each_read_once(
    day: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every file of a directory with a line cut mid-file (a fleet's replicas after one crash): the DuckDB engine
    finds them all in one more pass and reads each once (one warning per file), not one pass per file (which
    read the first file as many times as there were files: 136 reads and 30 s for 16 files of a fleet day)."""
    src = sorted((day / "events").glob("*.jsonl"), key=lambda f: -f.stat().st_size)[:3]
    for f in src:
        lines = f.read_text().splitlines(keepends=True)
        assert len(lines) > 300
        (tmp_path / f.name).write_text("".join(ln[: len(ln) // 2] if i == 150 else ln for i, ln in enumerate(lines)))
    with caplog.at_level(logging.WARNING, logger="jwtobs.analysis"):
        by_duckdb = duck.aggregate(tmp_path)
    said = sorted(r.getMessage().split(": ")[1] for r in caplog.records if r.name == "jwtobs.analysis")
    assert said == sorted(str(tmp_path / f.name) for f in src)
    caplog.clear()
    assert_same(aggregate(A.load_events(tmp_path)), by_duckdb)


def test_empty_and_missing(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_text("")
    assert duck.aggregate(tmp_path / "e.jsonl").empty
    with pytest.raises(FileNotFoundError):
        duck.aggregate(tmp_path / "nope")


# -- jwtobs report --engine / --prometheus -----------------------------------------------------------------
def _incident_part(text: str) -> str:
    part = text[text.index("Detected incidents") :]
    return part[: part.index("report:")] if "report:" in part else part


def test_report_engines_print_the_same_incidents(day: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jwtobs.analysis.report import build_report
    from jwtobs.cli import main

    by_pandas = build_report(day).summary() + "\n"  # what 'jwtobs report DIR' prints (without drawing plots)
    assert main(["report", str(day), "--engine", "duckdb", "--out", str(tmp_path / "d.html")]) == 0
    by_duckdb = capsys.readouterr().out
    assert "[engine: duckdb]" in by_duckdb
    assert _incident_part(by_pandas) == _incident_part(by_duckdb)
    html = (tmp_path / "d.html").read_text()
    assert "Rejections by reason" in html and "data:image/png;base64," in html
    # the tables formatted as the pandas engine's (before: None, <NA>, 1.0 and +00:00 times in the DuckDB report)
    from jwtobs.analysis.report import MISSING

    cells = re.findall(r"<td>([^<]*)</td>", html)
    assert not {"None", "&lt;NA&gt;", "nan", "NaN", "NaT"} & set(cells)
    assert MISSING in cells and any(c.endswith("%") for c in cells) and any(c.endswith(" UTC") for c in cells)
    assert not any("+00:00" in c for c in cells)


def test_report_bad_input_is_one_line_exit_2_no_file(
    day: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    from jwtobs.cli import main

    bad = tmp_path / "bad"
    bad.mkdir()
    data = next(day.rglob("*.parquet")).read_bytes()
    (bad / "a.parquet").write_bytes(data[: len(data) // 2])
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    lines = (day / "events" / "api-orders-0.jsonl").read_text().splitlines(keepends=True)
    (mixed / "a.jsonl").write_text("".join(lines[:100]))
    (mixed / "b.jsonl").write_text("".join(ln.replace('"schema":1,', '"schema":3,', 1) for ln in lines[100:200]))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cases = [
        [str(bad), "--engine", "duckdb"],
        [str(bad), "--engine", "pandas"],
        [str(mixed), "--engine", "duckdb"],
        [str(mixed), "--engine", "pandas"],
        [str(tmp_path / "missing"), "--engine", "duckdb"],
        ["--prometheus", f"http://127.0.0.1:{port}"],
    ]
    for argv in cases:
        out = tmp_path / "r.html"
        assert main(["report", *argv, "--out", str(out)]) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("jwtobs report: ") and "\n" not in err and "Traceback" not in err, err
        assert not out.exists() and not list(tmp_path.glob(".r.html*"))


def test_the_metrics_view_reports_only_the_kinds_metrics_can_show(day: Path) -> None:
    from jwtobs.analysis.prometheus import CANNOT_SEE, KINDS_FROM_METRICS, metrics_view
    from jwtobs.kinds import INCIDENT_KINDS

    assert KINDS_FROM_METRICS == set(INCIDENT_KINDS) - set(CANNOT_SEE) and "jwks_outage" in KINDS_FROM_METRICS
    aggs = aggregate(A.load_events(day))
    everything = A.incidents(aggs)
    assert set(everything["kind"]) - KINDS_FROM_METRICS  # the events show kinds the metrics cannot
    view = metrics_view(aggs)
    assert view.kinds == KINDS_FROM_METRICS
    assert set(A.incidents(view)["kind"]) <= KINDS_FROM_METRICS
    # without the restriction the same detectors on the metrics' view report kinds they cannot support
    unrestricted = A.incidents(type(view)(view.counts, view.lateness, engine="prometheus", has_cont=False))
    assert set(unrestricted["kind"]) - KINDS_FROM_METRICS, unrestricted[["kind", "start"]]


def test_cont_in_several_window_passes_equals_one(synthetic: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """100 M events do the per-token windows in passes over hash buckets of the token: any number of passes
    gives the pandas engine's aggregates."""
    one = duck.aggregate(synthetic)
    monkeypatch.setattr(duck, "CONT_PASS_ROWS", 500)  # dozens of passes on this data
    many = duck.aggregate(synthetic)
    assert_same(one, many)
    assert_same(aggregate(A.load_events(synthetic)), many)
    assert many.lateness["cont"].any()


def test_duckdb_and_pandas_agree_on_a_clock_many_clients_share(tmp_path: Path) -> None:
    """``server_clock_skew`` reads the per-event features (``cont``, ``paced``) of the lateness aggregate: one
    validator replica's clock 400 s ahead for 2 h (benchmarks/clockfaults.py, real event rows as its JSONL
    sink writes them) gives the same incidents from DuckDB as from pandas, and the fault is one of them."""
    import json
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from clockfaults import FaultGen
    from timelines import Injected, Timeline, _iso

    fault = Injected("server_clock_skew", 3 * 3600, duration=2 * 3600, skew=400, scope="replica_ahead")
    gen = FaultGen(Timeline(seed=3911, hours=7, path="verifier", replicas=3, clients=30, injected=(fault,)))
    gen.run()
    path = tmp_path / "events.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({**e, "time": _iso(e["time"])}) + "\n" for e in gen.ev)
        f.writelines(json.dumps(c) + "\n" for c in gen.changes)
    by_pandas = A.incidents(A.load_events(path), A.load_keyset_changes(path))
    assert "server_clock_skew" in set(by_pandas["kind"]), by_pandas[["kind", "start", "evidence"]]
    by_duckdb = A.incidents(duck.aggregate(path), duck.keyset_changes(path))
    pd.testing.assert_frame_equal(by_pandas, by_duckdb)


def _rewritten(day: Path, out: Path, change: Any) -> Path:
    """The day's validation events (every replica's JSONL, key-set changes included) with ``change`` applied to
    each record (a dict; return None to drop it), as one JSONL file."""
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for f in sorted((day / "events").glob("*.jsonl")):
        for line in f.read_text().splitlines():
            record = json.loads(line)
            record = change(record)
            if record is not None:
                lines.append(json.dumps(record))
    (out / "events.jsonl").write_text("\n".join(lines) + "\n")
    return out


@pytest.mark.parametrize(
    "case",
    ["no_exp", "exp_in_milliseconds", "exp_int64_max", "rejected_without_reason", "key_set_change_without_time"],
)
def test_legal_but_odd_events_make_a_report_with_both_engines(
    day: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    """Data jwtobs's own events never hold but a file written or edited elsewhere may: before, each made one or
    both engines exit 4 (internal error: NA in a truth test, an out-of-range date formatted, int64 max cast,
    IndexError on a group of missing reasons, a NaT key-set change drawn)."""
    from jwtobs.cli import main

    def change(record: dict[str, Any]) -> dict[str, Any] | None:
        if "event" in record:  # a key-set change
            if case == "key_set_change_without_time":
                record["time"] = None
            return record
        if case == "no_exp":
            record["exp"] = None
        elif case == "exp_in_milliseconds" and record.get("exp"):
            record["exp"] = record["exp"] * 1000
        elif case == "exp_int64_max" and record.get("outcome") == "rejected":
            record["exp"] = 2**63 - 1
        elif case == "rejected_without_reason" and record.get("outcome") == "rejected":
            record["reason"] = None
        return record

    src = _rewritten(day, tmp_path / case, change)
    for engine in ("pandas", "duckdb"):
        code = main(["report", str(src), "--engine", engine, "--out", str(tmp_path / f"{engine}.html")])
        out = capsys.readouterr()
        assert code == 0, (engine, out.err)
        assert "validations" in out.out and "internal error" not in out.err


def test_hidden_directories_and_symlink_loops_are_not_read_twice(day: Path, tmp_path: Path) -> None:
    """A notebook's .ipynb_checkpoints/ copy or a .git/ object is no second set of events, and a symlink back up
    is walked once (before: the counts doubled; a loop read the same file again at every level)."""
    src = _rewritten(day, tmp_path / "d", lambda r: r)
    n = len(A.load_events(src))
    (src / ".ipynb_checkpoints").mkdir()
    shutil.copy(src / "events.jsonl", src / ".ipynb_checkpoints" / "events-checkpoint.jsonl")
    (src / "sub").mkdir()
    (src / "sub" / "up").symlink_to("..")
    assert len(A.load_events(src)) == n
    assert len(duck.aggregate(src).counts) > 0 and duck.aggregate(src).counts["count"].sum() == n


def test_the_same_events_twice_give_both_engines_the_same_aggregates(day: Path, tmp_path: Path) -> None:
    """A file read twice (copied into the directory): uses of a token at one instant count as one in both engines
    (before: pandas marked the second of two identical rejections 'cont', DuckDB both; 208 vs 148 lateness rows,
    9 vs 10 incidents)."""
    src = _rewritten(day, tmp_path / "twice", lambda r: r)
    shutil.copy(src / "events.jsonl", src / "again.jsonl")
    assert_same(aggregate(A.load_events(src)), duck.aggregate(src))
    changes = A.load_keyset_changes(src)
    by_pandas = A.incidents(A.load_events(src), changes)
    by_duckdb = A.incidents(duck.aggregate(src), changes)
    assert by_pandas[["kind", "start"]].equals(by_duckdb[["kind", "start"]])


def test_a_record_written_twice_is_counted_once_by_both_engines(day: Path, tmp_path: Path) -> None:
    """A copy of the events file next to it and a log shipper's retried batch (its first 500 lines again, in a
    file of their own): every record counts once, so both engines give exactly the aggregates and incidents of
    the events read once (before: every count doubled, and the detector benchmark's quiet days read twice had
    16 false clock skews in 25 days)."""
    once = _rewritten(day, tmp_path / "once", lambda r: r)
    many = _rewritten(day, tmp_path / "many", lambda r: r)
    shutil.copy(many / "events.jsonl", many / "events-copy.jsonl")
    lines = (many / "events.jsonl").read_text().splitlines(keepends=True)
    (many / "retried.jsonl").write_text("".join(lines[:500]))
    expected = aggregate(A.load_events(once))
    assert len(A.load_events(many)) == len(A.load_events(once))
    assert expected.counts["count"].sum() == len(A.load_events(once))
    for got in (aggregate(A.load_events(many)), duck.aggregate(many), duck.aggregate(once)):
        assert_same(expected, got)
    changes = A.load_keyset_changes(once)
    by_once = A.incidents(expected, changes)
    assert len(by_once) >= 3
    pd.testing.assert_frame_equal(A.incidents(duck.aggregate(many), changes), by_once)


def test_an_acceptance_and_a_rejection_of_a_token_at_one_instant_in_either_order(day: Path, tmp_path: Path) -> None:
    """Two replicas that see one token at the same instant, one accepting it and one rejecting it as expired:
    both engines give the same aggregates whichever event comes first in the files (before session 14 pandas
    followed file order and DuckDB ordered ties arbitrarily: ``seen`` differed on a file read twice, once in CI)."""
    records = [
        json.loads(line) for f in sorted((day / "events").glob("*.jsonl")) for line in f.read_text().splitlines()
    ]
    late = {id(r) for r in [r for r in records if r.get("reason") == "JWT_EXPIRED" and r.get("token_fp")][:40]}
    assert late
    results = []
    for order in ("acceptance_after", "acceptance_before"):
        lines = []
        for r in records:
            twin = dict(r, outcome="accepted", reason=None, detail=None) if id(r) in late else None
            pair = [twin, r] if order == "acceptance_before" else [r, twin]
            lines += [json.dumps(x) for x in pair if x is not None]
        src = tmp_path / order
        src.mkdir()
        (src / "events.jsonl").write_text("\n".join(lines) + "\n")
        by_pandas, by_duckdb = aggregate(A.load_events(src)), duck.aggregate(src)
        assert_same(by_pandas, by_duckdb)
        results.append(by_pandas)
    assert_same(results[0], results[1])


def _both_engines(frame: pd.DataFrame, tmp_path: Path) -> tuple[Any, Any]:
    """The events ``frame`` written as JSONL and aggregated by both engines, which must agree."""
    path = tmp_path / "events.jsonl"
    out = frame.assign(time=frame["time"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    out.to_json(path, orient="records", lines=True)
    by_pandas = aggregate(A.load_events(path))
    by_duckdb = duck.aggregate(path)
    assert_same(by_pandas, by_duckdb)
    return by_pandas, by_duckdb


def test_duckdb_and_pandas_agree_on_new_subjects(tmp_path: Path) -> None:
    """``new_subject`` (a subject's tokens: its first near failure, the subject's previous token failing so, an
    earlier token seen) from both engines: a web app's users waking once each, one user failing token after
    token, two tokens of one subject failing at the same instant, one user's tabs failing 30, 59.5, 60, 61 and
    200 s after the first (SUBJECT_TOGETHER's edge), a subject seen on one token only, failures
    without a subject or without ``iat``, and one past SUBJECT_LATE. Same aggregates, same incidents, and
    each kind of ``new_subject`` is there."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "analysis"))
    from test_fleet22_shapes import T0, _ev, _frame, _lunch, _services

    from jwtobs.reasons import Reason

    rows = _lunch(40, T0, [(u, 4 + u % 3) for u in range(0, 40, 2)], 5) + _services(5, T0, T0 + 8 * 3600)
    t = T0 + 2 * 3600
    for c in range(12):  # one user failing again every cycle, 200 s past exp
        iat, exp = t + 1200 * c - 900, t + 1200 * c
        rows += [
            _ev(iat + 60, "web", f"dev-{c}", iat, exp, sub="dev"),
            _ev(exp + 200, "web", f"dev-{c}", iat, exp, Reason.EXPIRED, sub="dev"),
        ]
    for k in (1, 2):  # two tokens of one subject failing at one instant
        rows += [
            _ev(T0 + 100 * k, "web", f"tie-{k}", T0, T0 + 900, sub="tie"),
            _ev(T0 + 1000, "web", f"tie-{k}", T0, T0 + 900, Reason.EXPIRED, sub="tie"),
        ]
    for k, d in enumerate((0, 30, 59.5, 60, 61, 200)):  # one user's tabs resuming together, and not quite
        rows += [
            _ev(T0 + 20_000 + k, "web", f"tab-{k}", T0 + 19_000 + k, T0 + 19_900 + k, sub="tabs"),
            _ev(T0 + 20_000 + d, "web", f"tab-{k}", T0 + 19_000 + k, T0 + 19_900 + k, Reason.EXPIRED, sub="tabs"),
        ]
    rows += [_ev(T0 + 5000, "web", "nosub", T0, T0 + 4000, Reason.EXPIRED)]
    rows += [_ev(T0 + 9000, "web", "far", T0, T0 + 4000, Reason.EXPIRED, sub="user-1")]
    noiat = _ev(T0 + 7300, "web", "noiat", T0, T0 + 7200, Reason.EXPIRED, sub="user-3")
    rows += [{**noiat, "iat": None, "nbf": None}]
    by_pandas, by_duckdb = _both_engines(_frame(rows), tmp_path)
    late = by_duckdb.lateness[by_duckdb.lateness["outcome"] == "rejected"]
    assert set(late["new_subject"]) == {True, False}
    assert int(late.loc[late["new_subject"], "count"].sum()) >= 15
    pd.testing.assert_frame_equal(A.incidents(by_pandas), A.incidents(by_duckdb))


def test_duckdb_and_pandas_agree_on_visits(tmp_path: Path) -> None:
    """Visits (``CONCURRENT``: a token's uses each within 0.5 s of the one before are one): a web app's page
    loads (1-8 calls at once) with users waking after lunch and a device 8 min behind; one token's calls 1 ms
    less than ``CONCURRENT`` and exactly that apart (the edge), a visit chained over 1.6 s of calls 0.4 s
    apart, a token expiring in the middle of a visit (accepted, then rejected calls), two identical rejected
    events. Same aggregates, same incidents; ``sibling`` and ``paced`` both there, and only the first rejected
    instant of a visit paced."""
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "analysis"))
    from test_fleet22_shapes import T0, _behind, _ev, _frame, _lunch, _services, _with_page_loads

    from jwtobs.analysis.aggregate import CONCURRENT
    from jwtobs.reasons import Reason

    wake = [(u, 4 + u % 3) for u in range(0, 40, 2)]
    rows = _with_page_loads(_lunch(40, T0, wake, 5) + _behind(T0 + 2 * 3600 + 17, T0 + 8 * 3600), 7)
    rows += _services(5, T0, T0 + 8 * 3600)
    t, iat, exp = T0 + 30_000, T0 + 29_200, T0 + 30_000

    def use(fp: str, at: float, rejected: bool = True) -> dict[str, Any]:
        return _ev(at, "edge", fp, iat, exp, Reason.EXPIRED if rejected else None, sub=fp)

    for fp in ("a", "b", "c", "d", "e"):
        rows += [use(fp, iat + s, False) for s in range(0, 780, 60)]
    rows += [use("a", t + 10), use("a", t + 10 + CONCURRENT - 0.001), use("a", t + 70)]  # one visit, then paced
    rows += [use("b", t + 10), use("b", t + 10 + CONCURRENT), use("b", t + 70)]  # two visits
    rows += [use("c", t + 10 + 0.4 * k) for k in range(5)] + [use("c", t + 80)]  # one chained visit
    rows += [use("d", t - 0.2, False), use("d", t + 0.1), use("d", t + 0.3)]  # expiring in a visit
    rows += [use("e", t + 20), use("e", t + 20), use("e", t + 90)]  # two identical events
    by_pandas, by_duckdb = _both_engines(_frame(rows), tmp_path)
    late = by_duckdb.lateness[by_duckdb.lateness["outcome"] == "rejected"]
    assert set(late["sibling"]) == {True, False} and set(late["paced"]) == {True, False}
    assert not (late["sibling"] & late["paced"]).any()
    edge = late[late["client_id"] == "edge"]
    # a: 2 visits (1 sibling); b: 3 visits; c: 2 visits (4 siblings); d: 1 visit (1 sibling); e: 2 visits, the
    # identical pair one instant (no sibling of each other)
    assert int(edge.loc[edge["sibling"], "count"].sum()) == 1 + 0 + 4 + 1 + 0
    assert int(edge.loc[edge["cont"], "count"].sum()) == 1 + 2 + 1 + 0 + 1
    pd.testing.assert_frame_equal(A.incidents(by_pandas), A.incidents(by_duckdb))
