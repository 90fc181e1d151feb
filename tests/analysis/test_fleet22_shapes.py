"""Shapes of a multi-tenant fleet (``benchmarks/fleet22.py``) the detectors got wrong, as small event lists.

* One client id, many users: a web app's users each fail once when their tab wakes with an expired token. Their
  failures come with the app's traffic - few at night, many at the morning peak - and are no clock of the
  client's (they were ``clock_skew`` incidents on every quiet day of the fleet).
* A tenant's issuer with its clock ahead: its tokens fail before ``nbf`` at every API, for its two client ids
  (a web app, a sync service) - too few clients for the shared rule that counts clients failing at once.
* A validator whose clock is ahead, in a fleet whose clients renew well before ``exp``: only a gateway's
  5-minute tokens fail, at that one API, while its other APIs accept the same client's tokens.
"""

from __future__ import annotations

import random
from typing import Any

import pandas as pd
import pytest

import jwtobs.analysis as A
import jwtobs.analysis.detect as D
from jwtobs.reasons import Reason

T0 = 1_800_000_000
ISS = "https://tenant.test"
OTHER_ISS = "https://other.test"


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    from jwtobs.analysis.load import EVENT_DTYPES
    from jwtobs.events import EVENT_FIELDS

    df = pd.DataFrame(rows)
    for c in EVENT_FIELDS:
        if c not in df:
            df[c] = None
    df["kid"], df["typ"] = "k1", "at+jwt"
    df["token_bytes"], df["duration_s"], df["schema"], df["library"] = 500, 0.001, 1, "pyjwt"
    df["time"] = pd.to_datetime(df["time"], unit="s", utc=True)
    return df[list(EVENT_FIELDS)].astype(EVENT_DTYPES).sort_values("time", kind="stable").reset_index(drop=True)


def _ev(
    t: float,
    cid: str,
    fp: str,
    iat: int,
    exp: int,
    reason: Reason | None = None,
    *,
    profile: str = "api",
    iss: str = ISS,
    sub: str | None = None,
) -> dict[str, Any]:
    return {
        "time": t,
        "outcome": "accepted" if reason is None else "rejected",
        "reason": None if reason is None else str(reason),
        "client_id": cid,
        "token_fp": fp,
        "sub_hash": sub,
        "iat": iat,
        "nbf": iat,
        "exp": exp,
        "profile": profile,
        "issuer": iss,
    }


def _services(n: int, t0: int, t1: int, profile: str = "api", iss: str = OTHER_ISS) -> list[dict[str, Any]]:
    """``n`` quiet service clients: hourly tokens renewed 5 min before ``exp``, a use a minute each."""
    rows = []
    for k in range(n):
        for c, iat in enumerate(range(t0 - 600 * k, t1, 3300)):
            for t in range(max(iat, t0), min(iat + 3300, t1), 60):
                rows.append(_ev(t + k, f"svc-{k}", f"svc-{k}-{c}", iat, iat + 3600, profile=profile, iss=iss))
    return rows


def _web(active: list[int], t0: int, fail_share: float, seed: int) -> list[dict[str, Any]]:
    """Client ``web`` (15-minute tokens): ``active[h]`` users in hour ``h``, each using its token every minute
    and renewing a minute before ``exp``; at each renewal, with chance ``fail_share``, the user's tab slept over
    ``exp`` instead: its next use 70 s past ``exp`` is rejected and it renews at once."""
    r = random.Random(seed)
    rows: list[dict[str, Any]] = []
    n = 0
    for h, users in enumerate(active):
        for u in range(users):
            t = t0 + 3600 * h + r.randrange(60)
            end = t0 + 3600 * (h + 1)
            while t < end:
                n += 1
                iat, exp, fp = t, t + 900, f"web-{n}"
                while t < exp - 60 and t < end:
                    rows.append(_ev(t, "web", fp, iat, exp, sub=f"u{h}-{u}"))
                    t += 60
                if t < end and r.random() < fail_share:
                    rows.append(_ev(exp + 70, "web", fp, iat, exp, Reason.EXPIRED, sub=f"u{h}-{u}"))
                    t = exp + 71
    return rows


