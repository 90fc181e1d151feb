"""jwtobs.analysis.from_prometheus against the same real Prometheus the dashboards are proven on."""

from __future__ import annotations

import math
import socket
import time

import pandas as pd
import pytest

from jwtobs.analysis import prometheus as promreader
from jwtobs.analysis.prometheus import PrometheusError, PrometheusFrames, from_prometheus
from tests.dashboards.conftest import JOB, Stack
from tests.loopback import reply


def _instance(stack: Stack) -> str:
    """The scenario's ``instance`` label (the other instance of the job is its healthy peer)."""
    return f"127.0.0.1:{stack.metrics_port}"


@pytest.fixture(scope="module")
def window(prom_stack: Stack) -> tuple[float, float]:
    """A range that starts before the scenario's series existed and ends at a scrape in the past."""
    end = time.time() - 1
    return end - 300, end


@pytest.fixture(scope="module")
def frames(prom_stack: Stack, window: tuple[float, float]) -> PrometheusFrames:
    start, end = window
    return from_prometheus(prom_stack.prometheus.url, start=start, end=end, step="1s")


def test_validations_frame_has_the_event_columns(prom_stack: Stack, frames: PrometheusFrames) -> None:
    stack = prom_stack
    df = frames.validations
    assert list(df.columns) == [
        "time",
        "job",
        "instance",
        "outcome",
        "reason",
        "library",
        "profile",
        "issuer",
        "alg",
        "kid",
        "count",
        "duration_s_sum",
    ]
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"
    assert set(df["job"]) == {JOB}
    profiles = {"gateway", "internal"} | ({"billing-api", "partner-api"} if "jwks" in stack.features else set())
    assert set(df["profile"]) == profiles
    rejected = df[df["outcome"] == "rejected"]
    assert {"JWT_EXPIRED", "JWT_BAD_SIGNATURE", "JWT_UNKNOWN_KID", "JWT_UNSIGNED", "JWT_MALFORMED"} <= set(
        rejected["reason"]
    )
    assert df.loc[df["outcome"] == "accepted", "reason"].isna().all()
    assert (df["duration_s_sum"] > 0).all()


def test_counts_are_exact_increments_of_the_raw_counters(
    prom_stack: Stack, frames: PrometheusFrames, window: tuple[float, float]
) -> None:
    df = frames.validations
    assert (df["count"] > 0).all() and (df["count"] == df["count"].round()).all()
    # the range starts before the series existed, so the counts add up to the counter values at its end
    raw = prom_stack.prometheus.get(
        "/api/v1/query", {"query": "jwtobs_validation_duration_seconds_count", "time": window[1]}
    )["result"]
    assert raw
    for series in raw:
        m = series["metric"]
        rows = df[
            (df["profile"] == m["jwtobs_profile"])
            & (df["outcome"] == m["jwtobs_outcome"])
            & (df["kid"] == m["jwtobs_kid"])
            & (df["issuer"] == m["jwtobs_issuer"])
            & (df["alg"] == m["jwtobs_alg"])
            & (df["reason"].fillna("") == m.get("jwtobs_reason", ""))
            & (df["instance"] == m["instance"])
        ]
        assert rows["count"].sum() == float(series["value"][1]), m


def test_counts_follow_the_scenario_mix(prom_stack: Stack, frames: PrometheusFrames) -> None:
    """Per round the scenario's internal profile accepts 10 tokens and rejects 6 as expired (5 just past exp, 1
    old); its healthy peer replica accepts 3 and rejects none."""
    df = frames.validations
    peer = df[(df["instance"] != _instance(prom_stack)) & (df["profile"] == "internal")]
    assert peer["count"].sum() > 0 and (peer["outcome"] == "accepted").all()
    df = df[df["instance"] == _instance(prom_stack)]
    internal = df[df["profile"] == "internal"]
    accepted = internal.loc[internal["outcome"] == "accepted", "count"].sum()
    expired = internal.loc[internal["reason"] == "JWT_EXPIRED", "count"].sum()
    assert accepted >= 50
    assert 0.5 < expired / accepted < 0.7


def test_expiry_offsets_have_buckets(frames: PrometheusFrames) -> None:
    df = frames.expiry_offsets
    assert {"outcome", "issuer", "expiry_side", "le", "count"} <= set(df.columns)
    late = df[(df["outcome"] == "rejected") & (df["expiry_side"] == "after_exp")]
    assert set(late["issuer"]) == {"https://internal.test"}
    total = late.loc[late["le"] == math.inf, "count"].sum()
    within_60 = late.loc[late["le"] == 60.0, "count"].sum()
    assert total > 0 and 0.75 < within_60 / total < 0.9  # 5 of every 6 expired tokens are 10 s past exp


