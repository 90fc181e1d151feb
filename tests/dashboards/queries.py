"""Every PromQL expression jwtobs ships, read from the committed files: dashboard panel targets, dashboard
variable queries, recording rules and alert rules. The integration test runs each against a real Prometheus.

Expected labels: a panel target's legend (``{{jwtobs_reason}}``) names the labels each returned series must
carry; an alert's annotations (``$labels.jwtobs_issuer``) name the labels of its alerts; a recording rule
carries the labels of its first ``by (...)`` clause.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "dashboards" / "grafana"
RULES = ROOT / "dashboards" / "prometheus" / "jwtobs.rules.yml"
RULE_TESTS = ROOT / "dashboards" / "prometheus" / "tests"
OPERATIONS = ROOT / "docs" / "operations.md"

#: values the integration test substitutes for Grafana's variables (``All`` is ``.*`` in every variable)
GRAFANA_VARS = {
    "$__rate_interval": "15s",
    "$__interval": "5s",
    "$__range": "5m",
    "$job": ".*",
    "$profile": ".*",
    "$issuer": ".*",
}

_LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
_TEMPLATE_LABEL = re.compile(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)")
_BY = re.compile(r"\bby\s*\(([^)]*)\)")
METRIC = re.compile(r"\b(jwtobs_[a-z_]+|jwtobs:[a-z0-9_:]+)")


@dataclass(frozen=True)
class Check:
    """One expression to run against Prometheus."""

    id: str
    expr: str
    labels: frozenset[str]
    instant: bool
    source: str  # "panel", "variable", "record", "alert"
    title: str = ""

    @property
    def needs(self) -> frozenset[str]:
        """Scenario features the expression needs data from: ``jwks`` (JwksSource), ``redact``."""
        out = set()
        if "jwtobs_jwks_" in self.expr or "jwtobs:jwks" in self.expr:
            out.add("jwks")
        if "jwtobs_redactions" in self.expr or "jwtobs:redactions" in self.expr:
            out.add("redact")
        return frozenset(out)


def substitute(expr: str) -> str:
    # longest names first so $__rate_interval is not read as $__range + "te_interval" and $job stays whole
    for name in sorted(GRAFANA_VARS, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARS[name])
    return expr


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(GRAFANA.glob("*.json"))}


def panel_checks() -> list[Check]:
    out = []
    for name, dash in dashboards().items():
        for panel in dash["panels"]:
            for target in panel.get("targets", []):
                legend = target.get("legendFormat") or ""
                out.append(
                    Check(
                        id=f"{name}:{panel['title']}:{target['refId']}",
                        expr=substitute(target["expr"]),
                        labels=frozenset(_LEGEND_LABEL.findall(legend)),
                        instant=bool(target.get("instant")),
                        source="panel",
                        title=panel["title"],
                    )
                )
    return out


def variable_checks() -> list[Check]:
    """``label_values(metric{...}, label)`` queries of the dashboard variables, as series selectors."""
    out = []
    for name, dash in dashboards().items():
        for var in dash["templating"]["list"]:
            if var["type"] != "query":
                continue
            m = re.fullmatch(r"label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)", var["query"])
            assert m, f"{name}: variable {var['name']}: unexpected query {var['query']!r}"
            out.append(
                Check(
                    id=f"{name}:${var['name']}",
                    expr=substitute(m.group(1)),
                    labels=frozenset({m.group(2)}),
                    instant=True,
                    source="variable",
                )
            )
    return out


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in doc["groups"] for rule in group["rules"]]


def rule_checks() -> list[Check]:
    out = []
    for rule in rules():
        expr = " ".join(rule["expr"].split())
        if "record" in rule:
            by = _BY.search(expr)
            labels = {s.strip() for s in by.group(1).split(",")} - {"le", ""} if by else set()
            out.append(Check(f"record:{rule['record']}", expr, frozenset(labels), True, "record", rule["record"]))
        else:
            templated = " ".join(str(v) for v in rule.get("annotations", {}).values())
            labels = set(_TEMPLATE_LABEL.findall(templated))
            out.append(Check(f"alert:{rule['alert']}", expr, frozenset(labels), True, "alert", rule["alert"]))
    return out


def label_names() -> frozenset[str]:
    """Prometheus names of every attribute in jwtobs/telemetry.py (``jwtobs.reason`` -> ``jwtobs_reason``)."""
    from jwtobs import telemetry

    return frozenset(getattr(telemetry, n).replace(".", "_") for n in dir(telemetry) if n.startswith("ATTR_"))


def metric_names(checks: list[Check]) -> set[str]:
    """Every jwtobs metric and recorded series an expression reads (label names excluded)."""
    labels = label_names()
    return {m for c in checks for m in METRIC.findall(c.expr) if m not in labels}
