"""``jwtobs demo``: simulate a day, analyse it, write the report.

The command lives in the CLI layer because it composes two packages: :mod:`jwtobs.simulate` makes the
events and :mod:`jwtobs.analysis` reads them. Neither of them imports the other's commands.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from jwtobs.cli import missing_dependency


def register(subparsers: Any) -> None:
    d = subparsers.add_parser(
        "demo",
        help="simulate a day of validations with incidents, detect them, write an HTML report",
        description="Simulate a day (real tokens, real validators, simulated clock), analyse the events and "
        "write OUT/report.html; prints detected vs injected incidents.",
    )
    d.add_argument("--out", default="jwtobs-demo", help="output directory (default: ./jwtobs-demo)")
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--hours", type=float, default=24.0, help="simulated hours (default 24)")
    d.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    try:
        import jwt  # noqa: F401 - the simulated APIs validate with PyJWT
        import pandas  # noqa: F401 - the analysis
    except ImportError as exc:
        raise missing_dependency(exc, "demo") from None
    from jwtobs.analysis.report import build_report
    from jwtobs.simulate.progress import ProgressBar
    from jwtobs.simulate.run import simulate
    from jwtobs.simulate.scenario import default_scenario

    t0 = time.monotonic()
    out = Path(args.out)
    with ProgressBar("simulating") as bar:
        res = simulate(default_scenario(seed=args.seed, duration=args.hours * 3600), out, progress=bar.update)
    with ProgressBar("analysing") as bar:
        bar.update(0.0)
        report = build_report(out, res.labels_path)
        bar.update(0.5)
        html = report.write_html(out / "report.html", png_dir=out / "plots")
        bar.update(1.0)
    print(report.summary())
    print()
    print(f"events:  {res.events_path}  ({res.validations} validations; Parquet: {res.parquet_path})")
    print(f"labels:  {res.labels_path}")
    print(f"report:  {html}")
    print(f"done in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return 0
