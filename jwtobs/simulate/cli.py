"""``jwtobs simulate``: run a scenario and write the replicas' events, Parquet copies and labels."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from jwtobs.cli import fail, input_path
from jwtobs.simulate.progress import ProgressBar
from jwtobs.simulate.run import parquet_available, simulate
from jwtobs.simulate.scenario import (
    MAX_DURATION,
    Scenario,
    check_duration,
    default_scenario,
    load_scenario,
)
from jwtobs.simulate.scenarios import benchmark_suite, get_case


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="simulate a fleet validating real tokens on a simulated clock, with background and labelled incidents",
        description="Write events/<api>-<n>.jsonl (+ .parquet) per API replica and labels.json for a seeded "
        "scenario: the default day, a TOML file, or a case of the detector benchmark.",
    )
    p.add_argument("--out", default="jwtobs-sim", help="output directory (default: ./jwtobs-sim)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--scenario", help="TOML scenario file (default: one day, one incident of each kind)")
    src.add_argument("--case", help="a benchmark case by name (see --list-cases)")
    src.add_argument("--list-cases", action="store_true", help="list the benchmark cases and exit")
    p.add_argument("--seed", type=int, help="random seed (overrides the scenario's; a 64-bit signed integer)")
    p.add_argument(
        "--hours",
        type=float,
        default=24.0,
        help=f"simulated hours for the default scenario (more than 0, at most {MAX_DURATION / 3600:.0f}: 31 days)",
    )
    p.add_argument(
        "--no-parquet",
        action="store_true",
        help="skip the Parquet copies (skipped anyway, with a note, without jwtobs[analysis])",
    )
    p.set_defaults(func=_run)


def _check_hours(hours: float) -> None:
    """``--hours``: finite, more than 0 and at most 31 days (one line and exit 2 otherwise: 0 divided the
    scenario by zero, ``inf`` ran for ever)."""
    try:
        check_duration(hours * 3600)
    except ValueError:
        fail(f"--hours must be more than 0 and at most {MAX_DURATION / 3600:.0f} (31 days), got {hours!r}")


def _run(args: argparse.Namespace) -> int:
    if args.list_cases:
        for case in benchmark_suite():
            print(f"{case.name:<36} {case.scenario.duration / 3600:5.1f} h  {case.description}")
        return 0
    sc: Scenario
    try:
        if args.scenario:
            sc = load_scenario(input_path(args.scenario))
        elif args.case:
            sc = get_case(args.case).scenario
        else:
            _check_hours(args.hours)
            sc = default_scenario(seed=1 if args.seed is None else args.seed, duration=args.hours * 3600)
        if args.seed is not None:
            sc = sc.with_seed(args.seed)
    except KeyError as exc:
        fail(str(exc.args[0]) if exc.args else "unknown case")
    except ValueError as exc:
        fail(str(exc))
    try:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "events").mkdir(exist_ok=True)
    except OSError as exc:
        fail(f"{args.out}: cannot write: {exc.strerror or type(exc).__name__}")
    parquet = not args.no_parquet
    skipped = parquet and not parquet_available()
    with ProgressBar("simulating") as bar:
        res = simulate(sc, args.out, parquet=parquet and not skipped, progress=bar.update)
    print(f"{res.validations} validations -> {res.events_path}", file=sys.stdout)
    print(f"{len(res.labels)} injected incidents -> {res.labels_path}")
    if skipped:  # the simulator needs PyJWT only; the Parquet copies are a convenience of the analysis extra
        print(
            "jwtobs simulate: no Parquet copies (they need pandas and pyarrow: pip install 'jwtobs[analysis]'); "
            "the JSONL files are complete",
            file=sys.stderr,
        )
    return 0
