"""The Prometheus rules file: promtool accepts it, promtool unit tests pass and cover every alert both ways,
every alert has its annotations and a runbook, and the names in it are the ones jwtobs exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from jwtobs import telemetry
from jwtobs.reasons import ATTACK_REASONS
from tests.dashboards import queries

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian: apt-get install prometheus)"
)
TEST_FILES = sorted(queries.RULE_TESTS.glob("*.test.yml"))
ALERTS = {r["alert"]: r for r in queries.rules() if "alert" in r}


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@needs_promtool
def test_promtool_check_rules() -> None:
    proc = promtool("check", "rules", str(queries.RULES))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(queries.rules())} rules found" in proc.stdout


@needs_promtool
@pytest.mark.parametrize("path", TEST_FILES, ids=[p.name for p in TEST_FILES])
def test_promtool_test_rules(path: Path) -> None:
    proc = promtool("test", "rules", path.name, cwd=path.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@needs_promtool
def test_promtool_unit_tests_can_fail(tmp_path: Path) -> None:
    """The unit tests are sensitive to the rules: with one threshold changed, promtool reports a failure."""
    rules = queries.RULES.read_text(encoding="utf-8")
    changed = rules.replace(
        'jwtobs:rejection_ratio:rate5m{jwtobs_reason="JWT_UNKNOWN_KID"} > 0.05',
        'jwtobs:rejection_ratio:rate5m{jwtobs_reason="JWT_UNKNOWN_KID"} > 0.5',
    )
    assert changed != rules
    (tmp_path / "jwtobs.rules.yml").write_text(changed, encoding="utf-8")
    (tmp_path / "tests").mkdir()
    test = tmp_path / "tests" / "validation.test.yml"
    test.write_text((queries.RULE_TESTS / "validation.test.yml").read_text(encoding="utf-8"), encoding="utf-8")
    proc = promtool("test", "rules", test.name, cwd=test.parent)
    assert proc.returncode != 0
    assert "JwtobsUnknownKidSpike" in proc.stdout + proc.stderr


def _alert_cases() -> list[tuple[str, bool]]:
    """(alertname, fires) for every alert_rule_test case of every promtool test file."""
    out = []
    for path in TEST_FILES:
        doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert doc["rule_files"] == ["../jwtobs.rules.yml"], path
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                out.append((case["alertname"], bool(case.get("exp_alerts"))))
    return out


def test_every_alert_has_unit_tests_that_fire_and_that_stay_silent() -> None:
    cases = _alert_cases()
    fires = {name for name, f in cases if f}
    silent = {name for name, f in cases if not f}
    assert set(ALERTS) <= fires, f"no firing test for {sorted(set(ALERTS) - fires)}"
    assert set(ALERTS) <= silent, f"no silent test for {sorted(set(ALERTS) - silent)}"
    assert {name for name, _ in cases} <= set(ALERTS)


def _anchor(heading: str) -> str:
    """GitHub's anchor for a markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_every_alert_has_annotations_and_a_runbook_section() -> None:
    headings = [
        line.lstrip("#").strip()
        for line in queries.OPERATIONS.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    ]
    anchors = {_anchor(h) for h in headings}
    for name, rule in ALERTS.items():
        ann = rule.get("annotations", {})
        assert {"summary", "description", "runbook_url"} <= set(ann), name
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        path, _, anchor = ann["runbook_url"].partition("#")
        assert path == "docs/operations.md", name
        assert anchor == name.lower() and anchor in anchors, f"{name}: no runbook heading for #{anchor}"


def test_attack_signal_regex_matches_the_reason_metadata() -> None:
    expected = "|".join(sorted(r.value for r in ATTACK_REASONS))
    found = set(re.findall(r'jwtobs_reason=~"([A-Z_|]+)"', queries.RULES.read_text(encoding="utf-8")))
    assert found == {expected}


def _exported_names() -> set[str]:
    """Prometheus series names of the instruments in jwtobs/telemetry.py (OTel -> Prometheus translation)."""
    histograms = {telemetry.VALIDATION_DURATION, telemetry.TOKEN_EXPIRY_OFFSET, telemetry.JWKS_FETCH_DURATION}
    names = set()
    for h in histograms:
        names |= {f"{h.replace('.', '_')}_seconds_{s}" for s in ("bucket", "count", "sum")}
    for c in [*telemetry.COUNTERS, telemetry.EVENTS_DROPPED]:
        names.add(c.replace(".", "_") + "_total")
    for g, (unit, _) in telemetry.GAUGES.items():
        names.add(g.replace(".", "_") + ("_seconds" if unit == "s" else ""))
    return names


def test_rules_and_dashboards_read_only_exported_names() -> None:
    checks = queries.panel_checks() + queries.variable_checks() + queries.rule_checks()
    raw = {n for n in queries.metric_names(checks) if not n.startswith("jwtobs:")}
    assert raw <= _exported_names(), sorted(raw - _exported_names())
    recorded = {n for n in queries.metric_names(checks) if n.startswith("jwtobs:")}
    assert recorded <= {r["record"] for r in queries.rules() if "record" in r}
    labels = {m for c in checks for m in re.findall(r"\b(jwtobs_[a-z_]+)\s*(?:=~|!=|!~|=)", c.expr)}
    labels |= {lbl for c in checks for lbl in c.labels if lbl.startswith("jwtobs_")}
    assert labels <= queries.label_names(), sorted(labels - queries.label_names())
