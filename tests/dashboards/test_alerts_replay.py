"""The alert rules over hours of events replayed through jwtobs's metrics path (``benchmarks/bench_alerts.py``):
real OpenTelemetry SDK and Prometheus exporter, Prometheus's rule engine (promtool). A steady stream of
rejections at night is the usual rate, not an alert; an incident on top of it is. One replica of three deployed
with the wrong audience is an alert on that replica, though its share of the job's traffic stays under every
job-wide threshold."""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from jwtobs.events import KeySetChange, ValidationEvent
from tests.analysis.test_engines_load import event
from tests.dashboards import queries

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")

ISS = "https://issuer.test"
T0 = 1_790_000_040.0  # a minute boundary (UTC)


@pytest.fixture(autouse=True)
def _benchmarks_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    # (for the replay's worker process too, which imports the benchmark module by name)
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "benchmarks"))


def _bench() -> Any:
    import bench_alerts

    return bench_alerts


def _event(
    t: float, outcome: str, kid: str, reason: str | None, exp: float, service: str = "billing-1"
) -> ValidationEvent:
    return replace(
        event(t, 0, outcome=outcome, reason=reason),
        profile=service.rsplit("-", 1)[0],
        kid=kid,
        client_id="web",
        iat=int(exp) - 3600,
        exp=int(exp),
        service=service,
    )


def _night(tmp_path: Path, incident_at: int | None) -> Path:
    """8 hours of a quiet API: 12 accepted tokens a minute, and a health checker's stale token (a key rotated out
    long ago) 7 times a minute, 37 % of the traffic; from ``incident_at`` (minutes) for 40 minutes, 60 tokens a
    minute more signed with a kid the key set does not publish yet."""
    rng = random.Random(7)
    lines = [KeySetChange(time=T0, issuer=ISS, added=("k1",), removed=(), keys=1, service="billing-1").to_json()]
    for minute in range(480):
        start = T0 + 60 * minute
        n_new = 60 if incident_at is not None and incident_at <= minute < incident_at + 40 else 0
        for kind, n in (("ok", 12), ("stale", 7), ("new", n_new)):
            for _ in range(n):
                t = start + rng.random() * 60
                if kind == "ok":
                    ev = _event(t, "accepted", "k1", None, t + 1800)
                elif kind == "stale":
                    ev = _event(t, "rejected", "k0", "JWT_UNKNOWN_KID", T0 - 90 * 86400)
                else:
                    ev = _event(t, "rejected", "k2", "JWT_UNKNOWN_KID", t + 3000)
                lines.append(ev.to_json())
    events = tmp_path / "events"
    events.mkdir()
    lines[1:] = sorted(lines[1:])  # (same-length RFC 3339 times first: text order is time order)
    (events / "billing-1.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def _fired(tmp_path: Path, incident_at: int | None, rules: Path = queries.RULES) -> list[dict[str, Any]]:
    bench = _bench()
    series, t0, minutes = bench.scrape(_night(tmp_path, incident_at), 1)
    assert t0 == T0 and minutes >= 480
    return list(bench.evaluate(series, t0, minutes, rules))


def _minute(alert: dict[str, Any]) -> int:
    return int((alert["start"] - T0) // 60)


def test_a_steady_stale_token_at_night_fires_nothing(tmp_path: Path) -> None:
    assert _fired(tmp_path, None) == []


def test_the_same_stream_fired_all_night_without_the_usual_rate(tmp_path: Path) -> None:
    """The test can fail: with the share thresholds alone (the rules before the usual rate) the stale token fires
    both share alerts from the first minutes on."""
    text = queries.RULES.read_text(encoding="utf-8").replace(
        "and jwtobs:rejections_above_usual:rate5m", "and jwtobs:rejections:rate5m"
    )
    assert text.count("and jwtobs:rejections:rate5m") == 4
    rules = tmp_path / "rules.yml"
    rules.write_text(text, encoding="utf-8")
    (tmp_path / "day").mkdir()
    alerts = _fired(tmp_path / "day", None, rules)
    assert {a["alert"] for a in alerts} == {"JwtobsUnknownKidSpike", "JwtobsRejectionRatioHigh"}
    assert min(_minute(a) for a in alerts) < 20


def test_an_incident_on_top_of_the_stream_fires_once(tmp_path: Path) -> None:
    alerts = _fired(tmp_path, 400)
    by_name = {a["alert"]: a for a in alerts}
    assert sorted(by_name) == ["JwtobsRejectionRatioHigh", "JwtobsUnknownKidSpike"], alerts
    assert len(alerts) == 2  # one firing interval each
    spike = by_name["JwtobsUnknownKidSpike"]
    # pending after 1-2 scrapes of the burst, firing 5 minutes later; resolved once the 5-min rate falls
    assert 404 <= _minute(spike) <= 409
    assert 30 <= spike["minutes"] <= 45
    assert spike["labels"]["job"] == "billing"
    assert spike["labels"]["jwtobs_profile"] == "billing"
    assert spike["labels"]["jwtobs_reason"] == "JWT_UNKNOWN_KID"


def _canary(tmp_path: Path) -> Path:
    """2 hours of an API on three replicas, 4 tokens a minute each (scanners' and stale tokens among them on every
    replica: 1 in 8 rejected as expired); from minute 60 for 30 minutes replica 3 runs with the wrong audience and
    rejects every token it gets."""
    rng = random.Random(11)
    lines = []
    for replica in (1, 2, 3):
        service = f"orders-{replica}"
        lines.append(KeySetChange(time=T0, issuer=ISS, added=("k1",), removed=(), keys=1, service=service).to_json())
        for minute in range(120):
            for _ in range(4):
                t = T0 + 60 * minute + rng.random() * 60
                if rng.random() < 0.125:
                    ev = _event(t, "rejected", "k1", "JWT_EXPIRED", t - 600, service)
                elif replica == 3 and 60 <= minute < 90:
                    ev = _event(t, "rejected", "k1", "JWT_AUDIENCE_MISMATCH", t + 1800, service)
                else:
                    ev = _event(t, "accepted", "k1", None, t + 1800, service)
                lines.append(ev.to_json())
    events = tmp_path / "events"
    events.mkdir()
    by_service: dict[str, list[str]] = {}
    for line in lines:
        by_service.setdefault(str(json.loads(line)["service"]), []).append(line)
    for service, mine in by_service.items():
        mine[1:] = sorted(mine[1:])
        (events / f"{service}.jsonl").write_text("\n".join(mine) + "\n", encoding="utf-8")
    return tmp_path


def test_one_replica_with_the_wrong_audience_fires_on_that_replica(tmp_path: Path) -> None:
    bench = _bench()
    series, t0, minutes = bench.scrape(_canary(tmp_path), 1)
    alerts = list(bench.evaluate(series, t0, minutes, queries.RULES))
    # a third of the job's traffic: JwtobsRejectionRatioHigh (a quarter) may fire too, but only on the job
    alone = [a for a in alerts if a["alert"] == "JwtobsInstanceRejectsAlone"]
    assert len(alone) == 1, alerts
    assert alone[0]["labels"]["instance"] == "orders-3"
    assert alone[0]["labels"]["jwtobs_reason"] == "JWT_AUDIENCE_MISMATCH"
    # pending once the 5-min rate shows it, firing 10 minutes later; over within 5 minutes of the fix
    assert 70 <= (alone[0]["start"] - T0) // 60 <= 76
    assert 15 <= alone[0]["minutes"] <= 26
    assert not any(a["labels"].get("jwtobs_reason") == "JWT_EXPIRED" for a in alerts), alerts
