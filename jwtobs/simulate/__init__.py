"""A seeded fleet simulator: real tokens through the real jwtobs wrapper on a simulated clock, with
labelled incidents (see ``docs/analysis.md``)."""

from jwtobs.simulate.run import SimulationResult, simulate
from jwtobs.simulate.scenario import INCIDENT_KINDS, Incident, Scenario, default_scenario, load_scenario

__all__ = [
    "INCIDENT_KINDS",
    "Incident",
    "Scenario",
    "SimulationResult",
    "default_scenario",
    "load_scenario",
    "simulate",
]
