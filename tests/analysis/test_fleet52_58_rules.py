"""Session 41: blind fleets 48 (``benchmarks/fleet48.py``: an EV charging network), 52 (``benchmarks/fleet52.py``: a
retail bank with an open-banking platform), 54 (``benchmarks/fleet54.py``: parcel logistics), 56
(``benchmarks/fleet56.py``: a mobile operator's 5G core) and 58 (``benchmarks/fleet58.py``: a food-delivery
marketplace), written without the detectors in view. Each test reads an excerpt of the fleet's own events (keyed
fingerprints only; trace and span ids, ``jti`` fingerprints and durations blanked, which no detector reads) and failed
before the change it names.

- A TPP's servers 3 minutes behind, refreshing on their 401s, polling 36 consents all day: each consent's token
  failed once now and then, 40-120 s past ``exp``, 69 failures over 4.5 hours, none in the 3 hours before - no
  incident, because most were new subjects (a clock fails one user again and again; users waking fail once each).
  With few subjects they fail again by chance as often as a clock makes them; what tells the clock is that every
  failure is bounded by its offset (``detect._bounded``).
- A depot's scanners drifting behind after a firmware update broke NTP, from 2.6 hours into the night on 8-hour
  tokens: 518 failures, no incident - "failing from its first tokens' expiry" (the first cycle is most of the
  night), a lazy refresher. A lazy refresher's lateness does not drift (``detect._first_expiry``); and a drift is
  now the median slope of the hourly offsets, not first to last (``detect._rate``: a lazy seller's stale hour read
  as a drift).
- An operator IdP's token endpoint down 37 minutes while logins were still served: renewals dropped (16 in 24
  minutes where 2.17 a minute were usual) but never stopped, and its apps' and a worker's kept tokens, ageing from
  240 to 900 s past ``exp``, were three client clocks (``detect._ageing_stalls``).
- A namf replica 4 minutes ahead: 81 failures there where none came before, among the exposure gateway's and the OSS
  integrations' usual failures - one ``server_clock_skew`` of "the validators of namf-comm, nef-camara, oss-bss-api",
  naming no API. The API whose failures per use rose (alone) is named, the others' background left out
  (``detect._risen_profile``).
- A developer portal's apps and OSS integrations that refresh only on a 401, their first tokens of the night all
  expiring at 01:10-01:25: "clients failing at once", a validators' clock on two quiet nights. A failure of a token
  that expired within its client's first cycle is no change (``detect._first_in_cycle``).
- A developer app refreshing only on its 401s, its first token of the night expiring unrenewed: a refresh chain of 6
  failures from 1.04 token cycles after its first use - "0 such failures in the 0 token cycles before", a clock
  against the fleet's prior alone. A client needs half a cycle of its own history before the last
  (``detect.SKEW_OWN_HISTORY``).
- A mesh CA 75 s ahead, two workloads calling one API failing before ``nbf`` from 20:00 and 20:01: two client clocks
  (an issuer's clock at one API needed three clients). Two clients of one issuer starting within 10 minutes of each
  other share its clock (``detect._together``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import jwtobs.analysis as A
from jwtobs.analysis import duck

DATA = Path(__file__).resolve().parent / "data"


def _incidents(name: str) -> pd.DataFrame:
    return A.incidents(pd.read_parquet(DATA / f"{name}.parquet"))


def test_a_many_subject_client_behind_bounded_by_its_offset_is_a_clock() -> None:
    """Salary day, the TPP's events 06:00-16:00. Before: nothing."""
    inc = _incidents("fleet52-s-tpp-behind")
    assert list(inc["kind"]) == ["clock_skew"], inc[["kind", "start", "client_id", "count"]]
    row = inc.iloc[0]
    assert row["client_id"] == "tpp-budgetly"
    assert row["start"] == pd.Timestamp("2026-04-24 09:17", tz="UTC")  # (the label: 09:17:00)
    assert "behind" in row["evidence"]


