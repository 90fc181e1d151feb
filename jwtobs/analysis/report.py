"""The analysis report: an HTML page with the plots embedded (PNG, base64) and a text summary."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd

from jwtobs._atomic import replaced_atomically
from jwtobs.analysis.aggregate import Aggregates, aggregate
from jwtobs.analysis.detect import SWEEP_PEAK, clock_skew, scanner_sweeps
from jwtobs.analysis.detect import incidents as detect_incidents
from jwtobs.analysis.evaluate import LabelsError, Score, load_labels, match_incidents
from jwtobs.analysis.load import EventsError, event_files, load_events, load_keyset_changes
from jwtobs.analysis.rates import breakdown, top_reasons
from jwtobs.pipeline import CLIENT_CLAIMS

__all__ = [
    "Report",
    "ReportInputError",
    "build_report",
    "load_checked",
    "format_table",
    "write_atomically",
    "MISSING",
    "sweep_lines",
    "sweep_table",
]

#: the one marker of a missing value in the report's text and tables
MISSING = "—"
#: below this share of accepted validations naming their client, the summary says what the detectors lose
CLIENT_COVERAGE_NOTE = 0.5


def client_coverage_note(events: pd.DataFrame) -> str | None:
    """One line when most accepted validations carry no client claim (docs/analysis.md, *Tokens without a
    client*): the detectors tell a known client's failures from an unknown sender's by the client id."""
    acc = events["outcome"] == "accepted"
    n = int(acc.sum())
    if not n:
        return None
    named = int((acc & events["client_id"].notna()).sum()) / n
    if named >= CLIENT_COVERAGE_NOTE:
        return None
    return (
        f"Note: {1 - named:.1%} of the accepted validations name no client ({', '.join(CLIENT_CLAIMS)}): "
        "clock skews cannot be found, audience and typ mistakes are reported per API, and a signature spike "
        "looks like forged tokens (attack_burst)."
    )


def format_table(df: pd.DataFrame, percent: tuple[str, ...] = (), integer: tuple[str, ...] = ()) -> str:
    """``df`` as an HTML table: ``percent`` columns as percentages, ``integer`` columns and counts without
    decimals, other floats with up to 3 significant decimals, times as UTC, every missing value as
    :data:`MISSING`."""

    def cell(col: str, v: object) -> str:
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
            return MISSING
        if isinstance(v, pd.Timestamp):
            return f"{v:%Y-%m-%d %H:%M} UTC"
        if col in percent and isinstance(v, (int, float)):
            return f"{float(v):.1%}"
        if col in integer and isinstance(v, (int, float)):
            return f"{float(v):,.0f}"
        if isinstance(v, float):
            return f"{v:,.0f}" if v.is_integer() else f"{v:,.3g}"
        if isinstance(v, int):
            return f"{v:,}"
        return str(v)

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    rows = [
        "<tr>"
        + "".join(f"<td>{html.escape(cell(str(c), v))}</td>" for c, v in zip(df.columns, r, strict=True))
        + "</tr>"
        for r in df.itertuples(index=False, name=None)
    ]
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


#: the page head and title every report starts with (also the aggregate engines' report)
HTML_HEAD = (
    "<!doctype html><html><head><meta charset='utf-8'><title>jwtobs report</title><style>"
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
    "pre{background:#f6f6f6;padding:1em;overflow-x:auto}img{max-width:100%}</style></head><body>"
    "<h1>jwtobs: validation failures and incidents</h1>"
)


def write_atomically(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same directory, renamed over ``path``
    only once complete (:func:`jwtobs._atomic.replaced_atomically`, as ``jwtobs scrub`` writes its copy): a failed
    write (disk full...) raises the ``OSError`` and leaves no partial file, and an existing ``path`` as it was."""
    with replaced_atomically(path, "w", encoding="utf-8") as f:
        f.write(text)
    return Path(path)


class ReportInputError(ValueError):
    """The events path cannot be analysed (missing, no events in it, unreadable); the message is one line."""


