"""What a third fleet written without the detectors in view (benchmarks/fleet34.py, session 33) showed, as small
cases: a client of hundreds of devices has a few calls rejected for their audience every day (a call misrouted, an
old app version), 3 tokens in minutes, 0.5-1.3 % of its calls: 3 false client-side ``audience_misconfig`` on 8 days
(``detect.CLIENT_AUDIENCE_SHARE``). A client requesting tokens for the wrong audience fails nearly every call to
that API (0.74-1.0 of its calls in every injected case of the benchmarks)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import jwtobs.analysis as A
import jwtobs.analysis.detect as D

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_detect import _frame_of, _traffic

T0 = 1_800_000_000


def _busy(minutes: int) -> list[dict[str, Any]]:
    """A mobile app's calls, one every 2 s from its many devices, tokens valid all along."""
    return [
        {"time": t, "outcome": "accepted", "client_id": "mobile", "token_fp": f"m{t}", "iat": T0, "exp": T0 + 86400}
        for t in range(T0, T0 + 60 * minutes, 2)
    ]


def _wrong_audience(client: str, times: list[int]) -> list[dict[str, Any]]:
    return [
        {
            "time": t,
            "outcome": "rejected",
            "reason": "JWT_AUDIENCE_MISMATCH",
            "client_id": client,
            "token_fp": f"{client}-{t}",
            "iat": T0,
            "exp": T0 + 86400,
        }
        for t in times
    ]


def test_a_few_calls_of_a_busy_client_are_no_client_side_audience_incident() -> None:
    base = _traffic(T0, 240, ("a", "b", "c")) + _busy(240)
    few = _wrong_audience("mobile", [T0 + 7200, T0 + 7200 + 240, T0 + 7200 + 600])
    inc = A.misconfigurations(_frame_of(base + few))
    assert "audience_misconfig" not in set(inc["kind"]), inc
    # the same client with most of its calls rejected for 10 minutes: its tokens are for another audience
    many = _wrong_audience("mobile", list(range(T0 + 7200, T0 + 7800, 3)))
    inc = A.misconfigurations(_frame_of(base + many))
    assert list(zip(inc["kind"], inc["client_id"], strict=True)) == [("audience_misconfig", "mobile")], inc


def test_a_small_client_failing_every_call_is_one() -> None:
    base = _traffic(T0, 240, ("a", "b", "c", "svc"))
    rows = [r for r in base if not (r["client_id"] == "svc" and T0 + 7200 <= r["time"] < T0 + 7800)]
    inc = A.misconfigurations(_frame_of(rows + _wrong_audience("svc", list(range(T0 + 7200, T0 + 7800, 20)))))
    assert list(zip(inc["kind"], inc["client_id"], strict=True)) == [("audience_misconfig", "svc")], inc
    assert D.CLIENT_AUDIENCE_SHARE <= 0.05
