"""Session 39: blind fleet46 (``benchmarks/fleet46.py``: a regional hospital network, written without the detectors in
view). Each test reads an excerpt of fleet46's own events (keyed fingerprints only; trace and span ids, ``jti``
fingerprints and durations blanked, which no detector reads) and failed before the change it names.

- Shared workstations: a SMART app on ~50 workstations and carts that clinicians switch users on, a few of them with
  clocks minutes off, fails 50-83 times a day across many users' ``sub`` on 540-790 minutes of renewals; it was a
  ``clock_skew`` of the app on 3 of 4 quiet days. A client's clock fails most tokens its devices use up to ``exp``:
  a client of many devices whose failures are under a fifth of its renewal minutes is a few of its devices
  (``detect._few_tokens``).
- One e-prescribing replica 5 minutes behind for two hours: two workforce apps and two pharmacy networks (which sign
  their own tokens) failing before ``nbf`` there were four client clocks. Clients of two issuers failing so at one
  API together are that API's clock (``detect._api_clocks``).
- The B2B server's token endpoint down for two hours of the night export: its integrations sent the tokens they held
  (5 400-10 800 s past ``exp``, each once) - a stall, and an issuer clock 2 hours behind besides, read off tokens
  never accepted. A clock behind fails fresh tokens by about one lateness; an issuer's arrival run must too
  (``detect._one_lateness``, as the at-API one since fleet40's tablets).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import jwtobs.analysis as A

DATA = Path(__file__).resolve().parent / "data"


def _incidents(name: str) -> pd.DataFrame:
    return A.incidents(pd.read_parquet(DATA / f"fleet46-{name}.parquet"))


def test_a_few_shared_workstations_off_are_no_clock_of_their_app() -> None:
    """Quiet Thursday, the cardiology SMART app's events all day. Before: a clock_skew of the app 06:08-20:13."""
    assert _incidents("q2-cardio-workstations").empty


def test_clients_of_two_issuers_failing_before_nbf_at_one_api_are_its_clock() -> None:
    """Incident Friday, the workforce IdP's and the pharmacy networks' events 17:00-20:30 (e-prescribing replica 1's
    clock 300 s behind 18:00-20:00; the replica's own timestamps are off as much). Before: four clients' clock_skew."""
    inc = _incidents("i4-erx-replica")
    assert "clock_skew" not in set(inc["kind"]), inc[["kind", "start", "client_id", "count"]]
    server = inc[inc["kind"] == "server_clock_skew"]
    assert len(server) == 1
    assert server.iloc[0]["profile"] == "e-prescribing"
    assert server.iloc[0]["issuer"] is None
    assert server.iloc[0]["start"] == pd.Timestamp("2026-11-20 17:55", tz="UTC")


def test_tokens_held_through_a_stall_are_no_issuer_clock() -> None:
    """The Saturday night, the B2B server's events 22:00-03:30. Before: a server_clock_skew of the issuer besides."""
    inc = _incidents("n-b2b-stall")
    assert list(inc["kind"]) == ["issuer_stalled"], inc[["kind", "start", "count"]]
    assert inc.iloc[0]["start"] == pd.Timestamp("2026-11-15 00:37", tz="UTC")
