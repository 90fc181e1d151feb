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
