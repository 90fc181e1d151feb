"""A few devices of a client of many users with their own clocks off are background, not a ``clock_skew`` of the
client (session 34). Found by the blind fleet34 (benchmarks/fleet34.py): its apps of hundreds of devices have a
few % with clocks minutes behind, each failing token after token all day; 9 false ``clock_skew`` on its 4 quiet
days, 7 of them one or two subjects (``sub_hash``) of a client whose other users were accepted meanwhile. A
client's own clock (a service, a kiosk fleet's time server) fails across its users and is still reported.
``detect.SKEW_DEVICE_PEERS``, ``detect.SKEW_DEVICE_SHARE``; the ``subject`` column of ``lateness``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import jwtobs.analysis as A
import jwtobs.analysis.detect as D

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_detect import _cycles, _frame_of

T0 = 1_800_000_000
CYCLES = 8
KEPT = [40, 100, 160, 220]  # a clock 4 min behind keeps its token after the 401s, a minute apart


def _device(n: int, fails: list[list[int]]) -> list[dict[str, Any]]:
    """Device ``n`` of the client ``app``: its own hourly tokens and subject, its uses 7 min apart from the
    others'; a stale token of it replayed once (a laptop waking: 3 h past exp) as every real user does now
    and then."""
    name = f"user-{n:02d}"
    rows = _cycles(name, fails, t0=T0 + 25 * n, step=60)
    stale = T0 + 3600 * 2 + 25 * n
    rows.append(
        {
            "time": T0 + 3600 * 5 + 97 * n,
            "outcome": "rejected",
            "reason": "JWT_EXPIRED",
            "token_fp": f"{name}-old",
            "iat": stale - 3600 * 4,
            "nbf": stale - 3600 * 4,
            "exp": stale - 3600 * 3,
        }
    )
    for r in rows:
        r["client_id"] = "app"
        r["sub_hash"] = f"s1:{name}"
    return rows


def _fleet(own_clock: set[int], users: int = 14) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for n in range(users):
        fails = [[] if n not in own_clock or k < 3 else list(KEPT) for k in range(CYCLES)]
        rows += _device(n, fails)
    return _frame_of(rows)


def test_one_device_with_its_own_clock_is_no_incident_of_a_client_of_many_users() -> None:
    events = _fleet({0})
    agg = A.aggregate(events)
    # the subject of every lateness row is the token's sub_hash
    assert set(agg.lateness["subject"].dropna()) == {f"s1:user-{n:02d}" for n in range(14)}
    # without the rule this is a clock_skew of app (the device kept its token after its 401s, cycle after cycle)
    ctx = D._ctx(agg)
    assert [r["client_id"] for r in D._clock_skews(ctx) if r["kind"] == "clock_skew"] == ["app"]
    inc = A.clock_skew_incidents(agg)
    assert inc.empty, inc[["client_id", "start", "evidence"]].to_string()
    assert A.incidents(events).query("kind == 'clock_skew'").empty


def test_the_clock_of_every_user_of_the_client_is_an_incident() -> None:
    inc = A.clock_skew_incidents(_fleet(set(range(14))))
    assert list(inc["client_id"]) == ["app"], inc
    assert inc["start"].iloc[0] <= pd.Timestamp(T0 + 4 * 3600 + 40, unit="s", tz="UTC").floor("min")


@pytest.mark.parametrize("own", [{0, 1, 2}, {0, 1, 2, 3}])
def test_more_users_failing_than_a_few_is_the_client(own: set[int]) -> None:
    """1 in 10 users (at least one) may have its own clock off: with 14 users, one; two or more users failing
    together is the client's clock (as the kiosks drifting together in fleet34)."""
    assert int(D.SKEW_DEVICE_SHARE * 14) == 1
    inc = A.clock_skew_incidents(_fleet(own))
    assert list(inc["client_id"]) == ["app"], inc


def test_a_client_of_few_users_keeps_its_incident() -> None:
    """A service's replicas share a subject or are a handful: fewer than SKEW_DEVICE_PEERS subjects, the rule does
    not apply (one replica's clock behind is the service's incident)."""
    inc = A.clock_skew_incidents(_fleet({0}, users=D.SKEW_DEVICE_PEERS - 1))
    assert list(inc["client_id"]) == ["app"], inc


def test_without_subjects_nothing_changes() -> None:
    events = _fleet({0})
    events["sub_hash"] = pd.Series(pd.NA, index=events.index, dtype=events["sub_hash"].dtype)
    agg = A.aggregate(events)
    assert agg.lateness["subject"].isna().all()
    assert list(A.clock_skew_incidents(agg)["client_id"]) == ["app"]


def test_the_duckdb_engine_gives_the_same_subjects(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    from jwtobs.analysis import duck

    events = _fleet({0, 1})
    path = tmp_path / "events.parquet"
    events.to_parquet(path)
    a, b = A.aggregate(A.load_events(path)), duck.aggregate(path)
    pd.testing.assert_frame_equal(a.lateness, b.lateness, check_like=False)
    assert A.clock_skew_incidents(a).equals(A.clock_skew_incidents(b))
