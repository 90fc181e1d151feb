"""Session 40: blind fleets 48 (``benchmarks/fleet48.py``: an EV charging network), 50 (``benchmarks/fleet50.py``: a
university with an LMS as LTI 1.3 platform) and 54 (``benchmarks/fleet54.py``: parcel logistics), written without the
detectors in view. Each test reads an excerpt of the
fleet's own events (keyed fingerprints only; trace and span ids, ``jti`` fingerprints and durations blanked, which no
detector reads) and failed before the change it names.

- Chargers whose clocks a site-wide power cut reset to 2020 never renewed their 2-hour tokens and sent them with every
  heartbeat (every 20-60 minutes) for three hours: not one failure was ``seen`` (a token's uses went back to an
  acceptance only across pauses up to 30 minutes), so no clock. A token's pace may now span up to half its lifetime
  (``aggregate.CONT_LIFE``), in both engines.
- A depot integration refreshing only on a 401 (7 gateways, 30-minute tokens) failed first 42 minutes into the data,
  on a token that had expired 11-14 minutes before - the tokens it held at the data's start, failing at their
  expiry - and went on so all day: a clock, since 42 minutes is past its 41-minute cycle from the first acceptance.
  An incident whose first failure is of a token that expired within that cycle is the client's normal
  (``detect._first_expiry``).
- A device CA's old key removed 4 hours after its rotation with 8-hour tokens: 3 347 still-valid tokens of six depots
  rejected as unknown kid over 3 hours, no incident - two 1-2 minute key-set fetch failures of restarted replicas
  within it "explained" the whole run. An outage explains the unknown kids in its minutes only
  (``detect._rotation_row``).
- A device CA's clock 150 s ahead with 8-hour tokens: six depots' scanners failing before ``nbf`` from an hour into
  the data were each "failing from their first token cycle" (8 hours long) and dropped as chronic before any
  shared-clock rule saw them, though they had renewed hundreds of tokens clean in that hour. The first-cycle rule now
  needs that stretch to say nothing (``detect._clean_before``).
- A lab's kiosk PCs, whose tokens some APIs refuse before ``nbf`` or past ``exp`` (1.3 % of their uses, all day), were
  a ``clock_skew`` of the kiosk client on every quiet day: its first users come at dawn, an hour before the failures
  start - too little traffic before to have shown them (``detect._unseen_before``); so were staff desktops on one.
- The campus portal's phones, a few of them minutes behind, failed 22 times in 7 hours on 425 minutes of renewals - a
  few devices by session 39's share rule - yet stayed a ``clock_skew`` of the portal: its drift was read off every
  rejected token, laptops' tokens days old among them. A drift is now read off the incident's own failures
  (``detect._few_tokens``).
- A student-records replica 45 s behind at leeway 0: three portal clients of the campus SSO failing before ``nbf``
  there, accepted meanwhile by the LMS (leeway 30 s) and proctoring (10 s), were three client clocks. An SSO 45 s
  ahead would have failed their fresh tokens at proctoring too: that API's clock (``detect._fresh_elsewhere``).
- An LMS 420 s behind with 5-minute LTI launch tokens: 903 of them expired on arrival at the grading tool, no
  incident - they all name one client, the tool, and the arrival rule needed two (``detect._sole_client``).
- A library federation IdP, whose one client id is its discovery portal, down for 2.5 hours: the portal's users kept
  their tokens past ``exp`` (885 failures), no incident - a stall needs two clients, or one whose issuer's other
  clients renewed nothing meanwhile; this issuer has no other (``detect._sole_client`` in ``_issuer_stalls``).
- An operator IdP 200 s behind with 10-minute app tokens: hundreds of phones of its Android and iOS apps failing past
  ``exp`` from the same minute were the two apps' own clocks (``detect._app_clocks``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import jwtobs.analysis as A
from jwtobs.analysis import duck

DATA = Path(__file__).resolve().parent / "data"


def _incidents(name: str) -> pd.DataFrame:
    return A.incidents(pd.read_parquet(DATA / f"{name}.parquet"))


def test_a_client_failing_as_often_since_its_first_users_is_no_clock_incident() -> None:
    """Quiet Monday, the lab kiosks' and staff desktops' events all day. Before: a clock_skew of the kiosk client
    07:19-22:06 and one of the desktops 06:46-13:57."""
    assert _incidents("fleet50-q1-lab-kiosk").empty


def test_one_issuers_clients_failing_before_nbf_at_one_api_only_are_its_clock() -> None:
    """Incident Friday, three portal clients' events 13:00-18:30 (student-records replica 1 45 s behind 15:00-18:00;
    the SSO's token endpoint down from 18:00). Before: three clients' clock_skew, no server_clock_skew."""
    inc = _incidents("fleet50-f-records-replica")
    server = inc[inc["kind"] == "server_clock_skew"]
    assert len(server) == 1, inc[["kind", "start", "client_id", "profile", "count"]]
    assert server.iloc[0]["profile"] == "student-records"
    clocks = inc[inc["kind"] == "clock_skew"]
    assert set(clocks["client_id"]) <= {"campus-portal-web"}  # (its failures past exp at the LMS too, to 18:30)


def test_an_issuers_only_client_failing_on_arrival_is_the_issuers_clock() -> None:
    """Incident Wednesday, the LMS's events 12:00-17:30 (its clock 420 s behind 14:00-16:00). Before: nothing."""
    inc = _incidents("fleet50-w-lms-behind")
    assert list(inc["kind"]) == ["server_clock_skew"], inc[["kind", "start", "count"]]
    row = inc.iloc[0]
    assert row["issuer"] == "https://lms.uni.example"
    assert row["start"] == pd.Timestamp("2026-10-21 14:00", tz="UTC")
    assert row["count"] >= 800


