"""Cost of redaction in log pipelines, and scrub() on adversarial inputs. Ratios are measured in one run.

Run: ``.venv/bin/python benchmarks/bench_redact.py [--n 20000] [--repeat 7] [--sizes 1,4] [--clock cpu|wall]``

Pipelines (each redacted run interleaved with its baseline; per-call time is the best of ``--repeat`` runs):
  structlog   add_log_level, TimeStamper(iso), format_exc_info, [StructlogRedactor], JSONRenderer -> /dev/null
              clean events: an event name and 5 fields, request id / user id / path different on every call
              token events: the same plus ``authorization="Bearer <JWT>"`` (a freshly signed RS256 token)
  stdlib      logger.info("GET %s -> %d in %.1f ms (request %s)", ...) -> StreamHandler(/dev/null),
              "%(asctime)s %(levelname)s %(name)s %(message)s", with vs without LoggingRedactor on the handler
Targets: structlog clean <= 1.10x, structlog tokens <= 1.25x, stdlib <= 1.10x.

Adversarial: ``redact.scrub`` on 1 MB and 4 MB of "eyJ", ".", "a.", "Authorization:", "Bearer ", "%3D",
"token=" repeated, and a seeded random mix of those fragments with base64url text (target < 10 us/KB).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import time
import timeit
from collections.abc import Callable
from typing import Any

import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa

import jwtobs
from jwtobs import redact
from jwtobs.redact import LoggingRedactor, StructlogRedactor


def structlog_logger(out: Any, *, redacted: bool) -> Any:
    processors: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.format_exc_info,
    ]
    if redacted:
        processors.append(StructlogRedactor())
    processors.append(structlog.processors.JSONRenderer())
    return structlog.wrap_logger(
        structlog.WriteLogger(out),
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    ).bind()


def stdlib_logger(out: Any, *, redacted: bool, name: str) -> logging.Logger:
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    if redacted:
        handler.addFilter(LoggingRedactor())
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger


#: thread CPU time by default: on a shared machine, time spent descheduled is not billed to whichever loop was
#: running (``--clock wall`` for perf_counter)
CLOCK: Callable[[], float] = time.thread_time


def timed(fn: Callable[[int], None], n: int) -> float:
    t0 = CLOCK()
    fn(n)
    return (CLOCK() - t0) / n


def compare(label: str, base: Callable[[int], None], red: Callable[[int], None], n: int, repeat: int) -> float:
    base(min(n, 2000))  # warm caches, first-use paths
    red(min(n, 2000))
    bt, rt, ratios = [], [], []
    for _ in range(repeat):
        b = timed(base, n)
        r = timed(red, n)
        bt.append(b)
        rt.append(r)
        ratios.append(r / b)
    ratio = min(rt) / min(bt)
    print(
        f"{label:<34} baseline {min(bt) * 1e6:7.2f} us   redacted {min(rt) * 1e6:7.2f} us   "
        f"ratio {ratio:.3f}x (median of pairs {statistics.median(ratios):.3f}x)"
    )
    return ratio


def pipelines(n: int, repeat: int) -> dict[str, float]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    tokens = [
        jwt.encode({"iss": "https://issuer.example", "sub": f"user-{i}", "iat": now, "exp": now + 600}, key, "RS256")
        for i in range(256)
    ]
    rids = [os.urandom(8).hex() for _ in range(4096)]
    devnull = open(os.devnull, "w")
    sl_base, sl_red = structlog_logger(devnull, redacted=False), structlog_logger(devnull, redacted=True)

    def sl_clean(log: Any) -> Callable[[int], None]:
        def run(k: int) -> None:
            for i in range(k):
                log.info(
                    "request handled",
                    path=f"/api/items/{i % 97}",
                    status=200,
                    duration_ms=i * 0.01,
                    request_id=rids[i % 4096],
                    user_id=f"u-{i}",
                )

        return run

    def sl_tokens(log: Any) -> Callable[[int], None]:
        def run(k: int) -> None:
            for i in range(k):
                log.info(
                    "upstream call",
                    path=f"/api/items/{i % 97}",
                    status=200,
                    duration_ms=i * 0.01,
                    request_id=rids[i % 4096],
                    authorization=f"Bearer {tokens[i % 256]}",
                )

        return run

    lg_base = stdlib_logger(devnull, redacted=False, name="bench.base")
    lg_red = stdlib_logger(devnull, redacted=True, name="bench.redacted")

    def std(log: logging.Logger) -> Callable[[int], None]:
        def run(k: int) -> None:
            for i in range(k):
                log.info("GET %s -> %d in %.1f ms (request %s)", f"/api/items/{i % 97}", 200, i * 0.01, rids[i % 4096])

        return run

    # where the time goes: the processors' own work vs the detector pass they call
    sample_event = {
        "event": "request handled",
        "path": "/api/items/12",
        "status": 200,
        "duration_ms": 0.12,
        "request_id": rids[0],
        "user_id": "u-12",
        "level": "info",
        "timestamp": "2026-11-29T01:52:00.1Z",
    }
    processor = StructlogRedactor()
    scrubber = redact.Scrubber("bench")
    message = f"GET /api/items/12 -> 200 in 0.1 ms (request {rids[0]})"
    header = (("authorization", f"Bearer {tokens[0]}"),)
    print("where the time goes (best of 5 x 20,000):")
    for label, fn in (
        ("StructlogRedactor on a clean 8-field event", lambda: processor(None, "info", sample_event)),
        ("detector pass on the stdlib line (Scrubber.text)", lambda: scrubber.text(message)),
        ("authorization=Bearer <JWT> (Scrubber.values)", lambda: scrubber.values(header)),
    ):
        best = min(timeit.repeat(fn, number=20000, repeat=5, timer=CLOCK)) / 20000
        print(f"  {label:<50} {best * 1e6:6.2f} us")
    print()

    out = {
        "structlog clean": compare("structlog JSON, clean events", sl_clean(sl_base), sl_clean(sl_red), n, repeat),
        "structlog tokens": compare(
            "structlog JSON, events with a JWT", sl_tokens(sl_base), sl_tokens(sl_red), n, repeat
        ),
        "stdlib": compare("stdlib logging, %-args", std(lg_base), std(lg_red), n, repeat),
    }
    devnull.close()
    return out


def adversarial(sizes_mb: list[int]) -> float:
    rng = random.Random(7)
    b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    fragments = ["eyJ", ".", "a.", "Authorization:", "Bearer ", "%3D", "token=", "=", "&", "?", " ", "Cookie:"]

    def mix(size: int) -> str:
        parts: list[str] = []
        total = 0
        while total < size:
            frag = rng.choice(fragments) if rng.random() < 0.6 else "".join(rng.choices(b64, k=rng.randint(1, 40)))
            parts.append(frag)
            total += len(frag)
        return "".join(parts)[:size]

    worst = 0.0
    print(f"\n{'adversarial input':<22}" + "".join(f"{f'{m} MB':>16}" for m in sizes_mb) + "   (us/KB, target < 10)")
    for name in ("eyJ", ".", "a.", "Authorization:", "Bearer ", "%3D", "token=", "random mix"):
        cells = []
        for mb in sizes_mb:
            size = mb * 1024 * 1024
            text = mix(size) if name == "random mix" else (name * (size // len(name) + 1))[:size]
            t0 = CLOCK()
            out = redact.scrub(text)
            dt = CLOCK() - t0
            assert isinstance(out, str)
            us_per_kb = dt * 1e6 / (size / 1024)
            worst = max(worst, us_per_kb)
            cells.append(f"{us_per_kb:13.3f}   ")
        print(f"{name!r:<22}" + "".join(cells))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--sizes", default="1,4")
    ap.add_argument("--skip-adversarial", action="store_true")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.thread_time if args.clock == "cpu" else time.perf_counter
    print(f"clock: {args.clock}; load average {os.getloadavg()[0]:.2f}")
    jwtobs.configure(fingerprint_key=b"bench-key-" * 4, from_env=False)
    results = pipelines(args.n, args.repeat)
    targets = {"structlog clean": 1.10, "structlog tokens": 1.25, "stdlib": 1.10}
    print()
    for name, ratio in results.items():
        verdict = "ok" if ratio <= targets[name] else "MISSED"
        print(f"{name:<18} {ratio:.3f}x  target <= {targets[name]:.2f}x  {verdict}")
    if not args.skip_adversarial:
        worst = adversarial([int(s) for s in args.sizes.split(",")])
        print(f"worst adversarial: {worst:.3f} us/KB  {'ok' if worst < 10 else 'MISSED'}")


if __name__ == "__main__":
    main()
