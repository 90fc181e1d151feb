"""``jwtobs report``: analyse an events file or directory and write the HTML report.

Bad input (a missing path, a directory without events, a file that is not a jwtobs events file, a truncated
Parquet file) gets one line on stderr and exit status 2; no report is written. The report is written to a
temporary file beside ``--out`` and renamed when complete: a write that fails (disk full) is one line, exit 2,
and leaves no partial report.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from jwtobs.cli import missing_dependency


def register(subparsers: Any) -> None:
    r = subparsers.add_parser(
        "report",
        help="analyse an events file or directory and write an HTML report",
        description="Load events (JSONL/Parquet/directory), detect incidents, write an HTML report.",
    )
    r.add_argument("events", nargs="?", help="events file or directory (not with --prometheus)")
    r.add_argument("--out", default="jwtobs-report.html", help="HTML file to write")
    r.add_argument("--labels", help="simulator labels.json, to score the detections")
    # the aggregate engines (engines' options; jwtobs/analysis/engines.py)
    r.add_argument("--engine", choices=("pandas", "duckdb"), default="pandas", help="duckdb: out of core")
    r.add_argument("--prometheus", metavar="URL", help="detect from the jwtobs metrics in this Prometheus")
    r.add_argument("--start", help="with --prometheus: range start (ISO 8601; default an hour before --end)")
    r.add_argument("--end", help="with --prometheus: range end (ISO 8601; default now)")
    r.add_argument("--job", help="with --prometheus: only series of this job")
    r.set_defaults(func=_report)


#: what an events directory's loader reads (jwtobs.analysis.load.event_files): never overwritten by a report
_EVENT_SUFFIXES = (".jsonl", ".json", ".gz", ".parquet")


def _overwrites_input(events: str | None, out: str) -> bool:
    """Whether ``--out`` names the events file itself (also through a symlink or a hard link) or an events file
    inside the events directory: the report would replace the events with HTML (before session 33 it did, exit 0)."""
    import os
    from pathlib import Path

    if events is None:
        return False
    try:
        target, source = Path(out), Path(events)
        if not target.exists():
            return False
        if source.is_file():
            return target.resolve() == source.resolve() or os.path.samefile(target, source)
        if source.is_dir():
            inside = target.resolve().is_relative_to(source.resolve())
            return inside and target.is_file() and target.name.endswith(_EVENT_SUFFIXES)
    except OSError:
        return False
    return False


def _report(args: argparse.Namespace) -> int:
    stray = [f"--{name}" for name in ("start", "end", "job") if getattr(args, name, None) is not None]
    if stray and not args.prometheus:  # (before session 33 ignored: the whole file's range was reported, exit 0)
        print(
            f"jwtobs report: {', '.join(stray)}: only with --prometheus (an events file is reported whole)",
            file=sys.stderr,
        )
        return 2
    if _overwrites_input(args.events, args.out):
        print(f"jwtobs report: {args.out}: is an input events file: report never overwrites its input", file=sys.stderr)
        return 2
    if args.engine != "pandas" or args.prometheus or args.events is None:
        from jwtobs.analysis.engines import report_command

        return report_command(args)
    try:
        from jwtobs.analysis.report import ReportInputError, build_report
    except ImportError as exc:
        raise missing_dependency(exc, "analysis") from None
    try:
        report = build_report(args.events, args.labels)
    except ReportInputError as exc:
        print(f"jwtobs report: {exc}", file=sys.stderr)
        return 2
    try:
        path = report.write_html(args.out)
    except OSError as exc:  # written atomically: a failed write leaves no partial report
        print(f"jwtobs report: {args.out}: cannot write: {exc.strerror or type(exc).__name__}", file=sys.stderr)
        return 2
    print(report.summary())
    print(f"report: {path}")
    return 0
