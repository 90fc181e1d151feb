"""Before/after A/B of the wrapper in ONE process: jwtobs of another commit vs this checkout.

Run: ``.venv/bin/python benchmarks/ab_wrap.py --base 1d9821f [--alg RS256] [--sampled] [--rejected]
[--n 1000] [--repeat 9]``

The ``jwtobs`` package of ``--base`` (``git archive``) is loaded next to this checkout's as ``jwtobs_base``;
both are configured as ``bench_wrap.py`` configures jwtobs (metrics to an in-memory reader, events to a
JSONL file, spans unsampled or sampled) and wrap the same ``jwt.decode``. Per repeat, bare, before and after
calls alternate in chunks of 50 tokens (the order rotated every chunk) over the same fresh tokens, so load
from other processes falls on all three; then each package's owed work is paid (events built and written,
metrics collected, spans exported), alternating which goes first. Reported per package: the request thread's
CPU over bare's (``time.thread_time``), the owed work per validation (CPU of every thread,
``time.process_time``), and total = (request + owed) / bare, as the median and as the median of per-repeat
ratios. The packages' background threads are set to wake only when flushed, so their work is counted in
the owed phase of the package that caused it.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from typing import Any

import jwt
from bench_wrap import AUD, ISS, _provider, keys, mint
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

CHUNK = 50
_RENAMES = (
    (re.compile(r"^(\s*)from jwtobs([. ])", re.M), r"\1from jwtobs_base\2"),
    (re.compile(r"^(\s*)import jwtobs\b", re.M), r"\1import jwtobs_base"),
    (re.compile(r'f"jwtobs\.(adapters|backends)'), r'f"jwtobs_base.\1'),
    (re.compile(r'"jwtobs\.redact"'), '"jwtobs_base.redact"'),
)


def base_package(rev: str, into: str) -> None:
    """Extract ``jwtobs/`` of ``rev`` into ``into/jwtobs_base`` with its own imports renamed."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    blob = subprocess.run(["git", "-C", root, "archive", rev, "jwtobs"], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")
    os.rename(os.path.join(into, "jwtobs"), os.path.join(into, "jwtobs_base"))
    for folder, _, files in os.walk(os.path.join(into, "jwtobs_base")):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                for pattern, repl in _RENAMES:
                    text = pattern.sub(repl, text)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)


def import_base(rev: str) -> Any:
    """``jwtobs`` of ``rev`` imported as ``jwtobs_base`` (:func:`base_package` into a fresh temporary folder),
    beside the working tree's ``jwtobs``: a before/after A/B in one process."""
    tmp = tempfile.mkdtemp(prefix="jwtobs-ab-")
    base_package(rev, tmp)
    sys.path.insert(0, tmp)
    import jwtobs_base  # type: ignore[import-not-found]

    return jwtobs_base


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="git revision whose jwtobs is 'before'")
    ap.add_argument("--alg", default="RS256")
    ap.add_argument("--sampled", action="store_true")
    ap.add_argument("--rejected", action="store_true")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args()
    jwtobs_base = import_base(args.base)
    import jwtobs

    priv, pub = keys()[args.alg]
    kw = {"algorithms": [args.alg], "audience": AUD, "issuer": ISS}
    packages: dict[str, tuple[Any, Callable[..., Any], Callable[[], None]]] = {}
    for name, pkg in (("before", jwtobs_base), ("after", jwtobs)):
        tp, exporter = _provider(args.sampled)
        reader = InMemoryMetricReader()
        pkg.configure(
            tracer_provider=tp,
            meter_provider=MeterProvider(metric_readers=[reader]),
            fingerprint_key="bench-fingerprint-key",
            events_path=os.path.join(tempfile.mkdtemp(prefix="jwtobs-ab-"), "events.jsonl"),
            issuers=[ISS],
            from_env=False,
        )
        pkg.pipeline._queue.interval = 1e6  # background threads work only when flushed (see the docstring)
        for sink in pkg.config.current().sinks:
            sink.flush_interval, sink.max_buffer = 1e6, 10**6

        def owed(pkg: Any = pkg, reader: Any = reader, tp: Any = tp, exporter: Any = exporter) -> None:
            pkg.flush()
            reader.get_metrics_data()
            tp.force_flush()
            if exporter is not None:
                exporter.clear()

        packages[name] = (pkg, pkg.wrap(jwt.decode), owed)

    def call(fn: Callable[..., Any]) -> Callable[[str], None]:
        def one(t: str) -> None:
            try:
                fn(t, pub, **kw)
            except jwt.ExpiredSignatureError:
                pass

        return one

    calls = {"bare": call(jwt.decode), **{name: call(p[1]) for name, p in packages.items()}}
    req: dict[str, list[float]] = {k: [] for k in calls}
    owed_cpu: dict[str, list[float]] = {k: [] for k in packages}
    for _, _, owed in packages.values():
        owed()
    for rep in range(args.repeat):
        toks = mint(args.alg, priv, args.n, expired=args.rejected)
        acc = dict.fromkeys(calls, 0.0)
        order = list(calls)
        for i in range(0, args.n, CHUNK):
            chunk = toks[i : i + CHUNK]
            order = order[1:] + order[:1]
            for name in order:
                fn = calls[name]
                t0 = time.thread_time()
                for t in chunk:
                    fn(t)
                acc[name] += time.thread_time() - t0
        for name in calls:
            req[name].append(acc[name] / args.n)
        for name in ("before", "after") if rep % 2 else ("after", "before"):
            t0 = time.process_time()
            packages[name][2]()
            owed_cpu[name].append((time.process_time() - t0) / args.n)
    med = statistics.median
    bare = med(req["bare"])
    print(
        f"{args.alg} {'sampled' if args.sampled else 'unsampled'} {'rejected' if args.rejected else 'accepted'} "
        f"n={args.n} repeat={args.repeat} load={os.getloadavg()[0]:.1f} bare={bare * 1e6:.1f} us; "
        f"before = {args.base}, after = this checkout"
    )
    for name in packages:
        r, o = med(req[name]), med(owed_cpu[name])
        per_rep = [(x + y) / b for x, y, b in zip(req[name], owed_cpu[name], req["bare"], strict=True)]
        print(
            f"  {name:6} request +{(r - bare) * 1e6:5.2f} us ({r / bare:.3f}x)  owed {o * 1e6:5.2f} us  "
            f"total {(r + o) / bare:.3f}x  (median of per-repeat ratios {med(per_rep):.3f})"
        )


if __name__ == "__main__":
    main()
