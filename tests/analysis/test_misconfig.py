"""Client-side misconfigurations that come a few at a time: one accepted client whose tokens are rejected for
their audience (or ``typ``) every few minutes - a service calling an API now and then, or refreshing after
each 401 and getting the same wrong token again - is below the count series' CUSUM (built for bursts of
0.3 a minute and more); the sparse rule (``detect._sparse``) finds it against the client's own rate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import jwtobs.analysis as A
import jwtobs.analysis.detect as D

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_detect import _frame_of

T0 = 1_800_000_000


def _client(
    client: str, step: int, hours: float, rejected: list[int], reason: str, typ: str = "at+jwt"
) -> list[dict[str, Any]]:
    """A client accepted every ``step`` s for ``hours`` (hourly tokens), and rejected with ``reason`` at
    ``rejected`` (seconds from the start; instead of the acceptance due then)."""
    rows: list[dict[str, Any]] = []
    bad = set(rejected)
    for t in range(T0, T0 + int(hours * 3600), step):
        k = (t - T0) // 3600
        iat, exp = T0 + 3600 * k, T0 + 3600 * (k + 1)
        rows.append(
            {
                "time": t,
                "outcome": "accepted",
                "client_id": client,
                "token_fp": f"{client}-{k}",
                "iat": iat,
                "nbf": iat,
                "exp": exp,
            }
        )
    for s in sorted(bad):
        t = T0 + s
        rows.append(
            {
                "time": t,
                "outcome": "rejected",
                "reason": reason,
                "client_id": client,
                "token_fp": f"{client}-bad-{s}",
                "iat": t - 5,
                "nbf": t - 5,
                "exp": t + 3595,
                "typ": typ,
            }
        )
    return rows


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    typ = {r["token_fp"]: r["typ"] for r in rows if "typ" in r}
    df = _frame_of([{k: v for k, v in r.items() if k != "typ"} for r in rows])
    df["typ"] = pd.Categorical(df["token_fp"].map(lambda fp: typ.get(fp, "at+jwt")), categories=["at+jwt", "JWT"])
    return df


# a batch service calling every 9 min from 3 h on, each call with a freshly fetched, wrongly scoped token
SPARSE = [3 * 3600 + 540 * k for k in range(6)]
REASONS = [("JWT_AUDIENCE_MISMATCH", "at+jwt", "audience_misconfig"), ("JWT_TYPE_MISMATCH", "JWT", "type_confusion")]


@pytest.mark.parametrize(("reason", "typ", "kind"), REASONS)
def test_one_client_rejected_every_few_minutes_is_found(
    reason: str, typ: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _client("batch", 60, 6, SPARSE, reason, typ)
    for n in range(6):  # the rest of the fleet, healthy
        rows += _client(f"svc-{n}", 20, 6, [], reason)
    df = _frame(rows)
    inc = A.incidents(df)
    found = inc[inc["kind"] == kind]
    assert list(found["client_id"]) == ["batch"], inc[["kind", "client_id", "evidence"]]
    assert int(found["count"].iloc[0]) == len(SPARSE)
    onset = (found["start"].iloc[0] - pd.Timestamp(T0 + SPARSE[0], unit="s", tz="UTC")).total_seconds()
    assert abs(onset) <= 120
    # without the sparse rule the count series alone misses it
    monkeypatch.setattr(D, "MISCONFIG_SPARSE_FLOOR", 1e9)
    assert kind not in set(A.incidents(df)["kind"])


@pytest.mark.parametrize(("reason", "typ", "kind"), REASONS)
def test_isolated_rejections_of_an_accepted_client_are_not_an_incident(reason: str, typ: str, kind: str) -> None:
    # one wrongly scoped call every 40-90 min (further apart than MISCONFIG_GAP): a client's stray call
    rows = _client("stray", 60, 8, [3600, 3600 + 2400 + 60, 3600 + 2400 + 5400 + 120, 6 * 3600], reason, typ)
    # two close together: below the least count
    rows += _client("twice", 60, 8, [4 * 3600, 4 * 3600 + 300], reason, typ)
    inc = A.incidents(_frame(rows))
    assert kind not in set(inc["kind"]), inc[["kind", "client_id", "evidence"]]


def test_id_tokens_naming_no_client_sent_to_an_api_are_the_clients_type_confusion(tmp_path: Path) -> None:
    """fleet30 incident-2 (benchmarks/fleet30.py), end to end: real RS256 tokens through a real ``jwtobs.Verifier``
    taking ``at+jwt``. Three clients' access tokens (``azp``) are accepted every 30 s for 3 h; from 1 h 30 min, for
    30 min, the web client sends its Auth0-style ID tokens instead (typ ``JWT``, ``aud`` = the client, a ``nonce``,
    no ``azp``). Their events name the client (``pipeline.event_client``: the ID token's one audience), so the
    detectors report one ``type_confusion`` of that client; before, the rejections named no client and were read as
    tokens no accepted client presents: three ``attack_burst`` incidents and no type confusion."""
    import jwt
    import time_machine
    from cryptography.hazmat.primitives.asymmetric import rsa

    import jwtobs
    from jwtobs import config

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    iss, t0 = "https://tenant.auth0.test/", 1_800_000_000
    verifier = jwtobs.Verifier(
        jwtobs.Profile(name="billing-api", issuer=iss, audience="billing-api", token_type="at+jwt", leeway=30),
        keys=jwtobs.StaticKeys({"k1": key.public_key()}),
    )

    def sign(claims: dict[str, Any], typ: str) -> str:
        return jwt.encode(claims, key, "RS256", headers={"kid": "k1", "typ": typ})

    path = tmp_path / "events.jsonl"
    clients = ("web-storefront", "ios-app", "partner-sync")
    with config.override(events_path=path, fingerprint_key="k" * 32, defer=False):
        for step in range(0, 3 * 3600, 30):
            now = t0 + step
            hour = t0 + 3600 * (step // 3600)
            for n, cid in enumerate(clients):
                confused = cid == "web-storefront" and 5400 <= step < 7200
                base = {"iss": iss, "sub": f"auth0|user-{n}", "iat": hour, "exp": hour + 3600 + 600}
                if confused:
                    token = sign({**base, "aud": cid, "nonce": f"n{step}", "sid": "s1"}, "JWT")
                else:
                    token = sign({**base, "aud": "billing-api", "azp": cid, "jti": f"{cid}-{step}"}, "at+jwt")
                with time_machine.travel(now + n, tick=False):
                    if confused:
                        with pytest.raises(jwtobs.TokenRejected):
                            verifier.verify(token)
                    else:
                        verifier.verify(token)
    ev = A.load_events(path)
    rej = ev[ev["outcome"] == "rejected"]
    assert len(rej) == 60 and set(rej["reason"]) == {"JWT_TYPE_MISMATCH"} and set(rej["client_id"]) == {clients[0]}
    inc = A.incidents(ev)
    assert list(inc["kind"]) == ["type_confusion"], inc
    assert inc["client_id"].iloc[0] == "web-storefront"
    assert abs(inc["start"].iloc[0] - pd.Timestamp(t0 + 5400, unit="s", tz="UTC")) <= pd.Timedelta(minutes=2)
