"""Failure rates over time, top reasons and breakdowns by issuer, kid, client or profile."""

from __future__ import annotations

import pandas as pd

__all__ = ["failure_rates", "top_reasons", "breakdown"]


def failure_rates(df: pd.DataFrame, freq: str = "5min", by: str | list[str] | None = None) -> pd.DataFrame:
    """Validations, rejections and the rejection rate per ``freq`` time bin (and per ``by`` columns).

    Columns: ``time`` (bin start), the ``by`` columns, ``total``, ``rejected``, ``rate``."""
    keys = [by] if isinstance(by, str) else list(by or [])
    rejected = (df["outcome"] == "rejected").astype("int64")
    frame = pd.DataFrame({"time": df["time"], "rejected": rejected, **{k: df[k] for k in keys}})
    grouper = [pd.Grouper(key="time", freq=freq), *keys]
    out = frame.groupby(grouper, observed=True).agg(total=("rejected", "size"), rejected=("rejected", "sum"))
    out = out.reset_index()
    out["rate"] = out["rejected"] / out["total"].where(out["total"] > 0)
    return out


def top_reasons(df: pd.DataFrame, n: int = 10, by: str | None = None) -> pd.DataFrame:
    """The ``n`` most frequent rejection reasons (with ``detail``), overall or per ``by`` column, with share."""
    rej = df[df["outcome"] == "rejected"]
    keys = ([by] if by else []) + ["reason", "detail"]
    counts = rej.groupby(keys, observed=True, dropna=False).size().rename("count").reset_index()
    counts = counts[counts["count"] > 0]
    total = counts.groupby(by, observed=True)["count"].transform("sum") if by else counts["count"].sum()
    counts["share"] = counts["count"] / total
    counts = counts.sort_values([*([by] if by else []), "count"], ascending=[*([True] if by else []), False])
    return (counts.groupby(by, observed=True).head(n) if by else counts.head(n)).reset_index(drop=True)


def _most_common(reasons: pd.Series) -> object:
    """The most frequent reason of a group, or None when every one is missing (a rejection without a reason)."""
    counts = reasons.value_counts()
    return counts.index[0] if len(counts) else None


def breakdown(df: pd.DataFrame, by: str | list[str]) -> pd.DataFrame:
    """Validations, rejections, rate and the most frequent reason per ``by`` (issuer, kid, client_id, profile...)."""
    keys = [by] if isinstance(by, str) else list(by)
    rej = df["outcome"] == "rejected"
    frame = df[keys].assign(rejected=rej.astype("int64"), reason=df["reason"].astype("object"))
    out = frame.groupby(keys, observed=True, dropna=False).agg(total=("rejected", "size"), rejected=("rejected", "sum"))
    out["rate"] = out["rejected"] / out["total"]
    top = (
        frame[rej].groupby(keys, observed=True, dropna=False)["reason"].agg(_most_common)
        if rej.any()
        else pd.Series(dtype="object")
    )
    out["top_reason"] = top.reindex(out.index)
    return out.sort_values("rejected", ascending=False).reset_index()
