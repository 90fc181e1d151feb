"""``jwtobs scan`` (audit log files for credentials) and ``jwtobs scrub`` (write a redacted copy)."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
import warnings
from typing import TYPE_CHECKING, Any, TextIO

from jwtobs.cli import missing_dependency
from jwtobs.redact.scan import ENGINES, Finding, Scanner, ScanProblem, ScanReport, iter_files, scrub_file
from jwtobs.redact.scan.parallel import scan_parallel
from jwtobs.redact.scan.report import display_name

if TYPE_CHECKING:
    from jwtobs.progress import ProgressBar

_EXIT_OK, _EXIT_FOUND, _EXIT_ERROR = 0, 1, 2
PROGRESS_DELAY = 0.5  # seconds before the progress bar appears (short runs show none)


def register(subparsers: Any) -> None:
    s = subparsers.add_parser(
        "scan",
        help="audit log files (plain, JSONL, gzip/bzip2/xz, directories) for leaked tokens and credentials",
        description="Print FILE:LINE:KIND:FINGERPRINT for every credential found (never the credential or the "
        "line), then a summary. Fingerprints use JWTOBS_FINGERPRINT_KEY, so they match the token_fp of "
        "validation events. Exit codes: 0 done, 1 something found (with --exit-code), 2 usage error, a path "
        "that could not be read (missing, corrupt gzip...), or nothing scanned with --exit-code (every path "
        "skipped as binary, empty directories).",
    )
    s.add_argument("paths", nargs="+", metavar="PATH", help="files, directories (recursively), - for stdin")
    s.add_argument("--format", choices=("text", "json"), default="text", help="text (default) or JSON lines")
    s.add_argument("--exit-code", action="store_true", help="exit 1 when anything is found (for CI)")
    s.add_argument("--progress", action="store_true", help="progress bar on stderr even when it is not a terminal")
    s.add_argument("--binary", action="store_true", help="also scan files that look binary (skipped otherwise)")
    s.add_argument(
        "--jobs",
        "-j",
        type=_jobs,
        default=1,
        metavar="N",
        help="scan in N worker processes: files, and large plain files by chunks (0: one per CPU; default 1)",
    )
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
        "is byte-identical. OUT ending in .gz, .bz2 or .xz is written compressed so; gzip, bzip2 and xz input is "
        "detected. OUT must not "
        "exist (unless --force) and never is IN. Exit codes: 0 written, 2 usage error or unreadable input.",
    )
    c.add_argument("input", metavar="IN")
    c.add_argument("output", metavar="OUT")
    c.add_argument("--force", action="store_true", help="overwrite OUT if it exists (never IN itself)")
    c.add_argument("--binary", action="store_true", help="also copy a file that looks binary")
    c.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    c.set_defaults(func=_scrub)


def _ephemeral_key() -> bool:
    """Build the configuration from the environment (quietly); whether fingerprints use a random key."""
    from jwtobs import config
    from jwtobs.fingerprint import EphemeralKeyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EphemeralKeyWarning)
        return config.current().fingerprinter.ephemeral


def _fingerprint_note(ephemeral: bool, report: ScanReport, err: TextIO) -> None:
    """With a random key, say once, after a run that read something, that fingerprints will not correlate and
    how to fix it (a run that read nothing has no fingerprint to explain: its one line is the problem)."""
    if ephemeral and report.bytes:
        from jwtobs.fingerprint import EPHEMERAL_KEY_HINT

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


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError("must be 0 (one per CPU) or more")
    return n


def _scan(args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    ephemeral = _ephemeral_key()
    jobs = args.jobs or os.cpu_count() or 1
    if jobs > 1 and not os.environ.get("JWTOBS_FINGERPRINT_KEY"):
        # one random key for the run, read from the environment by every worker: fingerprints agree
        from jwtobs import config

        os.environ["JWTOBS_FINGERPRINT_KEY"] = secrets.token_urlsafe(32)
        config.reset()
    try:
        scanner = Scanner(args.engine, include_binary=args.binary)
    except ModuleNotFoundError as e:  # --engine hyperscan without the scan extra: exit 3, naming it
        raise missing_dependency(e, "scan") from None
    except Exception as e:  # hyperscan failed to compile
        err.write(f"jwtobs scan: error: {e}\n")
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
        if jobs > 1:
            found = scan_parallel(
                files,
                report,
                jobs=jobs,
                engine=args.engine,
                include_binary=args.binary,
                progress=progress.file_progress if progress else None,
            )
            for finding in found:
                report.add(finding)
                out.write(_finding_line(finding, as_json, out))
        else:
            for path in files:
                try:
                    for finding in scanner.scan_file(path, report, progress.file_progress if progress else None):
                        report.add(finding)
                        out.write(_finding_line(finding, as_json, out))
                except ScanProblem as e:
                    report.problems.append(e)
                if progress is not None:
                    progress.file_done(_size(path))
    finally:
        if progress is not None:
            progress.close()
    elapsed = time.perf_counter() - t0
    _summary(report, elapsed, out, as_json)
    _fingerprint_note(ephemeral, report, err)
    return _scan_exit(report, args.exit_code, err)


def _scan_exit(report: ScanReport, exit_code: bool, err: TextIO) -> int:
    """One line on stderr per path that was not (fully) read, or one error line when nothing was scanned (names
    shown safely: one line each, whatever they hold)."""

    def name(text: str) -> str:
        return display_name(text, _encoding(err))

    nothing = exit_code and report.files == 0 and not report.problems
    if nothing and len(report.skipped) == 1:
        path, why = report.skipped[0]
        err.write(f"jwtobs scan: error: nothing was scanned: {name(path)}: {name(why)}\n")
        return _EXIT_ERROR
    for path, why in report.skipped:
        err.write(f"jwtobs scan: skipped {name(path)}: {name(why)}\n")
    for path in report.empty:
        err.write(f"jwtobs scan: note: {name(path)} is empty\n")
    for problem in report.problems:
        err.write(f"jwtobs scan: error: {name(problem.path)}: {name(problem.message)}\n")
    if report.problems:
        return _EXIT_ERROR
    if nothing:
        what = "every file was skipped" if report.skipped else "no file under the paths given"
        err.write(f"jwtobs scan: error: nothing was scanned ({what}); --exit-code needs at least one file read\n")
        return _EXIT_ERROR
    if exit_code and report.findings:
        return _EXIT_FOUND
    return _EXIT_OK


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _encoding(stream: TextIO) -> str | None:
    """The encoding of an output stream (``None``: unknown, taken as Unicode)."""
    enc = getattr(stream, "encoding", None)
    return enc if isinstance(enc, str) else None


def _finding_line(f: Finding, as_json: bool, out: TextIO) -> str:
    if as_json:
        return json.dumps({"type": "finding", **f.to_dict()}, ensure_ascii=True) + "\n"
    return f.text(_encoding(out)) + "\n"


def _summary(report: ScanReport, elapsed: float, out: TextIO, as_json: bool) -> None:
    if as_json:
        d = report.to_dict()
        d["seconds"] = round(elapsed, 3)
        out.write(json.dumps({"type": "summary", **d}, ensure_ascii=True) + "\n")
        return
    mb = report.bytes / 1e6
    rate = f", {report.bytes / elapsed / 1e9:.2f} GB/s" if elapsed > 0 and report.bytes >= 1e6 else ""
    files = sum(1 for _ in report.by_file)
    enc = _encoding(out)
    out.write(
        f"\n{report.findings} finding{'s' if report.findings != 1 else ''} in {files} of {report.files} "
        f"file{'s' if report.files != 1 else ''} ({mb:.1f} MB, {report.lines} line{'s' if report.lines != 1 else ''}, "
        f"{elapsed:.2f} s{rate})\n"
    )
    if not report.findings:
        return
    width = max(len("kind"), *(len(k) for k in report.by_kind))
    out.write(f"\n  {'kind':<{width}}  count\n")
    for kind, n in sorted(report.by_kind.items(), key=lambda kv: (-kv[1], kv[0])):
        out.write(f"  {kind:<{width}}  {n:>5}\n")
    shown = {path: display_name(path, enc) for path in report.by_file}
    width = max(len("file"), *(len(k) for k in shown.values()))
    out.write(f"\n  {'file':<{width}}  count\n")
    for path, n in sorted(report.by_file.items(), key=lambda kv: (-kv[1], kv[0])):
        out.write(f"  {shown[path]:<{width}}  {n:>5}\n")


def _scrub(args: argparse.Namespace) -> int:
    err = sys.stderr
    ephemeral = _ephemeral_key()
    try:
        report = scrub_file(args.input, args.output, force=args.force, engine=args.engine, include_binary=args.binary)
    except ScanProblem as e:
        err.write(f"jwtobs scrub: error: {display_name(e.path, _encoding(err))}: {e.message}\n")
        return _EXIT_ERROR
    except ModuleNotFoundError as e:  # --engine hyperscan without the scan extra: exit 3, naming it
        raise missing_dependency(e, "scan") from None
    except Exception as e:  # disk full...
        err.write(f"jwtobs scrub: error: {type(e).__name__}: {e}\n")
        return _EXIT_ERROR
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(report.by_kind.items()))
    _fingerprint_note(ephemeral, report, err)
    empty = f" ({display_name(args.input, _encoding(err))} is empty)" if not report.bytes else ""
    err.write(
        f"jwtobs scrub: wrote {display_name(args.output, _encoding(err))}: {report.findings} credential"
        f"{'s' if report.findings != 1 else ''} redacted{' (' + kinds + ')' if kinds else ''}{empty}\n"
    )
    return _EXIT_OK