def test_job_and_matchers_filter(prom_stack: Stack, window: tuple[float, float]) -> None:
    start, end = window
    url = prom_stack.prometheus.url
    nothing = from_prometheus(url, start=start, end=end, step="5s", job="no-such-job")
    assert all(df.empty for _, df in nothing.items())
    gateway = from_prometheus(
        url, start=start, end=end, step="5s", matchers={"jwtobs_profile": "gateway"}, frames=["validations"]
    )
    assert set(gateway.validations["profile"]) == {"gateway"}
    assert gateway.redactions.empty and list(gateway.redactions.columns) == ["time", "count"]


def test_long_ranges_are_chunked_without_changing_the_result(
    prom_stack: Stack, window: tuple[float, float], monkeypatch: pytest.MonkeyPatch
) -> None:
    start, end = window
    url = prom_stack.prometheus.url
    whole = from_prometheus(url, start=start, end=end, step="2s", frames=["validations"]).validations
    monkeypatch.setattr(promreader, "MAX_POINTS", 7)
    chunked = from_prometheus(url, start=start, end=end, step="2s", frames=["validations"]).validations
    pd.testing.assert_frame_equal(whole, chunked)


def test_jwks_and_redaction_frames(prom_stack: Stack, frames: PrometheusFrames) -> None:
    if "jwks" in prom_stack.features:  # pragma: no cover - once JwksSource has landed
        assert not frames.jwks_fetches.empty and {"issuer", "outcome", "trigger"} <= set(frames.jwks_fetches.columns)
        keys = frames.jwks_keys.groupby("issuer")["value"].max()
        assert keys["https://issuer.test"] == 2  # k2 published and picked up: the rotation
        assert keys["https://broken.test"] == 0  # never fetched successfully
        assert not frames.jwks_staleness.empty
    if "redact" in prom_stack.features:  # pragma: no cover - once jwtobs.redact has landed
        assert not frames.redactions.empty and {"kind", "sink"} <= set(frames.redactions.columns)
    if prom_stack.features != {"jwks", "redact"}:
        pytest.skip("JWKS and/or redaction metrics need jwtobs.JwksSource / jwtobs.redact, not in the package yet")


# -- errors (no Prometheus needed) ---------------------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_unreachable_prometheus_is_a_clear_error() -> None:
    with pytest.raises(PrometheusError, match="cannot reach Prometheus"):
        from_prometheus(f"http://127.0.0.1:{_closed_port()}", timeout=2, frames=["validations"])


