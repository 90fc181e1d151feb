"""Seeded scenarios for the detector benchmark (``benchmarks/bench_detect.py``).

:func:`benchmark_suite` returns the same list for the same ``base_seed``: quiet days with the full
background and nothing injected, single incidents of every kind on both validator paths (``pyjwt`` and
``verifier``), and busier timelines with several incidents, issuers and replicas. Run one with
``jwtobs.simulate.simulate(case.scenario, out_dir)``; its ``labels.json`` is the ground truth.
:func:`materialize` simulates a list of cases into one directory each, in parallel processes, and keeps
what an earlier call already simulated for the same scenario and simulator version.
"""

from __future__ import annotations

import json
import multiprocessing
import random
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jwtobs.simulate.scenario import SIMULATED_KINDS, Incident, Scenario, default_scenario, scenario_to_dict

__all__ = ["BenchCase", "benchmark_suite", "get_case", "materialize"]

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class BenchCase:
    """A named scenario of the benchmark; ``quiet`` when nothing is injected (every detection is false)."""

    name: str
    scenario: Scenario
    quiet: bool
    description: str

    @property
    def simulated_days(self) -> float:
        return self.scenario.duration / DAY


_PATHS: tuple[tuple[str, ...], ...] = (("pyjwt",), ("verifier",), ("pyjwt", "verifier"))
#: a JwksSource keeps its last-known-good keys through an outage (nothing fails on the Verifier path alone)
_OUTAGE_PATHS: tuple[tuple[str, ...], ...] = (("pyjwt",), ("verifier", "pyjwt"), ("pyjwt", "verifier"))

#: (kind, duration range s, extra Incident fields) of the single-incident cases
_SINGLE: dict[str, tuple[tuple[float, float], dict[str, float]]] = {
    "kid_before_publish": ((600.0, 1800.0), {}),
    "key_removed_early": ((1200.0, 1200.0), {}),
    "jwks_outage": ((600.0, 1800.0), {}),
    "signature_spike": ((600.0, 1500.0), {}),
    "clock_skew": ((3600.0, 3 * HOUR), {"skew": 900.0}),
    "audience_misconfig": ((900.0, 2400.0), {}),
    "type_confusion": ((900.0, 2400.0), {}),
    "attack_burst": ((90.0, 600.0), {"rate": 2.0}),
}


