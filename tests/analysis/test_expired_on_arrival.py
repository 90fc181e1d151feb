"""An issuer whose clock falls behind by more than its tokens' lifetime stamps every token already past ``exp``:
each is rejected on its first use, never accepted, whatever its client does (session 35, blind fleet34 incident
day 4: a mesh CA 480 s behind with 5-minute tokens, 1 057 rejections in 30 minutes from 3 services and no incident:
the clock detectors read tokens in use, and these never were). ``detect._expired_on_arrival`` finds it as a
``server_clock_skew`` of the issuer. Not so: an issuer's token endpoint down (the clients keep the tokens they
hold, in use), a worker pool replaying its cached token after a restart (then renewing and accepted), one client
whose token cache hands out expired tokens, and the same fleet on a quiet day."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

import jwtobs.analysis as A

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_detect import _frame_of

T0 = 1_800_000_000
LIFE = 300  # 5-minute tokens
BEHIND = (T0 + 4 * 3600, T0 + 4 * 3600 + 1800, 480)  # the issuer 480 s behind for 30 min from hour 4
STALL = (T0 + 6 * 3600, T0 + 6 * 3600 + 1800)  # (another day) its token endpoint down for 30 min from hour 6


def _service(
    client: str, offset: int, step: int = 10, behind: bool = True, stall: bool = False, stale: bool = True
) -> list[dict[str, Any]]:
    """A service calling an API every ``step`` s for 8 h with 5-minute tokens it renews 30 s before ``exp``, and
    again on a 401; after a restart at 2 h it first replays its cached (expired) token."""
    rows: list[dict[str, Any]] = []
    t, k = T0 + offset, 0
    iat = exp = 0
    restart = T0 + 2 * 3600 + offset
    while t < T0 + 8 * 3600:
        if stale and restart <= t < restart + step:  # a restart: the cached token, long expired, first
            rows.append(_use(client, t, f"{client}-{k - 40}", exp - 40 * (LIFE - 30), exp - 40 * (LIFE - 30) + LIFE))
        renew = t >= exp - 30 and not (stall and STALL[0] <= t < STALL[1])
        if renew:
            b0, b1, off = BEHIND
            iat = t - (off if behind and b0 <= t < b1 else 0)
            exp, k = iat + LIFE, k + 1
        row = _use(client, t, f"{client}-{k}", iat, exp)
        rows.append(row)
        if row["outcome"] == "rejected" and not (stall and STALL[0] <= t < STALL[1]):
            exp = 0  # renew on the 401
        t += step
    return rows


def _use(client: str, t: int, fp: str, iat: int, exp: int) -> dict[str, Any]:
    ok = t <= exp
    return {
        "time": t,
        "outcome": "accepted" if ok else "rejected",
        "reason": None if ok else "JWT_EXPIRED",
        "client_id": client,
        "token_fp": fp,
        "sub_hash": f"s1:{client}",
        "iat": iat,
        "nbf": iat,
        "exp": exp,
    }


def _fleet(**kw: Any) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for n, client in enumerate(("svc-ledger", "svc-notifier", "svc-scheduler")):
        rows += _service(client, 7 * n, **kw)
    return _frame_of(rows)


def test_an_issuer_behind_by_more_than_the_lifetime_is_one_server_clock_skew() -> None:
    events = _fleet()
    inc = A.incidents(events)
    server = inc[inc["kind"] == "server_clock_skew"]
    assert len(server) == 1, inc[["kind", "start", "end", "client_id", "count"]]
    row = server.iloc[0]
    behind = events[(events["time"] >= pd.Timestamp(BEHIND[0], unit="s", tz="UTC")) & (events["outcome"] == "rejected")]
    first, last = (
        behind["time"].min(),
        behind.loc[behind["time"] < pd.Timestamp(BEHIND[1], unit="s", tz="UTC"), "time"].max(),
    )
    assert abs((row["start"] - first).total_seconds()) <= 120, (row["start"], first)
    assert abs((row["end"] - last).total_seconds()) <= 120, (row["end"], last)
    assert row["issuer"] == "https://id.test"
    assert "never accepted" in row["evidence"] and "behind" in row["evidence"], row["evidence"]
    # its clients' own clock_skew incidents meanwhile are this one; nothing else
    assert set(inc["kind"]) <= {"server_clock_skew"}, inc[["kind", "start", "client_id"]]


def test_not_a_stall_a_restart_or_a_quiet_day() -> None:
    quiet = A.incidents(_fleet(behind=False))
    assert "server_clock_skew" not in set(quiet["kind"]), quiet[["kind", "start", "client_id"]]
    assert quiet.empty, quiet[["kind", "start", "client_id", "evidence"]]
    stalled = A.incidents(_fleet(behind=False, stall=True))
    assert "server_clock_skew" not in set(stalled["kind"]), stalled[["kind", "start", "client_id", "evidence"]]


def test_one_client_handing_out_expired_tokens_is_not_the_issuer() -> None:
    """One service's token cache broken (every token it presents already expired for 30 min) while the issuer's
    other clients are accepted: at most that client's own incident, never the issuer's clock."""
    rows: list[dict[str, Any]] = []
    rows += _service("svc-ledger", 0)
    rows += _service("svc-notifier", 7, behind=False)
    rows += _service("svc-scheduler", 14, behind=False)
    inc = A.incidents(_frame_of(rows))
    assert "server_clock_skew" not in set(inc["kind"]), inc[["kind", "start", "client_id", "evidence"]]
