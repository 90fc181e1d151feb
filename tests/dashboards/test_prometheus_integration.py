"""Every dashboard query and every rule, run against a real Prometheus scraping a real jwtobs process.

The scenario (tests/dashboards/scenario.py) validates real tokens through ``jwtobs.wrap(jwt.decode)`` and a
wrapped PyJWKClient validator: accepted tokens, expired ones (just past exp, and hours past), forged
signatures, an unknown-kid burst, alg none, RS256 at an HS256 endpoint, a wrong audience, garbage; and a key
rotation on its JWKS endpoint. A second replica of the same service sees good tokens only. Prometheus scrapes
both (one job, two instances) every second with the shipped rules loaded.

A panel whose query returns nothing fails. Queries over JWKS or redaction metrics need the JwksSource /
``jwtobs.redact`` in the scenario and are skipped (with that reason) only while those are not in the package.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.dashboards import queries
from tests.dashboards.conftest import JOB, Stack

PANELS = queries.panel_checks()
VARIABLES = queries.variable_checks()
RULES = queries.rule_checks()
RECORDS = [c for c in RULES if c.source == "record"]
ALERTS = [c for c in RULES if c.source == "alert"]
#: alerts the scenario cannot fire: the key set would have to be an hour stale (proven by promtool tests)
NOT_FIRING = {"alert:JwtobsJwksKeySetStale"}


def _need(stack: Stack, check: queries.Check) -> None:
    missing = check.needs - stack.features
    if missing:
        what = {"jwks": "jwtobs.JwksSource/Verifier", "redact": "jwtobs.redact"}
        pytest.skip(f"needs data from {', '.join(what[m] for m in sorted(missing))}, not in the package yet")


def _run(stack: Stack, check: queries.Check) -> list[dict[str, Any]]:
    api = stack.prometheus
    return api.query(check.expr) if check.instant else api.query_range(check.expr)


def _assert_data(stack: Stack, check: queries.Check) -> list[dict[str, Any]]:
    result = _run(stack, check)
    values = stack.prometheus.series_values(result)
    assert result and any(math.isfinite(v) for v in values), (
        f"{check.id} returned no data\n  expr: {check.expr}\n  result: {result!r}"
    )
    for series in result:
        labels = series["metric"]
        missing = {name for name in check.labels if not labels.get(name)}
        assert not missing, f"{check.id}: series {labels} lacks labels {sorted(missing)}\n  expr: {check.expr}"
    return result


def _label_values(result: list[dict[str, Any]], label: str) -> set[str]:
    return {s["metric"].get(label, "") for s in result}


@pytest.mark.parametrize("check", PANELS, ids=[c.id for c in PANELS])
def test_panel_query_returns_data(prom_stack: Stack, check: queries.Check) -> None:
    _need(prom_stack, check)
    _assert_data(prom_stack, check)


@pytest.mark.parametrize("check", VARIABLES, ids=[c.id for c in VARIABLES])
def test_variable_query_lists_values(prom_stack: Stack, check: queries.Check) -> None:
    _need(prom_stack, check)
    (label,) = check.labels
    values = prom_stack.prometheus.get(f"/api/v1/label/{label}/values", [("match[]", check.expr)])
    assert values, f"{check.id}: label_values returned nothing"
    if label == "job":
        assert JOB in values


@pytest.mark.parametrize("check", RECORDS, ids=[c.id for c in RECORDS])
def test_recording_rule_returns_data(prom_stack: Stack, check: queries.Check) -> None:
    _need(prom_stack, check)
    _assert_data(prom_stack, check)
    # and Prometheus evaluated the rule itself: the recorded series exists with the same labels
    recorded = queries.Check(check.id + ":recorded", check.title, check.labels, True, "record")
    _assert_data(prom_stack, recorded)


@pytest.mark.parametrize("check", ALERTS, ids=[c.id for c in ALERTS])
def test_alert_expression(prom_stack: Stack, check: queries.Check) -> None:
    """Each alert fires in the scenario, with the labels its annotations use; the stale-key-set alert is
    silent (the key set is fresh) while every series it reads exists."""
    _need(prom_stack, check)
    if check.id in NOT_FIRING:
        assert _run(prom_stack, check) == [], f"{check.id} fires on a fresh key set"
        for name in queries.metric_names([check]):
            assert prom_stack.prometheus.query(name), f"{check.id}: {name} has no series"
        return
    _assert_data(prom_stack, check)


def test_every_rule_evaluates_without_error(prom_stack: Stack) -> None:
    groups = prom_stack.prometheus.get("/api/v1/rules")["groups"]
    loaded = {r["name"]: r for g in groups for r in g["rules"]}
    expected = {c.title for c in RULES}
    assert set(loaded) == expected
    bad = {n: r.get("lastError") for n, r in loaded.items() if r["health"] != "ok"}
    assert not bad, bad


def test_every_metric_the_files_read_is_exported(prom_stack: Stack) -> None:
    checks = [c for c in PANELS + VARIABLES + RULES if c.needs <= prom_stack.features]
    missing = [n for n in sorted(queries.metric_names(checks)) if not prom_stack.prometheus.query(n)]
    assert not missing, f"no series for {missing}"


# -- the scenario's content shows up where an operator looks for it -------------------------------------------
def _panel(title: str) -> queries.Check:
    (check,) = [c for c in PANELS if c.title == title and c.id.endswith(":A")]
    return check


def test_rejection_ratio_by_reason_shows_every_failure_of_the_scenario(prom_stack: Stack) -> None:
    result = _assert_data(prom_stack, _panel("Rejection ratio by reason"))
    reasons = _label_values(result, "jwtobs_reason")
    assert {
        "JWT_EXPIRED",
        "JWT_BAD_SIGNATURE",
        "JWT_UNKNOWN_KID",
        "JWT_UNSIGNED",
        "JWT_ALG_NOT_ALLOWED",
        "JWT_AUDIENCE_MISMATCH",
        "JWT_MALFORMED",
    } <= reasons
    # ratios of all validations: each between 0 and 1, together below 1 (there are accepted tokens)
    last = {s["metric"]["jwtobs_reason"]: float(s["values"][-1][1]) for s in result}
    assert all(0 < v < 1 for v in last.values()), last
    assert sum(last.values()) < 1


def test_the_replica_that_rejects_alone_is_the_one_named(prom_stack: Stack) -> None:
    """JwtobsInstanceRejectsAlone names the scenario's instance (its peer accepts every token it sees), never the
    healthy peer, and the peer's share of rejections is 0."""
    (check,) = [c for c in ALERTS if c.title == "JwtobsInstanceRejectsAlone"]
    result = _assert_data(prom_stack, check)
    assert _label_values(result, "instance") == {f"127.0.0.1:{prom_stack.metrics_port}"}
    assert {"JWT_UNKNOWN_KID", "JWT_EXPIRED"} <= _label_values(result, "jwtobs_reason")
    peers = prom_stack.prometheus.query(
        f'jwtobs:other_instances_rejection_ratio:rate5m{{instance="127.0.0.1:{prom_stack.metrics_port}"}}'
    )
    # (NaN: a profile only this replica validates, the failing issuer's: the peers have no share there)
    shares = [float(s["value"][1]) for s in peers]
    assert 0 in shares and all(v == 0 or math.isnan(v) for v in shares), peers


