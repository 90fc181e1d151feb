"""from_prometheus over a target whose scrapes fail now and then (a real Prometheus, a loopback target).

A failed scrape makes Prometheus write staleness markers for the target's series; a plain selector then
returns nothing at a step whose latest sample is such a marker, and the next step carries two steps' counts
(a doubled minute that reads as a burst). Counters are read as their last scraped value at each step.
"""

from __future__ import annotations

import http.server
import math
import shutil
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from jwtobs.analysis.prometheus import from_prometheus
from tests.dashboards.conftest import PrometheusAPI, _stop, start_prometheus
from tests.loopback import reply

RATE = 100  # validations per second the target reports
STEP = 4.0  # seconds per step of the query
FAIL_FROM, FAIL_TO = 6.6, 8.2  # scrapes in this part of every 8 s (a step time at 8) answer 500
STEPS = 6  # steps checked: start, start + 4, ..., start + 24 (four of them inside a failure window)
JOB = "flaky-target"


class _Target:
    """A jwtobs-like exposition whose counter grows at RATE per second and whose scrapes fail on schedule."""

    def __init__(self) -> None:
        self.born = time.time()
        self.start: float | None = None  # the query's start; failures are scheduled relative to it
        self.failed = 0
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                now = time.time()
                if target.start is not None and FAIL_FROM <= (now - target.start) % 8.0 < FAIL_TO:
                    target.failed += 1
                    self.send_error(500)
                    return
                count = int((now - target.born) * RATE)
                body = (
                    "# TYPE jwtobs_validation_duration_seconds_count counter\n"
                    f'jwtobs_validation_duration_seconds_count{{jwtobs_outcome="accepted"}} {count}\n'
                    "# TYPE jwtobs_validation_duration_seconds_sum counter\n"
                    f'jwtobs_validation_duration_seconds_sum{{jwtobs_outcome="accepted"}} {count * 0.001}\n'
                ).encode()
                reply(self, 200, body, "text/plain; version=0.0.4")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def flaky() -> Iterator[tuple[PrometheusAPI, _Target]]:
    prometheus_bin = shutil.which("prometheus")
    if prometheus_bin is None:
        pytest.skip("the prometheus binary is not installed (Debian: apt-get install prometheus)")
    tmp = Path(tempfile.mkdtemp(prefix="jwtobs-flaky-"))
    target = _Target()
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [f"127.0.0.1:{target.port}"]}]}],
    }
    prom, api = start_prometheus(prometheus_bin, tmp, config, tmp / "prometheus.log")
    try:
        yield api, target
    finally:
        _stop(prom)
        target.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _up(api: PrometheusAPI) -> bool:
    try:
        with urllib.request.urlopen(f"{api.url}/-/ready", timeout=2) as resp:
            if resp.status != 200:
                return False
        return any(v == 1.0 for v in api.series_values(api.query(f'up{{job="{JOB}"}}')))
    except OSError:
        return False


def test_a_failed_scrape_at_a_step_does_not_move_its_counts_to_the_next_step(
    flaky: tuple[PrometheusAPI, _Target],
) -> None:
    api, target = flaky
    deadline = time.monotonic() + 60
    while not _up(api):
        assert time.monotonic() < deadline, "Prometheus never scraped the target"
        time.sleep(0.5)
    # the first step's increment is read against the counter's value one step before it: the series must
    # already exist then, otherwise the first step counts the whole counter as born in the range
    first_scrape = time.time()
    start = math.ceil(first_scrape + STEP) + 2.0
    target.start = start
    end = start + STEP * STEPS
    time.sleep(max(0.0, end + 1.5 - time.time()))  # every step's scrapes are in

    assert target.failed >= 4  # one or two failed scrapes before each of the steps at 0, 8, 16, 24
    plain = api.get(
        "/api/v1/query_range",
        {"query": f'jwtobs_validation_duration_seconds_count{{job="{JOB}"}}', "start": start, "end": end, "step": STEP},
    )["result"]
    plain_times = {float(t) for series in plain for t, _ in series["values"]}
    missing = [k for k in range(STEPS + 1) if start + k * STEP not in plain_times]
    assert missing, "no step fell on a stale sample: the schedule did not reach Prometheus as planned"

    df = from_prometheus(api.url, start=start, end=end, step=STEP, job=JOB, frames=["validations"]).validations
    counts = {t.timestamp(): c for t, c in zip(df["time"], df["count"], strict=True)}
    steps = [start + k * STEP for k in range(STEPS + 1)]
    # every step has its own increment: none is empty and none holds two steps' counts
    assert sorted(counts) == steps, (sorted(counts), steps, missing)
    assert max(counts.values()) <= RATE * (STEP + FAIL_TO - FAIL_FROM + 1.0), counts
    # nothing lost or counted twice: the increments add up to the counter's growth over the range
    assert sum(counts.values()) == pytest.approx(RATE * STEP * (STEPS + 1), rel=0.15)
