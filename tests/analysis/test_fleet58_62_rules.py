"""Session 42: blind fleets 58 (``benchmarks/fleet58.py``: a food-delivery marketplace), 60 (``fleet60.py``: a
smart-home / IoT platform) and 62 (``fleet62.py``: a CI/CD and artifact platform), written without the detectors in
view. Each test reads an excerpt of the fleet's own events (keyed fingerprints only; trace and span ids, ``jti``
fingerprints and durations blanked, which no detector reads) and failed before the change it names.

- A POS partner's outdated SDK refreshing only on its 401s and presenting the rejected token again half the time:
  3.5-4.1 % of its uses failed past ``exp`` all morning, 5.3-5.8 % at the lunch peak, when more of its tokens
  expired mid-session - a clock from 13:43 to the day's end on 3 of 4 quiet days. Its failures per use did not
  double; a clock going wrong multiplies them (``detect._usual_rate``). So for a build farm's agents stamping their
  own tokens minutes ahead all day, failing before ``nbf`` more often in the working hours.
- A third of a camera model's devices 7 minutes ahead, stamping their own attestation tokens (661 failures): no
  incident, "failing from its first tokens' expiry" - a test for a clock behind, failed by a rebooted board's token
  stamped months back. A clock ahead is not judged by what expired (``detect._first_expiry``).
- One agent of a build farm's 13, one pusher of a utility partner's 32, each with its own clock drifting: a clock of
  the client, since the device rule counted only the subjects seen outside the validity window (one). The subjects
  of a client's accepted tokens are now an aggregate of both engines (``Aggregates.subjects``).
- Scanners replaying leaked tokens of a retired key with ``exp`` moved an hour ahead, from 1.5 to 7.5 hours after
  the key left on 1-hour tokens: "removed early". No token signed with a key before it left is valid longer than
  the issuer's longest lifetime after (``detect._all_after_signing``).
- A device IdP's key dropped while devices held tokens signed with it, and a 3-minute 503 of the key set 15 minutes
  later: no incident, the blip "explaining" the unknown kids around it. A fetch failure explains no unknown kid of a
  key the key set had dropped before it (``detect._rotation_row``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import jwtobs.analysis as A

DATA = Path(__file__).resolve().parent / "data"


def _events(name: str) -> pd.DataFrame:
    return pd.read_parquet(DATA / f"{name}.parquet")


def test_a_lazy_client_failing_at_its_usual_rate_per_use_at_a_busier_hour_is_no_clock() -> None:
    """Quiet Monday, the POS SDK's events all day. Before: a clock_skew 13:43-23:29, 43 failures."""
    ev = _events("fleet58-m-pos-lazy")
    expired = ev[(ev["outcome"] != "accepted") & (ev["reason"] == "JWT_EXPIRED")]
    assert len(expired) > 150 and expired["time"].min() < pd.Timestamp("2026-11-02 08:00", tz="UTC")
    inc = A.incidents(ev)
    assert inc.empty, inc[["kind", "start", "client_id", "count"]]
    # its lateness is still there for a person to read, beside the healthy clients' offsets
    skew = A.clock_skew(ev)
    assert skew.loc["pos-legacy", "expired"] == len(expired)


def test_a_build_agent_ahead_all_day_failing_at_its_usual_rate_per_use_is_no_clock() -> None:
    """Quiet Sunday, a build farm's events all day: two agents stamping their own pull tokens 2-7 minutes ahead,
    failing before ``nbf`` from midnight, more of them in the working hours. Before: a clock_skew 07:17-23:15."""
    ev = _events("fleet62-s-farm-ahead")
    early = ev[ev["reason"] == "JWT_NOT_YET_VALID"]
    assert len(early) > 100 and early["time"].min() < pd.Timestamp("2026-11-08 01:00", tz="UTC")
    inc = A.incidents(ev)
    assert inc.empty, inc[["kind", "start", "client_id", "count"]]


