"""Session 37: blind fleet38 (``benchmarks/fleet38.py``: connected devices and open banking, written without the
detectors in view) and what was left of fleet36. Each test here failed before.

- Bad signatures and unknown kids on tokens whose ``exp`` lies further ahead than the client's own accepted tokens'
  ever did say nothing about the key set (fleet36 incident day 4 and quiet day 2): a scanner replaying a real
  client's token with its claims tampered with (``exp`` and ``iat`` moved hours ahead, the signature kept) is
  rejected as a bad signature, or as an unknown kid once the kid it names is retired. Before, the bound was the
  issuer's longest lifetime (smart TVs' 24-hour tokens): 5 hours ahead passed, and such tokens started a signature
  spike's onset 46 minutes early (``detect._plausible``).
- A gateway replica an hour ahead (1-hour tokens): three driver apps failing there only, each calling its other
  API too seldom to show alone that its clock is fine (``detect._pooled_excess``).
- A bank IdP's token endpoint down 35 minutes: one client (a partner aggregator) keeps its 5-minute tokens past
  ``exp``, while the two mobile apps renew nothing (``detect._others_silent``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

import jwtobs.analysis as A

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_detect import _frame_of
from test_fleet36_rules import T0, H, _clients, _row


def _fleet(tampered: int) -> list[dict[str, Any]]:
    rows = _clients(6, 8)  # services with 1-hour tokens
    for k in range(3):  # TVs with 24-hour tokens: the issuer's longest lifetime
        for i in range(48):
            t = T0 + 600 * i + k
            rows.append(_row(t, "tv", f"tv-{k}", T0 - 100, T0 - 100 + 24 * H, sub=f"tv{k}"))
    for i in range(tampered):  # a scanner: two clients' tokens, iat/exp moved 5 h ahead, 10 a minute for 40 min
        t = T0 + 5 * H + 6 * i
        rows.append(_row(t, f"svc-{i % 2}", f"forged-{i}", t + 5 * H, t + 6 * H, "JWT_BAD_SIGNATURE", sub=f"x{i}"))
    return rows


def test_a_clients_tampered_tokens_are_no_signature_spike() -> None:
    inc = A.incidents(_frame_of(_fleet(400)))
    assert not (inc["kind"] == "signature_spike").any(), inc[["kind", "start", "count", "evidence"]]
    assert A.incidents(_frame_of(_fleet(0))).empty


DATA = Path(__file__).resolve().parent / "data"


def test_several_clients_failing_at_one_api_only_are_its_clock() -> None:
    """fleet38 incident day 1, the driver apps' and a portal's events 06:30-11:00 (keyed fingerprints only): the
    app-gateway replica eu-2 one hour ahead from 09:12 (its own clock) to 10:05. Before: three clients' own
    clock_skew incidents."""
    inc = A.incidents(pd.read_parquet(DATA / "fleet38-i1-gateway-clock.parquet"))
    assert list(inc["kind"]) == ["server_clock_skew"], inc[["kind", "start", "end", "client_id", "count"]]
    assert inc.iloc[0]["profile"] == "app-gateway"
    assert inc.iloc[0]["start"] == pd.Timestamp("2026-01-19 09:12", tz="UTC")


def test_one_client_keeping_tokens_while_no_other_renews_is_the_issuer_stalled() -> None:
    """fleet38 incident day 4, the bank IdP's events 09:00-14:00: its token endpoint down 12:30-13:04. Before: a
    clock_skew of the aggregator (582 failures)."""
    inc = A.incidents(pd.read_parquet(DATA / "fleet38-i4-bank-stall.parquet"))
    assert list(inc["kind"]) == ["issuer_stalled"], inc[["kind", "start", "end", "client_id", "count"]]
    assert inc.iloc[0]["issuer"] == "https://auth.voltgrid-bank.com/fapi"
    # session 38: from the stretch's first failure of a held token, in use or not (12:33 before: the aggregator's
    # first token kept past the leeway; the first counted failure is at 12:30:24)
    assert inc.iloc[0]["start"] == pd.Timestamp("2026-01-24 12:30", tz="UTC")
