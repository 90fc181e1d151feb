"""The shipped Prometheus alert rules on whole simulated days: which alerts fire, on quiet days and on incident days.

The detectors are scored on timelines (``bench_detect.py``, ``fleet21.py``); the alert rules in
``dashboards/prometheus/jwtobs.rules.yml`` were only unit-tested on short hand-written series. This benchmark
gives them a day of fleet traffic: each replica's events go through jwtobs's own metrics path (a
:class:`jwtobs.telemetry.Telemetry` with a real OpenTelemetry SDK meter provider and the OpenTelemetry
Prometheus exporter, the cardinality guard trusting the key sets' kids and learning from accepted tokens, as in
a service), the exporter's output is scraped once a simulated minute (``job`` = the API, from the replica's
name, ``instance`` = the replica), the series are summed over the labels no rule reads (the rules only read sums
by job, instance, profile, reason, outcome and issuer) and, but for the validation counts, over the replicas, and
Prometheus's own rule engine (``promtool test rules``, evaluation interval 1 min) evaluates the rules file over
the day. Every alert that fires is reported with its labels and the minutes it fired; on an incident day
(``labels.json`` from the generator), an alert is *explained* by each labelled incident on its API, with one of
the reasons that kind causes, within 30 min of it.

Only the validation metrics come from events: JWKS fetch and staleness metrics and redaction counts are not in
the events, so ``JwtobsJwksFetchFailing``, ``JwtobsJwksKeySetStale`` and ``JwtobsTokensRedactedInLogs`` are
not evaluated here.

    python benchmarks/fleet21.py --out /tmp/f21 --jobs 2        # timelines (or any events directories)
    python benchmarks/bench_alerts.py /tmp/f21/q-mon /tmp/f21/i-canary ...
    python benchmarks/bench_alerts.py --all /tmp/f21             # every timeline directory under it

Needs ``promtool`` (Debian: ``apt-get install prometheus``) and the ``prometheus`` extra.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from jwtobs.reasons import ATTACK_REASONS
from jwtobs.telemetry import ATTR_EXPIRY_SIDE, ATTR_ISSUER, ATTR_KID, ATTR_OUTCOME, ATTR_PROFILE, ATTR_REASON, UNKNOWN

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "dashboards" / "prometheus" / "jwtobs.rules.yml"
#: the metric families the alert rules read that events can give
FAMILIES = ("jwtobs_validation_duration_seconds_count", "jwtobs_token_expiry_offset_seconds")
#: the labels the rules read: the series are summed over the others (alg, library, error.type), as the rules'
#: ``sum by`` does, and the kid kept only as known or ``_unknown`` (the rules ask no more of it: a fleet of tenants
#: with their own keys has tens of thousands of kid series, too many for promtool)
RULE_LABELS = frozenset(
    {a.replace(".", "_") for a in (ATTR_OUTCOME, ATTR_PROFILE, ATTR_REASON, ATTR_ISSUER, ATTR_EXPIRY_SIDE, ATTR_KID)}
    | {"le"}
)
_KID = ATTR_KID.replace(".", "_")


def _rule_value(label: str, value: str) -> str:
    """A label's value as the rules read it: a kid is ``_unknown`` or ``known``."""
    return value if label != _KID or value == UNKNOWN else "known"