def test_a_device_group_ahead_is_a_clock_whatever_expired_in_its_first_minute() -> None:
    """A firmware wave: a third of a camera model's devices, stamping their own attestation tokens, 7 minutes
    ahead from 08:00 (the label: 08:00:03, 661 failures), while rebooted boards present tokens stamped with their
    build date. Before: no incident - "failing from its first tokens' expiry" (the first late row is a board's
    token expired for months), a test that only a clock behind can fail."""
    inc = A.incidents(_events("fleet60-o-attest-ahead"))
    skews = inc[inc["kind"] == "clock_skew"]
    assert list(skews["client_id"]) == ["cam-c2"], inc[["kind", "start", "client_id", "count"]]
    row = skews.iloc[0]
    assert pd.Timestamp("2026-11-12 08:00", tz="UTC") <= row["start"] <= pd.Timestamp("2026-11-12 08:02", tz="UTC")
    assert "ahead" in row["evidence"]


def test_one_device_of_a_client_of_many_with_its_own_clock_is_no_clock_of_the_client() -> None:
    """A build farm of 13 agents, one of them drifting 10 -> 70 s ahead over the day (167 failures), and a utility
    partner's 32 pushers, one of them drifting 3 -> 7 minutes behind (200): every failure from one subject. Before:
    a clock_skew of each client - the device rule counted only the subjects seen outside the validity window (1)."""
    for name, cid in (("fleet62-w-farm-agent", "farm-tyrell"), ("fleet60-o-pusher-drift", "gridco-dr")):
        ev = _events(name)
        failed = ev[ev["reason"].isin(["JWT_EXPIRED", "JWT_NOT_YET_VALID"])]
        assert len(failed) > 150 and failed["sub_hash"].nunique() == 1
        aggs = A.aggregate(ev)
        assert aggs.subjects is not None
        assert int(aggs.subjects.set_index("client_id").loc[cid, "subjects"]) >= 10  # (SKEW_DEVICE_PEERS)
        inc = A.incidents(aggs)
        assert inc.empty, (name, inc[["kind", "start", "client_id", "count"]])


def test_replayed_tokens_of_a_retired_key_hours_after_it_left_are_no_early_removal() -> None:
    """A healthy rotation: the old key left the key set at 12:34, an hour after its last token was accepted (1-hour
    tokens); scanners replayed leaked tokens naming it, ``exp`` moved an hour ahead, from 14:04 to 20:07 (10
    failures). Before: a key_removed_early 14:04-20:07."""
    ev = _events("fleet62-t-replayed-kid")
    changes = _events("fleet62-t-replayed-kid-keysets")
    assert "k1-81c8007fa0" in set(changes["removed"].explode().dropna())
    unknown = ev[(ev["reason"] == "JWT_UNKNOWN_KID") & (ev["kid"] == "k1-81c8007fa0")]
    assert len(unknown) >= 10
    inc = A.incidents(ev, changes)
    assert not (inc["kind"] == "key_removed_early").any(), inc[["kind", "start", "kid", "count"]]


def test_a_key_removed_early_is_no_fetch_blip_that_came_after_it() -> None:
    """An OTA wave: the device IdP's key left the key set at 09:17 while devices held tokens signed with it (the label:
    09:17, 209 failures over 40 minutes); 15 minutes later a 3-minute 503 of the key set, in the middle of the run.
    Before: no incident - "validators could not fetch the key set", though they had fetched it without the kid
    before the fetches failed."""
    ev = _events("fleet60-o-removed-blip")
    changes = _events("fleet60-o-removed-blip-keysets")
    assert (ev["reason"] == "JWT_JWKS_UNAVAILABLE").sum() >= 10
    inc = A.incidents(ev, changes)
    removed = inc[inc["kind"] == "key_removed_early"]
    assert list(removed["kid"]) == ["devices-202611-bb6f"], inc[["kind", "start", "kid", "count"]]
    assert removed.iloc[0]["start"] == pd.Timestamp("2026-11-12 09:17", tz="UTC")
    assert removed.iloc[0]["count"] >= 150