def benchmark_suite(base_seed: int = 0) -> list[BenchCase]:
    """38 cases: 6 quiet days, 24 single incidents (3 per kind, one per validator-path mix), 4 clock
    drifts/skews, 4 multi-incident timelines. Everything derives from ``base_seed``."""
    rng = random.Random(f"jwtobs-bench/{base_seed}")
    cases: list[BenchCase] = []

    def seed() -> int:
        return base_seed * 1000 + len(cases) + 1

    # quiet days: the whole background, several fleet shapes, nothing injected
    for i in range(6):
        sc = Scenario(
            seed=seed(),
            duration=DAY,
            clients=rng.choice((10, 12, 16)),
            issuers=1 + i % 2,
            apis=3,
            replicas=2 + i % 2,
            validators=_PATHS[i % 3],
        )
        cases.append(BenchCase(f"quiet-day-{i + 1}", sc, True, "24 h of background, nothing injected"))

    # one incident per case, after a warm-up the detectors can learn from
    for k, kind in enumerate(SIMULATED_KINDS):
        (lo, hi), extra = _SINGLE[kind]
        for j, paths in enumerate(_OUTAGE_PATHS if kind == "jwks_outage" else _PATHS):
            dur = rng.uniform(lo, hi)
            if kind == "signature_spike" and paths == ("verifier",):
                # a JwksSource sees the redeployed key set only at its next fetch (max-age 1 h)
                dur += 3600.0
            at = rng.uniform(3 * HOUR, 5 * HOUR)
            fields = dict(extra)
            if kind == "clock_skew":
                fields["skew"] = rng.choice((300.0, 900.0, 1800.0))
            if kind == "attack_burst":
                fields["rate"] = rng.choice((1.0, 2.0, 5.0))
            inc = Incident(kind, at=at, duration=dur, **fields)  # type: ignore[arg-type]
            sc = Scenario(
                seed=seed(),
                duration=8 * HOUR,
                clients=rng.choice((10, 12, 14)),
                issuers=1 + (k + j) % 2,
                replicas=2 + j % 2,
                validators=paths,
                incidents=(inc,),
            )
            cases.append(BenchCase(f"{kind}-{'+'.join(paths)}", sc, False, f"one {kind} after 3-5 h of background"))

    # clock drift: the offset grows from 0 over hours (the skew is found while it grows)
    for j, (skew, ramp) in enumerate(((600.0, 3 * HOUR), (1800.0, 2 * HOUR), (300.0, HOUR), (7200.0, 0.0))):
        inc = Incident("clock_skew", at=rng.uniform(2 * HOUR, 3 * HOUR), duration=4 * HOUR, skew=skew, ramp=ramp)
        sc = Scenario(seed=seed(), duration=10 * HOUR, clients=12, validators=_PATHS[j % 3], incidents=(inc,))
        cases.append(BenchCase(f"clock-drift-{j + 1}", sc, False, f"clock {skew:.0f} s behind over {ramp:.0f} s"))

    # busier timelines: several incidents, two issuers, three replicas
    cases.append(
        BenchCase(
            "rotation-outage-early-kid",
            Scenario(
                seed=seed(),
                duration=12 * HOUR,
                clients=14,
                rotation_every=4 * HOUR,
                replicas=3,
                incidents=(
                    Incident("jwks_outage", at=4.2 * HOUR, duration=1200.0, target="https://idp0.example"),
                    Incident("kid_before_publish", at=8 * HOUR, duration=900.0, target="https://idp1.example"),
                ),
            ),
            False,
            "healthy rotations every 4 h, a JWKS outage, a kid used before it is published",
        )
    )
    cases.append(
        BenchCase(
            "drift-and-id-tokens",
            Scenario(
                seed=seed(),
                duration=10 * HOUR,
                clients=12,
                incidents=(
                    Incident("clock_skew", at=3 * HOUR, duration=3 * HOUR, skew=600.0, ramp=3 * HOUR),
                    Incident("type_confusion", at=7 * HOUR, duration=1800.0),
                ),
            ),
            False,
            "one client's clock drifting; ID tokens sent to an at+jwt API",
        )
    )
    cases.append(
        BenchCase(
            "busy-burst-wrong-audience",
            Scenario(
                seed=seed(),
                duration=6 * HOUR,
                clients=30,
                request_interval=20.0,
                replicas=3,
                incidents=(
                    Incident("attack_burst", at=3 * HOUR, duration=90.0, rate=5.0),
                    Incident("audience_misconfig", at=4 * HOUR, duration=1800.0),
                ),
            ),
            False,
            "a busy fleet, a 90 s random-kid burst at 5/s, an API deployed with the wrong audience",
        )
    )
    demo = default_scenario(seed=seed())
    cases.append(BenchCase("demo-day", demo, False, "the demo: one incident of every kind in a day"))
    return cases


def get_case(name: str, base_seed: int = 0) -> BenchCase:
    """The case called ``name`` (``KeyError`` listing the names otherwise)."""
    cases = {c.name: c for c in benchmark_suite(base_seed)}
    try:
        return cases[name]
    except KeyError:
        raise KeyError(f"no benchmark case {name!r}; known: {sorted(cases)}") from None


def _json(sc: Scenario) -> Any:
    return json.loads(json.dumps(scenario_to_dict(sc)))


def _is_done(out: Path, sc: Scenario) -> bool:
    from jwtobs.simulate.run import SIMULATOR_VERSION

    try:
        doc = json.loads((out / "labels.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("simulator") == SIMULATOR_VERSION and doc.get("scenario") == _json(sc)


def _simulate_one(sc: Scenario, out: str, parquet: bool) -> int:
    from jwtobs.simulate.run import simulate

    return simulate(sc, out, parquet=parquet).validations


def materialize(
    cases: Iterable[BenchCase],
    root: str | Path,
    *,
    jobs: int = 1,
    parquet: bool = True,
    log: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Simulate every case into ``root/<name>/`` and return ``{name: directory}``. A directory whose
    ``labels.json`` records the same scenario and simulator version is reused. ``jobs`` > 1 runs that many
    processes (each simulation is single-threaded); they are spawned, so a script calling this needs the
    ``if __name__ == "__main__":`` guard."""
    base = Path(root)
    dirs: dict[str, Path] = {}
    todo: list[tuple[str, Scenario, Path]] = []
    for case in cases:
        out = base / case.name
        dirs[case.name] = out
        if not _is_done(out, case.scenario):
            todo.append((case.name, case.scenario, out))
    if jobs <= 1 or len(todo) <= 1:
        for name, sc, out in todo:
            n = _simulate_one(sc, str(out), parquet)
            if log is not None:
                log(f"{name}: {n} validations")
        return dirs
    ctx = multiprocessing.get_context("spawn")  # no fork of a process holding writer/server threads
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = {pool.submit(_simulate_one, sc, str(out), parquet): name for name, sc, out in todo}
        for fut in as_completed(futures):
            n = fut.result()
            if log is not None:
                log(f"{futures[fut]}: {n} validations")
    return dirs
