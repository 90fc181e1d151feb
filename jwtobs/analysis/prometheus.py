"""Read the jwtobs metrics from a Prometheus HTTP API into pandas DataFrames.

>>> frames = from_prometheus("http://prometheus:9090", start="2026-11-28T00:00:00Z", step="5m", job="billing-api")
>>> frames.validations.groupby(["time", "reason"], dropna=False)["count"].sum()

Each frame is long-form: one row per time step and label set, with the validation-event field names as
columns (``outcome``, ``reason``, ``library``, ``profile``, ``issuer``, ``alg``, ``kid``; the ``jwtobs_`` prefix
dropped), plus ``job`` and ``instance``. Counters become ``count``: the exact number of increments during
the step ending at ``time``, computed from the raw cumulative samples (counter resets handled, no
extrapolation), so the counts add up like rows of validation events; steps with no increment are left out.
A series that first appears inside the range counts its first value (OpenTelemetry counters start at 0 with
the process). Gauges become ``value`` at each step.

Metric names are the Prometheus forms of the instruments in :mod:`jwtobs.telemetry` (see
``docs/operations.md``). Only the standard library talks to Prometheus (``/api/v1/query_range``); long
ranges are fetched in chunks below Prometheus' 11,000-points-per-series limit.
"""

from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any, Final, Literal

import pandas as pd

from jwtobs import telemetry
from jwtobs.exceptions import JwtobsError
from jwtobs.kinds import INCIDENT_KINDS

__all__ = [
    "CANNOT_SEE",
    "KINDS_FROM_METRICS",
    "NOT_IN_METRICS",
    "PrometheusError",
    "PrometheusFrames",
    "aggregates_from_frames",
    "aggregates_from_prometheus",
    "from_prometheus",
    "metrics_view",
]

#: points per series per request (Prometheus refuses more than 11,000)
MAX_POINTS: Final = 10_000
#: labels that are not data: the OTel scope, and error.type (a copy of jwtobs.reason)
_DROPPED_LABELS: Final = frozenset({"__name__", "otel_scope_name", "otel_scope_version", "otel_scope_schema_url"})
#: column order of the label columns that come first
_LABEL_ORDER: Final = ("job", "instance", "outcome", "reason", "library", "profile", "issuer", "alg", "kid")

Kind = Literal["counter", "gauge"]


@dataclass(frozen=True)
class _Source:
    metric: str
    kind: Kind
    column: str


def _prom(instrument: str, suffix: str) -> str:
    return instrument.replace(".", "_") + suffix


#: frame name -> the series it is read from (the first gives the rows, the others add columns)
SOURCES: Final[dict[str, tuple[_Source, ...]]] = {
    "validations": (
        _Source(_prom(telemetry.VALIDATION_DURATION, "_seconds_count"), "counter", "count"),
        _Source(_prom(telemetry.VALIDATION_DURATION, "_seconds_sum"), "counter", "duration_s_sum"),
    ),
    "expiry_offsets": (_Source(_prom(telemetry.TOKEN_EXPIRY_OFFSET, "_seconds_bucket"), "counter", "count"),),
    "jwks_fetches": (_Source(_prom(telemetry.JWKS_FETCHES, "_total"), "counter", "count"),),
    "jwks_fetch_durations": (
        _Source(_prom(telemetry.JWKS_FETCH_DURATION, "_seconds_count"), "counter", "count"),
        _Source(_prom(telemetry.JWKS_FETCH_DURATION, "_seconds_sum"), "counter", "duration_s_sum"),
    ),
    "jwks_refresh_suppressed": (_Source(_prom(telemetry.JWKS_REFRESH_SUPPRESSED, "_total"), "counter", "count"),),
    "jwks_keys": (_Source(_prom(telemetry.JWKS_KEYS, ""), "gauge", "value"),),
    "jwks_staleness": (_Source(_prom(telemetry.JWKS_STALENESS, "_seconds"), "gauge", "value"),),
    "redactions": (_Source(_prom(telemetry.REDACTIONS, "_total"), "counter", "count"),),
    "events_dropped": (_Source(_prom(telemetry.EVENTS_DROPPED, "_total"), "counter", "count"),),
}


class PrometheusError(JwtobsError, RuntimeError):
    """Prometheus could not be reached, or refused or failed the query."""


