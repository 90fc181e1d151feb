"""``jwtobs scan`` on a realistic log against ``rg -c -i 'bearer|eyJ|authorization'``, measured in one run.

    .venv/bin/python benchmarks/bench_scan.py [--size-mb 120] [--rounds 3] [--keep DIR] [--jobs 1,2]

The log is written by :mod:`scanlog` (seeded): real system lines from ``../shared/corpora/real-logs`` with
credentials planted in 0.5 % of them. Then, alternating the measured commands round by round (the machine is
shared: medians of the rounds, CPU time next to wall time):

* ``rg -c -i 'bearer|eyJ|authorization' FILE`` (installed with apt-get when missing; without it the ratio is
  skipped with a message);
* the scanner in process with each engine (Hyperscan when installed, and pure Python): wall and CPU seconds;
* the prefilter alone (candidate lines, no scrubbing) with each engine; then, once, the fast path's judgement of
  the lines hit only by name=value triggers (:mod:`jwtobs.redact.scan.fields`) and the scrubbing of the rest (in
  batches, as the scanner does, and line by line);
* ``jwtobs scan --jobs N FILE`` end to end for each N (wall: the workers' CPU is not the caller's).

Accuracy: every planted line must be found; findings on lines where nothing was planted are false (real
system lines hold no credentials) and are listed by kind; lines with more than one finding are counted.
Target (issue 13): scan CPU throughput >= 0.10x rg's.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

KEY = "bench-scan-fingerprint-key"
os.environ["JWTOBS_FINGERPRINT_KEY"] = KEY

import scanlog  # noqa: E402

from jwtobs.redact import scan  # noqa: E402
from jwtobs.redact.patterns import VENDOR_PREFIX_SEARCH  # noqa: E402
from jwtobs.redact.scan import fields  # noqa: E402
from jwtobs.redact.scrub import Scrubber  # noqa: E402

RG_PATTERN = "bearer|eyJ|authorization"


def _cpu(children: bool = False) -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(fn: Callable[[], object], children: bool = False) -> tuple[float, float]:
    """(wall, CPU) seconds of one call; CPU of this process (all threads) or of its waited-for children."""
    c, t = _cpu(children), time.perf_counter()
    fn()
    return time.perf_counter() - t, _cpu(children) - c


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg()) + " (1, 5, 15 min)"


def ensure_rg() -> str | None:
    rg = shutil.which("rg")
    if rg or not shutil.which("apt-get"):
        return rg
    print("ripgrep missing: apt-get install -y ripgrep ...", flush=True)
    try:
        subprocess.run(["apt-get", "install", "-y", "-qq", "ripgrep"], capture_output=True, check=False, timeout=300)
    except (OSError, subprocess.SubprocessError):
        return None
    return shutil.which("rg")


def scan_in_process(path: Path, engine: str) -> tuple[scan.ScanReport, list[scan.Finding]]:
    report = scan.ScanReport()
    found = list(scan.Scanner(engine).scan_file(str(path), report))
    for f in found:
        report.add(f)
    return report, found


def candidates(data: bytes, engine: str) -> list[tuple[int, int, bool]]:
    """The prefilter alone: ``(start, end, judged)`` of every candidate line, block by block."""
    pf = scan.Prefilter(engine)
    out: list[tuple[int, int, bool]] = []
    lo = 0
    while lo < len(data):
        hi = len(data) if lo + scan.BLOCK >= len(data) else data.rfind(b"\n", lo, lo + scan.BLOCK) + 1
        out += pf.classified(data, lo, hi)
        lo = hi
    return out


def accuracy(planted: scanlog.Planted, found: list[scan.Finding]) -> None:
    per_line = Counter(f.line for f in found)
    missed = [n for n in planted.lines if n not in per_line]
    false = [f for f in found if f.line not in planted.lines]
    multi = sum(1 for n, k in per_line.items() if k > 1 and n in planted.lines)
    print(
        f"findings: {len(found)} on {len(per_line)} lines for {len(planted.lines)} planted lines: "
        f"{len(planted.lines) - len(missed)} found, {len(missed)} missed, {len({f.line for f in false})} false lines "
        f"({len(false)} findings), {multi} planted lines with more than one finding"
    )
    if missed:
        forms = Counter(planted.lines[n][0] for n in missed)
        print(f"  missed by form (the scrubber has no detector for these yet, or a miss): {dict(forms)}")
    if false:
        print(f"  false findings by kind: {dict(Counter(f.kind for f in false).most_common())}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=120)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", help="directory to write the log into (kept)")
    ap.add_argument("--jobs", default="1,2", help="comma-separated --jobs values for the end-to-end runs")
    ap.add_argument("--engines", default="hyperscan,python", help="prefilter engines to measure (installed ones)")
    ap.add_argument(
        "--dense-lines", type=int, default=64000, help="lines of the dense spaced-field logs (0: not measured)"
    )
    args = ap.parse_args()
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="jwtobs-bench-scan-"))
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"real-{args.size_mb:g}mb.log"
    t = time.perf_counter()
    planted = scanlog.write(log, int(args.size_mb * 1e6))
    size = planted.size
    print(
        f"file: {log}: {size / 1e6:.1f} MB, {planted.total_lines} real system lines from {scanlog.CORPUS}, "
        f"{len(planted.lines)} planted ({len(planted.lines) / planted.total_lines:.2%}; written in "
        f"{time.perf_counter() - t:.1f} s)"
    )
    data = log.read_bytes()  # also warms the page cache
    engines = [e for e in args.engines.split(",") if e in ("hyperscan", "python")]
    if scan.default_engine() != "hyperscan" and "hyperscan" in engines:
        print("hyperscan not installed (pip install 'jwtobs[scan]'): pure-Python engine only")
        engines = ["python"]
    print(f"machine: {os.cpu_count()} CPUs, shared with other jobs; load average {_load()}")

    for engine in engines:
        _report, found = scan_in_process(log, engine)
        print(f"[{engine}]", end=" ")
        accuracy(planted, found)

    rg = ensure_rg()
    if rg is None:
        print("rg: not available (apt-get install ripgrep failed); the ratio is skipped")

    def run_rg() -> None:
        assert rg is not None
        subprocess.run([rg, "-c", "-i", RG_PATTERN, str(log)], capture_output=True, check=False)

    times: dict[str, list[tuple[float, float]]] = {}
    for _ in range(args.rounds):  # alternate the measured commands; medians below
        if rg is not None:
            times.setdefault("rg", []).append(measure(run_rg, children=True))
        for engine in engines:
            times.setdefault(f"scan {engine}", []).append(measure(lambda e=engine: scan_in_process(log, e)))  # type: ignore[misc]
            times.setdefault(f"prefilter {engine}", []).append(measure(lambda e=engine: candidates(data, e)))  # type: ignore[misc]

    def med(name: str) -> tuple[float, float]:
        rows = times[name]
        return statistics.median(w for w, _ in rows), statistics.median(c for _, c in rows)

    # logs where every line holds a spaced secret field (a CI log of "kubectl get secret <name>", an audit log of
    # "apikey <id>"): each line's trigger hits are judged on their own line; until session 34 each read back to the
    # start of its block (quadratic: 128 000 lines took 278 s). Per line against the real log's, same engine.
    dense = {
        "apikey": "2024-05-01T12:00:00Z INFO apikey a1b2c3d4e5f6{i:06d} accepted for tenant acme\n",
        "kubectl": "2024-05-01T12:00:00Z run: kubectl get secret app-{i}-creds -o yaml\n",
    }
    n_dense = args.dense_lines
    for kind, line in dense.items() if n_dense else ():
        path = workdir / f"dense-{kind}.log"
        path.write_text("".join(line.format(i=i) for i in range(n_dense)))
        for engine in engines:
            real_us = med(f"scan {engine}")[1] / planted.total_lines * 1e6
            _, c = measure(lambda e=engine, q=path: scan_in_process(q, e))  # type: ignore[misc]
            print(
                f"dense {kind} log, {n_dense} lines [{engine}]: {c:.2f} s CPU, {c / n_dense * 1e6:.1f} us/line "
                f"({c / n_dense * 1e6 / real_us:.1f}x the real log's {real_us:.1f} us/line)"
            )

    print(f"\nmedians of {args.rounds} alternating rounds ({size / 1e6:.0f} MB; load average now {_load()}):")
    print(f"  {'':34s} {'wall':>8s} {'CPU':>8s} {'MB/s wall':>10s} {'MB/s CPU':>9s} {'CPU vs rg':>9s}")
    rg_cpu = med("rg")[1] if rg is not None else None
    for name in times:
        w, c = med(name)
        ratio = f"{rg_cpu / c:9.3f}x" if rg_cpu else ""
        label = f"rg -c -i '{RG_PATTERN}'" if name == "rg" else name
        print(f"  {label:34s} {w:7.2f}s {c:7.3f}s {size / w / 1e6:10.0f} {size / c / 1e6:9.0f} {ratio}")

    # where the scanner's time goes: candidate lines, the fast path's judgement of name=value lines, the scrubber
    classified = candidates(data, engines[0])
    judged = [(s, e) for s, e, j in classified if j]
    texts = [data[s:e].decode("utf-8", "surrogateescape") for s, e in judged]
    _, c_fast = measure(lambda: fields.lines_that_may_change(texts))
    maybe = fields.lines_that_may_change(texts)
    kept = {judged[i][0] for i in maybe}
    scrubbed = [data[s:e].decode("utf-8", "surrogateescape") for s, e, j in classified if not j or s in kept]
    sc = scan.Scanner(engines[0])
    # the lines holding a vendor-key prefix (the scanner knows them from Hyperscan's hits) batched apart, the others
    # scrubbed without the search for a key, as the scanner does
    keys = [VENDOR_PREFIX_SEARCH.search(x) is not None for x in scrubbed] if engines[0] == "hyperscan" else None
    _, c_alone = measure(lambda: [sc._scrub(x) for x in scrubbed])
    _, c_scrub = measure(lambda: sc._scrub_lines(scrubbed, keys))
    changed = sum(1 for x in scrubbed if Scrubber("scan").text(x) != x)
    n = planted.total_lines
    print(
        f"\ncandidate lines: {len(classified)} ({len(classified) / n:.2%} of the lines; planted {len(planted.lines)}); "
        f"hit only by name=value triggers: {len(judged)}, judged by the fast path in {c_fast:.2f} s CPU "
        f"({c_fast / max(1, len(judged)) * 1e6:.1f} us/line), {len(maybe)} of them passed on; "
        f"scrubbed: {len(scrubbed)} lines ({len(scrubbed) / n:.2%}), {changed} changed, {c_scrub:.2f} s CPU "
        f"({c_scrub / max(1, len(scrubbed)) * 1e6:.1f} us/line) in batches as the scanner does, {c_alone:.2f} s "
        f"({c_alone / max(1, len(scrubbed)) * 1e6:.1f} us/line) line by line"
    )

    jwtobs_cmd = shutil.which("jwtobs", path=os.path.dirname(sys.executable))
    cmd = (
        [jwtobs_cmd]
        if jwtobs_cmd
        else [sys.executable, "-c", "import sys; from jwtobs.cli import main; sys.exit(main())"]
    )
    jobs = [int(j) for j in args.jobs.split(",") if j]
    runs: dict[int, list[float]] = {j: [] for j in jobs}
    for _ in range(max(1, args.rounds - 1)):
        for j in jobs:
            w, _c = measure(lambda j=j: subprocess.run([*cmd, "scan", "--jobs", str(j), str(log)], capture_output=True))  # type: ignore[misc]
            runs[j].append(w)
    print("\njwtobs scan end to end (subprocess, wall, median):")
    base = statistics.median(runs[jobs[0]])
    for j in jobs:
        w = statistics.median(runs[j])
        print(f"  --jobs {j}: {w:6.2f} s  {size / w / 1e6:6.0f} MB/s  ({base / w:.2f}x --jobs {jobs[0]})")
    print(f"load average after: {_load()}")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
