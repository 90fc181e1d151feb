"""Session 35: observable counters across configurations, spans at exit whatever the order the SDK providers were
created in, and a tracer provider whose ``get_tracer`` raises. Real SDK providers, a loopback JWKS endpoint."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import jwtobs
from jwtobs import config

from .conftest import AUD, ISS, JwksServer, Keys, claims

SECRET = b"s" * 32


def _points(reader: InMemoryMetricReader, name: str) -> dict[str, Any]:
    """The exported data points of one instrument: sorted attributes as JSON -> value (count for a histogram)."""
    out: dict[str, Any] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data is not None else ():
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name == name:
                    for dp in m.data.data_points:
                        key = json.dumps(dict(sorted(dp.attributes.items())))
                        out[key] = getattr(dp, "value", getattr(dp, "count", None))
    return out


def _total(reader: InMemoryMetricReader, name: str) -> Any:
    return sum(_points(reader, name).values())


def _failing_sink(record: object) -> None:
    raise OSError("the log shipper is down")


def _decode_many(n: int) -> None:
    decode = jwtobs.wrap(jwt.decode)
    for i in range(n):
        token = jwt.encode({"sub": str(i), "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
        decode(token, SECRET, algorithms=["HS256"])


def _rsa_verifier(keys: Keys, source: jwtobs.KeySource) -> jwtobs.Verifier:
    profile = jwtobs.Profile(name="api", issuer=ISS, audience=AUD, algorithms=("RS256",))
    return jwtobs.Verifier(profile, keys=source, backend="pyjwt")


def _rsa_token(keys: Keys) -> str:
    return jwt.encode(claims(), keys.rsa, algorithm="RS256", headers={"kid": "k1", "typ": "at+jwt"})


def test_counters_keep_counting_through_repeated_configure(keys: Keys, jwks_server: JwksServer) -> None:
    """Three configure() calls on one SDK MeterProvider, each losing records to a raising sink, then a real JWKS
    fetch: the exported jwtobs.events.dropped and jwtobs.telemetry.failures{sink} are the sums over the three, and
    jwtobs.jwks.fetches / jwtobs.jwks.keys are exported. Before session 35 the SDK kept the first configuration's
    callbacks: 3 exported (the first configuration's losses) instead of 3 + 5 + 7, and no JWKS series at all."""
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    try:
        lost = 0
        for n in (3, 5, 7):
            state = jwtobs.configure(
                meter_provider=mp, sinks=[_failing_sink], fingerprint_key=b"k" * 32, from_env=False, defer=False
            )
            _decode_many(n)
            lost += n
            jwtobs.flush()
            assert state.telemetry.events_dropped() == n  # (this configuration's own)
            assert _total(reader, "jwtobs.events.dropped") == lost
            assert _points(reader, "jwtobs.telemetry.failures") == {'{"jwtobs.component": "sink"}': lost}
        assert _total(reader, "jwtobs.validation.duration") == lost

        jwks_server.publish((keys.rsa.public_key(), "k1", "RS256"))
        source = jwtobs.JwksSource(jwks_server.url, timeout=2.0)
        _rsa_verifier(keys, source).verify(_rsa_token(keys))
        jwtobs.flush()
        assert jwks_server.requests == 1
        fetches = _points(reader, "jwtobs.jwks.fetches")
        assert fetches == {
            json.dumps({"jwtobs.issuer": ISS, "jwtobs.outcome": "success", "jwtobs.trigger": "startup"}): 1
        }
        assert _points(reader, "jwtobs.jwks.keys") == {json.dumps({"jwtobs.issuer": ISS}): 1.0}
        lost += 2  # that validation and the key-set change record, both refused by the sink
        assert _total(reader, "jwtobs.events.dropped") == lost
        # and the counts survive one more configure(): nothing exported goes back
        jwtobs.configure(meter_provider=mp, fingerprint_key=b"k" * 32, from_env=False, defer=False)
        assert _total(reader, "jwtobs.events.dropped") == lost
        assert _total(reader, "jwtobs.jwks.fetches") == 1
        assert _points(reader, "jwtobs.jwks.keys") == {json.dumps({"jwtobs.issuer": ISS}): 1.0}
    finally:
        config.reset()
        mp.shutdown()


def test_use_providers_counts_a_shared_sink_once(tmp_path: Path) -> None:
    """use_providers() (JwtInstrumentor's tracer_provider=) makes a second configuration on the same meter provider,
    sharing the sinks: records it loses are exported, and the file sink the two share is counted once. Before
    session 35 the second configuration's losses were never exported (4 instead of 8)."""
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    try:
        jwtobs.configure(
            meter_provider=mp,
            sinks=[_failing_sink],
            events_path=blocker / "events.jsonl",  # its parent is a regular file: every record dropped
            fingerprint_key=b"k" * 32,
            from_env=False,
            defer=False,
        )
        _decode_many(2)
        jwtobs.flush()
        assert _total(reader, "jwtobs.events.dropped") == 4  # 2 raised by the sink, 2 the file could not take
        tp = TracerProvider()
        config.use_providers(tracer_provider=tp)
        _decode_many(2)
        jwtobs.flush()
        assert _total(reader, "jwtobs.events.dropped") == 8
        assert _points(reader, "jwtobs.telemetry.failures") == {'{"jwtobs.component": "sink"}': 4}
    finally:
        config.reset()
        mp.shutdown()


_VALIDATE_THEN_CONFIGURE = r"""
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

reader = InMemoryMetricReader()
metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
import jwtobs

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
jwk.update(kid="k1", use="sig", alg="RS256")
body = json.dumps({"keys": [jwk]}).encode()

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=httpd.serve_forever, daemon=True).start()
ISS, AUD = "https://idp.test", "api"
token = jwt.encode({"iss": ISS, "aud": AUD, "sub": "a", "exp": int(time.time()) + 600}, key, "RS256",
                   headers={"kid": "k1", "typ": "at+jwt"})
profile = jwtobs.Profile(name="p", issuer=ISS, audience=AUD, algorithms=("RS256",))
static = jwtobs.Verifier(profile, keys=jwtobs.StaticKeys({"k1": key.public_key()}), backend="pyjwt")
static.verify(token)  # before the application's configure(): the implicit configuration from the environment
jwtobs.flush()

def lose(record):
    raise OSError("down")

state = jwtobs.configure(sinks=[lose], defer=False, fingerprint_key="k" * 32, from_env=False)
for _ in range(25):
    static.verify(token)
source = jwtobs.JwksSource(f"http://127.0.0.1:{httpd.server_address[1]}/jwks.json", timeout=2.0)
jwtobs.Verifier(profile, keys=source, backend="pyjwt").verify(token)
jwtobs.flush()

def points(name):
    out = {}
    for rm in reader.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                if m.name == name:
                    for dp in m.data.data_points:
                        value = getattr(dp, "value", getattr(dp, "count", None))
                        out[json.dumps(dict(sorted(dp.attributes.items())))] = value
    return out

print(json.dumps({
    "own": state.telemetry.events_dropped(),
    "dropped": points("jwtobs.events.dropped"),
    "failures": points("jwtobs.telemetry.failures"),
    "fetches": points("jwtobs.jwks.fetches"),
    "keys": points("jwtobs.jwks.keys"),
    "validations": sum(points("jwtobs.validation.duration").values()),
}))
httpd.shutdown()
"""


def test_a_validation_before_configure_leaves_the_counters_of_the_configuration_exported() -> None:
    """A global SDK MeterProvider, one validation before the application's configure() (the implicit configuration
    registers the instruments first), 27 records lost, a JWKS fetch: all of it exported. Before session 35:
    jwtobs.events.dropped 0, no failures, no jwtobs.jwks.fetches nor jwtobs.jwks.keys series."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTOBS_") and not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", _VALIDATE_THEN_CONFIGURE], capture_output=True, text=True, timeout=120, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["own"] == 27  # 25 validations, the JWKS one and its key-set change record, all refused by the sink
    assert out["dropped"] == {"{}": 27}
    assert out["failures"] == {'{"jwtobs.component": "sink"}': 27}
    assert out["fetches"] == {
        json.dumps({"jwtobs.issuer": "https://idp.test", "jwtobs.outcome": "success", "jwtobs.trigger": "startup"}): 1
    }
    assert out["keys"] == {json.dumps({"jwtobs.issuer": "https://idp.test"}): 1.0}
    assert out["validations"] == 27


_EXIT_AFTER_CONFIGURE = """
import sys, time, jwt, jwtobs
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
out = open(sys.argv[1], "w")
class Spans(SpanExporter):
    def export(self, spans):
        out.write("span\\n" * len(spans)); out.flush(); return SpanExportResult.SUCCESS
def providers():
    tp = TracerProvider()
    tp.add_span_processor((BatchSpanProcessor if sys.argv[2] == "batch" else SimpleSpanProcessor)(Spans()))
    trace.set_tracer_provider(tp)
    metrics.set_meter_provider(MeterProvider())
if sys.argv[3] == "before":
    providers()
jwtobs.configure(fingerprint_key="k" * 32)
if sys.argv[3] == "after":  # the order the README suggests: jwtobs first, then the application's SDK
    providers()
time.sleep(1.1)  # (providers are looked up at most once a second)
decode = jwtobs.wrap(jwt.decode)
secret = b"s" * 32
for i in range(300):
    decode(jwt.encode({"sub": str(i), "exp": int(time.time()) + 60}, secret, algorithm="HS256"), secret,
           algorithms=["HS256"])
"""


@pytest.mark.parametrize("order", ["after", "before"])
@pytest.mark.parametrize("processor", ["simple", "batch"])
def test_spans_reach_the_exporter_at_exit_whatever_order_the_providers_were_made_in(
    tmp_path: Path, order: str, processor: str
) -> None:
    """A script that configures jwtobs, installs global SDK providers (after configure(), or before), validates 300
    times and exits without flush(): every span is exported, nothing is logged. Before session 35, with the
    providers made after configure(): 0 of 300 and one "Processor is already shutdown" line per span."""
    out = tmp_path / "spans.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWTOBS_") and not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", _EXIT_AFTER_CONFIGURE, str(out), processor, order],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.read_text().splitlines().count("span") == 300
    assert "shutdown" not in done.stderr, done.stderr[:300]


class _RaisingTracerProvider(TracerProvider):
    """An SDK provider whose get_tracer raises (``fail`` more times; None: always)."""

    def __init__(self, fail: int | None = None) -> None:
        super().__init__()
        self.fail = fail
        self.asked = 0

    def get_tracer(self, *args: Any, **kwargs: Any) -> Any:
        self.asked += 1
        if self.fail is None or self.asked <= self.fail:
            raise RuntimeError("tracer backend down")
        return super().get_tracer(*args, **kwargs)


def test_a_tracer_provider_that_cannot_give_a_tracer_leaves_every_measurement(
    keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    """Deferred (the default), metrics only, a tracer provider whose get_tracer raises: all 50 validations are
    measured, no record is lost, and each failed span is counted under span with the tracer's own exception. Before
    session 35 the first record was lost whole (49 measured, events.dropped 1, failures{event} 1) and every later span
    failed on an internal AssertionError."""
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    tp = _RaisingTracerProvider()
    try:
        state = jwtobs.configure(
            tracer_provider=tp, meter_provider=mp, fingerprint_key=b"k" * 32, from_env=False, defer=True
        )
        verifier = _rsa_verifier(keys, jwtobs.StaticKeys({"k1": keys.rsa.public_key()}))
        token = _rsa_token(keys)
        with caplog.at_level(logging.WARNING, logger="jwtobs"):
            for _ in range(50):
                verifier.verify(token)
            jwtobs.flush()
        assert _total(reader, "jwtobs.validation.duration") == 50
        assert state.telemetry.events_dropped() == 0
        assert state.telemetry.failures() == {"span": 50}
        assert _points(reader, "jwtobs.telemetry.failures") == {'{"jwtobs.component": "span"}': 50}
        assert "AssertionError" not in caplog.text
        assert "RuntimeError" in caplog.text
    finally:
        config.reset()
        mp.shutdown()


@pytest.mark.parametrize("defer", [True, False])
def test_a_tracer_provider_that_failed_once_gets_the_later_spans(defer: bool) -> None:
    """get_tracer raises twice (the backend was briefly down): the span it could not make is counted as failed,
    the following ones are exported. Before session 35 the failed tracer was never asked again: every later span failed
    on an internal assert (0 of 9 exported)."""
    exporter = InMemorySpanExporter()
    tp = _RaisingTracerProvider(fail=2)
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    try:
        state = jwtobs.configure(tracer_provider=tp, fingerprint_key=b"k" * 32, from_env=False, defer=defer)
        _decode_many(10)
        jwtobs.flush()
        failed = state.telemetry.failures()
        assert set(failed) <= {"span"}  # (never "event": no record lost)
        spans = len(exporter.get_finished_spans())
        assert spans + failed.get("span", 0) == 10 and spans >= 8
        assert state.telemetry.events_dropped() == 0
    finally:
        config.reset()
        tp.shutdown()


def test_an_events_path_under_a_regular_file_is_reported_as_not_a_directory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The parent of events_path is a regular file: the warning names NotADirectoryError, and every record is dropped
    and counted. Before session 35 it named FileExistsError (what os.makedirs raises there)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="jwtobs"):
        state = jwtobs.configure(
            events_path=blocker / "events.jsonl", fingerprint_key=b"k" * 32, from_env=False, defer=False
        )
        _decode_many(3)
        jwtobs.flush()
    assert state.telemetry.events_dropped() == 3
    assert "(NotADirectoryError)" in caplog.text and "FileExistsError" not in caplog.text
