"""An attack on one API at ten tokens a minute stays under the fleet's busy scanner minutes (scanners at 1-3 a minute
each, overlapping, across every API): the fleet-wide series never reached its burst level (session 35, blind
fleet34 incident day 1: 49 forged tokens on records-api in 6 minutes, no incident). Against that API's own scanner
noise it is a burst: ``detect._bursts`` also reads each API's series, an attack found there names the API. The
same scanner noise alone, however it overlaps, stays no incident."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pandas as pd

import jwtobs.analysis as A

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_detect import _frame_of

T0 = 1_800_000_000
APIS = ("records", "billing", "dispatch", "partner")
ATTACK = (T0 + 5 * 3600, 6)  # 6 minutes from hour 5 on "records"
SCANNER_REASONS = ("JWT_MALFORMED", "JWT_UNSIGNED", "JWT_ALG_NOT_ALLOWED", "JWT_UNKNOWN_KID", "JWT_TYPE_MISMATCH")


def _day(attack: bool, seed: int) -> pd.DataFrame:
    rnd = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for t in range(T0, T0 + 10 * 3600, 6):  # 10 clients' traffic, accepted
        api = APIS[(t // 6) % len(APIS)]
        rows.append({"time": t, "outcome": "accepted", "client_id": f"svc-{t % 10}", "service": api, "exp": t + 600})
    t = T0
    while t < T0 + 10 * 3600:  # scanner sessions: 5-20 min at 1-3 a minute on any API, often two at once
        length, rate = rnd.randint(5, 20) * 60, rnd.uniform(1.0, 3.0)
        for _ in range(rnd.choice((1, 2, 2))):
            s = t + rnd.randint(0, 300)
            for k in range(int(length / 60 * rate)):
                reason = rnd.choice(SCANNER_REASONS)
                rows.append(
                    {
                        "time": s + rnd.uniform(0, length),
                        "outcome": "rejected",
                        "reason": reason,
                        "service": rnd.choice(APIS),
                        "token_fp": f"scan-{t}-{k}",
                    }
                )
        t += length + rnd.randint(0, 240)
    if attack:  # forged tokens on records, naming the key in use: 7-10 a minute
        t0, minutes = ATTACK
        for m in range(minutes):
            for k in range(rnd.randint(7, 10)):
                rows.append(
                    {
                        "time": t0 + 60 * m + rnd.uniform(0, 59),
                        "outcome": "rejected",
                        "reason": rnd.choice(("JWT_BAD_SIGNATURE", "JWT_ISSUER_MISMATCH", "JWT_UNKNOWN_KID")),
                        "service": "records",
                        "token_fp": f"atk-{m}-{k}",
                    }
                )
    frame = _frame_of(rows)
    frame["profile"] = frame["service"]
    # scanners' kids are random; a forged token names the key in use (k1, _frame_of's), or an unknown one
    frame.loc[frame["reason"] == "JWT_UNKNOWN_KID", "kid"] = [
        f"x{i}" for i in range(int((frame["reason"] == "JWT_UNKNOWN_KID").sum()))
    ]
    return frame


def test_an_attack_on_one_api_is_found_and_named() -> None:
    for seed in range(5):
        events = _day(True, seed)
        inc = A.incidents(events)
        bursts = inc[inc["kind"] == "attack_burst"]
        first = events.loc[events["token_fp"].fillna("").str.startswith("atk-"), "time"].min()
        assert len(bursts) == 1, (seed, inc[["kind", "start", "end", "profile", "count"]])
        row = bursts.iloc[0]
        assert abs((row["start"] - first).total_seconds()) <= 120, (seed, row["start"], first)
        assert row["profile"] == "records" and " at records" in row["evidence"], row["evidence"]


def test_scanner_noise_alone_is_no_attack() -> None:
    for seed in range(5):
        inc = A.incidents(_day(False, seed))
        assert "attack_burst" not in set(inc["kind"]), (seed, inc[["kind", "start", "profile", "evidence"]])
