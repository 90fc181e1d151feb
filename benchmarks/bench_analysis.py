"""Analysis benchmark: detection accuracy over seeded simulated scenarios, and load+analyse time at scale.

    .venv/bin/python benchmarks/bench_analysis.py accuracy --seeds 20 --hours 24
    .venv/bin/python benchmarks/bench_analysis.py scale --events 1000000 --dir /tmp/jwtobs-1m

Accuracy: each scenario is the default day (one incident of each of the 8 kinds) with a different seed;
a detection matches a label of the same kind whose span it overlaps (±120 s); onset error is the distance
between the detected start and the first failure the injected incident caused. Targets: recall >= 0.95,
precision >= 0.9, onset <= 120 s.
Scale: the simulator writes >= N events once (cached in --dir); the timed part is load_events (Parquet)
+ load_keyset_changes + incidents + failure_rates + top_reasons. Baseline in the same run: reading the
same Parquet file with pyarrow alone (the floor for loading).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jwtobs.analysis as A
from jwtobs.analysis.evaluate import load_labels, match_incidents
from jwtobs.simulate import default_scenario, simulate


def accuracy(seeds: int, hours: float) -> int:
    tp = det = matched = labels = 0
    onsets: list[float] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(1, seeds + 1):
            out = Path(tmp) / f"s{seed}"
            simulate(default_scenario(seed=seed, duration=hours * 3600), out)
            inc = A.incidents(A.load_events(out), A.load_keyset_changes(out))
            s = match_incidents(inc, load_labels(out))
            tp, det, matched, labels = (
                tp + s.true_positives,
                det + s.detected,
                matched + s.matched_labels,
                labels + s.labels,
            )
            onsets.extend(s.onset_errors_s)
            missed = s.table.loc[~s.table["matched"], "kind"].tolist()
            extra = s.detected - s.true_positives
            worst = s.table.sort_values("onset_error_s", ascending=False).iloc[0]
            print(
                f"seed {seed:2d}: recall {s.recall:.2f} precision {s.precision:.2f} missed {missed} extra {extra}"
                f" worst onset {worst['onset_error_s']:.0f} s ({worst['kind']})"
            )
    recall, precision = matched / labels, tp / det if det else 1.0
    print(
        f"\n{seeds} scenarios x {hours:g} h, {labels} labelled incidents, {det} detections "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    print(f"recall    {recall:.3f}  (target >= 0.95)")
    print(f"precision {precision:.3f}  (target >= 0.90)")
    print(f"strict precision {matched / det if det else 1.0:.3f}  (an incident split into two detections counts once)")
    print(f"onset error: median {statistics.median(onsets):.1f} s, max {max(onsets):.1f} s  (target <= 120 s)")
    ok = recall >= 0.95 and precision >= 0.9 and max(onsets) <= 120
    return 0 if ok else 1


def scale(events: int, directory: Path) -> int:
    pq = directory / "events.parquet"
    if not pq.exists():
        # a big fleet: ~10 validations per simulated second
        clients = 300
        sc = replace(default_scenario(seed=1), clients=clients, duration=events / (clients / 30.0) * 1.02)
        t0 = time.perf_counter()
        res = simulate(sc, directory)
        print(f"simulated {res.validations} validations in {time.perf_counter() - t0:.0f} s")
    import pyarrow.parquet as papq

    t0 = time.perf_counter()
    papq.read_table(pq).to_pandas()
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    df = A.load_events(pq)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    changes = A.load_keyset_changes(directory / "events.jsonl")
    inc = A.incidents(df, changes)
    A.failure_rates(df, "5min", by="profile")
    A.top_reasons(df)
    t_an = time.perf_counter() - t0
    total = t_load + t_an
    print(
        f"{len(df)} events: load {t_load:.2f} s (pyarrow alone {base:.2f} s, x{t_load / base:.1f}), "
        f"analyse {t_an:.2f} s, total {total:.2f} s (target <= 20 s); {len(inc)} incidents"
    )
    return 0 if total <= 20 else 1


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("accuracy")
    a.add_argument("--seeds", type=int, default=20)
    a.add_argument("--hours", type=float, default=24.0)
    s = sub.add_parser("scale")
    s.add_argument("--events", type=int, default=1_000_000)
    s.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "jwtobs-bench-1m")
    args = ap.parse_args()
    return accuracy(args.seeds, args.hours) if args.cmd == "accuracy" else scale(args.events, args.dir)


if __name__ == "__main__":
    raise SystemExit(main())
