"""A seeded fleet simulator: real tokens through real validators (``jwtobs.wrap`` + ``PyJWKClient``,
``jwtobs.Verifier`` + ``JwksSource``, JWKS over loopback HTTP) on a simulated clock, with the background real
fleets have and labelled incidents (see ``docs/analysis.md``)."""

from jwtobs import extras

try:
    from jwtobs.simulate.run import SimulationResult, simulate
    from jwtobs.simulate.scenario import (
        SIMULATED_KINDS,
        VALIDATOR_PATHS,
        Background,
        Incident,
        Scenario,
        default_scenario,
        load_scenario,
    )
    from jwtobs.simulate.scenarios import BenchCase, benchmark_suite, get_case, materialize
except ModuleNotFoundError as _exc:  # session 21: "No module named 'jwt'" without the extra to install
    raise extras.missing(_exc, "jwtobs.simulate") from None

__all__ = [
    "SIMULATED_KINDS",
    "VALIDATOR_PATHS",
    "Background",
    "BenchCase",
    "Incident",
    "Scenario",
    "SimulationResult",
    "benchmark_suite",
    "default_scenario",
    "get_case",
    "load_scenario",
    "materialize",
    "simulate",
]
