"""Per-minute aggregates: the one shape every incident detector reads.

The detectors in :mod:`jwtobs.analysis.detect` never look at event rows; they read two tables computed
here from the events (by pandas) and, with the same columns and meaning, by the DuckDB and PromQL engines:

``counts`` (:data:`COUNTS_SCHEMA`): validations per minute and combination of labels.

============  =======================  ==========================================================================
column        dtype                    meaning
============  =======================  ==========================================================================
minute        datetime64[ns, UTC]      start of the minute (validation ``time`` floored to the minute)
issuer        string                   ``iss`` (``<NA>``: none or unparsable token)
profile       string                   the validating API / profile
client_id     string                   ``azp``/``client_id`` (``<NA>``: none); see *bounded labels*
kid           string                   header ``kid`` (``<NA>``: none); see *bounded labels*
typ           string                   header ``typ`` (``<NA>``: none); see *bounded labels*
outcome       string                   ``accepted`` / ``rejected``
reason        string                   reason code (``<NA>`` when accepted)
past_exp      bool                     the token's ``exp`` had passed when it was validated (``time > exp``)
count         int64                    validations
max_exp       Int64                    largest ``exp`` claim among them (``<NA>``: none carried ``exp``)
============  =======================  ==========================================================================

``lateness`` (:data:`LATENESS_SCHEMA`): tokens used past ``exp`` (accepted within the validator's leeway,
or rejected ``JWT_EXPIRED``) and tokens rejected before they were valid (``JWT_NOT_YET_VALID``: before ``nbf``
or ``iat``, :func:`not_before`), binned by how far outside their validity window they were used, per minute,
issuer, profile and client.

============  =======================  ==========================================================================
column        dtype                    meaning
============  =======================  ==========================================================================
minute        datetime64[ns, UTC]      as above
issuer        string                   as above
profile       string                   as above
client_id     string                   as above
outcome       string                   ``accepted`` / ``rejected``
direction     string                   ``late`` (``time - exp`` > 0) or ``early`` (``not_before - time`` > 0)
le            float64                  upper edge of the bin in seconds (:data:`LATENESS_EDGES`; ``inf`` last)
cont          bool                     **per-event feature**: the uses of the same token (``token_fp``) go back
                                       to an acceptance without a pause longer than the token's own pace (3x
                                       the median or 1.5x the longest gap between its accepted uses, within
                                       :data:`CONT_GAP`),
                                       and the token was already rejected as expired before in that chain:
                                       the client kept using its token across expiry and after a 401 (its
                                       clock says it is valid) rather than replaying an old one after a pause
                                       (restart, laptop waking) or refreshing on the 401 (a lazy refresher).
                                       Accepted ``late`` rows are continuous use by definition.
seen          bool                     **per-event feature**: as ``cont`` without the earlier rejection: the
                                       token's uses go back to an acceptance without a long pause (the first
                                       rejection of a token in use, as well as the later ones; ``cont``
                                       implies ``seen``). A token first presented long after its last
                                       acceptance, or never accepted, is not ``seen``.
paced         bool                     **per-event feature**: ``seen``, and the gap since the token's previous
                                       use is within :data:`PACED_RANGE` x the token's median gap between its
                                       accepted uses: the client went on at its own pace (a skewed clock), not
                                       in a burst of seconds nor after a pause (a worker pool or a resumed app
                                       firing its cached token). Accepted ``late`` rows are paced. Set on a
                                       visit's first rejected instant only (:data:`CONCURRENT`: the uses of a
                                       token each within half a second of the one before are one visit; ``cont``,
                                       ``seen`` and the gaps are per visit too).
sibling       bool                     **per-event feature**: ``seen``, a rejected call of a visit after its
                                       first rejected instant (sent together with it: a page load's parallel
                                       calls). The clock detectors count a visit once.
new_subject   bool                     **per-event feature**: a token's first rejection past ``exp`` by
                                       at most :data:`SUBJECT_LATE` s (a *near failure*), whose subject
                                       (``sub_hash``) had an earlier token (first seen before this failure),
                                       none of which failed so in the :data:`SUBJECT_WINDOW` s (or
                                       :data:`SUBJECT_CYCLES` x the token's lifetime ``exp - iat``, if longer)
                                       before this token's first near failure, but more than
                                       :data:`SUBJECT_TOGETHER` s before it: one of many users failing once
                                       each (a tab or an app woken after ``exp``), or one user's tabs or
                                       devices, each with its own token, resuming together, not one clock
                                       failing again token after token. False where the event has no subject or
                                       token fingerprint, or the subject was never seen on another token
                                       (nothing to compare with), and for every other row.
subject       string                   **per-event part**: the token's ``sub_hash`` (a keyed fingerprint of its
                                       ``sub``; ``<NA>``: none). Only tokens whose signature verified reach
                                       these rows, so its values are bounded by the issuers' real subjects:
                                       the clock detectors tell one device's clock from its client's by it
                                       (:data:`jwtobs.analysis.detect.SKEW_DEVICE_SHARE`).
count         int64                    validations
============  =======================  ==========================================================================

Bins are counts (not quantiles) so that minutes, replicas and engines can be summed; quantiles are read off
the cumulative counts (:func:`lateness_quantile`), as PromQL's ``histogram_quantile`` does.

*Bounded labels*: ``client_id``, ``kid`` and ``typ`` come from the token, so an attacker chooses them. A
value is kept when some validation with it was accepted, or when it occurs at least ``keep_min`` times;
every other value becomes :data:`OTHER`. Scanners' random kids and client ids thus fold into one row per
minute, as they would in bounded metric attributes.

*One record, one validation*: a record written twice (a file read twice: a copy or an overlapping rotated
file beside the original, a log shipper retrying a batch, two sinks on one path) is counted once
(:func:`distinct_events`; the DuckDB engine alike).

*Per-event part*: only ``cont``, ``seen``, ``paced``, ``sibling``, ``new_subject`` and ``subject`` need the events
themselves (the uses of one token fingerprint: accepted before, rejected before, the gap since its previous visit;
the tokens of one subject fingerprint). The Prometheus metrics cannot carry them, so a metrics-only engine sets them to
``False`` (``cont``, ``seen`` and ``paced`` ``True`` for accepted late uses) and
the clock-skew detector then relies on the lateness shape alone (see docs/analysis.md).

*Subjects*: ``subjects`` (``client_id``, ``subjects``: int64) counts, per client id, the distinct subjects
(``sub_hash``) of its accepted tokens - a per-event part too (``None`` from the metrics engine). A client id whose
clock failures all come from one of its 30 devices is that device's clock, though no other device ever failed
(the lateness rows only hold subjects that failed or were accepted past ``exp``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from jwtobs.pipeline import NUMERIC_DATE_LIMIT

__all__ = [
    "Aggregates",
    "aggregate",
    "COUNTS_SCHEMA",
    "LATENESS_SCHEMA",
    "LATENESS_EDGES",
    "OTHER",
    "CONCURRENT",
    "CONT_GAP",
    "CONT_LIFE",
    "CONT_LIFE_MAX",
    "CONT_PACE",
    "CONT_LONGEST",
    "PACED_RANGE",
    "SUBJECT_LATE",
    "SUBJECT_WINDOW",
    "SUBJECT_CYCLES",
    "SUBJECT_TOGETHER",
    "empty_counts",
    "empty_lateness",
    "lateness_quantile",
]

COUNTS_SCHEMA: Final[dict[str, str]] = {
    "minute": "datetime64[ns, UTC]",
    "issuer": "string",
    "profile": "string",
    "client_id": "string",
    "kid": "string",
    "typ": "string",
    "outcome": "string",
    "reason": "string",
    "past_exp": "bool",
    "count": "int64",
    "max_exp": "Int64",
}
LATENESS_SCHEMA: Final[dict[str, str]] = {
    "minute": "datetime64[ns, UTC]",
    "issuer": "string",
    "profile": "string",
    "client_id": "string",
    "outcome": "string",
    "direction": "string",
    "le": "float64",
    "cont": "bool",
    "seen": "bool",
    "paced": "bool",
    "sibling": "bool",
    "new_subject": "bool",
    "subject": "string",
    "count": "int64",
}
#: ``subjects``: per client id, the distinct subjects (``sub_hash``) of its accepted tokens in the data (a per-event
#: part, like ``lateness.subject``; the metrics engine has none): how many users or devices a client id stands for
SUBJECTS_SCHEMA: Final[dict[str, str]] = {"client_id": "string", "subjects": "int64"}
#: upper bin edges (seconds) of ``lateness.le``; fine around the usual leeways (0-300 s), coarse beyond
LATENESS_EDGES: Final[tuple[float, ...]] = (
    *(5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 105.0, 120.0, 150.0, 180.0),
    *(240.0, 300.0, 420.0, 600.0, 900.0, 1200.0, 1800.0, 2700.0, 3600.0, 5400.0, 7200.0, 10800.0),
    *(14400.0, 21600.0, 43200.0, 86400.0, float("inf")),
)
#: the value standing for every rare, never-accepted client id / kid / typ
OTHER: Final = "~other"
#: ``cont``/``seen``: the token's uses go back to an acceptance with no pause longer than CONT_PACE x the
#: token's own median gap between accepted uses (or CONT_LONGEST x its longest one), bounded to this range (s)
CONT_GAP: Final = (300.0, 1800.0)
CONT_PACE: Final = 3.0
#: ... and up to this share of the token's lifetime (``exp - iat``), if longer: a charger's heartbeat every 20-60
#: minutes with 2-hour tokens is its pace (blind fleet48, session 40: chargers whose clocks a power cut reset kept
#: their tokens for hours, failing each heartbeat, and not one failure was ``seen``)
CONT_LIFE: Final = 0.5
CONT_LIFE_MAX: Final = 14400.0
CONT_LONGEST: Final = 1.5
#: uses of one token each within this many seconds of the one before are one *visit*: calls a client sent
#: together (a page load's parallel requests, a fan-out), not the client going on after an answer; ``cont``,
#: ``seen`` and ``paced`` are per visit and the pace is measured between visits (session 27: with a screen's 1-8
#: calls at once, each first rejected call's siblings read as a token kept after its 401, at a pace of seconds).
#: Half a second: a page load's calls leave within milliseconds and queue behind each other for less; a busy
#: client's independent requests fall that close seldom (one every 10 s: 5 % of its gaps) - at 1 s, hold-out
#: v16 2000's clock lost its second failure (0.63 s after the first) as a kept one, and its onset by 16 min
CONCURRENT: Final = 0.5
#: ``paced``: the gap since the token's previous use is within this range x its median gap between accepted uses
#: (an exponential pace falls above 8x its median 0.4 % of the time, below 0.5x 29 %, below 1x 50 %: a burst of
#: seconds - a worker pool firing its cached token - is a small fraction of a device's pace)
PACED_RANGE: Final = (0.5, 8.0)
#: ``new_subject``: a near failure is a rejection past ``exp`` by at most this (s; a clock behind, a request in
#: flight, a tab woken soon after expiry: not a token kept for hours) ...
SUBJECT_LATE: Final = 1800.0
#: ... and one clock failing token after token fails again within a few token cycles: another token of the
#: subject failing so within this (s), or SUBJECT_CYCLES x the token's lifetime if longer, makes it no new one
SUBJECT_WINDOW: Final = 21600.0
SUBJECT_CYCLES: Final = 2.5
#: ... but more than this (s) before: one user's tabs (each holding its own token) or devices resuming together
#: fail within seconds of each other, not one device failing again
SUBJECT_TOGETHER: Final = 60.0

#: The fields that tell one validation's record from another's: two validations differ in their wall-clock time
#: (nanoseconds) or their measured duration, and a record written twice is equal in all of them
RECORD_KEY: Final = ("time", "token_fp", "duration_s", "outcome", "reason", "service", "span_id")

#: the label columns each table is grouped by: its schema's columns but the measured ones
_KEYS = [k for k in COUNTS_SCHEMA if k not in ("count", "max_exp")]
_LKEYS = [k for k in LATENESS_SCHEMA if k != "count"]


@dataclass(frozen=True)
class Aggregates:
    """The detectors' input: ``counts`` and ``lateness`` (schemas above) and which engine computed them.

    ``has_cont`` is False when the engine could not compute the per-event ``cont`` feature (metrics only).
    ``kinds``: the incident kinds these aggregates can show (``None``: all); ``incidents`` reports only
    those, so an engine that lacks what a detector needs (metrics: no client ids) reports no noise for it."""

    counts: pd.DataFrame
    lateness: pd.DataFrame
    engine: str = "pandas"
    has_cont: bool = True
    kinds: frozenset[str] | None = None
    subjects: pd.DataFrame | None = None

    @property
    def empty(self) -> bool:
        return bool(self.counts.empty)


def _typed(df: pd.DataFrame, schema: dict[str, str]) -> pd.DataFrame:
    out = df[list(schema)].copy()
    for col, dtype in schema.items():
        if dtype.startswith("datetime64"):
            out[col] = pd.to_datetime(out[col], utc=True).astype(dtype)
        else:
            out[col] = out[col].astype(dtype)
    return out.reset_index(drop=True)


def _empty(schema: dict[str, str]) -> pd.DataFrame:
    return _typed(pd.DataFrame({c: pd.Series(dtype="object") for c in schema}), schema)


def empty_counts() -> pd.DataFrame:
    return _empty(COUNTS_SCHEMA)


def empty_lateness() -> pd.DataFrame:
    return _empty(LATENESS_SCHEMA)


def _bounded(values: pd.Series, accepted: pd.Series, keep_min: int) -> pd.Series:
    s = values.astype("string")
    ok = set(s[accepted].dropna().unique().tolist())
    vc = s.value_counts(dropna=True)
    ok |= set(vc[vc >= keep_min].index.tolist())
    return s.where(s.isna() | s.isin(list(ok)), OTHER)


def _seconds(times: pd.Series) -> np.ndarray[Any, np.dtype[np.float64]]:
    ns = times.dt.tz_convert("UTC").astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    return np.asarray(ns, dtype=np.float64) / 1e9


def _bin(x: np.ndarray[Any, np.dtype[np.float64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
    edges = np.asarray(LATENESS_EDGES, dtype=np.float64)
    out: np.ndarray[Any, np.dtype[np.float64]] = edges[np.searchsorted(edges, x, side="left").clip(0, len(edges) - 1)]
    return out


_Bools = np.ndarray[Any, np.dtype[np.bool_]]
_Floats = np.ndarray[Any, np.dtype[np.float64]]


def _per_visit(values: np.ndarray[Any, Any], ufunc: np.ufunc, starts: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """``ufunc`` reduced over each visit (rows ``starts[k]`` up to the next start: visits are runs of the sorted
    uses) and given back to each of its rows."""
    runs = np.flatnonzero(starts)
    out: np.ndarray[Any, Any] = ufunc.reduceat(values, runs)[np.cumsum(starts) - 1]
    return out


def _cont(
    df: pd.DataFrame, t: np.ndarray[Any, np.dtype[np.float64]], late_rej: _Bools
) -> tuple[_Bools, _Bools, _Bools, _Bools]:
    """``(cont, seen, paced, sibling)`` of the rejected-late events (the per-event part): ``seen``: the token's uses
    go back to an acceptance without a pause longer than the token's own pace (3 x the median or 1.5 x the
    longest gap between its accepted uses, bounded to :data:`CONT_GAP`); ``cont``: seen, and the token was
    rejected as expired before in that chain; ``paced``: seen, the gap since its previous use within
    :data:`PACED_RANGE` x the median gap between its accepted uses. All per *visit* (:data:`CONCURRENT`): the
    uses of a token each within half a second of the one before count as one, and gaps are those between visits;
    ``paced`` is set on the visit's first rejected instant only, ``sibling`` on its later seen rejections."""
    out = np.zeros(len(df), dtype=bool)
    seen = np.zeros(len(df), dtype=bool)
    paced = np.zeros(len(df), dtype=bool)
    sibling = np.zeros(len(df), dtype=bool)
    fp = df["token_fp"].astype("string")
    has_fp = fp.notna().to_numpy()
    if not (late_rej & has_fp).any():
        return out, seen, paced, sibling
    tokens = set(fp[late_rej & has_fp].tolist())
    idx = np.flatnonzero(has_fp & fp.isin(tokens).to_numpy())
    life = numeric_date(df["exp"].iloc[idx]) - numeric_date(df["iat"].iloc[idx])  # (of these tokens' uses only)
    sub = pd.DataFrame(
        {
            "fp": fp.to_numpy()[idx],
            "t": t[idx],
            "ok": (df["outcome"] == "accepted").to_numpy()[idx],
            "rej": late_rej[idx],
            "i": idx,
            "life": life,
        }
    ).sort_values(["fp", "t", "ok"], ascending=[True, True, False], kind="stable")  # (DuckDB: ORDER BY t, ok DESC)
    gap = sub["t"].diff().to_numpy(dtype=np.float64, copy=True)
    new_fp = sub["fp"].ne(sub["fp"].shift()).to_numpy()
    gap[new_fp] = np.inf
    # a visit: uses of the token each within CONCURRENT s of the one before (calls sent together)
    starts = new_fp | (gap >= CONCURRENT)
    visit = np.cumsum(starts)  # (runs of the sorted uses: _per_visit)
    acc_gap = pd.Series(np.where(sub["ok"].to_numpy() & starts & ~new_fp, gap, np.nan), index=sub.index)
    by_fp = acc_gap.groupby(sub["fp"].to_numpy())
    median = by_fp.transform("median").to_numpy()
    pace = np.fmax(CONT_PACE * median, CONT_LONGEST * by_fp.transform("max").to_numpy())
    longest = CONT_LIFE * sub["life"].groupby(sub["fp"].to_numpy()).transform("max").to_numpy()
    upper = np.fmax(CONT_GAP[1], np.minimum(longest, CONT_LIFE_MAX))  # (NaN, no iat: CONT_GAP's)
    limit = np.clip(np.nan_to_num(pace, nan=CONT_GAP[0]), CONT_GAP[0], upper)
    chain = np.cumsum(new_fp | (gap > limit))  # (limit >= CONCURRENT: a chain starts with a visit)
    # within a chain: an acceptance before this use, and an expired-rejection of the same token in an earlier
    # visit (the client kept the token after a 401: it believes it valid; a client refreshing on 401 does not,
    # and the calls it sent together with the first rejected one were on their way before the 401 came back)
    seen_ok = sub["ok"].astype("int64").groupby(chain).cumsum().to_numpy() > 0
    rej = sub["rej"].to_numpy()
    rej_n = sub["rej"].astype("int64")
    before = rej_n.groupby(chain).cumsum().to_numpy() - rej_n.groupby(visit).cumsum().to_numpy()
    # (at one instant its acceptances come first, in both engines: which use of a visit carries the gap since
    # the previous visit, and whether an acceptance precedes a rejection there, do not follow file order)
    # the uses of one visit count as one: what one of its rejections is, all are (two identical events - a file
    # read twice - are one visit)
    hit = _per_visit(rej & seen_ok & (before > 0), np.logical_or, starts) & rej
    mine_seen = _per_visit(rej & seen_ok, np.logical_or, starts) & rej
    out[sub["i"].to_numpy()[hit]] = True
    seen[sub["i"].to_numpy()[mine_seen]] = True
    # the gap between this visit and the token's previous one (carried by the visit's first use), on the visit's
    # first rejected instant only: one visit is one paced failure however many calls it made
    step = gap[np.flatnonzero(starts)][visit - 1]
    ts = sub["t"].to_numpy()
    first_rej = _per_visit(np.where(rej, ts, np.inf), np.minimum, starts)
    with np.errstate(divide="ignore", invalid="ignore"):  # (no accepted gap between visits: a NaN median)
        ratio = step / median
    on_pace = mine_seen & (ratio >= PACED_RANGE[0]) & (ratio <= PACED_RANGE[1]) & (ts == first_rej)
    paced[sub["i"].to_numpy()[on_pace]] = True
    # the visit's later rejected calls: sent with its first rejected one (the clock detectors count a visit once)
    sibling[sub["i"].to_numpy()[mine_seen & (ts > first_rej)]] = True
    return out, seen, paced, sibling


