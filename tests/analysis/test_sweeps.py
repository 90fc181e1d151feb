"""Scanner sweeps are no attack bursts (``detect.SWEEP_PEAK``, ``scanner_sweeps``): a burst of tokens no accepted
client presents, none naming a key in use (garbage, ``alg: none``, the jwt.io sample, random kids) and under
SWEEP_PEAK a minute, is listed in the report, not raised as an incident. A burst naming the key in use (forged
signatures on the real kid), or a flood of generic tokens (the issue's random kids at 5 a second), is an attack.
(fleet30's scanner sweeps, benchmarks/fleet30.py: 25-90 generic probes over 2-7 minutes, were 9 of its 14 false
incidents on 9 quiet days.)"""

from __future__ import annotations

import base64
import json
import random
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import jwtobs.analysis as A
import jwtobs.analysis.detect as D

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_detect import _forged

T0 = 1_800_000_000
_JWT_IO = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def _b64(obj: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 h of real RS256 tokens through a real ``jwtobs.Verifier``: three clients accepted every minute, a scanner
    drizzle (a generic probe every 3 minutes), and
    - at 1 h 30: a sweep of 45 generic probes over 3 minutes (15 a minute: garbage, alg none, the jwt.io sample,
      random kids signed with the scanner's own key);
    - at 2 h 30: 45 forged tokens over 3 minutes naming the real kid, signed with the attacker's key;
    - at 3 h 15: a flood of random kids, 2 a second for 90 s."""
    import jwt
    import time_machine
    from cryptography.hazmat.primitives.asymmetric import rsa

    import jwtobs
    from jwtobs import config

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    iss = "https://id.sweeps.test/"
    verifier = jwtobs.Verifier(
        jwtobs.Profile(name="orders-api", issuer=iss, audience="orders-api", token_type="at+jwt", leeway=30),
        keys=jwtobs.StaticKeys({"k1": key.public_key()}),
    )
    rng = random.Random(7)
    claims = {"iss": iss, "aud": "orders-api", "sub": "admin", "exp": T0 + 86400}

    def probe() -> str:
        k = rng.randrange(4)
        if k == 0:
            return "eyJ" + base64.urlsafe_b64encode(rng.randbytes(60)).decode().rstrip("=")
        if k == 1:
            return _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims) + "."
        if k == 2:
            return _JWT_IO
        return jwt.encode(claims, other, "RS256", headers={"kid": f"{rng.getrandbits(48):012x}", "typ": "at+jwt"})

    def forged() -> str:
        return jwt.encode({**claims, "azp": "admin-cli"}, other, "RS256", headers={"kid": "k1", "typ": "at+jwt"})

    timeline: list[tuple[float, str]] = []
    for m in range(4 * 60):
        hour = T0 + 3600 * (m // 60)
        for n, cid in enumerate(("web", "ios", "batch")):
            body = {"iss": iss, "aud": "orders-api", "azp": cid, "sub": f"u{n}", "iat": hour, "exp": hour + 3900}
            timeline.append(
                (T0 + 60 * m + 7 * n, jwt.encode(body, key, "RS256", headers={"kid": "k1", "typ": "at+jwt"}))
            )
        if m % 3 == 0:
            timeline.append((T0 + 60 * m + 31, probe()))
    timeline += [(T0 + 5400 + 4 * k, probe()) for k in range(45)]
    timeline += [(T0 + 9000 + 4 * k, forged()) for k in range(45)]
    timeline += [
        (T0 + 11700 + 0.5 * k, probe() if k % 4 == 0 else jwt.encode(claims, other, "RS256", headers={"kid": f"r{k}"}))
        for k in range(180)
    ]
    path = tmp_path_factory.mktemp("sweeps") / "events.jsonl"
    with config.override(events_path=path, fingerprint_key="k" * 32, defer=False):
        for t, token in sorted(timeline, key=lambda p: p[0]):
            with time_machine.travel(t, tick=False):
                try:
                    verifier.verify(token)
                except jwtobs.TokenRejected:
                    pass
    return path


def _at(seconds: float) -> pd.Timestamp:
    return pd.Timestamp(T0 + seconds, unit="s", tz="UTC")


def test_a_sweep_of_generic_probes_is_no_incident_and_the_attacks_are(fleet: Path) -> None:
    ev = A.load_events(fleet)
    inc = A.incidents(ev)
    assert list(inc["kind"]) == ["attack_burst", "attack_burst"], inc[["kind", "start", "evidence"]]
    assert abs(inc["start"].iloc[0] - _at(9000)) <= pd.Timedelta(minutes=1)
    assert abs(inc["start"].iloc[1] - _at(11700)) <= pd.Timedelta(minutes=1)
    assert "45 naming a key in use" in inc["evidence"].iloc[0]
    assert "none naming a key in use" in inc["evidence"].iloc[1]
    sweeps = A.scanner_sweeps(ev)
    assert list(sweeps.columns) == D.SWEEP_COLUMNS
    assert len(sweeps) == 1, sweeps
    row = sweeps.iloc[0]
    assert abs(row["start"] - _at(5400)) <= pd.Timedelta(minutes=1)
    assert 40 <= row["count"] <= 47 and row["peak_per_minute"] < D.SWEEP_PEAK
    assert row["profiles"] == "orders-api" and "JWT_MALFORMED" in row["reasons"]
    # the same from the aggregates (what the DuckDB engine hands over)
    pd.testing.assert_frame_equal(sweeps, A.scanner_sweeps(A.aggregate(ev)))


def test_the_report_lists_the_sweep_apart_from_the_incidents(fleet: Path, tmp_path: Path) -> None:
    from jwtobs.analysis.report import build_report

    report = build_report(fleet)
    text = report.summary()
    assert "Detected incidents: 2" in text
    assert "Scanner sweeps, not incidents: 1" in text
    assert "  09:30-09:32 " in text.split("Scanner sweeps")[1]  # (T0 is 2027-01-15 08:00 UTC)
    out = report.write_html(tmp_path / "r.html")
    assert "<h2>Scanner sweeps</h2>" in out.read_text()


def test_the_duckdb_report_lists_the_same_sweep(fleet: Path, tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    from jwtobs.analysis import duck

    agg = duck.aggregate(fleet)
    sweeps = A.scanner_sweeps(agg, duck.keyset_changes(fleet))
    assert len(sweeps) == 1 and abs(sweeps["start"].iloc[0] - _at(5400)) <= pd.Timedelta(minutes=1)
    assert list(A.incidents(agg, duck.keyset_changes(fleet))["kind"]) == ["attack_burst", "attack_burst"]


@pytest.mark.parametrize(
    ("per_minute", "kid", "attack"),
    [
        ([20, 25, 22], None, False),  # generic probes at 20-25 a minute: a sweep
        ([20, 25, 22], "k1", True),  # the same naming the key in use: an attack
        ([70, 80, 75], None, True),  # generic probes past SWEEP_PEAK: a flood, an attack
        ([D.SWEEP_PEAK - 1] * 3, None, False),
        ([D.SWEEP_PEAK] * 3, None, True),
    ],
)
def test_a_burst_is_an_attack_when_it_names_a_key_in_use_or_floods(
    per_minute: list[int], kid: str | None, attack: bool
) -> None:
    drizzle = [1 if m % 3 == 0 else 0 for m in range(240)]
    df = _forged(T0, [*drizzle, *per_minute, *drizzle[:60]], kid=kid)
    inc, sweeps = A.attack_bursts(df), A.scanner_sweeps(df)
    assert (list(inc["kind"]), len(sweeps)) == ((["attack_burst"], 0) if attack else ([], 1)), (inc, sweeps)
    found = inc if attack else sweeps
    assert found["start"].iloc[0] == _at(240 * 60)


def test_no_data_no_sweeps() -> None:
    empty = _forged(T0, [0] * 30).iloc[:0]
    out = A.scanner_sweeps(empty)
    assert out.empty and list(out.columns) == D.SWEEP_COLUMNS