def test_scanners_drifting_behind_within_their_first_long_cycle_are_a_clock() -> None:
    """Night shift, the depot's events 18:00-06:00 (a device CA stall at 21:39 and a scraping burst at 23:12 are in
    them too). Before: no clock_skew of depot-lei."""
    inc = _incidents("fleet54-n-scanners-drift")
    clocks = inc[inc["kind"] == "clock_skew"]
    assert list(clocks["client_id"]) == ["depot-lei"], inc[["kind", "start", "client_id", "count"]]
    assert clocks.iloc[0]["start"] == pd.Timestamp("2026-11-09 20:37", tz="UTC")  # (the label: 20:37:53)


def test_an_issuer_whose_renewals_drop_while_kept_tokens_age_is_stalled() -> None:
    """Wednesday, the operator IdP's events 16:00-20:30. Before: three clock_skew incidents (both apps and the
    billing worker) 19:00-19:24."""
    path = DATA / "fleet48-w-idp-stall.parquet"
    inc = A.incidents(pd.read_parquet(path))
    pd.testing.assert_frame_equal(inc, A.incidents(duck.aggregate(path)))
    assert "clock_skew" not in set(inc["kind"]), inc[["kind", "start", "client_id", "count"]]
    stall = inc[inc["kind"] == "issuer_stalled"]
    assert len(stall) == 1 and stall.iloc[0]["issuer"] == "https://id.voltway.example"
    assert stall.iloc[0]["start"] == pd.Timestamp("2026-11-11 19:01", tz="UTC")  # (the label: 19:00:48)
    assert "16 renewed tokens" in stall.iloc[0]["evidence"] and "ageing" in stall.iloc[0]["evidence"]


def test_the_one_api_whose_failures_per_use_rose_is_the_clock_named() -> None:
    """Busy Tuesday, the three APIs' events 08:00-12:40 (the NRF's bad signatures left out). Before: a
    server_clock_skew naming neither issuer nor API (104 failures)."""
    inc = _incidents("fleet56-t-namf-ahead")
    clocks = inc[inc["kind"] == "server_clock_skew"]
    assert list(clocks["profile"]) == ["namf-comm"], inc[["kind", "start", "profile", "count"]]
    assert clocks.iloc[0]["start"] == pd.Timestamp("2026-03-10 09:39", tz="UTC")  # (the label: 09:34:45)
    assert int(clocks.iloc[0]["count"]) == 81  # (namf-comm's failures only)


def test_lazy_clients_failing_from_their_first_expiry_are_no_validators_clock() -> None:
    """Quiet Saturday, the developer portal's and the corporate SSO's events 00:00-06:00. Before: a server_clock_skew
    01:13-05:21 of 42 failures, "the clock of the validators of nef-camara, oss-bss-api"."""
    inc = _incidents("fleet56-q-night-lazy")
    assert "server_clock_skew" not in set(inc["kind"]), inc[["kind", "start", "client_id", "count"]]


def test_two_clients_of_one_issuer_failing_before_nbf_together_at_one_api_are_its_clock() -> None:
    """Tuesday, the mesh CA's events 18:00-21:30. Before: clock_skew incidents of eta-svc and order-svc."""
    inc = _incidents("fleet58-t-mesh-ahead")
    assert list(inc["kind"]) == ["server_clock_skew"], inc[["kind", "start", "client_id", "count"]]
    row = inc.iloc[0]
    assert row["issuer"] == "https://mesh-ca.forkful.internal" and row["client_id"] is None
    assert row["start"] == pd.Timestamp("2026-11-10 20:00", tz="UTC") and int(row["count"]) == 365


def test_a_lazy_app_failing_from_its_first_token_of_the_night_is_no_clock() -> None:
    """Quiet Sunday, every API's events 00:00-06:00. Before: a clock_skew of app-6bac 01:20-03:05 (6 failures; the
    excerpt alone also shows an OSS integration's 2 kept tokens at 01:12, which the whole day does not)."""
    inc = _incidents("fleet56-u-night-chain")
    assert "app-6bac" not in set(inc.loc[inc["kind"] == "clock_skew", "client_id"]), inc[["kind", "client_id"]]
