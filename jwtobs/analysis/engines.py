"""``jwtobs report --engine duckdb`` and ``--prometheus URL``: the report from aggregates, not event rows.

:func:`aggregates_for` picks the engine (pandas loads the events; DuckDB aggregates the files out of core;
Prometheus reads the metrics) and :class:`AggregateReport` writes the report from what every engine has:
the per-minute counts, the incidents and (events engines) the key-set changes. Its plots are drawn from the
counts, so a directory of 100 M events reports in the memory of its aggregates.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import sys
from pathlib import Path
from typing import Any, Final

import pandas as pd

from jwtobs.analysis.aggregate import Aggregates
from jwtobs.cli import missing_dependency

__all__ = ["ENGINES", "AggregateReport", "aggregates_for", "breakdown_of", "report_command", "top_reasons_of"]

ENGINES: Final = ("pandas", "duckdb")


def aggregates_for(
    events: str | Path | None,
    engine: str = "pandas",
    *,
    prometheus: str | None = None,
    start: str | None = None,
    end: str | None = None,
    job: str | None = None,
) -> tuple[Aggregates, pd.DataFrame | None]:
    """(aggregates, key-set changes) of ``events`` by ``engine``, or of the metrics in ``prometheus``
    (key-set changes are not in the metrics: ``None``)."""
    if prometheus:
        from jwtobs.analysis.prometheus import aggregates_from_prometheus

        return aggregates_from_prometheus(prometheus, start=start, end=end, job=job), None
    if events is None:
        raise ValueError("an events path is needed (or --prometheus URL)")
    if engine == "duckdb":
        from jwtobs.analysis import duck

        return duck.aggregate(events), duck.keyset_changes(events)
    if engine != "pandas":
        raise ValueError(f"unknown engine {engine!r}; known: {', '.join(ENGINES)}")
    from jwtobs.analysis.aggregate import aggregate
    from jwtobs.analysis.load import load_events, load_keyset_changes

    return aggregate(load_events(events)), load_keyset_changes(events)


def top_reasons_of(aggs: Aggregates, n: int = 10) -> pd.DataFrame:
    """The ``n`` most frequent rejection reasons in the aggregates of any engine: ``reason``, ``count``,
    ``share`` of the rejections (:func:`jwtobs.analysis.top_reasons` for aggregates; they carry no
    ``detail``)."""
    c = aggs.counts
    rej = c[(c["outcome"] == "rejected").fillna(False)]
    top = rej.groupby("reason", dropna=False)["count"].sum().sort_values(ascending=False, kind="stable")
    out = top.head(n).rename("count").reset_index()
    out["share"] = out["count"] / max(1, int(top.sum()))
    return out


def breakdown_of(aggs: Aggregates, by: str) -> pd.DataFrame:
    """Validations (``total``), ``rejected`` and ``rate`` per ``by`` column of the aggregates of any engine
    (:func:`jwtobs.analysis.breakdown` for aggregates), most rejected first."""
    c = aggs.counts
    total = c.groupby(by, dropna=False)["count"].sum()
    rejected = c[(c["outcome"] == "rejected").fillna(False)].groupby(by, dropna=False)["count"].sum()
    out = pd.DataFrame({"total": total, "rejected": rejected.reindex(total.index).fillna(0).astype("int64")})
    out["rate"] = out["rejected"] / out["total"]
    return out.sort_values("rejected", ascending=False, kind="stable").reset_index()


class AggregateReport:
    """The report of :mod:`jwtobs.analysis.report` computed from aggregates: totals, top reasons, incidents
    (and their score against simulator labels), rejections over time, breakdowns by profile and issuer."""

    def __init__(
        self,
        aggs: Aggregates,
        incidents: pd.DataFrame,
        changes: pd.DataFrame | None,
        score: Any = None,
        sweeps: pd.DataFrame | None = None,
    ) -> None:
        self.aggs = aggs
        self.incidents = incidents
        self.changes = changes
        self.score = score
        self.sweeps = sweeps  # (jwtobs.analysis.scanner_sweeps; None where the engine cannot show them)

    def _incident_lines(self) -> list[str]:
        """The incident (and score) part of the events report's summary, so both read alike."""
        from jwtobs.analysis.load import read_table, to_frame
        from jwtobs.analysis.report import Report

        text = Report(to_frame(read_table([])), self.incidents, self.changes, self.score, self.sweeps).summary()
        lines = text.splitlines()
        i = next((k for k, ln in enumerate(lines) if ln.startswith("Detected incidents")), 0)
        return lines[i:]

    def summary(self) -> str:
        c = self.aggs.counts
        n = int(c["count"].sum())
        rej = c[c["outcome"] == "rejected"]
        nrej = int(rej["count"].sum())
        lines = [
            f"{n} validations, {nrej} rejected ({(nrej / n if n else 0):.2%})  [engine: {self.aggs.engine}]",
            "",
            "Top rejection reasons:",
        ]
        for reason, count, share in top_reasons_of(self.aggs, 6).itertuples(index=False):
            lines.append(f"  {reason!s:<36} {int(count):>7}  {share:6.1%}")
        if not self.aggs.has_cont:
            lines += ["", "From metrics: no client ids, typ, nbf, per-token reuse or key-set changes."]
        if self.aggs.kinds is not None:
            shown = ", ".join(sorted(self.aggs.kinds)) or "none"
            lines += [f"Incident kinds this engine can show: {shown} (the others: see docs/analysis.md, Engines)."]
        return "\n".join([*lines, "", *self._incident_lines()])

    def _figure_png(self) -> bytes:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator

        c = self.aggs.counts
        rej = c[c["outcome"] == "rejected"]
        fig, ax = plt.subplots(figsize=(11, 3.5))
        if not rej.empty:
            per = rej.assign(reason=rej["reason"].fillna("?")).pivot_table(
                index="minute", columns="reason", values="count", aggfunc="sum", fill_value=0
            )
            per = per.resample("10min").sum()
            for col in per.columns:
                ax.plot(per.index, per[col], label=str(col), linewidth=1)
            ax.legend(fontsize=7, ncol=3)
        ax.set_ylabel("rejections per 10 min")
        ax.set_xlabel("time (UTC)")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        return buf.getvalue()

    def _breakdown(self, by: str) -> pd.DataFrame:
        return breakdown_of(self.aggs, by)

    def write_html(self, path: str | Path) -> Path:
        """Write the report (atomically: a failure leaves no partial file)."""
        out = Path(path)
        b64 = base64.b64encode(self._figure_png()).decode("ascii")
        from jwtobs.analysis.report import HTML_HEAD, format_table, sweep_table, write_atomically

        # (the tables as the pandas engine's report formats them: percentages, UTC times, one missing-value marker)
        parts = [
            HTML_HEAD,
            f"<pre>{html.escape(self.summary())}</pre>",
            f"<h2>Rejections by reason</h2><img alt='Rejections by reason' src='data:image/png;base64,{b64}'>",
            "<h2>Incidents</h2>" + format_table(self.incidents, percent=("confidence",)),
            sweep_table(self.sweeps),
            "<h2>By profile</h2>" + format_table(self._breakdown("profile"), percent=("rate",)),
            "<h2>By issuer</h2>" + format_table(self._breakdown("issuer"), percent=("rate",)),
            "</body></html>",
        ]
        return write_atomically(out, "\n".join(parts))


