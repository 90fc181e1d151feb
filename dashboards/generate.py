#!/usr/bin/env python3
"""Generate the jwtobs Grafana dashboards as code (grafana-foundation-sdk, pinned in pyproject's dev extra).

    .venv/bin/python dashboards/generate.py            # writes dashboards/grafana/*.json
    .venv/bin/python dashboards/generate.py --check    # exit 1 when a committed JSON differs from the code

Three dashboards, each with the Prometheus data source as a variable (``$datasource``) and ``$__rate_interval``
in every rate: overview, key rotation, redaction. Metric names are the Prometheus forms of the instruments in
``jwtobs/telemetry.py`` (see the header of ``dashboards/prometheus/jwtobs.rules.yml``); the attack-signal
regex is built from :data:`jwtobs.reasons.ATTACK_REASONS`. Every query of every panel is run against a real
Prometheus scraping a real jwtobs process by ``tests/dashboards/test_prometheus_integration.py``; the legend of
a query names the labels the test expects on every series it returns.

Everything is built with the SDK's builders; nothing had to fall back to hand-written dicts.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, dashboard, prometheus, stat, text, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import text as text_model
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DashboardLinkType,
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from jwtobs.reasons import ATTACK_REASONS, Reason
from jwtobs.telemetry import (
    EVENTS_DROPPED,
    JWKS_FETCH_DURATION,
    JWKS_FETCHES,
    JWKS_KEYS,
    JWKS_REFRESH_SUPPRESSED,
    JWKS_STALENESS,
    PROMETHEUS_NAMES,
    TOKEN_EXPIRY_OFFSET,
    VALIDATION_DURATION,
)
from jwtobs.telemetry import REDACTIONS as REDACTIONS_METRIC

OUT = Path(__file__).resolve().parent / "grafana"

DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "[$__rate_interval]"
#: attack-signal reason codes as a PromQL regex (same text as in the rules file)
ATTACK_REGEX = "|".join(sorted(r.value for r in ATTACK_REASONS))

# metric family names as Prometheus shows them, from the one table in jwtobs/telemetry.py
VALIDATIONS = PROMETHEUS_NAMES[VALIDATION_DURATION]
EXPIRY = PROMETHEUS_NAMES[TOKEN_EXPIRY_OFFSET]
FETCHES = PROMETHEUS_NAMES[JWKS_FETCHES]
FETCH_DURATION = PROMETHEUS_NAMES[JWKS_FETCH_DURATION]
SUPPRESSED = PROMETHEUS_NAMES[JWKS_REFRESH_SUPPRESSED]
KEYS = PROMETHEUS_NAMES[JWKS_KEYS]
STALENESS = PROMETHEUS_NAMES[JWKS_STALENESS]
REDACTIONS = PROMETHEUS_NAMES[REDACTIONS_METRIC]
DROPPED = PROMETHEUS_NAMES[EVENTS_DROPPED]

JOB = 'job=~"$job"'
PROFILE = 'jwtobs_profile=~"$profile"'
ISSUER = 'jwtobs_issuer=~"$issuer"'


# -- small builders ----------------------------------------------------------------------------------------
def q(expr: str, legend: str | None = None, *, ref: str = "A", instant: bool = False) -> prometheus.Dataquery:
    """A Prometheus query. ``legend`` names the labels every returned series must carry."""
    b = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DS)
    if legend is not None:
        b = b.legend_format(legend)
    return b.instant() if instant else b.range()


def hq(phi: float, metric: str, by: str, sel: str) -> str:
    """``histogram_quantile`` of a classic histogram's rate, aggregated by ``by`` (plus ``le``)."""
    return f"histogram_quantile({phi}, sum by ({by}, le) (rate({metric}_bucket{{{sel}}}{RATE})))"


def ts(
    title: str, description: str, targets: Sequence[prometheus.Dataquery], unit: str, *, w: int = 12, h: int = 8
) -> timeseries.Panel:
    p = timeseries.Panel().title(title).description(description).datasource(DS).unit(unit).span(w).height(h)
    p = (
        p.line_width(1)
        .fill_opacity(10)
        .legend(
            cb.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.TABLE)
            .placement(common.LegendPlacement.BOTTOM)
            .calcs(["mean", "max", "lastNotNull"])
        )
    )
    for t in targets:
        p = p.with_target(t)
    return p


