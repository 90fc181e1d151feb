"""``jwtobs scan`` (audit log files for credentials) and ``jwtobs scrub`` (write a redacted copy)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from typing import TYPE_CHECKING, Any, TextIO

from jwtobs.redact.scan import ENGINES, Finding, Scanner, ScanProblem, ScanReport, iter_files, scrub_file

if TYPE_CHECKING:
    from jwtobs.progress import ProgressBar

_EXIT_OK, _EXIT_FOUND, _EXIT_ERROR = 0, 1, 2
PROGRESS_DELAY = 0.5  # seconds before the progress bar appears (short runs show none)


def register(subparsers: Any) -> None:
    s = subparsers.add_parser(
        "scan",
        help="audit log files (plain, JSONL, gzip, directories) for leaked tokens and credentials",
        description="Print FILE:LINE:KIND:FINGERPRINT for every credential found (never the credential or the "
        "line), then a summary. Fingerprints use JWTOBS_FINGERPRINT_KEY, so they match the token_fp of "
        "validation events. Exit codes: 0 done, 1 something found (with --exit-code), 2 usage error or a path "
        "that could not be read.",
    )
    s.add_argument("paths", nargs="+", metavar="PATH", help="files, directories (recursively), - for stdin")
    s.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or JSON lines")
    s.add_argument("--exit-code", action="store_true", help="exit 1 when anything is found (for CI)")
    s.add_argument("--progress", action="store_true", help="progress bar on stderr even when it is not a terminal")
    s.add_argument("--binary", action="store_true", help="also scan files that look binary (skipped otherwise)")
    s.add_argument(
        "--engine",
        choices=ENGINES,
        help="prefilter: hyperscan (default when installed), python, or all (scrub every line: slow, exhaustive)",
    )
    s.set_defaults(func=_scan)

    c = subparsers.add_parser(
        "scrub",
        help="write a redacted copy of a log file (never in place)",
        description="Copy IN to OUT with every credential replaced by [REDACTED:<kind>:<fingerprint>]; the rest "
        "is byte-identical. OUT ending in .gz is written gzip-compressed; gzip input is detected. OUT must not "
        "exist (unless --force) and never is IN. Exit codes: 0 written, 2 usage error or unreadable input.",
    )
    c.add_argument("input", metavar="IN")
    c.add_argument("output", metavar="OUT")
    c.add_argument("--force", action="store_true", help="overwrite OUT if it exists (never IN itself)")
    c.add_argument("--binary", action="store_true", help="also copy a file that looks binary")
    c.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    c.set_defaults(func=_scrub)


def _fingerprint_note(err: TextIO) -> None:
    """Build the configuration from the environment; say so when fingerprints will not correlate."""
    from jwtobs import config
    from jwtobs.fingerprint import EPHEMERAL_KEY_HINT, EphemeralKeyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EphemeralKeyWarning)
        state = config.current()
    if state.fingerprinter.ephemeral:
        err.write(f"jwtobs: note: {EPHEMERAL_KEY_HINT}\n")


class _Progress:
    """A progress bar over the bytes of all files, drawn only after half a second."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = max(1, total)
        self.done = 0
        self.t0 = time.monotonic()
        self.bar: ProgressBar | None = None
        self._stream = stream

    def file_progress(self, consumed: int) -> None:
        if time.monotonic() - self.t0 < PROGRESS_DELAY:
            return
        if self.bar is None:
            from jwtobs.progress import ProgressBar

            self.bar = ProgressBar("scanning", stream=self._stream)
        self.bar.update(min(1.0, (self.done + consumed) / self.total))

    def file_done(self, size: int) -> None:
        self.done += size

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(1.0)
            self.bar.__exit__(None, None, None)


def _scan(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    _fingerprint_note(err)
    try:
        scanner = Scanner(args.engine, include_binary=args.binary)
    except Exception as e:  # hyperscan asked for but not installed, or failed to compile
        err.write(f"jwtobs scan: {e}\n")
        return _EXIT_ERROR
    if scanner.prefilter.note:
        err.write(f"jwtobs scan: note: {scanner.prefilter.note}\n")
    report = ScanReport()
    files = list(iter_files(args.paths, report.problems))
    progress: _Progress | None = None
    if args.progress or err.isatty():
        progress = _Progress(sum(_size(f) for f in files), err)
    t0 = time.perf_counter()
    as_json = args.format == "json"
    try:
        for path in files:
            try:
                for finding in scanner.scan_file(path, report, progress.file_progress if progress else None):
                    report.add(finding)
                    out.write(_finding_line(finding, as_json))
            except ScanProblem as e:
                report.problems.append(e)
            if progress is not None:
                progress.file_done(_size(path))
    finally:
        if progress is not None:
            progress.close()
    elapsed = time.perf_counter() - t0
    _summary(report, elapsed, out, as_json)
    for path, why in report.skipped:
        err.write(f"jwtobs scan: skipped {path}: {why}\n")
    for problem in report.problems:
        err.write(f"jwtobs scan: error: {problem}\n")
    if report.problems:
        return _EXIT_ERROR
    if args.exit_code and report.findings:
        return _EXIT_FOUND
    return _EXIT_OK


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _finding_line(f: Finding, as_json: bool) -> str:
    if as_json:
        return json.dumps({"type": "finding", **f.to_dict()}, ensure_ascii=True) + "\n"
    return f.text() + "\n"


def _summary(report: ScanReport, elapsed: float, out: TextIO, as_json: bool) -> None:
    if as_json:
        d = report.to_dict()
        d["seconds"] = round(elapsed, 3)
        out.write(json.dumps({"type": "summary", **d}, ensure_ascii=True) + "\n")
        return
    mb = report.bytes / 1e6
    rate = f", {report.bytes / elapsed / 1e9:.2f} GB/s" if elapsed > 0 and report.bytes >= 1e6 else ""
    files = sum(1 for _ in report.by_file)
    out.write(
        f"\n{report.findings} finding{'s' if report.findings != 1 else ''} in {files} of {report.files} "
        f"file{'s' if report.files != 1 else ''} ({mb:.1f} MB, {report.lines} lines, {elapsed:.2f} s{rate})\n"
    )
    if not report.findings:
        return
    width = max(len("kind"), *(len(k) for k in report.by_kind))
    out.write(f"\n  {'kind':<{width}}  count\n")
    for kind, n in sorted(report.by_kind.items(), key=lambda kv: (-kv[1], kv[0])):
        out.write(f"  {kind:<{width}}  {n:>5}\n")
    width = max(len("file"), *(len(k) for k in report.by_file))
    out.write(f"\n  {'file':<{width}}  count\n")
    for path, n in sorted(report.by_file.items(), key=lambda kv: (-kv[1], kv[0])):
        out.write(f"  {path:<{width}}  {n:>5}\n")


def _scrub(args: argparse.Namespace) -> int:
    err = sys.stderr
    _fingerprint_note(err)
    try:
        report = scrub_file(args.input, args.output, force=args.force, engine=args.engine, include_binary=args.binary)
    except ScanProblem as e:
        err.write(f"jwtobs scrub: error: {e}\n")
        return _EXIT_ERROR
    except Exception as e:  # hyperscan asked for but unavailable; disk full...
        err.write(f"jwtobs scrub: error: {type(e).__name__}: {e}\n")
        return _EXIT_ERROR
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(report.by_kind.items()))
    err.write(
        f"jwtobs scrub: wrote {args.output}: {report.findings} credential"
        f"{'s' if report.findings != 1 else ''} redacted{' (' + kinds + ')' if kinds else ''}\n"
    )
    return _EXIT_OK