def test_many_users_of_one_client_failing_with_its_traffic_are_no_clock() -> None:
    """Night: 2 users an hour, no failure; morning: 40 users, a tenth of their token renewals lost to a tab
    asleep over ``exp`` (one failure each, 70 s past it). The failures per use did not change: no clock."""
    rows = _web([2] * 6, T0, 0.0, 1) + _web([0] * 6 + [40] * 2, T0, 0.12, 2)
    rows += _services(20, T0, T0 + 8 * 3600)
    inc = A.clock_skew_incidents(_frame(rows))
    assert inc.empty, inc[["client_id", "start", "evidence"]].to_string()


def test_a_client_whose_failures_rise_per_use_is_still_a_clock() -> None:
    """The same traffic, the morning's failures from one token cycle on: every token in use fails past ``exp``
    at its pace (a clock behind), many times what the traffic brings."""
    rows = _web([2] * 6, T0, 0.0, 1)
    rows += _web([0] * 6 + [40] * 2, T0, 0.12, 2)
    t = T0 + 6 * 3600 + 1200
    for c in range(6):  # the clock behind: its hourly token used on past exp every minute for 5 min, 6 cycles
        iat, exp = t + 3600 * c - 3540, t + 3600 * c
        for s in range(0, 3540, 60):
            rows.append(_ev(iat + s, "web", f"clock-{c}", iat, exp, sub="batch"))
        rows += [_ev(exp + 60 * k, "web", f"clock-{c}", iat, exp, Reason.EXPIRED, sub="batch") for k in range(1, 6)]
    rows += _services(20, T0, T0 + 12 * 3600)
    inc = A.clock_skew_incidents(_frame(rows))
    assert "web" in set(inc["client_id"].dropna()), inc


def _tenant(t0: int, t1: int, ahead: tuple[int, int] | None) -> list[dict[str, Any]]:
    """A tenant's two clients (``web``, ``sync``) calling APIs ``a`` and ``b`` every 30 s with 15-minute tokens;
    from ``ahead[0]`` to ``ahead[1]`` the issuer's clock is 300 s ahead: fresh tokens fail before ``nbf``, the
    clients renew on the 401 and get another such token."""
    rows: list[dict[str, Any]] = []
    for cid, phase in (("web", 0), ("sync", 7)):
        n = 0
        t = t0 + phase
        iat = -(10**9)
        fp = ""
        while t < t1:
            off = 300 if ahead and ahead[0] <= t < ahead[1] else 0
            if t >= iat - off + 840:
                n += 1
                iat, fp = int(t) + off, f"{cid}-{n}"
            profile = "a" if int(t) % 60 < 30 else "b"
            if iat > t + 30:
                rows.append(_ev(t, cid, fp, iat, iat + 900, Reason.NOT_YET_VALID, profile=profile))
                iat = -(10**9)  # renews on the 401
            else:
                rows.append(_ev(t, cid, fp, iat, iat + 900, profile=profile))
            t += 30
    return rows


def test_one_issuers_two_clients_failing_before_nbf_at_two_apis_is_its_clock() -> None:
    t1 = T0 + 6 * 3600
    rows = _tenant(T0, t1, (T0 + 4 * 3600, T0 + 4 * 3600 + 1800))
    rows += _services(6, T0, t1, profile="a") + _services(6, T0, t1, profile="b")
    inc = A.incidents(_frame(rows))
    shared = inc[inc["kind"] == "server_clock_skew"]
    assert list(shared["issuer"]) == [ISS], inc[["kind", "client_id", "issuer", "evidence"]].to_string()
    assert not (inc["kind"] == "clock_skew").any(), inc[["kind", "client_id", "evidence"]].to_string()


def test_one_client_failing_before_nbf_is_its_own_clock() -> None:
    """Only ``sync`` fails before ``nbf`` (its own tokens, a client minting them with its clock ahead): not
    the issuer's clock."""
    t1 = T0 + 6 * 3600
    rows = [r for r in _tenant(T0, t1, (T0 + 4 * 3600, T0 + 4 * 3600 + 1800)) if r["client_id"] == "sync"]
    rows += [r for r in _tenant(T0, t1, None) if r["client_id"] == "web"]
    rows += _services(6, T0, t1, profile="a") + _services(6, T0, t1, profile="b")
    inc = A.incidents(_frame(rows))
    assert not (inc["kind"] == "server_clock_skew").any(), inc[["kind", "client_id", "evidence"]].to_string()


