"""Session 39: blind fleet44 (``benchmarks/fleet44.py``: a game platform, written without the detectors in view). Each
test reads an excerpt of fleet44's own events (keyed fingerprints only; trace and span ids, ``jti`` fingerprints and
durations blanked, which no detector reads).

- A kid used 27 minutes before its publication during a patch wave: none of the issuer's new tokens verifies, so
  none is accepted as a renewal, and its clients go on with the tokens they hold - a stall of the same 27 minutes
  besides the ``kid_before_publish``. A stall that a new key's failures overlap is theirs (``detect._of_new_keys``).
- An account key dropped 2.5 minutes after the switch: 264 unknown-kid rejections, and 76 bad signatures on the same
  kid at the APIs that verify with the whole key set when the kid is not in it (python-jose), a signature spike
  besides. Bad signatures on a kid removed early are that removal's (``detect._of_removed_keys``).
- A flood of tampered tokens re-signed under the account service's kid during the cup final (an attack burst), an
  hour before one of its eight signer nodes came up with stale key material: the burst's bad signatures and the
  scanners' strays joined the real spike's run, its onset 4 604 s early. Bad signatures in an attack burst's minutes
  are left out of the signature series (``detect.rotation_incidents(bursts=...)``).
- A console model's system update breaks its time sync and half of its units drift behind by 160 s an hour: 90 failures
on 813 minutes of renewals, a share as small as a few workstations' steady clocks give (``detect._few_tokens``, from
fleet46); a lateness drifting that fast is a clock going wrong, and the incident stays (``detect.SKEW_DRIFTING``). A
guard: without the drift it is dropped.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import jwtobs.analysis as A
import jwtobs.analysis.detect as D

DATA = Path(__file__).resolve().parent / "data"


def test_part_of_a_fleet_drifting_is_a_clock_incident(monkeypatch: pytest.MonkeyPatch) -> None:
    """The EU evening, the console model's events 10:00-24:00 (its clock incident from 13:32; a signature spike of
    the federation's kid and a key set outage besides)."""
    frame = pd.read_parquet(DATA / "fleet44-e-console-drift.parquet")
    inc = A.incidents(frame)
    skew = inc[inc["kind"] == "clock_skew"]
    assert list(skew["client_id"]) == ["console-b-title"], inc[["kind", "start", "client_id", "count"]]
    assert skew.iloc[0]["count"] == 90
    monkeypatch.setattr(D, "SKEW_DRIFTING", float("inf"))
    assert "clock_skew" not in set(A.incidents(frame)["kind"])


def test_a_kid_used_before_publication_is_no_stall() -> None:
    """The patch night, the account service's events 13:00-15:30. Before: an issuer_stalled 14:18-14:45 besides."""
    inc = A.incidents(pd.read_parquet(DATA / "fleet44-p-kid-unpublished.parquet"))
    assert list(inc["kind"]) == ["kid_before_publish"], inc[["kind", "start", "count"]]


def test_bad_signatures_on_a_removed_kid_are_its_removal() -> None:
    """The EU evening, the account service's events 16:00-18:30 (an iOS release asking for the wrong audience from
    18:09 besides). Before: a signature_spike on the removed kid 17:04-17:44 besides."""
    inc = A.incidents(pd.read_parquet(DATA / "fleet44-e-key-removed.parquet"))
    assert list(inc["kind"]) == ["key_removed_early", "audience_misconfig"], inc[["kind", "start", "count"]]
    assert inc.iloc[0]["kid"] == "acct-20261124-a"


def test_a_signature_spike_starts_after_an_attack_on_its_kid() -> None:
    """The cup final, the account service's and the tokenless events 14:30-18:00: the burst 15:00-15:17, the stale
    signer node from 16:03. Before: a signature_spike from 14:47."""
    inc = A.incidents(pd.read_parquet(DATA / "fleet44-c-spike-after-flood.parquet"))
    spike = inc[inc["kind"] == "signature_spike"]
    assert list(spike["kid"]) == ["acct-20261128-a"], inc[["kind", "start", "kid", "count"]]
    assert spike.iloc[0]["start"] == pd.Timestamp("2026-11-28 16:03", tz="UTC")
    assert "attack_burst" in set(inc["kind"])
