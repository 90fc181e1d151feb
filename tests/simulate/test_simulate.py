"""The simulator: real tokens through real validators (wrap + PyJWKClient, Verifier + JwksSource over
loopback HTTP), realistic background, seeded and reproducible, labelled incidents, TOML scenarios."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import jwt
import pandas as pd
import pytest

import jwtobs
from jwtobs import config
from jwtobs.analysis import load_events, load_keyset_changes
from jwtobs.simulate import (
    SIMULATED_KINDS,
    Background,
    Incident,
    Scenario,
    benchmark_suite,
    default_scenario,
    load_scenario,
    simulate,
)
from jwtobs.simulate.fleet import SimClock, SimPyJWKClient
from jwtobs.simulate.jwks_server import JwksServer

SHORT = Scenario(
    seed=7,
    duration=4 * 3600,
    clients=8,
    # more sleeps and restarts than a real day, so 4 h show them
    background=Background(sleeps_per_day=12.0, restarts_per_day=6.0),
    incidents=(
        Incident("jwks_outage", at=1800, duration=900),
        Incident("attack_burst", at=5400, duration=120),
        Incident("type_confusion", at=7200, duration=900),
        Incident("key_removed_early", at=9000),
    ),
)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(SHORT, out)
    return out


@pytest.fixture(scope="module")
def events(run: Path) -> pd.DataFrame:
    return load_events(run)


def _seconds(s: pd.Series) -> pd.Series:
    return (s - pd.Timestamp(0, tz="UTC")).dt.total_seconds()


def test_events_come_from_both_validator_paths_and_every_replica(run: Path, events: pd.DataFrame) -> None:
    files = sorted(p.name for p in (run / "events").glob("*.jsonl"))
    assert files == [
        "api-billing-0.jsonl",
        "api-billing-1.jsonl",
        "api-orders-0.jsonl",
        "api-orders-1.jsonl",
        "api-search-0.jsonl",
        "api-search-1.jsonl",
        "issuers.jsonl",
    ]
    assert (run / "events" / "api-orders-0.parquet").exists()
    assert len(events) > 3000
    assert set(events["service"].astype(str)) == {
        f"api-{a}-{r}" for a in ("orders", "billing", "search") for r in (0, 1)
    }
    assert set(events["library"].astype(str)) == {"pyjwt"}
    # api-billing runs Verifier + JwksSource: the type check only the Verifier makes
    mism = events[events["reason"] == "JWT_TYPE_MISMATCH"]
    assert set(mism["profile"].astype(str)) == {"api-billing"}
    assert (events["outcome"] == "accepted").mean() > 0.8
    reasons = set(events["reason"].dropna().astype(str))
    assert {"JWT_JWKS_UNAVAILABLE", "JWT_UNSIGNED", "JWT_EXPIRED", "JWT_UNKNOWN_KID", "JWT_MALFORMED"} <= reasons
    # no raw token or claim values in the files
    for p in (run / "events").glob("*.jsonl"):
        text = p.read_text()
        assert "eyJ" not in text and "svc-client" not in text
    # simulated time, not wall time
    t = _seconds(events["time"])
    assert t.min() >= SHORT.start and t.max() <= SHORT.start + SHORT.duration


def test_background_looks_like_a_real_fleet(run: Path, events: pd.DataFrame) -> None:
    labels = json.loads((run / "labels.json").read_text())
    bg = labels["background"]
    assert sum(bg["scanner"].values()) > 100 and bg["expired_lazy"]["JWT_EXPIRED"] > 0
    assert bg["resume"]["JWT_EXPIRED"] > 0 and bg["restart"]["JWT_EXPIRED"] > 0
    # scanners: no client id, default typ, alg none, random kids
    scan = events[events["client_id"].isna() & (events["outcome"] == "rejected")]
    assert {"JWT_UNSIGNED", "JWT_ALG_NOT_ALLOWED", "JWT_MALFORMED"} <= set(scan["reason"].dropna().astype(str))
    assert (scan["typ"] == "JWT").sum() > 10
    # expired tokens from legitimate clients, lateness from seconds to hours
    exp = events[(events["reason"] == "JWT_EXPIRED") & events["client_id"].notna()]
    late = _seconds(exp["time"]) - exp["exp"].astype(float)
    assert late.min() < 300 and late.max() > 3600
    # several devices per client: one client presents several live tokens at once
    acc = events[events["outcome"] == "accepted"]
    per = acc.groupby(["client_id", pd.Grouper(key="time", freq="10min")], observed=True)["jti_hash"].nunique()
    assert per.max() >= 3
    # diurnal traffic: busiest hour well above the quietest
    hourly = events.set_index("time").resample("1h").size()
    assert hourly.max() > 1.3 * hourly.min()


def test_labels_describe_the_injected_failures(run: Path) -> None:
    labels = json.loads((run / "labels.json").read_text())["incidents"]
    assert [lab["kind"] for lab in labels] == ["jwks_outage", "attack_burst", "type_confusion", "key_removed_early"]
    for lab in labels:
        assert lab["count"] > 0 and lab["onset"] <= lab["start"] <= lab["end"]
        assert lab["entity"] or lab["kind"] == "attack_burst"
    outage, _, confusion, removed = labels
    assert outage["entity"] == outage["issuer"] and outage["resolved"] > outage["onset"]
    assert confusion["entity"] == confusion["client_id"]
    assert removed["kid"] and removed["resolved"] is None


def test_keyset_changes_written(run: Path) -> None:
    ch = load_keyset_changes(run)
    assert set(ch["issuer"]) == {"https://idp0.example", "https://idp1.example"}
    services = set(ch["service"].astype(str))
    assert {"idp0-jwks", "idp1-jwks"} <= services  # as published by the issuers
    assert any(s.startswith("api-billing-") for s in services)  # as seen by a JwksSource


def test_the_demo_scenario_is_reproducible(tmp_path: Path) -> None:
    """Same seed: the same events (all but durations) and the same labels, in this process and in another
    one with a different hash seed (set ordering)."""
    from jwtobs.analysis import incidents

    sc = default_scenario(seed=3, duration=2 * 3600)
    a = simulate(sc, tmp_path / "a", parquet=False)
    code = (
        "import sys; from jwtobs.simulate import default_scenario, simulate; "
        "simulate(default_scenario(seed=3, duration=2 * 3600), sys.argv[1], parquet=False)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "b")], check=True, env=env, timeout=600)
    da, db = load_events(a.events_path), load_events(tmp_path / "b")
    cols = [c for c in da.columns if c != "duration_s"]
    assert len(da) == len(db) > 1000
    pd.testing.assert_frame_equal(da[cols], db[cols])
    doc = json.loads((tmp_path / "b" / "labels.json").read_text())
    assert a.labels == doc["incidents"] and a.background == doc["background"]
    ia = incidents(da, load_keyset_changes(a.events_path))
    ib = incidents(db, load_keyset_changes(tmp_path / "b"))
    pd.testing.assert_frame_equal(ia, ib)
    c = simulate(replace(sc, seed=4, duration=1800), tmp_path / "c", parquet=False)
    assert not set(load_events(c.events_path)["jti_hash"].dropna()) & set(da["jti_hash"].dropna())


def test_pyjwkclient_runs_on_the_simulated_clock() -> None:
    clock = SimClock(1000.0)
    with JwksServer(max_age=300) as server:
        server.publish(
            "x", b'{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a"}]}'
        )
        client = SimPyJWKClient(server.url("x"), lifespan=300, clock=clock.now)
        unknown = jwt.PyJWKClientError
        assert client.get_signing_key("a").key_id == "a"
        assert server.requests == 1
        clock.t = 1010
        with pytest.raises(unknown):
            client.get_signing_key("b")
        assert server.requests == 1  # unknown kid within the 30 s cooldown: no fetch
        clock.t = 1040
        with pytest.raises(unknown):
            client.get_signing_key("b")
        assert server.requests == 2  # the cooldown is over in simulated time
        clock.t = 1041
        with pytest.raises(unknown):
            client.get_signing_key("b")
        clock.t = 1339
        client.get_signing_key("a")
        assert server.requests == 2  # cached for the lifespan, on the simulated clock
        clock.t = 1341
        client.get_signing_key("a")
        assert server.requests == 3


def test_restores_the_callers_configuration(tmp_path: Path) -> None:
    before = jwtobs.configure(fingerprint_key="k" * 16, from_env=False)
    simulate(Scenario(seed=1, duration=600, clients=2), tmp_path, parquet=False)
    assert config.current() is before


def test_toml_scenario(tmp_path: Path) -> None:
    p = tmp_path / "s.toml"
    p.write_text(
        'seed = 5\nduration = 3600.0\nclients = 3\nvalidators = ["verifier"]\nreplicas = 3\n'
        "[background]\nscanners_per_min = [0.5, 1.0]\nlazy_refresh = 0.1\n"
        '[[incident]]\nkind = "clock_skew"\nat = 60.0\nramp = 600.0\n'
    )
    sc = load_scenario(p)
    assert sc.seed == 5 and sc.incidents == (Incident("clock_skew", at=60.0, ramp=600.0),)
    assert sc.validators == ("verifier",) and sc.replicas == 3
    assert sc.background == replace(Background(), scanners_per_min=(0.5, 1.0), lazy_refresh=0.1)
    for bad, match in (
        ('[[incident]]\nkind = "meteor"\nat = 1.0\n', "meteor"),
        ("sed = 1\n", "sed"),
        ("[background]\nscaners = 1\n", "scaners"),
        ("[background]\ndevices = [1, 2, 3]\n", "devices"),
        ('validators = ["jose"]\n', "jose"),
    ):
        p.write_text(bad)
        with pytest.raises(ValueError, match=match):
            load_scenario(p)
    assert len(SIMULATED_KINDS) == 8 and "server_clock_skew" not in SIMULATED_KINDS
    with pytest.raises(ValueError, match="server_clock_skew"):  # injected by benchmarks/clockfaults.py only
        Scenario(incidents=(Incident("server_clock_skew", at=60.0),))


def test_benchmark_suite() -> None:
    suite = benchmark_suite()
    assert len(suite) >= 30 and len({c.name for c in suite}) == len(suite)
    quiet = [c for c in suite if c.quiet]
    assert len(quiet) >= 5 and all(not c.scenario.incidents and c.simulated_days == 1 for c in quiet)
    assert all(c.scenario.background == Background() for c in suite)  # full background everywhere
    paths = {v for c in suite for v in c.scenario.validators}
    assert paths == {"pyjwt", "verifier"}
    assert max(c.scenario.replicas for c in suite) >= 3
    kinds = {i.kind for c in suite for i in c.scenario.incidents}
    assert kinds == set(SIMULATED_KINDS)
    assert [c.scenario for c in benchmark_suite()] == [c.scenario for c in suite]  # seeded
    assert [c.scenario for c in benchmark_suite(1)] != [c.scenario for c in suite]


def test_materialize_reuses_finished_runs(tmp_path: Path) -> None:
    from jwtobs.simulate import BenchCase, materialize

    cases = [
        BenchCase("a", Scenario(seed=1, duration=600, clients=2), True, ""),
        BenchCase("b", Scenario(seed=2, duration=600, clients=2), True, ""),
    ]
    dirs = materialize(cases, tmp_path, jobs=2, parquet=False)
    assert set(dirs) == {"a", "b"} and all((d / "labels.json").exists() for d in dirs.values())
    stamp = (dirs["a"] / "labels.json").stat().st_mtime_ns
    seen: list[str] = []
    materialize([cases[0], replace(cases[1], scenario=cases[1].scenario.with_seed(3))], tmp_path, log=seen.append)
    assert (dirs["a"] / "labels.json").stat().st_mtime_ns == stamp  # same scenario: kept
    assert [s.split(":")[0] for s in seen] == ["b"]  # changed scenario: simulated again


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jwtobs.cli import main

    assert main(["simulate", "--list-cases"]) == 0
    assert "quiet-day-1" in capsys.readouterr().out
    assert main(["simulate", "--case", "no-such-case"]) == 2
    assert "no benchmark case 'no-such-case'" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    for text, msg in (
        ("clients = 'x'\n", "expected a number"),
        ("x = [", "not a TOML scenario"),
        ("request_interval = 0\n", "positive"),
    ):
        bad.write_text(text)
        assert main(["simulate", "--scenario", str(bad), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err and err.count("\n") == 1
    assert main(["simulate", "--scenario", str(tmp_path / "missing.toml")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "ro").write_text("")
    assert main(["simulate", "--hours", "0.2", "--out", str(tmp_path / "ro" / "x")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert main(["simulate", "--hours", "0.2", "--no-parquet", "--out", str(tmp_path / "o")]) == 0
    assert "validations ->" in capsys.readouterr().out


def test_cli_without_the_analysis_extra_writes_the_jsonl_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``jwtobs simulate`` needs PyJWT only (what ``jwtobs --help`` says): without pandas/pyarrow the Parquet
    copies are skipped with a note, exit 0 (before session 13: exit 3 after the whole run, no labels.json)."""
    import jwtobs.simulate.cli as sim_cli
    import jwtobs.simulate.run as sim_run
    from jwtobs.cli import main

    real_find_spec = sim_run.importlib.util.find_spec
    monkeypatch.setattr(
        sim_run.importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real_find_spec(name, *a)
    )
    assert sim_cli.parquet_available() is False
    out = tmp_path / "o"
    assert main(["simulate", "--hours", "0.05", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "no Parquet copies" in captured.err and "jwtobs[analysis]" in captured.err
    assert (out / "labels.json").is_file() and list((out / "events").glob("*.jsonl"))
    assert not list((out / "events").glob("*.parquet"))
