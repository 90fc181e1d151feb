"""Matplotlib figures of the analysis (Agg backend; each returns a Figure)."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from jwtobs.analysis.aggregate import not_before, numeric_date
from jwtobs.kinds import INCIDENT_KINDS

__all__ = ["failure_rate_figure", "kid_timeline_figure", "skew_figure", "clock_offset_figure", "baseline_figure"]

_PALETTE = (
    "#e377c2",
    "#d62728",
    "#8c564b",
    "#ff7f0e",
    "#9467bd",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#393b79",
    "#637939",
)
_KIND_COLORS = dict(zip(INCIDENT_KINDS, _PALETTE * 2, strict=False))


def _utc_axis(ax: Any) -> None:
    ax.xaxis.set_major_formatter(DateFormatter("%m-%d %H:%M", tz="UTC"))  # type: ignore[no-untyped-call]
    ax.set_xlabel("time (UTC)")


def _count_axis(ax: Any) -> None:
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _shade(ax: Any, incidents: pd.DataFrame | None, label: bool = True) -> None:
    if incidents is None or incidents.empty:
        return
    seen: set[str] = set()
    for _, r in incidents.iterrows():
        end = max(r["end"], r["start"] + pd.Timedelta(minutes=5))
        kind = str(r["kind"])
        ax.axvspan(
            r["start"],
            end,
            color=_KIND_COLORS.get(kind, "grey"),
            alpha=0.18,
            label=kind if label and kind not in seen else None,
        )
        seen.add(kind)


def _weighted(data: Any) -> pd.DataFrame:
    """Validations as (time, outcome, reason, kid, client_id, n) rows: one per event (``n`` = 1) from an
    events frame, one per aggregate row (``time`` = its minute, ``n`` = its count) from
    :class:`~jwtobs.analysis.aggregate.Aggregates` of any engine, so a figure draws the same from both."""
    from jwtobs.analysis.aggregate import Aggregates

    cols = ["outcome", "reason", "kid", "client_id"]
    if isinstance(data, Aggregates):
        c = data.counts
        return pd.DataFrame({"time": c["minute"], **{k: c[k] for k in cols}, "n": c["count"].astype("int64")})
    return pd.DataFrame({"time": data["time"], **{k: data[k] for k in cols}, "n": 1})


def failure_rate_figure(data: Any, incidents: pd.DataFrame | None = None, freq: str = "10min") -> Figure:
    """Rejections per ``freq`` stacked by reason (top 6, the rest as 'other'), incidents shaded. ``data``:
    an events frame or the aggregates of any engine."""
    df = _weighted(data)
    rej = df[(df["outcome"] == "rejected").fillna(False)]
    total = df.set_index("time")["n"].resample(freq).sum()
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(12, 6.5), sharex=True, height_ratios=[3, 1])
    if not rej.empty:
        reasons = rej["reason"].astype(str)
        top = rej.groupby(reasons)["n"].sum().sort_values(ascending=False, kind="stable").index[:6].tolist()
        reason = reasons.where(reasons.isin(top), "other")
        table = (
            pd.DataFrame({"time": rej["time"], "reason": reason, "n": rej["n"]})
            .groupby([pd.Grouper(key="time", freq=freq), "reason"])["n"]
            .sum()
            .unstack(fill_value=0)
            .reindex(total.index, fill_value=0)
        )
        rate = table.div(total.where(total > 0), axis=0).fillna(0) * 100
        ax.stackplot(rate.index, rate.T.to_numpy(), labels=rate.columns.tolist(), alpha=0.9)
    _shade(ax, incidents)
    ax.set_ylabel(f"rejected % per {freq}")
    ax.set_title("Rejection rate by reason (shaded: detected incidents)")
    ax.legend(loc="upper left", fontsize=8, ncol=2, framealpha=0.9, bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    ax2.plot(total.index, total.to_numpy(), color="#333")
    ax2.set_ylabel(f"validations per {freq}")
    ax2.grid(alpha=0.3)
    _count_axis(ax2)
    _utc_axis(ax2)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def kid_timeline_figure(data: Any, changes: pd.DataFrame | None = None) -> Figure:
    """Each kid's accepted (dots) and unknown-kid/bad-signature rejected (crosses) validations over time,
    one row per kid of a legitimate client; key-set changes as ticks (+ published, - removed). ``data``: an
    events frame, or aggregates (one mark per minute; kids are the bounded labels, so scanners' random kids
    are one ``~other`` row left out, and from metrics, which carry no client, every kept kid is shown)."""
    from jwtobs.analysis.aggregate import OTHER

    df = _weighted(data)
    acc_clients = set(df.loc[df["outcome"] == "accepted", "client_id"].dropna().unique())
    known = df["client_id"].isin(list(acc_clients)) if acc_clients else pd.Series(True, index=df.index)
    sub = df[df["kid"].notna() & (df["kid"] != OTHER).fillna(False) & known]
    kids = sub.groupby("kid", observed=True)["time"].min().sort_values().index.tolist()
    fig, ax = plt.subplots(figsize=(12, 0.5 * max(4, len(kids)) + 1.5))
    ypos = {k: i for i, k in enumerate(kids)}
    acc = sub[sub["outcome"] == "accepted"]
    if len(acc) > 20000:
        acc = acc.sample(20000, random_state=0)
    ax.scatter(acc["time"], acc["kid"].map(ypos), s=4, color="#2ca02c", alpha=0.25, label="accepted")
    bad = sub[sub["reason"].isin(["JWT_UNKNOWN_KID", "JWT_BAD_SIGNATURE", "JWT_JWKS_UNAVAILABLE"]).fillna(False)]
    for reason, marker, color in (
        ("JWT_UNKNOWN_KID", "x", "#d62728"),
        ("JWT_BAD_SIGNATURE", "x", "#ff7f0e"),
        ("JWT_JWKS_UNAVAILABLE", "|", "#8c564b"),
    ):
        b = bad[bad["reason"] == reason]
        ax.scatter(b["time"], b["kid"].map(ypos), s=18, marker=marker, color=color, label=reason)
    if changes is not None and not changes.empty:
        for _, c in changes.iterrows():
            for k in c["added"]:
                if k in ypos:
                    ax.scatter([c["time"]], [ypos[k]], marker="^", s=80, color="black", zorder=5)
            for k in c["removed"]:
                if k in ypos:
                    ax.scatter([c["time"]], [ypos[k]], marker="v", s=80, color="black", zorder=5)
        ax.scatter([], [], marker="^", color="black", label="published (key set change)")
        ax.scatter([], [], marker="v", color="black", label="removed (key set change)")
    ax.set_yticks(range(len(kids)), kids, fontsize=8)
    ax.set_title("Signing keys over time: who used which kid, and when the JWKS changed")
    ax.legend(loc="upper left", fontsize=8, bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    _utc_axis(ax)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def skew_figure(df: pd.DataFrame) -> Figure:
    """Histogram of how far past ``exp`` (positive) or before ``nbf``/``iat`` (negative) rejected tokens arrived,
    per client with the most such rejections."""
    rej = df[df["reason"].isin(["JWT_EXPIRED", "JWT_NOT_YET_VALID"])]
    t = (
        rej["time"].astype("int64").to_numpy()
        / {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[getattr(rej["time"].dtype, "unit", "ns")]
    )
    off = np.where(
        rej["reason"] == "JWT_EXPIRED",
        t - numeric_date(rej["exp"]),
        -(not_before(numeric_date(rej["nbf"]), numeric_date(rej["iat"])) - t),
    )
    fig, ax = plt.subplots(figsize=(10, 4))
    frame = pd.DataFrame({"client": rej["client_id"].astype(str).to_numpy(), "off": off}).dropna()
    if frame.empty:
        ax.text(0.5, 0.5, "no expired / not-yet-valid rejections", ha="center", va="center", transform=ax.transAxes)
    else:
        bins = np.linspace(min(frame["off"].min(), -60), max(frame["off"].max(), 60), 40).tolist()
        for client in frame["client"].value_counts().index[:5]:
            ax.hist(frame.loc[frame["client"] == client, "off"], bins=bins, alpha=0.6, label=client)
        ax.legend(fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("seconds past exp (negative: before nbf/iat)")
    ax.set_ylabel("rejections")
    _count_axis(ax)
    ax.set_title("Clock skew: how far outside the validity window tokens arrive, per client")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def clock_offset_figure(data: Any, incidents: pd.DataFrame | None = None, freq: str = "30min") -> Figure:
    """Per client: the clock offset its tokens kept in use past ``exp`` suggest, per ``freq`` window (top),
    against the healthy baseline (the fleet's median client) and the validators' leeway; and how many
    such uses each window had (bottom, integer axis). Clients with a ``clock_skew`` incident are drawn in
    colour, the rest in grey."""
    from jwtobs.analysis.detect import clock_offsets, clock_skew, leeway

    off = clock_offsets(data, freq)
    table = clock_skew(data)
    lw = leeway(data)
    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(12, 6), sharex=True, height_ratios=[2, 1])
    width = 0.7 * (pd.Timedelta(freq) / pd.Timedelta(days=1))  # a bar: 70 % of its window (date axes count days)
    flagged: list[str] = []
    if incidents is not None and not incidents.empty:
        flagged = incidents.loc[incidents["kind"] == "clock_skew", "client_id"].dropna().astype(str).unique().tolist()
    if off.empty:
        ax.text(0.5, 0.5, "no token was kept in use past exp", ha="center", va="center", transform=ax.transAxes)
    else:
        for client, g in off.groupby("client_id"):
            hot = str(client) in flagged
            kw: dict[str, Any] = {"marker": "o", "ms": 4, "lw": 1.2 if hot else 0.6}
            kw.update({"label": str(client)} if hot else {"color": "0.75"})
            ax.plot(g["time"], g["offset_s"], **kw)
            ax2.bar(g["time"], g["uses"], width=width, color=None if hot else "0.75", label=None)
    healthy = float(table["healthy_offset_s"].iloc[0]) if len(table) else 0.0
    ax.axhline(healthy, color="green", lw=1, ls="--", label=f"healthy baseline (fleet median {healthy:.0f} s)")
    for i, v in enumerate(sorted(set(lw.values()))):
        ax.axhline(-v, color="black", lw=0.8, ls=":", label="validator leeway" if i == 0 else None)
    ax.set_ylabel("clock offset (s; negative: behind)")
    ax.set_title("Clock offset per client, from tokens kept in use past exp")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    ax2.set_ylabel(f"uses past exp per {freq}")
    _count_axis(ax2)
    _utc_axis(ax2)
    ax2.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def baseline_figure(data: Any, incidents: pd.DataFrame | None = None) -> Figure:
    """What normal looks like for one series: tokens no accepted client presents (scanners) per minute, its
    trailing baseline and the level the CUSUM needs to alarm on, with ``attack_burst`` incidents shaded."""
    from jwtobs.analysis.detect import foreign_baseline

    fb = foreign_baseline(data)
    fig, ax = plt.subplots(figsize=(12, 3.8))
    if fb.empty:
        ax.text(0.5, 0.5, "no foreign tokens", ha="center", va="center", transform=ax.transAxes)
    else:
        ax.plot(fb["minute"], fb["count"], lw=0.6, color="0.5", label="foreign tokens per minute")
        ax.plot(fb["minute"], fb["baseline"], lw=1.5, color="green", label="baseline (trailing, winsorised)")
        ax.plot(fb["minute"], fb["alarm_level"], lw=1, ls="--", color="red", label="sustained level that alarms")
    if incidents is not None and not incidents.empty:
        _shade(ax, incidents[incidents["kind"] == "attack_burst"])
    ax.set_ylabel("rejections per minute")
    ax.set_title("Scanner noise against its baseline")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    _utc_axis(ax)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
