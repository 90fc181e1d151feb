"""The per-minute aggregate shape (the contract the DuckDB and PromQL engines reproduce) and `jwtobs report`
on bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import jwtobs.analysis as A
from jwtobs.analysis.aggregate import (
    COUNTS_SCHEMA,
    LATENESS_EDGES,
    LATENESS_SCHEMA,
    OTHER,
    distinct_events,
    lateness_quantile,
)
from jwtobs.kinds import INCIDENT_KINDS


def _events(rows: list[dict[str, object]]) -> pd.DataFrame:
    base = {"schema": 1, "library": "pyjwt", "profile": "api", "issuer": "https://idp", "alg": "RS256", "typ": "at+jwt"}
    df = pd.DataFrame([{**base, **r} for r in rows])
    for c in ("detail", "jti_hash", "sub_hash", "tenant", "nbf", "iat", "trace_id", "span_id", "service"):
        if c not in df:
            df[c] = None
    df["token_bytes"] = 500
    df["duration_s"] = 0.001
    df["time"] = pd.to_datetime(df["time"], unit="s", utc=True)
    for c in ("exp", "nbf", "iat"):
        df[c] = df[c].astype("Int64")
    return df


def test_schema_and_bounded_labels() -> None:
    t0 = 1_800_000_000
    rows: list[dict[str, object]] = []
    for i in range(30):  # a client using one token across its exp (leeway 60 s): accepted, then rejected
        t = t0 + 20 * i
        exp = t0 + 300
        ok = t <= exp + 60
        rows.append(
            {
                "time": t,
                "outcome": "accepted" if ok else "rejected",
                "reason": None if ok else "JWT_EXPIRED",
                "client_id": "c1",
                "kid": "k1",
                "token_fp": "fp1",
                "exp": exp,
            }
        )
    for i in range(12):  # scanners: random kids and client ids
        rows.append(
            {
                "time": t0 + i,
                "outcome": "rejected",
                "reason": "JWT_UNKNOWN_KID",
                "client_id": f"x{i}",
                "kid": f"r{i}",
                "token_fp": f"s{i}",
                "exp": t0 + 3600,
            }
        )
    rows.append(
        {
            "time": t0 + 5000,
            "outcome": "rejected",
            "reason": "JWT_EXPIRED",
            "client_id": "c1",
            "kid": "k1",
            "token_fp": "old",
            "exp": t0,
        }
    )  # a stale token replayed long after
    agg = A.aggregate(_events(rows))
    assert {c: str(t) for c, t in agg.counts.dtypes.items()} == COUNTS_SCHEMA
    assert {c: str(t) for c, t in agg.lateness.dtypes.items()} == LATENESS_SCHEMA
    assert agg.counts["count"].sum() == len(rows)
    assert set(agg.counts["kid"].dropna()) == {"k1", OTHER}  # random kids folded
    assert set(agg.counts["client_id"].dropna()) == {"c1", OTHER}
    lat = agg.lateness
    rej = lat[lat["outcome"] == "rejected"]
    # kept in use across exp and after the first 401 (t0+400 .. t0+580)
    assert rej.loc[rej["cont"], "count"].sum() == 10
    assert rej.loc[~rej["cont"], "count"].sum() == 2  # the first 401 (a lazy refresher stops there), the stale replay
    # seen: every rejection of the token in use, the first 401 included; not the stale replay
    assert rej.loc[rej["seen"], "count"].sum() == 11
    assert (lat.loc[lat["cont"], "seen"]).all()
    assert lat.loc[lat["outcome"] == "accepted", "le"].max() == 60.0
    assert set(lat["le"]) <= set(LATENESS_EDGES)
    assert A.leeway(agg) == {"api": 60.0}
    assert lateness_quantile(lat.iloc[0:0], 0.5) != lateness_quantile(lat.iloc[0:0], 0.5)  # NaN when empty


def test_a_slow_clients_pause_does_not_break_its_token_chain() -> None:
    """A token used at an irregular pace (a slow client at night) whose last acceptance before ``exp`` is
    followed by a pause longer than 3x its median gap, but not longer than 1.5x its longest one: the
    rejections after ``exp`` are still the same token in use (``seen``, and ``cont`` after the first)."""
    t0 = 1_800_000_000
    gaps = [40, 30, 500, 35, 45, 30, 420, 40]  # median 40, longest 500
    times = [t0 + sum(gaps[:i]) for i in range(len(gaps) + 1)]
    exp = times[-1] + 680
    rows: list[dict[str, object]] = [
        {"time": t, "outcome": "accepted", "reason": None, "client_id": "c1", "kid": "k1", "token_fp": "fp", "exp": exp}
        for t in times
    ]
    last = times[-1]
    for t in (exp + 20, exp + 90, exp + 200):  # 700 s after the last acceptance: > 3 x 40 s, < 1.5 x 500 s
        rows.append(
            {
                "time": t,
                "outcome": "rejected",
                "reason": "JWT_EXPIRED",
                "client_id": "c1",
                "kid": "k1",
                "token_fp": "fp",
                "exp": exp,
            }
        )
    assert exp + 20 - last > 3 * 40
    lat = A.aggregate(_events(rows)).lateness
    rej = lat[lat["outcome"] == "rejected"]
    assert rej.loc[rej["seen"], "count"].sum() == 3
    assert rej.loc[rej["cont"], "count"].sum() == 2


def test_paced_is_a_use_at_the_tokens_own_pace() -> None:
    """``paced``: a rejection of a token in use whose gap since the token's previous use is within 1-8x its
    median accepted gap (20 s here): a device going on at its pace is; the uses of a burst seconds apart,
    and a first use after a pause (> 8 x 20 s), are not."""
    t0 = 1_800_000_000
    exp = t0 + 600
    rows: list[dict[str, object]] = [
        {"time": t, "outcome": "accepted", "client_id": "c1", "kid": "k1", "token_fp": fp, "exp": exp}
        for fp in ("device", "pool")
        for t in range(t0, exp + 1, 20)
    ]
    fails = {"device": [exp + 25, exp + 50, exp + 72, exp + 75], "pool": [exp + 200, exp + 202, exp + 205]}
    rows += [
        {"time": t, "outcome": "rejected", "reason": "JWT_EXPIRED", "client_id": "c1", "kid": "k1", "token_fp": fp}
        | {"exp": exp}
        for fp, ts in fails.items()
        for t in ts
    ]
    lat = A.aggregate(_events(rows)).lateness
    rej = lat[lat["outcome"] == "rejected"]
    assert rej["seen"].all()
    # device: 25, 25, 22 s after the previous use (paced), then 3 s (a burst); pool: 200 s (a pause), 2, 3 s
    assert rej.loc[rej["paced"], "count"].sum() == 3
    assert rej.loc[rej["paced"], "le"].max() <= 80.0
    assert lat.loc[lat["outcome"] == "accepted", "paced"].all()


def test_a_record_written_twice_counts_once_and_two_validations_at_one_instant_twice() -> None:
    """Rows equal in every field of the record key are one record written twice; two validations of one token
    at the same instant (two replicas) differ in their measured duration and are both counted."""
    exp = 1_700_000_000
    rows = [
        {
            "time": exp + 90,
            "outcome": "rejected",
            "reason": "JWT_EXPIRED",
            "client_id": "c",
            "kid": "k",
            "token_fp": "t1",
            "exp": exp,
        },
        {
            "time": exp - 60,
            "outcome": "accepted",
            "reason": None,
            "client_id": "c",
            "kid": "k",
            "token_fp": "t1",
            "exp": exp,
        },
    ]
    df = _events(rows)
    twice = pd.concat([df, df.iloc[[0]], df], ignore_index=True)
    assert len(distinct_events(twice)) == 2
    once, again = A.aggregate(df), A.aggregate(twice)
    pd.testing.assert_frame_equal(once.counts, again.counts)
    pd.testing.assert_frame_equal(once.lateness, again.lateness)
    other_replica = df.iloc[[0]].assign(duration_s=0.0023, service="api-1")
    both = A.aggregate(pd.concat([df, other_replica], ignore_index=True))
    rejected = both.counts[both.counts["outcome"] == "rejected"]
    assert int(rejected["count"].sum()) == 2


def test_kinds_are_one_table() -> None:
    from jwtobs.analysis.detect import INCIDENT_KINDS as detect_kinds
    from jwtobs.kinds import KIND_INFO, SIMULATED_KINDS
    from jwtobs.simulate.scenario import SIMULATED_KINDS as sim_kinds

    assert detect_kinds is INCIDENT_KINDS and sim_kinds is SIMULATED_KINDS
    assert SIMULATED_KINDS == tuple(k for k in INCIDENT_KINDS if KIND_INFO[k].simulated)
    from jwtobs.analysis.plots import _KIND_COLORS

    assert len(set(_KIND_COLORS.values())) == len(INCIDENT_KINDS)  # every kind its own colour in the figures


def test_analysis_does_not_import_the_simulator() -> None:
    import ast

    for path in Path(A.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("jwtobs.simulate"), path


def test_report_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jwtobs.cli import main

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here\n")
    (tmp_path / "app.log").write_text("Dec  1 10:00:00 host sshd[1]: Accepted publickey for root\n" * 5)
    pd.DataFrame({"a": range(1000)}).to_parquet(tmp_path / "ok.parquet")
    (tmp_path / "trunc.parquet").write_bytes((tmp_path / "ok.parquet").read_bytes()[:300])
    (tmp_path / "other.parquet").write_bytes((tmp_path / "ok.parquet").read_bytes())
    for bad in ("missing", "empty", "app.log", "trunc.parquet", "other.parquet"):
        out = tmp_path / f"{bad}.html"
        assert main(["report", str(tmp_path / bad), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("jwtobs report: ") and err.count("\n") == 1 and "Traceback" not in err, err
        assert not out.exists()


def test_new_subject_is_a_subjects_first_near_failure_in_a_while() -> None:
    """``new_subject``, failure by failure: a user's second token failing (its first token seen before, no
    failure before) is new; the same user's other tab, its own token failing 15 s later, is new too (tabs
    resuming together: within SUBJECT_TOGETHER); its next token, minted on that failure and failing a cycle
    later, is not (the subject failing again within SUBJECT_WINDOW); seven hours after that, new again; a token
    renewed 40 min after that failure and failing again is not; a subject seen on one token only is never new
    (nothing to compare with); nor a failure past SUBJECT_LATE; a 4-hour token's subject failing again 8 h after
    it, on an 8-hour token, is not new (the window is SUBJECT_CYCLES x the lifetime); a token failing a second
    time is the subject failing again, not new; without ``iat`` the window is SUBJECT_WINDOW."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from test_fleet22_shapes import T0, _ev, _frame

    from jwtobs.analysis.aggregate import SUBJECT_CYCLES, SUBJECT_LATE, SUBJECT_TOGETHER, SUBJECT_WINDOW
    from jwtobs.reasons import Reason

    assert SUBJECT_WINDOW == 6 * 3600 and SUBJECT_CYCLES > 1 and SUBJECT_LATE < 3600 and 15 < SUBJECT_TOGETHER < 600

    def token(sub: str, fp: str, iat: int, life: int, fail_after: int | None, *, no_iat: bool = False) -> list[Any]:
        out = [_ev(iat + 30, "web", fp, iat, iat + life, sub=sub)]
        if fail_after is not None:
            out.append(_ev(iat + life + fail_after, "web", fp, iat, iat + life, Reason.EXPIRED, sub=sub))
        if no_iat:
            for e in out:
                e["iat"] = None
        return out

    rows = token("u", "u1", T0, 900, None)
    rows += token("u", "u2", T0 + 1000, 900, 100)  # fails at T0 + 2000: new
    rows += token("u", "u2b", T0 + 1050, 900, 65)  # the other tab's, fails at T0 + 2015: new
    rows += token("u", "u3", T0 + 2100, 900, 100)  # minted on that failure, fails at T0 + 3100: again
    rows += token("u", "u4", T0 + 3100 + 7 * 3600, 900, 100)  # fails 7 h later: new
    rows += token("u", "u5", T0 + 4100 + 7 * 3600 + 2400, 900, 100)  # minted 40 min after that failure: again
    rows += token("v", "v1", T0, 900, 200)  # one token only: not new
    rows += token("w", "w1", T0, 900, None) + token("w", "w2", T0 + 1000, 900, 3600)  # past SUBJECT_LATE
    x1 = T0 + 4 * 3600 + 100  # x1's failure; x2 (8 h) renewed on it, failing 8 h after: not new (x1: the first)
    rows += token("x", "x1", T0, 4 * 3600, 100) + token("x", "x2", x1 + 60, 8 * 3600 - 160, 100)
    y0 = T0 + 20_000
    rows += token("y", "y1", y0, 900, None) + token("y", "y2", y0 + 1000, 900, 100)  # new ...
    rows.append(_ev(y0 + 1900 + 400, "web", "y2", y0 + 1000, y0 + 1900, Reason.EXPIRED, sub="y"))  # ... kept: again
    z0 = T0 + 40_000  # no iat (no lifetime): z3 fails 7 h after z2, past SUBJECT_WINDOW: new
    rows += token("z", "z1", z0, 900, None, no_iat=True) + token("z", "z2", z0 + 1000, 900, 100, no_iat=True)
    rows += token("z", "z3", z0 + 1000 + 7 * 3600, 900, 100, no_iat=True)
    lat = A.aggregate(_frame(rows)).lateness
    rej = lat[lat["outcome"] == "rejected"].sort_values("minute")
    got = [(m.strftime("%H:%M"), bool(n)) for m, n in zip(rej["minute"], rej["new_subject"], strict=True)]
    at = lambda s: pd.Timestamp(s, unit="s", tz="UTC").strftime("%H:%M")  # noqa: E731
    want = sorted(
        [
            (at(T0 + 2000), True),
            (at(T0 + 2015), True),
            (at(T0 + 3100), False),
            (at(T0 + 4100 + 7 * 3600), True),
            (at(T0 + 5000 + 7 * 3600 + 2400 + 100), False),
            (at(T0 + 900 + 200), False),
            (at(T0 + 1900 + 3600), False),
            (at(x1), False),
            (at(x1 + 8 * 3600), False),
            (at(y0 + 1900 + 100), True),
            (at(y0 + 1900 + 400), False),
            (at(z0 + 2000), True),
            (at(z0 + 2000 + 7 * 3600), True),
        ]
    )
    assert sorted(got) == want
