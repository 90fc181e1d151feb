"""Incident detectors over validation events (any library: they read reason codes, kids, clients, times).

Each detector returns the incident frame (:data:`INCIDENT_COLUMNS`). Key-set change records, when given,
sharpen the rotation detectors (the publish/removal time goes into the evidence and bounds the incident).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "INCIDENT_COLUMNS",
    "INCIDENT_KINDS",
    "incidents",
    "rotation_incidents",
    "clock_skew",
    "clock_skew_incidents",
    "attack_bursts",
    "misconfigurations",
]

INCIDENT_COLUMNS = ["kind", "start", "end", "issuer", "kid", "client_id", "profile", "count", "evidence"]
INCIDENT_KINDS = (
    "kid_before_publish",
    "key_removed_early",
    "jwks_outage",
    "signature_spike",
    "clock_skew",
    "audience_misconfig",
    "type_confusion",
    "attack_burst",
)
_ATTACK_REASONS = frozenset(
    {
        "JWT_UNSIGNED",
        "JWT_ALG_NOT_ALLOWED",
        "JWT_FORBIDDEN_HEADER",
        "JWT_CRIT_UNSUPPORTED",
        "JWT_HEADER_INVALID",
        "JWT_MALFORMED",
        "JWT_BAD_SIGNATURE",
        "JWT_UNKNOWN_KID",
        "JWT_KEY_INVALID",
        "JWT_UNEXPECTED_FORM",
    }
)
#: rejections further apart than this (seconds) start a new incident
GAP = 600.0
#: a signature spike is at least this share of the kid's validations while it lasts
SPIKE_SHARE = 0.05
#: an expired token used more than this many seconds past ``exp`` points at the client's clock
SKEW_THRESHOLD = 60.0


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in INCIDENT_COLUMNS})


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return _empty()
    out = pd.DataFrame(rows)
    for c in INCIDENT_COLUMNS:
        if c not in out.columns:
            out[c] = None
    return out[INCIDENT_COLUMNS]


def _secs(times: pd.Series) -> np.ndarray[Any, np.dtype[np.float64]]:
    return np.asarray(times.astype("int64"), dtype=np.float64) / _unit(times)


def _unit(times: pd.Series) -> float:
    unit = getattr(times.dtype, "unit", "ns")
    return {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[unit]


def _clusters(t: np.ndarray[Any, np.dtype[np.float64]], gap: float) -> list[tuple[int, int]]:
    """Index ranges [i, j) of sorted ``t`` with no gap larger than ``gap`` inside."""
    if len(t) == 0:
        return []
    cuts = np.flatnonzero(np.diff(t) > gap) + 1
    starts = np.concatenate(([0], cuts))
    ends = np.concatenate((cuts, [len(t)]))
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def _ts(sec: float) -> str:
    return str(pd.Timestamp(sec, unit="s", tz="UTC").isoformat(timespec="seconds"))


def _str(v: object) -> str | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else str(v)


def _rejected(df: pd.DataFrame, reasons: Iterable[str]) -> pd.DataFrame:
    mask = (df["outcome"] == "rejected") & df["reason"].isin(list(reasons))
    return df.loc[mask]


def _accepted_clients(df: pd.DataFrame) -> set[str]:
    return set(df.loc[df["outcome"] == "accepted", "client_id"].dropna().unique().tolist())


def _grouped_clusters(
    sub: pd.DataFrame, keys: list[str], gap: float = GAP, min_count: int = 3
) -> Iterable[tuple[tuple[Any, ...], pd.DataFrame]]:
    if sub.empty:
        return
    for key, g in sub.groupby(keys, observed=True, dropna=False, sort=False):
        g = g.sort_values("time", kind="stable")
        t = _secs(g["time"])
        for i, j in _clusters(t, gap):
            if j - i >= min_count:
                yield (key if isinstance(key, tuple) else (key,)), g.iloc[i:j]


def _keyset_times(changes: pd.DataFrame | None) -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    added: dict[tuple[str, str], float] = {}
    removed: dict[tuple[str, str], float] = {}
    if changes is None or changes.empty:
        return added, removed
    for t, iss, add, rem in zip(
        _secs(changes["time"]), changes["issuer"], changes["added"], changes["removed"], strict=True
    ):
        for k in add:
            added.setdefault((str(iss), str(k)), t)
        for k in rem:
            removed[(str(iss), str(k))] = t
    return added, removed


def rotation_incidents(df: pd.DataFrame, keyset_changes: pd.DataFrame | None = None) -> pd.DataFrame:
    """Key rotation incidents: ``kid_before_publish`` (a kid rejected as unknown, accepted later),
    ``key_removed_early`` (a kid accepted, then rejected as unknown while tokens signed with it still
    arrive), ``jwks_outage`` (JWKS unavailable) and ``signature_spike`` (bad signatures on a kid that
    legitimate clients use, e.g. key material replaced under the same kid)."""
    rows: list[dict[str, Any]] = []
    added, removed = _keyset_times(keyset_changes)
    acc = df.loc[df["outcome"] == "accepted", ["time", "issuer", "kid"]]
    acc_t = acc.assign(t=_secs(acc["time"])).groupby(["issuer", "kid"], observed=True)["t"]
    first_acc = acc_t.min().to_dict()
    last_acc = acc_t.max().to_dict()
    clients = _accepted_clients(df)
    unknown = _rejected(df, ["JWT_UNKNOWN_KID"])
    unknown = unknown[unknown["kid"].notna() & unknown["client_id"].isin(list(clients))]
    for (iss, kid), g in _grouped_clusters(unknown, ["issuer", "kid"], min_count=3):
        t = _secs(g["time"])
        start = float(t[0])
        fa = first_acc.get((iss, kid))
        la = last_acc.get((iss, kid))
        key = (str(iss), str(kid))
        if fa is not None and fa < start:
            kind = "key_removed_early"
            ev = f"kid accepted until {_ts(la or fa)}, then {len(g)} unknown-kid rejections"
            if key in removed:
                ev += f"; key set change removed it at {_ts(removed[key])}"
        elif fa is not None:
            kind = "kid_before_publish"
            ev = f"{len(g)} unknown-kid rejections, first acceptance at {_ts(fa)}"
            if key in added:
                ev += f"; key set change published it at {_ts(added[key])}"
        elif key in added and added[key] > start:
            kind = "kid_before_publish"
            ev = f"{len(g)} unknown-kid rejections before the key set published it at {_ts(added[key])}"
        else:
            continue  # never accepted, never published: random kids are attack_bursts' business
        rows.append(_row(kind, g, iss, kid, None, ev))
    outage = _rejected(df, ["JWT_JWKS_UNAVAILABLE"])
    for (iss,), g in _grouped_clusters(outage, ["issuer"], min_count=3):
        ev = f"{len(g)} validations failed: JWKS unavailable ({g['profile'].nunique()} profiles)"
        rows.append(_row("jwks_outage", g, iss, None, None, ev))
    bad = _rejected(df, ["JWT_BAD_SIGNATURE"])
    bad = bad[bad["client_id"].isin(list(clients))]
    kid_times = {
        key: np.sort(_secs(g["time"]))
        for key, g in df[df["kid"].isin(bad["kid"].dropna().unique().tolist())].groupby(
            ["issuer", "kid"], observed=True
        )
    }
    for (iss, kid), g in _grouped_clusters(bad, ["issuer", "kid"], min_count=5):
        n_clients = g["client_id"].nunique()
        t = _secs(g["time"])
        kt = kid_times.get((iss, kid), t)
        share = len(g) / max(1, int(np.searchsorted(kt, t[-1], "right") - np.searchsorted(kt, t[0], "left")))
        if n_clients < 2 or share < SPIKE_SHARE:
            continue  # scattered corruption in transit, not a key problem
        ev = f"{len(g)} bad signatures ({share:.0%} of the kid's validations) from {n_clients} legitimate clients"
        rows.append(_row("signature_spike", g, iss, kid, None, ev))
    return _frame(rows)


def _row(kind: str, g: pd.DataFrame, iss: Any, kid: Any, client: Any, evidence: str, **kw: Any) -> dict[str, Any]:
    profiles = g["profile"].astype(str).unique()
    return {
        "kind": kind,
        "start": g["time"].iloc[0],
        "end": g["time"].iloc[-1],
        "issuer": _str(iss),
        "kid": _str(kid),
        "client_id": _str(client),
        "profile": profiles[0] if len(profiles) == 1 else None,
        "count": len(g),
        "evidence": evidence,
        **kw,
    }


def clock_skew(df: pd.DataFrame) -> pd.DataFrame:
    """Per client: how far past ``exp`` its expired tokens arrive and how far before ``nbf`` its premature
    tokens arrive (seconds), and the clock offset they suggest (negative: the client's clock is behind)."""
    rej = df[df["outcome"] == "rejected"]
    t = pd.Series(_secs(rej["time"]), index=rej.index)
    exp = rej["exp"].astype("Float64")
    nbf = rej["nbf"].astype("Float64")
    late = (t - exp)[rej["reason"] == "JWT_EXPIRED"]
    early = (nbf - t)[rej["reason"] == "JWT_NOT_YET_VALID"]
    cid = rej["client_id"].astype("string")
    out = pd.DataFrame(
        {
            "expired": late.groupby(cid[late.index], observed=True).size(),
            "median_past_exp_s": late.groupby(cid[late.index], observed=True).median(),
            "not_yet_valid": early.groupby(cid[early.index], observed=True).size(),
            "median_before_nbf_s": early.groupby(cid[early.index], observed=True).median(),
        }
    )
    out = out.fillna({"expired": 0, "not_yet_valid": 0})
    out["estimated_offset_s"] = np.where(
        out["expired"] >= out["not_yet_valid"], -out["median_past_exp_s"], out["median_before_nbf_s"]
    )
    out.index.name = "client_id"
    return out.sort_values("expired", ascending=False)


def clock_skew_incidents(df: pd.DataFrame) -> pd.DataFrame:
    """``clock_skew``: a client repeatedly sends tokens well past ``exp`` (clock behind) or well before
    ``nbf`` (clock ahead): further than any leeway explains."""
    rej = df[(df["outcome"] == "rejected") & df["reason"].isin(["JWT_EXPIRED", "JWT_NOT_YET_VALID"])]
    if rej.empty:
        return _empty()
    t = _secs(rej["time"])
    off = np.where(
        rej["reason"] == "JWT_EXPIRED",
        t - rej["exp"].astype("Float64").to_numpy(dtype=float, na_value=np.nan),
        rej["nbf"].astype("Float64").to_numpy(dtype=float, na_value=np.nan) - t,
    )
    sub = rej[(off > SKEW_THRESHOLD) & rej["client_id"].notna()].assign(_off=off[off > SKEW_THRESHOLD])
    rows = []
    for (cid,), g in _grouped_clusters(sub, ["client_id"], gap=3 * 3600, min_count=3):
        med = float(g["_off"].median())
        direction = "behind" if (g["reason"] == "JWT_EXPIRED").mean() >= 0.5 else "ahead"
        ev = f"{len(g)} tokens rejected a median {med:.0f} s outside exp/nbf: client clock ~{med:.0f} s {direction}"
        rows.append(_row("clock_skew", g, g["issuer"].iloc[0], None, cid, ev))
    return _frame(rows)


def misconfigurations(df: pd.DataFrame) -> pd.DataFrame:
    """``audience_misconfig`` (one profile rejects the usual kind of token of several clients for its
    audience: a deploy with the wrong audience) and ``type_confusion`` (a client sends tokens of another
    type, e.g. ID tokens, to an API: a ``typ`` the profile does not normally accept, or JWT_TYPE_MISMATCH)."""
    acc = df[df["outcome"] == "accepted"]
    usual = acc.groupby("profile", observed=True)["typ"].agg(lambda s: s.mode().iloc[0] if s.notna().any() else None)
    usual_typ = usual.to_dict()
    rej = df[(df["outcome"] == "rejected") & df["reason"].isin(["JWT_AUDIENCE_MISMATCH", "JWT_TYPE_MISMATCH"])]
    if rej.empty:
        return _empty()
    expected = rej["profile"].map(usual_typ).astype("object")
    other_type = (rej["reason"] == "JWT_TYPE_MISMATCH") | (expected.notna() & (rej["typ"].astype("object") != expected))
    rows = []
    for _, g in _grouped_clusters(rej[~other_type], ["profile"], min_count=5):
        n = g["client_id"].nunique()
        if n < 2:
            continue
        ev = f"{len(g)} audience mismatches from {n} clients whose tokens the profile accepted before"
        rows.append(_row("audience_misconfig", g, None, None, None, ev))
    for (cid,), g in _grouped_clusters(rej[other_type], ["client_id"], min_count=3):
        typs = ", ".join(sorted(g["typ"].astype(str).unique()))
        profiles = ", ".join(sorted(g["profile"].astype(str).unique()))
        ev = f"{len(g)} tokens of typ {typs} rejected by profile(s) {profiles}"
        rows.append(_row("type_confusion", g, g["issuer"].iloc[0], None, cid, ev))
    return _frame(rows)


def attack_bursts(df: pd.DataFrame, per_minute: int = 10) -> pd.DataFrame:
    """``attack_burst``: minutes with at least ``per_minute`` structural rejections (alg none, forbidden
    headers, bad signatures, unknown kids, malformed) from tokens no legitimate client presents."""
    clients = _accepted_clients(df)
    acc_kids = set(df.loc[df["outcome"] == "accepted", "kid"].dropna().unique().tolist())
    rej = _rejected(df, _ATTACK_REASONS)
    foreign = ~rej["client_id"].isin(list(clients))
    unknown_kid = (rej["reason"] == "JWT_UNKNOWN_KID") & ~rej["kid"].isin(list(acc_kids))
    sub = rej[foreign | unknown_kid]
    if sub.empty:
        return _empty()
    t = _secs(sub["time"])
    minute = np.floor(t / 60.0)
    counts = pd.Series(1, index=minute).groupby(level=0).size()
    hot = counts[counts >= per_minute].index.to_numpy(dtype=float)
    rows = []
    for i, j in _clusters(hot, 120.0):
        lo, hi = hot[i] * 60, hot[j - 1] * 60 + 60
        # include the quieter edge minutes of the burst
        sel = (t >= lo - 60) & (t < hi + 60)
        g = sub[sel]
        mix = g["reason"].astype(str).value_counts()
        ev = f"{len(g)} rejections: " + ", ".join(f"{k} {v}" for k, v in mix.items())
        ev += f"; {g['kid'].nunique()} distinct kids"
        rows.append(_row("attack_burst", g, None, None, None, ev))
    return _frame(rows)


def incidents(df: pd.DataFrame, keyset_changes: pd.DataFrame | None = None) -> pd.DataFrame:
    """All detectors in one frame sorted by start (columns :data:`INCIDENT_COLUMNS`)."""
    parts = [
        rotation_incidents(df, keyset_changes),
        clock_skew_incidents(df),
        misconfigurations(df),
        attack_bursts(df),
    ]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return _empty()
    out = pd.concat(parts, ignore_index=True)
    out["start"] = pd.to_datetime(out["start"], utc=True)
    out["end"] = pd.to_datetime(out["end"], utc=True)
    out["count"] = out["count"].astype("int64")
    return out.sort_values("start", kind="stable").reset_index(drop=True)
