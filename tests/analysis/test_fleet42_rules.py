"""Session 38: blind fleet42 (``benchmarks/fleet42.py``: a retailer, written without the detectors in view). Each
test reads an excerpt of fleet42's own events (keyed fingerprints only; trace and span ids, ``jti`` fingerprints and
durations blanked, which no detector reads) and failed before the change it names.

- Key material replaced under the customer IdP's kid fails the tokens minted since while those minted before go on
  verifying: half of the kid's validations in the first minutes, 3 % over a run that a flash sale's traffic and a
  JWKS outage after it filled. The 5 % share a signature spike needs is now also met in its busiest 5 minutes
  (``detect._peak_share``).
- A scanner replaying real customer tokens with their claims changed during an attack burst names their client and
  kid: those rows lying within a burst are the burst's, not a ``type_confusion`` or a ``key_removed_early``
  (``detect._of_attacks``).

Session 39:

- The workforce IdP's clock 70 minutes behind with 1-hour tokens: every token it minted for 26 minutes failed on
  its first use, from 1-3 a minute at first to 30; the run's statistic reached its cap within three minutes and was
  judged on its first 7 failures (under the 10 an arrival run needs). The evidence now runs on while the statistic
  stays at its cap (``detect.Params.saturated``).
- A seller integration presenting each token once past ``exp`` (it renews on the 401), active for 2 hours, idle for
  11, then back at the same rate until the day's end, was flagged from its return as its API's clock: its return
  after hours away is a start as the data's is (``detect._resumed``).
- The marketplace issuer renewing 2.5 tokens a minute renewed none for 3 minutes while 4 lazy sellers failed as
  they always do: P(0) = 6e-4, under the 1e-3 a stall needed, but such a silence comes about once in its 480
  3-minute stretches a day; now it must be unlikely over the day too (``detect.STALL_P_DAY``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import jwtobs.analysis as A

DATA = Path(__file__).resolve().parent / "data"


def _incidents(name: str) -> pd.DataFrame:
    return A.incidents(pd.read_parquet(DATA / f"fleet42-{name}.parquet"))


def test_key_material_replaced_while_old_tokens_verify_is_a_signature_spike() -> None:
    """Incident day 3, the events of kid cust-2026-02 14:30-17:50: other key material from 16:27 (700 bad signatures
    from the three shopping apps), the key set down from 16:48. Before: the outage only."""
    inc = _incidents("i3-signature")
    assert list(inc["kind"]) == ["signature_spike", "jwks_outage"], inc[["kind", "start", "count"]]
    assert inc.iloc[0]["kid"] == "cust-2026-02"
    assert inc.iloc[0]["start"] == pd.Timestamp("2026-03-14 16:27", tz="UTC")


def test_claims_tampered_with_in_an_attack_are_the_attack() -> None:
    """Incident day 4, the customer IdP's and the tokenless events 20:52-21:30: 300 forged tokens a minute for 27
    minutes, among them real iOS tokens with typ changed. Before: a type_confusion of the iOS app besides."""
    inc = _incidents("i4-attack")
    assert list(inc["kind"]) == ["attack_burst"], inc[["kind", "start", "client_id", "count"]]


def test_issuer_clock_behind_fails_fresh_tokens_from_a_few_a_minute() -> None:
    """Incident day 3, the workforce IdP's events 19:00-22:30: its clock 4 200 s behind from 21:26 to 21:52 (334
    tokens rejected on their first use, 1-3 a minute for the first four minutes). Before: nothing."""
    inc = _incidents("i3-idp-behind")
    assert list(inc["kind"]) == ["server_clock_skew"], inc[["kind", "start", "count"]]
    assert inc.iloc[0]["issuer"] == "https://shopmart.okta.example/oauth2/default"
    assert inc.iloc[0]["start"] == pd.Timestamp("2026-03-14 21:26", tz="UTC")
    assert inc.iloc[0]["count"] == 334


def test_lazy_integration_back_after_idle_hours_is_no_clock() -> None:
    """Quiet day 3, five seller integrations of the marketplace issuer all day; mkt-seller-0034 fails once a token
    cycle at 00:00-02:00 and again from 13:00 on. Before: a server_clock_skew of seller-api from 13:00."""
    assert _incidents("q3-seller-returns").empty


def test_a_few_minutes_without_renewals_among_lazy_clients_is_no_stall() -> None:
    """Incident day 4, the marketplace issuer's events 16:00-21:00 (nothing of it injected). Before: an
    issuer_stalled 19:34-19:35 of 10 failures."""
    assert _incidents("i4-seller-gap").empty