@dataclass(frozen=True)
class PrometheusFrames:
    """The jwtobs metrics over a time range, one DataFrame per metric family (empty when absent).

    validations: ``count`` and ``duration_s_sum`` (seconds spent) per outcome, reason, library, profile,
        issuer, alg, kid. expiry_offsets: ``count`` of observations ``<= le`` per outcome, issuer,
        expiry_side (``before_exp``/``after_exp``), ``le`` (float, ``inf`` last). jwks_fetches: ``count`` per
        issuer, outcome, trigger. jwks_fetch_durations: ``count``, ``duration_s_sum`` per issuer, outcome.
        jwks_refresh_suppressed: ``count`` per issuer, why. jwks_keys, jwks_staleness: ``value`` per issuer.
        redactions: ``count`` per kind, sink. events_dropped: ``count``.
    """

    validations: pd.DataFrame
    expiry_offsets: pd.DataFrame
    jwks_fetches: pd.DataFrame
    jwks_fetch_durations: pd.DataFrame
    jwks_refresh_suppressed: pd.DataFrame
    jwks_keys: pd.DataFrame
    jwks_staleness: pd.DataFrame
    redactions: pd.DataFrame
    events_dropped: pd.DataFrame

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        for f in fields(self):
            yield f.name, getattr(self, f.name)


