"""What a fleet written without the detectors in view (benchmarks/fleet32.py, session 32) showed, as small cases:

- a key set's blip of seconds hitting a busy gateway on PyJWKClient (which keeps no last good key set) is 35-43
  ``JWT_JWKS_UNAVAILABLE`` in one minute: 6 false ``jwks_outage`` on 4 quiet days (``detect.OUTAGE_MINUTES``);
- scanners replaying real tokens with their claims tampered with (``exp`` a year ahead) name kids retired hours
  after their last token expired: 2 false ``key_removed_early`` on 4 quiet days (the ``exp`` of a token rejected for
  an unknown kid was never verified: ``detect._plausible``);
- an attack mixing generic probes with such tampered tokens: the tampered ones carry accepted clients' ids, so the
  burst's own tokens named no key in use and it read as a scanner sweep (missed), while their bad signatures were a
  false ``signature_spike``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd

import jwtobs.analysis as A
import jwtobs.analysis.detect as D

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_detect import _forged, _frame_of, _traffic

T0 = 1_800_000_000
CLIENTS = tuple(f"c{n}" for n in range(12))


def _at(seconds: float) -> pd.Timestamp:
    return pd.Timestamp(T0 + seconds, unit="s", tz="UTC")


def _unavailable(minutes: range, per_minute: int) -> list[dict[str, Any]]:
    return [
        {
            "time": T0 + 60 * m + 60 * k // per_minute,
            "outcome": "rejected",
            "reason": "JWT_JWKS_UNAVAILABLE",
            "client_id": CLIENTS[k % len(CLIENTS)],
            "token_fp": f"u-{m}-{k}",
            "iat": T0,
            "nbf": T0,
            "exp": T0 + 86400,
        }
        for m in minutes
        for k in range(per_minute)
    ]


def test_a_key_sets_blip_of_seconds_is_no_outage_and_minutes_of_failures_are() -> None:
    """40 failures of 12 clients within one minute (and within two: a blip straddling a minute's end) are a blip;
    the same rate over 5 minutes is an outage, found from its first minute."""
    base = _traffic(T0, 240, CLIENTS)
    for minutes in (range(120, 121), range(120, 122)):
        df = _frame_of(base + _unavailable(minutes, 40))
        assert "jwks_outage" not in set(A.rotation_incidents(df)["kind"]), minutes
        assert "jwks_outage" not in set(A.incidents(df)["kind"]), minutes
    inc = A.rotation_incidents(_frame_of(base + _unavailable(range(120, 120 + D.OUTAGE_MINUTES + 2), 40)))
    assert list(inc["kind"]) == ["jwks_outage"], inc
    assert inc["start"].iloc[0] == _at(120 * 60)


def _retired_kid(exp_ahead: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four clients on k1 (40-min tokens) for an hour, then on k2; k1 dropped at minute 180, long after its last
    token expired (minute 100); from minute 190, known clients' tokens naming k1 rejected as unknown kid, each
    claiming an ``exp`` ``exp_ahead`` seconds after its use."""
    rows = _traffic(T0, 360, ("a", "b", "c", "d"))
    for r in rows:
        r["exp"] = r["time"] + 2400
    rows += [
        {
            "time": T0 + 60 * m + 11 * j,
            "outcome": "rejected",
            "reason": "JWT_UNKNOWN_KID",
            "client_id": "abcd"[(m + j) % 4],
            "kid": "k1",
            "token_fp": f"t-{m}-{j}",
            "iat": T0 + 50 * 60,
            "nbf": T0 + 50 * 60,
            "exp": T0 + 60 * m + 11 * j + exp_ahead,
        }
        for m in range(190, 340, 7)
        for j in range(2)
    ]
    df = _frame_of(rows)
    df.loc[(df["outcome"] == "accepted") & (df["time"] >= _at(3600)), "kid"] = "k2"
    changes = pd.DataFrame(
        {
            "time": pd.to_datetime([T0, T0 + 55 * 60, T0 + 180 * 60], unit="s", utc=True),
            "issuer": ["https://id.test"] * 3,
            "added": [["k1"], ["k2"], []],
            "removed": [[], [], ["k1"]],
        }
    )
    return df, changes


def test_tampered_tokens_naming_a_retired_kid_are_no_early_removal() -> None:
    """Before: ``key_removed_early`` (the rejected tokens' unverified ``exp``, a year ahead, read as tokens still
    valid). A lifetime no accepted token of the issuer ever had is no evidence; an ``exp`` within it still is."""
    tampered, changes = _retired_kid(365 * 86400)
    assert A.rotation_incidents(tampered, changes).empty
    plausible, changes = _retired_kid(1200)  # 20 min left: what the issuer's 40-min tokens can have
    assert list(A.rotation_incidents(plausible, changes)["kind"]) == ["key_removed_early"]


def _attack(tampered_per_minute: int) -> pd.DataFrame:
    """A scanner drizzle; at minute 240, for 10 minutes, 25 generic probes a minute (no kid in use) and accepted
    clients' real tokens with their claims changed: bad signatures on k1, the kid in use."""
    drizzle = [1 if m % 3 == 0 else 0 for m in range(240)]
    df = _forged(T0, [*drizzle, *([25] * 10), *drizzle[:60]], kid=None)
    rows = [
        {
            "time": T0 + 240 * 60 + 60 * m + 60 * k // tampered_per_minute,
            "outcome": "rejected",
            "reason": "JWT_BAD_SIGNATURE",
            "client_id": "abc"[k % 3],
            "token_fp": f"x-{m}-{k}",
            "iat": T0,
            "nbf": T0,
            "exp": T0 + 365 * 86400,
        }
        for m in range(10)
        for k in range(tampered_per_minute)
    ]
    return pd.concat([df, _frame_of(rows)], ignore_index=True).sort_values("time", kind="stable")


def test_an_attack_replaying_tampered_real_tokens_is_an_attack_not_a_sweep_nor_a_key_problem() -> None:
    inc = A.incidents(_attack(4))
    assert list(inc["kind"]) == ["attack_burst"], inc[["kind", "start", "evidence"]]
    assert inc["start"].iloc[0] == _at(240 * 60)
    assert "40 naming a key in use" in inc["evidence"].iloc[0]
    assert A.scanner_sweeps(_attack(4)).empty
    # the generic probes alone: a sweep
    alone = A.incidents(_attack(1).pipe(lambda d: d[d["reason"] != "JWT_BAD_SIGNATURE"]))
    assert alone.empty, alone


def test_a_burst_after_a_scanners_stray_tokens_is_judged_on_all_its_minutes() -> None:
    """fleet32 seeds 32100: 700 forged tokens at 15-32 a minute, the minute before holding a scanner's stray tokens
    (2 there, after more in the minutes before; 3 here).
    The CUSUM hit its cap in the burst's first minute, but only a run at the cap from its first excess minute on
    was judged on every minute it stayed there: this one was judged on its first 18 tokens (fewer than a burst
    needs) and dropped. Found now, from the stray tokens' minute (the run's first excess minute)."""
    drizzle = [1 if m % 3 == 0 else 0 for m in range(240)]
    drizzle[-1] = 3
    inc = A.attack_bursts(_forged(T0, [*drizzle, 15, 18, 16, 17, 15, *drizzle[:60]]))
    assert list(inc["kind"]) == ["attack_burst"], inc
    assert _at(239 * 60) <= inc["start"].iloc[0] <= _at(240 * 60)
    assert inc["count"].iloc[0] >= 15 + 18 + 16 + 17 + 15


def _mesh(clients: tuple[str, ...], t0: int, t1: int, ahead: tuple[int, int] | None) -> list[dict[str, Any]]:
    """Workloads of a service mesh calling one API (``inventory``) every 30 s with 15-minute tokens of the mesh CA;
    from ``ahead[0]`` to ``ahead[1]`` the CA's clock is 240 s ahead: fresh tokens fail before ``nbf``, the
    workloads renew on the 401 and get another such token."""
    from test_fleet22_shapes import _ev

    from jwtobs.reasons import Reason

    rows: list[dict[str, Any]] = []
    for k, cid in enumerate(clients):
        n, t, iat, fp = 0, t0 + 5 * k, -(10**9), ""
        while t < t1:
            off = 240 if ahead and ahead[0] <= t < ahead[1] else 0
            if t >= iat - off + 840:
                n += 1
                iat, fp = int(t) + off, f"{cid}-{n}"
            if iat > t + 10:
                rows.append(_ev(t, cid, fp, iat, iat + 900, Reason.NOT_YET_VALID, profile="inventory", iss=MESH))
                iat = -(10**9)  # renews on the 401
            else:
                rows.append(_ev(t, cid, fp, iat, iat + 900, profile="inventory", iss=MESH))
            t += 30
    return rows


MESH = "https://mesh-ca.test"


def test_an_issuers_clock_ahead_is_found_at_the_one_api_that_takes_its_tokens() -> None:
    """fleet32 inc3: the mesh CA 4 minutes ahead for 50 minutes; one API validates its tokens. Before: each
    workload's own ``clock_skew`` (an issuer's clock showed only at two APIs or more). Now one
    ``server_clock_skew`` naming the issuer (and the API: its clock behind would look the same) from 3 workloads
    on, or 2 starting within 10 minutes of each other (session 41, blind fleet58: a mesh CA 75 s ahead, two
    workloads at one API from 20:00 and 20:01); two workloads at one API hours apart stay their own clocks."""
    from test_fleet22_shapes import _frame, _services

    t1 = T0 + 6 * 3600
    window = (T0 + 4 * 3600, T0 + 4 * 3600 + 3000)
    others = _services(6, T0, t1, profile="orders")
    mesh = _mesh(("checkout", "search", "billing"), T0, t1, window)
    first = min(r["time"] for r in mesh if r["outcome"] == "rejected")
    inc = A.incidents(_frame(mesh + others))
    assert list(inc["kind"]) == ["server_clock_skew"], inc[["kind", "client_id", "evidence"]].to_string()
    assert (inc["issuer"].iloc[0], inc["profile"].iloc[0]) == (MESH, "inventory")
    assert abs(inc["start"].iloc[0] - _at(first - T0)) <= pd.Timedelta(minutes=2)
    two = A.incidents(_frame(_mesh(("checkout", "search"), T0, t1, window) + others))
    assert list(two["kind"]) == ["server_clock_skew"], two[["kind", "client_id", "evidence"]].to_string()
    assert (two["issuer"].iloc[0], two["profile"].iloc[0]) == (MESH, "inventory")
    later = (window[0] + 7200, window[1] + 7200)
    apart = _mesh(("checkout",), T0, t1 + 7200, window) + _mesh(("search",), T0, t1 + 7200, later)
    apart_inc = A.incidents(_frame(apart + _services(6, T0, t1 + 7200, profile="orders")))
    assert "server_clock_skew" not in set(apart_inc["kind"]), apart_inc[["kind", "client_id", "evidence"]].to_string()
