"""Tokens stamped with ``iat`` only (no ``nbf``: Auth0, Okta and Keycloak access tokens) rejected as not yet valid
are measured against ``iat``: the ``early`` lateness rows, in both engines, and the clock faults read from them."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jwt
import numpy as np
import pandas as pd
import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import rsa

import jwtobs
import jwtobs.analysis as A
from jwtobs import config
from jwtobs.analysis import duck
from jwtobs.analysis.aggregate import aggregate, not_before
from jwtobs.analysis.evaluate import match_incidents

ROOT = Path(__file__).resolve().parents[2]


def test_not_before_is_the_later_of_nbf_and_iat_either_missing() -> None:
    nbf = np.array([100.0, np.nan, 100.0, np.nan, 130.0])
    iat = np.array([100.0, 120.0, np.nan, np.nan, 110.0])
    got = not_before(nbf, iat)
    assert got[:3].tolist() == [100.0, 120.0, 100.0] and np.isnan(got[3]) and got[4] == 130.0


def test_a_real_pyjwt_rejection_of_an_iat_only_token_is_an_early_row_in_both_engines(tmp_path: Path) -> None:
    """Real RS256 tokens without ``nbf`` through ``jwtobs.wrap(jwt.decode)``, validated on a replica whose clock
    is 200 s behind the issuer's: PyJWT rejects them (``iat`` in its future), the event says ``detail: iat``
    with no ``nbf``, and both engines count an ``early`` row 200 s before validity - before, such a rejection
    was in no lateness row at all (the clock faults that show only so were invisible)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issued = 1_800_000_000
    claims = {"iss": "https://idp.test", "aud": "api", "sub": "svc-a", "client_id": "svc-a", "iat": issued}
    decode = jwtobs.wrap(jwt.decode, library="pyjwt", profile="api")
    path = tmp_path / "events.jsonl"
    with config.override(events_path=path, fingerprint_key="k" * 32, defer=False):
        for i in range(3):
            tok = jwt.encode({**claims, "exp": issued + 3600, "jti": f"j{i}"}, key, "RS256", headers={"kid": "k1"})
            with time_machine.travel(issued - 200 + i, tick=False), pytest.raises(jwt.ImmatureSignatureError):
                decode(tok, key.public_key(), algorithms=["RS256"], audience="api")
            with time_machine.travel(issued + 60 + i, tick=False):
                assert decode(tok, key.public_key(), algorithms=["RS256"], audience="api")["sub"] == "svc-a"
    ev = A.load_events(path)
    rej = ev[ev["outcome"] == "rejected"]
    assert len(rej) == 3 and set(rej["reason"]) == {"JWT_NOT_YET_VALID"} and set(rej["detail"]) == {"iat"}
    assert rej["nbf"].isna().all() and (rej["iat"] == issued).all()
    by_pandas, by_duckdb = aggregate(ev), duck.aggregate(path)
    pd.testing.assert_frame_equal(by_pandas.lateness, by_duckdb.lateness)
    early = by_pandas.lateness[by_pandas.lateness["direction"] == "early"]
    assert int(early["count"].sum()) == 3 and set(early["client_id"]) == {"svc-a"}, by_pandas.lateness
    assert (early["le"] >= 198).all() and (early["le"] <= 600).all(), early  # 198-200 s before iat, binned


@pytest.mark.parametrize(("variant", "path"), [("replica_behind", "wrap"), ("issuer_ahead", "verifier")])
def test_a_clock_many_clients_share_is_found_from_tokens_without_nbf(variant: str, path: str) -> None:
    """The shared-clock faults of ``test_detect`` whose failures are not-yet-valid rejections (a validator
    replica 400 s behind, the issuer 400 s ahead) on a fleet whose tokens carry ``iat`` only: the same
    verdicts (every generator stamps ``nbf = iat``, both validator paths check ``iat``), so the same single
    ``server_clock_skew`` at the first failure and no client blamed. Before, ``early`` was measured against
    ``nbf`` alone: no incident (replica) or one ``clock_skew`` per client at a later expiry."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_detect import _labels_frame, without_nbf
    from clockfaults import generate as generate_faults
    from timelines import Injected, Timeline

    fault = Injected("server_clock_skew", 3 * 3600, duration=2 * 3600, skew=400, scope=variant)
    tl = Timeline(seed=3900 + len(variant), hours=8, path=path, replicas=3, clients=30, injected=(fault,))
    events, changes, labels = generate_faults(tl)
    events = without_nbf(events)
    assert events["nbf"].isna().all()
    inc = A.incidents(events, changes)
    shown = inc[["kind", "start", "client_id", "evidence"]]
    assert list(inc["kind"]) == ["server_clock_skew"] and inc["client_id"].isna().all(), shown
    score = match_incidents(inc, _labels_frame(labels))
    assert score.recall == 1.0 and max(score.onset_errors_s) <= 120, score.table


def test_the_skew_figure_measures_an_iat_only_rejection_against_iat() -> None:
    from jwtobs.analysis.plots import skew_figure

    t = pd.Timestamp(time.time(), unit="s", tz="UTC")
    frame = pd.DataFrame(
        {
            "time": [t],
            "reason": ["JWT_NOT_YET_VALID"],
            "client_id": ["svc-a"],
            "exp": pd.array([int(t.timestamp()) + 3900], dtype="Int64"),
            "nbf": pd.array([None], dtype="Int64"),
            "iat": pd.array([int(t.timestamp()) + 300], dtype="Int64"),
        }
    )
    fig = skew_figure(frame)
    counts = [p.get_height() for p in fig.axes[0].patches]
    lefts = [p.get_x() for p, h in zip(fig.axes[0].patches, counts, strict=True) if h > 0]
    assert sum(counts) == 1 and -301 <= lefts[0] <= -280, lefts