def report_command(args: argparse.Namespace) -> int:
    """``jwtobs report`` through an aggregate engine: one line on stderr and exit 2 on bad input."""
    from jwtobs.analysis.detect import incidents, scanner_sweeps
    from jwtobs.analysis.evaluate import load_labels, match_incidents
    from jwtobs.analysis.load import EventsError
    from jwtobs.analysis.prometheus import PrometheusError

    try:
        labels = load_labels(args.labels) if args.labels else None  # (a wrong file said before the analysis)
        if args.events is not None and not args.prometheus and not Path(args.events).exists():
            raise FileNotFoundError(f"{args.events}: no such file or directory")
        aggs, changes = aggregates_for(
            args.events, args.engine, prometheus=args.prometheus, start=args.start, end=args.end, job=args.job
        )
        if aggs.empty:
            where = args.prometheus or args.events
            raise EventsError(
                f"{where}: no validation events" + (" (no jwtobs metrics in range)" if args.prometheus else "")
            )
        found = incidents(aggs, changes)
        score = match_incidents(found, labels) if labels is not None else None
        # (scanner sweeps where the engine can show attack bursts: the metrics carry no client ids)
        seen = aggs.kinds is None or "attack_burst" in aggs.kinds
        report = AggregateReport(aggs, found, changes, score, scanner_sweeps(aggs, changes) if seen else None)
    except ImportError as exc:
        raise missing_dependency(exc, "analysis") from None
    except (EventsError, PrometheusError, FileNotFoundError, ValueError, OSError) as exc:
        print(
            f"jwtobs report: {str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
            file=sys.stderr,
        )
        return 2
    try:
        path = report.write_html(args.out)
    except OSError as exc:  # written atomically: a failed write leaves no partial report (as the pandas engine)
        print(f"jwtobs report: {args.out}: cannot write: {exc.strerror or type(exc).__name__}", file=sys.stderr)
        return 2
    print(report.summary())
    print(f"report: {path}")
    return 0
