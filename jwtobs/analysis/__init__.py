"""Analysis of jwtobs validation events: loading, failure rates, incident detection, reports.

``from_prometheus`` (the same shapes from a Prometheus HTTP API) is imported lazily, so this package
imports without the Prometheus client pieces.
"""

from __future__ import annotations

from typing import Any

from jwtobs import extras

try:
    from jwtobs.analysis.aggregate import Aggregates, aggregate
    from jwtobs.analysis.detect import (
        INCIDENT_COLUMNS,
        INCIDENT_KINDS,
        attack_bursts,
        clock_offsets,
        clock_skew,
        clock_skew_incidents,
        foreign_baseline,
        incidents,
        leeway,
        misconfigurations,
        rotation_incidents,
        scanner_sweeps,
    )
    from jwtobs.analysis.load import load_events, load_keyset_changes
    from jwtobs.analysis.rates import breakdown, failure_rates, top_reasons
except ModuleNotFoundError as _exc:  # the analysis extra is not installed: say so
    raise extras.missing(_exc, "jwtobs.analysis") from None

__all__ = [
    "Aggregates",
    "INCIDENT_COLUMNS",
    "INCIDENT_KINDS",
    "aggregate",
    "attack_bursts",
    "breakdown",
    "clock_offsets",
    "clock_skew",
    "clock_skew_incidents",
    "failure_rates",
    "foreign_baseline",
    "from_prometheus",
    "incidents",
    "leeway",
    "load_events",
    "load_keyset_changes",
    "misconfigurations",
    "rotation_incidents",
    "scanner_sweeps",
    "top_reasons",
]


def __getattr__(name: str) -> Any:
    if name == "from_prometheus":
        from jwtobs.analysis.prometheus import from_prometheus

        return from_prometheus
    raise AttributeError(f"module 'jwtobs.analysis' has no attribute {name!r}")
