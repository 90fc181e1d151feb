"""The detectors on a small real-fleet timeline (benchmarks/realfleet.py): every event produced by the real
validators (jwtobs.wrap(PyJWKClient + jwt.decode) and jwtobs.Verifier + JwksSource per API replica, real
RS256/ES256 tokens, a loopback JWKS server, jwtobs's own sinks, time moved by time-machine), read back from the
replicas' files as a user would. The injected incidents are found, at their onset, and nothing else is
reported. (The full set: benchmarks/bench_detect.py --only-realfleet.)"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

import jwtobs.analysis as A
from jwtobs.analysis.evaluate import load_labels, match_incidents

pytest.importorskip("time_machine")
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from realfleet import Fleet, Inject, run

_FLEET = Fleet(
    seed=7,
    hours=2.5,
    start_hour=9.0,
    apis=4,
    replicas=3,
    services=8,
    batch=2,
    devices=60,
    injected=(
        Inject("kid_before_publish", 50 * 60, duration=15 * 60),
        Inject("attack_burst", 110 * 60, duration=150, rate=2.0),
    ),
)


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("realfleet")
    res = run(_FLEET, out)
    assert res.validations > 3000 and res.jwks_fetches > 20
    return out


def test_events_come_from_both_validator_paths_and_every_replica(fleet_dir: Path) -> None:
    files = sorted(p.name for p in (fleet_dir / "events").glob("*.jsonl"))
    assert len(files) == 4 * 3  # one file per API replica, written by jwtobs's JsonlSink
    ev = A.load_events(fleet_dir)
    assert set(ev["service"].astype(str)) == {f[: -len(".jsonl")] for f in files}
    assert {"RS256", "ES256"} <= set(ev["alg"].dropna().astype(str))
    rej = ev[ev["outcome"] == "rejected"]
    # the background is there: mobile devices waking with old tokens, scanners, forged and unsigned tokens
    assert {"JWT_EXPIRED", "JWT_UNSIGNED", "JWT_MALFORMED", "JWT_UNKNOWN_KID"} <= set(rej["reason"].astype(str))
    # Verifier APIs check typ: scanners' default typ JWT is a type mismatch there, never on the wrap APIs
    by_profile = rej.groupby("profile", observed=True)["reason"].apply(lambda r: "JWT_TYPE_MISMATCH" in set(r))
    assert by_profile.get("api-billing") and not by_profile.get("api-orders")
    changes = A.load_keyset_changes(fleet_dir)
    assert len(changes) and set(changes["service"].astype(str)) <= set(ev["service"].astype(str))
    labels = json.loads((fleet_dir / "labels.json").read_text())["incidents"]
    assert [lab["kind"] for lab in labels] == ["kid_before_publish", "attack_burst"]
    assert all(lab["count"] >= 3 for lab in labels)


def test_injected_incidents_found_and_nothing_else(fleet_dir: Path) -> None:
    ev = A.load_events(fleet_dir)
    inc = A.incidents(ev, A.load_keyset_changes(fleet_dir))
    lab = load_labels(fleet_dir)
    score = match_incidents(inc, lab)
    shown = inc[["kind", "start", "count", "evidence"]]
    assert score.recall == 1.0, (score.table, shown)
    assert score.precision == 1.0, shown
    assert max(score.onset_errors_s) <= 120, score.table


_SKEW_FLEET = dataclasses.replace(
    _FLEET,
    seed=8,
    hours=6.0,
    start_hour=8.0,
    injected=(Inject("clock_skew", 3 * 3600, duration=2.5 * 3600, skew=600, refresh=True),),
)


def test_a_clock_behind_on_a_service_refreshing_after_each_401_is_found(tmp_path: Path) -> None:
    """One service's clock 600 s behind for 2.5 h; like most client libraries it refreshes its token after a
    401 and retries once, so each of its pods fails once per token cycle (real tokens through the real
    validators: PyJWT's and the Verifier's own exp checks with their leeways) and the fresh token is accepted
    at once - nothing kept after a 401, no burst. Found from the recurrence, at its first failure, with the
    failures' lateness and the refresh chain as evidence; nothing else is reported."""
    res = run(_SKEW_FLEET, tmp_path)
    assert [lab["kind"] for lab in res.labels] == ["clock_skew"] and res.labels[0]["count"] >= 3
    ev = A.load_events(tmp_path)
    skewed = res.labels[0]["client_id"]
    late = ev[(ev["client_id"] == skewed) & (ev["reason"] == "JWT_EXPIRED")]
    assert len(late) >= 3 and late["token_fp"].is_unique  # once per token: refreshed after each 401
    inc = A.incidents(ev, A.load_keyset_changes(tmp_path))
    score = match_incidents(inc, load_labels(tmp_path))
    shown = inc[["kind", "client_id", "start", "count", "evidence"]]
    assert score.recall == 1.0 and score.precision == 1.0, (score.table, shown)
    assert max(score.onset_errors_s) <= 120, score.table
    row = inc.iloc[0]
    assert row["client_id"] == skewed and "refreshing on the 401" in row["evidence"], row["evidence"]
    assert "refresh-chain link" in row["evidence"] and "clock at least ~" in row["evidence"]
