"""The notebooks take an engine as a parameter: run failure_trends.ipynb with the DuckDB engine (the Prometheus
run is in tests/dashboards/test_from_prometheus.py, next to the real Prometheus)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def run_notebook(name: str, params: dict[str, Any], timeout: int = 300) -> Any:
    """Execute ``notebooks/NAME`` with ``params`` injected after its parameters cell (as papermill does)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", []))
    source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
    ).execute()
    return nb


def _output_text(nb: Any) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") if o.get("output_type") == "stream" else "")
    return "".join(out)


def test_failure_trends_with_the_duckdb_engine(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    from tests.analysis.test_engines import _bench

    events = _bench().generate(20_000, tmp_path, "parquet", per_hour=10_000)  # 2 h, Hive-partitioned Parquet
    nb = run_notebook("failure_trends.ipynb", {"events_path": str(events), "engine": "duckdb"})
    assert "engine duckdb:" in _output_text(nb)  # and the notebook asserted equality with pandas