def _gateway(t0: int, t1: int, ahead: tuple[int, int] | None, api_ahead: str = "billing") -> list[dict[str, Any]]:
    """Client ``gw`` (5-minute tokens, renewed a minute before ``exp``) calling ``orders`` and ``search`` in turn
    every 20 s and ``billing`` about every 4 minutes; from ``ahead[0]`` to ``ahead[1]`` the validators of
    ``api_ahead`` run 360 s ahead (and stamp their events so): every ``gw`` token fails there past ``exp``, ``gw``
    renews on the 401 and its new token fails there too."""
    rows: list[dict[str, Any]] = []
    r = random.Random(7)
    n, iat, fp = 0, -(10**9), ""
    due = t0 + 120
    for k, t in enumerate(range(t0, t1, 20)):
        if t >= iat + 240:
            n += 1
            iat, fp = t, f"gw-{n}"
        api = ("orders", "search")[k % 2]
        if t >= due:
            api, due = "billing", t + r.choice((180, 200, 240, 260, 300, 340))
        off = 360 if ahead and ahead[0] <= t < ahead[1] and api == api_ahead else 0
        if t + off > iat + 300:
            rows.append(_ev(t + off, "gw", fp, iat, iat + 300, Reason.EXPIRED, profile=api, iss=OTHER_ISS))
            n += 1
            iat, fp = t + 1, f"gw-{n}"
            rows.append(_ev(t + 1 + off, "gw", fp, iat, iat + 300, Reason.EXPIRED, profile=api, iss=OTHER_ISS))
        else:
            rows.append(_ev(t + off, "gw", fp, iat, iat + 300, profile=api, iss=OTHER_ISS))
    return rows


def test_a_gateways_short_tokens_failing_at_one_api_only_is_that_apis_clock() -> None:
    t1 = T0 + 6 * 3600
    rows = _gateway(T0, t1, (T0 + 4 * 3600, T0 + 4 * 3600 + 2400))
    for api in ("orders", "search", "billing"):
        rows += _services(4, T0, t1, profile=api)
    inc = A.incidents(_frame(rows))
    shared = inc[inc["kind"] == "server_clock_skew"]
    assert list(shared["profile"]) == ["billing"], inc[["kind", "client_id", "profile", "evidence"]].to_string()
    assert not (inc["kind"] == "clock_skew").any(), inc[["kind", "client_id", "evidence"]].to_string()


def _lunch(users: int, t0: int, wake: list[tuple[int, int]], seed: int) -> list[dict[str, Any]]:
    """Client ``web`` (15-minute tokens, refreshed when a use finds less than a minute left, or on a 401):
    ``users`` users, each using its token every 1-5 min for 8 h. ``wake``: (user, hour) - that user's next
    renewal in the hour does not happen: its tab sleeps over ``exp`` and its next use, 60-600 s past it, is
    rejected; it renews at once."""
    r = random.Random(seed)
    rows: list[dict[str, Any]] = []
    n = 0
    for u in range(users):
        sleeps = sorted(h for w, h in wake if w == u)
        t = t0 + r.randrange(60)
        end = t0 + 8 * 3600
        while t < end:
            n += 1
            iat, exp, fp = t, t + 900, f"web-{n}"
            asleep = next((h for h in sleeps if t0 + 3600 * h <= exp + 60 < t0 + 3600 * h + 3600), None)
            while t < exp - 60 and t < end:
                rows.append(_ev(t, "web", fp, iat, exp, sub=f"user-{u}"))
                t += r.randrange(60, 300)
            if asleep is not None and t < end:
                sleeps.remove(asleep)
                t = exp + r.randrange(60, 600)
                rows.append(_ev(t, "web", fp, iat, exp, Reason.EXPIRED, sub=f"user-{u}"))
                t += 1
    return rows


