"""Session 43: clocks the blind fleets' scoring missed, on excerpts of their own events (keyed fingerprints only;
trace and span ids, ``jti`` fingerprints and durations blanked, which no detector reads). Each test failed before
the change it names.

- A partner's webhook signer 12 minutes behind with 5-minute tokens: every delivery arrived expired (651 failures
  at 420 s past ``exp`` in 65 minutes) on an issuer whose senders' retries and scanners' replays fail past ``exp``
  all day - no incident: the arrival run's significance reached 6.5 hours of that background and its lateness
  spread over all of it. The run's core - its most common lateness, significant against the same lateness
  outside - is judged instead (``detect._arrival_core``).
- A workload issuer's clock 45 s ahead: 575 tokens rejected before ``iat`` by a strict API, from two batch
  clients, while a B2B issuer's token endpoint had stalled until half an hour into it: no incident - the stall
  "explained" the clients' clock. A stall or a server clock of one issuer explains no failures of another's
  tokens (``detect._explains``, ``detect._tokens_of``).
- Scanners signing with their own key under a random kid and a client id copied from real tokens, rejected for their
  ``typ`` first by the APIs that check it: a TV app's "type confusion" of 3 tokens on quiet nights. A kid the issuers
  never used (folded into ``OTHER``) is no real token sent to the wrong API.
- A restreaming ring replaying real playback tokens with ``exp`` moved a day ahead (bad signatures on the real kid,
  the real client id): no incident - the signature-spike series leaves tokens with implausible ``exp`` out, and the
  attack detector saw only clients never accepted. They are an attack's tokens (``detect._foreign``).
- A hotel chain's set-top boxes 5 minutes ahead (104 failures before ``nbf``) became an API's clock over the 3 of
  their tokens another API rejected past ``exp`` meanwhile: the validator-clock rule reads clocks behind. A client
  incident mostly before ``nbf`` is not weighed by it (``detect._validator_excess``).
- One of a playback token service's three signing nodes 11 minutes behind with 10-minute tokens: 128 tokens of 12
  clients 60-62 s past ``exp`` when they arrived, while the other nodes' tokens were accepted (92 %) - no incident,
  the arrival rule asking that the issuer's tokens be hardly accepted. One lateness from several clients, minute
  after minute, is one clock whatever share of the tokens it stamps (``detect._one_signer``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import jwtobs.analysis as A

DATA = Path(__file__).resolve().parent / "data"


def _events(name: str) -> pd.DataFrame:
    return pd.read_parquet(DATA / f"{name}.parquet")


def test_a_signer_behind_on_an_issuer_with_a_busy_background_of_expired_tokens() -> None:
    """Fleet62's Friday, the webhook issuer's events 06:00-18:00; the signer was behind 11:00-12:04."""
    ev = _events("fleet62-f-signer-behind")
    expired = ev[ev["reason"] == "JWT_EXPIRED"]
    before = expired[expired["time"] < pd.Timestamp("2026-11-06 11:00", tz="UTC")]
    assert len(before) > 40  # the background the run's significance walked over
    inc = A.incidents(ev)
    assert list(inc["kind"]) == ["server_clock_skew"], inc[["kind", "start", "client_id", "count"]]
    row = inc.iloc[0]
    assert row["issuer"] == "https://hooks.partner-scm.example"
    assert row["start"] == pd.Timestamp("2026-11-06 11:00", tz="UTC")
    assert pd.Timestamp("2026-11-06 11:55", tz="UTC") <= row["end"] <= pd.Timestamp("2026-11-06 12:10", tz="UTC")
    assert 580 <= row["count"] <= 660
    assert "behind" in row["evidence"]


def test_a_stall_of_one_issuer_explains_no_clock_of_another() -> None:
    """Fleet46's night: a B2B issuer stalled 00:37-02:30, the workload issuer 45 s ahead 02:00-03:30."""
    ev = _events("fleet46-n-spire-ahead")
    inc = A.incidents(ev)
    assert sorted(inc["kind"]) == ["issuer_stalled", "server_clock_skew"], inc[["kind", "start", "issuer"]]
    row = inc[inc["kind"] == "server_clock_skew"].iloc[0]
    assert row["issuer"] == "spiffe://hospital.example"
    assert abs(row["start"] - pd.Timestamp("2026-11-15 02:00", tz="UTC")) <= pd.Timedelta(minutes=2)
    assert row["count"] == 575
    stall = inc[inc["kind"] == "issuer_stalled"].iloc[0]
    assert stall["issuer"] == "https://b2b.hospital.example/oauth2"