def _new_subject(df: pd.DataFrame, t: _Floats, life: _Floats, near: _Bools) -> _Bools:
    """``new_subject`` of the near failures ``near`` (see the module's table): per token of a subject with a
    near failure, its first near failure ``f``; another token of the subject failing so within the window
    before ``f``, but more than SUBJECT_TOGETHER s before (an as-of lookup: the subject's latest first near
    failure at or before ``f - SUBJECT_TOGETHER``), makes it no new subject, and so does a subject not seen on
    another token before ``f``; the token's later near failures are never new (the subject failing again).
    Linear in the events up to the sorts (group-bys and binary searches of integer codes, no pairs), as the
    DuckDB engine's."""
    out = np.zeros(len(df), dtype=bool)
    if "sub_hash" not in df.columns:
        return out
    sc = pd.factorize(df["sub_hash"].astype("string"))[0]
    # token codes in the order of the fingerprints (the DuckDB engine's ORDER BY token_fp breaks ties so)
    fc = pd.factorize(df["token_fp"].astype("string"), sort=True)[0]
    known = (sc >= 0) & (fc >= 0)
    rows = near & known
    if not rows.any():
        return out
    mine = known & np.isin(sc, np.unique(sc[rows]))
    per = (
        pd.DataFrame(
            {
                "s": sc[mine],
                "f": fc[mine],
                "t": t[mine],
                "tn": np.where(near[mine], t[mine], np.nan),
                "life": np.where(near[mine], life[mine], np.nan),
            }
        )
        .groupby(["s", "f"], sort=False)
        .agg(seen=("t", "min"), first=("tn", "min"), life=("life", "max"))
        .reset_index()
    )
    # each subject's first token seen, and the first seen of its other tokens (ties: the same time either way)
    o = per.sort_values(["s", "seen", "f"], kind="stable")
    so = o["s"].to_numpy()
    head = np.r_[True, so[1:] != so[:-1]]
    second = np.r_[False, head[:-1]] & ~head
    t1 = pd.Series(o["f"].to_numpy()[head], index=so[head])
    s1 = pd.Series(o["seen"].to_numpy()[head], index=so[head])
    s2 = pd.Series(o["seen"].to_numpy()[second], index=so[second])
    g = per[per["first"].notna()].sort_values(["s", "first", "f"], kind="stable")
    gs, gf = g["s"].to_numpy(), g["f"].to_numpy()
    f = g["first"].to_numpy(dtype=np.float64)
    window = np.fmax(SUBJECT_WINDOW, SUBJECT_CYCLES * g["life"].to_numpy(dtype=np.float64))
    # the subject's latest first near failure at or before f - SUBJECT_TOGETHER: keys (subject, rank of the time)
    uniq = np.unique(f)
    width2 = len(uniq) + 1
    keys = gs.astype(np.int64) * width2 + np.searchsorted(uniq, f, "left")
    hi = np.searchsorted(uniq, f - SUBJECT_TOGETHER, "right")
    at = np.searchsorted(keys, gs.astype(np.int64) * width2 + hi, "left") - 1
    again = at >= 0
    again[again] = (gs[at[again]] == gs[again]) & (f[again] - f[at[again]] <= window[again])
    other = np.where(
        gf == t1.reindex(gs).to_numpy(),
        s2.reindex(gs).to_numpy(dtype=np.float64),
        s1.reindex(gs).to_numpy(dtype=np.float64),
    )
    new = ~again & (np.nan_to_num(other, nan=np.inf) < f)
    width = int(fc.max()) + 1
    at = pd.Index(gs.astype(np.int64) * width + gf).get_indexer(sc[rows].astype(np.int64) * width + fc[rows])
    # only at the token's first near failure: its later ones are the subject failing again (a token kept)
    hit = at >= 0
    out[np.flatnonzero(rows)[hit]] = new[at[hit]] & (t[rows][hit] == f[at[hit]])
    return out