def test_a_rejected_query_is_a_clear_error(prom_stack: Stack) -> None:
    with pytest.raises(PrometheusError, match="bad_data"):
        from_prometheus(prom_stack.prometheus.url, matchers={"not a label": "x"}, frames=["validations"])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"step": "0s"}, ValueError),
        ({"step": -5}, ValueError),
        ({"step": None}, TypeError),
        ({"start": 200.0, "end": 100.0}, ValueError),
        ({"start": object()}, TypeError),
        ({"frames": ["validations", "nope"]}, ValueError),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        from_prometheus(f"http://127.0.0.1:{_closed_port()}", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["", "127.0.0.1:9090", "file:///etc/passwd", "ftp://host/"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(ValueError, match="http"):
        from_prometheus(url)


# -- the detectors' aggregates from PromQL (the Prometheus engine) ---------------------------------------------
def test_aggregates_from_prometheus_match_the_events_of_the_same_process(prom_stack: Stack) -> None:
    """The scenario process also writes its events (rolled directory): the Prometheus engine's per-minute
    counts of its instance agree with the pandas engine's counts of those events, reduced to what the metrics
    carry."""
    from jwtobs.analysis import incidents, load_events
    from jwtobs.analysis.aggregate import COUNTS_SCHEMA, LATENESS_SCHEMA, aggregate
    from jwtobs.analysis.prometheus import aggregates_from_prometheus, metrics_view

    first = load_events(prom_stack.tmp / "events")["time"].min().timestamp()
    end = time.time() - 2
    aggs = aggregates_from_prometheus(
        prom_stack.prometheus.url, start=first - 600, end=end, job=JOB, matchers={"instance": _instance(prom_stack)}
    )
    queried = time.time()
    # the latest scrape the query at `end` reads (every second, later on a loaded machine): it has counted every
    # event recorded before it
    (up,) = prom_stack.prometheus.get(
        "/api/v1/query", {"query": f'timestamp(up{{job="{JOB}",instance="{_instance(prom_stack)}"}})', "time": end}
    )["result"]
    scraped = float(up["value"][1])
    # (Prometheus keeps timestamps in milliseconds: a scrape in the millisecond of `end` reads as up to 1 ms later)
    assert end - 60 < scraped <= end + 0.001
    assert aggs.engine == "prometheus" and not aggs.has_cont
    assert list(aggs.counts.columns) == list(COUNTS_SCHEMA) and list(aggs.lateness.columns) == list(LATENESS_SCHEMA)
    assert aggs.counts["client_id"].isna().all() and aggs.counts["count"].gt(0).all()
    assert {"JWT_EXPIRED", "JWT_BAD_SIGNATURE", "JWT_UNSIGNED"} <= set(aggs.counts["reason"].dropna())

    # the scenario's rolling sink writes every second (later on a loaded machine): wait, bounded, until it has
    # written events from after the query, so every event the query could have counted is on disk
    deadline = time.monotonic() + 30
    while True:
        events = load_events(prom_stack.tmp / "events")
        if events["time"].max() >= pd.Timestamp(queried + 1, unit="s", tz="UTC") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    view = metrics_view(aggregate(events))
    assert int(view.counts["count"].sum()) == len(events) and view.counts["client_id"].isna().all()
    # each minute's count is the counters' increase between the scrapes read at its two ends: a scrape late on
    # a loaded machine moves the events before it into the next minute. So the count lies between the events
    # between those scrapes for sure (+-1 s: a counter moves when the event is built, just after its time) and
    # all events that may be between them (the minute in progress: up to its latest scrape, at most the query),
    # within 5 %
    t = events["time"]
    prom = aggs.counts.groupby("minute")["count"].sum()
    assert len(prom) >= 1
    first_m, last_m = prom.index.min().timestamp(), prom.index.max().timestamp()
    (ups,) = prom_stack.prometheus.get(
        "/api/v1/query_range",
        {
            "query": f'timestamp(up{{job="{JOB}",instance="{_instance(prom_stack)}"}})',
            "start": first_m,
            "end": last_m + 60,
            "step": 60,
        },
    )["result"]
    scrape_at = {float(at): float(v) for at, v in ups["values"]}

    def n_between(a: float, b: float) -> int:
        return int(((t > pd.Timestamp(a, unit="s", tz="UTC")) & (t <= pd.Timestamp(b, unit="s", tz="UTC"))).sum())

    for m, p in prom.items():
        start_m = m.timestamp()
        # the scrape read at the minute's start (none yet: the counters counted from zero before it)
        prev_lo, prev_hi = (scrape_at[start_m],) * 2 if start_m in scrape_at else (start_m, -1e12)
        if start_m + 60 <= end:  # a whole minute: the scrape read at its end
            cur_lo = cur_hi = scrape_at.get(start_m + 60, start_m + 60)
        else:  # the minute in progress: its latest scrape when the query ran, at least the one at `end`
            cur_lo, cur_hi = scraped, queried
        lo, hi = n_between(prev_lo + 1, cur_lo - 1), n_between(prev_hi - 1, cur_hi + 1)
        assert 0.95 * lo <= p <= 1.05 * hi, (m, prev_lo - start_m, cur_lo - start_m, lo, p, hi)
    late = aggs.lateness[(aggs.lateness["outcome"] == "rejected") & (aggs.lateness["direction"] == "late")]
    assert set(late["issuer"]) == {"https://internal.test"}
    assert late.loc[late["le"] <= 60, "count"].sum() > 3 * late.loc[late["le"] > 60, "count"].sum()  # 5 of 6: 10 s
    found = incidents(aggs)
    assert list(found.columns)[:3] == ["kind", "start", "end"]


def test_aggregates_from_unreachable_prometheus_is_a_clear_error() -> None:
    from jwtobs.analysis.prometheus import aggregates_from_prometheus

    with pytest.raises(PrometheusError, match="cannot reach Prometheus"):
        aggregates_from_prometheus(f"http://127.0.0.1:{_closed_port()}", timeout=2)


def test_a_server_that_is_not_prometheus_is_a_clear_error() -> None:
    """A loopback web server answering 404 HTML, or 200 with a page that is not JSON: one line naming the URL."""
    import http.server
    import threading

    from jwtobs.analysis.prometheus import aggregates_from_prometheus

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = 200 if "/ok/" in self.path else 404
            body = b"<html>not here</html>"
            reply(self, code, body, "text/html")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        for url, what in ((base, "HTTP 404"), (f"{base}/ok", "response is not JSON")):
            with pytest.raises(PrometheusError) as err:
                aggregates_from_prometheus(url, timeout=5)
            msg = str(err.value)
            assert msg.startswith(f"{url}/api/v1/query_range: {what}") and "\n" not in msg, msg
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("name", ["failure_trends.ipynb", "rotation_incidents.ipynb"])
def test_notebooks_with_the_prometheus_engine(prom_stack: Stack, name: str) -> None:
    """Both notebooks read the detectors' aggregates from this Prometheus alone (no event files) and say
    what the metrics cannot show instead of failing."""
    from tests.analysis.test_engines_notebooks import output_text, run_notebook

    nb = run_notebook(name, {"events_path": "", "prometheus_url": prom_stack.prometheus.url})
    text = output_text(nb)
    assert "engine prometheus:" in text
    assert " 0 validations" not in text  # the scenario's traffic, as scraped
