"""``jwtobs scan --jobs N``: files, and large plain files by chunks of whole lines, scanned in worker processes.

The scrubber is pure Python, so threads cannot run it in parallel: ``N`` worker processes each run a
:class:`~jwtobs.redact.scan.scanner.Scanner` (one prefilter thread each). The work is cut into units:

* a plain file of at least ``2 * CHUNK`` bytes is split into chunks of about ``max(CHUNK, size / (2 N))`` bytes
  whose boundaries are moved forward to the next line start (a boundary that would fall inside a line longer
  than the chunk is dropped, so a line is always scanned whole, by one worker);
* a gzip file, standard input (read by the calling process) and a small file are one unit each; with fewer
  than two units no worker process is started.

Results come back in input order: findings of a chunk are numbered from its first line and shifted by the
lines of the chunks before it, so the output is the same as a serial scan's, finding for finding. A chunk that
fails (the file shrank, a read error) ends that file with a problem (later chunks would be misnumbered).

Fingerprints: the workers build their configuration from the environment (``JWTOBS_FINGERPRINT_KEY``), as
the CLI does; the CLI sets a random key for the run when none is set, so every worker uses the same one.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Final

from jwtobs._compressed import compression
from jwtobs.redact import patterns as p
from jwtobs.redact.scan.report import Finding, ScanProblem, ScanReport
from jwtobs.redact.scan.scanner import Scanner
from jwtobs.redact.scan.walk import STDIN, is_binary, iter_files, os_message, utf16
from jwtobs.redact.scan.windowed import b64_tail_width

CHUNK: Final = 32 << 20  # smallest chunk of a split file
_PROBE: Final = 64 << 10  # bytes read at a time to find the line start after a nominal boundary


@dataclass(frozen=True)
class Unit:
    """A file (``end`` None: whole, gzip or not) or the bytes ``[start, end)`` of a plain file."""

    path: str
    start: int = 0
    end: int | None = None


@dataclass
class UnitResult:
    findings: list[tuple[int, str, str]] = field(default_factory=list)  # (line in the unit, kind, fingerprint)
    files: int = 0
    bytes: int = 0
    lines: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    problem: str | None = None


_scanner: Scanner | None = None


def _init(engine: str | None, include_binary: bool) -> None:
    global _scanner
    _scanner = Scanner(engine, threads=1, include_binary=include_binary)


def _work(unit: Unit) -> UnitResult:
    assert _scanner is not None
    report = ScanReport()
    out = UnitResult()
    try:
        if unit.end is None:
            found = _scanner.scan_file(unit.path, report)
        else:
            found = _scanner.scan_range(unit.path, unit.start, unit.end, report)
        out.findings = [(f.line, f.kind, f.fingerprint) for f in found]
        if unit.end is not None and report.bytes < unit.end - unit.start:
            # (a chunk planned past the end of a file truncated meanwhile reads nothing, quietly)
            out.problem = f"the file shrank while it was scanned ({report.bytes} of {unit.end - unit.start} bytes read)"
    except ScanProblem as e:
        out.problem = e.message
    except Exception as e:  # never lose the other files to one unexpected error
        out.problem = f"internal error: {type(e).__name__}: {e}"
    out.files, out.bytes, out.lines, out.skipped = report.files, report.bytes, report.lines, report.skipped
    out.empty = report.empty
    return out


def line_starts(path: str, size: int, chunk: int) -> list[int]:
    """Offsets of line starts near every ``chunk`` bytes of a plain file (0 first; each boundary moved
    forward to just after the next newline; one inside a line reaching the next boundary dropped)."""
    starts = [0]
    with open(path, "rb") as f:
        for nominal in range(chunk, size, chunk):
            if nominal <= starts[-1]:
                continue
            f.seek(nominal - 1)
            pos = nominal - 1
            limit = min(size, nominal + chunk)
            while pos < limit:
                data = f.read(min(_PROBE, limit - pos))
                if not data:
                    break
                nl = data.find(b"\n")
                if nl >= 0:
                    start = _past_b64_block(f, pos + nl + 1, size)
                    if start < size:
                        starts.append(start)
                    break
                pos += len(data)
    return starts


def _past_b64_block(f: IO[bytes], start: int, size: int) -> int:
    """``start`` (a line start), or past the lines of a base64 block wrapped over lines that it would cut: the
    line before it and the lines after it end in runs of one width (at least ``patterns.B64_WRAP_MIN``, a
    multiple of 4), then one shorter line (the scanner reads such a block within one chunk; at most ``_PROBE``
    bytes on)."""
    f.seek(max(0, start - _PROBE))
    before = f.read(start - max(0, start - _PROBE))
    width = b64_tail_width(before[before.rfind(b"\n", 0, len(before) - 1) + 1 : -1])
    if not p.b64_wrap_width(width):
        return start
    f.seek(start)
    after = f.read(min(_PROBE, size - start))
    pos = 0
    while True:
        nl = after.find(b"\n", pos)
        if nl < 0:
            return start + pos  # (the block goes on past the probe, or to the end of the file)
        n = b64_tail_width(after[pos:nl])
        if n == width:
            pos = nl + 1
            continue
        if 0 < n < width:
            return start + nl + 1  # after the block's last line
        return start + pos  # at the first line that is not the block's


def units(path: str, size: int, jobs: int, chunk: int | None = None) -> list[Unit]:
    """How one plain file is cut (see the module docstring); an explicit ``chunk`` is used as it is."""
    step = chunk or max(CHUNK, -(-size // (2 * jobs)))
    if size < 2 * (chunk or CHUNK):
        return [Unit(path)]
    starts = line_starts(path, size, step)
    ends = [*starts[1:], size]
    return [Unit(path, s, e) for s, e in zip(starts, ends, strict=True)]


def _context() -> multiprocessing.context.BaseContext:
    # not "fork": the calling process may run threads (an exporter, the prefilter pool) whose locks a forked
    # child would inherit held
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def scan_parallel(
    paths: Iterable[str],
    report: ScanReport,
    *,
    jobs: int,
    engine: str | None = None,
    include_binary: bool = False,
    chunk: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[Finding]:
    """Findings of ``paths`` in input order (as :meth:`Scanner.scan`), scanned by ``jobs`` worker processes.
    ``progress`` is called with the bytes done so far after each unit."""
    local = Scanner(engine, include_binary=include_binary)  # raises now for an unusable engine
    plans = [
        (path, [] if path == STDIN else _plan(path, jobs, chunk, include_binary, report))
        for path in iter_files(paths, report.problems)
    ]
    if sum(len(units) for _, units in plans) < 2:  # nothing to share: no worker processes to start
        for path, units in plans:
            if path == STDIN or units:
                try:
                    yield from local.scan_file(path, report)
                except ScanProblem as e:
                    report.problems.append(e)
        return
    done = 0
    # no more worker processes than units, nor than cores: a scan is CPU-bound, and every process costs its start
    # (-j 40 on 20 small files: 21 processes, 15.7 s; serially under 1 s)
    workers = max(1, min(jobs, sum(len(units) for _, units in plans), os.cpu_count() or 1))
    with ProcessPoolExecutor(
        workers, mp_context=_context(), initializer=_init, initargs=(engine, include_binary)
    ) as pool:
        pending: deque[tuple[Unit, bool, Future[UnitResult]]] = deque()  # (unit, last of its file, result)
        state: dict[str, int] = {}  # path -> lines before the next chunk, while its chunks come back
        failed: set[str] = set()

        def collect(unit: Unit, last: bool, result: UnitResult) -> Iterator[Finding]:
            nonlocal done
            path = unit.path
            if path in failed:
                return
            base = state.pop(path, 0)
            report.files += result.files if unit.end is None else int(unit.start == 0)
            report.bytes += result.bytes
            report.lines += result.lines
            report.skipped += result.skipped
            report.empty += result.empty
            for line, kind, fp in result.findings:
                yield Finding(path, base + line, kind, fp)
            if result.problem is not None:
                where = f" (in the chunk starting at byte {unit.start})" if unit.start else ""
                report.problems.append(ScanProblem(path, result.problem + where))
                failed.add(path)
            elif not last:
                state[path] = base + result.lines
            done += (unit.end or _size(path)) - unit.start
            if progress is not None:
                progress(done)

        def drain(limit: int) -> Iterator[Finding]:
            while len(pending) > limit:
                unit, last, fut = pending.popleft()
                yield from collect(unit, last, fut.result())

        for path, plan in plans:
            if path == STDIN:  # read by this process, in its place in the order
                yield from drain(0)
                try:
                    yield from local.scan_file(path, report)
                except ScanProblem as e:
                    report.problems.append(e)
                continue
            for i, unit in enumerate(plan):
                pending.append((unit, i == len(plan) - 1, pool.submit(_work, unit)))
                yield from drain(2 * jobs)
        yield from drain(0)


def _plan(path: str, jobs: int, chunk: int | None, include_binary: bool, report: ScanReport) -> list[Unit]:
    """The units of one file; compressed, UTF-16 (transcoded from its start), binary (scanned whole: it may be skipped)
    and unreadable files are one."""
    try:
        with open(path, "rb") as f:
            head = f.read(8192)
            size = os.fstat(f.fileno()).st_size
    except OSError as e:
        report.problems.append(ScanProblem(path, os_message(e)))
        return []
    if compression(head) or utf16(head) or (is_binary(head) and not include_binary):
        return [Unit(path)]
    return units(path, size, jobs, chunk)


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0