def test_many_users_waking_once_each_after_lunch_are_no_clock() -> None:
    """60 users of a web app all morning, no failure; after lunch (hour 5) 14 of them come back to a tab that
    slept over ``exp``: one failure each, 1-10 min past it, each renewing on its 401. The failures per use rise
    and each failure is its own - but each is a different user, none failing again: users waking, no clock
    (``new_subject``; the rule fired here before)."""
    wake = [(u, 4 + u % 3) for u in range(0, 60, 2)]
    rows = _lunch(60, T0, wake, 3) + _services(20, T0, T0 + 8 * 3600)
    frame = _frame(rows)
    lat = A.aggregate(frame).lateness
    late = lat[(lat["outcome"] == "rejected") & (lat["direction"] == "late")]
    assert int(late.loc[late["new_subject"], "count"].sum()) == len(wake)
    inc = A.clock_skew_incidents(frame)
    assert inc.empty, inc[["client_id", "start", "evidence"]].to_string()


def _behind(t: int, end: int, user: str = "dev") -> list[dict[str, Any]]:
    """A device 8 min behind from ``t``: uses every minute until 480 s past ``exp``, then renews on the 401."""
    rows: list[dict[str, Any]] = []
    c = 0
    while t < end:
        c += 1
        iat, exp, fp = t, t + 900, f"{user}-{c}"
        while t < exp + 480:
            rows.append(_ev(t, "web", fp, iat, exp, None if t <= exp else Reason.EXPIRED, sub=f"user-{user}"))
            if t > exp:
                break
            t += 60
        t += 1
    return rows


@pytest.mark.parametrize("tabs", [False, True], ids=["one-tab-each", "tabs"])
def test_one_user_failing_again_token_after_token_among_many_is_its_own_clock(tabs: bool) -> None:
    """The same app and lunch (its users with one tab each, or several tabs each holding a token: see
    ``_with_tabs``), and one user whose device clock is 8 min behind from hour 2: each of its tokens is used on
    until 8 min past ``exp`` by the server's clock, rejected, renewed on the 401 - the same subject failing
    again every token cycle. Sessions 25-33 reported that as a clock of the client; since session 34 one device
    among a client's many users is that device's clock, not an incident of the client (``detect._beyond_devices``:
    the blind fleet34's apps have a few % of devices with clocks minutes off all day). Several users behind
    together are the client's clock."""
    wake = [(u, 4 + u % 3) for u in range(0, 60, 2)]
    users = _lunch(60, T0, wake, 3)
    rows = (_with_tabs(users, 4) if tabs else users) + _services(20, T0, T0 + 8 * 3600)
    one = rows + _behind(T0 + 2 * 3600 + 17, T0 + 8 * 3600)
    # without the rule it is one (the shape rules see a clock)
    ctx = D._ctx(_frame(one))
    assert [r["client_id"] for r in D._clock_skews(ctx) if r["kind"] == "clock_skew"] == ["web"]
    inc = A.clock_skew_incidents(ctx)
    assert inc[inc["client_id"] == "web"].empty, inc
    many = rows + [e for k in range(6) for e in _behind(T0 + 2 * 3600 + 17 + 97 * k, T0 + 8 * 3600, f"dev{k}")]
    inc = A.clock_skew_incidents(_frame(many))
    web = inc[inc["client_id"] == "web"]
    assert len(web) >= 1, inc
    assert web["start"].min() <= pd.Timestamp(T0 + 3 * 3600, unit="s", tz="UTC"), web


