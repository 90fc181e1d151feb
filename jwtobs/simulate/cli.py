"""``jwtobs simulate``: run a scenario and write events, Parquet and labels."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from jwtobs.simulate.progress import ProgressBar
from jwtobs.simulate.run import simulate
from jwtobs.simulate.scenario import default_scenario, load_scenario


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "simulate",
        help="simulate a fleet validating real tokens on a simulated clock, with labelled incidents",
        description="Write events.jsonl, events.parquet and labels.json for a seeded scenario.",
    )
    p.add_argument("--out", default="jwtobs-sim", help="output directory (default: ./jwtobs-sim)")
    p.add_argument("--scenario", help="TOML scenario file (default: one day, one incident of each kind)")
    p.add_argument("--seed", type=int, help="random seed (overrides the scenario's)")
    p.add_argument("--hours", type=float, default=24.0, help="simulated hours for the default scenario")
    p.add_argument("--no-parquet", action="store_true", help="skip the Parquet copy")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.scenario:
        sc = load_scenario(args.scenario)
        if args.seed is not None:
            sc = sc.with_seed(args.seed)
    else:
        sc = default_scenario(seed=1 if args.seed is None else args.seed, duration=args.hours * 3600)
    with ProgressBar("simulating") as bar:
        res = simulate(sc, args.out, parquet=not args.no_parquet, progress=bar.update)
    print(f"{res.validations} validations -> {res.events_path}", file=sys.stdout)
    print(f"{len(res.labels)} injected incidents -> {res.labels_path}")
    return 0