#: the metric families kept per replica (``instance``); the others are summed over the replicas
BY_INSTANCE = ("jwtobs_validation_duration_seconds_count",)
#: alerts whose inputs are not in the events
NOT_FROM_EVENTS = ("JwtobsJwksFetchFailing", "JwtobsJwksKeySetStale", "JwtobsTokensRedactedInLogs")
#: the reasons an incident of each kind makes validators give: an alert on one of them can be explained by it
KIND_REASONS: dict[str, frozenset[str]] = {
    "kid_before_publish": frozenset({"JWT_UNKNOWN_KID"}),
    "key_removed_early": frozenset({"JWT_UNKNOWN_KID"}),
    "jwks_outage": frozenset({"JWT_JWKS_UNAVAILABLE", "JWT_UNKNOWN_KID", "JWT_EXPIRED"}),
    "signature_spike": frozenset({"JWT_BAD_SIGNATURE"}),
    "clock_skew": frozenset({"JWT_EXPIRED", "JWT_NOT_YET_VALID"}),
    "server_clock_skew": frozenset({"JWT_EXPIRED", "JWT_NOT_YET_VALID"}),
    "issuer_stalled": frozenset({"JWT_EXPIRED"}),
    "audience_misconfig": frozenset({"JWT_AUDIENCE_MISMATCH"}),
    "type_confusion": frozenset({"JWT_TYPE_MISMATCH"}),
    "attack_burst": frozenset(ATTACK_REASONS | {"JWT_UNKNOWN_KID", "JWT_MALFORMED", "JWT_ISSUER_MISMATCH"}),
}
#: an alert within this many seconds of a labelled incident's rejections (on its API) is explained by it
EXPLAINED_S = 1800.0


