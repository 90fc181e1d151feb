"""A real Prometheus on 127.0.0.1 scraping a real jwtobs process (tests/dashboards/scenario.py) every second,
with the shipped rules loaded. One stack per session, torn down whatever happens."""

from __future__ import annotations

import json
import math
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.dashboards import queries
from tests.dashboards.scenario import has_jwks_source, has_redact

SCENARIO = Path(__file__).with_name("scenario.py")
JOB = "jwtobs-scenario"
#: bound on the wait for every expected expression to have data
DATA_DEADLINE_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PrometheusAPI:
    """The few Prometheus HTTP API calls the tests use (stdlib only)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def get(self, path: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None) -> Any:
        qs = "?" + urllib.parse.urlencode(params or {}) if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{qs}", timeout=10) as resp:
            doc = json.loads(resp.read())
        assert doc["status"] == "success", doc
        return doc["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self.get("/api/v1/query", {"query": expr})
        assert data["resultType"] == "vector", data
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, seconds: float = 30, step: float = 2) -> list[dict[str, Any]]:
        end = time.time()
        data = self.get("/api/v1/query_range", {"query": expr, "start": end - seconds, "end": end, "step": step})
        result: list[dict[str, Any]] = data["result"]
        return result

    def series_values(self, result: list[dict[str, Any]]) -> list[float]:
        out = []
        for series in result:
            if "value" in series:
                out.append(float(series["value"][1]))
            out.extend(float(v) for _, v in series.get("values", []))
        return out

    def has_data(self, check: queries.Check) -> bool:
        result = self.query(check.expr) if check.instant else self.query_range(check.expr)
        return any(math.isfinite(v) for v in self.series_values(result))


@dataclass
class Stack:
    prometheus: PrometheusAPI
    metrics_port: int
    features: frozenset[str]
    tmp: Path
    logs: dict[str, Path] = field(default_factory=dict)

    def expected(self, check: queries.Check) -> bool:
        """Whether the scenario produces data for this check (JWKS/redaction parts need their features)."""
        return check.needs <= self.features

    def log_tail(self) -> str:
        return "\n".join(f"--- {n} ---\n{p.read_text(errors='replace')[-3000:]}" for n, p in self.logs.items())


def features() -> frozenset[str]:
    out = set()
    if has_jwks_source():
        out.add("jwks")
    if has_redact():
        out.add("redact")
    return frozenset(out)


def _stop(proc: subprocess.Popen[Any] | None, *, close_stdin: bool = False) -> None:
    if proc is None or proc.poll() is not None:
        return
    if close_stdin and proc.stdin is not None:
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            pass
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def start_prometheus(
    binary: str, tmp: Path, config: dict[str, Any], log: Path
) -> tuple[subprocess.Popen[bytes], PrometheusAPI]:
    """A Prometheus on a free loopback port with ``config`` (its data and config under ``tmp``, output in
    ``log``); the caller stops it with :func:`_stop`."""
    port = free_port()
    (tmp / "prometheus.yml").write_text(json.dumps(config))  # JSON is YAML
    with open(log, "wb") as out:
        prom = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=str(tmp),
        )
    return prom, PrometheusAPI(f"http://127.0.0.1:{port}")


def _wait_for(what: str, ok: Callable[[], bool], deadline_s: float, stack_logs: Callable[[], str]) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if ok():
                return
        except (OSError, urllib.error.URLError, AssertionError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out after {deadline_s:.0f}s waiting for {what}\n{stack_logs()}")


@pytest.fixture(scope="session")
def prom_stack() -> Iterator[Stack]:
    prometheus_bin = shutil.which("prometheus")
    if prometheus_bin is None:
        pytest.skip("the prometheus binary is not installed (Debian: apt-get install prometheus)")
    tmp = Path(tempfile.mkdtemp(prefix="jwtobs-prom-"))
    scenario: subprocess.Popen[str] | None = None
    replica: subprocess.Popen[str] | None = None
    prom: subprocess.Popen[bytes] | None = None
    logs = {"scenario": tmp / "scenario.err", "replica": tmp / "replica.err", "prometheus": tmp / "prometheus.log"}

    def start_scenario(name: str, events: str, *extra: str) -> tuple[subprocess.Popen[str], int]:
        with open(logs[name], "w") as err:
            proc = subprocess.Popen(
                [sys.executable, str(SCENARIO), "--max-seconds", "150", "--events-dir", str(tmp / events), *extra],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                cwd=str(queries.ROOT),
            )
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the scenario prints its ports first (bounded by its own start-up)
        if not line:
            raise AssertionError(f"{name} exited before printing its port:\n" + logs[name].read_text())
        return proc, int(json.loads(line)["metrics_port"])

    try:
        # two replicas of one service, scraped as one job: the scenario and a peer that only sees good tokens (its
        # events in a directory of their own, so that tests can compare each process's events with its metrics)
        scenario, metrics_port = start_scenario("scenario", "events")
        replica, replica_port = start_scenario("replica", "events-replica", "--healthy-replica")

        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(queries.RULES)],
            "scrape_configs": [
                {
                    "job_name": JOB,
                    "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}", f"127.0.0.1:{replica_port}"]}],
                }
            ],
        }
        prom, api = start_prometheus(prometheus_bin, tmp, config, logs["prometheus"])
        stack = Stack(api, metrics_port, features(), tmp, logs)

        def ready() -> bool:
            with urllib.request.urlopen(f"{api.url}/-/ready", timeout=2) as resp:
                return bool(resp.status == 200)

        _wait_for("Prometheus to be ready", ready, 30, stack.log_tail)
        checks = [
            c
            for c in queries.panel_checks() + queries.variable_checks() + queries.rule_checks()
            if stack.expected(c) and c.id != "alert:JwtobsJwksKeySetStale"
        ]

        def all_have_data() -> bool:
            assert scenario is not None and scenario.poll() is None, "scenario process exited"
            return all(api.has_data(c) for c in checks)

        try:
            _wait_for("every expected query to return data", all_have_data, DATA_DEADLINE_S, stack.log_tail)
        except AssertionError:
            pass  # the tests below name the queries that have no data
        yield stack
    finally:
        _stop(scenario, close_stdin=True)
        _stop(replica, close_stdin=True)
        _stop(prom)
        shutil.rmtree(tmp, ignore_errors=True)
