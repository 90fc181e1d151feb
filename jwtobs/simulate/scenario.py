"""Scenario: what the simulated fleet looks like and which incidents are injected (TOML, stdlib ``tomllib``)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jwtobs.kinds import INCIDENT_KINDS

__all__ = ["Incident", "Scenario", "INCIDENT_KINDS", "load_scenario", "default_scenario"]


@dataclass(frozen=True)
class Incident:
    """One injected incident: ``kind`` (one of :data:`INCIDENT_KINDS`), ``at`` and ``duration`` in simulated
    seconds from the scenario start, and ``target`` (an issuer, API or client name; chosen by the
    simulator when empty)."""

    kind: str
    at: float
    duration: float = 1200.0
    target: str = ""
    skew: float = 900.0


@dataclass(frozen=True)
class Scenario:
    seed: int = 1
    start: float = 1_795_000_000.0  # 2026-11-18T09:46:40Z: a fixed epoch keeps runs comparable
    duration: float = 86_400.0
    issuers: int = 2
    apis: int = 3
    clients: int = 12
    request_interval: float = 30.0  # mean seconds between one client's requests
    token_lifetime: float = 3600.0
    jwks_ttl: float = 60.0
    rotation_every: float = 6 * 3600.0
    malformed_rate: float = 0.0005
    incidents: tuple[Incident, ...] = field(default_factory=tuple)

    def with_seed(self, seed: int) -> Scenario:
        return replace(self, seed=seed)


def default_scenario(seed: int = 1, duration: float = 86_400.0) -> Scenario:
    """A day with one incident of every kind, spread out so they do not overlap."""
    gap = duration / (len(INCIDENT_KINDS) + 1)
    durations = {"attack_burst": 300.0, "clock_skew": 7200.0}
    incs = tuple(
        Incident(kind=k, at=gap * (i + 0.5) + (seed * 97.0) % 600, duration=durations.get(k, 1200.0))
        for i, k in enumerate(INCIDENT_KINDS)
    )
    return Scenario(seed=seed, duration=duration, incidents=incs)


def load_scenario(path: str | Path) -> Scenario:
    """Read a TOML scenario: top-level keys of :class:`Scenario` and ``[[incident]]`` tables."""
    with open(path, "rb") as f:
        data: dict[str, Any] = tomllib.load(f)
    raw_incs = data.pop("incident", [])
    known = set(Scenario.__dataclass_fields__) - {"incidents"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown scenario keys: {sorted(unknown)}")
    incs = []
    for item in raw_incs:
        if item.get("kind") not in INCIDENT_KINDS:
            raise ValueError(f"unknown incident kind {item.get('kind')!r}; expected one of {INCIDENT_KINDS}")
        incs.append(Incident(**item))
    return Scenario(**data, incidents=tuple(incs))
