"""Session 38: blind fleet40 (``benchmarks/fleet40.py``: an airline, written without the detectors in view). Each
test reads an excerpt of fleet40's own events (keyed fingerprints only, in ``tests/analysis/data/``) and failed
before this session's change it names.

- A ``server_clock_skew`` names the issuer (the API) holding 90 % of its failures (``detect._named``), and starts at
  that one's first failure; several APIs failing fresh tokens of one issuer at once are that issuer's clock
  (``detect._merged_runs``), from the run's first failure of the clock's lateness (``detect._core_start``).
- A client failing through a stall and, later, through a validator's clock is explained by both taken together
  (``detect._explains``).
- Bad signatures on a kid first verified after they began are the kid used before its key set had it
  (``detect._unverified_kid``: python-jose reports an unknown kid as a bad signature).
- An issuer renewing nothing while its clients' held tokens fail far above their usual rate is stalled, kept or
  not (``detect._stale_surge``).
- A client failing so from its second token cycle and all day after is its normal (``detect._skew_changed``).
- Tokens rejected for their ``typ`` during an attack burst are the burst's: no ``type_confusion``
  (``detect._of_attacks``).

Session 39: crew tablets landing with tokens hours past ``exp``, each presented once at the crew API, are no clock
of that API's validators: a clock ahead fails fresh tokens by about one lateness (``detect.ARRIVAL_SPREAD``). (A
guard: the run was judged on too few failures before; since the evidence runs on at the statistic's cap,
``detect.Params.saturated``, it is long enough to be judged.)
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import jwtobs.analysis as A
import jwtobs.analysis.detect as D

DATA = Path(__file__).resolve().parent / "data"


def _incidents(name: str) -> pd.DataFrame:
    return A.incidents(pd.read_parquet(DATA / f"fleet40-{name}.parquet"))


def _show(inc: pd.DataFrame) -> pd.DataFrame:
    return inc[["kind", "start", "end", "issuer", "profile", "client_id", "kid", "count"]]


def test_an_issuer_clock_ahead_is_named_despite_a_few_failures_of_another() -> None:
    """Incident day 3: the partner IdP 12 minutes ahead 13:30-14:40 (tokens before nbf at the agency API); two of its
    failures meanwhile are a mesh node's sub-second nbf jitter. Before: issuer and profile empty (a false incident
    and a missed one for the scorer)."""
    inc = _incidents("i3-partner-clock")
    assert list(inc["kind"]) == ["server_clock_skew"], _show(inc)
    assert inc.iloc[0]["issuer"] == "https://partners.skyway.example"
    assert inc.iloc[0]["profile"] == "agency-api"


def test_one_issuer_failing_fresh_tokens_at_two_apis_is_its_clock() -> None:
    """Incident day 1: the customer IdP 20 minutes behind from 12:00 (15-minute tokens: every new token expired on
    arrival), still accepted meanwhile with the tokens it issued before (the three customer and workforce IdPs'
    events 10:00-13:10). Before: one incident per API, each blaming that API's clock, the first from 11:36 (resumed
    apps' stale tokens)."""
    inc = _incidents("i1-idp-behind")
    clocks = inc[inc["kind"] == "server_clock_skew"]
    assert len(clocks) == 1, _show(inc)
    assert clocks.iloc[0]["issuer"] == "https://id.skyway.example/realms/skyway"
    assert clocks.iloc[0]["profile"] is None
    assert abs(clocks.iloc[0]["start"] - pd.Timestamp("2026-05-11 12:00", tz="UTC")) <= pd.Timedelta(minutes=2)


def test_clients_failing_through_a_stall_and_a_replica_clock_have_no_incident_of_their_own() -> None:
    """Incident day 2, the mesh: its token endpoint down 09:00-09:12, then one inventory-api replica 4 minutes ahead
    11:04-11:34 (5-minute tokens). Before: three services' own clock_skew incidents besides, neither holding half of
    their failures; the replica's unnamed and 145 s early."""
    inc = _incidents("i2-mesh")
    assert list(inc["kind"]) == ["issuer_stalled", "server_clock_skew"], _show(inc)
    clock = inc.iloc[1]
    assert clock["profile"] == "inventory-api"
    assert abs(clock["start"] - pd.Timestamp("2026-05-12 11:04:24", tz="UTC")) <= pd.Timedelta(minutes=2)


def test_bad_signatures_on_a_kid_verified_only_after_them_are_the_kid_before_publish() -> None:
    """Incident day 3: the partner IdP signing with a new kid 6 minutes before its key set had it, seen by a
    python-jose API (it tries every key when the kid is not found: a bad signature). Before: a signature_spike."""
    inc = _incidents("i3-jose-kid")
    assert list(inc["kind"]) == ["kid_before_publish"], _show(inc)
    assert inc.iloc[0]["kid"] == "pa-z-63782b"


def test_held_tokens_failing_once_each_while_nothing_is_renewed_are_the_issuer_stalled() -> None:
    """Incident day 4: the customer IdP's token endpoint down 09:01-09:30; its apps each send their last token (40
    minutes to 4 hours old) once when the refresh fails - none kept. Before: no incident."""
    inc = _incidents("i4-idp-stall")
    assert list(inc["kind"]) == ["issuer_stalled"], _show(inc)
    assert inc.iloc[0]["issuer"] == "https://id.skyway.example/realms/skyway"
    assert abs(inc.iloc[0]["start"] - pd.Timestamp("2026-05-14 09:01", tz="UTC")) <= pd.Timedelta(minutes=2)


@pytest.mark.parametrize("name", ["i4-agency", "i1-tampered-typ"])
def test_the_background_is_no_incident(name: str) -> None:
    """A travel agency presenting each 10-minute token once past exp, all day from its second cycle (before: a
    clock_skew for its first 25 minutes); a scanner's replayed customer tokens with typ JWT and exp a year ahead
    during an attack on the API (the customer IdP's and the tokenless events 13:40-15:10; before: a type_confusion
    of the customer app besides the burst)."""
    inc = _incidents(name)
    assert not inc["kind"].isin(["clock_skew", "type_confusion"]).any(), _show(inc)


def test_tablets_landing_with_stale_tokens_are_no_validator_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Incident day 2, the workforce IdP's events 12:00-15:00: its key set down 13:00-13:08, then two crew apps
    presenting tokens 1-3 hours past exp once each at crew-api while their new ones are accepted there. Without the
    spread bound: a server_clock_skew of crew-api besides."""
    assert list(_incidents("i2-crew-landing")["kind"]) == ["jwks_outage"]
    monkeypatch.setattr(D, "ARRIVAL_SPREAD", float("inf"))
    assert list(_incidents("i2-crew-landing")["kind"]) == ["jwks_outage", "server_clock_skew"]
