"""The committed dashboard JSON is what dashboards/generate.py produces, and it imports without edits:
the data source is a variable, rates use $__rate_interval, uids are stable, every panel has a query."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.dashboards import queries

GENERATOR = queries.ROOT / "dashboards" / "generate.py"


def _generator() -> ModuleType:
    pytest.importorskip("grafana_foundation_sdk", reason="grafana-foundation-sdk is in the dev extra")
    spec = importlib.util.spec_from_file_location("jwtobs_dashboards_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_committed_json_is_the_generator_output() -> None:
    generated = _generator().generate()
    committed = {p.name: p.read_text(encoding="utf-8") for p in queries.GRAFANA.glob("*.json")}
    assert (
        set(generated)
        == set(committed)
        == {
            "jwtobs-overview.json",
            "jwtobs-key-rotation.json",
            "jwtobs-redaction.json",
        }
    )
    stale = [name for name in generated if generated[name] != committed[name]]
    assert not stale, f"run .venv/bin/python dashboards/generate.py: {stale} out of date"


def test_check_mode_reports_a_stale_file(tmp_path: Path) -> None:
    gen = _generator()
    assert gen.main(["--out", str(tmp_path)]) == 0
    assert gen.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "jwtobs-redaction.json").write_text("{}", encoding="utf-8")
    assert gen.main(["--check", "--out", str(tmp_path)]) == 1


def _panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dash["panels"] if p["type"] not in {"row", "text"}]


@pytest.mark.parametrize("name", sorted(queries.dashboards()))
def test_dashboard_imports_without_edits(name: str) -> None:
    dash = queries.dashboards()[name]
    assert dash["uid"] == name.removesuffix(".json")
    assert "__inputs" not in dash  # nothing to fill in on import
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    for panel in _panels(dash):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        assert panel.get("description"), f"{panel['title']} has no description"
        for target in panel["targets"]:
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            expr = target["expr"]
            # every range vector of a rate-like function uses $__rate_interval (or $__range for totals)
            for window in re.findall(r"(?:rate|increase|changes)\([^\[]*\[([^\]]+)\]", expr):
                assert window in {"$__rate_interval", "$__range"}, f"{panel['title']}: [{window}]"
            assert re.search(r"\[\d+[smhd]\]", expr) is None, f"{panel['title']}: fixed window in {expr}"
            for var in re.findall(r"\$(\w+)", expr):
                assert var.startswith("__") or var in variables, f"{panel['title']}: undefined ${var}"
    # grid: panels do not overlap
    cells: set[tuple[int, int]] = set()
    for panel in dash["panels"]:
        g = panel["gridPos"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert not mine & cells, f"{panel['title']} overlaps"
        assert g["x"] + g["w"] <= 24
        cells |= mine


def test_the_dashboards_cover_the_issue() -> None:
    titles = {name: {p["title"] for p in _panels(d)} for name, d in queries.dashboards().items()}
    assert {
        "Validations / s",
        "Rejection ratio by reason",
        "Validation duration p50 / p99",
        "Top issuers",
        "Top kids",
        "Attack signals by reason",
    } <= titles["jwtobs-overview.json"]
    assert {
        "Kids in use vs keys published",
        "Key-set changes",
        "Unknown-kid rejections / s",
        "JWKS fetch rate",
        "JWKS fetch latency p50 / p99",
        "JWKS fetch errors / s",
        "Suppressed refreshes / s",
        "Key-set staleness",
    } <= titles["jwtobs-key-rotation.json"]
    assert "Redactions / s by kind and sink" in titles["jwtobs-redaction.json"]