def test_two_apps_of_many_phones_failing_from_one_minute_are_their_issuers_clock() -> None:
    """Incident Friday, the driver apps' events 09:00-21:00 (the operator IdP 200 s behind 17:07-17:57). Before: a
    clock_skew of each app."""
    inc = _incidents("fleet48-f-idp-behind")
    assert "clock_skew" not in set(inc["kind"]), inc[["kind", "start", "client_id", "count"]]
    server = inc[inc["kind"] == "server_clock_skew"]
    assert len(server) == 1
    assert server.iloc[0]["issuer"] == "https://id.voltway.example"
    assert server.iloc[0]["start"] == pd.Timestamp("2026-11-13 17:07", tz="UTC")


def test_an_issuers_only_client_keeping_its_tokens_through_a_stall_is_the_stall() -> None:
    """Incident Wednesday, the federation IdP's events 06:00-13:00 (its token endpoint down 09:00-11:30). Before:
    nothing."""
    inc = _incidents("fleet50-w-federation-stall")
    assert list(inc["kind"]) == ["issuer_stalled"], inc[["kind", "start", "count"]]
    assert inc.iloc[0]["issuer"] == "https://fed.library.example/idp"
    assert inc.iloc[0]["start"] == pd.Timestamp("2026-10-21 09:03", tz="UTC")


def test_chargers_sending_their_token_each_heartbeat_past_exp_are_their_clock() -> None:
    """Incident Tuesday, three charging sites' events 08:00-20:00 (site 7's chargers reset to 2020 by a power cut
    13:36-16:36). Before: nothing. Both engines read the slow heartbeats alike."""
    path = DATA / "fleet48-t-site-powercut.parquet"
    inc = A.incidents(pd.read_parquet(path))
    pd.testing.assert_frame_equal(inc, A.incidents(duck.aggregate(path)))
    assert list(inc["kind"]) == ["clock_skew"], inc[["kind", "start", "client_id", "count"]]
    assert inc.iloc[0]["client_id"] == "cpo-site-07"
    assert inc.iloc[0]["start"] == pd.Timestamp("2026-11-10 13:36", tz="UTC")


def test_a_few_phones_behind_among_a_portals_stale_tokens_are_no_drifting_clock() -> None:
    """Quiet Thursday, the campus portal's events 07:00-19:00. Before: a clock_skew of the portal from 11:20."""
    assert _incidents("fleet50-q4-portal-phones").empty


def test_a_lazy_refresher_failing_from_its_first_tokens_expiry_is_no_clock_incident() -> None:
    """Incident Friday, the fleet-management IdP's events 09:00-14:00 (nothing injected on it). Before: a clock_skew of
    depot fleet-000 from 09:42."""
    assert _incidents("fleet48-f-lazy-depot").empty


def test_a_fetch_blip_of_a_minute_explains_no_hours_of_unknown_kids() -> None:
    """Weekend night, the device CA's events 02:00-08:00 (its old key removed at 04:00, 8-hour tokens). Before: only
    the night's attack burst."""
    inc = _incidents("fleet54-w-device-key-removed")
    removed = inc[inc["kind"] == "key_removed_early"]
    assert len(removed) == 1, inc[["kind", "start", "kid", "count"]]
    assert removed.iloc[0]["kid"] == "devi-0fbb56"
    assert removed.iloc[0]["start"] == pd.Timestamp("2026-11-15 04:00", tz="UTC")


def test_depots_renewing_clean_for_an_hour_then_failing_before_nbf_are_their_issuers_clock() -> None:
    """Weekend evening, the device CA's events 20:00-00:30 (its clock 150 s ahead from 21:00). Before: nothing."""
    inc = _incidents("fleet54-w-device-ca-ahead")
    assert list(inc["kind"]) == ["server_clock_skew"], inc[["kind", "start", "client_id", "count"]]
    assert inc.iloc[0]["issuer"] == "https://devices.parcelco.example"
    assert inc.iloc[0]["start"] == pd.Timestamp("2026-11-14 21:00", tz="UTC")
