"""The alert rules over hours of events replayed through jwtobs's metrics path (``benchmarks/bench_alerts.py``):
real OpenTelemetry SDK and Prometheus exporter, Prometheus's rule engine (promtool). A steady stream of
rejections at night is the usual rate, not an alert; an incident on top of it is."""

from __future__ import annotations

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


def _event(t: float, outcome: str, kid: str, reason: str | None, exp: float) -> ValidationEvent:
    return replace(
        event(t, 0, outcome=outcome, reason=reason),
        profile="billing",
        kid=kid,
        client_id="web",
        iat=int(exp) - 3600,
        exp=int(exp),
        service="billing-1",
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