def numeric_date(column: pd.Series) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A NumericDate column as floats; missing, and past :data:`jwtobs.pipeline.NUMERIC_DATE_LIMIT`, as NaN."""
    values = column.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    return np.where(np.abs(values) < NUMERIC_DATE_LIMIT, values, np.nan)


def not_before(nbf: _Floats, iat: _Floats) -> _Floats:
    """When a token became valid: the later of its ``nbf`` and ``iat`` (either may be missing, NaN). PyJWT and
    :class:`jwtobs.Verifier` reject a token whose ``iat`` or ``nbf`` is beyond ``now + leeway``; many issuers
    (Auth0, Okta, Keycloak access tokens) stamp ``iat`` only, so a token rejected ``JWT_NOT_YET_VALID`` has no
    ``nbf`` to measure against."""
    return np.fmax(nbf, iat)


def distinct_events(events: pd.DataFrame) -> pd.DataFrame:
    """``events`` without the records equal to an earlier one in every field of :data:`RECORD_KEY` that it has
    (all of them in jwtobs's own files): one validation written twice - a file read twice (a copy or an
    overlapping rotated file next to the original), a log shipper retrying a batch, two sinks on one path.
    Counted twice, every failure doubled and the detectors read a rejection repeated at one instant as a
    token kept after its 401: the detector benchmark's quiet days read twice had 16 false clock skews in 25
    days (up to 4 a day), read once none. The frame itself when there is nothing to leave out."""
    key = [c for c in RECORD_KEY if c in events.columns]
    if len(events) < 2 or not key:
        return events
    twice = events.duplicated(subset=key).to_numpy()
    if not twice.any():
        return events
    return events[~twice].reset_index(drop=True)


def aggregate(events: pd.DataFrame, keep_min: int = 10) -> Aggregates:
    """The per-minute aggregates of ``events`` (a frame from :func:`jwtobs.analysis.load_events`), each record
    counted once (:func:`distinct_events`)."""
    if events.empty:
        return Aggregates(empty_counts(), empty_lateness())
    df = distinct_events(events)
    accepted = (df["outcome"] == "accepted").fillna(False).astype(bool)
    t = _seconds(df["time"])
    exp = numeric_date(df["exp"])
    iat = numeric_date(df["iat"]) if "iat" in df.columns else np.full(len(df), np.nan)
    valid_from = not_before(numeric_date(df["nbf"]), iat)
    frame = pd.DataFrame(
        {
            "minute": df["time"].dt.floor("min"),
            "issuer": df["issuer"].astype("string"),
            "profile": df["profile"].astype("string"),
            "client_id": _bounded(df["client_id"], accepted, keep_min),
            "kid": _bounded(df["kid"], accepted, keep_min),
            "typ": _bounded(df["typ"], accepted, keep_min),
            "outcome": df["outcome"].astype("string"),
            "reason": df["reason"].astype("string"),
            "past_exp": np.nan_to_num(t - exp, nan=-1.0) > 0,
            "exp": pd.array(np.where(np.isnan(exp), np.nan, exp), dtype="Float64"),
        }
    )
    counts = (
        frame.groupby(_KEYS, dropna=False, observed=True, sort=True)
        .agg(count=("outcome", "size"), max_exp=("exp", "max"))
        .reset_index()
    )
    counts["max_exp"] = counts["max_exp"].round().astype("Int64")
    late = t - exp
    early = valid_from - t
    reason = df["reason"].astype("string")
    late_rej = ((reason == "JWT_EXPIRED").fillna(False).to_numpy(dtype=bool)) & (np.nan_to_num(late, nan=-1.0) > 0)
    late_acc = accepted.to_numpy() & (np.nan_to_num(late, nan=-1.0) > 0)
    early_rej = (reason == "JWT_NOT_YET_VALID").fillna(False).to_numpy(dtype=bool) & (
        np.nan_to_num(early, nan=-1.0) > 0
    )
    cont, seen, paced, sibling = _cont(df, t, late_rej)
    near = late_rej & (np.nan_to_num(late, nan=np.inf) <= SUBJECT_LATE)
    new_subject = _new_subject(df, t, exp - iat, near)
    cont |= late_acc
    seen |= late_acc
    paced |= late_acc
    sel = late_rej | late_acc | early_rej
    if sel.any():
        lat = frame.loc[sel, ["minute", "issuer", "profile", "client_id", "outcome"]].copy()
        lat["direction"] = np.where(early_rej[sel], "early", "late")
        lat["le"] = _bin(np.where(early_rej[sel], early[sel], late[sel]))
        lat["cont"] = cont[sel]
        lat["seen"] = seen[sel]
        lat["paced"] = paced[sel]
        lat["sibling"] = sibling[sel]
        lat["new_subject"] = new_subject[sel]
        subject = df["sub_hash"] if "sub_hash" in df.columns else pd.Series(pd.NA, index=df.index)
        lat["subject"] = subject.astype("string").to_numpy()[sel]
        lateness = lat.groupby(_LKEYS, dropna=False, observed=True, sort=True).size().rename("count").reset_index()
    else:
        lateness = empty_lateness()
    return Aggregates(
        _typed(counts, COUNTS_SCHEMA), _typed(lateness, LATENESS_SCHEMA), subjects=_subjects(df, accepted)
    )


def _subjects(df: pd.DataFrame, accepted: pd.Series) -> pd.DataFrame:
    """``subjects`` (see :class:`Aggregates`): per client id, the distinct subjects of its accepted tokens."""
    if "sub_hash" not in df.columns:
        return _empty(SUBJECTS_SCHEMA)
    ok = accepted & df["client_id"].notna() & df["sub_hash"].notna()
    n = df.loc[ok].groupby(df.loc[ok, "client_id"].astype("string"), observed=True)["sub_hash"].nunique()
    return _typed(pd.DataFrame({"client_id": n.index, "subjects": n.to_numpy()}), SUBJECTS_SCHEMA)


def lateness_quantile(rows: pd.DataFrame, q: float) -> float:
    """The ``q`` quantile (0..1) of lateness in seconds from binned ``lateness`` rows (upper bin edge of
    the bin holding it, as ``histogram_quantile`` without interpolation); NaN when there are no rows."""
    if rows.empty:
        return float("nan")
    by = rows.groupby("le", sort=True)["count"].sum()
    cum = by.cumsum().to_numpy(dtype=float)
    total = cum[-1]
    if total <= 0:
        return float("nan")
    i = int(np.searchsorted(cum, q * total, side="left"))
    return float(by.index[min(i, len(by) - 1)])
