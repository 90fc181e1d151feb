"""Scale figures of the analysis engines (issue #19).

    python benchmarks/bench_scale.py load --events 1000000          # JSONL -> pandas: wall time, peak RSS
    python benchmarks/bench_scale.py duckdb --events 1e6,1e7,3e7    # partitioned Parquet -> DuckDB aggregates
    python benchmarks/bench_scale.py accuracy --seeds 5 --hours 12  # incidents per engine vs injected labels
    python benchmarks/bench_scale.py gen --events 1e8 --out DIR     # only generate a data set
    python benchmarks/bench_scale.py files --files 1000,10000       # one day's events in many small files

Data sets (``--source``):

* ``template`` (default): a realistic template replicated by DuckDB. The simulator
  (:mod:`jwtobs.simulate`, ``default_scenario(seed=1)``: one day of a fleet of 13 clients on 3 APIs with
  replicas, device clocks, expired/stale/retried/replayed tokens, restarts, scanners, healthy rotations and
  one incident of every kind) runs once (~35 k events, cached). One ``COPY`` statement then writes ``n``
  events as ``template x range(R)``: replica ``r`` is the template shifted by ``(r * 37) mod 300`` whole
  seconds (``time``, ``iat``, ``nbf``, ``exp`` alike, so every lateness is kept), its clients renamed into
  one of ``--groups`` (25) client groups (``client-a`` -> ``client-a.g7``: 325 client ids, many users each),
  its tokens, jtis, subjects and traces made its own (``token_fp || '.r' || r``: per-token reuse stays within
  a replica), and the scanners' never-accepted kids and client ids made unique per replica (a scanner's
  random kid stays random). ``--days D`` spreads the replicas over D consecutive days (replica ``r`` on day
  ``r mod D``), for a longer span at the same event count. No per-event Python, no hashing: generation is
  one scan of the template per replica.
* ``synthetic``: the earlier closed-form fleet in one SQL statement (300 clients on 4 APIs and 2 issuers,
  1 M events an hour, md5 fingerprints per event); slower to generate, kept for the JSONL load figures.

Every measured run happens in a fresh child process, which reports its own peak RSS (``VmHWM``), so
runs do not inherit each other's memory. Data sets are cached in ``--dir`` (default /tmp/jwtobs-scale).
The machine is shared (2 cores, up to 8 agents): figures are medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
START = "2026-11-01 00:00:00+00"
EVENTS_PER_HOUR = 1_000_000  # the generated fleet's rate: 100 M events span ~4 days


def _events_sql(n: int, seed: int = 1, per_hour: int = EVENTS_PER_HOUR) -> str:
    """``n`` synthetic validation events (the columns of jwtobs.events.EVENT_FIELDS), time-ordered.

    Tokens are real-shaped: each client refreshes its token every 50 min (valid 60 min) and reuses it for
    every call meanwhile, so ``token_fp`` repeats and ``exp`` belongs to the token. Six clients run a clock
    90 s behind: they refresh late and keep presenting their token up to 90 s past ``exp`` (rejected as
    expired right after using it successfully). Stale tokens (an old token replayed after a restart) arrive
    seconds to an hour past ``exp``."""
    h = f"hash(i + {seed * 1_000_003})"
    return f"""
    WITH base AS (
        SELECT i,
            TIMESTAMPTZ '{START}' + to_microseconds(CAST(i * 3600e6 / {per_hour} AS BIGINT)) AS time,
            {h} % 1000 AS r,                      -- what happens to this validation (per mille)
            ({h} >> 10) % 300 AS client,
            ({h} >> 20) % 4 AS api,
            1 + ({h} >> 40) % 3600 AS late_s      -- how late a stale token is (1 s - 1 h)
        FROM range({n}) t(i)
    ),
    c AS (
        SELECT *, epoch(time)::BIGINT AS ts, client % 50 = 7 AS skewed,
            CASE WHEN client % 50 = 7 THEN 3600 ELSE 3000 END AS period, hash(client + {seed}) % 3000 AS off
        FROM base
    ),
    tk AS (
        SELECT *, (ts - CASE WHEN skewed THEN 90 ELSE 0 END + off) // period AS slot FROM c
    ),
    ev AS (
        SELECT *, slot * period - off AS iat0, slot * period - off + 3600 AS exp0,
            CASE WHEN r < 15 THEN 'JWT_EXPIRED'
                 WHEN skewed AND ts > slot * period - off + 3600 THEN 'JWT_EXPIRED'
                 WHEN r < 17 THEN 'JWT_BAD_SIGNATURE'
                 WHEN r < 18 THEN 'JWT_NOT_YET_VALID'
                 WHEN r < 19 THEN 'JWT_AUDIENCE_MISMATCH'
                 WHEN r < 21 THEN 'JWT_UNKNOWN_KID'
                 WHEN r < 22 THEN 'JWT_MALFORMED'
                 ELSE NULL END AS reason
        FROM tk
    )
    SELECT
        CAST(1 AS SMALLINT) AS schema,
        time,
        CASE WHEN reason IS NULL THEN 'accepted' ELSE 'rejected' END AS outcome,
        reason,
        CASE reason WHEN 'JWT_EXPIRED' THEN 'exp' WHEN 'JWT_AUDIENCE_MISMATCH' THEN 'aud' ELSE NULL END AS detail,
        'pyjwt' AS library,
        'api-' || api AS profile,
        CASE WHEN reason = 'JWT_MALFORMED' THEN NULL ELSE 'https://issuer-' || (client % 2) || '.test' END AS issuer,
        CASE WHEN reason = 'JWT_MALFORMED' THEN NULL ELSE 'RS256' END AS alg,
        CASE WHEN reason = 'JWT_MALFORMED' THEN NULL
             WHEN reason = 'JWT_UNKNOWN_KID' THEN 'rand-' || substr(md5(i::VARCHAR), 1, 8)
             ELSE 'k-' || (client % 2) || '-' || (ts // 86400) END AS kid,
        CASE WHEN reason = 'JWT_MALFORMED' THEN NULL ELSE 'at+jwt' END AS typ,
        CASE WHEN reason IN ('JWT_UNKNOWN_KID', 'JWT_MALFORMED') THEN NULL
             ELSE 'client-' || lpad(client::VARCHAR, 3, '0') END AS client_id,
        CASE WHEN reason = 'JWT_MALFORMED' THEN NULL
             WHEN r < 15 THEN substr(md5('stale' || client || '-' || (ts - late_s)), 1, 22)
             ELSE substr(md5('t' || client || '-' || slot), 1, 22) END AS token_fp,
        CASE WHEN reason = 'JWT_MALFORMED' THEN NULL
             ELSE substr(md5('j' || client || '-' || slot), 1, 22) END AS jti_hash,
        substr(md5('s' || client), 1, 22) AS sub_hash,
        NULL::VARCHAR AS tenant,
        CASE WHEN reason = 'JWT_MALFORMED' THEN NULL WHEN r < 15 THEN ts - late_s - 3600 ELSE iat0 END AS iat,
        CASE WHEN reason = 'JWT_NOT_YET_VALID' THEN ts + 30 + r ELSE NULL END AS nbf,
        CASE WHEN reason = 'JWT_MALFORMED' THEN NULL WHEN r < 15 THEN ts - late_s ELSE exp0 END AS exp,
        CAST(700 + r % 300 AS INTEGER) AS token_bytes,
        0.0001 + (r % 97) / 100000.0 AS duration_s,
        md5('trace' || i) AS trace_id,
        substr(md5('span' || i), 1, 16) AS span_id,
        'svc-' || api AS service
    FROM ev
    """


def _duck() -> Any:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET memory_limit = '2GB'")
    con.execute(f"SET temp_directory = '{tempfile.gettempdir()}/jwtobs-duckdb'")
    return con


#: the template replicas' client groups (13 simulated clients x 25 groups = 325 client ids)
GROUPS = 25
#: replicas are shifted by (r * SHIFT_STEP) mod SHIFT_SPAN whole seconds (servers, clients starting apart)
SHIFT_STEP, SHIFT_SPAN = 37, 300


def template(out: Path) -> tuple[Path, int]:
    """(Parquet file, events) of the template: the simulator's default day (``default_scenario(seed=1)``),
    its validation events numbered ``j`` in time order, with which kids and client ids were never accepted
    (a scanner's). Cached in ``out``."""
    path = out / "template-default-1.parquet"
    if not path.exists():
        from jwtobs.analysis import duck
        from jwtobs.simulate import default_scenario, simulate

        sim = out / "template-sim-default-1"
        if not (sim / "labels.json").exists():
            simulate(default_scenario(seed=1), sim)
        con = _duck()
        events = duck.events_sql(con, sim)
        tmp = path.with_name(path.name + ".tmp")
        con.execute(
            f"""COPY (
            WITH e AS ({events}),
            ok AS (SELECT kid, client_id FROM e WHERE outcome = 'accepted')
            SELECT e.*, CAST(row_number() OVER (ORDER BY time, trace_id, span_id) - 1 AS BIGINT) AS j,
                coalesce(kid NOT IN (SELECT kid FROM ok WHERE kid IS NOT NULL), false) AS kid_rare,
                coalesce(client_id NOT IN (SELECT client_id FROM ok WHERE client_id IS NOT NULL), false) AS cid_rare
            FROM e ORDER BY j) TO '{tmp}' (FORMAT parquet)"""
        )
        os.replace(tmp, path)
    import duckdb

    rows = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchone()
    return path, int(rows[0]) if rows else 0


def _template_sql(n: int, out: Path, days: int = 1, groups: int = GROUPS) -> str:
    """``n`` events: the template replicated (module docstring), replica ``r`` holding template rows
    ``r * T + j < n``."""
    from jwtobs.events import EVENT_FIELDS

    path, t = template(out)
    replicas = -(-n // t)
    own = "|| '.r' || r"
    expr = {
        "time": "time + to_seconds(sh)",
        "iat": "iat + sh",
        "nbf": "nbf + sh",
        "exp": "exp + sh",
        "kid": f"CASE WHEN kid_rare THEN kid {own} ELSE kid END",
        "client_id": f"CASE WHEN cid_rare THEN client_id {own} ELSE client_id || '.g' || (r % {groups}) END",
        "token_fp": f"token_fp {own}",
        "jti_hash": f"jti_hash {own}",
        "sub_hash": f"sub_hash {own}",
        "trace_id": f"trace_id {own}",
    }
    cols = ", ".join(f"{expr[c]} AS {c}" if c in expr else c for c in EVENT_FIELDS)
    shift = f"(r * {SHIFT_STEP}) % {SHIFT_SPAN} + 86400 * (r % {int(days)})"
    return (
        f"SELECT {cols} FROM read_parquet('{path}') e, "
        f"(SELECT r, CAST({shift} AS BIGINT) AS sh FROM range({replicas}) x(r)) x "
        f"WHERE r * {t} + j < {n}"
    )


def generate(
    n: int, out: Path, fmt: str, per_hour: int = EVENTS_PER_HOUR, source: str = "synthetic", days: int = 1
) -> Path:
    """Write ``n`` events (``source``: ``template`` or ``synthetic``, module docstring): a Hive-partitioned
    Parquet directory (``fmt='parquet'``) or one JSONL file in the JsonlSink layout (``fmt='jsonl'``).
    Cached: an existing complete data set is reused."""
    if source == "template":
        name = f"{n}-template" + (f"-{days}d" if days != 1 else "")
    else:
        name = f"{n}" if per_hour == EVENTS_PER_HOUR else f"{n}-{per_hour}ph"
    target = out / (f"parquet-{name}" if fmt == "parquet" else f"events-{name}.jsonl")
    if target.exists():
        return target
    out.mkdir(parents=True, exist_ok=True)
    sql = _template_sql(n, out, days) if source == "template" else _events_sql(n, per_hour=per_hour)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
    con = _duck()
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    if fmt == "parquet":
        con.execute(
            f"COPY (SELECT *, strftime(time, '%Y-%m-%d') AS date, strftime(time, '%H') AS hour FROM ({sql})) "
            f"TO '{tmp}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date, hour), ROW_GROUP_SIZE 1000000)"
        )
    else:
        # the sink's layout: RFC 3339 UTC with milliseconds and a Z, every field present, one object a line
        con.execute(
            f"COPY (SELECT * REPLACE (strftime(time, '%Y-%m-%dT%H:%M:%S.%gZ') AS time) FROM ({sql}) ORDER BY time) "
            f"TO '{tmp}' (FORMAT json)"
        )
    os.replace(tmp, target)
    print(
        f"generated {n:,} events ({source}, {fmt}) in {time.perf_counter() - t0:.1f} s wall, "
        f"{time.process_time() - cpu0:.1f} s CPU: {target}",
        file=sys.stderr,
    )
    return target


def _size(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# -- child processes ---------------------------------------------------------------------------------------
def _child(what: str, path: str) -> dict[str, Any]:
    import pandas  # noqa: F401 - imports are not what is measured
    import pyarrow  # noqa: F401

    extra: dict[str, Any] = {}
    t0 = time.perf_counter()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = ru0.ru_utime + ru0.ru_stime
    if what in ("load", "load-pyarrow"):
        from jwtobs.analysis import load

        load.USE_DUCKDB = what == "load"
        rows = len(load.load_events(path))
    elif what == "pyarrow":
        import pyarrow.json as pj

        rows = pj.read_json(path).num_rows
    elif what in ("agg-pandas", "agg-duckdb"):  # the aggregates of the engines alone (`files`)
        from jwtobs.analysis import aggregate, duck, load_events

        aggs = duck.aggregate(path) if what == "agg-duckdb" else aggregate(load_events(path))
        rows = int(aggs.counts["count"].sum())
    elif what == "duckdb":  # the whole analysis: aggregates out of core, then the detectors on them
        from jwtobs.analysis import duck, incidents

        aggs = duck.aggregate(path)
        rows = int(aggs.counts["count"].sum())
        ru = resource.getrusage(resource.RUSAGE_SELF)
        extra = {
            "agg_wall_s": time.perf_counter() - t0,
            "agg_cpu_s": ru.ru_utime + ru.ru_stime - cpu0,
            "agg_peak_rss": _peak_rss(),
            "count_rows": len(aggs.counts),
        }
        extra["incidents"] = len(incidents(aggs, duck.keyset_changes(path)))
    else:
        raise SystemExit(f"unknown child {what}")
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = ru.ru_utime + ru.ru_stime - cpu0
    return {"what": what, "rows": rows, "wall_s": wall, "cpu_s": cpu, "peak_rss": _peak_rss(), **extra}


def _peak_rss() -> int:
    """This process's peak resident set (bytes): VmHWM, which starts afresh at exec (ru_maxrss would carry
    the high-water mark of the parent that forked us, e.g. the DuckDB generator)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_child(what: str, path: Path) -> dict[str, Any]:
    """Run one measurement in a fresh process; besides its own figures, the kernel's account of it
    (``os.wait4``: peak RSS ``ru_maxrss`` and CPU of that process alone)."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "_child", what, str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    out, err = proc.stdout.read() if proc.stdout else "", proc.stderr.read() if proc.stderr else ""
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{what} on {path} failed:\n{err[-3000:]}")
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["ru_maxrss"] = ru.ru_maxrss * 1024
    result["ru_cpu_s"] = ru.ru_utime + ru.ru_stime
    return result


def _counts(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def _median_runs(what: str, path: Path, repeat: int) -> dict[str, Any]:
    runs = [run_child(what, path) for _ in range(repeat)]
    out: dict[str, Any] = {"what": what, "runs": len(runs)}
    for key, value in runs[0].items():
        out[key] = statistics.median(r[key] for r in runs) if isinstance(value, int | float) else value
    out["rows"] = runs[0]["rows"]
    return out


def cmd_load(args: argparse.Namespace) -> None:
    for n in _counts(args.events):
        path = generate(n, Path(args.dir), "jsonl", source=args.source, days=args.days)
        size = _size(path)
        # alternate the baseline (pyarrow.json alone), load_events (DuckDB's JSON reader) and load_events
        # with pyarrow.json (no analysis extra); medians of each
        runs: dict[str, list[dict[str, Any]]] = {"pyarrow": [], "load": [], "load-pyarrow": []}
        for _ in range(args.repeat):
            for what in runs:
                runs[what].append(run_child(what, path))
        for what, rs in runs.items():
            wall = statistics.median(r["wall_s"] for r in rs)
            cpu = statistics.median(r["cpu_s"] for r in rs)
            rss = statistics.median(r["peak_rss"] for r in rs)
            print(
                f"{what:12s} {rs[0]['rows']:>10,} events  file {size / 1e6:5.0f} MB  wall {wall:6.2f} s  "
                f"cpu {cpu:5.2f} s  "
                f"peak RSS {rss / 1e6:7.0f} MB ({rss / size:.2f}x file)  [{len(rs)} runs]"
            )


def cmd_duckdb(args: argparse.Namespace) -> None:
    rows = []
    for n in _counts(args.events):
        path = generate(n, Path(args.dir), "parquet", source=args.source, days=args.days)
        r = _median_runs("duckdb", path, args.repeat)
        r["events"], r["bytes"] = n, _size(path)
        rows.append(r)
        print(
            f"duckdb {n:>12,} events  parquet {r['bytes'] / 1e6:6.0f} MB  {r['count_rows']:>9,} count rows  "
            f"aggregate: wall {r['agg_wall_s']:7.1f} s cpu {r['agg_cpu_s']:6.1f} s"
            f" peak {r['agg_peak_rss'] / 1e6:5.0f} MB "
            f" + detectors ({r['incidents']} incidents): wall {r['wall_s']:7.1f} s cpu {r['cpu_s']:6.1f} s "
            f"({r['cpu_s'] / n * 1e9:4.0f} ns CPU/event)  peak RSS {r['peak_rss'] / 1e6:5.0f} MB "
            f"(wait4 maxrss {r['ru_maxrss'] / 1e6:5.0f} MB)  [{r['runs']} runs, load {os.getloadavg()[0]:.1f}]",
            flush=True,
        )
        if r["rows"] != n:
            raise SystemExit(f"aggregates count {r['rows']} events, expected {n}")
    if len(rows) >= 2:
        # least squares wall = a + b * n: linear when the per-event cost is flat
        xs = [r["events"] for r in rows]
        for key in ("wall_s", "cpu_s"):
            b, a = statistics.linear_regression(xs, [r[key] for r in rows])
            print(f"fit: {key} = {a:.2f} s + {b * 1e9:.1f} ns x events")


def _split_files(src: Path, out: Path, parts: int) -> Path:
    """The template's day (JSONL, time order) in ``parts`` files of consecutive events (a process's file per hour,
    or per replica and minute), cached."""
    if (out / "done").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    lines = src.read_text().splitlines(keepends=True)
    step = -(-len(lines) // parts)
    for k in range(parts):
        (out / f"e{k:05d}.jsonl").write_text("".join(lines[k * step : (k + 1) * step]))
    (out / "done").write_text("")
    return out


def cmd_files(args: argparse.Namespace) -> None:
    """The same events (the template's day) in one JSONL file and in ``--files`` many, aggregated by each engine:
    the ratio of CPU many / one is what the files cost (each run a fresh process; medians of ``--repeat``)."""
    out = Path(args.dir)
    tpl, _n = template(out)
    one = out / "files-1" / "events.jsonl"
    if not one.exists():
        one.parent.mkdir(parents=True, exist_ok=True)
        _duck().execute(
            f"COPY (SELECT * EXCLUDE (j, kid_rare, cid_rare) REPLACE (strftime(time, '%Y-%m-%dT%H:%M:%S.%fZ') AS time) "
            f"FROM read_parquet('{tpl}') ORDER BY j) TO '{one}' (FORMAT json)"
        )
    for parts in _counts(args.files):
        many = _split_files(one, out / f"files-{parts}", parts)
        for engine in ("pandas", "duckdb"):
            base = _median_runs(f"agg-{engine}", one, args.repeat)
            r = _median_runs(f"agg-{engine}", many, args.repeat)
            if r["rows"] != base["rows"]:
                raise SystemExit(f"{parts} files: {r['rows']} events aggregated, one file: {base['rows']}")
            print(
                f"{engine:6s} {base['rows']:>7,} events in {parts:>6,} files: cpu {r['cpu_s']:6.2f} s, wall "
                f"{r['wall_s']:6.2f} s; one file cpu {base['cpu_s']:5.2f} s: {r['cpu_s'] / base['cpu_s']:5.1f}x  "
                f"[{r['runs']} runs, load {os.getloadavg()[0]:.1f}]",
                flush=True,
            )


def cmd_accuracy(args: argparse.Namespace) -> None:
    """Per engine, on seeded simulated scenarios: pandas and DuckDB must give identical incidents; the
    Prometheus engine sees the metrics' view of the same events (prometheus.metrics_view: exact per-minute
    counts without client, typ, nbf, per-token reuse), scored per kind against the injected labels."""
    import pandas as pd

    from jwtobs.analysis import duck, incidents, load_events, load_keyset_changes
    from jwtobs.analysis.aggregate import aggregate
    from jwtobs.analysis.evaluate import load_labels, match_incidents
    from jwtobs.analysis.prometheus import metrics_view
    from jwtobs.simulate import default_scenario, simulate

    if args.suite:  # the detector benchmark's seeded cases (jwtobs.simulate.scenarios.benchmark_suite)
        from jwtobs.simulate.scenarios import benchmark_suite

        cases = [(c.name, c.scenario) for c in benchmark_suite() if args.quiet or not c.quiet]
        cases = cases[: args.limit or None]
    else:
        cases = [
            (f"sim-{seed}-{args.hours:g}h", default_scenario(seed=seed, duration=args.hours * 3600))
            for seed in range(1, args.seeds + 1)
        ]
    rows = []
    for name, scenario in cases:
        out = Path(args.dir) / ("suite-" + name if args.suite else name)
        if not (out / "labels.json").exists():
            simulate(scenario, out)
        changes = load_keyset_changes(out)
        aggs = aggregate(load_events(out))
        by_pandas = incidents(aggs, changes)
        by_duckdb = incidents(duck.aggregate(out), duck.keyset_changes(out))
        pd.testing.assert_frame_equal(by_pandas, by_duckdb)  # identical, or the benchmark stops here
        by_prom = incidents(metrics_view(aggs), None)  # the metrics carry no key-set changes either
        labels = load_labels(out / "labels.json")
        for engine, found in (("pandas=duckdb", by_pandas), ("prometheus", by_prom)):
            for kind in sorted(set(labels["kind"]) | set(found["kind"])):
                score = match_incidents(found[found["kind"] == kind], labels[labels["kind"] == kind])
                rows.append(
                    {
                        "engine": engine,
                        "kind": kind,
                        "labels": score.labels,
                        "found": score.matched_labels,
                        "detected": score.detected,
                        "true": score.true_positives,
                    }
                )
        print(f"{name}: pandas=duckdb {len(by_pandas)} incidents (identical), prometheus {len(by_prom)}", flush=True)
    table = pd.DataFrame(rows).groupby(["engine", "kind"])[["labels", "found", "detected", "true"]].sum()
    table["recall"] = table["found"] / table["labels"].where(table["labels"] > 0)
    table["precision"] = table["true"] / table["detected"].where(table["detected"] > 0)
    print(table.to_string(float_format=lambda x: f"{x:.2f}"))
    for engine, g in table.groupby(level="engine"):
        s = g.sum()
        print(
            f"{engine}: recall {s['found'] / max(1, s['labels']):.3f} ({s['found']}/{s['labels']}), "
            f"precision {s['true'] / max(1, s['detected']):.3f} ({s['true']}/{s['detected']})"
        )


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "_child":
        print(json.dumps(_child(sys.argv[2], sys.argv[3])))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, fn, default_source in (("load", cmd_load, "synthetic"), ("duckdb", cmd_duckdb, "template")):
        s = sub.add_parser(name)
        s.add_argument("--events", default="1000000", help="comma-separated event counts (1e6 notation ok)")
        s.add_argument("--dir", default="/tmp/jwtobs-scale")
        s.add_argument("--repeat", type=int, default=3)
        s.add_argument("--source", choices=("template", "synthetic"), default=default_source)
        s.add_argument("--days", type=int, default=1, help="template: spread the replicas over this many days")
        s.set_defaults(func=fn)
    a = sub.add_parser("accuracy")
    a.add_argument("--seeds", type=int, default=5)
    a.add_argument("--hours", type=float, default=12.0)
    a.add_argument("--dir", default="/tmp/jwtobs-scale")
    a.add_argument("--suite", action="store_true", help="the detector benchmark's cases instead of --seeds")
    a.add_argument("--quiet", action="store_true", help="with --suite: include the quiet days (24 h each)")
    a.add_argument("--limit", type=int, default=0, help="with --suite: only the first N cases")
    a.set_defaults(func=cmd_accuracy)
    f = sub.add_parser("files")
    f.add_argument("--files", default="1000,10000", help="comma-separated numbers of files")
    f.add_argument("--dir", default="/tmp/jwtobs-scale")
    f.add_argument("--repeat", type=int, default=3)
    f.set_defaults(func=cmd_files)
    g = sub.add_parser("gen")
    g.add_argument("--events", required=True)
    g.add_argument("--out", default="/tmp/jwtobs-scale")
    g.add_argument("--format", choices=("parquet", "jsonl"), default="parquet")
    g.add_argument("--source", choices=("template", "synthetic"), default="template")
    g.add_argument("--days", type=int, default=1)
    g.set_defaults(
        func=lambda a: [generate(n, Path(a.out), a.format, source=a.source, days=a.days) for n in _counts(a.events)]
    )
    args = p.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
