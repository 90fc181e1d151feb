"""Analysis over simulated data: loading, rates, every detector against the ground truth, reports."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

import jwtobs.analysis as A
from jwtobs.analysis.evaluate import load_labels, match_incidents
from jwtobs.analysis.report import build_report
from jwtobs.simulate import Background, Scenario, default_scenario, simulate


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day")
    # no background until the detectors know it (#18); the simulator's tests cover the background
    simulate(replace(default_scenario(seed=11, duration=10 * 3600), background=Background.none()), out)
    return out


@pytest.fixture(scope="module")
def events(day: Path) -> pd.DataFrame:
    return A.load_events(day)


def test_load_dtypes(events: pd.DataFrame) -> None:
    assert str(events["time"].dtype).startswith("datetime64") and str(events["time"].dt.tz) == "UTC"
    assert str(events["exp"].dtype) == "Int64"
    assert isinstance(events["reason"].dtype, pd.CategoricalDtype)
    assert events["time"].is_monotonic_increasing
    assert list(events.columns)[:3] == ["schema", "time", "outcome"]


def test_parquet_and_partitions_match_jsonl(day: Path, events: pd.DataFrame, tmp_path: Path) -> None:
    replica = day / "events" / "api-orders-0"  # the simulator writes one file per API replica
    one = A.load_events(replica.with_suffix(".parquet"))
    cols = ["time", "outcome", "reason", "kid", "client_id", "exp"]
    assert one[cols].equals(A.load_events(replica.with_suffix(".jsonl"))[cols])
    # the simulator's directory: validations once (Parquet), key-set changes from the JSONL
    assert len(A.load_events(day)) == len(events)
    assert len(A.load_keyset_changes(day)) > 0
    # Hive-style partitions of JSONL and Parquet mixed
    half = len(one) // 2
    lines = [ln for ln in replica.with_suffix(".jsonl").read_text().splitlines() if '"event"' not in ln]
    (tmp_path / "date=a").mkdir()
    (tmp_path / "date=b").mkdir()
    (tmp_path / "date=a" / "part.jsonl").write_text("\n".join(lines[:half]) + "\n{torn")
    one.iloc[half:].to_parquet(tmp_path / "date=b" / "part.parquet")
    both = A.load_events(tmp_path)
    assert both[cols].equals(one[cols])


def test_empty_and_missing(tmp_path: Path) -> None:
    (tmp_path / "e.jsonl").write_text("")
    df = A.load_events(tmp_path / "e.jsonl")
    assert df.empty and "reason" in df.columns
    assert A.incidents(df).columns.tolist() == A.INCIDENT_COLUMNS
    with pytest.raises(FileNotFoundError):
        A.load_events(tmp_path / "nope.jsonl")


def test_rates_and_breakdowns(events: pd.DataFrame) -> None:
    fr = A.failure_rates(events, "1h")
    assert fr["total"].sum() == len(events)
    assert fr["rejected"].sum() == (events["outcome"] == "rejected").sum()
    assert fr["rate"].between(0, 1).all()
    by = A.failure_rates(events, "1h", by="profile")
    assert by["total"].sum() == len(events)
    top = A.top_reasons(events, 3)
    assert len(top) == 3 and top["count"].is_monotonic_decreasing
    bd = A.breakdown(events, "client_id")
    assert bd["total"].sum() == len(events)


def test_incidents_match_ground_truth(day: Path, events: pd.DataFrame) -> None:
    inc = A.incidents(events, A.load_keyset_changes(day))
    assert inc.columns.tolist() == A.INCIDENT_COLUMNS
    assert set(inc["kind"]) <= set(A.INCIDENT_KINDS)
    labels = load_labels(day / "labels.json")
    score = match_incidents(inc, labels)
    assert score.recall == 1.0, score.table
    assert score.precision >= 0.9, inc
    assert max(score.onset_errors_s) <= 120


def test_works_without_keyset_changes(day: Path, events: pd.DataFrame) -> None:
    inc = A.incidents(events)
    score = match_incidents(inc, load_labels(day / "labels.json"))
    assert score.recall == 1.0 and score.precision >= 0.9


def test_quiet_fleet_has_no_incidents(tmp_path: Path) -> None:
    bg = replace(Background.none(), malformed_rate=0.001)  # the background the detectors know today (#18)
    simulate(Scenario(seed=2, duration=8 * 3600, clients=8, background=bg), tmp_path, parquet=False)
    df = A.load_events(tmp_path)
    assert (df["outcome"] == "rejected").sum() > 0  # background noise exists
    assert A.incidents(df, A.load_keyset_changes(tmp_path)).empty


def test_clock_skew_table(events: pd.DataFrame, day: Path) -> None:
    labels = load_labels(day / "labels.json")
    skewed = labels.loc[labels["kind"] == "clock_skew", "client_id"].iloc[0]
    table = A.clock_skew(events)
    assert table.index[0] == skewed
    assert table.loc[skewed, "estimated_offset_s"] < -120


def test_report_html(day: Path, tmp_path: Path) -> None:
    rep = build_report(day, day / "labels.json")
    path = rep.write_html(tmp_path / "r.html", png_dir=tmp_path / "png")
    text = path.read_text()
    assert text.count("data:image/png;base64,") == 5
    assert "<td>nan</td>" not in text and "<td>None</td>" not in text and "<td><NA></td>" not in text
    assert "recall 1.00" in rep.summary()
    assert len(list((tmp_path / "png").glob("*.png"))) == 5


def test_report_time_axes_are_utc_and_labelled(day: Path) -> None:
    """Every time axis of the report says UTC and draws UTC whatever matplotlib's configured zone (a
    ``timezone`` in the user's matplotlibrc); count axes have integer ticks. The rejection-rate and key
    timeline figures once had neither label nor formatter of their own."""
    from datetime import UTC

    import matplotlib
    from matplotlib.dates import DateFormatter, num2date

    rep = build_report(day, day / "labels.json")
    with matplotlib.rc_context({"timezone": "Asia/Kolkata"}):  # +05:30: a local formatter would shift labels
        figures = rep.figures()
        time_axes = 0
        for title, fig in figures.items():
            if title == "Clock skew":  # a histogram of seconds past exp, no time axis
                continue
            ax = fig.axes[-1] if title in ("Rejection rate by reason", "Clock offset per client") else fig.axes[0]
            assert ax.get_xlabel() == "time (UTC)", title
            fmt = ax.xaxis.get_major_formatter()
            assert isinstance(fmt, DateFormatter), title
            fig.canvas.draw()
            ticks = [(t.get_position()[0], t.get_text()) for t in ax.get_xticklabels() if t.get_text()]
            assert ticks, title
            for at, text in ticks:  # the label is the tick's UTC time, not the configured zone's
                assert num2date(at, tz=UTC).strftime("%m-%d %H:%M") == text, (title, text)
            time_axes += 1
        assert time_axes == 4
        counts = figures["Rejection rate by reason"].axes[-1]
        assert counts.get_ylabel() == "validations per 10min"
        assert all(float(v).is_integer() for v in counts.get_yticks())


def test_the_summary_says_when_accepted_tokens_name_no_client(events: pd.DataFrame) -> None:
    """Tokens naming no client (docs/analysis.md, *Tokens without a client*): the summary says what the
    per-client detectors cannot see; with client ids (the simulator's tokens carry azp/client_id) it says nothing."""
    from jwtobs.analysis.report import Report, client_coverage_note

    assert events.loc[events["outcome"] == "accepted", "client_id"].notna().all()
    assert client_coverage_note(events) is None
    empty = pd.DataFrame(columns=events.columns)
    inc = pd.DataFrame()
    assert "name no client" not in Report(events, inc, empty, None).summary()
    clientless = events.assign(client_id=None)
    note = client_coverage_note(clientless)
    assert note is not None and note.startswith("Note: 100.0% of the accepted validations name no client (azp, ")
    assert note in Report(clientless, inc, empty, None).summary().splitlines()[1]
    half = events.copy()
    acc = half.index[half["outcome"] == "accepted"]
    half.loc[acc[: len(acc) // 2 - 1], "client_id"] = None  # just over half still name theirs
    assert client_coverage_note(half) is None
    assert client_coverage_note(events.iloc[0:0]) is None


def test_tokens_naming_no_client_still_show_key_and_audience_incidents(events: pd.DataFrame, day: Path) -> None:
    """A clientless issuer (its accepted tokens name no client: detect.CLIENTLESS_SHARE): a token of one of its
    keys rejected after its signature verified, or for that kid unknown, is its own, not an unknown sender's.
    Before, every such rejection was an unknown sender's: kid_before_publish, key_removed_early,
    audience_misconfig and type_confusion came out as attack_burst or nothing. A clock skew needs a client; a
    signature spike on a real kid cannot be told from forged tokens naming it, and is reported as attack_burst."""
    from jwtobs.analysis import detect

    labels = load_labels(day / "labels.json")
    clientless = events.assign(client_id=None)
    inc = A.incidents(clientless, A.load_keyset_changes(day))
    score = match_incidents(inc, labels).table.set_index("kind")["matched"].to_dict()
    assert score == {
        "kid_before_publish": True,
        "key_removed_early": True,
        "jwks_outage": True,
        "signature_spike": False,
        "clock_skew": False,
        "audience_misconfig": True,
        "type_confusion": True,
        "attack_burst": True,
    }
    spike = labels.set_index("kind").loc["signature_spike"]
    bursts = inc.loc[inc["kind"] == "attack_burst", "start"]
    assert ((bursts >= spike["start"]) & (bursts <= spike["end"])).any()
    assert inc["client_id"].isna().all()
    # which rejections count as the issuer's own: signed (claims checked after the signature) or its kid unknown
    ctx = detect._ctx(clientless)
    iss = ctx.clientless[0]
    kid = next(k for (i, k) in ctx.kid_first if i == iss)
    rows = pd.DataFrame(
        {
            "issuer": [iss] * 5 + ["https://other.test"],
            "kid": [kid, kid, kid, "never-accepted", kid, kid],
            "client_id": [None] * 6,
            "reason": [
                "JWT_AUDIENCE_MISMATCH",
                "JWT_UNKNOWN_KID",
                "JWT_TYPE_MISMATCH",  # (checked before the signature: a scanner copying the kid gets it)
                "JWT_UNKNOWN_KID",
                "JWT_BAD_SIGNATURE",
                "JWT_EXPIRED",
            ],
            "i": [0] * 6,
        }
    )
    assert ctx.known(rows).tolist() == [True, True, False, False, False, False]
    assert detect._ctx(events).clientless == []  # the simulator's tokens name their clients


def test_lazy_from_prometheus() -> None:
    assert callable(A.from_prometheus)
    with pytest.raises(AttributeError):
        _ = A.no_such_thing  # type: ignore[attr-defined]


def test_demo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jwtobs.cli import main

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--hours", "3"]) == 0
    captured = capsys.readouterr()
    assert "Detected vs injected" in captured.out
    assert "simulating" in captured.err
    assert (out / "report.html").exists() and any((out / "events").glob("*.parquet"))
    assert main(["report", str(out), "--out", str(tmp_path / "r.html")]) == 0
    shutil.rmtree(out)
