"""Bare vs wrapped ``jwt.decode`` (PyJWT), measured in the same run, reported as ratios.

Run: ``.venv/bin/python benchmarks/bench_wrap.py [--n 2000] [--repeat 7] [--algs HS256,RS256,ES256]``

Configurations (each wrapped run is compared with a bare run interleaved with it, A/B in one process):
  span not sampled   TracerProvider(ALWAYS_OFF), MeterProvider + InMemoryMetricReader, JSONL event file
  span sampled       TracerProvider(ALWAYS_ON) + BatchSpanProcessor(in-memory exporter), same metrics and file
  mode               ``default`` (nothing passed: deferred) or ``sync`` (``configure(defer=False)``)

Two numbers per row, each a ratio to the bare run:
  request  wall time of the calls on the request thread (``time.perf_counter``): what a caller waits,
           including any time jwtobs's background threads hold the GIL meanwhile (``--clock cpu``: the
           request thread's own CPU, ``time.thread_time``, steadier when other work shares the cores)
  total    CPU of every thread: the request thread's CPU in the wrapped calls, plus the CPU every other
           thread of the process used during the repeat (jwtobs's event builder and JSONL writer, the span
           processor), plus what jwtobs still owes at the end of the repeat, paid on the request thread: the
           event queue built, the events encoded and written, the metric measurements recorded into the SDK
           by a collection, the spans exported. The bare run's: the request thread's CPU in the bare calls.
Bare and wrapped calls alternate in chunks of ``CHUNK`` (50) tokens, the order swapped every chunk, so load
from other processes falls on both. Every call validates a distinct, freshly signed token (no cache can
help), accepted or rejected (expired); the bare and wrapped calls of a repeat validate the same tokens.

``--threads`` adds the saturation run: two threads validating at once on the 2-core machine, wall time to
validate and drain everything, throughput wrapped / bare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
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

ISS = "https://issuer.example"
#: tokens per chunk: bare and wrapped calls alternate chunk by chunk
CHUNK = 50
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
    """Wall seconds per call on this thread (``after`` included: the work still owed)."""
    t0 = time.perf_counter()
    for t in tokens:
        fn(t)
    if after is not None:
        after()
    return (time.perf_counter() - t0) / len(tokens)


def configure_bench(tmp: str, tp: TracerProvider, n: int, defer: bool | None) -> InMemoryMetricReader:
    """jwtobs configured as the benchmarks measure it: metrics to an in-memory reader, events to a JSONL file
    under ``tmp`` (the default sink settings), spans to ``tp``; ``defer`` ``None`` is the default (deferred).
    Returns the metric reader (collect it to pay the deferred metric work)."""
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    options: dict[str, Any] = {} if defer is None else {"defer": defer}
    jwtobs.configure(
        tracer_provider=tp,
        meter_provider=mp,
        fingerprint_key="bench-fingerprint-key",
        events_path=os.path.join(tmp, "events.jsonl"),
        issuers=[ISS],
        from_env=False,
        **options,
    )
    return reader


def _provider(sampled: bool) -> tuple[TracerProvider, InMemorySpanExporter | None]:
    tp = TracerProvider(sampler=ALWAYS_ON if sampled else ALWAYS_OFF)
    exporter = None
    if sampled:
        exporter = InMemorySpanExporter()
        tp.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=100_000))
    return tp, exporter


def run(
    alg: str,
    pair: tuple[Any, Any],
    n: int,
    repeat: int,
    sampled: bool,
    expired: bool,
    defer: bool | None,
    clock: str = "wall",
) -> dict[str, float]:
    priv, pub = pair
    with tempfile.TemporaryDirectory() as tmp:
        tp, exporter = _provider(sampled)
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

        def owed() -> None:
            jwtobs.flush()  # build waiting events, write buffered ones, replay buffered metric measurements
            reader.get_metrics_data()
            tp.force_flush()
            if exporter is not None:
                exporter.clear()

        # Bare and wrapped calls alternate in chunks of CHUNK tokens (order swapped every chunk), so load that
        # changes during a repeat falls on both. The main thread's CPU is read per chunk (time.thread_time);
        # the CPU every other thread used during the repeat (the event builder, the JSONL writer, the span
        # processor: work only wrapped calls cause) is the process's CPU minus the main thread's.
        wall = clock == "wall"
        bare_w, req_w, bare_c, tot_c = [], [], [], []
        for _ in range(repeat):
            toks = mint(alg, priv, n, expired=expired)
            owed()
            req = {bare: 0.0, wrapped: 0.0}
            cpu = {bare: 0.0, wrapped: 0.0}
            t_start, p_start = time.thread_time(), time.process_time()
            for i in range(0, n, CHUNK):
                chunk = toks[i : i + CHUNK]
                for fn in (bare, wrapped) if (i // CHUNK) % 2 == 0 else (wrapped, bare):
                    c0, w0 = time.thread_time(), time.perf_counter()
                    for t in chunk:
                        fn(t)
                    w1, c1 = time.perf_counter(), time.thread_time()
                    cpu[fn] += c1 - c0
                    req[fn] += (w1 - w0) if wall else (c1 - c0)
            c0 = time.thread_time()
            owed()
            owed_main = time.thread_time() - c0
            others = (time.process_time() - p_start) - (time.thread_time() - t_start)
            bare_w.append(req[bare] / n)
            req_w.append(req[wrapped] / n)
            bare_c.append(cpu[bare] / n)
            tot_c.append((cpu[wrapped] + owed_main + others) / n)
        tp.shutdown()
        med = statistics.median
        b, r, bc, tc = med(bare_w), med(req_w), med(bare_c), med(tot_c)
        return {
            "bare_us": b * 1e6,
            "request_us": r * 1e6,
            "request": r / b,
            "request_over_us": (r - b) * 1e6,
            "total": tc / bc,
        }


def saturate(pair: tuple[Any, Any], alg: str, n: int, repeat: int) -> dict[str, float]:
    """Two threads validating at once: wall seconds to validate 2n tokens and drain, bare vs default wrap."""
    priv, pub = pair
    with tempfile.TemporaryDirectory() as tmp:
        tp, _ = _provider(False)
        reader = configure_bench(tmp, tp, n, None)
        decode = jwtobs.wrap(jwt.decode)
        kw = {"algorithms": [alg], "audience": AUD, "issuer": ISS}

        def both(fn: Callable[..., Any], pools: list[list[str]], after: Callable[[], None] | None) -> float:
            def work(toks: list[str]) -> None:
                for t in toks:
                    fn(t, pub, **kw)

            threads = [threading.Thread(target=work, args=(p,)) for p in pools]
            t0 = time.perf_counter()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            if after is not None:
                after()
            return time.perf_counter() - t0

        def owed() -> None:
            jwtobs.flush()
            reader.get_metrics_data()

        ratios = []
        for _ in range(repeat):
            pools = [mint(alg, priv, n, expired=False) for _ in range(2)]
            owed()
            b = both(jwt.decode, pools, None)
            w = both(decode, pools, owed)
            ratios.append(b / w)
        tp.shutdown()
        return {"throughput": statistics.median(ratios)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--algs", default="HS256,RS256,ES256")
    ap.add_argument("--modes", default="default,sync")
    ap.add_argument("--threads", action="store_true", help="also run the two-thread saturation (RS256)")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="request column: wall or thread CPU")
    args = ap.parse_args()
    ks = keys()
    print(
        f"{'alg':6} {'outcome':9} {'span':11} {'mode':8} {'bare µs':>8} {'request µs':>10} {'request':>8} "
        f"{'+µs':>6} {'total CPU':>9}"
    )
    for alg in args.algs.split(","):
        for expired in (False, True):
            for sampled in (False, True):
                for mode in args.modes.split(","):
                    r = run(
                        alg,
                        ks[alg],
                        args.n,
                        args.repeat,
                        sampled,
                        expired,
                        None if mode == "default" else False,
                        args.clock,
                    )
                    print(
                        f"{alg:6} {'rejected' if expired else 'accepted':9} "
                        f"{'sampled' if sampled else 'not sampled':11} {mode:8} {r['bare_us']:8.1f} "
                        f"{r['request_us']:10.1f} {r['request']:8.3f} {r['request_over_us']:6.1f} {r['total']:9.3f}",
                        flush=True,
                    )
    if args.threads:
        s = saturate(ks["RS256"], "RS256", args.n, args.repeat)
        print(f"two threads, RS256 accepted, default: throughput wrapped/bare {s['throughput']:.3f}", flush=True)
    config.reset()


if __name__ == "__main__":
    main()