class Report:
    def __init__(
        self,
        events: pd.DataFrame,
        incidents: pd.DataFrame,
        changes: pd.DataFrame,
        score: Score | None,
        sweeps: pd.DataFrame | None = None,
        aggregates: Aggregates | None = None,
    ) -> None:
        self.events = events
        self.incidents = incidents
        self.changes = changes
        self.score = score
        #: :func:`jwtobs.analysis.scanner_sweeps` (not incidents), or None when not computed
        self.sweeps = sweeps
        self._aggregates = aggregates

    @property
    def aggregates(self) -> Aggregates:
        """The aggregates of :attr:`events` (the detectors' input), computed once: the figures and the clock-skew
        table read them too (before session 34 the report aggregated the same events three times)."""
        if self._aggregates is None:
            self._aggregates = aggregate(self.events)
        return self._aggregates

    def summary(self) -> str:
        """Plain text: totals, top reasons, detected incidents, and detected vs injected when labels exist."""
        df = self.events
        n = len(df)
        rej = int((df["outcome"] == "rejected").sum())
        lines = [f"{n} validations, {rej} rejected ({(rej / n if n else 0):.2%})"]
        note = client_coverage_note(df)
        lines += ["", "Top rejection reasons:"] if note is None else [note, "", "Top rejection reasons:"]
        for _, r in top_reasons(df, 6).iterrows():
            det = "" if pd.isna(r["detail"]) else f" ({r['detail']})"
            lines.append(f"  {str(r['reason']) + det:<36} {r['count']:>7}  {r['share']:6.1%}")
        lines += ["", f"Detected incidents: {len(self.incidents)} (times UTC)"]
        for _, r in self.incidents.iterrows():
            who = next((r[c] for c in ("client_id", "kid", "profile", "issuer") if pd.notna(r[c]) and r[c]), MISSING)
            lines.append(
                f"  {r['start']:%H:%M}-{r['end']:%H:%M}  {r['kind']:<19} {r['severity']:<8} "
                f"{r['confidence']:>7.1%}  {who!s:<22} {r['count']:>5}  {r['evidence']}"
            )
        lines += sweep_lines(self.sweeps)
        if self.score is not None:
            s = self.score
            lines += ["", "Detected vs injected:"]
            for _, r in s.table.iterrows():
                if r["matched"]:
                    lines.append(
                        f"  {r['kind']:<19} injected {r['start']:%H:%M:%S}  detected {r['detected_start']:%H:%M:%S}"
                        f"  (onset error {r['onset_error_s']:.0f} s)"
                    )
                else:
                    lines.append(f"  {r['kind']:<19} injected {r['start']:%H:%M:%S}  MISSED")
            lines.append(
                f"  recall {s.recall:.2f} ({s.matched_labels}/{s.labels}), precision {s.precision:.2f} "
                f"({s.true_positives}/{s.detected})"
            )
        return "\n".join(lines)

    def figures(self) -> dict[str, object]:
        from jwtobs.analysis.plots import (
            baseline_figure,
            clock_offset_figure,
            failure_rate_figure,
            kid_timeline_figure,
            skew_figure,
        )

        agg = self.aggregates
        return {
            "Rejection rate by reason": failure_rate_figure(self.events, self.incidents),
            "Scanner noise against its baseline": baseline_figure(agg, self.incidents),
            "Key timeline": kid_timeline_figure(self.events, self.changes),
            "Clock offset per client": clock_offset_figure(agg, self.incidents),
            "Clock skew": skew_figure(self.events),
        }

    def write_html(self, path: str | Path, png_dir: str | Path | None = None) -> Path:
        import matplotlib.pyplot as plt

        out = Path(path)
        parts = [HTML_HEAD, f"<pre>{html.escape(self.summary())}</pre>"]
        for title, fig in self.figures().items():
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100)  # type: ignore[attr-defined]
            if png_dir is not None:
                Path(png_dir).mkdir(parents=True, exist_ok=True)
                (Path(png_dir) / (title.lower().replace(" ", "_") + ".png")).write_bytes(buf.getvalue())
            plt.close(fig)  # type: ignore[arg-type]
            b64 = base64.b64encode(buf.getvalue()).decode("ascii")
            parts.append(
                f"<h2>{html.escape(title)}</h2><img alt='{html.escape(title)}' src='data:image/png;base64,{b64}'>"
            )
        parts.append("<h2>Incidents</h2>" + format_table(self.incidents, percent=("confidence",)))
        parts.append(sweep_table(self.sweeps))
        parts.append("<h2>By profile</h2>" + format_table(breakdown(self.events, "profile"), percent=("rate",)))
        parts.append("<h2>By issuer</h2>" + format_table(breakdown(self.events, "issuer"), percent=("rate",)))
        parts.append(
            "<h2>Clock skew per client</h2>"
            + format_table(clock_skew(self.aggregates).head(20).reset_index(), integer=("estimated_offset_s",))
        )
        parts.append("</body></html>")
        return write_atomically(out, "\n".join(parts))


