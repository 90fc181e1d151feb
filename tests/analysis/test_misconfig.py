"""Client-side misconfigurations that come a few at a time: one accepted client whose tokens are rejected for
their audience (or ``typ``) every few minutes - a service calling an API now and then, or refreshing after
each 401 and getting the same wrong token again - is below the count series' CUSUM (built for bursts of
0.3 a minute and more); the sparse rule (``detect._sparse``) finds it against the client's own rate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import jwtobs.analysis as A
import jwtobs.analysis.detect as D

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_detect import _frame_of

T0 = 1_800_000_000


def _client(
    client: str, step: int, hours: float, rejected: list[int], reason: str, typ: str = "at+jwt"
) -> list[dict[str, Any]]:
    """A client accepted every ``step`` s for ``hours`` (hourly tokens), and rejected with ``reason`` at
    ``rejected`` (seconds from the start; instead of the acceptance due then)."""
    rows: list[dict[str, Any]] = []
    bad = set(rejected)
    for t in range(T0, T0 + int(hours * 3600), step):
        k = (t - T0) // 3600
        iat, exp = T0 + 3600 * k, T0 + 3600 * (k + 1)
        rows.append(
            {
                "time": t,
                "outcome": "accepted",
                "client_id": client,
                "token_fp": f"{client}-{k}",
                "iat": iat,
                "nbf": iat,
                "exp": exp,
            }
        )
    for s in sorted(bad):
        t = T0 + s
        rows.append(
            {
                "time": t,
                "outcome": "rejected",
                "reason": reason,
                "client_id": client,
                "token_fp": f"{client}-bad-{s}",
                "iat": t - 5,
                "nbf": t - 5,
                "exp": t + 3595,
                "typ": typ,
            }
        )
    return rows


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    typ = {r["token_fp"]: r["typ"] for r in rows if "typ" in r}
    df = _frame_of([{k: v for k, v in r.items() if k != "typ"} for r in rows])
    df["typ"] = pd.Categorical(df["token_fp"].map(lambda fp: typ.get(fp, "at+jwt")), categories=["at+jwt", "JWT"])
    return df


# a batch service calling every 9 min from 3 h on, each call with a freshly fetched, wrongly scoped token
SPARSE = [3 * 3600 + 540 * k for k in range(6)]
REASONS = [("JWT_AUDIENCE_MISMATCH", "at+jwt", "audience_misconfig"), ("JWT_TYPE_MISMATCH", "JWT", "type_confusion")]


@pytest.mark.parametrize(("reason", "typ", "kind"), REASONS)
def test_one_client_rejected_every_few_minutes_is_found(
    reason: str, typ: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _client("batch", 60, 6, SPARSE, reason, typ)
    for n in range(6):  # the rest of the fleet, healthy
        rows += _client(f"svc-{n}", 20, 6, [], reason)
    df = _frame(rows)
    inc = A.incidents(df)
    found = inc[inc["kind"] == kind]
    assert list(found["client_id"]) == ["batch"], inc[["kind", "client_id", "evidence"]]
    assert int(found["count"].iloc[0]) == len(SPARSE)
    onset = (found["start"].iloc[0] - pd.Timestamp(T0 + SPARSE[0], unit="s", tz="UTC")).total_seconds()
    assert abs(onset) <= 120
    # without the sparse rule the count series alone misses it
    monkeypatch.setattr(D, "MISCONFIG_SPARSE_FLOOR", 1e9)
    assert kind not in set(A.incidents(df)["kind"])


@pytest.mark.parametrize(("reason", "typ", "kind"), REASONS)
def test_isolated_rejections_of_an_accepted_client_are_not_an_incident(reason: str, typ: str, kind: str) -> None:
    # one wrongly scoped call every 40-90 min (further apart than MISCONFIG_GAP): a client's stray call
    rows = _client("stray", 60, 8, [3600, 3600 + 2400 + 60, 3600 + 2400 + 5400 + 120, 6 * 3600], reason, typ)
    # two close together: below the least count
    rows += _client("twice", 60, 8, [4 * 3600, 4 * 3600 + 300], reason, typ)
    inc = A.incidents(_frame(rows))
    assert kind not in set(inc["kind"]), inc[["kind", "client_id", "evidence"]]
