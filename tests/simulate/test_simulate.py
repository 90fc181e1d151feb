"""The simulator: real tokens through the real wrapper, seeded, labelled, TOML scenarios."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import jwtobs
from jwtobs import config
from jwtobs.analysis import load_events, load_keyset_changes
from jwtobs.simulate import INCIDENT_KINDS, Incident, Scenario, load_scenario, simulate

SHORT = Scenario(
    seed=7,
    duration=3 * 3600,
    clients=6,
    incidents=(
        Incident("jwks_outage", at=1800, duration=600),
        Incident("attack_burst", at=5400, duration=120),
        Incident("type_confusion", at=7200, duration=900),
    ),
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(SHORT, out)
    return out


def test_events_come_from_the_wrapper(run: Path) -> None:
    df = load_events(run / "events.jsonl")
    assert len(df) > 1000
    assert set(df["library"].astype(str)) == {"pyjwt"}
    assert set(df["profile"].astype(str)) <= {"api-orders", "api-billing", "api-search"}
    assert (df["outcome"] == "accepted").mean() > 0.8
    # PyJWT's own exceptions, classified by the adapter
    reasons = set(df["reason"].dropna().astype(str))
    assert {"JWT_JWKS_UNAVAILABLE", "JWT_UNSIGNED", "JWT_AUDIENCE_MISMATCH"} <= reasons
    # no raw token or claim values in the file
    text = (run / "events.jsonl").read_text()
    assert "eyJ" not in text and "svc-client" not in text
    # simulated time, not wall time
    assert df["time"].min().timestamp() >= SHORT.start
    assert df["time"].max().timestamp() <= SHORT.start + SHORT.duration


def test_labels_describe_the_injected_failures(run: Path) -> None:
    labels = json.loads((run / "labels.json").read_text())["incidents"]
    assert [lab["kind"] for lab in labels] == ["jwks_outage", "attack_burst", "type_confusion"]
    for lab in labels:
        assert lab["count"] > 0 and lab["start"] <= lab["end"]


def test_keyset_changes_written(run: Path) -> None:
    ch = load_keyset_changes(run / "events.jsonl")
    assert len(ch) >= 2  # initial publication per issuer at least
    assert set(ch["issuer"]) == {"https://idp0.example", "https://idp1.example"}


def test_seeded_runs_are_reproducible(tmp_path: Path) -> None:
    sc = Scenario(seed=3, duration=1800, clients=4, incidents=(Incident("attack_burst", at=600, duration=60),))
    a = simulate(sc, tmp_path / "a", parquet=False)
    b = simulate(sc, tmp_path / "b", parquet=False)
    da, db = load_events(a.events_path), load_events(b.events_path)
    cols = ["time", "outcome", "reason", "profile", "client_id", "jti_hash"]
    assert da[cols].equals(db[cols])
    assert a.labels == b.labels
    c = simulate(sc.with_seed(4), tmp_path / "c", parquet=False)
    assert not load_events(c.events_path)[cols].equals(da[cols])


def test_restores_the_callers_configuration(tmp_path: Path) -> None:
    before = jwtobs.configure(fingerprint_key="k", from_env=False)
    simulate(Scenario(seed=1, duration=600, clients=2), tmp_path, parquet=False)
    assert config.current() is before


def test_toml_scenario(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text('seed = 5\nduration = 3600.0\nclients = 3\n[[incident]]\nkind = "clock_skew"\nat = 60.0\n')
    sc = load_scenario(p)
    assert sc.seed == 5 and sc.incidents == (Incident("clock_skew", at=60.0),)
    p.write_text('[[incident]]\nkind = "meteor"\nat = 1.0\n')
    with pytest.raises(ValueError, match="meteor"):
        load_scenario(p)
    p.write_text("sed = 1\n")
    with pytest.raises(ValueError, match="sed"):
        load_scenario(p)
    assert len(INCIDENT_KINDS) == 8