def _with_tabs(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """``rows`` where every token that fails has one or two sibling tokens of the same user (other browser tabs,
    each holding its own token, minted 1-10 min earlier and used until then) failing 1-20 s after it, when the
    user comes back and every tab resumes."""
    r = random.Random(seed)
    failed = {e["token_fp"] for e in rows if e["reason"] is not None}
    sib = {fp: [(f"{fp}-tab{k}", r.randrange(60, 600)) for k in range(r.choice((1, 2)))] for fp in sorted(failed)}
    out = list(rows)
    for e in rows:
        for fp, d in sib.get(e["token_fp"], ()):
            at = e["time"] - d if e["reason"] is None else e["time"] + r.uniform(1, 20)
            out.append(dict(e, time=at, token_fp=fp, iat=e["iat"] - d, nbf=e["nbf"] - d, exp=e["exp"] - d))
    return out


def test_users_whose_tabs_each_hold_a_token_waking_after_lunch_are_no_clock() -> None:
    """The lunch above, each woken user with two or three tabs (a token each, minted minutes apart): one user's
    tokens fail within seconds of each other when the user comes back. The second and third are no tokens
    that user renewed after a failure (they were held before it): other tabs, each a new subject's failure, not
    the same clock failing again (``new_subject`` read any other token failing within 6 h as "again"; on
    fleet22's quiet days with such tabs, ``benchmarks/noise26.py --shapes tabs``, that gave false clocks)."""
    wake = [(u, 4 + u % 3) for u in range(0, 60, 2)]
    rows = _with_tabs(_lunch(60, T0, wake, 3), 4) + _services(20, T0, T0 + 8 * 3600)
    frame = _frame(rows)
    lat = A.aggregate(frame).lateness
    late = lat[(lat["outcome"] == "rejected") & (lat["direction"] == "late")]
    assert int(late.loc[late["new_subject"], "count"].sum()) >= 2 * len(wake)
    inc = A.clock_skew_incidents(frame)
    assert inc.empty, inc[["client_id", "start", "evidence"]].to_string()


def _with_page_loads(rows: list[dict[str, Any]], seed: int) -> list[dict[str, Any]]:
    """``rows`` where every use is a screen's page load: 1-8 calls with the same token within 0.4 s (before an
    acceptance - the token was valid then too - and after a rejection), as browsers and apps send them."""
    r = random.Random(seed)
    out = list(rows)
    for e in rows:
        for _ in range(min(7, int(r.expovariate(1 / 1.5)))):
            d = r.uniform(0.005, 0.4)
            out.append(dict(e, time=e["time"] - d if e["reason"] is None else e["time"] + d))
    return out


def test_page_loads_of_users_waking_after_lunch_are_no_clock() -> None:
    """The lunch above, every use a page load of several calls at once: a woken user's first screen sends 1-8
    calls with its expired token before the first 401 comes back. Those calls are one visit, not a token kept
    after its 401 at a pace of seconds, nor a user failing again (on fleet22's quiet days with such page loads,
    ``benchmarks/noise26.py --shapes bursts``, they gave false clocks: 3 on 3 days)."""
    wake = [(u, 4 + u % 3) for u in range(0, 60, 2)]
    rows = _with_page_loads(_lunch(60, T0, wake, 3), 5) + _services(20, T0, T0 + 8 * 3600)
    frame = _frame(rows)
    lat = A.aggregate(frame).lateness
    late = lat[(lat["outcome"] == "rejected") & (lat["direction"] == "late")]
    assert int(late["count"].sum()) > len(wake)  # the calls are there, each rejected
    # a woken tab's calls are one visit: its later calls are siblings, none a token kept after its 401 (a tab
    # that slept long is no token in use: neither)
    assert int(late.loc[late["sibling"], "count"].sum()) > 0 and not late["cont"].any()
    assert int(late.loc[late["seen"] & ~late["sibling"], "count"].sum()) <= len(wake)
    inc = A.clock_skew_incidents(frame)
    assert inc.empty, inc[["client_id", "start", "evidence"]].to_string()


def test_a_clock_behind_among_page_loads_is_still_a_clock() -> None:
    """The devices 8 min behind of the test above (several: the client's clock, not one device's), among the
    lunch's users, every use of everyone's a page load: still a clock."""
    wake = [(u, 4 + u % 3) for u in range(0, 60, 2)]
    behind = [e for k in range(6) for e in _behind(T0 + 2 * 3600 + 17 + 97 * k, T0 + 8 * 3600, f"dev{k}")]
    rows = _lunch(60, T0, wake, 3) + behind
    rows = _with_page_loads(rows, 6) + _services(20, T0, T0 + 8 * 3600)
    inc = A.clock_skew_incidents(_frame(rows))
    web = inc[inc["client_id"] == "web"]
    assert len(web) >= 1, inc
    assert web["start"].min() <= pd.Timestamp(T0 + 3 * 3600, unit="s", tz="UTC"), web