def big(title: str, description: str, target: prometheus.Dataquery, unit: str, *, w: int = 6) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DS)
        .unit(unit)
        .span(w)
        .height(4)
        .graph_mode(common.BigValueGraphMode.AREA)
        .color_mode(common.BigValueColorMode.VALUE)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]))
        .with_target(target)
    )


def bars(title: str, description: str, target: prometheus.Dataquery, unit: str, *, w: int = 12) -> bargauge.Panel:
    return (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(DS)
        .unit(unit)
        .span(w)
        .height(8)
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]))
        .with_target(target)
    )


def datasource_var() -> dashboard.DatasourceVariable:
    return dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus")


def query_var(name: str, label: str, query: str) -> dashboard.QueryVariable:
    """A multi-value variable from ``label_values(...)``; "All" is ``.*`` (also matches a missing label)."""
    return (
        dashboard.QueryVariable(name)
        .label(label)
        .query(query)
        .datasource(DS)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(VariableOption(selected=True, text="All", value="$__all"))
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def base(uid: str, title: str, description: str) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["jwtobs", "jwt", "security"])
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("browser")
        .link(
            dashboard.DashboardLink("jwtobs")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["jwtobs"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .with_variable(datasource_var())
    )


def row(title: str) -> dashboard.Row:
    return dashboard.Row(title)


# -- overview ----------------------------------------------------------------------------------------------
def overview() -> dashboard.Dashboard:
    sel = f"{JOB},{PROFILE}"
    rejected = f'{sel},jwtobs_outcome="rejected"'
    attack = f'{rejected},jwtobs_reason=~"{ATTACK_REGEX}"'
    total = f"sum(rate({VALIDATIONS}_count{{{sel}}}{RATE}))"
    d = base(
        "jwtobs-overview",
        "jwtobs: JWT validations",
        "JWT validations observed by jwtobs: rate, rejection reasons, latency, issuers and kids, attack signals.",
    )
    d = d.with_variable(query_var("job", "Job", f"label_values({VALIDATIONS}_count, job)"))
    d = d.with_variable(query_var("profile", "Profile", f"label_values({VALIDATIONS}_count{{{JOB}}}, jwtobs_profile)"))
    d = d.with_row(row("Now"))
    d = d.with_panel(big("Validations / s", "All validations, accepted and rejected.", q(total), "reqps"))
    d = d.with_panel(
        big(
            "Rejected",
            "Share of validations rejected (any reason).",
            q(f"sum(rate({VALIDATIONS}_count{{{rejected}}}{RATE})) / {total}"),
            "percentunit",
        )
    )
    d = d.with_panel(
        big(
            "Attack signals / s",
            "Rejections whose reason is an attack signal: " + ", ".join(sorted(r.value for r in ATTACK_REASONS)),
            q(f"sum(rate({VALIDATIONS}_count{{{attack}}}{RATE})) or vector(0)"),
            "reqps",
        )
    )
    d = d.with_panel(
        big(
            "Events dropped / s",
            "Validation events an event sink (JSONL file, logger) failed to write. Should be 0.",
            q(f"sum(rate({DROPPED}{{{JOB}}}{RATE}))"),
            "reqps",
        )
    )
    d = d.with_row(row("Validations"))
    d = d.with_panel(
        ts(
            "Validation rate by outcome",
            "Validations per second, accepted and rejected, per profile.",
            [
                q(
                    f"sum by (jwtobs_profile, jwtobs_outcome) (rate({VALIDATIONS}_count{{{sel}}}{RATE}))",
                    "{{jwtobs_profile}} {{jwtobs_outcome}}",
                )
            ],
            "reqps",
        )
    )
    d = d.with_panel(
        ts(
            "Rejection ratio by reason",
            "Share of all validations (of the selected profiles) rejected with each reason code.",
            [
                q(
                    f"sum by (jwtobs_reason) (rate({VALIDATIONS}_count{{{rejected}}}{RATE}))"
                    f" / ignoring (jwtobs_reason) group_left {total}",
                    "{{jwtobs_reason}}",
                )
            ],
            "percentunit",
        )
    )
    d = d.with_panel(
        ts(
            "Validation duration p50 / p99",
            "Latency of validations (accepted and rejected) per profile, from the duration histogram.",
            [
                q(
                    hq(0.5, VALIDATIONS, "jwtobs_profile", sel),
                    "p50 {{jwtobs_profile}}",
                ),
                q(
                    hq(0.99, VALIDATIONS, "jwtobs_profile", sel),
                    "p99 {{jwtobs_profile}}",
                    ref="B",
                ),
            ],
            "s",
        )
    )
    d = d.with_panel(
        ts(
            "Attack signals by reason",
            "Rejections with an attack-signal reason (alg none, algorithm confusion, forbidden key headers, bad "
            "signatures, oversized tokens, replays).",
            [q(f"sum by (jwtobs_reason) (rate({VALIDATIONS}_count{{{attack}}}{RATE}))", "{{jwtobs_reason}}")],
            "reqps",
        )
    )
    d = d.with_row(row("Issuers and keys"))
    d = d.with_panel(
        bars(
            "Top issuers",
            "Validations per issuer over the dashboard range. Untrusted issuers are counted as _unknown.",
            q(
                f"topk(10, sum by (jwtobs_issuer) (increase({VALIDATIONS}_count{{{sel}}}[$__range])))",
                "{{jwtobs_issuer}}",
                instant=True,
            ),
            "short",
        )
    )
    d = d.with_panel(
        bars(
            "Top kids",
            "Validations per issuer and key id over the dashboard range. Kids not in a trusted key set are _unknown.",
            q(
                f"topk(10, sum by (jwtobs_issuer, jwtobs_kid) (increase({VALIDATIONS}_count{{{sel}}}[$__range])))",
                "{{jwtobs_issuer}} {{jwtobs_kid}}",
                instant=True,
            ),
            "short",
        )
    )
    d = d.with_row(row("Expiry and clock skew"))
    d = d.with_panel(
        ts(
            "Expired tokens: time past exp",
            "For tokens rejected after their exp: how far past it (median and 90th percentile). Seconds past exp "
            "point at clock skew; hours point at clients reusing old tokens. (No profile label on this metric.)",
            [
                q(
                    f"histogram_quantile(0.5, sum by (jwtobs_issuer, le) (rate({EXPIRY}_bucket{{{JOB},"
                    f'jwtobs_outcome="rejected",jwtobs_expiry_side="after_exp"}}{RATE})))',
                    "p50 {{jwtobs_issuer}}",
                ),
                q(
                    f"histogram_quantile(0.9, sum by (jwtobs_issuer, le) (rate({EXPIRY}_bucket{{{JOB},"
                    f'jwtobs_outcome="rejected",jwtobs_expiry_side="after_exp"}}{RATE})))',
                    "p90 {{jwtobs_issuer}}",
                    ref="B",
                ),
            ],
            "s",
        )
    )
    d = d.with_panel(
        ts(
            "Rejected within 60 s of exp",
            "Share of the expired-token rejections that were less than 60 s past exp (recording rule "
            "jwtobs:expired_within_60s:ratio_rate5m computes the same over 5m): a high share is clock skew.",
            [
                q(
                    f'sum by (jwtobs_issuer) (rate({EXPIRY}_bucket{{{JOB},jwtobs_outcome="rejected",'
                    f'jwtobs_expiry_side="after_exp",le=~"60(\\\\.0)?"}}{RATE}))'
                    f' / sum by (jwtobs_issuer) (rate({EXPIRY}_count{{{JOB},jwtobs_outcome="rejected",'
                    f'jwtobs_expiry_side="after_exp"}}{RATE}))',
                    "{{jwtobs_issuer}}",
                )
            ],
            "percentunit",
        )
    )
    return d


# -- key rotation ------------------------------------------------------------------------------------------
def key_rotation() -> dashboard.Dashboard:
    vsel = f"{JOB},{ISSUER}"
    d = base(
        "jwtobs-key-rotation",
        "jwtobs: key rotation and JWKS",
        "Kids in use against the published key set, unknown-kid rejections, JWKS fetches, suppressed refreshes "
        "and key-set staleness. Runbook: docs/operations.md (key rotation, key compromise).",
    )
    d = d.with_variable(query_var("job", "Job", f"label_values({VALIDATIONS}_count, job)"))
    d = d.with_variable(query_var("issuer", "Issuer", f"label_values({VALIDATIONS}_count{{{JOB}}}, jwtobs_issuer)"))
    d = d.with_row(row("Kids"))
    d = d.with_panel(
        ts(
            "Kids in use vs keys published",
            "Distinct kids of accepted tokens against the number of usable keys in the cached key set. During a "
            "rotation with overlap, keys published rises first, then kids in use, then keys published falls.",
            [
                q(
                    f"count by (jwtobs_issuer) (sum by (jwtobs_issuer, jwtobs_kid) (rate({VALIDATIONS}_count{{{vsel},"
                    f'jwtobs_outcome="accepted",jwtobs_kid!="_unknown"}}{RATE})) > 0)',
                    "kids in use {{jwtobs_issuer}}",
                ),
                q(f"max by (jwtobs_issuer) ({KEYS}{{{vsel}}})", "keys published {{jwtobs_issuer}}", ref="B"),
            ],
            "short",
        )
    )
    d = d.with_panel(
        ts(
            "Accepted validations by kid",
            "Traffic moving from the old key to the new one is a rotation; a kid that vanishes while still in "
            "use was removed too early.",
            [
                q(
                    f"sum by (jwtobs_issuer, jwtobs_kid) (rate({VALIDATIONS}_count{{{vsel},"
                    f'jwtobs_outcome="accepted"}}{RATE}))',
                    "{{jwtobs_issuer}} {{jwtobs_kid}}",
                )
            ],
            "reqps",
        )
    )
    d = d.with_panel(
        ts(
            "Key-set changes",
            "Changes of the number of usable keys, and key-set refreshes forced by an unknown kid.",
            [
                q(f"sum by (jwtobs_issuer) (changes({KEYS}{{{vsel}}}{RATE}))", "key count changes {{jwtobs_issuer}}"),
                q(
                    f'sum by (jwtobs_issuer) (increase({FETCHES}{{{vsel},jwtobs_trigger="unknown_kid"}}{RATE}))',
                    "unknown-kid refreshes {{jwtobs_issuer}}",
                    ref="B",
                ),
            ],
            "short",
        )
    )
    d = d.with_panel(
        ts(
            "Unknown-kid rejections / s",
            "Tokens whose kid no trusted key matches: signing before publishing, a key removed too early, or "
            "random-kid probing.",
            [
                q(
                    f"sum by (jwtobs_profile, jwtobs_issuer) (rate({VALIDATIONS}_count{{{vsel},"
                    f'jwtobs_reason="{Reason.UNKNOWN_KID.value}"}}{RATE}))',
                    "{{jwtobs_profile}} {{jwtobs_issuer}}",
                )
            ],
            "reqps",
        )
    )
    d = d.with_row(row("JWKS"))
    d = d.with_panel(
        ts(
            "JWKS fetch rate",
            "Key-set fetches by outcome and trigger (startup, ttl, unknown_kid, manual).",
            [
                q(
                    f"sum by (jwtobs_issuer, jwtobs_outcome, jwtobs_trigger) (rate({FETCHES}{{{vsel}}}{RATE}))",
                    "{{jwtobs_issuer}} {{jwtobs_outcome}} {{jwtobs_trigger}}",
                )
            ],
            "reqps",
            w=8,
        )
    )
    d = d.with_panel(
        ts(
            "JWKS fetch latency p50 / p99",
            "Duration of key-set fetches, successful or not.",
            [
                q(
                    hq(0.5, FETCH_DURATION, "jwtobs_issuer", vsel),
                    "p50 {{jwtobs_issuer}}",
                ),
                q(
                    hq(0.99, FETCH_DURATION, "jwtobs_issuer", vsel),
                    "p99 {{jwtobs_issuer}}",
                    ref="B",
                ),
            ],
            "s",
            w=8,
        )
    )
    d = d.with_panel(
        ts(
            "JWKS fetch errors / s",
            "Failed key-set fetches by outcome. Validation continues on the last-known-good key set.",
            [
                q(
                    f"sum by (jwtobs_issuer, jwtobs_outcome) "
                    f'(rate({FETCHES}{{{vsel},jwtobs_outcome!="success"}}{RATE}))',
                    "{{jwtobs_issuer}} {{jwtobs_outcome}}",
                )
            ],
            "reqps",
            w=8,
        )
    )
    d = d.with_panel(
        ts(
            "Suppressed refreshes / s",
            "Unknown-kid refreshes not performed because of the cooldown, the negative kid cache, or a fetch "
            "already in flight: the bound that protects the issuer from a random-kid flood.",
            [
                q(
                    f"sum by (jwtobs_issuer, jwtobs_why) (rate({SUPPRESSED}{{{vsel}}}{RATE}))",
                    "{{jwtobs_issuer}} {{jwtobs_why}}",
                )
            ],
            "reqps",
        )
    )
    d = d.with_panel(
        ts(
            "Key-set staleness",
            "Seconds since the key set was last fetched successfully. Alert JwtobsJwksKeySetStale fires above 1 h "
            "while fetches fail.",
            [q(f"max by (jwtobs_issuer) ({STALENESS}{{{vsel}}})", "{{jwtobs_issuer}}")],
            "s",
        )
    )
    return d


# -- redaction ---------------------------------------------------------------------------------------------
def redaction() -> dashboard.Dashboard:
    d = base(
        "jwtobs-redaction",
        "jwtobs: redaction",
        "Credentials replaced by redaction markers, by kind and sink. Any redaction means some code path logs a "
        "credential: the redactor caught it, the code path still needs fixing.",
    )
    d = d.with_variable(query_var("job", "Job", f"label_values({REDACTIONS}, job)"))
    d = d.with_panel(
        text.Panel()
        .title("What this means")
        .span(24)
        .height(3)
        .mode(text_model.TextMode.MARKDOWN)
        .content(
            "Every count here is a credential that reached a log, trace or error report and was replaced by "
            "`[REDACTED:<kind>:<fingerprint>]`. Nothing leaked, but the code path that logged it should not. "
            "Runbook: `docs/operations.md#jwtobstokensredactedinlogs` (alert JwtobsTokensRedactedInLogs)."
        )
    )
    d = d.with_panel(
        big(
            "Redactions in range",
            "Credentials redacted over the dashboard range (all kinds and sinks).",
            q(f"sum(increase({REDACTIONS}{{{JOB}}}[$__range]))", instant=True),
            "short",
            w=8,
        )
    )
    d = d.with_panel(
        bars(
            "Redactions by kind and sink (range)",
            "Which credentials (jwt, bearer, basic, ...) were redacted from which sink (structlog, logging, otel).",
            q(
                f"sum by (jwtobs_kind, jwtobs_sink) (increase({REDACTIONS}{{{JOB}}}[$__range]))",
                "{{jwtobs_kind}} in {{jwtobs_sink}}",
                instant=True,
            ),
            "short",
            w=16,
        )
    )
    d = d.with_panel(
        ts(
            "Redactions / s by kind and sink",
            "When redactions started and stopped: line them up with deployments.",
            [
                q(
                    f"sum by (jwtobs_kind, jwtobs_sink) (rate({REDACTIONS}{{{JOB}}}{RATE}))",
                    "{{jwtobs_kind}} in {{jwtobs_sink}}",
                )
            ],
            "reqps",
        )
    )
    d = d.with_panel(
        ts(
            "Redactions / s by service",
            "Which service (Prometheus job) logs credentials.",
            [q(f"sum by (job, jwtobs_sink) (rate({REDACTIONS}{{{JOB}}}{RATE}))", "{{job}} {{jwtobs_sink}}")],
            "reqps",
        )
    )
    return d


DASHBOARDS = {
    "jwtobs-overview.json": overview,
    "jwtobs-key-rotation.json": key_rotation,
    "jwtobs-redaction.json": redaction,
}


def render(build: dashboard.Dashboard) -> str:
    """Deterministic JSON text of a dashboard (panel ids numbered in order, sorted keys, trailing newline)."""
    model = build.build()
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number
    return json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: render(factory()) for name, factory in DASHBOARDS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail when a committed JSON differs from the code")
    parser.add_argument("--out", type=Path, default=OUT, help="output directory (default: dashboards/grafana)")
    args = parser.parse_args(argv)
    stale = []
    args.out.mkdir(parents=True, exist_ok=True)
    for name, content in generate().items():
        path = args.out / name
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != content:
                stale.append(name)
        else:
            path.write_text(content, encoding="utf-8")
            print(path)
    if stale:
        print("out of date (run dashboards/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