def build_report(events_path: str | Path, labels_path: str | Path | None = None) -> Report:
    """Load events (and key-set changes) from ``events_path``, detect incidents, and score them against
    ``labels_path`` (a simulator ``labels.json``) when given."""
    try:  # (first: a wrong --labels file is said before the events are analysed)
        labels = load_labels(labels_path) if labels_path is not None else None
    except LabelsError as exc:
        raise ReportInputError(str(exc)) from exc
    df, changes = load_checked(events_path)
    agg = aggregate(df)
    inc = detect_incidents(agg, changes)
    score = match_incidents(inc, labels) if labels is not None else None
    return Report(df, inc, changes, score, scanner_sweeps(agg, changes), agg)


def sweep_lines(sweeps: pd.DataFrame | None) -> list[str]:
    """The summary's lines for the scanner sweeps (none when not computed or there were none)."""
    if sweeps is None or sweeps.empty:
        return []
    lines = [
        "",
        f"Scanner sweeps, not incidents: {len(sweeps)} (tokens no accepted client presents, none naming a key "
        f"in use, under {SWEEP_PEAK} a minute; times UTC)",
    ]
    for _, r in sweeps.iterrows():
        lines.append(
            f"  {r['start']:%H:%M}-{r['end']:%H:%M}  {r['count']:>5} tokens, up to {r['peak_per_minute']}/min"
            f" (usual {r['baseline_per_minute']:.1f}/min)  {r['profiles'] or MISSING}  {r['reasons']}"
        )
    return lines


def sweep_table(sweeps: pd.DataFrame | None) -> str:
    """The HTML section of the scanner sweeps (empty when not computed)."""
    if sweeps is None:
        return ""
    note = (
        f"<p>Bursts of tokens no accepted client presents, none naming a key in use, under {SWEEP_PEAK} a minute: "
        "what internet scanners send once they find an API. Not incidents (docs/analysis.md, attack_burst).</p>"
    )
    return "<h2>Scanner sweeps</h2>" + note + format_table(sweeps, integer=("count", "peak_per_minute"))


def load_checked(events_path: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and key-set changes of ``events_path``, or :class:`ReportInputError` with one clear line when
    the path is missing, holds no events files, is not a jwtobs events file, or a file cannot be read."""
    p = Path(events_path)
    if not p.exists():
        raise ReportInputError(f"{p}: no such file or directory")
    try:
        empty = p.is_dir() and not event_files(p)
    except EventsError as exc:  # (an unreadable directory below p)
        raise ReportInputError(str(exc)) from exc
    if empty:
        raise ReportInputError(f"{p}: directory holds no events files (*.jsonl, *.jsonl.gz, *.parquet)")
    try:
        df = load_events(p)
        changes = load_keyset_changes(p)
    except EventsError as exc:  # (its message names the file and the problem already)
        raise ReportInputError(str(exc)) from exc
    except (OSError, ValueError, TypeError, KeyError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReportInputError(f"{p}: cannot read events ({type(exc).__name__}: {first[:200]})") from exc
    if df.empty or not df["outcome"].isin(["accepted", "rejected"]).any():
        what = "directory" if p.is_dir() else "file"
        raise ReportInputError(f"{p}: no validation events in this {what} (is it a jwtobs events file?)")
    return df, changes
