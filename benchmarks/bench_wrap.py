"""Bare vs wrapped ``jwt.decode`` (PyJWT), measured in the same run, reported as ratios.

Run: ``.venv/bin/python benchmarks/bench_wrap.py [--n 3000] [--repeat 7]``

Configurations (each wrapped run is compared with a bare run interleaved with it):
  metrics+event, span not sampled   TracerProvider(ALWAYS_OFF), MeterProvider + InMemoryMetricReader, JSONL file
  metrics+event, span sampled       TracerProvider(ALWAYS_ON) + BatchSpanProcessor(in-memory exporter)
Both "hot path" (what the request thread pays) and "amortised" (hot path + the deferred work: buffered
events written and metric measurements replayed at collection, timed in the same loop) are reported.
Every call validates a distinct, freshly signed token (no cache can help), accepted or rejected (expired).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

import jwtobs
from jwtobs import config
from jwtobs.events import JsonlSink

ISS = "https://issuer.example"
AUD = "billing-api"


def keys() -> dict[str, tuple[Any, Any]]:
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    e = ec.generate_private_key(ec.SECP256R1())
    secret = os.urandom(32)
    return {"HS256": (secret, secret), "RS256": (r, r.public_key()), "ES256": (e, e.public_key())}


def mint(alg: str, key: Any, n: int, *, expired: bool) -> list[str]:
    now = int(time.time())
    exp = now - 3600 if expired else now + 3600
    return [
        jwt.encode(
            {
                "iss": ISS,
                "aud": AUD,
                "sub": f"user-{i}",
                "jti": f"j{i}-{os.urandom(4).hex()}",
                "iat": now - 10,
                "exp": exp,
            },
            key,
            algorithm=alg,
            headers={"kid": f"{alg}-k1"},
        )
        for i in range(n)
    ]


def timed(fn: Callable[[str], None], tokens: list[str], after: Callable[[], None] | None = None) -> float:
    t0 = time.perf_counter()
    for t in tokens:
        fn(t)
    if after is not None:
        after()
    return (time.perf_counter() - t0) / len(tokens)


def configure_bench(tmp: str, tp: TracerProvider, n: int, defer: bool) -> InMemoryMetricReader:
    """jwtobs configured as the benchmarks measure it: metrics to an in-memory reader, events to a JSONL file
    under ``tmp``, spans to ``tp``. Returns the metric reader (collect it to pay the deferred metric work)."""
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    # The writer thread would otherwise wake every 512 events inside the timed loop and (GIL) bill its
    # JSON encoding to the request path; it is measured where it belongs, in the amortised column.
    sink = JsonlSink(os.path.join(tmp, "events.jsonl"), max_buffer=10 * n, flush_interval=3600)
    jwtobs.configure(
        tracer_provider=tp,
        meter_provider=mp,
        fingerprint_key="bench-fingerprint-key",
        sinks=[sink],
        issuers=[ISS],
        defer=defer,
        from_env=False,
    )
    return reader


def run(
    alg: str, pair: tuple[Any, Any], n: int, repeat: int, sampled: bool, expired: bool, defer: bool
) -> dict[str, float]:
    priv, pub = pair
    with tempfile.TemporaryDirectory() as tmp:
        tp = TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF)
        if sampled:
            tp.add_span_processor(BatchSpanProcessor(InMemorySpanExporter(), max_queue_size=100_000))
        reader = configure_bench(tmp, tp, n, defer)
        decode = jwtobs.wrap(jwt.decode)
        kw = {"algorithms": [alg], "audience": AUD, "issuer": ISS}

        def bare(t: str) -> None:
            try:
                jwt.decode(t, pub, **kw)
            except jwt.ExpiredSignatureError:
                pass

        def wrapped(t: str) -> None:
            try:
                decode(t, pub, **kw)
            except jwt.ExpiredSignatureError:
                pass

        def deferred() -> None:
            config.flush()  # write buffered events, replay buffered metric measurements
            reader.get_metrics_data()

        bare_t, hot_t, amort_t = [], [], []
        for _ in range(repeat):
            toks = mint(alg, priv, n, expired=expired)
            bare_t.append(timed(bare, toks))
            hot_t.append(timed(wrapped, toks))
            deferred()
            amort_t.append(timed(wrapped, toks, deferred))
        tp.shutdown()
        b, h, a = statistics.median(bare_t), statistics.median(hot_t), statistics.median(amort_t)
        return {"bare_us": b * 1e6, "wrapped_us": h * 1e6, "amortised_us": a * 1e6, "hot": h / b, "amortised": a / b}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--algs", default="HS256,RS256,ES256")
    args = ap.parse_args()
    ks = keys()
    print(
        f"{'alg':6} {'outcome':9} {'span':11} {'mode':8} {'bare µs':>8} {'wrapped µs':>11} {'hot ratio':>9} "
        f"{'amortised µs':>13} {'amort. ratio':>12}"
    )
    for alg in args.algs.split(","):
        for expired in (False, True):
            for sampled, defer in ((False, False), (False, True), (True, False), (True, True)):
                r = run(alg, ks[alg], args.n, args.repeat, sampled, expired, defer)
                print(
                    f"{alg:6} {'rejected' if expired else 'accepted':9} {'sampled' if sampled else 'not sampled':11} "
                    f"{'deferred' if defer else 'sync':8} {r['bare_us']:8.1f} {r['wrapped_us']:11.1f} "
                    f"{r['hot']:9.3f} {r['amortised_us']:13.1f} {r['amortised']:12.3f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