def test_attack_signal_panel_holds_attack_reasons_only(prom_stack: Stack) -> None:
    result = _assert_data(prom_stack, _panel("Attack signals by reason"))
    reasons = _label_values(result, "jwtobs_reason")
    assert {"JWT_BAD_SIGNATURE", "JWT_UNSIGNED", "JWT_ALG_NOT_ALLOWED"} <= reasons
    assert not reasons & {"JWT_EXPIRED", "JWT_UNKNOWN_KID", "JWT_MALFORMED", "JWT_AUDIENCE_MISMATCH"}
    # the gateway's scanner sweep is shown (it pages no one: test_alerts_that_fire_name_the_right_series)
    assert ("gateway", "JWT_UNSIGNED") in {
        (s["metric"].get("jwtobs_profile"), s["metric"]["jwtobs_reason"])
        for s in prom_stack.prometheus.query(
            "sum by (jwtobs_profile, jwtobs_reason) "
            '(jwtobs_validation_duration_seconds_count{jwtobs_outcome="rejected"})'
        )
    }


def test_top_issuers_and_kids(prom_stack: Stack) -> None:
    issuers = _label_values(_assert_data(prom_stack, _panel("Top issuers")), "jwtobs_issuer")
    assert {"https://issuer.test", "https://internal.test"} <= issuers
    kids = _label_values(_assert_data(prom_stack, _panel("Top kids")), "jwtobs_kid")
    assert {"k1", "hs1", "_unknown"} <= kids
    assert not any(k.startswith("rogue-") for k in kids), "attacker-chosen kids must not become label values"