# -- arguments ---------------------------------------------------------------------------------------------
def _seconds(step: str | float | timedelta) -> float:
    if isinstance(step, timedelta):
        value = step.total_seconds()
    elif isinstance(step, (int, float)) and not isinstance(step, bool):
        value = float(step)
    elif isinstance(step, str):
        value = pd.Timedelta(step).total_seconds()
    else:
        raise TypeError(f"step must be a duration string, seconds or a timedelta, not {type(step).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"step must be positive, got {step!r}")
    return value


def _epoch(t: str | float | datetime | pd.Timestamp | None, default: float) -> float:
    if t is None:
        return default
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        return float(t)
    if isinstance(t, (str, datetime, pd.Timestamp)):
        ts = pd.Timestamp(t)
        if ts.tzinfo is None:
            ts = ts.tz_localize("UTC")
        return float(ts.timestamp())
    raise TypeError(f"times are ISO strings, epoch seconds or datetimes, not {type(t).__name__}")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _selector(metric: str, matchers: Mapping[str, str]) -> str:
    inner = ",".join(f"{name}={_quote(value)}" for name, value in sorted(matchers.items()))
    return f"{metric}{{{inner}}}" if inner else metric


#: how far back a counter's last scraped value is looked for at each step (Prometheus's default lookback)
COUNTER_LOOKBACK_S: Final = 300.0


def _expr(source: _Source, matchers: Mapping[str, str], step: float) -> str:
    """The PromQL for one source. A counter is read as its last scraped value at or before each step
    (``last_over_time``): a plain selector returns nothing at a step whose latest sample is the staleness marker
    of one failed scrape, and the next step would then carry two steps' increments (a doubled minute the
    detectors could read as a burst). Gauges keep the plain selector: a gauge whose series ended is gone."""
    selector = _selector(source.metric, matchers)
    if source.kind != "counter":
        return selector
    return f"last_over_time({selector}[{math.ceil(max(COUNTER_LOOKBACK_S, step))}s])"


# -- HTTP --------------------------------------------------------------------------------------------------
class _Client:
    def __init__(self, url: str, timeout: float, headers: Mapping[str, str] | None) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"url must be an http(s) URL of a Prometheus server, got {url!r}")
        self.base = url.rstrip("/")
        self.timeout = timeout
        self.headers = dict(headers or {})

    def get(self, path: str, params: Mapping[str, Any]) -> Any:
        request = urllib.request.Request(
            f"{self.base}{path}?{urllib.parse.urlencode(params)}",
            headers={"Accept": "application/json", **self.headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:  # Prometheus explains 4xx/5xx in a JSON body
            body = exc.read()
            try:
                doc = json.loads(body)
                message = f"{doc.get('errorType', exc.code)}: {doc.get('error', '')}"
            except ValueError:
                message = f"HTTP {exc.code} (is this a Prometheus HTTP API?)"
            raise PrometheusError(f"{self.base}{path}: {message}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise PrometheusError(f"cannot reach Prometheus at {self.base}: {exc}") from None
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            raise PrometheusError(f"{self.base}{path}: response is not JSON (is this a Prometheus HTTP API?)") from None
        if not isinstance(doc, dict) or doc.get("status") != "success":
            what = doc.get("error") if isinstance(doc, dict) else "unexpected response"
            raise PrometheusError(f"{self.base}{path}: {str(what).strip().splitlines()[0][:200] if what else what}")
        if "data" not in doc:
            raise PrometheusError(f"{self.base}{path}: {_NOT_A_RESULT}")
        return doc["data"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> dict[tuple[tuple[str, str], ...], Any]:
        """Samples of every series, chunked below the points limit: labels -> [(t, value), ...] in time order."""
        out: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
        chunk = step * (MAX_POINTS - 1)
        t = start
        while t <= end:
            t_end = min(end, t + chunk)
            data = self.get("/api/v1/query_range", {"query": expr, "start": t, "end": t_end, "step": step})
            try:
                for series in data.get("result", []):
                    key = tuple(sorted((str(k), str(v)) for k, v in series["metric"].items()))
                    samples = out.setdefault(key, [])
                    for ts, value in series.get("values", []):
                        ts, v = float(ts), float(value)
                        if math.isfinite(v) and (not samples or ts > samples[-1][0]):
                            samples.append((ts, v))
            except (AttributeError, KeyError, TypeError, ValueError):  # (before session 20: an internal error)
                raise PrometheusError(f"{self.base}/api/v1/query_range: {_NOT_A_RESULT}") from None
            t = t_end + step
        return out


#: a JSON answer that is not a range query's matrix (a JSON API that is not Prometheus's, a proxy's error page)
_NOT_A_RESULT: Final = "unexpected response: not a range query result (is this a Prometheus HTTP API?)"


# -- frames ------------------------------------------------------------------------------------------------
def _column(label: str) -> str:
    return label.removeprefix("jwtobs_")


def _rows(
    series: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]], source: _Source, first_t: float
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for key, samples in series.items():
        labels: dict[str, Any] = {}
        for name, value in key:
            if name in _DROPPED_LABELS or name == "error_type":
                continue
            labels[_column(name)] = float(value) if name == "le" else (value or None)
        if source.kind == "gauge":
            rows.extend({"time": t, **labels, source.column: v} for t, v in samples)
            continue
        previous: float | None = None
        for t, v in samples:
            if previous is None:
                # the series' first point: a baseline at the range start, otherwise a counter born in the range
                increment = 0.0 if t <= first_t else v
            else:
                increment = v - previous if v >= previous else v  # a reset restarts from 0
            previous = v
            if increment > 0:
                rows.append({"time": t, **labels, source.column: increment})
    return rows


def _frame(rows: list[dict[str, Any]], value_columns: Iterable[str]) -> pd.DataFrame:
    values = list(value_columns)
    if not rows:
        return pd.DataFrame({"time": pd.Series([], dtype="datetime64[ns, UTC]"), **{c: [] for c in values}})
    df = pd.DataFrame(rows)
    df["time"] = pd.to_datetime(df["time"], unit="s", utc=True)
    labels = [c for c in df.columns if c != "time" and c not in values]
    ordered = [c for c in _LABEL_ORDER if c in labels] + sorted(c for c in labels if c not in _LABEL_ORDER)
    df = df[["time", *ordered, *[c for c in values if c in df.columns]]]
    return df.sort_values(["time", *ordered], na_position="first", kind="stable").reset_index(drop=True)


def _load(
    client: _Client, sources: tuple[_Source, ...], matchers: Mapping[str, str], start: float, end: float, step: float
) -> pd.DataFrame:
    first_t = start - step
    merged: pd.DataFrame | None = None
    for source in sources:
        series = client.query_range(_expr(source, matchers, step), first_t, end, step)
        df = _frame(_rows(series, source, first_t), [source.column])
        if merged is None:
            merged = df
            continue
        keys = [c for c in merged.columns if c in df.columns and c != source.column]
        merged = merged.merge(df, on=keys, how="left") if len(merged) else merged.assign(**{source.column: []})
    assert merged is not None
    return merged


def from_prometheus(
    url: str,
    *,
    start: str | float | datetime | pd.Timestamp | None = None,
    end: str | float | datetime | pd.Timestamp | None = None,
    step: str | float | timedelta = "1m",
    job: str | None = None,
    matchers: Mapping[str, str] | None = None,
    frames: Iterable[str] | None = None,
    timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
) -> PrometheusFrames:
    """Read the jwtobs metrics from the Prometheus at ``url`` into DataFrames.

    url: base URL of the Prometheus HTTP API (``http://prometheus:9090``; a path prefix is kept).
    start, end: ISO 8601 strings, epoch seconds or datetimes (naive ones are UTC); default the last hour.
    step: resolution, e.g. ``"1m"``, ``"5m"``, seconds, or a timedelta; each row covers the step ending at
        ``time``. Counts are exact only when the step is at least the scrape interval.
    job: keep only series with this ``job`` label; matchers: further exact label matches
        (``{"jwtobs_profile": "billing-api"}``; label names as in Prometheus).
    frames: load only these frames (names of :class:`PrometheusFrames` fields); the others are empty.
    timeout: seconds per HTTP request; headers: extra request headers (authentication).

    Raises :class:`PrometheusError` when Prometheus cannot be reached or rejects a query, ``ValueError`` /
    ``TypeError`` for bad arguments.
    """
    step_s = _seconds(step)
    end_s = _epoch(end, time.time())
    start_s = _epoch(start, end_s - 3600.0)
    if start_s > end_s:
        raise ValueError("start is after end")
    wanted = set(SOURCES) if frames is None else set(frames)
    unknown = wanted - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown frames {sorted(unknown)}; known: {sorted(SOURCES)}")
    selected = dict(matchers or {})
    if job is not None:
        selected["job"] = job
    client = _Client(url, timeout, headers)
    out: dict[str, pd.DataFrame] = {}
    for name, sources in SOURCES.items():
        if name in wanted:
            out[name] = _load(client, sources, selected, start_s, end_s, step_s)
        else:
            out[name] = _frame([], [s.column for s in sources])
    return PrometheusFrames(**out)


# -- the detectors' aggregates from the metrics ------------------------------------------------------------
#: what the metrics cannot carry, by aggregate column (docs/analysis.md, "Engines")
NOT_IN_METRICS: Final[dict[str, str]] = {
    "client_id": "no client label (unbounded, attacker-chosen): every count has client_id <NA>",
    "typ": "no typ label: type confusion is invisible",
    "max_exp": "exp is a histogram observation, not a label: max_exp is <NA>",
    "past_exp": "approximated: true exactly for JWT_EXPIRED rejections",
    "lateness.profile": "the expiry-offset histogram is per outcome and issuer only: profile and client <NA>",
    "lateness.cont": "per-token reuse needs token fingerprints: cont is False (has_cont=False)",
    "lateness.seen": "per-token reuse needs token fingerprints: seen is False for rejections (as cont)",
    "lateness.paced": "per-token gaps need token fingerprints: paced is False for rejections (as cont)",
    "lateness.sibling": "per-token visits need token fingerprints: sibling is always False",
    "lateness.new_subject": "a subject's tokens need subject fingerprints: new_subject is always False",
    "lateness.subject": "metrics carry no subject fingerprint: subject is <NA>",
    "lateness.early": "nbf is not measured: no 'early' rows (clock ahead is invisible)",
}


#: the incident kinds the metrics cannot show, and why (measured: benchmarks/bench_scale.py accuracy --suite);
#: the Prometheus engine's aggregates carry ``kinds`` = every other kind, so ``incidents`` reports no noise
CANNOT_SEE: Final[dict[str, str]] = {
    "attack_burst": "needs client ids: without them every rejection looks like a token no accepted client "
    "presents (21 detections, 5 true, on the 32 suite cases)",
    "clock_skew": "needs per-client lateness, per-token reuse (cont) and nbf",
    "server_clock_skew": "needs the number of distinct accepted clients failing on time (client ids) and nbf",
    "issuer_stalled": "needs per-client renewals (client ids, the exp of accepted tokens) and tokens kept after a "
    "401 (token fingerprints)",
    "type_confusion": "needs typ and client ids",
    "audience_misconfig": "needs client ids to tell known clients' audience mismatches from scanners'",
    "kid_before_publish": "needs key-set changes and 'a client accepted before' (client ids)",
    "key_removed_early": "needs key-set changes and 'a client accepted before' (client ids)",
    "signature_spike": "needs 'legitimate clients' (client ids) to tell key replacement from forgeries",
}
#: what the Prometheus engine reports: the JWKS failures per issuer are in the metrics as they are in events
KINDS_FROM_METRICS: Final[frozenset[str]] = frozenset(INCIDENT_KINDS) - frozenset(CANNOT_SEE)


def _minute_rows(df: pd.DataFrame) -> pd.Series:
    """The minute a 1-minute step ending at ``time`` covers."""
    return (df["time"] - pd.Timedelta(minutes=1)).dt.floor("min")


def _bounded_label(s: pd.Series) -> pd.Series:
    from jwtobs.analysis.aggregate import OTHER

    out = s.astype("string")
    return out.mask(out == telemetry.UNKNOWN, OTHER)


def _with_columns(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """``df`` with each of ``columns`` it lacks added as missing values."""
    missing = [c for c in columns if c not in df.columns]
    return df.assign(**{c: pd.Series(pd.NA, index=df.index, dtype="object") for c in missing}) if missing else df


def aggregates_from_frames(frames: PrometheusFrames) -> Any:
    """The detectors' :class:`~jwtobs.analysis.aggregate.Aggregates` (``engine='prometheus'``,
    ``has_cont=False``) from 1-minute :class:`PrometheusFrames`: ``counts`` from the validation counter per
    outcome, reason, profile, issuer and kid (summed over replicas, libraries and algs), ``lateness`` from
    the expiry-offset histogram (``after_exp`` side, per outcome and issuer). Columns the metrics cannot
    fill are ``<NA>``/False: see :data:`NOT_IN_METRICS`."""
    from jwtobs.analysis.aggregate import (
        COUNTS_SCHEMA,
        LATENESS_EDGES,
        LATENESS_SCHEMA,
        Aggregates,
        empty_counts,
        empty_lateness,
    )

    # A label no series carries is no column: jwtobs_reason in a range without rejections (a healthy service),
    # jwtobs_kid or jwtobs_issuer dropped by a relabeling rule. It reads as absent (before session 20: KeyError,
    # jwtobs report --prometheus's internal error on any range without a rejection).
    v = _with_columns(frames.validations, ("outcome", "reason", "profile", "issuer", "kid"))
    if v.empty:
        counts = empty_counts()
    else:
        c = pd.DataFrame(
            {
                "minute": _minute_rows(v),
                "issuer": _bounded_label(v["issuer"]),
                "profile": v["profile"].astype("string"),
                "client_id": pd.Series(pd.NA, index=v.index, dtype="string"),
                "kid": _bounded_label(v["kid"]),
                "typ": pd.Series(pd.NA, index=v.index, dtype="string"),
                "outcome": v["outcome"].astype("string"),
                "reason": v["reason"].astype("string"),
                "past_exp": (v["reason"] == "JWT_EXPIRED").fillna(False).astype(bool),
                "count": v["count"].round().astype("int64"),
            }
        )
        keys = [k for k in COUNTS_SCHEMA if k not in ("count", "max_exp")]
        c = c.groupby(keys, dropna=False, sort=True)["count"].sum().reset_index()
        c["max_exp"] = pd.array([pd.NA] * len(c), dtype="Int64")
        counts = pd.DataFrame({k: c[k].astype(t) for k, t in COUNTS_SCHEMA.items()})
    e = _with_columns(frames.expiry_offsets, ("outcome", "issuer", "expiry_side", "le"))
    e = e[(e["expiry_side"] == "after_exp") & e["le"].notna()] if not e.empty else e
    if e.empty:
        lateness = empty_lateness()
    else:
        # cumulative buckets -> per-bucket counts, each put in the first aggregate bin at or above its edge
        e = e.assign(minute=_minute_rows(e)).sort_values(["minute", "outcome", "issuer", "le"])
        per = e.groupby(["minute", "outcome", "issuer", "le"], dropna=False)["count"].sum().reset_index()
        per["count"] = per.groupby(["minute", "outcome", "issuer"], dropna=False)["count"].diff().fillna(per["count"])
        edges = pd.Series(LATENESS_EDGES)
        per["le"] = [float(edges[edges >= le].iloc[0]) for le in per["le"]]
        per = per[per["count"] > 0]
        lat = pd.DataFrame(
            {
                "minute": per["minute"],
                "issuer": _bounded_label(per["issuer"]),
                "profile": pd.Series(pd.NA, index=per.index, dtype="string"),
                "client_id": pd.Series(pd.NA, index=per.index, dtype="string"),
                "outcome": per["outcome"].astype("string"),
                "direction": "late",
                "le": per["le"],
                "cont": per["outcome"] == "accepted",  # accepted late uses are continuous by definition
                "seen": per["outcome"] == "accepted",
                "paced": per["outcome"] == "accepted",
                "sibling": False,
                "new_subject": False,
                "subject": pd.Series(pd.NA, index=per.index, dtype="string"),
                "count": per["count"].round().astype("int64"),
            }
        )
        keys = [k for k in LATENESS_SCHEMA if k != "count"]
        lat = lat.groupby(keys, dropna=False, sort=True)["count"].sum().reset_index()
        lateness = pd.DataFrame({k: lat[k].astype(t) for k, t in LATENESS_SCHEMA.items()})
    return Aggregates(
        counts.reset_index(drop=True),
        lateness.reset_index(drop=True),
        engine="prometheus",
        has_cont=False,
        kinds=KINDS_FROM_METRICS,
    )


def aggregates_from_prometheus(
    url: str,
    *,
    start: str | float | datetime | pd.Timestamp | None = None,
    end: str | float | datetime | pd.Timestamp | None = None,
    job: str | None = None,
    matchers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """The detectors' aggregates over ``[start, end]`` from the jwtobs metrics in the Prometheus at ``url``
    (1-minute steps aligned to the minute, the minute in progress at ``end`` included with its counts so far;
    arguments as :func:`from_prometheus`). Feed them to
    :func:`jwtobs.analysis.incidents`. What the metrics cannot carry: :data:`NOT_IN_METRICS`."""
    end_s = _epoch(end, time.time())
    start_s = _epoch(start, end_s - 3600.0)
    # steps end on minute boundaries; the minute in progress at ``end`` is included with its counts so far
    start_s, end_s = math.floor(start_s / 60.0) * 60.0 + 60.0, math.ceil(end_s / 60.0) * 60.0
    if start_s > end_s:
        raise ValueError("the range holds no whole minute")
    frames = from_prometheus(
        url,
        start=start_s,
        end=end_s,
        step=60.0,
        job=job,
        matchers=matchers,
        frames=["validations", "expiry_offsets"],
        timeout=timeout,
        headers=headers,
    )
    return aggregates_from_frames(frames)


def metrics_view(aggs: Any) -> Any:
    """What the Prometheus engine would return for the events behind ``aggs`` (exact counts, scraped each
    minute): the same aggregates with everything :data:`NOT_IN_METRICS` removed. Used to measure the
    Prometheus path's recall and precision on simulated scenarios (benchmarks/bench_scale.py accuracy)."""
    from jwtobs.analysis.aggregate import COUNTS_SCHEMA, LATENESS_SCHEMA, Aggregates

    c = aggs.counts.copy()
    c["client_id"] = pd.NA
    c["typ"] = pd.NA
    c["past_exp"] = (c["reason"] == "JWT_EXPIRED").fillna(False).astype(bool)
    keys = [k for k in COUNTS_SCHEMA if k not in ("count", "max_exp")]
    c = c.groupby(keys, dropna=False, sort=True)["count"].sum().reset_index()
    c["max_exp"] = pd.array([pd.NA] * len(c), dtype="Int64")
    lat = aggs.lateness
    lat = lat[lat["direction"] == "late"].copy()
    lat["profile"] = pd.NA
    lat["client_id"] = pd.NA
    lat["cont"] = lat["outcome"] == "accepted"
    lat["seen"] = lat["outcome"] == "accepted"
    lat["paced"] = lat["outcome"] == "accepted"
    lat["sibling"] = False
    lat["new_subject"] = False
    lat["subject"] = pd.Series(pd.NA, index=lat.index, dtype="string")
    keys = [k for k in LATENESS_SCHEMA if k != "count"]
    lat = lat.groupby(keys, dropna=False, sort=True)["count"].sum().reset_index()
    return Aggregates(
        pd.DataFrame({k: c[k].astype(t) for k, t in COUNTS_SCHEMA.items()}),
        pd.DataFrame({k: lat[k].astype(t) for k, t in LATENESS_SCHEMA.items()}),
        engine="prometheus",
        has_cont=False,
        kinds=KINDS_FROM_METRICS,
    )