def _time(value: Any) -> float:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _records(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """Each replica's records (validation events and key-set changes), each distinct line once, in time order."""
    by_service: dict[str, list[dict[str, Any]]] = defaultdict(list)
    seen: set[str] = set()
    for f in sorted(directory.rglob("*.jsonl")):
        with f.open(encoding="utf-8") as fh:
            for line in fh:
                if line in seen or not line.strip():
                    continue
                seen.add(line)
                rec = json.loads(line)
                rec["_t"] = _time(rec["time"])
                by_service[str(rec.get("service") or f.stem)].append(rec)
    for recs in by_service.values():
        recs.sort(key=lambda r: r["_t"])
    return dict(by_service)


def job_of(service: str) -> str:
    """The API a replica belongs to: ``orders-3`` -> ``orders``."""
    m = re.fullmatch(r"(.+?)-\d+", service)
    return m.group(1) if m else service


def _scrape(args: tuple[str, list[dict[str, Any]], float, int]) -> dict[str, list[float | None]]:
    """One replica's metric samples once a minute (minute i of ``minutes`` after ``t0``): series -> values."""
    from opentelemetry.exporter.prometheus import PrometheusMetricReader
    from opentelemetry.sdk.metrics import MeterProvider
    from prometheus_client import REGISTRY

    from jwtobs.events import ValidationEvent
    from jwtobs.telemetry import CardinalityGuard, Telemetry

    service, records, t0, minutes = args
    reader = PrometheusMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    issuers = {r["issuer"] for r in records if r.get("event") and r.get("issuer")}
    guard = CardinalityGuard(issuers=issuers)
    tel = Telemetry(guard, meter_provider=provider)
    series: dict[str, list[float | None]] = {}
    extra = f'job="{job_of(service)}",instance="{service}"'
    i = 0

    def scrape(minute: int) -> None:
        tel.drain()
        now: dict[str, float] = defaultdict(float)
        for family in REGISTRY.collect():  # what a scrape renders
            for s in family.samples:
                if s.name.startswith(FAMILIES):
                    labels = ",".join(
                        f'{k}="{_rule_value(k, v)}"' for k, v in sorted(s.labels.items()) if k in RULE_LABELS
                    )
                    now[f"{s.name}{{{labels},{extra}}}" if labels else f"{s.name}{{{extra}}}"] += s.value
        for key, value in now.items():
            series.setdefault(key, [None] * minutes)[minute] = value

    first = min(minutes - 1, max(0, int((records[0]["_t"] - t0) // 60))) if records else minutes
    for minute in range(first, minutes):
        end = t0 + 60 * (minute + 1)
        while i < len(records) and records[i]["_t"] < end:
            rec = records[i]
            i += 1
            if rec.get("event"):
                guard.trust_kids(rec.get("added") or ())
                continue
            ev = ValidationEvent.from_dict(rec)
            if ev.outcome == "accepted":
                guard.learn(ev.issuer, ev.kid)
            tel.emit_metrics(ev)
        scrape(minute)
    provider.shutdown()
    return series


def _values(values: list[float | None]) -> str:
    return " ".join("_" if v is None else ("0" if v == 0 else repr(float(v))) for v in values)


def _fired(output: str) -> Iterator[tuple[str, int, dict[str, str]]]:
    """(alert, minute, labels) of every alert promtool reports as got where none was expected."""
    alert, minute = "", -1
    for line in output.splitlines():
        m = re.search(r"alertname: (\w+), time: ([\dhms]+)", line)
        if m:
            alert, minute = m.group(1), _duration_min(m.group(2))
            continue
        m = re.search(r"Labels:\{(.*)\}", line)
        if m and alert:
            yield alert, minute, dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1)))


def _duration_min(text: str) -> int:
    total = 0.0
    for n, unit in re.findall(r"(\d+)([hms])", text):
        total += int(n) * {"h": 60, "m": 1, "s": 1 / 60}[unit]
    return int(total)


def scrape(directory: Path, jobs: int) -> tuple[dict[str, list[float | None]], float, int]:
    """A timeline's metric series as Prometheus would have scraped them: (series, first minute, minutes)."""
    records = _records(directory)
    if not records:
        raise SystemExit(f"{directory}: no jwtobs events (*.jsonl) in it")
    times = [r["_t"] for recs in records.values() for r in (recs[0], recs[-1])]
    t0 = math.floor(min(times) / 60) * 60
    minutes = int((max(times) - t0) // 60) + 2
    with ProcessPoolExecutor(jobs, max_tasks_per_child=1) as pool:
        parts = list(pool.map(_scrape, [(s, recs, t0, minutes) for s, recs in sorted(records.items())]))
    # summed over the replicas (the rules' sum by job) except the validation counts (JwtobsInstanceRejectsAlone reads
    # them per instance): a fleet of many replicas and issuers has tens of thousands of per-replica expiry-offset
    # series, too many for promtool in reasonable time
    series: dict[str, list[float | None]] = {}
    for part in parts:
        for key, values in part.items():
            job_key = key if key.startswith(BY_INSTANCE) else re.sub(r',instance="[^"]*"', "", key)
            have = series.setdefault(job_key, [None] * minutes)
            for i, v in enumerate(values):
                if v is not None:
                    have[i] = (have[i] or 0.0) + v
    return series, t0, minutes


def evaluate(series: dict[str, list[float | None]], t0: float, minutes: int, rules: Path) -> list[dict[str, Any]]:
    """The alerts of ``rules`` that fired on ``series``, as firing intervals per alert and label set."""
    promtool = shutil.which("promtool")
    if promtool is None:
        raise SystemExit("promtool is not installed (Debian: apt-get install prometheus)")
    alerts = [r["alert"] for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"] if "alert" in r]
    test = {
        "rule_files": [str(rules.resolve())],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": k, "values": _values(v)} for k, v in sorted(series.items())],
                "alert_rule_test": [
                    {"eval_time": f"{m}m", "alertname": a, "exp_alerts": []}
                    for m in range(minutes)
                    for a in alerts
                    if a not in NOT_FROM_EVENTS
                ],
            }
        ],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.test.yml"
        path.write_text(yaml.safe_dump(test, width=1 << 30), encoding="utf-8")
        proc = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True, timeout=3600)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0 and "FAILED" not in out:
        raise SystemExit(f"promtool failed ({proc.returncode}): {out.strip()[:2000]}")
    firing: dict[tuple[str, tuple[tuple[str, str], ...]], list[int]] = defaultdict(list)
    for alert, minute, labels in _fired(out):
        key = tuple(sorted((k, v) for k, v in labels.items() if k not in ("alertname", "severity")))
        firing[(alert, key)].append(minute)
    intervals = []
    for (alert, key), mins in sorted(firing.items()):
        mins.sort()
        start = prev = mins[0]
        for m in [*mins[1:], None]:
            if m is not None and m == prev + 1:
                prev = m
                continue
            intervals.append(
                {"alert": alert, "labels": dict(key), "start": t0 + 60 * start, "minutes": prev - start + 1}
            )
            if m is not None:
                start = prev = m
    return intervals


def _labels(directory: Path) -> list[dict[str, Any]]:
    path = directory / "labels.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("incidents", data.get("labels", []))
    return list(data)


def _explained(alert: dict[str, Any], labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The labelled incidents that explain an alert: one of their reasons, on their API, within 30 min."""
    job = alert["labels"].get("job")
    reason = alert["labels"].get("jwtobs_reason")
    start, end = alert["start"], alert["start"] + 60 * alert["minutes"]
    out = []
    for lab in labels:
        if lab.get("start") is None:
            continue
        lo, hi = _time(lab["start"]) - EXPLAINED_S, _time(lab.get("end") or lab["start"]) + EXPLAINED_S
        apis = {job_of(str(lab[k])) for k in ("api", "profile", "replica", "service") if lab.get(k)}
        if reason is not None and reason not in KIND_REASONS.get(str(lab.get("kind")), frozenset({reason})):
            continue
        if start <= hi and end >= lo and (not apis or job in apis):
            out.append(lab)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="timeline directories (events/ and labels.json)")
    parser.add_argument("--all", action="store_true", help="each directory is a set: run every timeline in it")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument(
        "--rules", type=Path, action="append", help="a rules file (repeat to compare; default: the shipped one)"
    )
    args = parser.parse_args(argv)
    rule_files: list[Path] = args.rules or [RULES]
    dirs = [d for p in args.dirs for d in (sorted(x for x in p.iterdir() if x.is_dir()) if args.all else [p])]
    totals = {r: {"quiet days": 0, "alerts on quiet days": 0, "unexplained on incident days": 0} for r in rule_files}
    found: dict[Path, dict[str, list[bool]]] = {r: defaultdict(list) for r in rule_files}
    for d in dirs:
        labels = _labels(d)
        series, t0, minutes = scrape(d, args.jobs)
        for rules in rule_files:
            alerts = evaluate(series, t0, minutes, rules)
            kind = "incident" if labels else "quiet"
            print(f"== {d.name} ({kind} day; {len(series)} series, {minutes} min) with {rules}")
            alerted: set[int] = set()
            for a in alerts:
                labs = _explained(a, labels)
                when = datetime.fromtimestamp(a["start"], UTC).strftime("%H:%M")
                shown = ("job", "instance", "jwtobs_profile", "jwtobs_reason", "jwtobs_issuer")
                lbl = ", ".join(f"{k}={v}" for k, v in a["labels"].items() if k in shown)
                if not labs:
                    why = "  (unexplained)"
                    totals[rules]["unexplained on incident days" if labels else "alerts on quiet days"] += 1
                else:
                    why = "  <- " + ", ".join(f"{lab.get('kind')} {lab.get('entity', '')}" for lab in labs)
                    alerted.update(id(lab) for lab in labs)
                print(f"   {a['alert']:<28} {when} UTC for {a['minutes']:>4} min  {lbl}{why}")
            for lab in labels:
                found[rules][str(lab.get("kind"))].append(id(lab) in alerted)
                if id(lab) not in alerted:
                    print(f"   no alert for {lab.get('kind')} {lab.get('entity', '')} ({lab.get('count')} rejections)")
            if not labels:
                totals[rules]["quiet days"] += 1
            sys.stdout.flush()
    for rules in rule_files:
        print(f"== {rules}: " + ", ".join(f"{k} {v}" for k, v in totals[rules].items()))
        for kind, hits in sorted(found[rules].items()):
            print(f"   {kind:<20} {sum(hits)}/{len(hits)} labelled incidents alerted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