def test_key_rotation_moves_traffic_to_the_new_kid(prom_stack: Stack) -> None:
    result = _assert_data(prom_stack, _panel("Accepted validations by kid"))
    assert {"k1", "k2"} <= _label_values(result, "jwtobs_kid")


def test_alerts_that_fire_name_the_right_series(prom_stack: Stack) -> None:
    def fired(name: str) -> list[dict[str, Any]]:
        (check,) = [c for c in ALERTS if c.title == name]
        return _run(prom_stack, check)

    # gateway gets 12 rogue kids and 3 forged tokens a round and fires first; billing-api (the Verifier) gets one
    # of each a round: it crosses the alerts' absolute-rate floor (0.1/s over 5m) once the scenario has run long
    # enough (~30 rounds), which on a loaded machine it already has. Either is right; no other profile may fire.
    for alert in ("JwtobsUnknownKidSpike", "JwtobsBadSignatureSpike"):
        profiles = {(s["metric"]["jwtobs_profile"]) for s in fired(alert)}
        assert "gateway" in profiles and profiles <= {"gateway", "billing-api"}, (alert, profiles)
    assert {(s["metric"]["jwtobs_profile"]) for s in fired("JwtobsExpiredTokenSurge")} == {"internal"}
    assert {(s["metric"]["jwtobs_issuer"]) for s in fired("JwtobsClockSkewSuspected")} == {"https://internal.test"}
    attacks = {(s["metric"]["jwtobs_profile"], s["metric"]["jwtobs_reason"]) for s in fired("JwtobsAttackSignals")}
    # tokens naming a key in use (the internal kid, tampered or at the wrong algorithm); the gateway's scanner sweep
    # (alg none without a kid, under 1/s) is on the attack-signal panel but pages no one
    assert attacks == {("internal", "JWT_UNSIGNED"), ("internal", "JWT_ALG_NOT_ALLOWED")}
    ratio = {(s["metric"]["jwtobs_profile"], s["metric"]["jwtobs_reason"]) for s in fired("JwtobsRejectionRatioHigh")}
    assert ("gateway", "JWT_UNKNOWN_KID") in ratio and ("internal", "JWT_EXPIRED") in ratio


def test_selecting_a_profile_narrows_the_overview(prom_stack: Stack) -> None:
    """With $profile set to one value (as Grafana substitutes a single selection), the panels keep working and
    show that profile only."""
    check = _panel("Validation rate by outcome")
    narrowed = queries.Check(
        check.id + ":gateway",
        check.expr.replace('jwtobs_profile=~".*"', 'jwtobs_profile=~"gateway"'),
        check.labels,
        check.instant,
        "panel",
    )
    assert narrowed.expr != check.expr
    result = _assert_data(prom_stack, narrowed)
    assert _label_values(result, "jwtobs_profile") == {"gateway"}
    assert _label_values(result, "jwtobs_outcome") == {"accepted", "rejected"}
