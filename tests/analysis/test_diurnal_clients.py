"""Clients of a fleet whose traffic has shapes the earlier benchmark timelines lacked (session 21,
``benchmarks/fleet21.py``): traffic that drops to near zero at night, CI runs that mint a client id per run, a
mobile app's one client id over hundreds of phones. Each test builds the smallest timeline that showed a false
clock skew on that fleet's quiet days."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import jwtobs.analysis as A

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_detect import _cycles, _frame_of, _uses

T0 = 1_800_000_000
SEED = 3


def _clean(n: int = 6, cycles: int = 16) -> list[dict[str, Any]]:
    return [r for k in range(n) for r in _cycles(f"clean-{k}", [[] for _ in range(cycles)], t0=T0 + 97 * k)]


def test_a_ci_run_outliving_its_only_token_is_not_a_clock() -> None:
    """A CI run's client id is minted for the run: one token, used every 20 s, and the run goes on for 4 min past
    ``exp`` with it (no refresh at all), 8 failures at its pace, then stops. Before: a clock skew of that client
    (the count series); nothing tells a clock from a client that does not refresh when the client never renewed
    a token in the data."""
    iat = T0 + 5 * 3600
    exp = iat + 600
    uses = [(t, "accepted") for t in range(iat, exp, 20)] + [(exp + 60 + 30 * k, "rejected") for k in range(8)]
    ci = _uses("ci-4f2a9c", "ci-tok", iat, exp, uses)
    inc = A.clock_skew_incidents(_frame_of(ci + _clean()))
    assert inc.empty, inc[["client_id", "start", "evidence"]].to_string()


def _lazy_day(
    client: str, seed: int, life: int = 900, night_gap: int = 2400, day_gap: int = 90
) -> list[dict[str, Any]]:
    """A client that uses each token until its 401, then renews and retries at once (a lazy refresher), with a
    request about every ``night_gap`` s for 8 h (each finds its token long expired) and every ``day_gap`` s after
    (exponential gaps)."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    t, k = T0, 0
    iat = t
    fp = f"{client}-0"
    while t < T0 + 12 * 3600:
        exp = iat + life
        if t > exp:  # a 401, then a new token, accepted at once
            rows += _uses(client, fp, iat, exp, [(t, "rejected")])
            k += 1
            iat, fp = t, f"{client}-{k}"
            rows += _uses(client, fp, iat, iat + life, [(t + 1, "accepted")])
        else:
            rows += _uses(client, fp, iat, exp, [(t, "accepted")])
        t += int(rng.uniform(0.7, 1.3) * night_gap) if t < T0 + 8 * 3600 else max(5, int(rng.expovariate(1 / day_gap)))
    return rows


def test_a_lazy_refresher_whose_nights_are_quiet_is_not_a_clock_in_the_morning() -> None:
    """A lazy refresher fails once per token cycle all day. At night it calls every 40 min: each call finds
    its 15-min token expired long ago (not in use: no chain back to an acceptance), so the shape rules read the
    night as quiet cycles, and from 08:00 on - a call every 90 s, each token failing once at the client's pace
    right after ``exp`` and renewed on its 401 - the recurrence looked like a clock going wrong (before: a
    clock skew from its first busy cycle; on the session's fleet 7-13 a day)."""
    inc = A.clock_skew_incidents(_frame_of(_lazy_day("lazy", SEED) + _clean(cycles=13)))
    assert inc.empty, inc[["client_id", "start", "evidence"]].to_string()


def test_a_lazy_refresher_with_quiet_nights_still_shows_a_clock_that_falls_far_behind() -> None:
    """The same client's clock 20 min behind from 10:00: it keeps its token after each 401 and fails again and
    again at its pace - still a clock skew."""
    rows = [r for r in _lazy_day("lazy", SEED) if r["time"] < T0 + 10 * 3600]
    iat = T0 + 10 * 3600
    exp = iat + 900
    uses = [(t, "accepted") for t in range(iat, exp, 90)] + [(exp + 60 + 90 * k, "rejected") for k in range(12)]
    rows += _uses("lazy", "lazy-kept", iat, exp, uses)
    rows += _uses("lazy", "lazy-next", exp + 1200, exp + 2100, [(exp + 1200 + 90 * k, "accepted") for k in range(10)])
    inc = A.clock_skew_incidents(_frame_of(rows + _clean(cycles=13)))
    assert list(inc["client_id"]) == ["lazy"], inc


def test_a_stale_token_the_client_never_used_does_not_hide_its_clock() -> None:
    """A client calling every 5 min (sparse) whose clock falls 190 s behind in its fifth hour and keeps its token
    after three 401s. In its history: a token from before the data, 3.6 h past ``exp``, in its first minutes (a
    device woken with it: no use of its tokens seen yet), or one 40 min past ``exp`` 90 s after its own accepted
    request (another device's stale token: the client made no pause). Neither is a lazy refresher's token going
    stale after a pause: with either counted as one, the history share hid the clock (two true clock skews of the
    benchmark's hold-outs were lost so in session 21 before these conditions)."""
    t0 = 1_800_000_000
    rows: list[dict[str, Any]] = []
    for name, stale_at, late in (("woken", t0 + 14 * 60 + 20, 13_000), ("other", t0 + 2 * 3600 + 390, 2_400)):
        rows += _cycles(name, [[], [], [], [], [70, 130, 190], []], step=300)
        rows += _uses(name, f"{name}-stale", stale_at - late - 3600, stale_at - late, [(stale_at, "rejected")])
    inflight = _cycles("inflight", [[3], [], [4], [], [2], []])
    inc = A.clock_skew_incidents(_frame_of(rows + inflight))
    assert sorted(inc["client_id"]) == ["other", "woken"], inc