def test_tokens_of_a_kid_nobody_uses_rejected_for_their_typ_are_no_type_confusion() -> None:
    """Fleet64's quiet Saturday night, a TV app's events 03:00-04:30: its tokens accepted, three scanner tokens
    naming it rejected for ``typ`` at the APIs that check it, each under a random kid. Before: a type_confusion."""
    ev = _events("fleet64-s-randkid-typ")
    mismatch = ev[ev["reason"] == "JWT_TYPE_MISMATCH"]
    assert len(mismatch) == 3 and mismatch["kid"].nunique() == 3
    assert set(mismatch["client_id"]) == {"tv-webos"}
    assert (ev["outcome"] == "accepted").sum() > 300
    assert A.incidents(ev).empty


def test_real_tokens_with_their_exp_moved_ahead_failing_their_signature_are_an_attack() -> None:
    """Fleet64's derby evening, the playback issuer's events 17:30-20:30: 1 224 replayed playback tokens with ``exp``
    a day ahead at the CDN, 19:18-19:47. Before: no incident of them."""
    ev = _events("fleet64-d-restream")
    bad = ev[ev["reason"] == "JWT_BAD_SIGNATURE"]
    assert len(bad) > 1200
    assert bad["client_id"].notna().all() and bad["kid"].nunique() <= 2  # real client ids, the real kid
    inc = A.incidents(ev)
    burst = inc[inc["kind"] == "attack_burst"]
    assert len(burst) == 1, inc[["kind", "start", "count"]]
    row = burst.iloc[0]
    assert row["start"] == pd.Timestamp("2026-11-14 19:18", tz="UTC")
    assert row["end"] >= pd.Timestamp("2026-11-14 19:47", tz="UTC")
    assert row["count"] >= 1200
    assert "signature_spike" not in set(inc["kind"])


def test_a_client_clock_ahead_is_no_validators_clock_over_a_few_expired_tokens() -> None:
    """Fleet64's final, a hotel chain's events 16:00-21:30: its boxes 5 min ahead 18:21-20:10. Before: a
    server_clock_skew of entitlements-api over 3 tokens."""
    ev = _events("fleet64-f-hotel-ahead")
    early = ev[ev["reason"] == "JWT_NOT_YET_VALID"]
    assert len(early) > 100
    inc = A.incidents(ev)
    skew = inc[inc["kind"].isin(["clock_skew", "server_clock_skew"])]
    assert list(skew["kind"]) == ["clock_skew"], skew[["kind", "start", "profile", "count"]]
    row = skew.iloc[0]
    assert row["client_id"] == "hotel-iptv"
    assert abs(row["start"] - pd.Timestamp("2026-11-28 18:21", tz="UTC")) <= pd.Timedelta(minutes=2)
    assert row["count"] >= 100


def test_one_signing_node_behind_among_several_is_the_issuers_clock() -> None:
    """Fleet64's final, the playback issuer's events 12:30-17:00: one of its three signing nodes 11 min behind
    15:00-15:43. Before: no incident."""
    ev = _events("fleet64-f-signer-node")
    late = ev[ev["reason"] == "JWT_EXPIRED"]
    assert (ev["outcome"] == "accepted").sum() > 5 * len(late)
    inc = A.incidents(ev)
    assert list(inc["kind"]) == ["server_clock_skew"], inc[["kind", "start", "count"]]
    row = inc.iloc[0]
    assert row["issuer"] == "https://playback.streamco.tv"
    assert row["start"] == pd.Timestamp("2026-11-28 15:00", tz="UTC")
    assert row["count"] == 128
    assert "one signer" in row["evidence"]
