"""One API's replica clock ahead rejects the short-lived tokens of every client that calls it near their expiry. A
client that also calls another API shows it is the API's clock (``detect._validator_clocks``: a
``server_clock_skew`` of that API); a client calling that API alone - label printers of one dispatch API - could be
its own clock from its side, and was reported besides the API's clock. Since session 34 the API's clock explains it
(``detect._explained_by_validators``), as a shared clock explains its clients (blind fleet34, incident day 2: 15
printers failing at the dispatch API whose replica was 600 s ahead)."""

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
LIFE = 1800  # 30-minute tokens
AHEAD = (T0 + 4 * 3600, T0 + 6 * 3600, 600)  # dispatch's clock 600 s ahead from hour 4 to hour 6


def _clock(profile: str, t: int) -> int:
    """The time the validator of ``profile`` reads (and stamps its event with) at true time ``t``."""
    a0, a1, ahead = AHEAD
    return t + ahead if profile == "dispatch" and a0 <= t < a1 else t


def _client(client: str, subject: str, profiles: tuple[str, ...], offset: int, step: int = 30) -> list[dict[str, Any]]:
    """A device of ``client`` calling ``profiles`` in turn every ``step`` s for 9 h with tokens it renews 60 s
    before ``exp`` by its own (right) clock; each validator judges by its own clock."""
    rows: list[dict[str, Any]] = []
    t, k, n = T0 + offset, 0, 0
    while t < T0 + 9 * 3600:
        iat, exp = t, t + LIFE
        while t < exp - 60:
            prof = profiles[n % len(profiles)]
            seen = _clock(prof, t)
            ok = seen <= exp
            rows.append(
                {
                    "time": seen,
                    "outcome": "accepted" if ok else "rejected",
                    "reason": None if ok else "JWT_EXPIRED",
                    "client_id": client,
                    "token_fp": f"{subject}-{k}",
                    "sub_hash": f"s1:{subject}",
                    "iat": iat,
                    "nbf": iat,
                    "exp": exp,
                    "service": prof,  # (the API's name; _frame_of sets one profile for all)
                }
            )
            t, n = t + step, n + 1
        k += 1
    return rows


def _fleet(printers: bool = True) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for d in range(4):  # couriers call both APIs: billing accepts what dispatch rejects
        rows += _client("courier", f"courier-{d}", ("dispatch", "billing"), 97 * d, step=20)
    if printers:
        for d in range(15):  # printers call dispatch alone
            rows += _client("printer", f"printer-{d}", ("dispatch",), 113 * d, step=60)
    frame = _frame_of(rows)
    frame["profile"] = frame["service"]
    return frame


def test_clients_calling_only_the_api_whose_clock_is_ahead_are_explained_by_it(monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = D._ctx(A.aggregate(_fleet()))
    with monkeypatch.context() as m:  # without the rule: the printers' own clock, besides the API's
        m.setattr(D, "_explained_by_validators", lambda ctx, late, lw, rows: rows)
        before = A.clock_skew_incidents(ctx)
    assert {("server_clock_skew", None), ("clock_skew", "printer")} <= set(
        zip(before["kind"], before["client_id"], strict=True)
    ), before
    inc = A.clock_skew_incidents(ctx)
    assert list(zip(inc["kind"], inc["profile"], inc["client_id"], strict=True)) == [
        ("server_clock_skew", "dispatch", None)
    ], inc


def test_a_client_calling_that_api_alone_with_its_own_clock_long_before_stays() -> None:
    """The printers' clock 600 s behind from hour 1, hours before the API's: their own (``_explains``: failures of
    their own more than SHARED_OWN minutes before the API's clock)."""
    frame = _fleet()
    late = (frame["client_id"] == "printer") & (frame["time"] >= pd.Timestamp(T0 + 3600, unit="s", tz="UTC"))
    # the printers keep their tokens 10 min past exp from hour 1 on, as a clock behind does
    extra = []
    for _fp, g in frame[late].groupby("token_fp", observed=True):
        exp = int(g["exp"].iloc[0])
        if exp < T0 + 4 * 3600:
            for s in (60, 180, 300, 420, 540):
                e = g.iloc[-1].copy()
                e["time"] = pd.Timestamp(exp + s, unit="s", tz="UTC")
                e["outcome"], e["reason"] = "rejected", "JWT_EXPIRED"
                extra.append(e)
    frame = pd.concat([frame, pd.DataFrame(extra)]).sort_values("time", kind="stable").reset_index(drop=True)
    inc = A.clock_skew_incidents(frame)
    assert "printer" in set(inc["client_id"].dropna()), inc[["kind", "client_id", "profile", "start"]]
