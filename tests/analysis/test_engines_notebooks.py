"""The notebooks take an engine as a parameter: both run on the DuckDB engine over a partitioned Parquet
directory, without loading the events, and report what the pandas engine reports for the same files (the
Prometheus runs are in tests/dashboards/test_from_prometheus.py, next to the real Prometheus)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
BOTH = ("failure_trends.ipynb", "rotation_incidents.ipynb")


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


def output_text(nb: Any) -> str:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", "") if o.get("output_type") == "stream" else "")
    return "".join(out)


def engine_line(engine: str, aggs: Any, incidents: Any) -> str:
    """The line both notebooks print first (validations, rejections, incidents of the chosen engine)."""
    c = aggs.counts
    nrej = int(c.loc[(c["outcome"] == "rejected").fillna(False), "count"].sum())
    return f"engine {engine}: {int(c['count'].sum())} validations, {nrej} rejected, {len(incidents)} incidents"


@pytest.fixture(scope="module")
def partitioned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from jwtobs.analysis import duck
    from jwtobs.simulate import default_scenario, simulate

    sim = tmp_path_factory.mktemp("nb-sim")
    simulate(default_scenario(seed=5, duration=3 * 3600), sim)
    out = tmp_path_factory.mktemp("nb-parquet") / "events"
    duck.compact(sim / "events", out)  # date=/hour= partitions, as a fleet's compacted sink writes them
    return out


@pytest.mark.parametrize("name", BOTH)
def test_notebook_with_the_duckdb_engine_reports_what_pandas_does(name: str, partitioned: Path) -> None:
    pytest.importorskip("duckdb")
    import jwtobs.analysis as A

    events = A.load_events(partitioned)
    by_pandas = A.incidents(events)
    assert len(by_pandas) >= 3  # the scenario's incidents are there to be found
    nb = run_notebook(name, {"events_path": str(partitioned), "engine": "duckdb"})
    text = output_text(nb)
    assert engine_line("duckdb", A.aggregate(events), by_pandas) in text
    if name == "rotation_incidents.ipynb":
        assert "the per-event offset histogram needs the event rows" in text  # said, not a traceback


@pytest.mark.parametrize("name", BOTH)
def test_shipped_notebooks_are_valid_nbformat_with_cell_ids(name: str) -> None:
    """nbformat 4.5 gives every cell an id; nbformat fills a missing one and warns that this will become a hard
    error (rotation_incidents.ipynb had one cell without it)."""
    import json
    import warnings

    import nbformat

    raw = json.loads((NOTEBOOKS / name).read_text())
    ids = [c.get("id") for c in raw["cells"]]
    assert None not in ids and len(set(ids)) == len(ids), ids
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nbformat.validate(nbformat.reads(json.dumps(raw), as_version=4))


@pytest.mark.parametrize("name", BOTH)
def test_a_notebook_leaves_no_simulated_day_behind(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without events the notebook simulates a few hours into a temporary directory; it is removed when the
    kernel exits (every run of the notebooks used to leave one ``jwtobs-notebook-*`` directory in /tmp)."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))  # the kernel's tempfile.gettempdir()
    nb = run_notebook(name, {"events_path": str(tmp_path / "absent"), "hours": 1.0})
    assert "validations" in output_text(nb)  # it did simulate and analyse
    assert sorted(p.name for p in scratch.iterdir() if p.name.startswith("jwtobs-notebook-")) == []
