"""The Prometheus exposition of a jwtobs process is one that Prometheus accepts and that the dashboards read:
each metric family once (a duplicate TYPE line makes Prometheus drop the whole scrape), JWKS fetch durations in
second-sized buckets, names as the rules expect."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import jwt
import pytest
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import REGISTRY, generate_latest

import jwtobs
from jwtobs import config
from jwtobs import telemetry as T

ISS = "https://issuer.test"


@pytest.fixture
def exposition() -> Iterator[str]:
    reader = PrometheusMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    try:
        state = jwtobs.configure(meter_provider=provider, fingerprint_key=os.urandom(32), issuers=[ISS], from_env=False)
        key = os.urandom(32)
        token = jwt.encode({"iss": ISS, "exp": int(time.time()) + 60}, key, algorithm="HS256", headers={"kid": "k1"})
        decode = jwtobs.wrap(jwt.decode)
        decode(token, key, algorithms=["HS256"])
        with pytest.raises(jwt.InvalidSignatureError):
            decode(token, os.urandom(32), algorithms=["HS256"])
        tel = state.telemetry
        attrs = {T.ATTR_ISSUER: ISS, T.ATTR_OUTCOME: "success", T.ATTR_TRIGGER: "unknown_kid"}
        # a JWKS source may count through count() and through instruments(), attributes in any order
        tel.count(T.JWKS_FETCHES, tuple(attrs.items()))
        inst = tel.instruments()
        assert inst is not None
        inst[T.JWKS_FETCHES].add(1, attrs)
        inst[T.JWKS_REFRESH_SUPPRESSED].add(2, {T.ATTR_ISSUER: ISS, T.ATTR_WHY: "cooldown"})
        inst[T.REDACTIONS].add(1, {T.ATTR_KIND: "jwt", T.ATTR_SINK: "logging"})
        inst[T.JWKS_FETCH_DURATION].record(0.02, {T.ATTR_ISSUER: ISS, T.ATTR_OUTCOME: "success"})
        tel.set_gauge(T.JWKS_KEYS, ((T.ATTR_ISSUER, ISS),), 2)
        config.flush()
        yield generate_latest(REGISTRY).decode()
    finally:
        provider.shutdown()  # the reader unregisters its collector from the global registry


def test_each_metric_family_once(exposition: str) -> None:
    types = [line.split()[2] for line in exposition.splitlines() if line.startswith("# TYPE ")]
    duplicates = sorted({t for t in types if types.count(t) > 1})
    assert not duplicates, duplicates
    assert {
        "jwtobs_validation_duration_seconds",
        "jwtobs_token_expiry_offset_seconds",
        "jwtobs_jwks_fetches_total",
        "jwtobs_jwks_fetch_duration_seconds",
        "jwtobs_jwks_refresh_suppressed_total",
        "jwtobs_jwks_keys",
        "jwtobs_redactions_total",
    } <= set(types)


def _samples(exposition: str, name: str) -> list[str]:
    return [line for line in exposition.splitlines() if line.startswith(name + "{")]


def test_counts_from_both_paths_land_in_one_series(exposition: str) -> None:
    fetches = _samples(exposition, "jwtobs_jwks_fetches_total")
    assert len(fetches) == 1 and fetches[0].endswith(" 2.0"), fetches
    suppressed = _samples(exposition, "jwtobs_jwks_refresh_suppressed_total")
    assert len(suppressed) == 1 and 'jwtobs_why="cooldown"' in suppressed[0] and suppressed[0].endswith(" 2.0")


def test_jwks_fetch_duration_buckets_are_in_seconds(exposition: str) -> None:
    buckets = {
        line.split('le="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in _samples(exposition, "jwtobs_jwks_fetch_duration_seconds_bucket")
    }
    assert buckets["0.01"] == 0 and buckets["0.025"] == 1  # a 20 ms fetch lands between 10 and 25 ms


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (apt-get install prometheus)")
def test_promtool_parses_the_exposition(exposition: str) -> None:
    jwtobs_only = "\n".join(line for line in exposition.splitlines() if "jwtobs_" in line and "target_info" not in line)
    proc = subprocess.run(
        ["promtool", "check", "metrics"], input=jwtobs_only + "\n", capture_output=True, text=True, timeout=60
    )
    # promtool lints names too (e.g. "counter metrics should have _total suffix"); a parse error is fatal
    assert "error while linting" not in proc.stderr and "second TYPE" not in proc.stderr, proc.stderr
