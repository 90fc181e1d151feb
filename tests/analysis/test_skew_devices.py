"""One client id, many devices: a mobile app's client id covers every phone that runs it, each with its own
token. Two phones failing past ``exp`` a few minutes apart - one woken from sleep, one whose screen fired two
calls at once with its expired token - are not one clock kept after its 401 (found on a quiet day of a
real-fleet timeline, 2026-12-02); a clock keeps *its* token and fails again at the token's own pace."""

from __future__ import annotations

import sys
from pathlib import Path

import jwtobs.analysis as A

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_detect import _cycles, _frame_of

T0 = 1_800_000_000


def _device(name: str, t0: int, fails: list[list[int]]) -> list[dict[str, object]]:
    """A device of the client ``app``: its own hourly tokens (``token_fp`` per device and cycle)."""
    rows = _cycles(name, fails, t0=t0)
    for r in rows:
        r["client_id"] = "app"
    return rows


def test_two_devices_failing_minutes_apart_are_not_a_clock_kept_after_its_401() -> None:
    quiet: list[list[int]] = [[] for _ in range(5)]
    woke = _device("phone-a", T0, [*quiet, [160]])  # its next use 220 s after the last one, past exp
    pair = _device("phone-b", T0 + 9 * 60, [*quiet, [130, 131]])  # two calls at once with the expired token
    others = [_device(f"phone-{n}", T0 + 600 * n, [[] for _ in range(7)]) for n in range(3, 8)]
    rows = woke + pair + [r for o in others for r in o]
    inc = A.clock_skew_incidents(_frame_of(rows))
    assert inc.empty, inc[["client_id", "start", "evidence"]].to_string()


def test_one_device_keeping_its_token_after_the_401_at_its_pace_is_a_clock() -> None:
    quiet: list[list[int]] = [[] for _ in range(5)]
    kept = _device("phone-a", T0, [*quiet, [150, 210, 270]])  # the same token again a minute later, twice
    others = [_device(f"phone-{n}", T0 + 600 * n, [[] for _ in range(7)]) for n in range(3, 8)]
    inc = A.clock_skew_incidents(_frame_of(kept + [r for o in others for r in o]))
    assert list(inc["client_id"]) == ["app"], inc


def test_a_busy_device_failing_every_15_s_at_its_24_s_pace_is_a_clock() -> None:
    """Uses of a steady client come at exponential gaps: 29 % of them below half the median gap, 50 % below the
    median. Failures 15 s apart on a token used every 24 s (0.63x its median gap; 4 in one minute) are the
    client's pace, not a pool's burst of seconds (gaps of a fraction of a second)."""
    quiet: list[list[int]] = [[] for _ in range(5)]
    rows = _cycles("phone-a", [*quiet, [35, 50, 65, 80, 95, 110]], t0=T0, step=24)  # a use every 24 s
    for r in rows:
        r["client_id"] = "app"
    others = [_device(f"phone-{n}", T0 + 600 * n, [[] for _ in range(7)]) for n in range(3, 8)]
    inc = A.clock_skew_incidents(_frame_of(rows + [r for o in others for r in o]))
    assert list(inc["client_id"]) == ["app"], inc
